"""Process and command helpers: tool discovery, running commands, pids, waiting, the keeper."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from .errors import LabError

# Every binary `up` needs, with the Debian package that ships it (for the error message).
TOOLS = {
    "ip": "iproute2",
    "nsenter": "util-linux",
    "unshare": "util-linux",
    "bash": "bash",
    "sleep": "coreutils",
    "named": "bind9",
    "dnssec-keygen": "bind9-utils",
    "dnssec-signzone": "bind9-utils",
    "dnssec-dsfromkey": "bind9-utils",
    "knotd": "knot",
    "keymgr": "knot",
    "nginx": "nginx",
}


def find_tools(path: str | None = None) -> dict[str, str]:
    """Absolute path of every tool in TOOLS (searched in PATH); LabError naming all that are missing."""
    search = os.environ.get("PATH", "") if path is None else path
    found = {name: shutil.which(name, path=search) for name in TOOLS}
    missing = [f"{n} (Debian package {TOOLS[n]})" for n, p in found.items() if not p]
    if missing:
        raise LabError(f"missing program(s) in PATH={search!r}: " + ", ".join(missing))
    return {n: str(p) for n, p in found.items()}


def check_root() -> None:
    if os.geteuid() != 0:
        raise LabError("the lab needs root (network namespaces, veths, binding port 53/80/443); run as root")


def run(
    argv: Sequence[str],
    *,
    input: str | None = None,
    check: bool = True,
    timeout: float = 60,
    cwd: str | Path | None = None,
) -> subprocess.CompletedProcess[str]:
    try:
        res = subprocess.run(
            list(argv), input=input, capture_output=True, text=True, timeout=timeout, cwd=cwd
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise LabError(f"{' '.join(argv)}: {exc}") from exc
    if check and res.returncode != 0:
        raise LabError(f"command failed ({res.returncode}): {' '.join(argv)}\n{res.stderr.strip()}")
    return res


def in_ns(tools: dict[str, str], pid: int, argv: Sequence[str]) -> list[str]:
    """argv run in the network namespace of `pid` (nsenter execs: the pid stays the daemon's pid)."""
    return [tools["nsenter"], "-t", str(pid), "-n", "--", *argv]


def proc_state(pid: int) -> str | None:
    """Process state letter (R, S, Z...), or None when there is no such process."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rsplit(")", 1)[1].split()[0]


def cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def alive(pid: int | None, marker: str | None = None) -> bool:
    """True if pid runs (zombies count as dead) and, when given, its command line contains marker."""
    if not pid:
        return False
    state = proc_state(pid)
    if state is None or state in "ZX":
        return False
    return marker is None or marker in cmdline(pid)


def stop(pids: Sequence[int], marker: str | None = None, timeout: float = 5.0) -> None:
    """SIGTERM each pid (only if it still matches marker), wait, SIGKILL what is left."""
    mine = [p for p in pids if alive(p, marker)]
    for p in mine:
        try:
            os.kill(p, signal.SIGTERM)
        except ProcessLookupError:
            pass
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not any(alive(p) for p in mine):
            return
        time.sleep(0.02)
    for p in mine:
        if alive(p):
            try:
                os.kill(p, signal.SIGKILL)
            except ProcessLookupError:
                pass
    wait_until(lambda: not any(alive(p) for p in mine), 3, "processes to die after SIGKILL")


def reap(pid: int) -> None:
    """Collect the exit status of pid if it is our child (the keeper, when up and down share a process)."""
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass


def argv(pid: int) -> list[str]:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return []
    return [a.decode(errors="replace") for a in raw.split(b"\0") if a]


def owns(args: list[str], marker: str) -> bool:
    """True when an argument is exactly marker (a holder tag) or a path inside marker (our state dir).

    Exact, not a substring: lab "nr" must never match lab "nrlab", nor tag "x-web" match "x-web-dns"."""
    base = marker.rstrip("/")
    return any(a == base or f"{base}/" in a for a in args)


def find_pids(marker: str) -> list[int]:
    """Pids of live processes started with our own state dir or holder tag as an argument.

    Only a fallback for what a crashed run did not record: everything `up` starts is stopped by the
    pid it recorded; this finds leftovers of the same lab, never processes of another lab or user."""
    out = []
    for entry in os.listdir("/proc"):
        if entry.isdigit() and int(entry) != os.getpid() and owns(argv(int(entry)), marker):
            if alive(int(entry)):
                out.append(int(entry))
    return out


def wait_until(
    pred: Callable[[], bool],
    timeout: float,
    what: str,
    between: Callable[[], None] | None = None,
    interval: float = 0.02,
) -> None:
    deadline = time.monotonic() + timeout
    while True:
        if pred():
            return
        if time.monotonic() > deadline:
            raise LabError(f"timed out after {timeout:.0f}s waiting for {what}")
        if between:
            between()
        time.sleep(interval)


class Keeper:
    """Client side of keeper.py: spawn processes as its children."""

    def __init__(self, state_dir: Path) -> None:
        script = Path(__file__).with_name("keeper.py")
        self.proc = subprocess.Popen(
            [sys.executable, "-I", str(script), str(state_dir)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            start_new_session=True,
            close_fds=True,
        )
        self.pid = self.proc.pid

    def spawn(self, argv: Sequence[str], log: Path, cwd: Path | None = None) -> int:
        assert self.proc.stdin and self.proc.stdout
        self.proc.stdin.write(json.dumps({"argv": list(argv), "log": str(log), "cwd": str(cwd or "")}) + "\n")
        self.proc.stdin.flush()
        reply = json.loads(self.proc.stdout.readline() or '{"error": "keeper died"}')
        if "error" in reply:
            raise LabError(f"cannot start {' '.join(argv)}: {reply['error']}")
        return int(reply["pid"])

    def release(self) -> None:
        """Stop taking requests; the keeper keeps reaping until its children are gone, then exits."""
        if self.proc.stdin and not self.proc.stdin.closed:
            self.proc.stdin.close()
        if self.proc.stdout:
            self.proc.stdout.close()


def write_private(path: Path, data: bytes, mode: int = 0o600, uid: int | None = None, gid: int | None = None) -> None:
    """Write a secret (a private key) so that no moment exists at a wider mode: a temporary file beside it is
    created with `mode` from the first byte (os.open, not the umask), owned as asked, then renamed over path
    (issue #15: no window at 0644, also in the lab's PKI)."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    try:
        os.fchmod(fd, mode)  # the umask cannot widen it, but may have narrowed it
        if uid is not None:
            os.fchown(fd, uid, -1 if gid is None else gid)
        os.write(fd, data)
        os.fsync(fd)
    except BaseException:
        os.close(fd)
        tmp.unlink(missing_ok=True)
        raise
    os.close(fd)
    os.replace(tmp, path)
