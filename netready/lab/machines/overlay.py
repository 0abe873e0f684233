"""Write each machine's starting state into its overlay upper dir before it boots.

Files go straight into the upper dir; parent directories created there copy owner and mode from the
image (overlayfs shows the upper dir's attributes, so a root:root 0755 /etc/bind would break named).
"""

from __future__ import annotations

import datetime as dt
import os
import uuid
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from ..sysutil import write_private
from . import spec as S
from .image import Image


def _mkdirs(img: Image, upper: Path, rel: Path) -> None:
    for part in reversed(rel.parents):
        if str(part) == ".":
            continue
        target = upper / part
        if target.exists():
            continue
        lower = img.root / part
        target.mkdir()
        if lower.is_dir():
            st = lower.stat()
            os.chown(target, st.st_uid, st.st_gid)
            os.chmod(target, st.st_mode & 0o7777)


def put(img: Image, upper: Path, rel: str, data: str | bytes, mode: int | None = None,
        owner: str | None = None, group: str | None = None) -> None:
    """Write rel (relative to /) into upper; mode/owner default to the image's file of that name, else 0644 root."""
    r = Path(rel.lstrip("/"))
    _mkdirs(img, upper, r)
    target = upper / r
    target.unlink(missing_ok=True)
    lower = img.root / r
    uid = gid = 0
    m = 0o644
    if lower.is_file() and not lower.is_symlink():
        st = lower.stat()
        uid, gid, m = st.st_uid, st.st_gid, st.st_mode & 0o7777
    if owner:
        uid, gid = img.uid(owner)
    if group:
        gid = img.uid(group)[1]
    # created at its final mode and owner (a key never sits at 0644 for a moment, issue #15)
    write_private(target, data.encode() if isinstance(data, str) else data, mode if mode is not None else m, uid, gid)


def link(img: Image, upper: Path, rel: str, to: str) -> None:
    r = Path(rel.lstrip("/"))
    _mkdirs(img, upper, r)
    (upper / r).unlink(missing_ok=True)
    os.symlink(to, upper / r)


def self_signed(names: tuple[str, ...], now: dt.datetime | None = None) -> tuple[bytes, bytes]:
    """RSA 2048 self-signed certificate for names (first = CN), valid 365 days: (cert PEM, key PEM)."""
    now = now or dt.datetime.now(dt.UTC)
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0]),
                         x509.NameAttribute(NameOID.ORGANIZATION_NAME, "netready lab web1 (self-signed)")])
    cert = (
        x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(hours=1))
        .not_valid_after(now + dt.timedelta(days=365))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(n) for n in names]), critical=False)
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
                                serialization.NoEncryption())
    return cert.public_bytes(serialization.Encoding.PEM), key_pem


def prepare(img: Image, s: S.MachineSpec, upper: Path) -> str:
    """Fill a fresh upper dir for machine s; returns its machine-id (32 hex digits)."""
    upper.mkdir(parents=True, exist_ok=True)
    os.chmod(upper, 0o755)
    machine_id = uuid.uuid4().hex
    # A machine-id of its own, written (not left empty): an empty one means "first boot" -> preset-all,
    # which would re-enable every daemon of the image.
    put(img, upper, "etc/machine-id", machine_id + "\n", 0o444)
    put(img, upper, "etc/hostname", s.name + "\n")
    put(img, upper, "etc/hosts", S.hosts(s))
    put(img, upper, "etc/network/interfaces.d/host0", S.interfaces(s))
    wants = f"etc/systemd/system/multi-user.target.wants/{s.daemon}.service"
    link(img, upper, wants, f"/lib/systemd/system/{s.daemon}.service")
    if s.group == "web":
        cert, key = self_signed(S.PORTALS)
        put(img, upper, "etc/ssl/netready/portal.crt", cert, 0o644)
        put(img, upper, "etc/ssl/netready/portal.key", key, 0o600)
        put(img, upper, "etc/nginx/sites-available/default", S.NGINX_SITE % {"names": " ".join(S.PORTALS)})
        put(img, upper, "var/www/html/index.html", S.INDEX_HTML)
    elif s.group == "dns_bind":
        link(img, upper, "etc/systemd/system/bind9.service", "/lib/systemd/system/named.service")
        put(img, upper, "etc/bind/named.conf.options", S.NAMED_OPTIONS)
        put(img, upper, "etc/bind/named.conf.local", S.NAMED_LOCAL % {"zone": s.zone})
        put(img, upper, f"var/lib/bind/db.{s.zone}", S.zone_text(s, S.serial_now()), 0o644, "bind")
    elif s.group == "dns_knot":
        put(img, upper, "etc/knot/knot.conf", S.KNOT_CONF % {"zone": s.zone})
        put(img, upper, f"var/lib/knot/{s.zone}.zone", S.zone_text(s, S.serial_now()), 0o644, "knot")
    return machine_id
