"""A real OpenID Connect provider for the sign-in tests: `oidc-provider-mock` on 127.0.0.1 and a free port.

    with oidc_provider() as provider:
        provider.set_user("ana@example.com", email="ana@example.com", name="Ana")
        write_auth_secrets(data_dir / "secrets.toml", provider, app_port)
        ... start the app on app_port, open it in Chromium, click "Sign in", then authorize(tab, "ana@example.com")

What the provider does (oidc_provider_mock/_app.py, version 0.3.4): any client id and secret are accepted, any
redirect_uri too; its authorization page is a form with one text field `sub` and a button "Authorize" (plus
"Deny"); the user `sub` gets the claims stored for it (`PUT /users/{sub}` with a JSON object, or
`--user-claims` at start), or just {"email": sub} when none were stored. Claims are filtered by the requested
scope: Streamlit asks for "openid email profile", so email, email_verified and name come through. Its
end-session endpoint (in the discovery document, so Streamlit's logout goes there) shows a page with a button
"End session" that must be clicked; it then redirects to Streamlit's /oauth2callback, which (no state) sends the
browser on to the app's home page, signed out.

Learned with a scratch app (st.user, st.login(), st.logout(); --secrets.files pointing at the file written here),
then with the app itself, in Chromium through Playwright:
- The browser must open the app on exactly the host of `redirect_uri` (127.0.0.1 here, never localhost).
  Started on localhost, the sign-in state sits in a cookie of localhost while the provider sends the browser back
  to 127.0.0.1/oauth2callback; Streamlit finds no state there ("Missing provider for OAuth callback" in its log)
  and lands on the home page signed out, with no error shown.
- st.login() is a redirect sent over the websocket: the browser goes to /auth/login, then to the provider's
  form; after "Authorize" it comes back through /oauth2callback to "/" (the home page, not the page it started
  on), signed in. The identity lives in the httpOnly cookies `_streamlit_user` and `_streamlit_user_tokens`
  (host 127.0.0.1) and is read when a session starts; st.logout() deletes both.
- A new browser context starts signed out; within one context, sign out (and "End session") before signing in
  as someone else. A user not stored with set_user signs in with only {"email": sub}, so st.user.name is absent.
- The provider's pages link a stylesheet on cdn.jsdelivr.net; `block_external(context)` aborts every http(s)
  request that leaves 127.0.0.1, so nothing waits on the network.
- After sign-in Streamlit always lands on the app's home page: a deep link opened while signed out
  (/Account?account_id=X) is lost on the way through the provider; open it again once signed in.
- Starting the app as `kam app --require-login` (tests/test_browser_signin.py) checks the secrets before the
  server starts; `kam app` runs Streamlit as its child, so the test server runs in a process group of its own
  (tests/test_browser.serve) and is stopped as a whole.
- The app's tables are canvas grids: their text is not in innerText, but each keeps an accessible <table> copy of
  its visible rows in the DOM (textContent), which is what the tests read.
- Timings on this machine (2 busy cores): provider up in ~1 s, Streamlit in ~1.5 s; click "Sign in" → signed in
  ~2.3 s; "Sign out" → end-session page → signed out ~1.7 s. With the real app: sign in and the Weekly review drawn
  ~6 s, sign out ~2.5 s, the whole issue-16 flow ~45 s and every page as a KAM ~50 s (plus ~12-25 s of set-up: the
  demo loaded into a data directory of the module's own, provider and app started).
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
import tempfile
import time
import urllib.request
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from tests.test_browser import free_port

CLIENT_ID = "kam-health-tests"
CLIENT_SECRET = "not-a-secret"  # the provider accepts any


@dataclass(frozen=True)
class Provider:
    """A running provider: its base URL (http://127.0.0.1:PORT)."""

    url: str

    @property
    def metadata_url(self) -> str:
        return f"{self.url}/.well-known/openid-configuration"

    def set_user(self, sub: str, *, email: str | None = None, name: str | None = None,
                 email_verified: bool = True, **claims: object) -> None:
        """Store the claims the provider gives `sub` when it signs in (email defaults to sub)."""
        body = dict(claims, email=email or sub, email_verified=email_verified)
        if name is not None:
            body["name"] = name
        request = urllib.request.Request(
            f"{self.url}/users/{urllib.request.quote(sub, safe='')}", data=json.dumps(body).encode(),
            method="PUT", headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            assert response.status == 204, response.status


@contextmanager
def oidc_provider(timeout_s: float = 30) -> Iterator[Provider]:
    """Run `python -m oidc_provider_mock` on 127.0.0.1 and a free port until the block ends."""
    port = free_port()
    log = tempfile.TemporaryFile()  # a file, not a pipe: its request log never blocks it
    process = subprocess.Popen(
        [sys.executable, "-m", "oidc_provider_mock", "--host", "127.0.0.1", "--port", str(port)],
        env=dict(os.environ, NO_COLOR="1", PYTHONWARNINGS="ignore"), stdout=log, stderr=subprocess.STDOUT,
    )
    provider = Provider(f"http://127.0.0.1:{port}")
    try:
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                with urllib.request.urlopen(provider.metadata_url, timeout=2) as response:
                    if response.status == 200 and "authorization_endpoint" in json.load(response):
                        break
            except OSError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                log.seek(0)
                raise RuntimeError(f"oidc_provider_mock did not start:\n{log.read().decode(errors='replace')}")
            time.sleep(0.2)
        yield provider
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
        log.close()


def auth_secrets(provider: Provider, app_port: int) -> str:
    """The `[auth]` section of a Streamlit secrets.toml that signs in against `provider` (app on app_port)."""
    values = {
        "redirect_uri": f"http://127.0.0.1:{app_port}/oauth2callback",
        "cookie_secret": secrets.token_hex(32),
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
        "server_metadata_url": provider.metadata_url,
    }
    return "[auth]\n" + "".join(f"{key} = {json.dumps(value)}\n" for key, value in values.items())


def write_auth_secrets(path: Path, provider: Provider, app_port: int) -> Path:
    """Write the `[auth]` secrets (see auth_secrets) to `path`; returns it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(auth_secrets(provider, app_port), encoding="utf-8")
    return path


def block_external(context) -> None:
    """Abort a Playwright context's requests that leave 127.0.0.1 (the provider's CDN stylesheet)."""
    context.route(
        lambda url: url.startswith(("http://", "https://")) and not url.startswith("http://127.0.0.1:"),
        lambda route: route.abort(),
    )


def authorize(tab, sub: str, timeout_ms: float = 30_000) -> None:
    """On the provider's authorization page: sign in as `sub` (fill the field, click "Authorize")."""
    field = tab.locator('input[name="sub"]')
    field.wait_for(timeout=timeout_ms)
    field.fill(sub)
    tab.get_by_role("button", name="Authorize", exact=True).click()


def end_session(tab, timeout_ms: float = 30_000) -> None:
    """On the provider's end-session page (where st.logout() leads): click "End session"."""
    tab.get_by_role("button", name="End session", exact=True).click(timeout=timeout_ms)
