"""The remediation playbooks on real lab machines (systemd-nspawn Debian hosts), through remediate():
check mode changes nothing, broken inputs are refused before any reload and the services keep
answering, the full remediation turns the failing verdicts into passes, the DS exported is the DS the
DNSSEC probe finds at the parent, and a second run changes nothing."""

from __future__ import annotations

import datetime as dt
import hashlib
import socket
import ssl
import subprocess
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from netready.remediate import EXIT_HOST_FAILED, EXIT_OK, EXIT_STILL_FAILING, remediate

from .state import machine_state as _state

BIND_ZONE, KNOT_ZONE = "machine-bind.gov.vn", "machine-knot.gov.vn"
PORTALS = [f"dichvucong.{BIND_ZONE}", f"dichvucong.{KNOT_ZONE}"]
GATED = ("VN-IPV6-WEB", "VN-DNSSEC", "VN-TLS-CA", "VN-HTTPS-FORCED", "VN-HTTPS", "VN-TLS12", "VN-TLS-KEY2048")

def _verdicts(report, rule: str) -> set[str]:
    return {f.verdict for f in report.findings if f.rule_id == rule and f.target in PORTALS}


def _served_cert_sha256(address: str, name: str) -> str:
    ctx = ssl.create_default_context()
    ctx.check_hostname, ctx.verify_mode = False, ssl.CERT_NONE
    with socket.create_connection((address, 443), timeout=5) as sock, \
            ctx.wrap_socket(sock, server_hostname=name) as tls:
        return hashlib.sha256(tls.getpeercert(binary_form=True)).hexdigest()


def _soa_serial(server: str, zone: str) -> str:
    out = subprocess.run(["dig", "+short", "+time=2", "+tries=1", f"@{server}", zone, "SOA"], capture_output=True,
                         text=True, timeout=10).stdout.split()
    return out[2] if len(out) > 2 else ""


def test_check_mode_changes_nothing(fresh_machines, lab_inv, lab_settings):
    before = _state(fresh_machines)
    r = remediate("all", lab_inv, check=True, settings=lab_settings)
    assert r.exit_code() == EXIT_STILL_FAILING, r.stdout[-3000:]  # a real run is needed
    assert {h: s.failed + s.unreachable for h, s in r.hosts.items()} == {"web1": 0, "bind1": 0, "knot1": 0}
    assert all(r.hosts[h].changed > 0 for h in ("web1", "bind1", "knot1"))  # it would change things...
    assert _state(fresh_machines) == before  # ...and changed none of them
    assert r.after is None and r.before is not None
    for rule in ("VN-IPV6-WEB", "VN-DNSSEC", "VN-TLS-CA", "VN-HTTPS-FORCED"):
        assert "pass" not in _verdicts(r.before, rule), rule


def test_broken_zone_file_is_refused_and_named_keeps_serving(fresh_machines, lab_inv, tmp_path):
    m = fresh_machines["bind1"]
    broken = tmp_path / "db.broken"
    broken.write_text("$TTL 300\n@ SOA ns1 hostmaster 1 3600 600 86400 300\n@ NS ns1\nns1 A 198.51.100.999\n")
    conf = m.run(["sh", "-c", "md5sum /etc/bind/named.conf*; rndc zonestatus " + BIND_ZONE]).stdout
    serial = _soa_serial(m.ipv4, BIND_ZONE)
    assert serial
    r = remediate("dnssec", lab_inv, limit="bind1", extravars={"dnssec_zones": [
        {"name": BIND_ZONE, "file": f"/var/lib/bind/db.{BIND_ZONE}", "src": str(broken)}]})
    assert r.exit_code() == EXIT_HOST_FAILED and r.failed_hosts == ["bind1"]
    failed = [e for e in r.events if e.status == "failed"]
    assert failed and "zone file" in failed[0].task.lower()
    assert m.run(["sh", "-c", "md5sum /etc/bind/named.conf*; rndc zonestatus " + BIND_ZONE]).stdout == conf
    assert _soa_serial(m.ipv4, BIND_ZONE) == serial  # still answering, same data


def _mismatched_pair(ca_dir: Path, out: Path, names: list[str]) -> tuple[Path, Path]:
    """A certificate from the lab CA for names, and a private key that is not its key."""
    issuer_cert = x509.load_pem_x509_certificate((ca_dir / "intermediate.pem").read_bytes())
    issuer_key = serialization.load_pem_private_key((ca_dir / "intermediate.key").read_bytes(), None)
    key, other = (rsa.generate_private_key(public_exponent=65537, key_size=2048) for _ in range(2))
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])]))
            .issuer_name(issuer_cert.subject).public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(hours=1)).not_valid_after(now + dt.timedelta(days=60))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(n) for n in names]), critical=False)
            .sign(issuer_key, hashes.SHA256()))
    (out / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (out / "other.key").write_bytes(other.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                        serialization.NoEncryption()))
    return out / "cert.pem", out / "other.key"


def test_certificate_with_wrong_key_is_refused_and_nginx_keeps_serving(lab, fresh_machines, lab_inv, tmp_path):
    web = fresh_machines["web1"]
    cert, key = _mismatched_pair(Path(lab.ca_bundle).parent, tmp_path, PORTALS)
    served = _served_cert_sha256(web.ipv4, PORTALS[0])
    look = ["sh", "-c", "ls -l /etc/nginx/conf.d /etc/ssl/netready; md5sum /etc/nginx/sites-available/*"]
    site = web.run(look).stdout
    r = remediate("tls", lab_inv, extravars={"tls_source": "supplied", "tls_supplied_cert": str(cert),
                                             "tls_supplied_key": str(key), "tls_supplied_chain": ""})
    assert r.exit_code() == EXIT_HOST_FAILED and r.failed_hosts == ["web1"]
    failed = [e for e in r.events if e.status == "failed"]
    assert "private key does not match the certificate" in failed[0].message
    assert "PRIVATE KEY" not in r.stdout  # the key never shows in the log
    assert web.run(look).stdout == site
    assert _served_cert_sha256(web.ipv4, PORTALS[0]) == served


def _submit_ds(work: Path):
    """The registrar's step, in the lab: hand the exported DS files to the lab's gov.vn."""
    from netready.lab.machines import submit_exported_ds

    def submit() -> None:
        assert sorted(submit_exported_ds(work / "ds")) == [BIND_ZONE, KNOT_ZONE]

    return submit


def _ds_at_parent(report, zone: str) -> set[tuple[int, int, int, str]]:
    for obs in report.observations:
        if obs.probe == "dnssec" and obs.id.endswith(":chain"):
            for z in obs.data.get("zones", []):
                if z.get("zone", "").rstrip(".") == zone:
                    return {(d["key_tag"], d["algorithm"], d["digest_type"], d["digest"].lower()) for d in z["ds"]}
    return set()


def _ds_exported(path: Path) -> set[tuple[int, int, int, str]]:
    out = set()
    for line in path.read_text().splitlines():
        f = line.split()
        i = f.index("DS")
        out.add((int(f[i + 1]), int(f[i + 2]), int(f[i + 3]), "".join(f[i + 4:]).lower()))
    return out


def test_full_remediation_fixes_every_rule(fresh_machines, lab_inv, lab_settings, work_dir):
    events = []
    r = remediate("all", lab_inv, settings=lab_settings, on_event=events.append, between=_submit_ds(work_dir))
    assert r.status == "successful", r.stdout[-4000:]
    assert sorted(r.hosts) == ["bind1", "knot1", "web1"] and not r.failed_hosts
    assert events == r.events and any(e.status == "changed" for e in events)
    assert sorted(r.portals) == sorted(PORTALS)
    for rule in ("VN-IPV6-WEB", "VN-DNSSEC", "VN-TLS-CA", "VN-HTTPS-FORCED"):
        assert "pass" not in _verdicts(r.before, rule), rule
    for rule in (*GATED, "BP-HSTS", "BP-DNSSEC-NSEC3", "BP-DNSSEC-ALGO", "BP-TLS-LEGACY-OFF"):
        assert _verdicts(r.after, rule) == {"pass"}, (rule, [v for v in r.verdicts if v.rule_id == rule])
    assert r.exit_code() == EXIT_OK
    # IPv6 web traffic was let through web1's firewall, at run time and at boot
    rules = fresh_machines["web1"].run(["sh", "-c", "nft list chain inet filter input; nft -c -f /etc/nftables.conf "
                                      "&& grep -c netready-ipv6 /etc/nftables.conf"]).stdout
    assert "meta nfproto ipv6 tcp dport { 53, 80, 443 } accept" in rules and rules.strip().endswith("1")
    for zone in (BIND_ZONE, KNOT_ZONE):
        exported = _ds_exported(work_dir / "ds" / f"{zone}.ds")
        assert exported and exported == _ds_at_parent(r.after, zone)
    # private keys stay private
    web_keys = fresh_machines["web1"].run(["sh", "-c", "stat -c %a /etc/ssl/netready/*.key"]).stdout.split()
    assert web_keys == ["600", "600"]
    bind_keys = fresh_machines["bind1"].run(["sh", "-c", "stat -c %a /var/cache/bind/K*.private"]).stdout.split()
    assert bind_keys and set(bind_keys) == {"600"}


def test_second_run_changes_nothing(fresh_machines, lab_inv, lab_settings):
    """site.yml imports the three playbooks: changed=0 here is each playbook's idempotence."""
    before = _state(fresh_machines)
    r = remediate("all", lab_inv, settings=lab_settings)
    assert r.exit_code() == EXIT_OK and {h: s.changed for h, s in r.hosts.items()} == {
        "web1": 0, "bind1": 0, "knot1": 0}, r.stdout[-4000:]
    assert _state(fresh_machines) == before
    for rule in GATED:
        assert _verdicts(r.after, rule) == {"pass"}, rule
