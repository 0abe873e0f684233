"""The remediation lab machines, for real: booted systemd, SSH, Ansible, the non-compliant starting states,
the delegation from the lab's gov.vn (insecure, then secure once a DS is handed over), reset and down."""

from __future__ import annotations

import os
import socket
import ssl
import subprocess
import sys
from pathlib import Path

import dns.flags
import dns.message
import dns.query
import dns.rdatatype
import pytest

from netready.lab.machines import delegate, spec, write_inventory
from netready.lab.machines.runtime import reset

ROOT = Path(__file__).resolve().parents[2]
VENV_BIN = Path(sys.executable).parent


def _query(server: str, name: str, rdtype: str, dnssec: bool = False) -> dns.message.Message:
    q = dns.message.make_query(name, rdtype, want_dnssec=dnssec)
    q.flags &= ~dns.flags.RD
    return dns.query.udp(q, server, timeout=2)


def test_machines_boot_with_systemd(machines):
    for m in machines.values():
        assert m.alive()
        r = m.run(["systemctl", "is-system-running"])
        assert r.stdout.strip() == "running", (m.name, r.stdout, m.run(["systemctl", "--failed"]).stdout)
        st = m.run(["systemctl", "status", "--no-pager"])
        assert st.returncode == 0 and "State: running" in st.stdout, (m.name, st.stdout[:400], st.stderr)
        assert 0 < m.boot_seconds < 30


def test_each_machine_has_its_own_id_and_hostname(machines):
    ids = {}
    for m in machines.values():
        r = m.ssh("cat /etc/machine-id /var/lib/dbus/machine-id; hostname")
        assert r.returncode == 0, r.stderr
        mid, dbus_id, host = r.stdout.split()
        assert mid == dbus_id == m.machine_id
        assert host == m.name
        ids[m.name] = mid
    assert len(set(ids.values())) == len(ids) == 3


def test_ansible_ping_with_generated_inventory(machines, lab, tmp_path):
    inv = write_inventory(tmp_path)
    env = dict(os.environ, ANSIBLE_DEPRECATION_WARNINGS="False", ANSIBLE_LOCALHOST_WARNING="False")
    r = subprocess.run([str(VENV_BIN / "ansible"), "-i", str(inv), "all", "-m", "ansible.builtin.ping"],
                       capture_output=True, text=True, timeout=120, env=env)
    assert r.returncode == 0, r.stdout + r.stderr
    for name in machines:
        assert f"{name} | SUCCESS" in r.stdout
    # The variables the roles read, with this lab's PKI and work dir.
    from netready.lab.machines import work_dir
    from netready.remediate import ds_exports, inventory_hosts, portals_of

    hosts = inventory_hosts(str(inv))
    assert set(inventory_hosts(str(inv), pattern="dns")) == {"bind1", "knot1"}
    assert hosts["web1"]["dual_stack_ipv6_address"] == f"{spec.WEB1.ipv6}/64"
    assert portals_of(hosts) == list(spec.PORTALS)
    assert hosts["web1"]["tls_ca_bundle"] == str(lab.ca_bundle)
    for key in ("tls_ca_cert", "tls_ca_key", "tls_ca_chain"):
        assert Path(hosts["web1"][key]).is_file(), key
    assert hosts["web1"]["tls_csr_dir"] == str(work_dir() / "csr")
    assert ds_exports(hosts, str(inv)) == {z: work_dir() / "ds" / f"{z}.ds" for z in (spec.BIND_ZONE, spec.KNOT_ZONE)}
    assert hosts["knot1"]["dnssec_zones"] == [{"name": spec.KNOT_ZONE, "file": f"/var/lib/knot/{spec.KNOT_ZONE}.zone"}]
    assert "~/.ansible/cp/netready-" in hosts["bind1"]["ansible_control_path_dir"]


def test_static_inventory_is_the_generated_one():
    from netready.lab.machines.inventory import render

    assert (ROOT / "inventories/lab/hosts.yml").read_text() == render(static=True)
    # the default lab's files; other labs use write_inventory() / `python -m netready.lab.machines inventory`
    assert "/run/netready/nrlab/pki/root.pem" in render(static=True)


def test_web1_starts_ipv4_only_self_signed_no_redirect_no_hsts(machines, lab):
    web1 = machines["web1"]
    # No global IPv6 address at all on the host, and nothing answers on the one the inventory assigns.
    assert web1.run(["ip", "-6", "-o", "addr", "show", "scope", "global"]).stdout.strip() == ""
    with pytest.raises(OSError):
        socket.create_connection((web1.ipv6, 443), timeout=1).close()
    listen = web1.run(["ss", "-Hltn"]).stdout
    assert "0.0.0.0:443" in listen and "[::]:443" not in listen and "[::]:80" not in listen
    # Apache is installed (tests/playbooks/test_apache_lab.py turns web1 into an Apache host) but not running.
    assert web1.run(["systemctl", "is-active", "apache2"]).stdout.strip() == "inactive"
    # HTTPS works over IPv4, but the certificate is self-signed: the lab CA does not validate it.
    ctx = ssl.create_default_context(cafile=lab.ca_bundle)
    with pytest.raises(ssl.SSLCertVerificationError, match="self-signed|self signed"):
        with socket.create_connection((web1.ipv4, 443), timeout=3) as s:
            ctx.wrap_socket(s, server_hostname=spec.PORTALS[0])
    insecure = ssl.create_default_context()
    insecure.check_hostname, insecure.verify_mode = False, ssl.CERT_NONE
    with socket.create_connection((web1.ipv4, 443), timeout=3) as s:
        with insecure.wrap_socket(s, server_hostname=spec.PORTALS[0]) as t:
            assert t.version() in ("TLSv1.2", "TLSv1.3")
            t.sendall(f"GET / HTTP/1.1\r\nHost: {spec.PORTALS[0]}\r\nConnection: close\r\n\r\n".encode())
            https = b"".join(iter(lambda: t.recv(65536), b"")).decode(errors="replace")
    assert https.startswith("HTTP/1.1 200") and "strict-transport-security" not in https.lower()
    # Plain HTTP serves the page itself: no redirect.
    with socket.create_connection((web1.ipv4, 80), timeout=3) as s:
        s.sendall(f"GET / HTTP/1.1\r\nHost: {spec.PORTALS[0]}\r\nConnection: close\r\n\r\n".encode())
        http = b"".join(iter(lambda: s.recv(65536), b"")).decode(errors="replace")
    assert http.startswith("HTTP/1.1 200") and "\nlocation:" not in http.lower()


@pytest.mark.parametrize("name", ["bind1", "knot1"])
def test_dns_machine_serves_unsigned_zone_over_v4_and_v6(machines, name):
    m = machines[name]
    for server in (m.ipv4, m.ipv6):
        soa = _query(server, m.zone, "SOA", dnssec=True)
        assert soa.flags & dns.flags.AA and soa.answer, (server, soa)
        assert not any(r.rdtype == dns.rdatatype.RRSIG for r in soa.answer), "zone must start unsigned"
        assert not _query(server, m.zone, "DNSKEY", dnssec=True).answer
    a = _query(m.ipv4, f"dichvucong.{m.zone}", "A")
    assert [r.to_text() for r in a.answer[0]] == [spec.WEB1.ipv4]
    assert not _query(m.ipv4, f"dichvucong.{m.zone}", "AAAA").answer  # the dual-stack playbook adds it
    want = {"bind1": "named", "knot1": "knot"}[name]
    for unit in ("nginx", "named", "knot", "apache2"):
        state = m.run(["systemctl", "is-active", unit]).stdout.strip()
        assert state == ("active" if unit == want else "inactive"), (name, unit, state)


def _gov_server(lab) -> str:
    from netready.lab import plan

    return plan.GOV_SERVERS[0].ipv4


def _dnssec_status(lab_settings, name: str) -> str:
    from netready.model import Target
    from netready.probes import dnssec

    obs = dnssec.run(Target(name, name), lab_settings)
    chain = next(o for o in obs if o.id.endswith(":chain"))
    assert chain.error is None, chain.error
    return chain.data["status"]


def test_zones_delegated_insecurely_from_gov_vn(machines, lab, lab_settings):
    gov = _gov_server(lab)
    for m in (machines["bind1"], machines["knot1"]):
        ref = _query(gov, m.zone, "NS", dnssec=True)
        ns = [r for r in ref.authority if r.rdtype == dns.rdatatype.NS]
        assert ns and ns[0].name.to_text() == f"{m.zone}." and ns[0][0].to_text() == f"ns1.{m.zone}."
        glue = {r.rdtype: r[0].to_text() for r in ref.additional}
        assert glue[dns.rdatatype.A] == m.ipv4 and glue[dns.rdatatype.AAAA] == m.ipv6
        assert not any(r.rdtype == dns.rdatatype.DS for r in ref.authority)
        assert _dnssec_status(lab_settings, f"dichvucong.{m.zone}") == "insecure"


def test_signed_zone_with_ds_becomes_secure_then_reset_restores_start(machines, lab, lab_settings):
    """What part B's playbook does, done by hand on knot1: sign, hand the DS to gov.vn, validate; then reset."""
    knot1 = machines["knot1"]
    conf = spec.KNOT_CONF % {"zone": knot1.zone}
    conf = conf.replace(f"  - domain: {knot1.zone}\n", f"  - domain: {knot1.zone}\n    dnssec-signing: on\n")
    r = knot1.run(["sh", "-c", "cat > /etc/knot/knot.conf && systemctl restart knot"], input=conf)
    assert r.returncode == 0, r.stderr
    from netready.lab.sysutil import wait_until

    wait_until(lambda: bool(_query(knot1.ipv4, knot1.zone, "DNSKEY").answer), 15, "knot1 to sign")
    ds = knot1.run(["keymgr", "-c", "/etc/knot/knot.conf", knot1.zone, "ds"]).stdout.splitlines()
    ds = [line for line in ds if "DS" in line.split() and line.split()[line.split().index("DS") + 3] == "2"]
    assert ds
    delegate(knot1.zone, [(f"ns1.{knot1.zone}", knot1.ipv4, knot1.ipv6)], ds)
    ref = _query(_gov_server(lab), knot1.zone, "DS", dnssec=True)
    assert ref.answer and ref.answer[0].rdtype == dns.rdatatype.DS
    assert _dnssec_status(lab_settings, f"dichvucong.{knot1.zone}") == "secure"

    fresh = reset(["knot1"])[0]
    machines["knot1"] = fresh
    assert fresh.machine_id != knot1.machine_id and not knot1.alive()
    assert not _query(fresh.ipv4, fresh.zone, "DNSKEY").answer
    assert not _query(_gov_server(lab), fresh.zone, "DS", dnssec=True).answer  # DS dropped with the overlay
    assert _dnssec_status(lab_settings, f"dichvucong.{fresh.zone}") == "insecure"


DOWN_SCRIPT = r"""
set -e
ip link set lo up
export NETREADY_LAB_NAME=mdown
"$PY" -m netready.lab.machines up web1 --no-delegate
"$PY" -m netready.lab.machines status | grep -q '"running": true'
ip link show mdown-mbr >/dev/null
"$PY" -m netready.lab.machines down
if ip link show mdown-mbr 2>/dev/null; then echo "bridge left"; exit 1; fi
if ip link show vb-web1-mdown 2>/dev/null; then echo "veth left"; exit 1; fi
echo DOWN-OK
"""


def test_down_leaves_nothing():
    """A throw-away lab name in its own network namespace: up one machine, down, look for leftovers."""
    from netready.lab.machines.runtime import STATE_ROOT

    r = subprocess.run(["unshare", "--net", "sh", "-c", DOWN_SCRIPT], capture_output=True, text=True,
                       timeout=120, cwd=ROOT, env=dict(os.environ, PY=sys.executable))
    assert r.returncode == 0 and "DOWN-OK" in r.stdout, r.stdout + r.stderr
    leftovers = [p for p in os.listdir("/proc") if p.isdigit() and "web1-mdown" in _cmdline(p)]
    assert leftovers == []
    assert not (STATE_ROOT / "mdown").exists() and not (STATE_ROOT / "mdown.lock").exists()
    assert not Path("/run/systemd/nspawn/propagate/web1-mdown").exists()
    for h in ("systemd", "unified", ""):
        assert not Path(f"/sys/fs/cgroup/{h}/netready/mdown".replace("//", "/")).exists()


def _cmdline(pid: str) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""
