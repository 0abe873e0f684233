"""Safe to run as root (issue #15, items 1, 2, 3, 5) on the lab machines: SSH host keys are checked outside the
lab inventory (unknown or changed: the run fails closed and says how to add the key); hostile names stop the run
before any host changes; a change that breaks is rolled back and the service still answers with its old
configuration; a key kept in Ansible Vault is installed 0600 and never shows in the output or the JSON."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import socket
import ssl
import subprocess
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from netready.lab.machines.spec import BIND_ZONE, KNOT_ZONE, PORTALS
from netready.remediate import EXIT_HOST_FAILED, EXIT_OK, remediate

from .state import machine_state

LAB_SSH_ARGS = "ansible_ssh_common_args: '-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null'"


def _served_cert_sha256(address: str, name: str) -> str:
    ctx = ssl.create_default_context()
    ctx.check_hostname, ctx.verify_mode = False, ssl.CERT_NONE
    with socket.create_connection((address, 443), timeout=5) as sock, \
            ctx.wrap_socket(sock, server_hostname=name) as tls:
        return hashlib.sha256(tls.getpeercert(binary_form=True)).hexdigest()


def _inventory_with_known_hosts(lab_inv: str, known_hosts: Path, out: Path) -> str:
    """The lab inventory as a production inventory would be: host keys checked against known_hosts."""
    text = Path(lab_inv).read_text()
    assert LAB_SSH_ARGS in text
    out.write_text(text.replace(LAB_SSH_ARGS, f"ansible_ssh_common_args: '-o UserKnownHostsFile={known_hosts}'"))
    return str(out)


def _web1_key_line(address: str) -> str:
    out = subprocess.run(["ssh-keyscan", "-t", "ed25519", "-T", "5", address], capture_output=True, text=True,
                         timeout=30).stdout
    line = next(x for x in out.splitlines() if x and not x.startswith("#"))
    return line


def test_unknown_or_changed_host_key_fails_closed_and_says_how_to_add_it(fresh_machines, lab_inv, tmp_path):
    web = fresh_machines["web1"]
    known = tmp_path / "known_hosts"
    known.write_text("")
    inv = _inventory_with_known_hosts(lab_inv, known, tmp_path / "hosts.yml")
    before = machine_state(fresh_machines)
    r = remediate("dual-stack", inv, limit="web1")
    assert r.exit_code() == EXIT_HOST_FAILED and r.hosts["web1"].unreachable, r.stdout[-2000:]
    msg = next(e.message for e in r.events if e.status == "unreachable")
    assert "host key of web1" in msg and "is not known" in msg and "ssh-keyscan -t ed25519" in msg, msg
    assert machine_state(fresh_machines) == before

    # a changed key (here: another machine's key recorded for web1's address) is refused the same way
    other = _web1_key_line(fresh_machines["bind1"].ipv4).split(None, 1)[1]
    known.write_text(f"{web.ipv4} {other}\n")
    known.write_text(known.read_text().replace(other, "ssh-ed25519 " + "A" * 43 + "=="))  # a key no host has
    r = remediate("dual-stack", inv, limit="web1")
    assert r.hosts["web1"].unreachable, r.stdout[-2000:]
    msg = next(e.message for e in r.events if e.status == "unreachable")
    assert "ssh-keyscan" in msg, msg
    assert machine_state(fresh_machines) == before

    # with the key added as the message says, the same inventory reaches the host
    known.write_text(_web1_key_line(web.ipv4) + "\n")
    r = remediate("dual-stack", inv, limit="web1", check=True)
    assert r.hosts["web1"].unreachable == 0 and r.hosts["web1"].failed == 0, r.stdout[-3000:]


HOSTILE = {
    "semicolon": {"netready_portals": [f"dichvucong.{BIND_ZONE}; touch /tmp/pwned", f"dichvucong.{KNOT_ZONE}"]},
    "quote": {"dnssec_zones": [{"name": f'{BIND_ZONE}"; }}; zone "evil', "file": f"/var/lib/bind/db.{BIND_ZONE}"}]},
    "newline-nginx": {"tls_server_name": f"dichvucong.{BIND_ZONE}\n    location /x {{ return 200; }}"},
    "newline-zone": {"dns_aaaa_records": [{"name": f"evil.{KNOT_ZONE}", "address": "2001:db8:300::9\n@ NS evil."}]},
    "path": {"tls_dir": "/etc/ssl/x; rm -rf /"},
}


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_hostile_names_stop_the_run_before_any_host_changes(fresh_machines, lab_inv, case):
    before = machine_state(fresh_machines)
    r = remediate("all", lab_inv, extravars=HOSTILE[case])
    assert r.exit_code() == EXIT_HOST_FAILED, r.stdout[-3000:]
    failed = [e for e in r.events if e.status == "failed"]
    assert failed and all(e.task == "Stop before anything changes when an input is not valid" for e in failed)
    assert "nothing was changed on any host" in failed[0].message and "Dữ liệu vào không hợp lệ" in failed[0].message
    assert not [e for e in r.events if e.status == "changed"]
    assert not any(e.task.startswith("Gathering Facts") for e in r.events)  # no host was even contacted
    assert machine_state(fresh_machines) == before
    assert fresh_machines["web1"].run(["test", "-e", "/tmp/pwned"]).returncode != 0


SHADOW = """# a forgotten site that answers for the portals first (conf.d is read in name order)
server {
    listen 443 ssl;
    server_name %s;
    ssl_certificate /etc/ssl/netready/portal.crt;
    ssl_certificate_key /etc/ssl/netready/portal.key;
    root /var/www/html;
}
"""


def test_a_change_that_breaks_is_rolled_back_and_the_old_config_still_answers(fresh_machines, lab_inv):
    """The new site validates (nginx -t) and nginx reloads, but HTTPS does not serve the new certificate (a
    forgotten site answers first): the role puts the previous configuration back and nginx keeps serving."""
    web = fresh_machines["web1"]
    shadow = "/etc/nginx/conf.d/aaa-shadow.conf"
    res = web.run(["sh", "-c", f"cat > {shadow} && nginx -t -q && systemctl reload nginx"],
                  input=SHADOW % " ".join(PORTALS))
    assert res.returncode == 0, res.stderr
    try:
        served = _served_cert_sha256(web.ipv4, PORTALS[0])
        look = ["sh", "-c", "ls /etc/nginx/conf.d; md5sum /etc/nginx/sites-available/default; nginx -T 2>/dev/null "
                "| md5sum"]
        config = web.run(look).stdout
        r = remediate("tls", lab_inv, extravars={"tls_verify_timeout": 4})
        assert r.exit_code() == EXIT_HOST_FAILED, r.stdout[-3000:]
        assert [e.host for e in r.rollbacks] == ["web1"], [e.message for e in r.events if e.status == "failed"]
        assert "nginx serves its previous configuration" in r.rollbacks[0].message
        assert r.hosts["web1"].rescued == 1
        assert web.run(look).stdout == config  # the previous configuration, loaded again
        assert _served_cert_sha256(web.ipv4, PORTALS[0]) == served  # ...and still answering
        assert web.run(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "-H", f"Host: {PORTALS[0]}",
                        "http://127.0.0.1/"]).stdout == "200"
        assert "ROLLED BACK: 1 change(s) undone on web1" in __import__("netready.remediate").remediate.format_summary(r)
    finally:
        web.run(["sh", "-c", f"rm -f {shadow} && systemctl reload nginx"])


def _pair_from_lab_ca(ca_dir: Path, out: Path, names: tuple[str, ...]) -> tuple[Path, Path, bytes]:
    issuer_cert = x509.load_pem_x509_certificate((ca_dir / "intermediate.pem").read_bytes())
    issuer_key = serialization.load_pem_private_key((ca_dir / "intermediate.key").read_bytes(), None)
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])]))
            .issuer_name(issuer_cert.subject).public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(hours=1)).not_valid_after(now + dt.timedelta(days=60))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(n) for n in names]), critical=False)
            .sign(issuer_key, hashes.SHA256()))
    (out / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption())
    return out / "cert.pem", out / "key.pem", pem


def test_a_key_kept_in_ansible_vault_is_installed_private_and_never_shown(lab, fresh_machines, lab_inv, tmp_path):
    from ansible_runner import __file__ as _runner  # noqa: F401  (ansible is installed with it)

    cert, key, pem = _pair_from_lab_ca(Path(lab.ca_bundle).parent, tmp_path, PORTALS)
    password = tmp_path / "vault-pass"
    password.write_text("correct horse battery staple\n")
    key.write_bytes(pem)
    vault = str(Path(__import__("sys").executable).parent / "ansible-vault")
    subprocess.run([vault, "encrypt", "--vault-password-file", str(password), str(key)], check=True,
                   capture_output=True, timeout=60)
    assert key.read_text().startswith("$ANSIBLE_VAULT;")
    r = remediate("tls", lab_inv, vault_password_file=str(password), extravars={
        "tls_source": "supplied", "tls_supplied_cert": str(cert), "tls_supplied_key": str(key),
        "tls_supplied_chain": str(Path(lab.ca_bundle).parent / "intermediate.pem")})
    assert r.exit_code() == EXIT_OK, r.stdout[-4000:]
    web = fresh_machines["web1"]
    fingerprint = hashlib.sha256(x509.load_pem_x509_certificate(cert.read_bytes()).public_bytes(
        serialization.Encoding.DER)).hexdigest()
    assert _served_cert_sha256(web.ipv4, PORTALS[0]) == fingerprint
    installed = web.run(["sh", "-c", f"cat /etc/ssl/netready/{PORTALS[0]}-{fingerprint[:16]}.key"]).stdout
    assert installed.encode() == pem  # decrypted on the controller, installed as the key
    modes = web.run(["sh", "-c", f"stat -c '%a %U' /etc/ssl/netready /etc/ssl/netready/{PORTALS[0]}-*.key"])
    assert modes.stdout.split("\n")[0] == "700 root" and set(modes.stdout.split("\n")[1:-1]) == {"600 root"}
    body = [line for line in pem.decode().splitlines() if "PRIVATE KEY" not in line]
    everything = r.stdout + json.dumps(r.to_dict())
    assert "PRIVATE KEY" not in everything and not any(line in everything for line in body)
