"""Certificates from an ACME CA, renewed (issue #15, items 4 and 6): the tls role's `acme` source end to end on
the lab machine web1 against Pebble (Debian's ACME test CA) with Debian's certbot: issue, install (nginx on
certbot's live fullchain.pem + privkey.pem), then renew and see nginx serve the new certificate with its chain
complete, re-probed by netready after each step. Pebble and its DNS (pebble-challtestsrv, answering web1's
address for every name) run in the caller's namespace, started here and stopped by pid."""

from __future__ import annotations

import datetime as dt
import ipaddress
import json
import os
import socket
import ssl
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from netready.lab.machines.spec import BRIDGE4, PORTALS, WEB1
from netready.model import ProbeSettings
from netready.remediate import EXIT_OK, remediate

ACME_PORT, MGMT_PORT, DNS_PORT = 14000, 15000, 8053


def _ca_and_server_cert(d: Path) -> tuple[Path, Path, Path]:
    """A CA for Pebble's own HTTPS listener (web1 is told to trust it, as an agency trusts its internal CA)."""
    now = dt.datetime.now(dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "netready lab ACME server CA")])
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name).public_key(ca_key.public_key())
          .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(hours=1))
          .not_valid_after(now + dt.timedelta(days=2))
          .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
          .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True)
          .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
          .sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (x509.CertificateBuilder().subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, BRIDGE4)]))
            .issuer_name(ca_name).public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(hours=1)).not_valid_after(now + dt.timedelta(days=2))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(BRIDGE4))]), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
            .sign(ca_key, hashes.SHA256()))
    (d / "ca.pem").write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    (d / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (d / "key.pem").write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                  serialization.NoEncryption()))
    os.chmod(d / "key.pem", 0o600)
    return d / "ca.pem", d / "cert.pem", d / "key.pem"


def _wait_port(host: str, port: int, limit: float = 20) -> None:
    t0 = time.monotonic()
    while True:
        try:
            socket.create_connection((host, port), timeout=1).close()
            return
        except OSError:
            if time.monotonic() - t0 > limit:
                raise
            time.sleep(0.1)


@pytest.fixture(scope="module")
def pebble(fresh_machines, tmp_path_factory):
    """Pebble on the machines' bridge (198.51.100.193): ACME on 14000, management on 15000; its DNS on loopback."""
    d = tmp_path_factory.mktemp("pebble")
    ca, cert, key = _ca_and_server_cert(d)
    (d / "pebble.json").write_text(json.dumps({"pebble": {
        "listenAddress": f"{BRIDGE4}:{ACME_PORT}", "managementListenAddress": f"{BRIDGE4}:{MGMT_PORT}",
        "certificate": str(cert), "privateKey": str(key), "httpPort": 80, "tlsPort": 443,
        "ocspResponderURL": "", "externalAccountBindingRequired": False}}))
    env = dict(os.environ, PEBBLE_VA_NOSLEEP="1", PEBBLE_WFE_NONCEREJECT="0")
    dns = subprocess.Popen(["pebble-challtestsrv", "-defaultIPv4", WEB1.ipv4, "-defaultIPv6", "",
                            "-dns01", f"127.0.0.1:{DNS_PORT}", "-http01", "", "-https01", "", "-tlsalpn01", "",
                            "-management", "127.0.0.1:8055"], stdout=(d / "dns.log").open("w"),
                           stderr=subprocess.STDOUT)
    ca_server = subprocess.Popen(["pebble", "-config", str(d / "pebble.json"), "-dnsserver", f"127.0.0.1:{DNS_PORT}"],
                                 stdout=(d / "pebble.log").open("w"), stderr=subprocess.STDOUT, env=env, cwd=d)
    try:
        _wait_port(BRIDGE4, ACME_PORT)
        _wait_port(BRIDGE4, MGMT_PORT)
        ctx = ssl.create_default_context(cafile=str(ca))
        with urllib.request.urlopen(f"https://{BRIDGE4}:{MGMT_PORT}/roots/0", context=ctx, timeout=10) as r:
            (d / "issuer-root.pem").write_bytes(r.read())
        with urllib.request.urlopen(f"https://{BRIDGE4}:{ACME_PORT}/dir", context=ctx, timeout=10) as r:
            directory = json.loads(r.read())
        yield {"dir": d, "ca": ca, "root": d / "issuer-root.pem", "directory": directory,
               "url": f"https://{BRIDGE4}:{ACME_PORT}/dir"}
    finally:
        for p in (ca_server, dns):  # by pid, never by name
            p.terminate()
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait(5)


def _served(name: str, root: Path) -> x509.Certificate:
    """The leaf web1 serves for name, verified with Pebble's root as the only trust: Pebble issues from an
    intermediate, so the handshake succeeds only when nginx sends that intermediate (the chain is complete)."""
    ctx = ssl.create_default_context(cafile=str(root))
    with socket.create_connection((WEB1.ipv4, 443), timeout=5) as sock, ctx.wrap_socket(sock, server_hostname=name) \
            as tls:
        der = tls.getpeercert(binary_form=True)
    return x509.load_der_x509_certificate(der)


RELOAD_LIMIT = 30.0  # seconds for nginx to serve the renewed certificate after certbot returns


def _served_after_renewal(name: str, root: Path, old_serial: int) -> tuple[x509.Certificate, float]:
    """The leaf web1 serves for name once nginx has picked up the renewal, and how long that took. The deploy
    hook's `systemctl reload nginx` returns as soon as nginx's master is signalled: until it has read the new
    files and started new workers, the old workers still accept connections with the old certificate (tens
    of milliseconds here, longer on a loaded machine). Bounded: a hook that never reloads still fails."""
    t0 = time.monotonic()
    while True:
        cert = _served(name, root)
        waited = time.monotonic() - t0
        if cert.serial_number != old_serial or waited > RELOAD_LIMIT:
            return cert, waited
        time.sleep(0.05)


def _probe(lab, pebble, tmp_path) -> dict[str, set[str]]:
    """netready's own verdicts on the portals, trusting the lab's CAs and Pebble's root."""
    from netready.profiles import load_profile
    from netready.scan import scan

    bundle = tmp_path / "ca-bundle.pem"
    bundle.write_bytes(Path(lab.ca_bundle).read_bytes() + pebble["root"].read_bytes())
    settings = ProbeSettings(root_hints=str(lab.root_hints), trust_anchor=str(lab.trust_anchor), ca_file=str(bundle),
                             timeout=2.0, lab=True)
    report = scan(list(PORTALS), settings, load_profile("lab"))
    out: dict[str, set[str]] = {}
    for f in report.findings:
        if f.rule_id in ("VN-TLS-CA", "VN-HTTPS", "VN-HTTPS-FORCED"):
            out.setdefault(f.rule_id, set()).add(f.verdict)
    return out


def test_acme_issue_install_renew_against_pebble(lab, fresh_machines, lab_inv, pebble, tmp_path):
    web = fresh_machines["web1"]
    r = remediate("tls", lab_inv, extravars={
        "tls_source": "acme", "tls_acme_directory": pebble["url"], "tls_acme_ca_cert": str(pebble["ca"]),
        "tls_key_type": "ECC"})
    assert r.exit_code() == EXIT_OK, r.stdout[-5000:]
    name = PORTALS[0]
    first = _served(name, pebble["root"])
    assert {x.value for x in first.extensions.get_extension_for_class(x509.SubjectAlternativeName).value} \
        >= set(PORTALS)
    site = web.run(["cat", f"/etc/nginx/conf.d/netready-{name}.conf"]).stdout
    assert f"ssl_certificate /etc/letsencrypt/live/{name}/fullchain.pem;" in site
    assert f"ssl_certificate_key /etc/letsencrypt/live/{name}/privkey.pem;" in site
    assert web.run(["test", "-x", "/etc/letsencrypt/renewal-hooks/deploy/50-netready-nginx"]).returncode == 0
    assert "netready-acme-renew" in web.run(["systemctl", "cat", "certbot.service"]).stdout
    assert _probe(lab, pebble, tmp_path)["VN-TLS-CA"] == {"pass"}

    # the helper asks the CA first: Pebble's directory decides whether renewal information (RFC 9773) is used
    decided = web.run(["/usr/local/sbin/netready-acme-renew", "--dry-run"])
    assert decided.returncode == 0, decided.stderr
    expect = "renew" if "renewalInfo" in pebble["directory"] else "no-ari"
    assert f"{name}: " in decided.stdout and (expect in decided.stdout or "wait" in decided.stdout), decided.stdout

    # renewal (what the timer does when it is due): certbot renews, the deploy hook reloads nginx
    renew = web.run(["certbot", "renew", "--non-interactive", "--no-random-sleep-on-renew", "--force-renewal",
                     "--cert-name", name], timeout=180)
    assert renew.returncode == 0, renew.stdout[-2000:] + renew.stderr[-2000:]
    hook = web.run(["sh", "-c", "grep -c 'Running deploy-hook command: .*50-netready-nginx' "
                                "/var/log/letsencrypt/letsencrypt.log"]).stdout.strip()
    assert hook == "1", f"certbot ran the deploy hook {hook} times (want 1)"
    second, waited = _served_after_renewal(name, pebble["root"], first.serial_number)  # chain verified too
    if second.serial_number == first.serial_number:
        said = web.run(["sh", "-c", "grep -A4 -i hook /var/log/letsencrypt/letsencrypt.log | tail -20"]).stdout
        pytest.fail(f"nginx still serves the old certificate {waited:.1f} s after the renewal: the deploy hook did "
                    f"not reload it; certbot's log says:\n{said}")
    live = x509.load_pem_x509_certificate(web.run(["cat", f"/etc/letsencrypt/live/{name}/cert.pem"]).stdout.encode())
    assert live.serial_number == second.serial_number  # nginx serves certbot's current files, key and cert together
    assert _probe(lab, pebble, tmp_path)["VN-TLS-CA"] == {"pass"}  # re-probed: chain still complete and trusted

    # a second run of the role changes nothing (the certificate exists, the site is in place)
    r = remediate("tls", lab_inv, extravars={
        "tls_source": "acme", "tls_acme_directory": pebble["url"], "tls_acme_ca_cert": str(pebble["ca"]),
        "tls_key_type": "ECC"})
    assert r.exit_code() == EXIT_OK and r.hosts["web1"].changed == 0, r.stdout[-3000:]
    privkey_mode = web.run(["sh", "-c", f"stat -L -c %a /etc/letsencrypt/live/{name}/privkey.pem"]).stdout.strip()
    assert privkey_mode == "600"
