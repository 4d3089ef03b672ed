"""Runs Debian's OpenLDAP `slapd` on 127.0.0.1 for tests: its own configuration and database in a temporary
directory, loaded with an LDIF of people and groups (one nested in another, two in a loop), stopped afterwards.

The system slapd the Debian package may have set up is never touched: this one reads only `slapd.conf` here.
"""

from __future__ import annotations

import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

SUFFIX = "dc=berth,dc=test"
ADMIN_DN = f"cn=admin,{SUFFIX}"
ADMIN_PASSWORD = "directory-admin-secret"
PEOPLE = f"ou=people,{SUFFIX}"
GROUPS = f"ou=groups,{SUFFIX}"
# Every person's directory password.
PASSWORD = "Directory-Pass-42"


def person_dn(uid: str) -> str:
    return f"uid={uid},{PEOPLE}"


def group_dn(name: str) -> str:
    return f"cn={name},{GROUPS}"


# alice: developers (directly). bob: platform, nested in developers. carol: in nothing; disabled later by tests.
# ops-a and ops-b contain each other: group resolution must terminate. alice is also in admins.
def seed_ldif() -> str:
    people = {"alice": "Alice Liddell", "bob": "Bob Builder", "carol": "Carol Danvers", "dave": "Dave Lister"}
    entries = [
        f"dn: {SUFFIX}\nobjectClass: dcObject\nobjectClass: organization\ndc: berth\no: Berth tests",
        f"dn: {PEOPLE}\nobjectClass: organizationalUnit\nou: people",
        f"dn: {GROUPS}\nobjectClass: organizationalUnit\nou: groups",
    ]
    for uid, name in people.items():
        entries.append(
            f"dn: {person_dn(uid)}\nobjectClass: inetOrgPerson\nuid: {uid}\ncn: {name}\nsn: {name.split()[-1]}\n"
            f"mail: {uid}@berth.test\nuserPassword: {PASSWORD}"
        )
    groups = {
        "developers": [person_dn("alice"), group_dn("platform")],
        "platform": [person_dn("bob")],
        "admins": [person_dn("alice")],
        "ops-a": [group_dn("ops-b"), person_dn("dave")],
        "ops-b": [group_dn("ops-a")],
    }
    for name, members in groups.items():
        lines = "".join(f"member: {member}\n" for member in members)
        entries.append(f"dn: {group_dn(name)}\nobjectClass: groupOfNames\ncn: {name}\n{lines}".rstrip())
    return "\n\n".join(entries) + "\n"


SLAPD_CONF = """\
include /etc/ldap/schema/core.schema
include /etc/ldap/schema/cosine.schema
include /etc/ldap/schema/inetorgperson.schema
include /etc/ldap/schema/nis.schema
modulepath /usr/lib/ldap
moduleload back_mdb
pidfile {root}/slapd.pid
argsfile {root}/slapd.args
database mdb
maxsize 104857600
suffix "{suffix}"
rootdn "{admin_dn}"
rootpw {admin_password}
directory {root}/data
index objectClass eq
index uid eq
index member eq
access to attrs=userPassword by anonymous auth by self write by * none
access to * by * read
"""


@dataclass
class OpenLDAP:
    url: str
    root: Path
    # With TLS: the ldaps:// URL (the plain one offers StartTLS) and the PEM of the CA that signed the server.
    ldaps_url: str = ""
    ca_pem: str = ""

    def reseed(self) -> None:
        """Deletes every entry below the base and loads the seed again (tests that change the directory)."""
        subprocess.run(["ldapdelete", "-x", "-H", self.url, "-D", ADMIN_DN, "-w", ADMIN_PASSWORD, "-r", PEOPLE, GROUPS],
                       check=False, capture_output=True, timeout=30)
        below_base = seed_ldif().split("\n\n", 1)[1]
        subprocess.run(["ldapadd", "-x", "-H", self.url, "-D", ADMIN_DN, "-w", ADMIN_PASSWORD],
                       input=below_base.encode(), check=True, capture_output=True, timeout=30)

    def modify(self, ldif: str) -> None:
        """Applies an LDIF of changes as the directory's administrator (ldapmodify)."""
        subprocess.run(["ldapmodify", "-x", "-H", self.url, "-D", ADMIN_DN, "-w", ADMIN_PASSWORD],
                       input=ldif.encode(), check=True, capture_output=True, timeout=30)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_listening(port: int, process: subprocess.Popen[bytes], deadline: float) -> None:
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"slapd exited with {process.returncode}: {process.stderr.read().decode() if process.stderr else ''}")
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise RuntimeError("slapd did not start listening")


def _write_certificates(root: Path) -> tuple[str, str]:
    """A throw-away CA and a server certificate for 127.0.0.1 signed by it: (the CA's PEM, slapd.conf's TLS lines)."""
    import datetime
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = datetime.datetime.now(datetime.UTC)
    ca_key, server_key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Berth test directory CA")])
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name).public_key(ca_key.public_key())
          .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=5))
          .not_valid_after(now + datetime.timedelta(days=1))
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True).sign(ca_key, hashes.SHA256()))
    server = (x509.CertificateBuilder().subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
              .issuer_name(ca_name).public_key(server_key.public_key()).serial_number(x509.random_serial_number())
              .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=1))
              .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
              .sign(ca_key, hashes.SHA256()))
    pem = serialization.Encoding.PEM
    ca_pem = ca.public_bytes(pem).decode()
    (root / "ca.pem").write_text(ca_pem)
    (root / "server.pem").write_bytes(server.public_bytes(pem))
    (root / "server.key").write_bytes(server_key.private_bytes(pem, serialization.PrivateFormat.PKCS8,
                                                                serialization.NoEncryption()))
    lines = f"TLSCACertificateFile {root}/ca.pem\nTLSCertificateFile {root}/server.pem\nTLSCertificateKeyFile {root}/server.key\n"
    return ca_pem, lines


@contextmanager
def run_openldap(tls: bool = False) -> Iterator[OpenLDAP]:
    root = Path(tempfile.mkdtemp(prefix="berth-slapd-"))
    process: subprocess.Popen[bytes] | None = None
    try:
        (root / "data").mkdir()
        conf = root / "slapd.conf"
        ca_pem, tls_lines = _write_certificates(root) if tls else ("", "")
        conf.write_text(tls_lines + SLAPD_CONF.format(root=root, suffix=SUFFIX, admin_dn=ADMIN_DN,
                                                      admin_password=ADMIN_PASSWORD))
        (root / "seed.ldif").write_text(seed_ldif())
        subprocess.run(["slapadd", "-f", str(conf), "-l", str(root / "seed.ldif")], check=True,
                       capture_output=True, timeout=60)
        port, tls_port = _free_port(), _free_port()
        url = f"ldap://127.0.0.1:{port}"
        ldaps_url = f"ldaps://127.0.0.1:{tls_port}" if tls else ""
        # -d 0: stays in the foreground (so it is our child and dies with us) and logs nothing.
        process = subprocess.Popen(["slapd", "-f", str(conf), "-h", f"{url} {ldaps_url}".strip(), "-d", "0"],
                                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
        _wait_listening(port, process, time.monotonic() + 20)
        yield OpenLDAP(url=url, root=root, ldaps_url=ldaps_url, ca_pem=ca_pem)
    finally:
        if process is not None and process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        shutil.rmtree(root, ignore_errors=True)
