"""Bring the lab up, tear it down, report on it. Public: up, down, status, env."""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import json
import logging
import os
import shutil
import socket
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import dns.exception
import dns.flags
import dns.message
import dns.query
import dns.rcode
import dns.rdatatype

from . import bind, knot, netns, nginx, pages, pki, plan, zones
from .errors import LabError
from .model import LabEnv, Portal
from .scenarios import BY_NAME, SCENARIOS, scale_names
from .state import DEFAULT_NAME, NAME_RE, TRUST_FILE, TRUST_KEYS, env, lab_name, state_dir  # noqa: F401 - public names of this module
from .state import load_state as _load_state
from .state import read_env as _read_env
from .sysutil import Keeper, alive, check_root, cmdline, find_pids, find_tools, in_ns, reap, stop, wait_until

log = logging.getLogger("netready.lab")

SERVICES = ("named-auth", "named-res", "knot-gov", "knot-agency", "nginx", "pqweb")
LAB_VERSION = 9  # bumped when what `up` builds changes: an older running lab is rebuilt, not reused


@contextlib.contextmanager
def _locked(d: Path) -> Iterator[None]:
    """flock on <dir>.lock; retried if `down` removed the file while we waited."""
    d.parent.mkdir(parents=True, exist_ok=True)
    lock = Path(f"{d}.lock")
    while True:
        fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o644)
        fcntl.flock(fd, fcntl.LOCK_EX)
        try:
            if os.fstat(fd).st_ino == os.stat(lock).st_ino:
                break
        except FileNotFoundError:
            pass
        os.close(fd)
    try:
        yield
    finally:
        os.close(fd)


def _save_state(d: Path, st: dict) -> None:
    tmp = d / "state.json.tmp"
    tmp.write_text(json.dumps(st, indent=2))
    tmp.replace(d / "state.json")


# ---------------------------------------------------------------------------------------------- up


def up(name: str | None = None, scale: int = 0, *, tools_path: str | None = None) -> LabEnv:
    """Start the lab (idempotent: a healthy lab is returned as is; a broken or half-up one is rebuilt).

    Checks root and every binary first and raises LabError before changing anything.
    `tools_path` replaces PATH for finding the binaries (tests use it to simulate a missing one).
    """
    name = lab_name(name)
    if scale < 0 or scale > 9999:
        raise LabError("scale must be between 0 and 9999")
    check_root()
    tools = find_tools(tools_path)
    d = state_dir(name)
    t0 = time.monotonic()
    with _locked(d):
        st = _load_state(d)
        if st:
            if st.get("host_netns") != netns.host_ns_inode() and netns.holders_alive(st.get("holders", {})):
                raise LabError(
                    f"lab {name!r} is running from another network namespace (inode "
                    f"{st.get('host_netns')}); use another NETREADY_LAB_NAME here"
                )
            current = st.get("version") == LAB_VERSION and st.get("scale") == scale
            if st.get("phase") == "up" and current and _healthy(st):
                env_ = _read_env(d)
                env_.timings["up_reused"] = round(time.monotonic() - t0, 3)
                log.info("lab %s already up and healthy (%.2f s)", name, time.monotonic() - t0)
                return env_
            log.info("lab %s: state found but not healthy (or other scale): rebuilding", name)
        _teardown(name, d, tools, st)
        conflicts = netns.route_conflicts(f"{name}-h", tools)
        if conflicts:
            raise LabError(
                "lab prefixes are already routed in this network namespace (another lab?): "
                + "; ".join(conflicts)
            )
        try:
            return _build(name, d, tools, scale, t0)
        except BaseException:
            _teardown(name, d, tools, _load_state(d), keep_dir=True)
            raise


def _build(name: str, d: Path, tools: dict[str, str], scale: int, t0: float) -> LabEnv:
    timings: dict[str, float] = {}

    def lap(what: str) -> None:
        timings[what] = round(time.monotonic() - t0, 3)

    d.mkdir(parents=True, exist_ok=True)
    d.chmod(0o755)
    logs = d / "logs"
    logs.mkdir(exist_ok=True)
    host_if = f"{name}-h"
    st: dict = {
        "name": name,
        "version": LAB_VERSION,
        "phase": "starting",
        "scale": scale,
        "host_netns": netns.host_ns_inode(),
        "host_if": host_if,
        "state_dir": str(d),
        "holders": {},
        "services": {},
        "attached": False,
    }
    keeper = Keeper(d)
    st["keeper"] = keeper.pid
    _save_state(d, st)
    try:
        return _build_with(name, d, tools, scale, t0, keeper, st, timings, lap)
    finally:
        keeper.release()  # from now on the keeper only reaps (and exits when its children are gone)


def _build_with(
    name: str,
    d: Path,
    tools: dict[str, str],
    scale: int,
    t0: float,
    keeper: Keeper,
    st: dict,
    timings: dict[str, float],
    lap,
) -> LabEnv:
    host_if = st["host_if"]
    logs = d / "logs"
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    serial = int(time.time())
    with ThreadPoolExecutor(max_workers=1) as pool:
        # Certificates (RSA key generation) overlap with namespace and DNS set-up.
        fut_pki = pool.submit(_make_pki, d / "pki", now, scale)

        holders = netns.start_holders(name, keeper, tools, logs)
        st["holders"] = {
            h.role: {"pid": h.pid, "tag": h.tag, "inode": h.inode, "ns": h.ns_name} for h in holders.values()
        }
        _save_state(d, st)
        lap("holders")

        root = zones.hierarchy(scale)
        all_zones = zones.walk(root)
        zones.assign_files(root, d / "zones")
        knot_confs = {}
        for inst in ("knot-gov", "knot-agency"):
            inst_zones = [z for z in all_zones if z.server == inst]
            listen = [a for s in _servers_of(inst) for a in (s.ipv4, s.ipv6) if a]
            stale = [z for z in all_zones if z.secondary == inst]
            knot_confs[inst] = knot.write_conf(d / inst, inst_zones, listen, stale)
        zones.prepare(
            root,
            d / "zones",
            d / "keys",
            tools,
            lambda z: knot.keygen(z, knot_confs[z.server], tools),
            serial,
            now,
        )
        anchors = zones.trust_anchor_files(root, d)
        hints = zones.root_hints(d / "root.hints")
        served = [z for z in all_zones if z.server != "none"]  # broken delegations are served by nobody
        auth_conf = bind.auth_conf(d / "named-auth", [z for z in served if not z.knot])
        res_conf = bind.resolver_conf(d / "named-res", hints, anchors["trust_anchor_bind"])
        lap("dns_prepared")

        netns.build(name, host_if, holders, tools, plan.dns_service_addresses(), _web_addresses(scale))
        st["attached"] = netns.attach_names(holders, tools)
        _save_state(d, st)
        lap("network")
        ca_files, sites = fut_pki.result()
        lap("pki")
    nginx_conf = nginx.write_conf(d / "nginx", [s for s in sites if s.server == "nginx"])

    pids = {h.role: h.pid for h in holders.values()}
    cmds = {
        "named-auth": ("dns", [tools["named"], "-f", "-c", str(auth_conf)]),
        "named-res": ("dns", [tools["named"], "-f", "-c", str(res_conf)]),
        "knot-gov": ("dns", [tools["knotd"], "-c", str(knot_confs["knot-gov"])]),
        "knot-agency": ("dns", [tools["knotd"], "-c", str(knot_confs["knot-agency"])]),
        "nginx": (
            "web",
            [
                tools["nginx"],
                "-c",
                str(nginx_conf),
                "-p",
                str(d / "nginx"),
                "-e",
                str(d / "nginx" / "logs" / "error.log"),
            ],
        ),
    }
    for site in (s for s in sites if s.server == "pqweb"):  # issue #14: ML-KEM needs the wheel's OpenSSL
        cmds["pqweb"] = ("web", [sys.executable, str(Path(__file__).with_name("pqweb.py")), f"--lab-dir={d}",
                                 f"--cert={site.chain}", f"--key={site.key}", f"--root={site.root}",
                                 f"--name={site.names[0]}", *[f"--listen={a}" for a in site.ipv4 + site.ipv6]])
    if scale:  # the broken portals' hostile servers (netready/lab/hostile.py)
        # --lab-dir: the lab finds (alive, stop) its processes by the state dir in their command line.
        hostile = [sys.executable, str(Path(__file__).with_name("hostile.py")), f"--lab-dir={d}"]
        dns_args = [f"--{'drop' if k == 'dnsdrop' else 'garbage'}={a}" for k, n in plan.BROKEN_DNS.items()
                    if k != "dnsrefused" for a in (plan.dns4(n), plan.dns6(n))]
        web4, web6 = plan.broken_web("webdrop")
        web_args = [f"--hold={a}:{port}" for a in (web4, f"[{web6}]") for port in (80, 443)]
        cmds["hostile-dns"] = ("dns", [*hostile, *dns_args])
        cmds["hostile-web"] = ("web", [*hostile, *web_args])
    (d / "pids").mkdir(exist_ok=True)
    for svc, (role, argv) in cmds.items():
        pid = keeper.spawn(in_ns(tools, pids[role], argv), logs / f"{svc}.log", cwd=d)
        st["services"][svc] = pid
        (d / "pids" / f"{svc}.pid").write_text(f"{pid}\n")
    _save_state(d, st)
    keeper.release()
    _wait_ready(d, st, served, sites, scale)
    lap("ready")

    env_ = _make_env(name, d, anchors, hints, ca_files["ca_bundle"], all_zones, holders, host_if, st)
    timings["total"] = round(time.monotonic() - t0, 3)
    env_.timings = timings
    (d / "env.json").write_text(json.dumps(env_.to_dict(), indent=2))
    (d / TRUST_FILE).write_text(json.dumps({k: getattr(env_, k) for k in TRUST_KEYS}, indent=2))
    st["phase"] = "up"
    st["timings"] = timings
    _save_state(d, st)
    log.info("lab %s up in %.2f s", name, timings["total"])
    return env_


def _servers_of(inst: str) -> list[plan.NameServer]:
    if inst == "knot-gov":
        return list(plan.GOV_SERVERS)
    return list(plan.agency_servers("x.", "knot"))


def _web_addresses(scale: int) -> tuple[list[str], list[str]]:
    v4, v6 = [], []
    for sc in SCENARIOS:
        v4.append(plan.web4(sc.index))
        if sc.web6 in ("same", "diff"):
            v6.append(plan.web6(sc.index))
    if scale:
        v4.append(plan.SCALE_WEB4)
        v6.append(plan.SCALE_WEB6)
        for kind in plan.BROKEN_WEB:  # webrefused: nothing listens there; webdrop: the hostile server
            web4, web6 = plan.broken_web(kind)
            v4.append(web4)
            v6.append(web6)
    return v4, v6


def _make_pki(d: Path, now: dt.datetime, scale: int) -> tuple[dict[str, Path], list[nginx.Site]]:
    _, inter = pki.make_cas(d, now)
    dh = d / "dh1024.pem"
    pki.weak_dhparam(dh)
    html = d.parent / "nginx" / "html"
    sites = []
    for sc in SCENARIOS:
        names = [f"*.{sc.zone.rstrip('.')}"] if sc.cert == "wildcard" else [sc.portal]
        names += pages.host_names(sc.name, sc.index)  # issue #18: the page's other hosts
        kind = "good" if sc.cert in ("dual", "wildcard") else sc.cert
        files = pki.make_leaf(d / sc.name, names, inter, now, kind, sc.send_intermediate,
                              key_type="ec" if sc.cert == "dual" else "rsa")
        more = []
        if sc.cert == "dual":  # an RSA certificate beside the ECDSA one, expired: only RSA-only clients see it
            rsa_files = pki.make_leaf(d / f"{sc.name}-rsa", [sc.portal], inter, now, "expired")
            more.append((rsa_files.chain, rsa_files.key))
        staple = pki.make_staple(files.cert, inter, now, d / sc.name / "ocsp.der") if sc.cert == "ocsp" else None
        docroot = html / sc.name
        docroot.mkdir(parents=True, exist_ok=True)
        if not pages.write_docroot(sc.name, docroot):
            (docroot / "index.html").write_text(
                nginx.page(
                    "Cổng Dịch vụ công",
                    f"{sc.portal}: cổng dịch vụ công trực tuyến (netready lab, scenario {sc.name})",
                )
            )
        root6 = None
        if sc.web6 == "diff":
            root6 = html / f"{sc.name}-v6"
            root6.mkdir(parents=True, exist_ok=True)
            (root6 / "index.html").write_text(
                nginx.page(
                    "Bảo trì hệ thống",
                    "Hệ thống đang bảo trì. Vui lòng quay lại sau. (IPv6 maintenance page)",
                )
            )
        v6 = [plan.web6(sc.index)] if sc.web6 in ("same", "diff") else []
        sites.append(
            nginx.Site(
                names,
                [plan.web4(sc.index)],
                v6,
                sc.tls,
                files.chain,
                files.key,
                docroot,
                root6,
                sc.http80,
                sc.hsts,
                dh if sc.tls == "legacy" else None,
                more,
                staple,
                server=sc.server,
            )
        )
    if scale:
        names = [f"dichvucong.{n}.gov.vn" for n in scale_names(scale)]
        docroot = html / "scale"
        docroot.mkdir(parents=True, exist_ok=True)
        (docroot / "index.html").write_text(
            nginx.page("Cổng Dịch vụ công", "agency portal (netready lab, scale)")
        )
        # Hosting-provider style: multi-SAN certificates of at most SCALE_SANS_PER_CERT names each (public
        # CAs cap a certificate at about 100 names), one nginx server block per certificate, SNI picks it.
        for i in range(0, len(names), SCALE_SANS_PER_CERT):
            group = names[i : i + SCALE_SANS_PER_CERT]
            files = pki.make_leaf(d / f"scale{i // SCALE_SANS_PER_CERT:03d}", group, inter, now)
            sites.append(
                nginx.Site(group, [plan.SCALE_WEB4], [plan.SCALE_WEB6], "modern", files.chain, files.key, docroot)
            )
    return {"ca_bundle": d / "root.pem"}, sites


SCALE_SANS_PER_CERT = 100
BROKEN_SUMMARY = {
    "dnsdrop": "its name server never answers (timeouts)",
    "dnsrefused": "nothing listens on its name server's address (refused)",
    "dnsgarbage": "its name server answers bytes that are not DNS",
    "webrefused": "nothing listens on its web addresses (refused)",
    "webdrop": "its web addresses accept connections and never answer (timeouts)",
}


# ------------------------------------------------------------------------------------- readiness


def _query(
    addr: str, qname: str, rdtype: str, timeout: float = 0.3, rd: bool = False
) -> dns.message.Message | None:
    q = dns.message.make_query(qname, rdtype, want_dnssec=True)
    if not rd:
        q.flags &= ~dns.flags.RD
    try:
        return dns.query.udp(q, addr, timeout=timeout)
    except (OSError, dns.exception.DNSException):
        return None


def _zone_ok(z: zones.Zone, addr: str) -> bool:
    r = _query(addr, z.origin, "SOA")
    if r is None or r.rcode() != dns.rcode.NOERROR or not (r.flags & dns.flags.AA):
        return False
    return not z.signed or any(rr.rdtype == dns.rdatatype.RRSIG for rr in r.answer)


def _resolver_ok(addr: str) -> bool:
    r = _query(addr, "dichvucong.good.gov.vn.", "A", timeout=2, rd=True)
    return r is not None and r.rcode() == dns.rcode.NOERROR and bool(r.flags & dns.flags.AD)


def _tcp_ok(addr: str, port: int) -> bool:
    try:
        with socket.create_connection((addr, port), timeout=0.3):
            return True
    except OSError:
        return False


READY_SECONDS_PER_CHECK = 0.02
READY_CHECK_THREADS = 16


def _wait_ready(d: Path, st: dict, all_zones: list[zones.Zone], sites: list[nginx.Site], scale: int = 0) -> None:
    checks: dict[str, object] = {}
    if scale:  # the hostile servers accept TCP once they are up
        for a in (plan.dns4(plan.BROKEN_DNS["dnsdrop"]), plan.dns6(plan.BROKEN_DNS["dnsgarbage"])):
            checks[f"hostile dns {a}"] = lambda a=a: _tcp_ok(a, 53)
        for a in plan.broken_web("webdrop"):
            checks[f"hostile web {a}"] = lambda a=a: _tcp_ok(a, 443)
    for z in all_zones:
        for s in z.servers:
            if s.daemon == "resolver":
                continue  # a lame name server (the `lame` scenario): it never answers authoritatively
            for a in (s.ipv4, s.ipv6):
                if a:
                    checks[f"zone {z.origin} @{a}"] = lambda z=z, a=a: _zone_ok(z, a)
    for s in sites:
        for a in s.ipv4 + s.ipv6:
            for port in (80, 443):
                checks[f"nginx {a}:{port}"] = lambda a=a, p=port: _tcp_ok(a, p)
    pending = dict(checks)
    # Issue #20: a scaled lab (thousands of zones on a busy machine) takes longer to load, and a pass over
    # every pending check is thousands of 0.3 s timeouts when done one by one: checks run side by side and
    # the wait grows with their number (30 s for the base lab).
    limit = 30 + len(checks) * READY_SECONDS_PER_CHECK
    deadline = time.monotonic() + limit

    def progress(pool: ThreadPoolExecutor) -> bool:
        for svc, pid in st["services"].items():
            if not alive(pid):
                raise LabError(f"{svc} (pid {pid}) exited during start-up:\n{_tail(d, svc)}")
        keys = list(pending)
        for key, ok in zip(keys, pool.map(lambda k: pending[k](), keys), strict=True):  # type: ignore[operator]
            if ok:
                del pending[key]
        if time.monotonic() > deadline:
            raise LabError(f"lab not ready after {limit:.0f} s; still waiting for: " + ", ".join(sorted(pending)[:10]))
        return not pending

    with ThreadPoolExecutor(READY_CHECK_THREADS, thread_name_prefix="lab-ready") as pool:
        wait_until(lambda: progress(pool), limit + 5, "lab servers")
    # Last: the validating resolver walks the whole chain (root -> vn -> gov.vn -> good.gov.vn).
    for a in (plan.RESOLVER4, plan.RESOLVER6):
        wait_until(lambda a=a: _resolver_ok(a), 10, f"resolver {a} to validate dichvucong.good.gov.vn")


def _tail(d: Path, svc: str, lines: int = 15) -> str:
    out = []
    for f in (d / "logs" / f"{svc}.log", d / svc / "named.log", d / "nginx" / "logs" / "error.log"):
        if f.exists() and (svc in str(f)):
            out += f.read_text(errors="replace").splitlines()[-lines:]
    return "\n".join(out)


def _healthy(st: dict) -> bool:
    if not netns.holders_alive(st.get("holders", {})):
        return False
    d = st["state_dir"]
    if not all(alive(pid, d) for pid in st.get("services", {}).values()):
        return False
    return _resolver_ok(plan.RESOLVER4) and _tcp_ok(plan.web4(1), 443) and _tcp_ok(plan.web6(1), 443)


# ----------------------------------------------------------------------------------------- env


def _make_env(
    name: str,
    d: Path,
    anchors: dict[str, Path],
    hints: Path,
    ca: Path,
    all_zones: list[zones.Zone],
    holders: dict[str, netns.Holder],
    host_if: str,
    st: dict,
) -> LabEnv:
    portals = []
    for z in all_zones:
        if not z.scenario:
            continue
        recs = {(r.split()[1], r.split()[0]): r.split()[2] for r in z.records}
        label = z.scenario.split(":")[-1]
        # Scale portals are configured like `good` (shared address, one multi-SAN certificate).
        sc = next((s for s in SCENARIOS if s.name == z.scenario), None)
        portal = f"{sc.portal}." if sc else f"dichvucong.{z.origin}"
        if sc:  # the addresses the portal resolves to, through wildcards, CNAMEs and DNAMEs too
            ipv4 = [plan.web4(sc.index)]
            ipv6 = {"same": [plan.web6(sc.index)], "diff": [plan.web6(sc.index)], "dead": [plan.dead6(sc.index)],
                    "none": []}[sc.web6]
        else:
            ipv4 = [v for (t, n), v in recs.items() if t == "A" and n == portal]
            ipv6 = [v for (t, n), v in recs.items() if t == "AAAA" and n == portal]
        broken = z.scenario.startswith("broken:")
        expected = {} if broken else (sc or BY_NAME["good"]).expected()
        portals.append(
            Portal(
                name=portal.rstrip("."),
                scenario=label,
                ipv4=ipv4,
                ipv6=ipv6,
                zone=z.origin.rstrip("."),
                nameservers=[s.to_dict() for s in z.servers],
                summary=sc.summary if sc else (f"broken portal ({label}): {BROKEN_SUMMARY[label]}" if broken
                                               else "scale portal (shared web address, SNI)"),
                signer=z.signer,
                dnssec=z.dnssec,
                expected=expected,
            )
        )
    return LabEnv(
        name=name,
        state_dir=str(d),
        root_hints=str(hints),
        trust_anchor=str(anchors["trust_anchor"]),
        trust_anchor_dnskey=str(anchors["trust_anchor_dnskey"]),
        trust_anchor_bind=str(anchors["trust_anchor_bind"]),
        ca_bundle=str(ca),
        resolvers=[plan.RESOLVER4, plan.RESOLVER6],
        root_servers=[s.to_dict() for s in plan.ROOT_SERVERS],
        portals=portals,
        namespaces={h.role: h.ns_name for h in holders.values()},
        host_interface=host_if,
    )


def is_up(name: str | None = None) -> bool:
    """True when the lab is up and every process of it is alive (cheap: no network traffic)."""
    st = status(name)
    return bool(st["running"])


# ---------------------------------------------------------------------------------------- down


def down(name: str | None = None) -> None:
    """Stop every lab process by pid, delete namespaces, veth, routes, addresses and the state dir."""
    name = lab_name(name)
    check_root()
    tools = find_tools()
    d = state_dir(name)
    with _locked(d):
        _teardown(name, d, tools, _load_state(d))
        Path(f"{d}.lock").unlink(missing_ok=True)


def _teardown(name: str, d: Path, tools: dict[str, str], st: dict | None, keep_dir: bool = False) -> None:
    """Everything `up` made, in reverse: daemons, host veth/routes, namespaces (holders), names, dir."""
    st = st or {}
    marker = str(d)
    keeper = st.get("keeper")
    svc_pids = list(st.get("services", {}).values())
    for f in (d / "pids").glob("*.pid") if (d / "pids").exists() else []:
        with contextlib.suppress(ValueError, OSError):
            svc_pids.append(int(f.read_text().strip()))
    stop(svc_pids, marker)
    # Anything else started with a path in our state dir, except keepers (they go last, see below).
    stop([p for p in find_pids(marker) if "keeper.py" not in cmdline(p)], marker)
    # The host side is the namespace `up` ran in; from elsewhere, go there via the keeper (it lives there).
    via = None
    if st.get("host_netns") and st["host_netns"] != netns.host_ns_inode():
        via = (
            keeper
            if keeper and alive(keeper, "keeper.py") and netns.ns_inode(keeper) == st["host_netns"]
            else None
        )
        if via is None:
            log.warning(
                "lab %s was started from another network namespace: its host-side route for %s "
                "stays there (the veth goes with the router namespace)",
                name,
                plan.DEAD_NET6,
            )
    if via or not st.get("host_netns") or st["host_netns"] == netns.host_ns_inode():
        netns.delete_host_side(st.get("host_if", f"{name}-h"), tools, via)
    holders = st.get("holders", {})
    inodes = {h["inode"] for h in holders.values() if h.get("inode")}
    stop([h["pid"] for h in holders.values()], "netready-lab-")
    for role in netns.ROLES:
        tag = netns.holder_tag(name, role)
        stop(find_pids(tag), tag)
    if inodes:  # stragglers inside our namespaces (e.g. nginx workers whose master was SIGKILLed)
        stop(_pids_in_netns(inodes))
    for role in netns.ROLES:
        netns.detach_name(f"{name}-{role}", tools)
    # A keeper exits by itself once its children are gone; stopping it earlier would orphan them to
    # PID 1, which does not reap here (zombies).
    keepers = [p for p in find_pids(marker) if "keeper.py" in cmdline(p)] + ([keeper] if keeper else [])
    for p in keepers:
        reap(p)
    with contextlib.suppress(LabError):
        wait_until(
            lambda: not any(alive(p, "keeper.py") for p in keepers),
            2,
            "keeper to exit",
            lambda: [reap(p) for p in keepers],
        )
    stop(keepers, "keeper.py")
    for p in keepers:
        reap(p)
    if not keep_dir and d.exists():
        shutil.rmtree(d)


def _pids_in_netns(inodes: set[int]) -> list[int]:
    out = []
    for entry in os.listdir("/proc"):
        if entry.isdigit() and netns.ns_inode(int(entry)) in inodes:
            out.append(int(entry))
    return out


# -------------------------------------------------------------------------------------- status


def status(name: str | None = None) -> dict:
    """What runs: namespaces (holder pids), each process and whether it is alive, the address plan."""
    name = lab_name(name)
    d = state_dir(name)
    st = _load_state(d) or {}
    holders = st.get("holders", {})
    procs = {svc: {"pid": pid, "alive": alive(pid, str(d))} for svc, pid in st.get("services", {}).items()}
    nss = {
        role: {
            "name": h["ns"],
            "holder_pid": h["pid"],
            "alive": alive(h["pid"], h["tag"]),
            "named": Path("/run/netns", h["ns"]).exists() and bool(st.get("attached")),
        }
        for role, h in holders.items()
    }
    running = bool(st) and all(p["alive"] for p in procs.values()) and all(n["alive"] for n in nss.values())
    return {
        "name": name,
        "state_dir": str(d),
        "phase": st.get("phase", "down"),
        "running": running and st.get("phase") == "up",
        "same_netns": st.get("host_netns") == netns.host_ns_inode() if st else None,
        "host_interface": st.get("host_if", f"{name}-h"),
        "keeper": {"pid": st.get("keeper"), "alive": alive(st.get("keeper"), "keeper.py")} if st else None,
        "namespaces": nss,
        "processes": procs,
        "timings": st.get("timings", {}),
        "plan": plan.describe(st.get("host_if", f"{name}-h")),
    }
