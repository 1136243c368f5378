"""Sign-in in the app (issue 16): Streamlit's own st.login / st.user with an [auth] secrets section, and the gate
every page passes first (frame.page): sign in, no access, or the signed-in user's Access (kam_metrics/access.py).

Without an [auth] section the app runs as before, for one local user with full rights (access.LOCAL), unless
KAM_REQUIRE_LOGIN=1 (set by `kam app --require-login`): then every page refuses.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Iterable

import streamlit as st

from kam_metrics import access
from kam_metrics.access import Access
from kam_metrics.app.formatting import code_span, escape_markdown, safe_text
from kam_metrics.settings import Settings

ENV_REQUIRE_LOGIN = access.ENV_REQUIRE_LOGIN
SIGN_IN_TEXT = "Sign in to see the key account programme."
_ACCESS = "kam_access"  # the Access of this run, for helpers without a View (programme_ui, the Data page)


def _auth_section() -> Mapping | None:
    try:
        section = st.secrets["auth"] if "auth" in st.secrets else None
    except Exception:  # noqa: BLE001 - no secrets file at all, or one that cannot be parsed: not configured
        return None
    return section if isinstance(section, Mapping) else None


def is_auth_configured() -> bool:
    """Whether st.secrets has an [auth] section (sign-in is on)."""
    return _auth_section() is not None


def providers() -> list[str]:
    """The named providers ([auth.NAME] sections); empty when [auth] itself holds the one provider."""
    section = _auth_section() or {}
    return [name for name, value in section.items() if isinstance(value, Mapping)]


def is_login_required() -> bool:
    return os.environ.get(ENV_REQUIRE_LOGIN, "").strip().lower() in ("1", "true", "yes")


def signed_in_user() -> dict | None:
    """The signed-in user's claims (email, name, …), None when nobody is signed in or sign-in is not configured."""
    try:
        if not st.user.is_logged_in:
            return None
        claims = st.user.to_dict()
    except (AttributeError, KeyError):
        return None
    return claims if claims.get("email") else None


#: Said on the sign-in page of a link to anything but the home page: Streamlit starts a new session after the
#: provider's redirect and opens the home page (streamlit/streamlit#10162), so the link must be followed again.
DEEP_LINK_TEXT = "After signing in you will see the {home}; follow your link again to open {title}."


def _sign_in_page(title: str | None = None, home: str | None = None) -> None:
    st.title("KAM Health")
    st.markdown(SIGN_IN_TEXT)
    if title and home and (title != home or len(st.query_params)):
        st.caption(DEEP_LINK_TEXT.format(home=escape_markdown(home), title=escape_markdown(title)))
    names = providers()
    if not names:
        if st.button("Sign in", type="primary", icon=":material/login:", key="kam_sign_in"):
            st.login()
    for name in names:
        if st.button(f"Sign in with {name}", type="primary", icon=":material/login:", key=f"kam_sign_in_{name}"):
            st.login(name)
    st.stop()


def _sign_out_button(key: str) -> None:
    if st.button("Sign out", icon=":material/logout:", key=key):
        st.logout()


def sign_in_gate(title: str | None = None, home: str | None = None) -> None:
    """Before anything is read: stop the page when sign-in is required and missing, or nobody is signed in
    (`title`: this page's, `home`: the home page's, to say that a deep link must be followed again)."""
    if not is_auth_configured():
        if is_login_required():
            st.title("KAM Health")
            st.error("Sign-in is required on this server (kam app --require-login) but is not configured: no "
                     "[auth] section in secrets.toml. Nothing is shown.", icon=":material/lock:")
            st.stop()
        return
    if signed_in_user() is None:
        _sign_in_page(title, home)


def current_access(settings: Settings, kam_owner_names: Iterable[str] = ()) -> Access:
    """The Access of whoever uses this page: the local user without sign-in, else the signed-in person's (a person
    without a role gets the "No access" page and the page stops, before any data is read)."""
    if not is_auth_configured():
        result = access.LOCAL
    else:
        user = signed_in_user() or {}
        result = access.access_for(settings, user.get("email"), user.get("name"), kam_owner_names,
                                   email_verified=user.get("email_verified"))
        if not result.has_access:
            st.session_state.pop(_ACCESS, None)
            st.title("No access")
            email = code_span(result.email) if result.email else "an unknown e-mail"
            why = ("the sign-in provider has not verified this e-mail, so it gets no role. Verify it with the "
                   "provider, then sign in again." if user.get("email_verified") is False else
                   "it has no role in this KAM Health. Ask an admin to add it to [access] in kam.toml.")
            st.warning(f"You are signed in as {email}: {why}", icon=":material/block:")
            _sign_out_button("kam_sign_out_no_access")
            st.stop()
    st.session_state[_ACCESS] = result
    return result


def last_access() -> Access:
    """The Access the page resolved on this run (frame.page); nobody's rights when no page resolved one."""
    if not is_auth_configured() and not is_login_required():
        return access.LOCAL
    found = st.session_state.get(_ACCESS)
    return found if isinstance(found, Access) else access.NOBODY


def sidebar_user(user: Access) -> None:
    """"Signed in as NAME · ROLE" and Sign out (nothing in local mode)."""
    if user.is_local:
        return
    with st.sidebar:
        st.caption(f"Signed in as {escape_markdown(safe_text(user.name, max_length=80))} · "
                   f"{escape_markdown(user.role or '—')}")
        _sign_out_button("kam_sign_out")
        message = access.unknown_kam_text(user)
        if message:
            st.warning(escape_markdown(message), icon=":material/person_off:")
        st.divider()
