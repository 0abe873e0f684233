"""The lab machines: names, roles, addresses, and the deliberately non-compliant starting state of each.

Addresses come only from 198.51.100.192/26 and 2001:db8:300::/64 (the rest of the documentation prefixes
belongs to the lab's dns/web namespaces, see netready/lab/plan.py). The bridge/controller side is .193
and ::1; machines count up from .200 / ::200.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

NET4, NET6 = "198.51.100.192/26", "2001:db8:300::/64"
BRIDGE4, BRIDGE6 = "198.51.100.193", "2001:db8:300::1"
PREFIX4, PREFIX6 = 26, 64
BIND_ZONE, KNOT_ZONE = "machine-bind.gov.vn", "machine-knot.gov.vn"


def addr4(n: int) -> str:
    return f"198.51.100.{n}"


def addr6(n: int) -> str:
    return f"2001:db8:300::{n}"


@dataclass(frozen=True)
class MachineSpec:
    name: str  # also the hostname and the Ansible inventory name
    group: str  # Ansible group: web | dns_bind | dns_knot
    number: int  # last IPv4 octet, and the last IPv6 group read as the same digits
    configure_ipv6: bool = True  # False: the host starts IPv4-only; the dual-stack playbook adds ipv6
    zone: str | None = None  # agency zone this machine serves (DNS machines)
    daemon: str = ""  # the unit enabled in its overlay (nginx | named | knot)

    @property
    def ipv4(self) -> str:
        return addr4(self.number)

    @property
    def ipv6(self) -> str:
        """The IPv6 address the inventory assigns (configured at boot only when configure_ipv6)."""
        return addr6(self.number)


WEB1 = MachineSpec("web1", "web", 200, configure_ipv6=False, daemon="nginx")
BIND1 = MachineSpec("bind1", "dns_bind", 201, zone=BIND_ZONE, daemon="named")
KNOT1 = MachineSpec("knot1", "dns_knot", 202, zone=KNOT_ZONE, daemon="knot")
SPECS: dict[str, MachineSpec] = {s.name: s for s in (WEB1, BIND1, KNOT1)}
PORTALS = (f"dichvucong.{BIND_ZONE}", f"dichvucong.{KNOT_ZONE}")  # both served by web1


def spec(name: str) -> MachineSpec:
    try:
        return SPECS[name]
    except KeyError:
        raise KeyError(f"no lab machine {name!r}; known: {', '.join(SPECS)}") from None


def interfaces(s: MachineSpec) -> str:
    text = f"""# netready lab: static addresses on the nspawn bridge link
auto host0
iface host0 inet static
    address {s.ipv4}/{PREFIX4}
"""
    if s.configure_ipv6:
        text += f"""
iface host0 inet6 static
    address {s.ipv6}/{PREFIX6}
    dad-attempts 0
"""
    return text


def hosts(s: MachineSpec) -> str:
    return f"127.0.0.1\tlocalhost\n127.0.1.1\t{s.name}\n::1\tlocalhost ip6-localhost ip6-loopback\n"


def zone_text(s: MachineSpec, serial: int) -> str:
    """Unsigned agency zone: one name server (this machine), the portal on web1's IPv4 only (no AAAA)."""
    lines = [
        "$TTL 300",
        f"@\tSOA\tns1.{s.zone}. hostmaster.{s.zone}. {serial} 3600 600 86400 300",
        "@\tNS\tns1",
        f"ns1\tA\t{s.ipv4}",
        f"ns1\tAAAA\t{s.ipv6}",
        f"dichvucong\tA\t{WEB1.ipv4}",
    ]
    return "\n".join(lines) + "\n"


def serial_now() -> int:
    return int(dt.datetime.now(dt.UTC).strftime("%Y%m%d01"))


# web1: IPv4-only listeners, self-signed certificate, port 80 serves the page (no redirect), no HSTS.
NGINX_SITE = """# netready lab web1: deliberately non-compliant (IPv4 only, self-signed, no redirect, no HSTS)
server {
    listen 80 default_server;
    server_name _;
    root /var/www/html;
    index index.html;
}

server {
    listen 443 ssl default_server;
    server_name %(names)s;
    ssl_certificate /etc/ssl/netready/portal.crt;
    ssl_certificate_key /etc/ssl/netready/portal.key;
    root /var/www/html;
    index index.html;
}
"""

INDEX_HTML = """<!doctype html>
<html lang="vi"><head><meta charset="utf-8"><title>Cổng dịch vụ công (lab web1)</title></head>
<body><h1>Cổng dịch vụ công</h1><p>netready lab machine web1</p></body></html>
"""

NAMED_OPTIONS = """// netready lab bind1: authoritative only, zone unsigned (DNSSEC is the playbook's job)
options {
    directory "/var/cache/bind";
    listen-on { any; };
    listen-on-v6 { any; };
    recursion no;
    allow-transfer { none; };
    dnssec-validation no;
};
"""

NAMED_LOCAL = """// netready lab bind1: the agency zone (unsigned)
zone "%(zone)s" {
    type primary;
    file "/var/lib/bind/db.%(zone)s";
};
"""

KNOT_CONF = """# netready lab knot1: authoritative, zone unsigned (DNSSEC is the playbook's job)
server:
    rundir: "/run/knot"
    user: knot:knot
    listen: [ 0.0.0.0@53, ::@53 ]

log:
  - target: syslog
    any: info

database:
    storage: "/var/lib/knot"

template:
  - id: default
    storage: "/var/lib/knot"
    file: "%%s.zone"

zone:
  - domain: %(zone)s
"""
