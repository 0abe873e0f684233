"""Topology: router, dns and web network namespaces, veths, addresses and routes.

Namespaces are held by `sleep` processes (started through the keeper with `unshare --net`), not only by
`ip netns add` bind mounts: under `ip netns exec X` the mount namespace is a slave, so bind mounts made
there vanish with the process and other sessions cannot see them. Holder pids work from anywhere. When
our /run/netns is a shared mount (plain root shell), names `<lab>-rtr` etc. are attached too, for
debugging with `ip netns exec`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from . import plan
from .errors import LabError
from .sysutil import Keeper, alive, cmdline, run, wait_until

ROLES = ("rtr", "dns", "web")


@dataclass
class Holder:
    role: str
    ns_name: str
    pid: int
    tag: str
    inode: int


def host_ns_inode() -> int:
    return os.stat("/proc/self/ns/net").st_ino


def ns_inode(pid: int) -> int | None:
    try:
        return os.stat(f"/proc/{pid}/ns/net").st_ino
    except OSError:
        return None


def holder_tag(name: str, role: str) -> str:
    return f"netready-lab-{name}-{role}"


def names_attachable() -> bool:
    """True when bind mounts under /run/netns made here are seen by every other session."""
    try:
        lines = Path("/proc/self/mountinfo").read_text().splitlines()
    except OSError:
        return False
    netns = [ln for ln in lines if ln.split()[4] == "/run/netns"]
    if netns:
        return "shared:" in netns[-1]
    root = [ln for ln in lines if ln.split()[4] == "/"]
    return bool(root) and "master:" not in root[-1]


def start_holders(name: str, keeper: Keeper, tools: dict[str, str], logdir: Path) -> dict[str, Holder]:
    here = host_ns_inode()
    holders: dict[str, Holder] = {}
    for role in ROLES:
        tag = holder_tag(name, role)
        # exec -a puts the tag in the command line, so `down` can check a pid before killing it.
        argv = [
            tools["unshare"],
            "--net",
            "--",
            tools["bash"],
            "-c",
            f"exec -a {tag} {tools['sleep']} infinity",
        ]
        pid = keeper.spawn(argv, logdir / f"holder-{role}.log")
        holders[role] = Holder(role, f"{name}-{role}", pid, tag, 0)
    for h in holders.values():
        wait_until(lambda h=h: cmdline(h.pid).startswith(h.tag), 5, f"namespace holder {h.ns_name}")
        inode = ns_inode(h.pid)
        if inode is None or inode == here:
            raise LabError(
                f"namespace holder {h.ns_name} (pid {h.pid}) did not get its own network namespace"
            )
        h.inode = inode
    return holders


def _ns_script(tools: dict[str, str], pid: int, sysctls: dict[str, str], batch: list[str]) -> None:
    """Write sysctls and run an `ip -batch` inside the namespace of pid, in one nsenter."""
    lines = [f"echo {v} > /proc/sys/{k.replace('.', '/')}" for k, v in sysctls.items()]
    if batch:
        lines.append(f"{tools['ip']} -batch - <<'EOF'\n" + "\n".join(batch) + "\nEOF")
    script = "set -e\n" + "\n".join(lines) + "\n"
    run([tools["nsenter"], "-t", str(pid), "-n", "--", tools["bash"], "-c", script])


NODAD = {
    "net.ipv6.conf.all.accept_dad": "0",
    "net.ipv6.conf.default.accept_dad": "0",
    "net.ipv6.conf.all.disable_ipv6": "0",
    "net.ipv6.conf.default.disable_ipv6": "0",
}
# ICMP errors unrated wherever the lab sends them: v6dead (router) must fail at once for every probe, not once
# per second, and a name server the lab has "refuse" (port unreachable from the DNS namespace) refuses every
# question of a batch, not one per second (the scaled lab's dnsrefused portals came out undetermined).
ICMP_UNRATED = {
    "net.ipv6.icmp.ratelimit": "0",
    "net.ipv4.icmp_ratelimit": "0",
}
ROUTER_SYSCTLS = {
    "net.ipv4.ip_forward": "1",
    "net.ipv6.conf.all.forwarding": "1",
} | ICMP_UNRATED


def build(
    name: str,
    host_if: str,
    holders: dict[str, Holder],
    tools: dict[str, str],
    dns_addrs: tuple[list[str], list[str]],
    web_addrs: tuple[list[str], list[str]],
) -> None:
    """The lab's network: a router namespace between the caller's namespace (host_if) and the DNS and web
    namespaces, the lab's addresses on their loopbacks, routes for the lab's prefixes only."""
    rtr, dns, web = (holders[r].pid for r in ROLES)
    # DAD off before any veth exists in the namespace, so new interfaces inherit it from `default`.
    _ns_script(tools, rtr, NODAD | ROUTER_SYSCTLS, [])
    _ns_script(tools, dns, NODAD | ICMP_UNRATED, [])
    _ns_script(tools, web, NODAD | ICMP_UNRATED, [])
    _links(tools, host_if, rtr, dns, web)
    host, l_dns, l_web = plan.links(host_if)
    _router_addresses(tools, rtr, host, l_dns, l_web)
    for pid, link, (v4, v6) in ((dns, l_dns, dns_addrs), (web, l_web, web_addrs)):
        _ns_script(
            tools,
            pid,
            {},
            [
                f"addr add {link.b4}/30 dev rtr0",
                f"addr add {link.b6}/64 dev rtr0 nodad",
                # Only lab prefixes go back to the router: no default route anywhere in the lab.
                f"route add 198.51.100.0/24 via {link.a4}",
                f"route add 2001:db8::/32 via {link.a6}",
                *[f"addr add {a}/32 dev lo" for a in v4],
                *[f"addr add {a}/128 dev lo nodad" for a in v6],
            ],
        )
    _host_side(tools, host_if, host)


def _links(tools: dict[str, str], host_if: str, rtr: int, dns: int, web: int) -> None:
    """The veth pairs host<->router<->dns/web, all up (before addresses: IPv6 addresses added to a down link get
    lost for ~1 s here)."""
    # Host end first (in the caller's namespace); its peer goes straight into the router namespace.
    run([tools["ip"], "link", "add", host_if, "type", "veth", "peer", "name", "host0", "netns", str(rtr)])
    for key in ("accept_dad", "disable_ipv6"):
        Path(f"/proc/sys/net/ipv6/conf/{host_if}/{key}").write_text("0")
    _ns_script(
        tools,
        rtr,
        {},
        [
            f"link add dns0 type veth peer name rtr0 netns {dns}",
            f"link add web0 type veth peer name rtr0 netns {web}",
        ],
    )
    run([tools["ip"], "link", "set", host_if, "up"])
    _ns_script(
        tools, rtr, {}, ["link set lo up", "link set host0 up", "link set dns0 up", "link set web0 up"]
    )
    for pid in (dns, web):
        _ns_script(tools, pid, {}, ["link set lo up", "link set rtr0 up"])


def _router_addresses(tools: dict[str, str], rtr: int, host: plan.Link, l_dns: plan.Link, l_web: plan.Link) -> None:
    _ns_script(
        tools,
        rtr,
        {},
        [
            f"addr add {host.b4}/30 dev host0",
            f"addr add {host.b6}/64 dev host0 nodad",
            f"addr add {l_dns.a4}/30 dev dns0",
            f"addr add {l_dns.a6}/64 dev dns0 nodad",
            f"addr add {l_web.a4}/30 dev web0",
            f"addr add {l_web.a6}/64 dev web0 nodad",
            f"route add {plan.RESOLVER_NET4} via {l_dns.b4}",
            f"route add {plan.DNS_NET4} via {l_dns.b4}",
            f"route add {plan.WEB_NET4} via {l_web.b4}",
            f"route add {plan.RESOLVER_NET6} via {l_dns.b6}",
            f"route add {plan.DNS_NET6} via {l_dns.b6}",
            f"route add {plan.WEB_NET6} via {l_web.b6}",
            f"route add unreachable {plan.DEAD_NET6}",
        ],
    )


def _host_side(tools: dict[str, str], host_if: str, host: plan.Link) -> None:
    """The caller's end: its address and routes to the lab's prefixes through the router."""
    run(
        [tools["ip"], "-batch", "-"],
        input="\n".join(
            [
                f"addr add {host.a4}/30 dev {host_if}",
                f"addr add {host.a6}/64 dev {host_if} nodad",
                *[f"route add {p} via {host.b4} src {host.a4}" for p in plan.HOST_ROUTES4],
                *[f"route add {p} via {host.b6}" for p in plan.HOST_ROUTES6],
                # Local "unreachable": connecting to v6dead fails at once (EHOSTUNREACH). Through the
                # router the ICMPv6 error arrives while connect() still holds the socket (veths are
                # synchronous), so Linux keeps it as a soft error and fails only at the SYN retransmit, 1 s
                # later.
                f"route replace unreachable {plan.DEAD_NET6}",
            ]
        )
        + "\n",
    )


def attach_names(holders: dict[str, Holder], tools: dict[str, str]) -> bool:
    if not names_attachable():
        return False
    for h in holders.values():
        detach_name(h.ns_name, tools)
        run([tools["ip"], "netns", "attach", h.ns_name, str(h.pid)])
    return True


def detach_name(ns_name: str, tools: dict[str, str]) -> None:
    if Path("/run/netns", ns_name).exists():
        run([tools["ip"], "netns", "delete", ns_name], check=False)
        Path("/run/netns", ns_name).unlink(missing_ok=True)


def _ip(tools: dict[str, str], via_pid: int | None) -> list[str]:
    """`ip` in this namespace, or in the namespace of via_pid (the keeper sits in the lab's host side)."""
    return [tools["nsenter"], "-t", str(via_pid), "-n", "--", tools["ip"]] if via_pid else [tools["ip"]]


def delete_host_side(host_if: str, tools: dict[str, str], via_pid: int | None = None) -> None:
    """Deleting the host veth drops its addresses and the routes through it; the local unreachable
    route goes too unless another lab in that namespace still routes the lab prefixes."""
    ip = _ip(tools, via_pid)
    if run([*ip, "link", "show", "dev", host_if], check=False).returncode == 0:  # not /sys: may be stale
        run([*ip, "link", "del", host_if], check=False)
    if not route_conflicts(host_if, tools, via_pid):
        run([*ip, "-6", "route", "del", "unreachable", plan.DEAD_NET6], check=False)


def route_conflicts(host_if: str, tools: dict[str, str], via_pid: int | None = None) -> list[str]:
    """Routes for the lab prefixes in this namespace through something else than host_if (another lab)."""
    out = []
    for fam, prefixes in (("-4", plan.HOST_ROUTES4), ("-6", plan.HOST_ROUTES6)):
        res = run([*_ip(tools, via_pid), fam, "route", "show"], check=False).stdout
        for line in res.splitlines():
            if line.split() and line.split()[0] in prefixes and f"dev {host_if}" not in line:
                out.append(line.strip())
    return out


def holders_alive(holders: dict[str, dict]) -> bool:
    return all(alive(h["pid"], h["tag"]) and ns_inode(h["pid"]) == h["inode"] for h in holders.values())
