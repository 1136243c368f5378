"""E-mail for `kam digest`: one message (plain text and HTML with inline images, an attachment) and its delivery.

Delivery is all or nothing: every recipient is offered to the server (RCPT) before the message is (DATA); when
the server refuses any of them the transaction is reset and nobody gets it. Every failure (no connection, TLS,
login, a refused sender or recipient, a refused message) is a `MailError` quoting the server's answer. The
password is never part of a message.
"""

from __future__ import annotations

import re
import smtplib
import ssl
from dataclasses import dataclass
from email import policy
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Mapping, Sequence

from kam_metrics.settings import SmtpSettings

# A header value must stay one line of text: control characters (CR and LF among them) and bidi overrides
# become spaces, so text from the CRM cannot add headers or reverse what a reader sees.
_HEADER_UNSAFE = re.compile(r"[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]+")
# The plain-text body keeps its line breaks and tabs; other control characters (terminal escapes for a text
# mail reader) and bidi overrides go.
_BODY_UNSAFE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
_ADDRESS = re.compile(r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}$")
_ADDRESS_LOCAL = re.compile(r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@(localhost|\[[0-9.]+\])$")
MAX_SUBJECT_CHARS = 200


class MailError(Exception):
    """The e-mail could not be sent; the message says why, with the server's answer when there is one."""


@dataclass(frozen=True)
class Attachment:
    """A file attached to the message."""

    filename: str
    content: bytes
    mime_type: str  # e.g. "application/pdf"


def is_email_address(text: str) -> bool:
    """Whether `text` looks like a plain e-mail address (local@domain.tld, no display name)."""
    return bool(_ADDRESS.match(text) or _ADDRESS_LOCAL.match(text))


def header_text(value: str, max_chars: int = MAX_SUBJECT_CHARS) -> str:
    """Text made safe for a header: one line without control or bidi characters, length capped."""
    text = " ".join(_HEADER_UNSAFE.sub(" ", value).split())
    return text if len(text) <= max_chars else text[: max_chars - 1] + "…"


def body_text(value: str) -> str:
    """Text made safe for a text/plain body: line breaks and tabs kept, other control and bidi characters removed."""
    return _BODY_UNSAFE.sub("", value.replace("\r\n", "\n"))


def digest_message(sender: str, recipients: Sequence[str], subject: str, html: str, text: str,
                   images: Mapping[str, bytes], attachment: Attachment | None) -> EmailMessage:
    """The digest as one message: text and HTML alternatives, the HTML's cid: images inline, the attachment apart.

    The subject and the text are cleaned here (header_text, body_text); escaping CRM text in the HTML is the
    caller's job (the pack's)."""
    msg = EmailMessage(policy=policy.SMTP)
    msg["From"] = sender
    msg["To"] = ", ".join(recipients)
    msg["Subject"] = header_text(subject)
    msg["Date"] = formatdate(localtime=False, usegmt=True)
    msg["Message-ID"] = make_msgid(domain=sender.rpartition("@")[2] or None)
    msg.set_content(body_text(text))  # text/plain, the first alternative
    msg.add_alternative(html, subtype="html")
    html_part = msg.get_payload()[1]
    for key, png in images.items():
        html_part.add_related(png, maintype="image", subtype="png", cid=f"<{key}>", disposition="inline",
                              filename=f"{key}.png")
    if attachment is not None:
        maintype, _, subtype = attachment.mime_type.partition("/")
        msg.add_attachment(attachment.content, maintype=maintype, subtype=subtype, filename=attachment.filename)
    return msg


def _answer(code: int, message: bytes | str) -> str:
    text = message.decode("utf-8", "replace") if isinstance(message, bytes) else str(message)
    return f"{code} {' '.join(text.split())}"


def _tls_context(smtp: SmtpSettings) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=smtp.ca_file or None)


def send_message(msg: EmailMessage, smtp: SmtpSettings, recipients: Sequence[str], password: str | None) -> None:
    """Deliver `msg` to every recipient or to none (see the module docstring); raises MailError."""
    where = f"{smtp.host}:{smtp.port}"
    try:
        if smtp.security == "ssl":
            client: smtplib.SMTP = smtplib.SMTP_SSL(smtp.host, smtp.port, timeout=smtp.timeout_seconds,
                                                    context=_tls_context(smtp))
        else:
            client = smtplib.SMTP(smtp.host, smtp.port, timeout=smtp.timeout_seconds)
    except smtplib.SMTPConnectError as exc:
        raise MailError(f"SMTP server {where} refused the connection: {_answer(exc.smtp_code, exc.smtp_error)}") from None
    except ssl.SSLError as exc:
        raise MailError(f"TLS with SMTP server {where} failed: {exc}") from None
    except (OSError, smtplib.SMTPException) as exc:  # refused, unknown host, timeout
        raise MailError(f"cannot connect to SMTP server {where}: {exc}") from None
    try:
        _deliver(client, msg, smtp, recipients, password, where)
    except MailError:
        raise
    except smtplib.SMTPResponseException as exc:
        raise MailError(f"SMTP server {where} answered {_answer(exc.smtp_code, exc.smtp_error)}") from None
    except ssl.SSLError as exc:
        raise MailError(f"TLS with SMTP server {where} failed: {exc}") from None
    except (OSError, smtplib.SMTPException) as exc:  # e.g. the server hung up, a timeout
        raise MailError(f"SMTP server {where} failed: {exc}") from None
    finally:
        client.close()


def _deliver(client: smtplib.SMTP, msg: EmailMessage, smtp: SmtpSettings, recipients: Sequence[str],
             password: str | None, where: str) -> None:
    client.ehlo()
    if smtp.security == "starttls":
        if not client.has_extn("starttls"):
            raise MailError(f"SMTP server {where} does not offer STARTTLS (set smtp.security to \"ssl\" or, only on a "
                            f"trusted network, \"none\")")
        client.starttls(context=_tls_context(smtp))
        client.ehlo()
    if smtp.user:
        try:
            client.login(smtp.user, password or "")
        except smtplib.SMTPAuthenticationError as exc:
            raise MailError(f"SMTP server {where} refused the login of {smtp.user!r}: "
                            f"{_answer(exc.smtp_code, exc.smtp_error)}") from None
        except smtplib.SMTPNotSupportedError:
            raise MailError(f"SMTP server {where} offers no login (AUTH) on this connection; "
                            f"check smtp.security") from None
    code, answer = client.mail(smtp.from_address)
    if code != 250:
        _abandon(client)
        raise MailError(f"SMTP server {where} refused the sender {smtp.from_address}: {_answer(code, answer)}")
    refused = []
    for address in recipients:
        code, answer = client.rcpt(address)
        if code not in (250, 251):
            refused.append(f"{address}: {_answer(code, answer)}")
    if refused:
        _abandon(client)
        raise MailError(f"SMTP server {where} refused {'; '.join(refused)}. Nothing was sent to anyone.")
    code, answer = client.data(msg.as_bytes(policy=policy.SMTP))  # raises SMTPDataError unless 354 first
    if code != 250:
        _abandon(client)
        raise MailError(f"SMTP server {where} refused the message: {_answer(code, answer)}")
    try:
        client.quit()
    except (OSError, smtplib.SMTPException):
        pass  # the message is delivered; a lost goodbye changes nothing


def _abandon(client: smtplib.SMTP) -> None:
    """Reset the transaction and say goodbye, so the server holds nothing of it."""
    for step in (client.rset, client.quit):
        try:
            step()
        except (OSError, smtplib.SMTPException):
            return
