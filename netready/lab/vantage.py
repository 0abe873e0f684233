"""Vantage-point namespaces on the lab (issue #17): probe hosts of different "ISPs" for `netready worker`.

Each is a network namespace held by a `sleep` (like the lab's own), joined to the lab's host side (the caller's
namespace) by a veth, with addresses from plan.vantage_link(i). The host side forwards between them and the lab's
router, which gets a route back. A vantage point without IPv6 gets no IPv6 address and no IPv6 route (only
link-local), so every IPv6 connection fails at once there (ENETUNREACH), as on an ISP without IPv6.

    vp = vantage.up("nr17a", 0, ipv6=True)       # after lab.up()
    subprocess.Popen(vp.argv(["netready", "worker", "--vantage", "vnpt", ...]))
    vantage.down(vp)

Nothing here touches the lab's namespaces apart from the router's two routes per vantage point, removed by down().
"""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from . import plan
from .errors import LabError

TAG = "netready-vantage-"


@dataclass
class VantageNS:
    name: str  # also the host-side veth name
    index: int
    ipv6: bool
    holder: subprocess.Popen
    router_pid: int
    forwarding: dict[str, str]  # host-side sysctls before, restored by down()

    @property
    def pid(self) -> int:
        return self.holder.pid

    @property
    def addresses(self) -> tuple[str, str | None]:
        """The probe host's own addresses (IPv4, IPv6 or None)."""
        link = plan.vantage_link(self.index)
        return link[2], link[5] if self.ipv6 else None

    @property
    def host_side(self) -> tuple[str, str]:
        """The host side's addresses facing this vantage point (where a broker may listen for it)."""
        link = plan.vantage_link(self.index)
        return link[1], link[4]

    def argv(self, command: list[str]) -> list[str]:
        """command run inside this namespace."""
        return [_tool("nsenter"), f"--net=/proc/{self.pid}/ns/net", "--", *command]


def _tool(name: str) -> str:
    path = shutil.which(name) or next((p for p in (f"/usr/sbin/{name}", f"/usr/bin/{name}", f"/sbin/{name}")
                                       if Path(p).exists()), None)
    if path is None:
        raise LabError(f"{name} not found (Debian package util-linux / iproute2)")
    return path


def _run(argv: list[str], check: bool = True) -> subprocess.CompletedProcess[str]:
    r = subprocess.run(argv, capture_output=True, text=True, timeout=30)
    if check and r.returncode != 0:
        raise LabError(f"{' '.join(argv)}: {r.stderr.strip() or r.stdout.strip()}")
    return r


def _in(pid: int, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return _run([_tool("nsenter"), f"--net=/proc/{pid}/ns/net", "--", _tool("ip"), *args], check=check)


def _sysctl(key: str, value: str | None = None) -> str:
    path = Path("/proc/sys") / key.replace(".", "/")
    before = path.read_text().strip()
    if value is not None:
        path.write_text(value)
    return before


def _router_pid(lab_name: str | None) -> int:
    from . import orchestrate

    st = orchestrate.status(lab_name)
    if not st["running"]:
        raise LabError(f"lab {st['name']} is not up (netready lab up)")
    return st["namespaces"]["rtr"]["holder_pid"]


def up(name: str, index: int, ipv6: bool = True, lab_name: str | None = None) -> VantageNS:
    """A vantage namespace `name` (also its veth's name on the host side) with addresses of vantage `index`."""
    p4, host4, probe4, p6, host6, probe6 = plan.vantage_link(index)
    router = _router_pid(lab_name)
    holder = subprocess.Popen([_tool("unshare"), "--net", "--", "bash", "-c", f"exec -a {TAG}{name} sleep infinity"])
    deadline = time.monotonic() + 5
    while Path(f"/proc/{holder.pid}/cmdline").read_bytes().split(b"\0")[0] != f"{TAG}{name}".encode():
        if time.monotonic() > deadline or holder.poll() is not None:
            holder.kill()
            raise LabError(f"vantage namespace {name}: holder did not start")
        time.sleep(0.02)
    forwarding = {"net.ipv4.ip_forward": _sysctl("net.ipv4.ip_forward", "1"),
                  "net.ipv6.conf.all.forwarding": _sysctl("net.ipv6.conf.all.forwarding", "1")}
    vp = VantageNS(name, index, ipv6, holder, router, forwarding)
    try:
        for key, value in (("accept_dad", "0"), ("disable_ipv6", "0")):
            _run([_tool("nsenter"), f"--net=/proc/{vp.pid}/ns/net", "--", "sysctl", "-qw",
                  f"net.ipv6.conf.all.{key}={value}", f"net.ipv6.conf.default.{key}={value}"])
        _run([_tool("ip"), "link", "add", name, "type", "veth", "peer", "name", "eth0", "netns", str(vp.pid)])
        with contextlib.suppress(OSError):
            _sysctl(f"net.ipv6.conf.{name}.accept_dad", "0")
        _run([_tool("ip"), "link", "set", name, "up"])
        _in(vp.pid, "link", "set", "lo", "up")
        _in(vp.pid, "link", "set", "eth0", "up")
        _run([_tool("ip"), "addr", "add", f"{host4}/30", "dev", name])
        _run([_tool("ip"), "-6", "addr", "add", f"{host6}/64", "dev", name, "nodad"])
        _in(vp.pid, "addr", "add", f"{probe4}/30", "dev", "eth0")
        _in(vp.pid, "route", "add", "198.51.100.0/24", "via", host4)
        if ipv6:
            _in(vp.pid, "-6", "addr", "add", f"{probe6}/64", "dev", "eth0", "nodad")
            _in(vp.pid, "-6", "route", "add", "2001:db8::/32", "via", host6)
        _in(router, "route", "replace", p4, "via", plan.HOST4)
        _in(router, "-6", "route", "replace", p6, "via", plan.HOST6)
    except Exception:
        down(vp)
        raise
    return vp


def down(vp: VantageNS) -> None:
    """Remove the router's routes, stop the holder (its namespace and the veth go with it), restore forwarding."""
    p4, _h4, _v4, p6, _h6, _v6 = plan.vantage_link(vp.index)
    _in(vp.router_pid, "route", "del", p4, check=False)
    _in(vp.router_pid, "-6", "route", "del", p6, check=False)
    _run([_tool("ip"), "link", "del", vp.name], check=False)
    if vp.holder.poll() is None:
        vp.holder.terminate()
        vp.holder.wait(10)
    for key, value in vp.forwarding.items():
        with contextlib.suppress(OSError):
            _sysctl(key, value)
