"""The demo export: a deterministic, realistic canonical export of an invented KAM programme.

`write_demo(out_dir)` writes one `<table>.csv` per table of DATA_CONTRACT.md (all 13), three years of
history ending at `end_date`, about 300 accounts of which 17 are key accounts. The data hides a
few stories the dashboard must reveal (`STORIES`, `GOAL_STORIES`, `describe_stories()`); the tests
check each one with the formulas of METRICS.md on the written files.

Everything is drawn from `np.random.default_rng(seed)` in a fixed order and written with Polars,
so two runs with the same arguments produce byte-identical files. No wall-clock time is used.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import polars as pl

from kam_metrics.load.contract import TABLES, TABLE_ORDER

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

# METRICS.md defaults, used to shape the stories (the tests recompute them from the files).
ACTIVITY_WEIGHT = {"email": 1, "call": 2, "meeting": 3, "workshop": 3, "site_visit": 4, "qbr": 5, "exec_meeting": 5, "other": 1}
ACTIVITY_COST = {"email": 5, "call": 25, "meeting": 150, "workshop": 600, "site_visit": 800, "qbr": 1200,
                 "exec_meeting": 1000, "other": 20}
CASE_COST = {"low": 50, "medium": 150, "high": 400, "critical": 1000}

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


def _usd_rate_by_day(start: date, n_days: int) -> np.ndarray:
    """EUR per USD in force on each day index (latest valid_from ≤ day, else the earliest)."""
    valid = np.array([_idx(start, v) for v, _ in USD_RATES])
    rates = np.array([r for _, r in USD_RATES])
    pos = np.searchsorted(valid, np.arange(n_days), side="right") - 1
    return rates[np.clip(pos, 0, None)]


# ------------------------------------------------------------------------------------------------------
# accounts


def _make_accounts(rng: np.random.Generator, end: date) -> list[_Account]:
    start = end - timedelta(days=HISTORY_DAYS - 1)
    accounts: dict[str, _Account] = {}
    for (aid, name, region, industry, segment, kam, sponsor, since, stage, created, revenue, growth, mix,
         story) in _KEY_ACCOUNTS:
        acc = _Account(aid, name, True, region, industry, segment, kam, sponsor, since, stage, created, float(revenue),
                       growth, mix, story=story)
        acc.activity_scale = float(rng.uniform(0.85, 1.25))
        acc.n_contacts = int(rng.integers(8, 15))
        acc.cost_ratio = float(rng.uniform(0.025, 0.045))
        acc.case_rate = float(rng.uniform(15, 35))
        acc.nps_mean = float(rng.uniform(8.4, 9.2))
        acc.sow = float(rng.uniform(0.35, 0.6))
        accounts[aid] = acc
    # story shaping
    k = accounts
    k[CHAMPION_LEFT_ACCOUNT].n_contacts = 9
    k[COLLAPSING_ACCOUNT].n_contacts = 7
    k[COLLAPSING_ACCOUNT].nps_mean = 6.6
    vd = k[VALUE_DESTROYER_ACCOUNT]
    vd.n_contacts, vd.cost_ratio, vd.case_rate, vd.margin_shift, vd.nps_mean = 13, 0.25, 170.0, -0.05, 6.9
    vd.activity_scale = 1.6
    vd.rates = {"email": 420, "call": 220, "meeting": 80, "exec_meeting": 12, "site_visit": 30, "workshop": 22,
                "other": 12}
    vd.sow = 0.62
    for aid in OVERDUE_ACCOUNTS:
        k[aid].n_contacts = 8
    st = k[SINGLE_THREADED_ACCOUNT]
    st.n_contacts, st.nps_mean = 4, 7.6
    k[QUIET_CHAMPION_ACCOUNT].n_contacts = 8
    # wallet coverage: most key accounts have whole-wallet rows, some also per product line, some only lines
    for aid in ("ACC-1090", "ACC-1102", "ACC-1163", "ACC-1007", "ACC-1117"):
        k[aid].has_wallet = "whole+lines"
    for aid in ("ACC-1125", "ACC-1179", "ACC-1203"):
        k[aid].has_wallet = "lines"
    for acc in k.values():
        acc.rates = acc.rates or _key_rates(acc)

    for aid, name, region, industry, segment, owner, parent, created, revenue, growth, mix in _SPECIAL_NON_KEY:
        acc = _Account(aid, name, False, region, industry, segment, owner, None, None, "basic", created,
                       float(revenue), growth, mix, parent=parent)
        acc.activity_scale = float(rng.uniform(0.5, 0.9))
        acc.n_contacts = int(rng.integers(1, 4))
        acc.cost_ratio = float(rng.uniform(0.02, 0.04))
        acc.case_rate = float(rng.uniform(2, 6))
        acc.nps_mean = float(rng.uniform(7.0, 8.5))
        acc.has_wallet = "none"
        accounts[aid] = acc
    cand = accounts[PROMOTION_CANDIDATE_ACCOUNT]
    cand.stage, cand.n_contacts, cand.activity_scale, cand.cost_ratio = "cooperative", 7, 1.0, 0.025
    cand.case_rate, cand.nps_mean, cand.has_wallet, cand.sow, cand.margin_shift = 8.0, 8.8, "whole", 0.42, 0.03
    cand.story = "promotion"

    used_names = {a.name for a in accounts.values()}
    start_ord, end_ord = start.toordinal(), end.toordinal()
    for n in range(1001, 1301):
        aid = f"ACC-{n}"
        if aid in accounts:
            continue
        region = REGIONS[int(rng.choice(3, p=[0.5, 0.3, 0.2]))]
        industry = INDUSTRIES[int(rng.integers(len(INDUSTRIES)))]
        segment = SEGMENTS[int(rng.choice(4, p=[0.1, 0.45, 0.4, 0.05]))]
        while True:
            name = (f"{_PREFIXES[int(rng.integers(len(_PREFIXES)))]} "
                    f"{_choice(rng, _INDUSTRY_NOUNS[industry])} {_choice(rng, _SUFFIXES[region])}")
            if name not in used_names:
                used_names.add(name)
                break
        size = {"Enterprise": 2.2, "Mid-market": 1.0, "Small business": 0.35, "Public sector": 0.9}[segment]
        revenue = float(min(np.exp(rng.normal(math.log(70_000), 0.85)) * size, 650_000))
        growth = float(np.clip(rng.normal(0.03, 0.14), -0.4, 0.45))
        if rng.random() < 0.12:
            created = date.fromordinal(int(rng.integers(start_ord, end_ord - 120)))
        else:
            created = date.fromordinal(int(rng.integers(date(2008, 1, 1).toordinal(), start_ord)))
        owner = SALES_OWNERS[int(rng.integers(len(SALES_OWNERS)))] if rng.random() < 0.8 else None
        stage = (None, "exploratory", "basic", "cooperative")[int(rng.choice(4, p=[0.15, 0.2, 0.5, 0.15]))]
        n_lines = int(rng.choice([1, 2, 3], p=[0.45, 0.4, 0.15]))
        lines = rng.choice(len(PRODUCT_LINES), size=n_lines, replace=False)
        shares = rng.dirichlet(np.full(n_lines, 2.0))
        mix = {PRODUCT_LINES[int(i)]: float(s) for i, s in zip(sorted(lines), shares)}
        acc = _Account(aid, name, False, region, industry, segment, owner, None, None, stage, created, revenue, growth,
                       mix)
        acc.activity_scale = float(np.exp(rng.normal(math.log(0.45), 0.5)))
        acc.n_contacts = int(rng.choice(6, p=[0.15, 0.3, 0.25, 0.15, 0.1, 0.05]))
        acc.cost_ratio = float(np.clip(np.exp(rng.normal(math.log(0.14), 0.7)), 0.03, 0.7))
        acc.case_rate = float(min(revenue / 40_000, 8.0) * rng.uniform(0.5, 1.2))
        acc.nps_mean = float(np.clip(rng.normal(7.6, 1.0), 4, 9.8))
        acc.has_wallet = "whole" if rng.random() < 0.6 else "none"
        acc.sow = float(rng.uniform(0.25, 0.7))
        acc.invoice_prob = float(np.clip(revenue / 150_000, 0.3, 1.0))
        acc.rates = {"email": 40, "call": 20, "meeting": 6, "exec_meeting": 0.1, "site_visit": 0.4, "workshop": 0.3,
                     "other": 3}
        accounts[aid] = acc
    cand.rates = {"email": 140, "call": 70, "meeting": 24, "exec_meeting": 1.5, "site_visit": 2, "workshop": 3,
                  "other": 5}
    for aid, *_ in _SPECIAL_NON_KEY[1:]:
        accounts[aid].rates = {"email": 40, "call": 20, "meeting": 6, "exec_meeting": 0.1, "site_visit": 0.4,
                               "workshop": 0.3, "other": 3}
    return [accounts[a] for a in sorted(accounts)]


def _key_rates(acc: _Account) -> dict[str, float]:
    rates = {"email": 260, "call": 110, "meeting": 45, "exec_meeting": 6, "site_visit": 5, "workshop": 6, "other": 10}
    if acc.sponsor is None:
        rates["exec_meeting"] = 1.5
    return rates


def _accounts_frame(accounts: list[_Account]) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "account_id": [a.account_id for a in accounts],
            "account_name": [a.name for a in accounts],
            "is_key_account": [a.is_key for a in accounts],
            "parent_account_id": [a.parent for a in accounts],
            "industry": [a.industry for a in accounts],
            "region": [a.region for a in accounts],
            "segment": [a.segment for a in accounts],
            "kam_owner": [a.owner for a in accounts],  # the KAM of a key account, else its sales owner if any
            "executive_sponsor": [a.sponsor for a in accounts],
            "key_account_since": [a.since for a in accounts],
            "relationship_stage": [a.stage for a in accounts],
            "created_date": [a.created for a in accounts],
        },
        schema={"account_id": pl.String, "account_name": pl.String, "is_key_account": pl.Boolean,
                "parent_account_id": pl.String, "industry": pl.String, "region": pl.String, "segment": pl.String,
                "kam_owner": pl.String, "executive_sponsor": pl.String, "key_account_since": pl.Date,
                "relationship_stage": pl.String, "created_date": pl.Date},
    )


# ------------------------------------------------------------------------------------------------------
# contacts


@dataclass
class _Contacts:
    ids: list[str]
    seniority: np.ndarray  # index into SENIORITY
    role: list[str]
    left_idx: np.ndarray  # day index of left_date (HISTORY_DAYS + 10**6 when active)


def _make_contacts(rng, accounts, start: date, end: date) -> tuple[pl.DataFrame, dict[str, _Contacts]]:
    end_idx = HISTORY_DAYS - 1
    never = HISTORY_DAYS + 10**6
    rows: dict[str, list] = {c: [] for c in TABLES["contacts"].column_names}
    by_account: dict[str, _Contacts] = {}
    n = 0
    for acc in accounts:
        if acc.is_key or acc.story == "promotion":
            roles = ["decision_maker", "economic_buyer", "champion"]
            extra = rng.choice(["influencer", "user", "gatekeeper", "blocker", "influencer", "user"],
                               size=max(acc.n_contacts - 3, 0))
            roles += [str(r) for r in extra]
        else:
            pool = ("influencer", "user", "decision_maker", "gatekeeper", "champion", "economic_buyer", "blocker")
            roles = [pool[int(i)] for i in rng.choice(7, size=acc.n_contacts, p=[0.25, 0.3, 0.15, 0.1, 0.1, 0.07, 0.03])]
        ids, sen, left = [], [], []
        for j, role in enumerate(roles):
            n += 1
            cid = f"CON-{n:05d}"
            seniorities, p = _ROLE_SENIORITY[role]
            s = str(seniorities[int(rng.choice(len(seniorities), p=p))])
            if role == "economic_buyer":
                title = _ECONOMIC_TITLES[s]
            else:
                options = [t for t in _TITLES[s] if t not in ("Chief Financial Officer", "VP Finance")]
                title = options[int(rng.integers(len(options)))]
            atts, pa = _ROLE_ATTITUDE[role]
            attitude = int(atts[int(rng.choice(len(atts), p=pa))])
            if not acc.is_key and rng.random() < 0.25:
                attitude = None
            full_name = f"{_FIRST_NAMES[int(rng.integers(len(_FIRST_NAMES)))]} {_LAST_NAMES[int(rng.integers(len(_LAST_NAMES)))]}"
            left_idx = never
            # some people leave; only minor roles, and long enough ago not to read as a fresh loss
            if role in ("influencer", "user", "gatekeeper") and rng.random() < 0.12:
                left_idx = int(rng.integers(60, end_idx - 150))
            if acc.account_id == CHAMPION_LEFT_ACCOUNT and role == "champion":
                left_idx = end_idx - 30
            rows["contact_id"].append(cid)
            rows["account_id"].append(acc.account_id)
            rows["full_name"].append(full_name)
            rows["title"].append(title if (acc.is_key or rng.random() < 0.85) else None)
            rows["seniority"].append(s)
            rows["buying_role"].append(role)
            rows["attitude"].append(attitude)
            rows["is_active"].append(left_idx == never)
            rows["left_date"].append(None if left_idx == never else start + timedelta(days=left_idx))
            ids.append(cid)
            sen.append(SENIORITY.index(s))
            left.append(left_idx)
        by_account[acc.account_id] = _Contacts(ids, np.array(sen, dtype=np.int64), list(roles),
                                               np.array(left, dtype=np.int64))
    frame = pl.DataFrame(rows, schema={"contact_id": pl.String, "account_id": pl.String, "full_name": pl.String,
                                       "title": pl.String, "seniority": pl.String, "buying_role": pl.String,
                                       "attitude": pl.Int64, "is_active": pl.Boolean, "left_date": pl.Date})
    return frame, by_account


# ------------------------------------------------------------------------------------------------------
# activities


def _day_weights(start: date) -> np.ndarray:
    """Relative activity level of each day: weekdays, summer and year-end holidays."""
    days = _d(start, np.arange(HISTORY_DAYS))
    weekday = (days.astype("int64") + 3) % 7  # 1970-01-01 was a Thursday → Monday = 0
    w = np.where(weekday < 5, 1.0, np.where(weekday == 5, 0.04, 0.02))
    month = days.astype("datetime64[M]").astype("int64") % 12 + 1
    dom = (days - days.astype("datetime64[M]")).astype("int64") + 1
    w = np.where(month == 8, w * 0.65, w)
    w = np.where(((month == 12) & (dom >= 22)) | ((month == 1) & (dom <= 2)), w * 0.2, w)
    return w


def _activity_profile(acc: _Account, start: date) -> np.ndarray:
    """Multiplier of the activity level over time for one account."""
    end_idx = HISTORY_DAYS - 1
    t = np.arange(HISTORY_DAYS)
    m = np.ones(HISTORY_DAYS)
    created_idx = _idx(start, acc.created)
    m[t < created_idx] = 0.0
    if acc.story == "collapsing":
        m[t > end_idx - 90] = 0.12
        m[(t > end_idx - 180) & (t <= end_idx - 90)] = 1.1
    if acc.story == "promotion":
        m = m * (0.45 + 1.1 * t / end_idx)
    if acc.is_key and acc.since is not None:
        since_idx = _idx(start, acc.since)
        m[t < since_idx] *= 0.6  # less attention before the account joined the programme
    return m


def _qbr_days(acc: _Account, start: date, end: date, rng) -> list[int]:
    """One quarterly business review per calendar quarter for key accounts."""
    if not acc.is_key:
        return []
    out = []
    y, q = start.year, (start.month - 1) // 3
    while True:
        qstart = date(y, 3 * q + 1, 1)
        if qstart > end:
            break
        d = qstart + timedelta(days=int(rng.integers(35, 60)))
        while d.weekday() >= 5:
            d += timedelta(days=1)
        if start <= d <= end and (acc.since is None or d >= acc.since):
            if not (acc.story == "collapsing" and (end - d).days < 90):
                out.append(_idx(start, d))
        q += 1
        if q == 4:
            y, q = y + 1, 0
    return out


def _make_activities(rng, accounts, contacts: dict[str, _Contacts], start: date, end: date) -> pl.DataFrame:
    end_idx = HISTORY_DAYS - 1
    day_w = _day_weights(start)
    years = HISTORY_DAYS / 365.25
    parts = []
    for acc in accounts:
        prof = _activity_profile(acc, start) * day_w
        norm = prof.sum() / years if prof.sum() > 0 else 1.0
        days_list, types_list = [], []
        for ti, t in enumerate(ACT_TYPES):
            if t == "qbr":
                qd = _qbr_days(acc, start, end, rng)
                days_list.append(np.array(qd, dtype=np.int64))
                types_list.append(np.full(len(qd), ti))
                continue
            rate = acc.rates.get(t, 0.0) * acc.activity_scale
            lam = rate * prof / norm
            counts = rng.poisson(lam)
            d = np.repeat(np.arange(HISTORY_DAYS), counts)
            days_list.append(d)
            types_list.append(np.full(len(d), ti))
        day = np.concatenate(days_list)
        typ = np.concatenate(types_list)
        n = len(day)
        if n == 0:
            continue
        con = contacts[acc.account_id]
        contact_idx = np.full(n, -1)
        if len(con.ids):
            aff = np.array([_AFFINITY[ACT_TYPES[i]] for i in range(len(ACT_TYPES))])  # types × seniority
            w = aff[typ][:, con.seniority] * np.array([_ROLE_WEIGHT[r] for r in con.role])[None, :]
            w = w * (day[:, None] < con.left_idx[None, :])
            roles = np.array(con.role)
            if acc.story == "single_threaded":  # only the champion and one user in the last 90 days
                allowed = np.zeros(len(con.ids), dtype=bool)
                allowed[np.flatnonzero(roles == "champion")[:1]] = True
                allowed[np.flatnonzero(roles == "economic_buyer")[:1]] = True
                w = np.where((day[:, None] > end_idx - 90) & ~allowed[None, :], 0.0, w)
            if acc.story == "quiet_champion":  # the champion has gone silent for 75 days
                w = np.where((day[:, None] > end_idx - 75) & (roles == "champion")[None, :], 0.0, w)
            if acc.story == "collapsing":  # the few recent touches reach only two people
                allowed = np.zeros(len(con.ids), dtype=bool)
                for role in ("economic_buyer", "user", "gatekeeper"):
                    allowed[np.flatnonzero(roles == role)[:1]] = True
                w = np.where((day[:, None] > end_idx - 90) & ~allowed[None, :], 0.0, w)
            total = w.sum(axis=1)
            u = rng.random(n) * total
            pick = (np.cumsum(w, axis=1) < u[:, None]).sum(axis=1)
            null_p = 0.08 if (acc.is_key or acc.story == "promotion") else 0.5
            has = (total > 0) & (rng.random(n) >= null_p)
            contact_idx = np.where(has, np.minimum(pick, len(con.ids) - 1), -1)
            # a key account's active champion (unless the story says otherwise) is touched in the last 45 days
            if acc.is_key and acc.story not in ("quiet_champion",):
                for ci in np.flatnonzero(roles == "champion"):
                    if con.left_idx[ci] <= end_idx:
                        continue
                    recent = day > end_idx - 45
                    if not (recent & (contact_idx == ci)).any():
                        cand = np.flatnonzero(recent & np.isin(typ, [0, 1, 2]))
                        if len(cand):
                            contact_idx[cand[-1]] = ci
        part = {
            "account_idx": np.full(n, accounts.index(acc)),
            "day": day,
            "typ": typ,
            "contact_idx": contact_idx,
            "rand": rng.random(n),
            "rand2": rng.random(n),
        }
        parts.append((acc, part))

    # assemble with per-row details
    rows: dict[str, list] = {c: [] for c in TABLES["activities"].column_names}
    seq_n = []
    for acc, p in parts:
        con = contacts[acc.account_id]
        for day, typ, ci, r, r2 in zip(p["day"], p["typ"], p["contact_idx"], p["rand"], p["rand2"]):
            t = ACT_TYPES[int(typ)]
            d = start + timedelta(days=int(day))
            rows["account_id"].append(acc.account_id)
            rows["activity_date"].append(d)
            rows["activity_type"].append(t)
            rows["contact_id"].append(con.ids[int(ci)] if ci >= 0 else None)
            if acc.is_key:
                if t == "exec_meeting" and acc.sponsor and r < 0.7:
                    owner = acc.sponsor
                elif t in ("workshop", "site_visit") and r < 0.4:
                    owner = SOLUTION_ENGINEERS[int(r2 * len(SOLUTION_ENGINEERS))]
                else:
                    owner = acc.owner
            else:
                owner = acc.owner
            rows["owner"].append(owner)
            rows["duration_minutes"].append(_duration(t, r2))
            if t == "qbr":
                subject = f"QBR Q{(d.month - 1) // 3 + 1} {d.year}"
            else:
                options = _SUBJECTS[t]
                subject = options[int(r * len(options)) % len(options)]
            rows["subject"].append(subject)
            seq_n.append(len(seq_n))
    frame = pl.DataFrame(
        {k: v for k, v in rows.items() if k != "activity_id"},
        schema={"account_id": pl.String, "activity_date": pl.Date, "activity_type": pl.String,
                "contact_id": pl.String, "owner": pl.String, "duration_minutes": pl.Int64, "subject": pl.String},
    ).with_columns(_seq=pl.Series(seq_n, dtype=pl.Int64))
    frame = frame.sort(["activity_date", "account_id", "_seq"])
    # the latest activity is on the end date: the demo's as_of default
    frame = frame.with_columns(activity_id=pl.format("ACT-{}", (pl.int_range(1, pl.len() + 1)).cast(pl.String).str.zfill(6)))
    return frame.select(TABLES["activities"].column_names)


def _duration(t: str, r: float) -> int | None:
    lo, hi, step = {
        "email": (0, 0, 0), "call": (10, 60, 5), "meeting": (30, 120, 15), "exec_meeting": (60, 150, 30),
        "qbr": (120, 240, 30), "site_visit": (180, 480, 60), "workshop": (120, 360, 60), "other": (15, 90, 15),
    }[t]
    if step == 0:
        return None
    k = int(r * ((hi - lo) // step + 1))
    return lo + k * step


# ------------------------------------------------------------------------------------------------------
# revenue, wallet, opportunities


def _make_revenue(rng, accounts, start: date, end: date) -> tuple[pl.DataFrame, dict[str, np.ndarray]]:
    """Monthly invoice lines per product line; returns the frame and each account's EUR amounts by day index."""
    end_idx = HISTORY_DAYS - 1
    usd = _usd_rate_by_day(start, HISTORY_DAYS)
    month_starts = []
    y, m = start.year, start.month
    while date(y, m, 1) <= end:
        month_starts.append((y, m))
        y, m = (y + 1, 1) if m == 12 else (y, m + 1)
    seasonal = {1: 0.9, 2: 0.95, 3: 1.08, 4: 1.0, 5: 1.0, 6: 1.06, 7: 0.95, 8: 0.82, 9: 1.05, 10: 1.06, 11: 1.04,
                12: 1.09}
    cols: dict[str, list] = {"account_id": [], "day": [], "amount": [], "cost_of_goods": [], "product_line": [],
                             "currency": [], "_seq": []}
    eur_by_account: dict[str, list[tuple[int, float]]] = {}
    seq = 0
    for acc in accounts:
        inv_day = int(rng.integers(1, 29))
        currency = "USD" if acc.region == "Americas" else "EUR"
        created_idx = _idx(start, acc.created)
        eur_rows = []
        for y, m in month_starts:
            d = date(y, m, inv_day)
            di = _idx(start, d)
            if di < 0 or di > end_idx or di < created_idx:
                continue
            if rng.random() > acc.invoice_prob:
                continue
            years_back = (end_idx - di) / 365.25
            level = acc.revenue / 12 * (1 + acc.growth) ** (-years_back) * seasonal[m]
            if acc.invoice_prob < 1:
                level = level / acc.invoice_prob
            for line, share in acc.mix.items():
                amount_eur = level * share * float(np.exp(rng.normal(0, 0.12)))
                margin = PRODUCT_MARGIN[line] + acc.margin_shift + float(rng.normal(0, 0.03))
                cogs_eur = amount_eur * (1 - min(max(margin, 0.02), 0.95))
                has_cogs = rng.random() < 0.92
                _add_revenue(cols, acc, di, amount_eur, cogs_eur if has_cogs else None, line, currency, usd, seq)
                eur_rows.append((di, amount_eur))
                seq += 1
                if rng.random() < 0.012:  # a credit note a few days later
                    cdi = min(di + int(rng.integers(3, 20)), end_idx)
                    credit = -amount_eur * float(rng.uniform(0.05, 0.3))
                    _add_revenue(cols, acc, cdi, credit, None, line, currency, usd, seq)
                    eur_rows.append((cdi, credit))
                    seq += 1
        eur_by_account[acc.account_id] = np.array(eur_rows, dtype="float64").reshape(-1, 2)
    frame = pl.DataFrame(cols, schema={"account_id": pl.String, "day": pl.Int64, "amount": pl.Float64,
                                       "cost_of_goods": pl.Float64, "product_line": pl.String, "currency": pl.String,
                                       "_seq": pl.Int64})
    frame = frame.with_columns(
        revenue_date=pl.lit(start) + pl.duration(days=pl.col("day")),
    ).with_columns(pl.col("revenue_date").cast(pl.Date)).sort(["revenue_date", "account_id", "_seq"])
    frame = frame.with_columns(revenue_id=pl.format("INV-{}", pl.int_range(1, pl.len() + 1).cast(pl.String).str.zfill(6)))
    return frame.select(TABLES["revenue"].column_names), eur_by_account


def _add_revenue(cols, acc, di, amount_eur, cogs_eur, line, currency, usd, seq):
    rate = usd[di] if currency == "USD" else 1.0
    cols["account_id"].append(acc.account_id)
    cols["day"].append(di)
    cols["amount"].append(round(amount_eur / rate, 2))
    cols["cost_of_goods"].append(None if cogs_eur is None else round(cogs_eur / rate, 2))
    cols["product_line"].append(line)
    cols["currency"].append(currency)
    cols["_seq"].append(seq)


def _make_wallet(rng, accounts, eur_by_account, end: date) -> pl.DataFrame:
    """Yearly wallet estimates; an estimate is never below 1.3 × what the account bought from us that year."""
    end_idx = HISTORY_DAYS - 1
    start = end - timedelta(days=end_idx)
    rows: dict[str, list] = {c: [] for c in TABLES["wallet"].column_names}

    def add(aid, year, amount, line, source, confidence):
        rows["account_id"].append(aid)
        rows["year"].append(year)
        rows["wallet_amount"].append(float(round(amount, -3 if amount >= 100_000 else -2)))
        rows["product_line"].append(line)
        rows["source"].append(source)
        rows["confidence"].append(confidence)

    for acc in accounts:
        if acc.has_wallet == "none":
            continue
        source = "kam_estimate" if acc.is_key else ("analyst" if rng.random() < 0.6 else "survey")
        for year in (end.year - 2, end.year - 1, end.year):
            revenue_year = acc.revenue * (1 + acc.growth) ** (year - end.year - 0.4)
            # the wallet grows slowly; the share of it we hold moves with our growth
            wallet = revenue_year / acc.sow * (1 + 0.03 * (year - end.year)) / (1 + acc.growth) ** (year - end.year)
            wallet = wallet * float(rng.uniform(0.95, 1.05))
            inv = eur_by_account[acc.account_id]
            if year == end.year:  # the current year: compare with the trailing twelve months
                bought = float(np.sort(inv[inv[:, 0] > end_idx - 365, 1]).sum()) if len(inv) else 0.0
            else:
                lo, hi = _idx(start, date(year, 1, 1)), _idx(start, date(year, 12, 31))
                bought = float(np.sort(inv[(inv[:, 0] >= lo) & (inv[:, 0] <= hi), 1]).sum()) if len(inv) else 0.0
                if lo < 0:  # the year starts before the history: annualise
                    bought = bought * 365 / max(hi + 1, 1)
            wallet = max(wallet, 1.3 * bought)
            confidence = ("high" if year == end.year else "medium") if acc.is_key else ("low", "medium")[int(rng.integers(2))]
            if acc.has_wallet in ("whole", "whole+lines"):
                add(acc.account_id, year, wallet, None, source, confidence)
            if acc.has_wallet in ("whole+lines", "lines"):
                lines = list(acc.mix) + [pl_ for pl_ in PRODUCT_LINES if pl_ not in acc.mix][:1]
                weights = np.array([acc.mix.get(line, 0.15) for line in lines])
                weights = weights / weights.sum()
                for line, w in zip(lines, weights):
                    add(acc.account_id, year, wallet * w * float(rng.uniform(0.9, 1.1)), line, source, confidence)
    return pl.DataFrame(rows, schema={"account_id": pl.String, "year": pl.Int64, "wallet_amount": pl.Float64,
                                      "product_line": pl.String, "source": pl.String, "confidence": pl.String})


def _make_opportunities(rng, accounts, start: date, end: date) -> pl.DataFrame:
    end_idx = HISTORY_DAYS - 1
    usd = _usd_rate_by_day(start, HISTORY_DAYS)
    rows: dict[str, list] = {c: [] for c in TABLES["opportunities"].column_names}
    n = 0
    kinds = ("expansion", "renewal", "new project", "upgrade", "pilot")
    for acc in accounts:
        per_year = 9.0 if acc.is_key else (4.0 if acc.story == "promotion" else 1.2)
        created_idx = max(_idx(start, acc.created), 0)
        count = int(rng.poisson(per_year * (end_idx - created_idx) / 365.25 + 0.3))
        currency = "USD" if acc.region == "Americas" else "EUR"
        short = acc.name.split(" ")[0]
        for c_idx in np.sort(rng.integers(created_idx, end_idx + 1, size=count)):
            n += 1
            line = list(acc.mix)[int(rng.integers(len(acc.mix)))]
            close_idx = int(c_idx + rng.integers(20, 200))
            amount_eur = acc.revenue * float(rng.uniform(0.02, 0.25))
            if close_idx <= end_idx:
                won = rng.random() < (0.55 if acc.is_key else 0.4)
                stage, closed = ("Closed Won" if won else "Closed Lost"), True
            else:
                won, closed = False, False
                progress = (end_idx - c_idx) / (close_idx - c_idx)
                stage = ("Prospecting", "Qualification", "Proposal", "Negotiation")[min(int(progress * 4), 3)]
            rate = usd[min(c_idx, end_idx)] if currency == "USD" else 1.0
            rows["opportunity_id"].append(f"OPP-{n:05d}")
            rows["account_id"].append(acc.account_id)
            rows["name"].append(f"{short} - {line} {kinds[int(rng.integers(len(kinds)))]}")
            rows["stage"].append(stage)
            rows["amount"].append(round(float(round(amount_eur / rate, -2)), 2))
            rows["close_date"].append(start + timedelta(days=close_idx))
            rows["is_closed"].append(closed)
            rows["is_won"].append(won)
            rows["product_line"].append(line)
            rows["currency"].append(currency)
            rows["created_date"].append(start + timedelta(days=int(c_idx)))
    return pl.DataFrame(rows, schema={"opportunity_id": pl.String, "account_id": pl.String, "name": pl.String,
                                      "stage": pl.String, "amount": pl.Float64, "close_date": pl.Date,
                                      "is_closed": pl.Boolean, "is_won": pl.Boolean, "product_line": pl.String,
                                      "currency": pl.String, "created_date": pl.Date})


# ------------------------------------------------------------------------------------------------------
# cost to serve, cases, surveys


def _make_service_costs(rng, accounts, eur_by_account, start: date, end: date) -> pl.DataFrame:
    end_idx = HISTORY_DAYS - 1
    usd = _usd_rate_by_day(start, HISTORY_DAYS)
    rows: dict[str, list] = {"account_id": [], "day": [], "category": [], "amount": [], "currency": [], "_seq": []}
    seq = 0
    for acc in accounts:
        currency = "USD" if acc.region == "Americas" else "EUR"
        inv = eur_by_account[acc.account_id]
        if len(inv) == 0:
            continue
        if acc.story == "value_destroyer":
            split = {"support": 0.24, "logistics": 0.36, "discount": 0.16, "customisation": 0.12,
                     "account_management": 0.06, "travel": 0.06}
        elif acc.is_key:
            split = {"account_management": 0.32, "support": 0.26, "logistics": 0.12, "discount": 0.18, "travel": 0.1,
                     "customisation": 0.02}
        else:
            split = {"support": 0.45, "logistics": 0.25, "discount": 0.2, "travel": 0.05, "other": 0.05}
        if not ({"Logistics Services", "Spare Parts"} & set(acc.mix)):  # nothing physical to ship
            split = {k: v for k, v in split.items() if k != "logistics"}
            total = sum(split.values())
            split = {k: v / total for k, v in split.items()}
        # one cost line per category and month with invoices, proportional to that month's revenue
        months = inv[:, 0] // 30.4375
        for mth in np.unique(months):
            sel = months == mth
            month_rev = max(float(inv[sel, 1].sum()), 0.0)
            di = int(inv[sel, 0].max())
            for cat, share in split.items():
                monthly = ("support", "account_management", "logistics") if acc.is_key else ("support",)
                p_row = 1.0 if cat in monthly else 0.35
                if rng.random() > p_row:
                    continue
                amount_eur = month_rev * acc.cost_ratio * share / p_row * float(np.exp(rng.normal(0, 0.25)))
                if amount_eur < 1:
                    continue
                cdi = min(di + int(rng.integers(0, 10)), end_idx)
                rate = usd[cdi] if currency == "USD" else 1.0
                rows["account_id"].append(acc.account_id)
                rows["day"].append(cdi)
                rows["category"].append(cat)
                rows["amount"].append(round(amount_eur / rate, 2))
                rows["currency"].append(currency)
                rows["_seq"].append(seq)
                seq += 1
    frame = pl.DataFrame(rows, schema={"account_id": pl.String, "day": pl.Int64, "category": pl.String,
                                       "amount": pl.Float64, "currency": pl.String, "_seq": pl.Int64})
    frame = frame.with_columns(cost_date=(pl.lit(start) + pl.duration(days=pl.col("day"))).cast(pl.Date))
    frame = frame.sort(["cost_date", "account_id", "_seq"]).with_columns(
        cost_id=pl.format("SC-{}", pl.int_range(1, pl.len() + 1).cast(pl.String).str.zfill(6)))
    return frame.select(TABLES["service_costs"].column_names)


def _make_cases(rng, accounts, start: date, end: date) -> pl.DataFrame:
    end_idx = HISTORY_DAYS - 1
    day_w = _day_weights(start)
    rows: dict[str, list] = {"account_id": [], "opened": [], "closed": [], "priority": [], "status": [], "_seq": []}
    seq = 0
    for acc in accounts:
        created_idx = max(_idx(start, acc.created), 0)
        w = day_w.copy()
        w[:created_idx] = 0
        if w.sum() == 0:
            continue
        lam = acc.case_rate * (HISTORY_DAYS / 365.25) * w / w.sum()
        days = np.repeat(np.arange(HISTORY_DAYS), rng.poisson(lam))
        p = [0.1, 0.33, 0.38, 0.19] if acc.story == "value_destroyer" else [0.3, 0.47, 0.19, 0.04]
        prio = rng.choice(4, size=len(days), p=p)
        for di, pr in zip(days, prio):
            priority = ("low", "medium", "high", "critical")[int(pr)]
            lo, hi = {"low": (2, 45), "medium": (1, 30), "high": (0, 14), "critical": (0, 5)}[priority]
            closed = int(di) + int(rng.integers(lo, hi + 1))
            rows["account_id"].append(acc.account_id)
            rows["opened"].append(int(di))
            if closed > end_idx:
                rows["closed"].append(None)
                rows["status"].append(_CASE_STATUSES_OPEN[int(rng.integers(3))])
            else:
                rows["closed"].append(closed)
                rows["status"].append("Closed")
            rows["priority"].append(priority)
            rows["_seq"].append(seq)
            seq += 1
    frame = pl.DataFrame(rows, schema={"account_id": pl.String, "opened": pl.Int64, "closed": pl.Int64,
                                       "priority": pl.String, "status": pl.String, "_seq": pl.Int64})
    frame = frame.with_columns(
        opened_date=(pl.lit(start) + pl.duration(days=pl.col("opened"))).cast(pl.Date),
        closed_date=(pl.lit(start) + pl.duration(days=pl.col("closed"))).cast(pl.Date),
    ).sort(["opened_date", "account_id", "_seq"])
    frame = frame.with_columns(case_id=pl.format("CASE-{}", pl.int_range(1, pl.len() + 1).cast(pl.String).str.zfill(6)))
    return frame.select(TABLES["cases"].column_names)


def _make_surveys(rng, accounts, contacts: dict[str, _Contacts], start: date, end: date) -> pl.DataFrame:
    """Relationship surveys twice a year for key accounts (and the candidate), yearly for a third of the others."""
    end_idx = HISTORY_DAYS - 1
    rows: dict[str, list] = {"account_id": [], "day": [], "contact_id": [], "nps": [], "csat": [], "_seq": []}
    seq = 0
    waves = []
    for y in range(start.year, end.year + 1):
        for m, dd in ((6, 1), (12, 1)):
            wi = _idx(start, date(y, m, dd))
            if 0 <= wi <= end_idx:
                waves.append(wi)
    for acc in accounts:
        con = contacts[acc.account_id]
        created_idx = _idx(start, acc.created)
        if acc.is_key or acc.story == "promotion":
            account_waves = waves
            k_lo, k_hi = 2, 5
        else:
            if rng.random() > 0.35 or not len(con.ids):
                continue
            account_waves = waves[1::2]
            k_lo, k_hi = 1, 2
        for wi in account_waves:
            if wi < created_idx:
                continue
            active = np.flatnonzero(con.left_idx > wi + 21)
            if not len(active):
                continue
            k = min(int(rng.integers(k_lo, k_hi + 1)), len(active))
            for ci in rng.choice(active, size=k, replace=False):
                di = min(wi + int(rng.integers(0, 21)), end_idx)
                nps = int(np.clip(round(rng.normal(acc.nps_mean, 1.4)), 0, 10))
                csat = int(np.clip(round(rng.normal(1 + (acc.nps_mean - 2) / 2, 0.7)), 1, 5))
                r = rng.random()
                rows["account_id"].append(acc.account_id)
                rows["day"].append(di)
                rows["contact_id"].append(con.ids[int(ci)] if rng.random() < 0.9 else None)
                rows["nps"].append(None if r < 0.08 else nps)
                rows["csat"].append(None if 0.08 <= r < 0.18 else csat)
                rows["_seq"].append(seq)
                seq += 1
    frame = pl.DataFrame(rows, schema={"account_id": pl.String, "day": pl.Int64, "contact_id": pl.String,
                                       "nps": pl.Int64, "csat": pl.Int64, "_seq": pl.Int64})
    frame = frame.with_columns(response_date=(pl.lit(start) + pl.duration(days=pl.col("day"))).cast(pl.Date))
    frame = frame.sort(["response_date", "account_id", "_seq"]).with_columns(
        response_id=pl.format("SR-{}", pl.int_range(1, pl.len() + 1).cast(pl.String).str.zfill(5)))
    return frame.select(TABLES["surveys"].column_names)


# ------------------------------------------------------------------------------------------------------
# plans, goals, actions


def _make_reviews(rng, accounts, start: date, end: date) -> pl.DataFrame:
    end_idx = HISTORY_DAYS - 1
    rows: dict[str, list] = {"account_id": [], "day": [], "review_type": [], "rating": [], "_seq": []}
    seq = 0
    for acc in accounts:
        if not acc.is_key:
            continue
        first = max(_idx(start, acc.since), 0)
        if acc.story == "overdue":
            last_plan = end_idx - int(rng.integers(120, 170))
            last_review = end_idx - int(rng.integers(40, 75))
        elif acc.story == "collapsing":
            last_plan = end_idx - int(rng.integers(30, 70))
            last_review = end_idx - int(rng.integers(35, 55))
        else:
            last_plan = end_idx - int(rng.integers(5, 80))
            last_review = end_idx - int(rng.integers(1, 25))
        good = acc.story in ("healthy", "quiet_champion")
        entries = []
        di = last_plan
        while di >= first:
            entries.append((di, "plan_90_day"))
            di -= int(rng.integers(86, 97))
        di = last_review
        while di >= first:
            entries.append((di, "review_30_day"))
            di -= int(rng.integers(27, 34))
        for y in range(start.year, end.year + 1):  # a yearly strategy day early in the year
            si = _idx(start, date(y, 2, 1)) + int(rng.integers(0, 28))
            if first <= si <= last_review:
                entries.append((si, "strategy_day"))
        for di, rtype in entries:
            lo, hi = (3, 5) if good else (2, 4)
            rating = int(rng.integers(lo, hi + 1)) if rng.random() < 0.9 else None
            rows["account_id"].append(acc.account_id)
            rows["day"].append(di)
            rows["review_type"].append(rtype)
            rows["rating"].append(rating)
            rows["_seq"].append(seq)
            seq += 1
    frame = pl.DataFrame(rows, schema={"account_id": pl.String, "day": pl.Int64, "review_type": pl.String,
                                       "rating": pl.Int64, "_seq": pl.Int64})
    frame = frame.with_columns(review_date=(pl.lit(start) + pl.duration(days=pl.col("day"))).cast(pl.Date))
    frame = frame.sort(["review_date", "account_id", "_seq"]).with_columns(
        review_id=pl.format("REV-{}", pl.int_range(1, pl.len() + 1).cast(pl.String).str.zfill(5)))
    return frame.select(TABLES["reviews"].column_names)


def _horizon(start_d: date, due_d: date) -> str:
    days = (due_d - start_d).days
    return "short" if days <= 180 else ("mid" if days <= 400 else "long")


def _make_goals(rng, accounts, eur_by_account, surveys: pl.DataFrame, start: date, end: date):
    """Programme goals (one of them off track by construction) and account goals, with their actions."""
    end_idx = HISTORY_DAYS - 1
    key = [a for a in accounts if a.is_key]
    key_ids = [a.account_id for a in key]

    def ttm(arr: np.ndarray, lo: int, hi: int) -> float:
        if not len(arr):
            return 0.0
        sel = (arr[:, 0] >= lo) & (arr[:, 0] <= hi)
        return float(np.sort(arr[sel, 1]).sum())

    rev_ttm = {a.account_id: ttm(eur_by_account[a.account_id], end_idx - 364, end_idx) for a in accounts}
    rev_prior = {a.account_id: ttm(eur_by_account[a.account_id], end_idx - 729, end_idx - 365) for a in accounts}
    total = sum(sorted(rev_ttm.values()))
    key_share = 100 * sum(sorted(rev_ttm[a] for a in key_ids)) / total
    recent = surveys.filter(
        pl.col("account_id").is_in(key_ids) & (pl.col("response_date") >= end - timedelta(days=364))
        & pl.col("nps").is_not_null()
    )["nps"].to_numpy()
    programme_nps = 100 * (np.sum(recent >= 9) - np.sum(recent <= 6)) / max(len(recent), 1)
    sponsor_pct = 100 * sum(a.sponsor is not None for a in key) / len(key)

    goals: dict[str, list] = {c: [] for c in TABLES["goals"].column_names}
    actions: dict[str, list] = {c: [] for c in TABLES["actions"].column_names}

    def add_goal(gid, title, account_id, metric, baseline, target, current, s, due, owner):
        goals["goal_id"].append(gid)
        goals["title"].append(title)
        goals["account_id"].append(account_id)
        goals["metric"].append(metric)
        goals["baseline"].append(None if baseline is None else round(float(baseline), 2))
        goals["target"].append(round(float(target), 2))
        goals["current"].append(None if current is None else round(float(current), 2))
        goals["start_date"].append(s)
        goals["due_date"].append(due)
        goals["owner"].append(owner)
        goals["horizon"].append(_horizon(s, due))

    share_base = math.floor((key_share - 0.8) * 10) / 10
    share_target = round(share_base + 12.0, 1)
    nps_base = round(programme_nps - 6)
    programme = [
        (OFF_TRACK_GOAL_ID, f"Raise the key-account share of revenue to {share_target:.0f} %", "key_revenue_share_pct",
         share_base, share_target, None, end - timedelta(days=320), end + timedelta(days=45)),
        ("G-P02", "An executive sponsor for every key account", "sponsor_coverage_pct", 60.0, 100.0, None,
         end - timedelta(days=200), end + timedelta(days=165)),
        ("G-P03", f"Programme NPS of +{nps_base + 14:.0f}", "programme_nps", nps_base, nps_base + 14, None,
         end - timedelta(days=180), end + timedelta(days=185)),
        ("G-P04", "Every key account on a 90-day plan cadence", "cadence_compliance_pct", 40.0, 100.0, None,
         end - timedelta(days=150), end + timedelta(days=215)),
        ("G-P05", "Run a strategy day with every key account this year", None, 0.0, float(len(key)),
         float(len(key) - 2), date(end.year, 1, 1), date(end.year, 12, 31)),
    ]
    assert sponsor_pct > 60
    for gid, title, metric, base, target, current, s, due in programme:
        add_goal(gid, title, None, metric, base, target, current, s, due, PROGRAMME_LEAD)

    action_titles = {
        "revenue_ttm": ("Map the whitespace with the buying centre", "Propose the analytics upgrade",
                        "Negotiate the framework extension", "Run a joint business plan session"),
        "engaged_contacts_90d": ("Introduce our CTO to their IT leadership", "Set up a user group",
                                 "Invite procurement to the roadmap review", "Map the org chart with the champion"),
        "nps_365d": ("Close the open escalations", "Agree service levels for critical cases",
                     "Quarterly satisfaction check-in"),
        "share_of_wallet": ("Size the wallet with the customer", "Bid for the spare-parts tender",
                            "Bundle services into the renewal"),
        None: ("Draft the agreement", "Legal review", "Executive sign-off", "Kick-off meeting"),
        "programme": ("Brief the KAM team", "Update the account plans", "Report progress to the board"),
    }
    g = 0
    goal_rows = []
    for acc in key:
        n_goals = int(rng.integers(1, 4))
        kinds = [str(k) for k in rng.choice(["revenue_ttm", "engaged_contacts_90d", "nps_365d", "share_of_wallet",
                                             "manual"], size=n_goals, replace=False)]
        for kind in kinds:
            g += 1
            gid = f"G-{g:03d}"
            s = end - timedelta(days=int(rng.integers(30, 300)))
            due = end + timedelta(days=int(rng.integers(20, 420)))
            if rng.random() < 0.08:
                due = end - timedelta(days=int(rng.integers(5, 25)))
            if kind == "revenue_ttm":
                base = round(rev_prior[acc.account_id], -3)
                target = round(base * float(rng.uniform(1.12, 1.3)), -3)
                add_goal(gid, f"Grow revenue to EUR {target / 1e6:.1f}M", acc.account_id, kind, base, target, None, s,
                         due, acc.owner)
            elif kind == "engaged_contacts_90d":
                add_goal(gid, "Engage at least six people in the buying centre", acc.account_id, kind, 3, 6, None, s,
                         due, acc.owner)
            elif kind == "nps_365d":
                add_goal(gid, "Account NPS above +50", acc.account_id, kind, 20, 50, None, s, due, acc.owner)
            elif kind == "share_of_wallet":
                base = round(float(rng.uniform(0.25, 0.4)), 2)
                add_goal(gid, "Lift our share of wallet", acc.account_id, kind, base, round(base + 0.12, 2), None, s,
                         due, acc.owner)
            else:
                add_goal(gid, "Sign the multi-year framework agreement", acc.account_id, None, 0, 1,
                         float(rng.choice([0.0, 0.25, 0.5, 0.75])), s, due, acc.owner)
            goal_rows.append((gid, None if kind == "manual" else kind, s, due, acc.owner))
    for gid, *_rest in programme:
        s, due = _rest[-2], _rest[-1]
        goal_rows.insert(0, (gid, "programme", s, due, PROGRAMME_LEAD))
    goal_rows.sort(key=lambda r: r[0])

    a = 0
    for gid, kind, s, due, owner in goal_rows:
        titles = action_titles[kind]
        n_actions = int(rng.integers(2, min(5, len(titles)) + 1))
        span = max((due - s).days, 1)
        for j in range(n_actions):
            a += 1
            adue = s + timedelta(days=int(span * (j + 1) / (n_actions + 1)))
            completed = None
            if adue <= end and rng.random() < 0.75:
                completed = min(adue + timedelta(days=int(rng.integers(-20, 25))), end)
                completed = max(completed, s)
            actions["action_id"].append(f"A-{a:04d}")
            actions["goal_id"].append(gid)
            actions["title"].append(titles[j % len(titles)])
            actions["owner"].append(owner)
            actions["due_date"].append(adue)
            actions["completed_date"].append(completed)
    goals_frame = pl.DataFrame(goals, schema={"goal_id": pl.String, "title": pl.String, "account_id": pl.String,
                                              "metric": pl.String, "baseline": pl.Float64, "target": pl.Float64,
                                              "current": pl.Float64, "start_date": pl.Date, "due_date": pl.Date,
                                              "owner": pl.String, "horizon": pl.String})
    actions_frame = pl.DataFrame(actions, schema={"action_id": pl.String, "goal_id": pl.String, "title": pl.String,
                                                  "owner": pl.String, "due_date": pl.Date,
                                                  "completed_date": pl.Date})
    return goals_frame, actions_frame


def _fx_frame() -> pl.DataFrame:
    rows = [("EUR", 1.0, USD_RATES[0][0])] + [("USD", r, v) for v, r in USD_RATES]
    return pl.DataFrame(rows, schema={"currency": pl.String, "rate": pl.Float64, "valid_from": pl.Date}, orient="row")


# ------------------------------------------------------------------------------------------------------
# checking a story with the METRICS.md formulas


def _in_reporting_currency(frame: pl.DataFrame, date_col: str, cols: list[str], start: date) -> pl.DataFrame:
    rates = pl.DataFrame({date_col: pl.Series(_d(start, np.arange(HISTORY_DAYS))),
                          "_usd": _usd_rate_by_day(start, HISTORY_DAYS)})
    rate = pl.when(pl.col("currency") == "USD").then(pl.col("_usd")).otherwise(1.0)
    return frame.join(rates, on=date_col, how="left").with_columns([(pl.col(c) * rate).alias(c) for c in cols])


def selection_inputs(tables: dict[str, pl.DataFrame], as_of: date) -> pl.DataFrame:
    """Per account, the METRICS.md inputs of the key account selection score and the score itself."""
    start = as_of - timedelta(days=HISTORY_DAYS - 1)
    accounts = tables["accounts"].select("account_id", "is_key_account")

    def window(col: str, lo: int, hi: int) -> pl.Expr:
        return pl.col(col).is_between(as_of - timedelta(days=hi), as_of - timedelta(days=lo))

    rev = _in_reporting_currency(tables["revenue"], "revenue_date", ["amount", "cost_of_goods"], start)
    costs = _in_reporting_currency(tables["service_costs"], "cost_date", ["amount"], start)
    act = tables["activities"]
    parts = [
        rev.filter(window("revenue_date", 0, 364)).group_by("account_id").agg(
            revenue_ttm=pl.col("amount").sum(),
            gross_margin_ttm=(pl.col("amount") - pl.col("cost_of_goods").fill_null(pl.col("amount") * 0.65)).sum()),
        rev.filter(window("revenue_date", 365, 729)).group_by("account_id").agg(revenue_prior_ttm=pl.col("amount").sum()),
        costs.filter(window("cost_date", 0, 364)).group_by("account_id").agg(service_ttm=pl.col("amount").sum()),
        act.filter(window("activity_date", 0, 364)).group_by("account_id").agg(
            activity_cost_ttm=pl.col("activity_type").replace_strict(ACTIVITY_COST, return_dtype=pl.Float64).sum()),
        act.filter(window("activity_date", 0, 89)).group_by("account_id").agg(
            engaged_contacts_90d=pl.col("contact_id").drop_nulls().n_unique()),
        tables["cases"].filter(window("opened_date", 0, 364)).group_by("account_id").agg(
            case_cost_ttm=pl.col("priority").replace_strict(CASE_COST, return_dtype=pl.Float64).sum()),
    ]
    m = accounts
    for p in parts:
        m = m.join(p, on="account_id", how="left")
    fill = ["revenue_ttm", "gross_margin_ttm", "revenue_prior_ttm", "service_ttm", "activity_cost_ttm",
            "engaged_contacts_90d", "case_cost_ttm"]
    m = m.with_columns([pl.col(c).fill_null(0) for c in fill])
    net = pl.col("gross_margin_ttm") - pl.col("service_ttm") - pl.col("activity_cost_ttm") - pl.col("case_cost_ttm")
    m = m.with_columns(
        net_contribution_ttm=net,
        net_margin_pct=pl.when(pl.col("revenue_ttm") > 0).then(100 * net / pl.col("revenue_ttm")),
        revenue_growth_pct=pl.when(pl.col("revenue_prior_ttm") > 0)
        .then(100 * (pl.col("revenue_ttm") - pl.col("revenue_prior_ttm")) / pl.col("revenue_prior_ttm")),
    )
    wallet = tables["wallet"].filter(pl.col("year") <= as_of.year).group_by("account_id", "year").agg(
        whole=pl.col("wallet_amount").filter(pl.col("product_line").is_null()).sum(),
        has_whole=pl.col("product_line").is_null().any(),
        lines=pl.col("wallet_amount").filter(pl.col("product_line").is_not_null()).sum(),
    ).sort("account_id", "year").group_by("account_id").agg(
        wallet_current=pl.when(pl.col("has_whole")).then("whole").otherwise("lines").last())
    m = m.join(wallet, on="account_id", how="left")

    def pct(col: str) -> pl.Expr:
        rank = pl.when(pl.col(col).is_null()).then(1).otherwise(pl.col(col).rank("min") + pl.col(col).null_count())
        return 100 * (rank - 1) / (pl.len() - 1)

    weights = {"revenue_ttm": 25, "wallet_current": 25, "net_margin_pct": 20, "revenue_growth_pct": 15,
               "engaged_contacts_90d": 15}
    return m.with_columns(selection_score=sum(w * pct(c) / 100 for c, w in weights.items())).sort("account_id")


def _keep_promotion_story(tables: dict[str, pl.DataFrame], start: date, end: date) -> pl.DataFrame:
    """Wallet rows, without the estimates of ordinary non-key accounts that would also pass the lowest key account.

    Only the promotion candidate should stand out; wallet estimates are what KAMs keep for accounts they
    watch, so dropping a few of them is the least visible way to keep the story unmistakable.
    """
    wallet = tables["wallet"]
    for _ in range(20):
        scores = selection_inputs({**tables, "wallet": wallet}, end)
        lowest = scores.filter("is_key_account")["selection_score"].min()
        rivals = scores.filter(
            ~pl.col("is_key_account") & (pl.col("account_id") != PROMOTION_CANDIDATE_ACCOUNT)
            & (pl.col("selection_score") >= lowest - 3) & pl.col("wallet_current").is_not_null()
        )["account_id"]
        if rivals.is_empty():
            break
        wallet = wallet.filter(~pl.col("account_id").is_in(rivals.implode()))
    return wallet


# ------------------------------------------------------------------------------------------------------
# public API


def build_demo_tables(*, end_date: date = DEMO_END_DATE, seed: int = 7) -> dict[str, pl.DataFrame]:
    """The 13 demo tables as Polars frames, in the contract's column order."""
    rng = np.random.default_rng(seed)
    start = end_date - timedelta(days=HISTORY_DAYS - 1)
    accounts = _make_accounts(rng, end_date)
    contacts_frame, contacts = _make_contacts(rng, accounts, start, end_date)
    activities = _make_activities(rng, accounts, contacts, start, end_date)
    revenue, eur_by_account = _make_revenue(rng, accounts, start, end_date)
    surveys = _make_surveys(rng, accounts, contacts, start, end_date)
    goals, actions = _make_goals(rng, accounts, eur_by_account, surveys, start, end_date)
    tables = {
        "fx_rates": _fx_frame(),
        "accounts": _accounts_frame(accounts),
        "contacts": contacts_frame,
        "goals": goals,
        "activities": activities,
        "revenue": revenue,
        "opportunities": _make_opportunities(rng, accounts, start, end_date),
        "service_costs": _make_service_costs(rng, accounts, eur_by_account, start, end_date),
        "cases": _make_cases(rng, accounts, start, end_date),
        "surveys": surveys,
        "wallet": _make_wallet(rng, accounts, eur_by_account, end_date),
        "actions": actions,
        "reviews": _make_reviews(rng, accounts, start, end_date),
    }
    tables["wallet"] = _keep_promotion_story(tables, start, end_date)
    out = {}
    for name in TABLE_ORDER:
        frame = tables[name].select(TABLES[name].column_names)
        floats = [c for c, t in frame.schema.items() if t == pl.Float64 and not (name == "fx_rates")]
        out[name] = frame.with_columns([pl.col(c).round(2) for c in floats])
    return out


def write_tables(tables: dict[str, pl.DataFrame], out_dir: Path) -> dict[str, int]:
    """Write each frame as `<table>.csv` (UTF-8, ISO dates) and return the rows written per table."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    counts = {}
    for name, frame in tables.items():
        frame.write_csv(out_dir / f"{name}.csv", date_format="%Y-%m-%d")
        counts[name] = frame.height
    return counts


def write_demo(out_dir: Path, *, end_date: date = DEMO_END_DATE, seed: int = 7) -> dict[str, int]:
    """Write the demo export (13 CSV files) into out_dir; returns the rows written per table."""
    return write_tables(build_demo_tables(end_date=end_date, seed=seed), Path(out_dir))


def account_names() -> dict[str, str]:
    """account_id → name of the hand-made accounts (key accounts and the special non-key accounts)."""
    names = {row[0]: row[1] for row in _KEY_ACCOUNTS}
    names.update({row[0]: row[1] for row in _SPECIAL_NON_KEY})
    return names


def describe_stories() -> str:
    """The stories hidden in the demo export, as a Markdown list naming the accounts."""
    names = account_names()
    lines = [f"- **{names[aid]}** (`{aid}`): {story}" for aid, story in STORIES.items()]
    lines += [f"- Goal `{gid}`: {story}" for gid, story in GOAL_STORIES.items()]
    healthy = [names[row[0]] for row in _KEY_ACCOUNTS if row[-1] == "healthy"]
    lines.append(f"- The other {len(healthy)} key accounts are healthy: " + ", ".join(healthy) + ".")
    return "\n".join(lines)
