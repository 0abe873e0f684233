"""What each lab machine looks like, as text: equal before and after a run means the run changed nothing."""

from __future__ import annotations

from netready.lab.machines.spec import BIND_ZONE, KNOT_ZONE

STATE = {
    "web1": "ip -6 -o addr show dev host0 scope global; ip -6 route show default; ls -l /etc/nginx/conf.d "
            "/etc/ssl/netready /etc/network/interfaces.d /etc/sysctl.d; cat /etc/nginx/sites-available/default; "
            "ss -ltn; sysctl -n net.ipv6.conf.all.disable_ipv6; nft list ruleset; md5sum /etc/nftables.conf",
    "bind1": f"md5sum /etc/bind/named.conf* /var/lib/bind/db.{BIND_ZONE}; ls /var/cache/bind; "
             f"rndc zonestatus {BIND_ZONE} | grep -v -i -E 'refresh|expire|next'",
    "knot1": f"md5sum /etc/knot/knot.conf; knotc zone-read {KNOT_ZONE} | grep -v -E 'RRSIG|NSEC3' | sort; "
             "ls /var/lib/knot",
}


def machine_state(machines: dict) -> dict[str, str]:
    out = {}
    for name, cmd in STATE.items():
        res = machines[name].run(["sh", "-c", cmd])
        out[name] = res.stdout
    return out
