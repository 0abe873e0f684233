"""Boot, list and stop the lab machines (systemd-nspawn -b, one overlay each over the shared image).

Everything is relative to the network namespace of the caller (the bridge lives there) and named after
the lab (env NETREADY_LAB_NAME, default nrlab). State: STATE_ROOT/<lab>/state.json plus one overlay
upper dir per machine. Processes are started through the lab's keeper (it reaps them: PID 1 here does
not) and stopped by pid only.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path

from ..errors import LabError
from ..orchestrate import lab_name
from ..sysutil import Keeper, alive, check_root, cmdline, find_pids, reap, wait_until
from . import overlay
from . import spec as S
from .delegation import delegate_machines, undelegate_all
from .image import CACHE_DIR, Image, ensure_image
from .state import STATE_ROOT, state_dir
from .state import load as _load
from .state import locked as _locked
from .state import save as _save

NSPAWN = "systemd-nspawn"
BOOT_TIMEOUT = 60.0

# Run by `unshare -m` before nspawn: nspawn needs the cgroup file systems, which `ip netns exec` hides
# (it remounts /sys), and its own cgroup (PID 1 here is not systemd; with --keep-unit nspawn uses the
# cgroup it runs in, so each launcher moves itself into netready/<lab>/<machine> first).
CGROUP_PRELUDE = r"""
set -e
if ! grep -q ' /sys/fs/cgroup ' /proc/self/mounts && ! grep -q ' /sys/fs/cgroup/' /proc/self/mounts; then
  if grep -q ':name=systemd:' /proc/self/cgroup; then
    mount -t tmpfs -o mode=755 netready-cgroup /sys/fs/cgroup
    mkdir -p /sys/fs/cgroup/systemd /sys/fs/cgroup/unified
    mount -t cgroup -o none,name=systemd cgroup /sys/fs/cgroup/systemd
    mount -t cgroup2 cgroup2 /sys/fs/cgroup/unified || rmdir /sys/fs/cgroup/unified
  else
    mount -t cgroup2 cgroup2 /sys/fs/cgroup
  fi
fi
hier() {
  if [ -e /sys/fs/cgroup/cgroup.controllers ]; then echo /sys/fs/cgroup; return; fi
  for h in systemd unified; do [ -e /sys/fs/cgroup/$h/cgroup.procs ] && echo /sys/fs/cgroup/$h; done; true
}
"""
LAUNCH = CGROUP_PRELUDE + r"""
cg="$1"; shift
for h in $(hier); do mkdir -p "$h/$cg"; echo $$ > "$h/$cg/cgroup.procs"; done
exec "$@"
"""
CLEANUP = CGROUP_PRELUDE + r"""
for h in $(hier); do
  for cg in "$@"; do [ -d "$h/$cg" ] && find "$h/$cg" -depth -type d -exec rmdir {} + 2>/dev/null; done
  rmdir "$h/$(dirname "$1")" "$h/netready" 2>/dev/null || true
done
true
"""


@dataclass
class Machine:
    """A running lab machine. `ipv6` is what the inventory assigns; `ipv6_configured` says if it is up."""

    name: str
    group: str
    ipv4: str
    ipv6: str
    ipv6_configured: bool
    zone: str | None
    pid: int  # the systemd-nspawn process
    leader: int  # the machine's PID 1 (systemd), for nsenter
    machine_id: str
    nspawn_name: str
    upper: str
    ssh_key: str
    boot_seconds: float = 0.0
    extra: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return asdict(self)

    def alive(self) -> bool:
        return alive(self.pid, NSPAWN) and alive(self.leader)

    def run(self, argv: Sequence[str], timeout: float = 30, input: str | None = None
            ) -> subprocess.CompletedProcess[str]:
        """Run argv inside the machine (all its namespaces) without SSH; never raises on exit status."""
        return subprocess.run(["nsenter", "-t", str(self.leader), "-a", "--", *argv], capture_output=True,
                              text=True, timeout=timeout, input=input)

    def ssh_argv(self, command: str) -> list[str]:
        return ["ssh", "-i", self.ssh_key, "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
                "-o", "BatchMode=yes", "-o", "ConnectTimeout=5", "-o", "LogLevel=ERROR", f"root@{self.ipv4}",
                command]

    def ssh(self, command: str, timeout: float = 30) -> subprocess.CompletedProcess[str]:
        return subprocess.run(self.ssh_argv(command), capture_output=True, text=True, timeout=timeout)


def bridge_name(lab: str) -> str:
    return f"{lab}-mbr"[:15]


def _cgroup(lab: str, name: str) -> str:
    return f"netready/{lab}/{name}"


def _netns_inode() -> int:
    return os.stat("/proc/self/ns/net").st_ino


def _ip(argv: list[str], netns_pid: int | None = None, check: bool = True) -> subprocess.CompletedProcess[str]:
    full = ["ip", *argv] if netns_pid is None else ["nsenter", "-t", str(netns_pid), "-n", "--", "ip", *argv]
    res = subprocess.run(full, capture_output=True, text=True, timeout=20)
    if check and res.returncode != 0:
        raise LabError(f"{' '.join(full)}: {res.stderr.strip()}")
    return res


def _link_exists(name: str, netns_pid: int | None = None) -> bool:
    return _ip(["link", "show", "dev", name], netns_pid, check=False).returncode == 0


def _ensure_bridge(br: str) -> None:
    if _link_exists(br):
        return
    _ip(["link", "add", "name", br, "type", "bridge"])
    # No DAD (addresses usable at once), link up before addresses (REQUIREMENTS §5).
    Path(f"/proc/sys/net/ipv6/conf/{br}/accept_dad").write_text("0\n")
    _ip(["link", "set", br, "up"])
    _ip(["addr", "add", f"{S.BRIDGE4}/{S.PREFIX4}", "dev", br])
    _ip(["-6", "addr", "add", f"{S.BRIDGE6}/{S.PREFIX6}", "dev", br, "nodad"])


def _leader(nspawn_pid: int) -> int | None:
    """The machine's PID 1: the child of nspawn running systemd."""
    try:
        for task in os.listdir(f"/proc/{nspawn_pid}/task"):
            for child in Path(f"/proc/{nspawn_pid}/task/{task}/children").read_text().split():
                if Path(f"/proc/{child}/comm").read_text().strip() == "systemd":
                    return int(child)
    except OSError:
        return None
    return None


def _tcp_open(addr: str, port: int, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((addr, port), timeout=timeout):
            return True
    except OSError:
        return False


def _ready_check(m: Machine) -> bool:
    """Booted (systemd finished its start-up jobs), SSH answers, and the machine's daemon serves."""
    r = m.run(["systemctl", "is-system-running"], timeout=10)
    if r.stdout.strip() not in ("running", "degraded"):
        return False
    if not _tcp_open(m.ipv4, 22):
        return False
    if m.group == "web":
        return _tcp_open(m.ipv4, 443)
    return _tcp_open(m.ipv4, 53)


def _wait_ready(m: Machine, started: float) -> None:
    def ready() -> bool:
        # Gone is gone; a command line without the marker is only the unshare -> sh -> nspawn exec chain
        # caught mid-exec (/proc/PID/cmdline reads empty for a moment): not ready yet, not dead.
        if not alive(m.pid):
            log = Path(m.upper).parent / "console.log"
            tail = log.read_text(errors="replace")[-1500:] if log.exists() else ""
            raise LabError(f"machine {m.name}: systemd-nspawn exited during boot\n{tail}")
        if not alive(m.pid, NSPAWN):
            return False
        if not m.leader:
            m.leader = _leader(m.pid) or 0
            if not m.leader:
                return False
        return _ready_check(m)

    wait_until(ready, BOOT_TIMEOUT, f"machine {m.name} to boot (systemd, sshd, {m.group} daemon)",
               interval=0.05)
    m.boot_seconds = round(time.monotonic() - started, 2)


def _nspawn_argv(img: Image, lab: str, s: S.MachineSpec, upper: Path, machine_id: str) -> list[str]:
    nspawn = shutil.which(NSPAWN)
    if not nspawn:
        raise LabError("missing program systemd-nspawn (Debian package systemd-container)")
    return [
        nspawn, "--quiet", "--boot", f"--directory={img.root}", f"--overlay={img.root}:{upper}:/",
        f"--machine={s.name}-{lab}", f"--hostname={s.name}", f"--uuid={machine_id}", "--register=no",
        "--keep-unit", f"--network-bridge={bridge_name(lab)}", "--resolv-conf=off", "--timezone=off",
        "--link-journal=no", "--console=read-only",
    ]


def _from_state(lab: str) -> list[Machine]:
    st = _load(lab)
    return [Machine(**d) for d in st.get("machines", [])] if st else []


def up(names: Sequence[str] | None = None, lab: str | None = None, *, delegate: bool | None = None,
       rebuild: bool = False) -> list[Machine]:
    """Boot the named machines (default all: web1, bind1, knot1) and return them, running and reachable.

    Machines already running for this lab are kept as they are. delegate: add NS/glue for the DNS machines'
    zones to the lab's gov.vn (None = when the lab is up in this lab name, False = never).
    """
    check_root()
    lab = lab_name(lab)
    wanted = list(names) if names else list(S.SPECS)
    specs = [S.spec(n) for n in wanted]
    img = ensure_image(rebuild=rebuild)
    with _locked(lab):
        st = _load(lab) or {}
        if st and st.get("netns_inode") != _netns_inode() and any(Machine(**d).alive() for d in st["machines"]):
            raise LabError(f"machines of lab {lab} run in another network namespace; call up/down from there")
        running = {m.name: m for m in _from_state(lab) if m.alive()}
        br = bridge_name(lab)
        _ensure_bridge(br)
        d = state_dir(lab)
        keeper = Keeper(d) if any(s.name not in running for s in specs) else None
        new: list[tuple[Machine, float]] = []
        try:
            for s in specs:
                if s.name in running:
                    continue
                mdir = d / s.name
                shutil.rmtree(mdir, ignore_errors=True)
                upper = mdir / "upper"
                t0 = time.monotonic()
                machine_id = overlay.prepare(img, s, upper)
                argv = ["unshare", "-m", "--propagation", "private", "sh", "-c", LAUNCH, "launch",
                        _cgroup(lab, s.name), *_nspawn_argv(img, lab, s, upper, machine_id)]
                assert keeper is not None
                pid = keeper.spawn(argv, mdir / "console.log")
                m = Machine(s.name, s.group, s.ipv4, s.ipv6, s.configure_ipv6, s.zone, pid, 0, machine_id,
                            f"{s.name}-{lab}", str(upper), str(img.ssh_key))
                new.append((m, t0))
                running[s.name] = m
                # Record as we go: a failure below still lets `down` find every pid.
                st = {"lab": lab, "bridge": br, "netns_inode": _netns_inode(), "image": img.key,
                      "keeper": keeper.pid, "machines": [x.to_dict() for x in running.values()],
                      "delegations": st.get("delegations", {})}
                _save(lab, st)
            with ThreadPoolExecutor(max_workers=max(1, len(new))) as pool:
                list(pool.map(lambda mt: _wait_ready(*mt), new))
        finally:
            if keeper:
                keeper.release()
        st["machines"] = [x.to_dict() for x in running.values()]
        _save(lab, st)
    _link_key(img)
    if delegate is not False:

        delegate_machines(lab, [running[n] for n in wanted], required=bool(delegate))
    return [running[n] for n in wanted]


def _link_key(img: Image) -> None:
    """Stable key path for static inventories: CACHE_DIR/id_ed25519 -> the current image's key."""
    for suffix in ("", ".pub"):
        link = CACHE_DIR / f"id_ed25519{suffix}"
        target = f"{img.key}/id_ed25519{suffix}"
        if not (link.is_symlink() and os.readlink(link) == target):
            tmp = CACHE_DIR / f".id_ed25519{suffix}.tmp"
            tmp.unlink(missing_ok=True)
            os.symlink(target, tmp)
            tmp.replace(link)


def machines(lab: str | None = None) -> list[Machine]:
    """The machines recorded for this lab that are running."""
    return [m for m in _from_state(lab_name(lab)) if m.alive()]


def status(lab: str | None = None) -> dict:
    lab = lab_name(lab)
    st = _load(lab)
    if not st:
        return {"lab": lab, "up": False, "machines": []}
    ms = [Machine(**d) for d in st["machines"]]
    return {
        "lab": lab, "up": bool(ms) and all(m.alive() for m in ms), "bridge": st["bridge"],
        "bridge_exists": _link_exists(st["bridge"]) if st.get("netns_inode") == _netns_inode() else None,
        "image": st.get("image"), "delegations": st.get("delegations", {}),
        "machines": [m.to_dict() | {"running": m.alive()} for m in ms],
    }


def _stop(ms: list[Machine], timeout: float = 15.0) -> None:
    """SIGTERM each nspawn (clean shutdown ~2 s); after timeout SIGKILL the machine's PID 1 and nspawn."""
    mine = [m for m in ms if alive(m.pid, NSPAWN)]
    for m in mine:
        with contextlib.suppress(ProcessLookupError):
            os.kill(m.pid, signal.SIGTERM)
    start = time.monotonic()
    resent = False
    while time.monotonic() < start + timeout and any(alive(m.pid) for m in mine):
        if not resent and time.monotonic() > start + 5:  # a halt request can be lost late in boot: ask again
            resent = True
            for m in mine:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(m.pid, signal.SIGTERM)
        time.sleep(0.05)
    for m in mine:
        if alive(m.pid):
            for p in (m.leader or _leader(m.pid), m.pid):  # killing PID 1 of the machine ends it all
                if p and alive(p):
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(p, signal.SIGKILL)
    wait_until(lambda: not any(alive(m.pid) for m in mine), 10, "machines to stop")


def _strays(lab: str, known: list[Machine]) -> list[Machine]:
    """nspawn processes of this lab missing from the state (their command line names our state dir)."""
    marker = f"{state_dir(lab)}/"
    pids = {m.pid for m in known}
    out = []
    for pid in find_pids(marker):
        if pid not in pids and NSPAWN in cmdline(pid):
            out.append(Machine("?", "", "", "", False, None, pid, _leader(pid) or 0, "", "", "", ""))
    return out


def down(lab: str | None = None) -> None:
    """Stop every machine of the lab and remove its overlays, bridge, cgroups and state. Idempotent."""
    check_root()
    lab = lab_name(lab)
    with _locked(lab):
        st = _load(lab) or {}
        ms = [Machine(**d) for d in st.get("machines", [])]
        if st.get("delegations"):

            undelegate_all(lab, st["delegations"])
        # The bridge lives in the namespace `up` ran in: reach it through a live machine if not ours.
        br = st.get("bridge", bridge_name(lab))
        via = None
        if st.get("netns_inode") not in (None, _netns_inode()):
            via = next((m.pid for m in ms if alive(m.pid, NSPAWN)), None)
        _stop(ms)
        _stop(_strays(lab, ms))
        if via is None or alive(via):
            if _link_exists(br, via):
                _ip(["link", "del", br], via)
        if st.get("keeper"):
            reap(st["keeper"])
        cgs = [_cgroup(lab, n) for n in {m.name for m in ms} | set(S.SPECS)]
        subprocess.run(["unshare", "-m", "--propagation", "private", "sh", "-c", CLEANUP, "cleanup", *cgs],
                       capture_output=True, timeout=30)
        for m in ms:  # nspawn leaves its propagation dir behind when the machine's root is an overlay
            if m.nspawn_name:
                shutil.rmtree(Path("/run/systemd/nspawn/propagate") / m.nspawn_name, ignore_errors=True)
        shutil.rmtree(state_dir(lab), ignore_errors=True)
    (STATE_ROOT / f"{lab}.lock").unlink(missing_ok=True)


def reset(names: Sequence[str] | None = None, lab: str | None = None) -> list[Machine]:
    """Back to the starting state: stop the named machines (default all), drop their overlays, boot them again.

    ~2 s per machine; a playbook test can call it to undo what an earlier playbook changed.
    """
    check_root()
    lab = lab_name(lab)
    wanted = list(names) if names else list(S.SPECS)
    with _locked(lab):
        st = _load(lab) or {}
        ms = [Machine(**d) for d in st.get("machines", []) if d["name"] in wanted]
        _stop(ms)
        subprocess.run(["unshare", "-m", "--propagation", "private", "sh", "-c", CLEANUP, "cleanup",
                        *[_cgroup(lab, m.name) for m in ms]], capture_output=True, timeout=30)
        for m in ms:
            if m.nspawn_name:
                shutil.rmtree(Path("/run/systemd/nspawn/propagate") / m.nspawn_name, ignore_errors=True)
            shutil.rmtree(state_dir(lab) / m.name, ignore_errors=True)
        if st:
            st["machines"] = [d for d in st["machines"] if d["name"] not in wanted]
            # Fresh overlays mean unsigned zones again: forget any DS handed to gov.vn for them.
            for m in ms:
                if m.zone:
                    st.get("delegations", {}).pop(m.zone.rstrip(".") + ".", None)
            _save(lab, st)
    return up(wanted, lab)
