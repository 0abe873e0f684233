"""Address plan of the lab: every address and prefix it uses, in one place.

Only 198.51.100.0/24 (TEST-NET-2) and 2001:db8::/32 (documentation) are used. The host side gets
routes for the used sub-prefixes only, never the whole /24, so the host-router link stays direct.
Every lab instance uses the same addresses: instances are isolated by network namespaces.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

# Point-to-point links (a /30 and a /64 each). Side "a" is the router except on the host link.
HOST4, RTR_HOST4 = "198.51.100.1", "198.51.100.2"  # 198.51.100.0/30
HOST6, RTR_HOST6 = "2001:db8:ffff:1::1", "2001:db8:ffff:1::2"
RTR_DNS4, DNS_RTR4 = "198.51.100.5", "198.51.100.6"  # 198.51.100.4/30
RTR_DNS6, DNS_RTR6 = "2001:db8:ffff:2::1", "2001:db8:ffff:2::2"
RTR_WEB4, WEB_RTR4 = "198.51.100.9", "198.51.100.10"  # 198.51.100.8/30
RTR_WEB6, WEB_RTR6 = "2001:db8:ffff:3::1", "2001:db8:ffff:3::2"

# Service blocks: addresses live on `lo` inside the dns / web namespaces.
RESOLVER_NET4, RESOLVER_NET6 = "198.51.100.48/28", "2001:db8:53::/64"
DNS_NET4, DNS_NET6 = "198.51.100.64/26", "2001:db8:100::/64"
WEB_NET4, WEB_NET6 = "198.51.100.128/26", "2001:db8:200::/64"
# Routed to the router, which answers ICMPv6 "no route" at once: a published AAAA nobody serves.
DEAD_NET6 = "2001:db8:dead::/64"

RESOLVER4, RESOLVER6 = "198.51.100.53", "2001:db8:53::53"

# Routes the host namespace gets via the router; DEAD_NET6 gets a local "unreachable" route instead.
HOST_ROUTES4 = (RESOLVER_NET4, DNS_NET4, WEB_NET4)
HOST_ROUTES6 = (RESOLVER_NET6, DNS_NET6, WEB_NET6)

# Scale portals (agencyNNNN) share one web address pair, told apart by SNI / Host.
SCALE_WEB4, SCALE_WEB6 = "198.51.100.190", "2001:db8:200::190"

# Broken portals of a scaled lab (brokenNNNN, one in ten): name servers that never answer (a hostile
# server drops), that refuse (nothing listens: ICMP port unreachable, TCP reset) or that answer garbage;
# web addresses where nothing listens (refused) or where a hostile server accepts and stays silent.
BROKEN_KINDS = ("dnsdrop", "dnsrefused", "dnsgarbage", "webrefused", "webdrop")
BROKEN_DNS = {"dnsdrop": 121, "dnsrefused": 122, "dnsgarbage": 123}  # last octet / hex digits in DNS_NET
BROKEN_WEB = {"webrefused": 186, "webdrop": 187}  # in WEB_NET


# Issue #17 (monitor workers per vantage point): network namespaces of probe hosts behind the lab's host side,
# one /30 and one /64 each; vantage i: host side 198.51.100.(17+4i) and 2001:db8:ffff:1i::1, the probe host
# .(18+4i) and ::2. The router gets a route back to each through the host link (netready/lab/vantage.py).
VANTAGE_NET4, VANTAGE_NET6 = "198.51.100.16/28", "2001:db8:ffff:10::/60"
VANTAGE_MAX = 4


def vantage_link(i: int) -> tuple[str, str, str, str, str, str]:
    """(v4 prefix, host v4, probe v4, v6 prefix, host v6, probe v6) of vantage namespace i (0..3)."""
    if not 0 <= i < VANTAGE_MAX:
        raise ValueError(f"vantage index {i}: 0 to {VANTAGE_MAX - 1}")
    base = 16 + 4 * i
    return (f"198.51.100.{base}/30", f"198.51.100.{base + 1}", f"198.51.100.{base + 2}",
            f"2001:db8:ffff:1{i:x}::/64", f"2001:db8:ffff:1{i:x}::1", f"2001:db8:ffff:1{i:x}::2")


def broken_web(kind: str) -> tuple[str, str]:
    """The web address pair of a broken portal of this kind (webrefused | webdrop)."""
    n = BROKEN_WEB[kind]
    return f"198.51.100.{n}", f"2001:db8:200::{n}"


def dns4(n: int) -> str:
    return f"198.51.100.{n}"


def dns6(n: int) -> str:
    # Same digits as the IPv4 last octet, read as hex: 198.51.100.81 <-> 2001:db8:100::81.
    return f"2001:db8:100::{n}"


def web4(index: int) -> str:
    return f"198.51.100.{128 + index}"


def web6(index: int) -> str:
    return f"2001:db8:200::{128 + index}"


def dead6(index: int) -> str:
    return f"2001:db8:dead::{128 + index}"


@dataclass(frozen=True)
class NameServer:
    """One authoritative server address pair; `daemon` says which process answers there."""

    name: str
    ipv4: str | None
    ipv6: str | None
    daemon: str  # named-auth | knot-gov | knot-agency

    def to_dict(self) -> dict:
        return {"name": self.name.rstrip("."), "ipv4": self.ipv4, "ipv6": self.ipv6}


def _pair(name: str, n: int, daemon: str, v6: bool = True) -> NameServer:
    return NameServer(name, dns4(n), dns6(n) if v6 else None, daemon)


ROOT_SERVERS = (
    _pair("a.root-servers.test.", 65, "named-auth"),
    _pair("b.root-servers.test.", 66, "named-auth"),
)
VN_SERVERS = (_pair("a.dns-servers.vn.", 71, "named-auth"), _pair("b.dns-servers.vn.", 72, "named-auth"))
GOV_SERVERS = (_pair("ns1.gov.vn.", 81, "knot-gov"), _pair("ns2.gov.vn.", 82, "knot-gov"))
# Agency zones all name their own ns1/ns2.<zone>; the glue points at one of these address pairs.
AGENCY_BIND = (91, 92)
AGENCY_KNOT = (101, 102)
AGENCY_V4ONLY = (111, 112)


def agency_servers(zone: str, host: str) -> tuple[NameServer, NameServer]:
    """ns1/ns2 of an agency zone hosted by `host` (bind | knot | bind-v4only)."""
    nums, daemon, v6 = {
        "bind": (AGENCY_BIND, "named-auth", True),
        "knot": (AGENCY_KNOT, "knot-agency", True),
        "bind-v4only": (AGENCY_V4ONLY, "named-auth", False),
    }[host]
    return (
        _pair(f"ns1.{zone}", nums[0], daemon, v6),
        _pair(f"ns2.{zone}", nums[1], daemon, v6),
    )


@dataclass(frozen=True)
class Link:
    """A veth pair: interface names and addresses of both ends."""

    a_role: str
    a_if: str
    a4: str
    a6: str
    b_role: str
    b_if: str
    b4: str
    b6: str


def links(host_if: str) -> tuple[Link, ...]:
    return (
        Link("host", host_if, HOST4, HOST6, "rtr", "host0", RTR_HOST4, RTR_HOST6),
        Link("rtr", "dns0", RTR_DNS4, RTR_DNS6, "dns", "rtr0", DNS_RTR4, DNS_RTR6),
        Link("rtr", "web0", RTR_WEB4, RTR_WEB6, "web", "rtr0", WEB_RTR4, WEB_RTR6),
    )


def dns_service_addresses(extra: list[NameServer] | None = None) -> tuple[list[str], list[str]]:
    """All addresses to put on lo in the dns namespace (resolver + every name server)."""
    v4 = [RESOLVER4]
    v6 = [RESOLVER6]
    servers = list(ROOT_SERVERS + VN_SERVERS + GOV_SERVERS) + (extra or [])
    for nums, has6 in ((AGENCY_BIND, True), (AGENCY_KNOT, True), (AGENCY_V4ONLY, False),
                       (tuple(BROKEN_DNS.values()), True)):
        for n in nums:
            servers.append(NameServer("", dns4(n), dns6(n) if has6 else None, ""))
    for s in servers:
        if s.ipv4 and s.ipv4 not in v4:
            v4.append(s.ipv4)
        if s.ipv6 and s.ipv6 not in v6:
            v6.append(s.ipv6)
    return v4, v6


def describe(host_if: str) -> dict:
    """The plan as plain data (for status / docs)."""
    return {
        "links": [asdict(link) for link in links(host_if)],
        "host_routes": {"ipv4": list(HOST_ROUTES4), "ipv6": list(HOST_ROUTES6), "unreachable": [DEAD_NET6]},
        "blocks": {
            "resolver": [RESOLVER_NET4, RESOLVER_NET6],
            "dns": [DNS_NET4, DNS_NET6],
            "web": [WEB_NET4, WEB_NET6],
            "dead (ICMPv6 unreachable at the router)": [DEAD_NET6],
        },
        "resolvers": [RESOLVER4, RESOLVER6],
        "root_servers": [s.to_dict() for s in ROOT_SERVERS],
        "vn_servers": [s.to_dict() for s in VN_SERVERS],
        "gov_vn_servers": [s.to_dict() for s in GOV_SERVERS],
        "agency_server_addresses": {
            "bind": [f"{dns4(n)} {dns6(n)}" for n in AGENCY_BIND],
            "knot": [f"{dns4(n)} {dns6(n)}" for n in AGENCY_KNOT],
            "bind-v4only": [dns4(n) for n in AGENCY_V4ONLY],
        },
    }
