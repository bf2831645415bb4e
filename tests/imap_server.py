"""A real Dovecot IMAP server on loopback, with its own configuration in a temporary folder
on a free port (as smtp_server.Sink is a real SMTP server). Any user name logs in with
PASSWORD and gets a Maildir of its own."""

import imaplib
import ipaddress
import os
import shutil
import subprocess
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from smtp_server import free_port

PASSWORD = "imap-secret"
CONFIG = """
protocols = imap
listen = 127.0.0.1
base_dir = {root}/run
state_dir = {root}/state
log_path = {root}/dovecot.log
ssl = yes
ssl_cert = <{root}/server.pem
ssl_key = <{root}/server.key
disable_plaintext_auth = no
auth_failure_delay = 0
auth_mechanisms = plain login
mail_location = maildir:{root}/mail/%u
passdb {{
  driver = static
  args = password={password}
}}
userdb {{
  driver = static
  args = uid={uid} gid={gid} home={root}/mail/%u
}}
service imap-login {{
  chroot =
  inet_listener imap {{
    port = {port}
  }}
  inet_listener imaps {{
    port = {tls_port}
  }}
}}
service anvil {{
  chroot =
  # No penalty for failed logins: the session's one server is shared by every test, and a
  # test's wrong password made the next test's login from 127.0.0.1 wait 4 s.
  unix_listener anvil-auth-penalty {{
    mode = 0
  }}
}}
protocol imap {{
  mail_max_userip_connections = 50
}}
"""


def unavailable():
    """Why no Dovecot can run here (None when it can)."""
    if not shutil.which("dovecot"):
        return ("Dovecot is not installed: `apt-get install -y dovecot-imapd` enables the "
                "IMAP tests (.ci/run does it)")
    if os.geteuid() != 0:
        return "the IMAP tests start Dovecot as root (it switches to its own users)"
    return None


class Dovecot:
    def __init__(self):
        # A short path: Dovecot's sockets live under base_dir (at most 108 characters).
        self.root = Path(tempfile.mkdtemp(prefix="dv"))
        self.root.chmod(0o755)  # the mail user must reach its Maildir below
        self.port, self.tls_port = free_port(), free_port()
        (self.root / "mail").mkdir()
        shutil.chown(self.root / "mail", "nobody", "nogroup")
        self.ca_file = self.root / "ca.pem"
        _certificates(self.root)
        (self.root / "dovecot.conf").write_text(CONFIG.format(
            root=self.root, password=PASSWORD, port=self.port, tls_port=self.tls_port,
            uid="nobody", gid="nogroup"))

    def start(self):
        subprocess.run(["dovecot", "-c", str(self.root / "dovecot.conf")], check=True)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                imaplib.IMAP4("127.0.0.1", self.port, timeout=1).logout()
                return self
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("Dovecot did not start: " + self.log())

    def stop(self):
        subprocess.run(["doveadm", "-c", str(self.root / "dovecot.conf"), "stop"],
                       capture_output=True)
        shutil.rmtree(self.root, ignore_errors=True)

    def log(self):
        path = self.root / "dovecot.log"
        return path.read_text() if path.exists() else ""

    def settings(self, user, security="none"):
        """The app's BOUNCE_IMAP_* settings for one mailbox (ssl: on the IMAPS port; its
        certificate is signed by ca_file, which the client must trust)."""
        return {"BOUNCE_IMAP_HOST": "127.0.0.1", "BOUNCE_IMAP_SECURITY": security,
                "BOUNCE_IMAP_PORT": self.tls_port if security == "ssl" else self.port,
                "BOUNCE_IMAP_USER": user, "BOUNCE_IMAP_PASSWORD": PASSWORD}

    def connect(self, user):
        imap = imaplib.IMAP4("127.0.0.1", self.port)
        imap.login(user, PASSWORD)
        return imap

    def append(self, user, *mails):
        imap = self.connect(user)
        for raw in mails:
            status, _ = imap.append("INBOX", None, None, raw)
            assert status == "OK"
        imap.logout()

    def counts(self, user):
        """{folder: number of messages} of the mailbox (deleted ones included)."""
        imap = self.connect(user)
        counts = {}
        for folder in ("INBOX", "Processed", "Unrecognised"):
            status, data = imap.select(f'"{folder}"', readonly=True)
            counts[folder] = int(data[0]) if status == "OK" else None
        imap.logout()
        return counts


def _certificates(root):
    """A test CA and a server certificate for 127.0.0.1 signed by it (PEM files in root)."""
    now = datetime.now(UTC)

    def build(subject, issuer, public_key, signing_key, ca):
        builder = (x509.CertificateBuilder().subject_name(subject).issuer_name(issuer)
                   .public_key(public_key).serial_number(x509.random_serial_number())
                   .not_valid_before(now - timedelta(days=1))
                   .not_valid_after(now + timedelta(days=30))
                   .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
        if not ca:
            builder = builder.add_extension(x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
        return builder.sign(signing_key, hashes.SHA256())

    ca_key, server_key = (ec.generate_private_key(ec.SECP256R1()) for _ in range(2))
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Test CA")])
    ca = build(ca_name, ca_name, ca_key.public_key(), ca_key, True)
    server = build(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]),
                   ca_name, server_key.public_key(), ca_key, False)
    (root / "ca.pem").write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    (root / "server.pem").write_bytes(server.public_bytes(serialization.Encoding.PEM))
    (root / "server.key").write_bytes(server_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()))
