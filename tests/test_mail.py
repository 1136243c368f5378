"""The digest's e-mail (kam_metrics/mail.py) against a real SMTP server on 127.0.0.1 (aiosmtpd).

The message parsed back: text and HTML alternatives, every cid: image inline, the attachment, the headers and
the envelope. Delivery is all or nothing (a refused recipient: no DATA at all), and every failure (no server,
bad login, TLS) is a MailError with the server's answer.
"""

from __future__ import annotations

import email
import re
import socket
import time
from email import policy

import pytest

from kam_metrics.mail import (
    Attachment, MailError, body_text, digest_message, header_text, is_email_address, send_message,
)
from kam_metrics.settings import SmtpSettings
from tests.smtp_server import (
    RecordingHandler, free_port, password_checker, self_signed_certificate, server_tls_context, smtp_server,
)
from tests.test_hostile_text import CONTROL, HOSTILE_NAME, RLO, SCRIPT

SENDER = "kam@example.com"
# Two tiny distinct "PNGs" (the bytes are what matters here, not the picture).
IMAGES = {"bands": b"\x89PNG\r\n\x1a\nbands-image", "movers": b"\x89PNG\r\n\x1a\nmovers-image\x00\xff"}
HTML = ('<html><body><h1>KAM weekly pack</h1><p>Health bands</p><img src="cid:bands" alt="bands">'
        '<p>Movers</p><img src="cid:movers" alt="movers"></body></html>')
TEXT = "KAM weekly pack\n\nHealth bands: 10 green, 5 amber, 2 red\n"
PDF = Attachment("kam-weekly-pack-2026-11-20.pdf", b"%PDF-1.7\n" + bytes(range(256)) * 40 + b"\n%%EOF\n",
                 "application/pdf")


def _settings(port: int, **changes) -> SmtpSettings:
    values = dict(host="127.0.0.1", port=port, from_address=SENDER, security="none", timeout_seconds=10)
    return SmtpSettings(**(values | changes))


def _message(recipients, subject="KAM weekly pack 2026-11-20", html=HTML, text=TEXT, images=IMAGES, attachment=PDF):
    return digest_message(SENDER, recipients, subject, html, text, images, attachment)


def _lines(text: str) -> str:
    """Text as read back from the wire (CRLF line ends) with Python's line ends."""
    return text.replace("\r\n", "\n")


def _parts(msg):
    """The message's leaf parts by content type (a list per type)."""
    found: dict[str, list] = {}
    for part in msg.walk():
        if not part.is_multipart():
            found.setdefault(part.get_content_type(), []).append(part)
    return found


def test_the_digest_reaches_the_server_with_its_parts_images_attachment_and_recipients():
    handler = RecordingHandler()
    recipients = ["lead@example.com", "kam.one@example.org"]
    with smtp_server(handler) as port:
        send_message(_message(recipients), _settings(port), recipients, password=None)
    assert len(handler.delivered) == 1
    delivered = handler.delivered[0]
    assert delivered.mail_from == SENDER and delivered.rcpt_tos == recipients

    msg = email.message_from_bytes(delivered.content, policy=policy.default)
    assert msg["From"] == SENDER and msg["Subject"] == "KAM weekly pack 2026-11-20"
    assert [a.strip() for a in msg["To"].split(",")] == recipients
    assert msg.get_content_type() == "multipart/mixed"
    alternative = msg.get_payload()[0]
    assert alternative.get_content_type() == "multipart/alternative"
    # text first, then the HTML with its images (the richest last, as mail clients expect)
    assert [p.get_content_type() for p in alternative.get_payload()] == ["text/plain", "multipart/related"]
    assert _lines(msg.get_body(preferencelist=("plain",)).get_content()) == TEXT
    assert _lines(msg.get_body(preferencelist=("html",)).get_content()).strip() == HTML

    # every cid: of the HTML is an inline image/png part with that Content-ID and those bytes
    cids = re.findall(r'src="cid:([^"]+)"', HTML)
    inline = {p["Content-ID"].strip("<>"): p for p in _parts(msg).get("image/png", [])}
    assert sorted(inline) == sorted(cids) == sorted(IMAGES)
    for key, part in inline.items():
        assert part.get_content_disposition() == "inline"
        assert part.get_content() == IMAGES[key]
        assert part in alternative.get_payload()[1].get_payload()  # inside multipart/related, beside the HTML

    attachments = list(msg.iter_attachments())
    assert len(attachments) == 1
    assert attachments[0].get_filename() == PDF.filename
    assert attachments[0].get_content_type() == "application/pdf"
    assert attachments[0].get_content_disposition() == "attachment"
    assert attachments[0].get_content() == PDF.content


def test_no_attachment_means_text_and_html_only():
    msg = _message(["a@example.com"], attachment=None)
    assert msg.get_content_type() == "multipart/alternative"
    assert list(msg.iter_attachments()) == []
    assert set(_parts(msg)) == {"text/plain", "text/html", "image/png"}


def test_one_refused_recipient_sends_nothing_to_anyone():
    handler = RecordingHandler(refuse={"gone@example.com"})
    recipients = ["lead@example.com", "gone@example.com"]
    with smtp_server(handler) as port:
        with pytest.raises(MailError) as err:
            send_message(_message(recipients), _settings(port), recipients, password=None)
    assert "gone@example.com" in str(err.value) and "550 5.1.1 no such user" in str(err.value)
    assert "lead@example.com:" not in str(err.value)  # only the refused address is named as refused
    assert handler.delivered == []
    assert "DATA" not in handler.commands  # the message was never offered
    # every recipient was asked before anything was sent, then the transaction was reset
    assert handler.commands == ["MAIL", "RCPT lead@example.com", "RCPT gone@example.com", "RSET"]


def test_a_refused_connection_is_a_clear_error_naming_host_and_port():
    port = free_port()  # nothing listens there
    with pytest.raises(MailError) as err:
        send_message(_message(["a@example.com"]), _settings(port), ["a@example.com"], password=None)
    assert f"cannot connect to SMTP server 127.0.0.1:{port}" in str(err.value)
    assert "refused" in str(err.value).lower()


def test_a_refused_sender_or_message_quotes_the_server():
    handler = RecordingHandler(refuse_sender=True)
    with smtp_server(handler) as port:
        with pytest.raises(MailError) as err:
            send_message(_message(["a@example.com"]), _settings(port), ["a@example.com"], password=None)
    assert f"refused the sender {SENDER}: 553 5.7.1 sender not allowed" in str(err.value)
    assert "RCPT a@example.com" not in handler.commands and "DATA" not in handler.commands

    handler = RecordingHandler(refuse_data=True)
    with smtp_server(handler) as port:
        with pytest.raises(MailError) as err:
            send_message(_message(["a@example.com"]), _settings(port), ["a@example.com"], password=None)
    assert "554 5.6.0 message content rejected" in str(err.value) and handler.delivered == []


def test_a_server_that_never_answers_times_out_with_a_clear_error():
    with socket.socket() as silent:  # accepts the connection (the kernel does) but never greets
        silent.bind(("127.0.0.1", 0))
        silent.listen(1)
        port = silent.getsockname()[1]
        started = time.monotonic()
        with pytest.raises(MailError) as err:
            send_message(_message(["a@example.com"]), _settings(port, timeout_seconds=0.5), ["a@example.com"], None)
    assert time.monotonic() - started < 5
    assert f"cannot connect to SMTP server 127.0.0.1:{port}" in str(err.value) and "timed out" in str(err.value)


def test_a_bad_login_quotes_the_servers_535_and_never_the_password():
    handler = RecordingHandler()
    with smtp_server(handler, authenticator=password_checker("kam", "right horse"), auth_require_tls=False) as port:
        with pytest.raises(MailError) as err:
            send_message(_message(["a@example.com"]), _settings(port, user="kam"), ["a@example.com"],
                         password="wrong battery")
        assert "535" in str(err.value) and "'kam'" in str(err.value)
        assert "wrong battery" not in str(err.value)
        assert handler.delivered == []
        send_message(_message(["a@example.com"]), _settings(port, user="kam"), ["a@example.com"],
                     password="right horse")
    assert [d.rcpt_tos for d in handler.delivered] == [["a@example.com"]]


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
def test_a_server_that_requires_login_refuses_a_digest_without_one():
    handler = RecordingHandler()
    with smtp_server(handler, authenticator=password_checker("kam", "pw"), auth_require_tls=False,
                     auth_required=True) as port:
        with pytest.raises(MailError) as err:
            send_message(_message(["a@example.com"]), _settings(port), ["a@example.com"], password=None)
    assert "530" in str(err.value) and handler.delivered == []


def test_starttls_with_a_trusted_certificate_delivers_and_an_untrusted_one_fails(tmp_path):
    cert, key = self_signed_certificate(tmp_path)
    handler = RecordingHandler()
    with smtp_server(handler, tls_context=server_tls_context(cert, key), require_starttls=True,
                     authenticator=password_checker("kam", "pw")) as port:
        trusted = _settings(port, security="starttls", ca_file=str(cert), user="kam")
        send_message(_message(["a@example.com"]), trusted, ["a@example.com"], password="pw")
        assert len(handler.delivered) == 1
        # the system's CAs do not know this certificate: the TLS handshake fails, nothing is sent
        with pytest.raises(MailError) as err:
            send_message(_message(["a@example.com"]), _settings(port, security="starttls"), ["a@example.com"], None)
        assert f"TLS with SMTP server 127.0.0.1:{port} failed" in str(err.value)
        assert "CERTIFICATE_VERIFY_FAILED" in str(err.value)
        # without TLS this server refuses the transaction (it requires STARTTLS first)
        with pytest.raises(MailError) as err:
            send_message(_message(["a@example.com"]), _settings(port), ["a@example.com"], None)
        assert "530" in str(err.value)
    assert len(handler.delivered) == 1


def test_starttls_is_refused_when_the_server_does_not_offer_it():
    handler = RecordingHandler()
    with smtp_server(handler) as port:
        with pytest.raises(MailError) as err:
            send_message(_message(["a@example.com"]), _settings(port, security="starttls"), ["a@example.com"], None)
    assert "does not offer STARTTLS" in str(err.value) and handler.delivered == []


def test_implicit_tls_ssl_delivers(tmp_path):
    cert, key = self_signed_certificate(tmp_path)
    handler = RecordingHandler()
    with smtp_server(handler, ssl_context=server_tls_context(cert, key)) as port:
        send_message(_message(["a@example.com"]), _settings(port, security="ssl", ca_file=str(cert)),
                     ["a@example.com"], None)
    assert [d.rcpt_tos for d in handler.delivered] == [["a@example.com"]]


def test_hostile_text_stays_inert_in_the_headers_and_is_plain_text_in_the_text_part():
    hostile_subject = f"KAM pack {HOSTILE_NAME}\r\nBcc: victim@evil.invalid\nX-Injected: yes {CONTROL}"
    text = f"Needs attention: {HOSTILE_NAME}\n{SCRIPT}\t{CONTROL}\n"
    handler = RecordingHandler()
    with smtp_server(handler) as port:
        send_message(_message(["a@example.com"], subject=hostile_subject, text=text), _settings(port),
                     ["a@example.com"], None)
    raw = handler.delivered[0].content
    msg = email.message_from_bytes(raw, policy=policy.default)
    assert msg["Bcc"] is None and msg["X-Injected"] is None  # no header was added by the text
    assert handler.delivered[0].rcpt_tos == ["a@example.com"]
    subject = msg["Subject"]
    assert "\n" not in subject and "\r" not in subject and RLO not in subject and "\x1b" not in subject
    assert subject.startswith("KAM pack Hostile <b>bold</b>")  # shown as the literal text it is
    assert "Bcc: victim@evil.invalid" in subject  # kept as words of the one subject line
    plain = msg.get_body(preferencelist=("plain",))
    assert plain.get_content_type() == "text/plain"
    # the text as text: markup kept literally, line breaks and tabs kept; control and bidi characters removed
    assert _lines(plain.get_content()) == text.replace(RLO, "").replace("\x07\x08\x0b\x1b", "").replace("\x7f", "")


def test_header_and_body_text_and_address_check():
    assert header_text("a\r\nb\x1b[31m c\u202ed") == "a b [31m c d"
    assert len(header_text("x" * 500)) == 200
    assert body_text("a\r\nb\tc\x1b[31m\u202ed\x00\n") == "a\nb\tc[31md\n"
    assert is_email_address("kam.lead+weekly@example.co.uk") and is_email_address("root@localhost")
    for bad in ("lead", "lead@", "@example.com", "a b@example.com", "a@example", "Lead <a@example.com>",
                "a@example.com\r\nBcc: x@evil.invalid", "a,b@example.com"):
        assert not is_email_address(bad), bad
