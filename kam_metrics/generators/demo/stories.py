"""The demo's invented programme: the story accounts and their ids, the name pools and shapes the tables are
drawn from, small drawing helpers, and the stories told (account_names, describe_stories)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

import numpy as np

DEMO_END_DATE = date(2026, 11, 20)
HISTORY_DAYS = 3 * 365 + 1  # end_date − 1095 … end_date
REPORTING_CURRENCY = "EUR"

# --- the story accounts (ids are fixed so the stories can be named before the data is drawn) ---------
CHAMPION_LEFT_ACCOUNT = "ACC-1007"
COLLAPSING_ACCOUNT = "ACC-1019"
VALUE_DESTROYER_ACCOUNT = "ACC-1023"
OVERDUE_ACCOUNTS = ("ACC-1042", "ACC-1056")
SINGLE_THREADED_ACCOUNT = "ACC-1068"
QUIET_CHAMPION_ACCOUNT = "ACC-1081"
PROMOTION_CANDIDATE_ACCOUNT = "ACC-1134"
OFF_TRACK_GOAL_ID = "G-P01"
# The score check (METRICS.md): non-key accounts whose revenue shrank inside the check window. The health
# band warned in time of the first (engagement cooled, the champion went quiet and left, then the business
# went to a competitor); it missed the second (a budget cut, a spin-off: the relationship stayed healthy).
WARNED_IN_TIME_ACCOUNTS = ("ACC-1184", "ACC-1299")
MISSED_CONTRACTION_ACCOUNTS = ("ACC-1004", "ACC-1055")


@dataclass(frozen=True)
class _Decline:
    """One score-check story, in days before the end date: from `cooling` on the champion is no longer touched
    and the share of drawn activities kept falls linearly from 1 to COOLING_FLOOR at `revenue_drop` (and stays
    there); the (first) champion leaves at `champion_left`; invoices from `revenue_drop` on are `revenue_factor`
    of the drawn level. None: that part does not happen. Applied after the draws, so every other account's
    figures stay as drawn."""

    revenue_drop: int
    revenue_factor: float
    cooling: int | None = None
    champion_left: int | None = None


COOLING_FLOOR = 0.1
DECLINES: dict[str, _Decline] = {  # the dates in the comments are those of the default end date, 2026-11-20
    # 2024-12-01 cooling, 2025-02-14 champion left, 2025-06-01 revenue to 30 %
    WARNED_IN_TIME_ACCOUNTS[0]: _Decline(revenue_drop=537, revenue_factor=0.30, cooling=719, champion_left=644),
    # 2025-05-01 cooling, 2025-08-15 champion left, 2025-11-01 revenue to 35 %
    WARNED_IN_TIME_ACCOUNTS[1]: _Decline(revenue_drop=384, revenue_factor=0.35, cooling=568, champion_left=462),
    # 2025-10-01 budget cut: revenue to 55 %
    MISSED_CONTRACTION_ACCOUNTS[0]: _Decline(revenue_drop=415, revenue_factor=0.55),
    # 2026-01-01 spin-off: revenue to 60 %
    MISSED_CONTRACTION_ACCOUNTS[1]: _Decline(revenue_drop=323, revenue_factor=0.60),
}


@dataclass(frozen=True)
class _Drift:
    """An ordinary account drifting away, in day indexes of the history: engagement cools first, from `cooling` on
    (the share of drawn activities kept falls to `engagement_floor` at `fall_start`, the touches of people other
    than the first contact to none; survey scores fall with it by up to DRIFT_NPS points), then revenue falls, from
    `fall_start` linearly to `revenue_floor` of its drawn level at `fall_end`, and stays there while the smaller
    account's engagement partly recovers (`cooled`). Applied after the draws, like the DECLINES stories."""

    cooling: int
    fall_start: int
    fall_end: int
    revenue_floor: float
    engagement_floor: float

    def cooled(self, day_idx):
        """How far engagement has cooled on these day indexes (0 to 1): 0 before `cooling`, then fast at first (a
        square root) to 1 at `fall_start`, 1 until DRIFT_SETTLED days after `fall_end`, then down to
        1 − DRIFT_RECOVERY over DRIFT_SETTLED more days (the smaller account settles down)."""
        d = np.asarray(day_idx)
        cooling = np.sqrt(np.clip((d - self.cooling) / max(self.fall_start - self.cooling, 1), 0.0, 1.0))
        settling = np.clip((d - self.fall_end - DRIFT_SETTLED) / DRIFT_SETTLED, 0.0, 1.0)
        return cooling * (1.0 - DRIFT_RECOVERY * settling)

    def revenue_factor(self, day_idx: int) -> float:
        """The multiplier of an invoice's drawn level on a day index."""
        fallen = min(max((day_idx - self.fall_start) / max(self.fall_end - self.fall_start, 1), 0.0), 1.0)
        return 1.0 - (1.0 - self.revenue_floor) * fallen


# Ordinary non-key accounts whose drawn growth is below DRIFT_GROWTH drift away once in the history (_Drift):
# in real programmes engagement falls before and while revenue does, which is what the score check measures.
DRIFT_GROWTH = -0.05
DRIFT_NPS = 3.0
DRIFT_SETTLED = 120
DRIFT_RECOVERY = 0.6

# The drawn names of these (otherwise ordinary) accounts; test_demo checks them against the export.
_STORY_NON_KEY_NAMES = {
    WARNED_IN_TIME_ACCOUNTS[0]: "Ridgeway Beverages Corp.",
    WARNED_IN_TIME_ACCOUNTS[1]: "Amberline Clinics Inc.",
    MISSED_CONTRACTION_ACCOUNTS[0]: "Elmstead Logistics Inc.",
    MISSED_CONTRACTION_ACCOUNTS[1]: "Rosewood Polymers Inc.",
}

STORIES: dict[str, str] = {
    CHAMPION_LEFT_ACCOUNT: "Champion left last month: the champion is inactive since about 30 days before the end date.",
    COLLAPSING_ACCOUNT: "Engagement collapsing: weighted touches of the last 90 days are a fraction of the prior 90.",
    VALUE_DESTROYER_ACCOUNT: "Value destroyer: a top-revenue key account whose cost to serve makes net contribution TTM negative.",
    OVERDUE_ACCOUNTS[0]: "Overdue for review: no 90-day plan in the last 90 days and no review in the last 30.",
    OVERDUE_ACCOUNTS[1]: "Overdue for review: no 90-day plan in the last 90 days and no review in the last 30.",
    SINGLE_THREADED_ACCOUNT: "Single-threaded: only two engaged contacts in the last 90 days.",
    QUIET_CHAMPION_ACCOUNT: "Quiet champion: the active champion has had no activity for more than 60 days.",
    PROMOTION_CANDIDATE_ACCOUNT: (
        "Promotion candidate: a non-key account with high, fast-growing, profitable revenue, a large wallet and "
        "engaged contacts; its selection score beats the lowest key account's."
    ),
    WARNED_IN_TIME_ACCOUNTS[0]: (
        "Warned in time (score check): engagement cooled from December 2024 and the champion left in February "
        "2025; the band was amber from February 2025, months before most of the business went to a competitor in June."
    ),
    WARNED_IN_TIME_ACCOUNTS[1]: (
        "Warned in time (score check): engagement cooled from May 2025 and the champion left in August; the band "
        "was amber from August 2025, before revenue fell to about a third in November."
    ),
    MISSED_CONTRACTION_ACCOUNTS[0]: (
        "Missed by the score check: a budget cut in October 2025 took revenue down by 45 % while engagement and "
        "the relationship stayed healthy, so the band stayed green."
    ),
    MISSED_CONTRACTION_ACCOUNTS[1]: (
        "Missed by the score check: a spin-off in January 2026 took 40 % of revenue with it while the account "
        "stayed well engaged and green."
    ),
}
GOAL_STORIES: dict[str, str] = {
    OFF_TRACK_GOAL_ID: "Programme goal off track: key-account revenue share has barely moved while most of the time has passed.",
}

KAM_OWNERS = ("Sofia Lindqvist", "Marcus Weber", "Aisha Rahman", "Daniel Okafor", "Claire Dubois", "Kenji Watanabe")
SPONSORS = ("Helena Costa", "Thomas Brandt", "Richard Hale", "Ingrid Solberg", "Paul Mercier")
SALES_OWNERS = (
    "Jonas Berg", "Emma Collins", "Luca Romano", "Priya Nair", "Mateo García", "Hannah Schulz", "Liam O'Brien", "Mei Chen",
)
SOLUTION_ENGINEERS = ("Lena Fischer", "Omar Haddad", "Yuki Tanaka")
PROGRAMME_LEAD = "Helena Costa"

PRODUCT_MARGIN = {  # gross margin by product line
    "Core Platform": 0.70,
    "Analytics": 0.66,
    "Logistics Services": 0.24,
    "Professional Services": 0.36,
    "Spare Parts": 0.30,
}
PRODUCT_LINES = tuple(PRODUCT_MARGIN)
REGIONS = ("EMEA", "Americas", "APAC")
SEGMENTS = ("Enterprise", "Mid-market", "Small business", "Public sector")

ACT_TYPES = ("email", "call", "meeting", "exec_meeting", "qbr", "site_visit", "workshop", "other")
SENIORITY = ("c_level", "vp", "director", "manager", "individual")
ROLES = ("decision_maker", "economic_buyer", "champion", "influencer", "user", "gatekeeper", "blocker")

# USD → EUR (units of EUR per USD), one rate per calendar quarter.
USD_RATES = (
    (date(2023, 10, 1), 0.9452), (date(2024, 1, 1), 0.9187), (date(2024, 4, 1), 0.9301), (date(2024, 7, 1), 0.9215),
    (date(2024, 10, 1), 0.9068), (date(2025, 1, 1), 0.9604), (date(2025, 4, 1), 0.9112), (date(2025, 7, 1), 0.8736),
    (date(2025, 10, 1), 0.8594), (date(2026, 1, 1), 0.8512), (date(2026, 4, 1), 0.8668), (date(2026, 7, 1), 0.8803),
    (date(2026, 10, 1), 0.8651),
)


@dataclass
class _Account:
    account_id: str
    name: str
    is_key: bool
    region: str
    industry: str
    segment: str
    owner: str | None  # kam_owner for key accounts, a sales owner for others
    sponsor: str | None
    since: date | None
    stage: str | None
    created: date
    revenue: float  # yearly revenue level (EUR) at the end date
    growth: float  # yearly growth rate
    mix: dict[str, float]  # product line → share of revenue
    parent: str | None = None
    activity_scale: float = 1.0
    n_contacts: int = 8
    cost_ratio: float = 0.035  # service costs as a share of revenue
    case_rate: float = 20.0  # cases per year
    nps_mean: float = 8.6
    margin_shift: float = 0.0
    has_wallet: str = "whole"  # whole, whole+lines, lines, none
    sow: float = 0.4
    story: str = "healthy"
    invoice_prob: float = 1.0
    rates: dict[str, float] = field(default_factory=dict)  # activity type → per year
    drift: _Drift | None = None  # an ordinary account drifting away (DRIFT_GROWTH)


# (id, name, region, industry, segment, kam, sponsor, since, stage, created, revenue, growth, mix, story)
_KEY_ACCOUNTS = (
    ("ACC-1007", "Nordhavn Logistics A/S", "EMEA", "Logistics", "Enterprise", "Sofia Lindqvist", "Helena Costa",
     date(2020, 4, 1), "interdependent", date(2011, 3, 14), 2_800_000, 0.06,
     {"Core Platform": 0.35, "Logistics Services": 0.35, "Analytics": 0.2, "Professional Services": 0.1}, "champion_left"),
    ("ACC-1019", "Brightwater Foods Inc.", "Americas", "Food & Beverage", "Enterprise", "Daniel Okafor", None,
     date(2021, 1, 1), "cooperative", date(2014, 6, 2), 1_900_000, 0.02,
     {"Core Platform": 0.5, "Analytics": 0.3, "Spare Parts": 0.2}, "collapsing"),
    ("ACC-1023", "Vulcan Rail Systems GmbH", "EMEA", "Manufacturing", "Enterprise", "Marcus Weber", "Thomas Brandt",
     date(2019, 7, 1), "interdependent", date(2009, 9, 21), 4_600_000, 0.22,
     {"Logistics Services": 0.6, "Spare Parts": 0.3, "Professional Services": 0.1}, "value_destroyer"),
    ("ACC-1042", "Meridian Health Partners LLC", "Americas", "Healthcare", "Enterprise", "Daniel Okafor", "Richard Hale",
     date(2022, 2, 1), "cooperative", date(2015, 1, 19), 1_400_000, 0.08,
     {"Core Platform": 0.55, "Analytics": 0.3, "Professional Services": 0.15}, "overdue"),
    ("ACC-1056", "Kestrel Energy plc", "EMEA", "Energy & Utilities", "Enterprise", "Claire Dubois", "Paul Mercier",
     date(2021, 9, 1), "cooperative", date(2012, 11, 5), 2_100_000, 0.04,
     {"Core Platform": 0.45, "Analytics": 0.25, "Spare Parts": 0.3}, "overdue"),
    ("ACC-1068", "Tasman Retail Group Pty Ltd", "APAC", "Retail", "Mid-market", "Kenji Watanabe", None,
     date(2023, 3, 1), "cooperative", date(2017, 8, 28), 1_100_000, 0.05,
     {"Core Platform": 0.6, "Analytics": 0.4}, "single_threaded"),
    ("ACC-1081", "Altmark Chemie GmbH", "EMEA", "Chemicals", "Enterprise", "Marcus Weber", "Ingrid Solberg",
     date(2020, 10, 1), "interdependent", date(2010, 4, 12), 2_400_000, 0.07,
     {"Core Platform": 0.4, "Analytics": 0.2, "Logistics Services": 0.25, "Spare Parts": 0.15}, "quiet_champion"),
    ("ACC-1090", "Helvetia Pharma AG", "EMEA", "Pharma & Life Sciences", "Enterprise", "Claire Dubois", "Richard Hale",
     date(2018, 5, 1), "integrated", date(2008, 2, 25), 5_200_000, 0.09,
     {"Core Platform": 0.4, "Analytics": 0.3, "Professional Services": 0.2, "Logistics Services": 0.1}, "healthy"),
    ("ACC-1102", "Solano Automotive Corp.", "Americas", "Automotive", "Enterprise", "Aisha Rahman", "Thomas Brandt",
     date(2019, 1, 1), "interdependent", date(2010, 7, 7), 3_900_000, 0.05,
     {"Core Platform": 0.35, "Spare Parts": 0.35, "Analytics": 0.15, "Professional Services": 0.15}, "healthy"),
    ("ACC-1117", "Fjordline Telecom ASA", "EMEA", "Telecommunications", "Enterprise", "Sofia Lindqvist", "Ingrid Solberg",
     date(2020, 1, 1), "interdependent", date(2013, 5, 30), 2_200_000, 0.11,
     {"Core Platform": 0.55, "Analytics": 0.35, "Professional Services": 0.1}, "healthy"),
    ("ACC-1125", "Sakura Precision K.K.", "APAC", "Manufacturing", "Enterprise", "Kenji Watanabe", "Paul Mercier",
     date(2021, 4, 1), "cooperative", date(2016, 3, 3), 1_700_000, 0.06,
     {"Core Platform": 0.45, "Spare Parts": 0.3, "Analytics": 0.25}, "healthy"),
    ("ACC-1148", "Granite Peak Financial Inc.", "Americas", "Financial Services", "Enterprise", "Aisha Rahman",
     "Richard Hale", date(2020, 6, 1), "interdependent", date(2012, 9, 17), 2_600_000, 0.08,
     {"Core Platform": 0.5, "Analytics": 0.4, "Professional Services": 0.1}, "healthy"),
    ("ACC-1163", "Lumen Grid Utilities B.V.", "EMEA", "Energy & Utilities", "Enterprise", "Claire Dubois", "Helena Costa",
     date(2019, 11, 1), "integrated", date(2011, 12, 1), 3_100_000, 0.05,
     {"Core Platform": 0.4, "Analytics": 0.25, "Spare Parts": 0.2, "Professional Services": 0.15}, "healthy"),
    ("ACC-1179", "Orchid Bay Hospitality Pte Ltd", "APAC", "Travel & Hospitality", "Mid-market", "Kenji Watanabe", None,
     date(2022, 7, 1), "cooperative", date(2018, 10, 22), 1_200_000, 0.14,
     {"Core Platform": 0.6, "Analytics": 0.3, "Professional Services": 0.1}, "healthy"),
    ("ACC-1186", "Iberia Agro Foods S.A.", "EMEA", "Food & Beverage", "Enterprise", "Sofia Lindqvist", "Thomas Brandt",
     date(2021, 2, 1), "cooperative", date(2014, 4, 9), 1_800_000, 0.07,
     {"Core Platform": 0.4, "Logistics Services": 0.2, "Analytics": 0.25, "Spare Parts": 0.15}, "healthy"),
    ("ACC-1194", "Redwood Data Systems Inc.", "Americas", "Technology", "Enterprise", "Aisha Rahman", "Ingrid Solberg",
     date(2020, 9, 1), "interdependent", date(2015, 6, 15), 2_900_000, 0.10,
     {"Core Platform": 0.5, "Analytics": 0.4, "Professional Services": 0.1}, "healthy"),
    ("ACC-1203", "Baltic Marine Engineering AB", "EMEA", "Manufacturing", "Mid-market", "Marcus Weber", "Paul Mercier",
     date(2022, 10, 1), "cooperative", date(2016, 1, 11), 1_300_000, 0.09,
     {"Core Platform": 0.4, "Spare Parts": 0.35, "Analytics": 0.25}, "healthy"),
)

# Hand-made non-key accounts: the promotion candidate and the parent/child pairs.
_SPECIAL_NON_KEY = (
    # id, name, region, industry, segment, owner, parent, created, revenue, growth, mix
    ("ACC-1134", "Pioneer Biologics GmbH", "EMEA", "Pharma & Life Sciences", "Enterprise", "Hannah Schulz", None,
     date(2019, 5, 6), 1_600_000, 0.75, {"Core Platform": 0.5, "Analytics": 0.35, "Professional Services": 0.15}),
    ("ACC-1150", "Quorum Retail Holdings Ltd", "EMEA", "Retail", "Mid-market", "Emma Collins", None,
     date(2013, 2, 18), 240_000, 0.02, {"Core Platform": 0.7, "Analytics": 0.3}),
    ("ACC-1170", "Atlas Freight Holding B.V.", "EMEA", "Logistics", "Mid-market", "Jonas Berg", None,
     date(2012, 6, 4), 180_000, 0.03, {"Logistics Services": 0.6, "Core Platform": 0.4}),
    ("ACC-1210", "Helvetia Pharma Logistics GmbH", "EMEA", "Pharma & Life Sciences", "Mid-market", "Luca Romano",
     "ACC-1090", date(2017, 9, 12), 150_000, 0.06, {"Logistics Services": 0.7, "Analytics": 0.3}),
    ("ACC-1231", "Solano Automotive de México S.A. de C.V.", "Americas", "Automotive", "Mid-market", "Mateo García",
     "ACC-1102", date(2018, 3, 26), 210_000, 0.08, {"Spare Parts": 0.6, "Core Platform": 0.4}),
    ("ACC-1251", "Quorum Retail Stores Ltd", "EMEA", "Retail", "Small business", "Emma Collins", "ACC-1150",
     date(2016, 11, 14), 60_000, 0.01, {"Core Platform": 1.0}),
    ("ACC-1262", "Atlas Freight Benelux B.V.", "EMEA", "Logistics", "Small business", "Jonas Berg", "ACC-1170",
     date(2019, 2, 1), 45_000, 0.04, {"Logistics Services": 1.0}),
)

_PREFIXES = (
    "Aldergate", "Amberline", "Arcturus", "Ashford", "Avalon", "Bellhaven", "Blackridge", "Bluecrest", "Bramble",
    "Caledon", "Carrow", "Cedarline", "Clearview", "Cobalt", "Corvid", "Crescent", "Driftwood", "Eastmark", "Elmstead",
    "Emberly", "Fairmont", "Falcon", "Foxglove", "Glenmore", "Goldleaf", "Greystone", "Harbor Point", "Hartwell",
    "Highgate", "Ironbridge", "Juniper", "Kingsway", "Larkspur", "Lindenhof", "Marlowe", "Millbrook", "Northgate",
    "Oakhurst", "Onyx", "Pemberton", "Quayside", "Ravenna", "Ridgeway", "Rosewood", "Saffron", "Silverline",
    "Stonebridge", "Summit", "Thornbury", "Tidewater", "Trident", "Valemont", "Verdant", "Westbrook", "Whitfield",
    "Windermere", "Yarrow", "Zephyr", "Monterra", "Solvang",
)
_INDUSTRY_NOUNS = {
    "Manufacturing": ("Components", "Machinery", "Industries", "Tooling"),
    "Logistics": ("Freight", "Logistics", "Shipping"),
    "Pharma & Life Sciences": ("Pharma", "Biosciences", "Labs"),
    "Retail": ("Retail", "Stores", "Outfitters"),
    "Financial Services": ("Capital", "Insurance", "Bank"),
    "Energy & Utilities": ("Energy", "Power", "Utilities"),
    "Food & Beverage": ("Foods", "Dairy", "Beverages"),
    "Technology": ("Software", "Systems", "Digital"),
    "Automotive": ("Motors", "Auto Parts"),
    "Chemicals": ("Chemicals", "Polymers"),
    "Telecommunications": ("Telecom", "Networks"),
    "Healthcare": ("Health", "Medical", "Clinics"),
    "Travel & Hospitality": ("Hotels", "Travel"),
}
INDUSTRIES = tuple(_INDUSTRY_NOUNS)
_SUFFIXES = {
    "EMEA": ("GmbH", "AG", "B.V.", "S.A.", "Ltd", "plc", "AB", "A/S", "S.p.A.", "Oy"),
    "Americas": ("Inc.", "LLC", "Corp.", "Ltda.", "Inc."),
    "APAC": ("Pty Ltd", "Pte Ltd", "K.K.", "Ltd", "Co. Ltd"),
}
_FIRST_NAMES = (
    "Anna", "Lukas", "Sophie", "Jan", "Elena", "Mikael", "Chloé", "Pierre", "Giulia", "Marco", "Ines", "Carlos",
    "Freya", "Oskar", "Nora", "Henrik", "Laura", "David", "Sarah", "James", "Olivia", "Michael", "Grace", "Ethan",
    "Isabel", "Diego", "Camila", "Rafael", "Ava", "Noah", "Hiroshi", "Aiko", "Wei", "Li", "Arjun", "Ananya",
    "Siobhan", "Tom", "Fatima", "Youssef", "Katarzyna", "Piotr", "Eva", "Matthias", "Julia", "Felix", "Ingrid",
    "Sven", "Amelia", "Benjamin", "Zoe", "Samuel", "Leila", "Adrian", "Chiara", "Ruben", "Hana", "Kofi", "Amara", "Niamh",
)
_LAST_NAMES = (
    "Andersson", "Müller", "Schmidt", "Dubois", "Martin", "Rossi", "Bianchi", "García", "Fernández", "Jansen",
    "de Vries", "Nielsen", "Hansen", "Johansson", "Virtanen", "Kowalski", "Nowak", "Novak", "Smith", "Johnson",
    "Williams", "Brown", "Miller", "Davis", "Wilson", "Taylor", "Clarke", "Walsh", "Murphy", "O'Connor", "Silva",
    "Santos", "Oliveira", "Costa", "Tanaka", "Suzuki", "Sato", "Kim", "Park", "Wang", "Zhang", "Chen", "Sharma",
    "Patel", "Iyer", "Haddad", "Mansour", "Okoye", "Mensah", "Schneider", "Fischer", "Becker", "Lefebvre", "Moreau",
    "Conti", "Ricci", "Lindberg", "Berglund", "Kaya", "Yilmaz",
)
_TITLES = {
    "c_level": ("Chief Executive Officer", "Chief Financial Officer", "Chief Operating Officer", "Chief Information Officer",
                "Chief Procurement Officer", "Chief Supply Chain Officer"),
    "vp": ("VP Operations", "VP Procurement", "VP Supply Chain", "VP Finance", "VP Engineering", "VP Information Technology"),
    "director": ("Director of Procurement", "Head of Logistics", "IT Director", "Head of Operations",
                 "Director of Engineering", "Head of Category Management"),
    "manager": ("Procurement Manager", "Category Manager", "Operations Manager", "IT Manager", "Logistics Manager",
                "Quality Manager"),
    "individual": ("Buyer", "Supply Chain Analyst", "Operations Specialist", "Process Engineer", "Planner", "IT Analyst"),
}
_ECONOMIC_TITLES = {"c_level": "Chief Financial Officer", "vp": "VP Finance"}
_ROLE_SENIORITY = {  # buying role → (seniorities, probabilities)
    "decision_maker": (("c_level", "vp"), (0.55, 0.45)),
    "economic_buyer": (("c_level", "vp"), (0.5, 0.5)),
    "champion": (("vp", "director", "manager"), (0.25, 0.5, 0.25)),
    "influencer": (("director", "manager", "individual"), (0.4, 0.4, 0.2)),
    "user": (("manager", "individual"), (0.4, 0.6)),
    "gatekeeper": (("manager", "individual"), (0.6, 0.4)),
    "blocker": (("vp", "director"), (0.4, 0.6)),
}
_ROLE_ATTITUDE = {  # buying role → (attitudes, probabilities)
    "decision_maker": ((0, 1, 2), (0.35, 0.45, 0.2)),
    "economic_buyer": ((-1, 0, 1), (0.2, 0.5, 0.3)),
    "champion": ((1, 2), (0.3, 0.7)),
    "influencer": ((0, 1, 2), (0.3, 0.5, 0.2)),
    "user": ((-1, 0, 1), (0.1, 0.5, 0.4)),
    "gatekeeper": ((-1, 0, 1), (0.3, 0.5, 0.2)),
    "blocker": ((-2, -1), (0.4, 0.6)),
}
# Seniority affinity of each activity type (c_level, vp, director, manager, individual).
_AFFINITY = {
    "email": (0.3, 0.6, 1.0, 1.0, 1.0),
    "call": (0.3, 0.7, 1.0, 1.0, 0.8),
    "meeting": (0.4, 0.8, 1.0, 1.0, 0.6),
    "exec_meeting": (3.0, 2.0, 0.3, 0.05, 0.01),
    "qbr": (1.5, 2.0, 1.5, 0.6, 0.2),
    "site_visit": (0.3, 0.6, 1.0, 1.2, 1.0),
    "workshop": (0.1, 0.5, 1.0, 1.2, 1.2),
    "other": (0.5, 0.5, 1.0, 1.0, 1.0),
}
_ROLE_WEIGHT = {"decision_maker": 1.5, "economic_buyer": 1.0, "champion": 3.0, "influencer": 1.0, "user": 0.8,
                "gatekeeper": 0.7, "blocker": 0.4}
_SUBJECTS = {
    "email": ("Re: order status", "Follow-up: proposal", "Pricing question", "Invoice query", "Release notes",
              "Re: delivery schedule", "Contract renewal terms", "Meeting notes"),
    "call": ("Check-in call", "Escalation call", "Renewal discussion", "Forecast call", "Onboarding call",
             "Support follow-up"),
    "meeting": ("Project status meeting", "Roadmap review", "Steering committee", "Demo of new features",
                "Service review", "Commercial negotiation"),
    "exec_meeting": ("Executive meeting: strategic roadmap", "Executive dinner", "Board-level partnership review",
                     "Executive sponsor check-in"),
    "site_visit": ("Site visit: main plant", "Site visit: distribution centre", "Site visit: headquarters",
                   "Site visit: R&D centre"),
    "workshop": ("Innovation workshop", "Process mapping workshop", "Joint planning workshop", "Analytics training"),
    "other": ("Trade fair conversation", "Webinar attendance", "Customer advisory board", "User conference"),
}
_CASE_STATUSES_OPEN = ("Open", "In Progress", "Waiting on Customer")


# ------------------------------------------------------------------------------------------------------
# helpers


def _d(start: date, idx: np.ndarray) -> np.ndarray:
    """Day indexes (0 = start) as numpy datetime64[D]."""
    return np.datetime64(start, "D") + idx.astype("int64")


def _idx(start: date, d: date) -> int:
    return (d - start).days


def _choice(rng: np.random.Generator, options, p=None):
    return options[int(rng.choice(len(options), p=p))]


def _revenue_factor(account_id: str, day_idx: int, end_idx: int) -> float:
    """The multiplier of an invoice's level on a day index: the score-check story's drop, else 1."""
    decline = DECLINES.get(account_id)
    if decline is None or day_idx < end_idx - decline.revenue_drop:
        return 1.0
    return decline.revenue_factor


def _cooling_keep(account_id: str, day_idx: np.ndarray, end_idx: int) -> np.ndarray:
    """Which of an account's drawn activities (by day index) a cooling story keeps: the i-th is kept when the
    i-th value of a low-discrepancy sequence in [0, 1) is below the day's kept share (deterministic, no draw)."""
    decline = DECLINES.get(account_id)
    if decline is None or decline.cooling is None:
        return np.ones(len(day_idx), dtype=bool)
    cool, drop = end_idx - decline.cooling, end_idx - decline.revenue_drop
    share = 1.0 - (1.0 - COOLING_FLOOR) * np.clip((day_idx - cool) / max(drop - cool, 1), 0.0, 1.0)
    u = (np.arange(len(day_idx)) * 0.6180339887498949) % 1.0
    return (day_idx <= cool) | (u < share)


def _usd_rate_by_day(start: date, n_days: int) -> np.ndarray:
    """EUR per USD in force on each day index (latest valid_from ≤ day, else the earliest)."""
    valid = np.array([_idx(start, v) for v, _ in USD_RATES])
    rates = np.array([r for _, r in USD_RATES])
    pos = np.searchsorted(valid, np.arange(n_days), side="right") - 1
    return rates[np.clip(pos, 0, None)]




# ------------------------------------------------------------------------------------------------------
# the stories told


def account_names() -> dict[str, str]:
    """account_id → name of the hand-made accounts (key accounts and the special non-key accounts) and of the
    drawn accounts that tell a score-check story."""
    names = {row[0]: row[1] for row in _KEY_ACCOUNTS}
    names.update({row[0]: row[1] for row in _SPECIAL_NON_KEY})
    names.update(_STORY_NON_KEY_NAMES)
    return names


def describe_stories() -> str:
    """The stories hidden in the demo export, as a Markdown list naming the accounts."""
    names = account_names()
    lines = [f"- **{names[aid]}** (`{aid}`): {story}" for aid, story in STORIES.items()]
    lines += [f"- Goal `{gid}`: {story}" for gid, story in GOAL_STORIES.items()]
    healthy = [names[row[0]] for row in _KEY_ACCOUNTS if row[-1] == "healthy"]
    lines.append(f"- The other {len(healthy)} key accounts are healthy: " + ", ".join(healthy) + ".")
    return "\n".join(lines)
