"""`kam digest` end to end: the demo's weekly pack e-mailed to a real SMTP server on 127.0.0.1 (aiosmtpd).

The expected subject, text, file names and as_of come from the pack's own functions (kam_metrics.pack) on the
same data; the message is parsed back from what the server received. Every problem found before sending (a bad
address, missing settings, no Chromium for a PDF) exits 2 without contacting the server; a delivery failure
exits 1 with the server's answer, and nobody gets the message.
"""

from __future__ import annotations

import email
import io
import re
from email import policy
from pathlib import Path

import polars as pl
import pytest

from kam_metrics.cli import main
from kam_metrics.filters import Filters
from kam_metrics.settings import Settings
from tests.smtp_server import RecordingHandler, free_port, smtp_server
from tests.test_hostile_text import BOLD, HOSTILE_NAME, HOSTILE_OWNER, IMG, RLO, SCRIPT, SVG, hostile  # noqa: F401

SENDER = "kam-health@example.com"


def _config(tmp_path: Path, smtp_lines: str = "") -> Path:
    """A settings file whose [smtp] points nowhere useful (the tests pass --smtp-host/--smtp-port)."""
    path = tmp_path / "kam.toml"
    path.write_text(f'[smtp]\nhost = "smtp.invalid"\nport = 2525\nsecurity = "none"\ntimeout_seconds = 10\n'
                    f'{smtp_lines}\n')
    return path


def _digest(data_dir: Path, config: Path, port: int, *args: str) -> int:
    return main(["--data-dir", str(data_dir), "--config", str(config), "digest", "--smtp-host", "127.0.0.1",
                 "--smtp-port", str(port), *args])


def _pack(data_dir: Path, **filters):
    from kam_metrics.pack import build_pack_for

    return build_pack_for(data_dir, Settings(), filters=Filters(**filters))


def _lines(text: str) -> str:
    return text.replace("\r\n", "\n")


def test_bad_addresses_and_missing_settings_exit_2_before_any_connection(tmp_path, capsys, monkeypatch):
    handler = RecordingHandler()
    with smtp_server(handler) as port:
        with_from = _config(tmp_path, f'from = "{SENDER}"')
        assert _digest(tmp_path / "no-data", with_from, port, "--to", "lead@example.com,not-an-address") == 2
        assert "--to: not an e-mail address: 'not-an-address'" in capsys.readouterr().err

        without_from = _config(tmp_path)
        assert _digest(tmp_path / "no-data", without_from, port, "--to", "lead@example.com") == 2
        assert "set `from` in the [smtp] section" in capsys.readouterr().err

        monkeypatch.delenv("KAM_TEST_MAIL_PW", raising=False)
        with_user = _config(tmp_path, f'from = "{SENDER}"\nuser = "kam"\npassword_env = "KAM_TEST_MAIL_PW"')
        assert _digest(tmp_path / "no-data", with_user, port, "--to", "lead@example.com") == 2
        err = capsys.readouterr().err
        assert "KAM_TEST_MAIL_PW" in err and "smtp.password_env" in err

        with_ca = _config(tmp_path, f'from = "{SENDER}"\nca_file = "{tmp_path / "missing-ca.pem"}"')
        assert _digest(tmp_path / "no-data", with_ca, port, "--to", "lead@example.com") == 2
        assert "setting 'smtp.ca_file': no such file" in capsys.readouterr().err
    assert handler.commands == [] and handler.delivered == []


@pytest.mark.browser
def test_the_demo_digest_arrives_with_cover_text_inline_charts_and_the_html_pack(demo_data_dir, tmp_path, capsys):
    from kam_metrics.pack import cover_email, pack_file_name

    handler = RecordingHandler()
    config = _config(tmp_path, f'from = "{SENDER}"')
    with smtp_server(handler) as port:
        code = _digest(demo_data_dir, config, port, "--to", "lead@example.com, kam.one@example.org",
                       "--to", "lead@example.com", "--to", "ops@example.net", "--attach", "html")
    out = capsys.readouterr().out
    assert code == 0
    recipients = ["lead@example.com", "kam.one@example.org", "ops@example.net"]  # each once, in order
    pack = _pack(demo_data_dir)
    expected = cover_email(pack)

    assert len(handler.delivered) == 1
    delivered = handler.delivered[0]
    assert delivered.mail_from == SENDER and delivered.rcpt_tos == recipients
    msg = email.message_from_bytes(delivered.content, policy=policy.default)
    assert msg["Subject"] == expected.subject and pack.as_of.isoformat() in msg["Subject"]
    assert [a.strip() for a in msg["To"].split(",")] == recipients and msg["From"] == SENDER

    assert _lines(msg.get_body(preferencelist=("plain",)).get_content()) == expected.text
    html = _lines(msg.get_body(preferencelist=("html",)).get_content())
    assert f"as of {pack.as_of.isoformat()}" in html
    cids = set(re.findall(r'src="cid:([^"]+)"', html))
    inline = {p["Content-ID"].strip("<>"): p.get_content() for p in msg.walk()
              if p.get_content_type() == "image/png" and p.get_content_disposition() == "inline"}
    assert cids and cids == set(inline) == set(expected.images)  # every chart drawn is inline and referenced
    assert all(png.startswith(b"\x89PNG\r\n\x1a\n") and len(png) > 1000 for png in inline.values())

    (attachment,) = list(msg.iter_attachments())
    assert attachment.get_filename() == pack_file_name(pack, "html")
    assert attachment.get_content_type() == "text/html"
    pack_html = attachment.get_content()
    assert f"as of {pack.as_of.isoformat()}" in pack_html and "<script" not in pack_html.lower()
    assert len(pack.accounts) > 0 and all(f'data-account-id="{a.account_id}"' in pack_html for a in pack.accounts)
    size_kb = max(1, round(len(attachment.get_payload(decode=True)) / 1024))  # the file's bytes as sent
    assert out.strip() == (f"Sent '{expected.subject}' to {', '.join(recipients)} "
                           f"(attachment {pack_file_name(pack, 'html')}, {size_kb} KB)")


@pytest.mark.browser
def test_a_kam_owners_digest_attaches_their_pdf_on_letter_paper(demo_data_dir, demo_export_dir, tmp_path, capsys):
    from pypdf import PdfReader

    from kam_metrics.pack import pack_file_name

    accounts = pl.read_csv(demo_export_dir / "accounts.csv", infer_schema=False)
    owner = accounts.filter(pl.col("is_key_account") == "true")["kam_owner"].drop_nulls()[0]
    handler = RecordingHandler()
    with smtp_server(handler) as port:
        code = _digest(demo_data_dir, _config(tmp_path, f'from = "{SENDER}"'), port, "--to", "kam@example.com",
                       "--kam-owner", owner, "--paper", "letter", "--subject", "Your accounts this week")
    assert code == 0, capsys.readouterr().err
    pack = _pack(demo_data_dir, kam_owners=(owner,))
    msg = email.message_from_bytes(handler.delivered[0].content, policy=policy.default)
    assert msg["Subject"] == "Your accounts this week"
    (attachment,) = list(msg.iter_attachments())
    assert attachment.get_filename() == pack_file_name(pack, "pdf") and attachment.get_content_type() == "application/pdf"
    reader = PdfReader(io.BytesIO(attachment.get_content()))
    page_count = len(reader.pages)
    assert page_count >= 1 + len(pack.accounts)  # the cover, then one page per key account of this owner
    for page in reader.pages:
        assert (round(float(page.mediabox.width)), round(float(page.mediabox.height))) == (612, 792)  # Letter
        assert f"as of {pack.as_of.isoformat()}" in page.extract_text()
    others = accounts.filter((pl.col("is_key_account") == "true") & (pl.col("kam_owner") != owner))
    text = "".join(page.extract_text() for page in reader.pages)
    assert all(a.account_name in text for a in pack.accounts)
    assert not any(name in text for name in others["account_name"].to_list())  # only this owner's accounts


def test_delivery_failures_exit_1_with_the_servers_answer_and_send_nothing(demo_data_dir, tmp_path, capsys):
    config = _config(tmp_path, f'from = "{SENDER}"')
    port = free_port()  # nothing listens there
    assert _digest(demo_data_dir, config, port, "--to", "lead@example.com", "--attach", "none") == 1
    assert f"kam: error: cannot connect to SMTP server 127.0.0.1:{port}" in capsys.readouterr().err

    handler = RecordingHandler(refuse={"left@example.com"})
    with smtp_server(handler) as port:
        assert _digest(demo_data_dir, config, port, "--to", "lead@example.com,left@example.com",
                       "--attach", "none") == 1
    err = capsys.readouterr().err
    assert "kam: error:" in err and "left@example.com: 550 5.1.1 no such user" in err
    assert handler.delivered == [] and "DATA" not in handler.commands


def test_a_pdf_digest_without_chromium_exits_2_and_sends_nothing(demo_data_dir, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("KAM_CHROMIUM", str(tmp_path / "no-chromium-here"))
    handler = RecordingHandler()
    with smtp_server(handler) as port:
        code = _digest(demo_data_dir, _config(tmp_path, f'from = "{SENDER}"'), port, "--to", "lead@example.com")
    err = capsys.readouterr().err
    assert code == 2
    assert "chromium" in err.lower() and "--attach html" in err and "nothing was sent" in err
    assert handler.commands == []  # the server was never asked anything


def test_hostile_crm_text_stays_inert_in_the_digest(hostile, tmp_path, capsys):
    data_dir, _names = hostile
    handler = RecordingHandler()
    with smtp_server(handler) as port:
        code = _digest(data_dir, _config(tmp_path, f'from = "{SENDER}"'), port, "--to", "lead@example.com",
                       "--kam-owner", HOSTILE_OWNER, "--attach", "html")
    assert code == 0, capsys.readouterr().err
    raw = handler.delivered[0].content
    msg = email.message_from_bytes(raw, policy=policy.default)
    # The owner's name is in the subject as one line of text: no control or bidi characters, no extra header.
    subject = msg["Subject"]
    assert "<b>owner</b>" in subject and not re.search(r"[\x00-\x1f\x7f\u202a-\u202e]", subject)
    assert set(k.lower() for k in msg.keys()) <= {"from", "to", "subject", "date", "message-id", "mime-version",
                                                  "content-type", "content-transfer-encoding"}
    # The champion-left account (the hostile name) is on this owner's cover: literal text in the text part, ...
    text = _lines(msg.get_body(preferencelist=("plain",)).get_content())
    assert msg.get_body(preferencelist=("plain",)).get_content_type() == "text/plain"
    assert f"Hostile {BOLD} {IMG}" in text  # (the pack shortens the name there)
    assert RLO not in text and "\x07" not in text  # the owner's RLO and BEL are gone
    # ... and escaped, never markup, in the HTML part and the attached pack.
    for html in (_lines(msg.get_body(preferencelist=("html",)).get_content()),
                 next(msg.iter_attachments()).get_content()):
        assert "Hostile &lt;b&gt;bold&lt;/b&gt; &lt;img src=x onerror=" in html
        for payload in (IMG, SCRIPT, SVG, BOLD, HOSTILE_NAME):
            assert payload not in html
