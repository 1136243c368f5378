"""A real SMTP server on 127.0.0.1 for the digest tests (aiosmtpd), recording what reaches it."""

from __future__ import annotations

import datetime
import ipaddress
import socket
import ssl
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword


def free_port() -> int:
    """A TCP port on 127.0.0.1 with nothing listening (at the time of asking)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Delivered:
    mail_from: str
    rcpt_tos: list[str]
    content: bytes


@dataclass
class RecordingHandler:
    """Accepts every message; refuses the recipients in `refuse` with 550 5.1.1 (the sender or the message when
    told to); records commands and the messages it accepted."""

    refuse: set[str] = field(default_factory=set)
    refuse_sender: bool = False
    refuse_data: bool = False
    delivered: list[Delivered] = field(default_factory=list)
    commands: list[str] = field(default_factory=list)

    async def handle_MAIL(self, server, session, envelope, address, mail_options):
        self.commands.append("MAIL")
        if self.refuse_sender:
            return "553 5.7.1 sender not allowed"
        envelope.mail_from = address
        return "250 OK"

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        self.commands.append(f"RCPT {address}")
        if address in self.refuse:
            return "550 5.1.1 no such user"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_RSET(self, server, session, envelope):
        self.commands.append("RSET")
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        self.commands.append("DATA")
        if self.refuse_data:
            return "554 5.6.0 message content rejected"
        self.delivered.append(Delivered(envelope.mail_from, list(envelope.rcpt_tos), envelope.content))
        return "250 Message accepted for delivery"


def password_checker(user: str, password: str):
    """An aiosmtpd authenticator that accepts only this user and password."""

    def check(server, session, envelope, mechanism, auth_data):
        ok = isinstance(auth_data, LoginPassword) and auth_data.login == user.encode() and \
            auth_data.password == password.encode()
        return AuthResult(success=ok, handled=False)  # handled=False: aiosmtpd answers 535 itself

    return check


def self_signed_certificate(folder: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 and localhost, signed by itself (it is its own CA): (cert.pem, key.pem)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost"),
                                                    x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


def server_tls_context(cert_path: Path, key_path: Path) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_path, key_path)
    return context


@contextmanager
def smtp_server(handler: RecordingHandler, **smtp_options) -> Iterator[int]:
    """An aiosmtpd server on 127.0.0.1 and a free port (yielded) while the block runs; options go to aiosmtpd."""
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port, **smtp_options)
    controller.start()
    try:
        yield port
    finally:
        controller.stop()
