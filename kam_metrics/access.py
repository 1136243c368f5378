"""Who may see and do what (issue 16): roles from kam.toml [access], KAM owner names from [people].

Roles, highest first: admin > champion > leadership > kam > viewer; a person in several lists gets the highest.
An entry is an e-mail (exact) or "@domain" (every e-mail of that domain), compared case-insensitively.

- admin, champion: see every account; upload data, edit settings and programme-wide goals; record on any account.
- leadership, viewer: see every account, read only.
- kam: sees the accounts whose kam_owner is their [people] name (else their sign-in name when it equals a
  kam_owner exactly; else none), records on those accounts only.
- no role: no access at all.

Without sign-in configured (local mode) there is one local user with full rights, as before sign-in existed.
Runs without Streamlit: kam_metrics/app/auth.py reads st.user and calls `access_for`.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Iterable
from urllib.parse import urlsplit

from kam_metrics.filters import Filters
from kam_metrics.settings import ACCESS_ROLES, Settings, SettingsError

ROLES = ACCESS_ROLES
#: Roles that see every account.
SEES_ALL_ROLES = ("admin", "champion", "leadership", "viewer")
#: Roles that upload data, edit settings and programme-wide goals, and record on any account.
MANAGING_ROLES = ("admin", "champion")
#: A kam_owner value no account has: the filter of a KAM who owns no account matches nothing.
NO_OWNER = "\x00no kam_owner\x00"


def _matches(email: str, entry: str) -> bool:
    entry = entry.strip().lower()
    return email.endswith(entry) if entry.startswith("@") else email == entry


def role_of(settings: Settings, email: str | None) -> str | None:
    """The highest role whose [access] list names this e-mail or its domain; None when none does."""
    if not email:
        return None
    email = email.strip().lower()
    for role in ROLES:
        if any(_matches(email, entry) for entry in settings.access.get(role, ())):
            return role
    return None


def person_name(settings: Settings, email: str | None) -> str | None:
    """The kam_owner name [people] gives this e-mail (case-insensitive), None when it has none."""
    if not email:
        return None
    wanted = email.strip().lower()
    return next((name for key, name in settings.people.items() if key.strip().lower() == wanted), None)


@dataclass(frozen=True)
class Access:
    """The person using the app: who, with which role, and which accounts (kam_owner names) are theirs."""

    email: str | None
    name: str
    role: str | None
    owners: tuple[str, ...] = ()
    is_local: bool = False

    @property
    def has_access(self) -> bool:
        return self.is_local or self.role is not None

    @property
    def sees_all(self) -> bool:
        return self.is_local or self.role in SEES_ALL_ROLES

    @property
    def may_upload(self) -> bool:
        return self.is_local or self.role in MANAGING_ROLES

    @property
    def may_edit_settings(self) -> bool:
        return self.may_upload

    @property
    def may_edit_programme_goals(self) -> bool:
        return self.may_upload

    @property
    def may_reassign_accounts(self) -> bool:
        """Whether they may change an account's key-account flag and KAM owner (a KAM may not move an account
        out of their own scope)."""
        return self.may_upload

    @property
    def may_see_quarantine_rows(self) -> bool:
        """The quarantine holds raw rows of any account: admin and champion only."""
        return self.may_upload

    @property
    def is_read_only(self) -> bool:
        return not (self.is_local or self.role in MANAGING_ROLES or self.role == "kam")

    @property
    def has_no_accounts(self) -> bool:
        """A KAM whose kam_owner name is not known: sees no account."""
        return not self.sees_all and not self.owners

    def may_see_owner(self, kam_owner: str | None) -> bool:
        return self.sees_all or (kam_owner is not None and kam_owner in self.owners)

    def may_record_on(self, account_kam_owner: str | None) -> bool:
        """Whether they may record reviews, notes, actions… on an account of this kam_owner."""
        if self.is_local or self.role in MANAGING_ROLES:
            return True
        return self.role == "kam" and account_kam_owner is not None and account_kam_owner in self.owners

    def scope_filters(self, filters: Filters) -> Filters:
        """The filters narrowed to what they may see: a KAM's kam_owners are theirs only (asking for others' gives
        their own; owning none matches no account)."""
        if self.sees_all:
            return filters
        mine = tuple(o for o in filters.kam_owners if o in self.owners) or self.owners or (NO_OWNER,)
        return replace(filters, kam_owners=mine)


LOCAL = Access(email=None, name="local user", role=None, is_local=True)
NOBODY = Access(email=None, name="nobody", role=None)


def access_for(settings: Settings, email: str | None, name_claim: str | None = None,
               kam_owner_names: Iterable[str] = (), email_verified: bool | None = None) -> Access:
    """The Access of a signed-in person: role from [access], KAM owner name from [people], else the sign-in
    name when it equals a kam_owner of the data exactly. An e-mail the provider says is not verified
    (email_verified false) gets no role: anyone could claim it."""
    role = None if email_verified is False else role_of(settings, email)
    person = person_name(settings, email)
    owners: tuple[str, ...] = ()
    if person:
        owners = (person,)
    elif name_claim and name_claim in set(kam_owner_names):
        owners = (name_claim,)
    display = person or (name_claim or "").strip() or (email or "")
    return Access(email=(email or "").strip() or None, name=display, role=role, owners=owners)


def owners_in_scope(access: Access, kam_owner_names: Iterable[str]) -> list[str]:
    """The KAM owner options they may pick in the sidebar."""
    return [o for o in kam_owner_names if access.may_see_owner(o)]


def unknown_kam_text(access: Access) -> str | None:
    """The message for a KAM whose kam_owner name is not known (None otherwise)."""
    if not access.has_no_accounts or access.role != "kam":
        return None
    return (f"No accounts are linked to {access.email or access.name}: ask an admin to add your e-mail to "
            "[people] in kam.toml with your KAM owner name.")



# ---------------------------------------------------------------- `kam app`: secrets files and --require-login

#: Set by `kam app --require-login`: every page refuses when sign-in is not configured (defence in depth).
ENV_REQUIRE_LOGIN = "KAM_REQUIRE_LOGIN"
SECRETS_FILE_NAME = "secrets.toml"
#: What Streamlit's st.login needs: at [auth] itself, and per provider (at [auth] or in an [auth.NAME] section).
AUTH_KEYS = ("redirect_uri", "cookie_secret")
PROVIDER_KEYS = ("client_id", "client_secret", "server_metadata_url")


def secrets_files(data_dir: Path, app_dir: Path, home: Path | None = None) -> list[Path]:
    """Where the app reads secrets, later files winning: Streamlit's own (~/.streamlit/secrets.toml, the app's
    .streamlit/secrets.toml), then secrets.toml in the data directory (a deployment keeps its secrets there)."""
    home = Path.home() if home is None else home
    return [home / ".streamlit" / SECRETS_FILE_NAME, app_dir / ".streamlit" / SECRETS_FILE_NAME,
            Path(data_dir).resolve() / SECRETS_FILE_NAME]


def read_secrets(files: Iterable[Path]) -> dict:
    """The secrets of these files merged as Streamlit merges them (a later file's top-level section wins)."""
    merged: dict = {}
    for path in files:
        if path.is_file():
            try:
                merged.update(tomllib.loads(path.read_text(encoding="utf-8")))
            except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
                raise SettingsError(f"{path}: not a valid TOML file: {exc}") from exc
    return merged


def missing_auth_keys(auth: object) -> list[str]:
    """The keys st.login lacks in an [auth] section ("auth" itself when there is none); empty when complete."""
    if not isinstance(auth, dict):
        return ["[auth]"]
    missing = [f"auth.{k}" for k in AUTH_KEYS if not auth.get(k)]
    if all(auth.get(k) for k in PROVIDER_KEYS):
        return missing
    named = {n: v for n, v in auth.items() if isinstance(v, dict)}
    if any(all(v.get(k) for k in PROVIDER_KEYS) for v in named.values()):
        return missing
    if named:
        return missing + [f"auth.{n}.{k}" for n, v in named.items() for k in PROVIDER_KEYS if not v.get(k)]
    return missing + [f"auth.{k}" for k in PROVIDER_KEYS if not auth.get(k)]


def require_login_problems(files: list[Path], settings: Settings) -> list[str]:
    """Why `kam app --require-login` cannot start (empty when it can): the [auth] keys missing, naming the files
    looked at, and an [access] without any role."""
    problems = []
    missing = missing_auth_keys(read_secrets(files).get("auth"))
    if missing:
        problems.append(f"sign-in is not configured: missing {', '.join(missing)} (looked at "
                        f"{', '.join(str(f) for f in files)})")
    if not any(settings.access.get(role) for role in ROLES):
        problems.append("no one has a role: add e-mails or \"@domain\"s to [access] in kam.toml")
    return problems


def app_address(files: Iterable[Path], port: int) -> str:
    """The address to open the app at: with sign-in, the origin of [auth] redirect_uri (a browser on another host
    name, e.g. localhost for 127.0.0.1, is not signed in and is told nothing); else http://localhost:PORT."""
    try:
        auth = read_secrets(files).get("auth")
    except SettingsError:
        auth = None
    redirect = auth.get("redirect_uri") if isinstance(auth, dict) else None
    if isinstance(redirect, str):
        parts = urlsplit(redirect)
        if parts.scheme and parts.netloc:
            return f"{parts.scheme}://{parts.netloc}"
    return f"http://localhost:{port}"
