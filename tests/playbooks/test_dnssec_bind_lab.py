"""The dnssec role on a BIND primary that has secondaries, on a real lab machine (bind1).

A zone with `allow-transfer { ... };`, `also-notify { ... };` and `update-policy { ... };` -- what most agency
primaries have -- is printed by `named-checkconf -p` with those blocks before `dnssec-policy`: the role's check that
the zone is under the policy must read past them, not stop at the first closing brace (it did, failed the host and
rolled a good change back)."""

from __future__ import annotations

from netready.lab.machines.spec import BIND_ZONE
from netready.remediate import EXIT_HOST_FAILED, remediate

ZONE_CONF = f"""// netready lab bind1: the agency zone (unsigned), with a secondary and dynamic updates
key "netready-test-ddns" {{ algorithm hmac-sha256; secret "YWJjZGVmZ2hpamtsbW5vcHFyc3R1dnd4eXo="; }};
zone "{BIND_ZONE}" {{
    type primary;
    file "/var/lib/bind/db.{BIND_ZONE}";
    allow-transfer {{ 198.51.100.193; key "netready-test-ddns"; }};
    also-notify {{ 198.51.100.193; }};
    update-policy {{ grant "netready-test-ddns" zonesub ANY; }};
}};
"""


def test_a_primary_with_transfer_notify_and_update_blocks_is_signed_not_rolled_back(fresh_machines, lab_inv):
    bind = fresh_machines["bind1"]
    res = bind.run(["sh", "-c", "cat > /etc/bind/named.conf.local && named-checkconf && rndc reconfig"],
                   input=ZONE_CONF)
    assert res.returncode == 0, res.stderr
    r = remediate("dnssec", lab_inv, limit="bind1")
    assert r.exit_code() != EXIT_HOST_FAILED and r.failed_hosts == [], r.stdout[-3000:]
    assert "ROLLED BACK" not in r.stdout
    conf = bind.run(["named-checkconf", "-p"]).stdout
    assert "allow-transfer" in conf and 'dnssec-policy "netready";' in conf
    status = bind.run(["rndc", "dnssec", "-status", BIND_ZONE]).stdout
    assert "key:" in status, status
    dnskey = bind.run(["dig", "+short", "+norec", "@127.0.0.1", BIND_ZONE, "DNSKEY"]).stdout
    assert dnskey.strip(), "the zone serves no DNSKEY"
