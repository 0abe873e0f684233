"""The root file system every lab machine boots: debootstrap minbase bookworm, cached as a tarball.

The cache key is a hash of this file (the build recipe), the package list and the mirror URI, so the
image is rebuilt only when one of them changes. Layout under CACHE_DIR:
  rootfs-<key>.tar.zst   the tarball (kept; survives deleting the unpacked copy)
  <key>/root/            the unpacked root, shared read-only by every machine as the overlay's lower dir
  <key>/id_ed25519[.pub] the SSH key pair authorised for root in the image
  <key>/.complete        written last: a half-built root is never used
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import re
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from ..errors import LabError

CACHE_DIR = Path(os.environ.get("NETREADY_MACHINE_CACHE", "/var/cache/netready/machines"))
SUITE = "bookworm"
PACKAGES = (
    "systemd", "systemd-sysv", "dbus", "openssh-server", "python3", "python3-apt", "nginx", "bind9",
    "bind9-utils", "bind9-dnsutils", "knot", "knot-dnsutils", "iproute2", "iputils-ping", "sudo", "ifupdown",
    "nftables", "ca-certificates", "openssl", "curl", "procps", "less",
    # issue #15: the tls role's ACME source (certbot webroot) is tested against Pebble on the controller;
    # debootstrap does not resolve virtual packages, so certbot's cffi backend is named
    "certbot", "python3-cffi-backend",
    # the dual_stack role's Apache path (tests/playbooks/test_apache_lab.py): enabled there by the test only
    "apache2",
)  # fmt: skip
# Enabled by their packages, but each machine enables only its own daemon (in its overlay).
DAEMON_UNITS = ("nginx.service", "named.service", "knot.service", "apache2.service", "apache-htcacheclean.service")
APT_SOURCES = Path("/etc/apt/sources.list.d/debian.sources")


@dataclass(frozen=True)
class Image:
    key: str
    root: Path
    ssh_key: Path  # private key; the public one is beside it with .pub
    tarball: Path

    def uid(self, user: str) -> tuple[int, int]:
        """uid/gid of a user inside the image (bind, knot, www-data) for files written into overlays."""
        for line in (self.root / "etc/passwd").read_text().splitlines():
            f = line.split(":")
            if f[0] == user:
                return int(f[2]), int(f[3])
        raise LabError(f"no user {user!r} in the machine image {self.root}")


def mirror_uri(sources: Path = APT_SOURCES) -> str:
    """The first Debian mirror URI of this machine's apt sources serving the main suite."""
    try:
        text = sources.read_text()
    except OSError as exc:
        raise LabError(f"cannot read the apt sources {sources}: {exc}") from exc
    for stanza in re.split(r"\n\s*\n", text):
        uris = re.search(r"^URIs:\s*(\S+)", stanza, re.M)
        suites = re.search(r"^Suites:\s*(.+)$", stanza, re.M)
        if uris and suites and SUITE in suites.group(1).split():
            return uris.group(1)
    raise LabError(f"no Debian mirror for suite {SUITE} in {sources}")


def cache_key() -> str:
    h = hashlib.sha256()
    h.update(Path(__file__).read_bytes())
    h.update("\n".join(PACKAGES).encode())
    h.update(mirror_uri().encode())
    return h.hexdigest()[:16]


def _image(key: str) -> Image:
    d = CACHE_DIR / key
    return Image(key, d / "root", d / "id_ed25519", CACHE_DIR / f"rootfs-{key}.tar.zst")


def _run(argv: list[str], timeout: float = 900) -> None:
    try:
        res = subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise LabError(f"{' '.join(argv)}: {exc}") from exc
    if res.returncode != 0:
        tail = "\n".join((res.stdout + res.stderr).strip().splitlines()[-15:])
        raise LabError(f"command failed ({res.returncode}): {' '.join(argv)}\n{tail}")


def _chroot(root: Path, script: str) -> None:
    env = "DEBIAN_FRONTEND=noninteractive LC_ALL=C.UTF-8 PATH=/usr/sbin:/usr/bin:/sbin:/bin"
    _run(["chroot", str(root), "/bin/sh", "-ec", f"export {env}; {script}"])


def _write(root: Path, rel: str, text: str, mode: int = 0o644) -> None:
    p = root / rel
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(text)
    p.chmod(mode)


def _customise(root: Path, pubkey: str) -> None:
    # apt lists and the binary cache built once here, or every machine writes ~80 MB on its first apt run.
    shutil.copy(APT_SOURCES, root / "etc/apt/sources.list.d/debian.sources")
    (root / "etc/apt/sources.list").unlink(missing_ok=True)
    # update needs the host's resolver: copy it in for the build only, then leave a comment-only file.
    shutil.copy("/etc/resolv.conf", root / "etc/resolv.conf")
    _chroot(root, "apt-get update -q && apt-get clean && apt-cache gencaches")  # clean drops the caches
    _write(root, "etc/resolv.conf", "# lab machine: no resolver (probes pass explicit servers)\n")
    # One id per machine: empty here (nspawn passes --uuid), dbus reads the same file.
    _write(root, "etc/machine-id", "", 0o444)
    (root / "var/lib/dbus").mkdir(parents=True, exist_ok=True)
    (root / "var/lib/dbus/machine-id").unlink(missing_ok=True)
    os.symlink("/etc/machine-id", root / "var/lib/dbus/machine-id")
    _write(root, "etc/systemd/journald.conf.d/volatile.conf", "[Journal]\nStorage=volatile\nRuntimeMaxUse=8M\n")
    shutil.rmtree(root / "var/log/journal", ignore_errors=True)
    # No DAD on the lab bridge: addresses usable at once (REQUIREMENTS §5).
    _write(root, "etc/sysctl.d/60-netready.conf",
           "net.ipv6.conf.all.accept_dad = 0\nnet.ipv6.conf.default.accept_dad = 0\n")
    wants = root / "etc/systemd/system/multi-user.target.wants"
    for unit in DAEMON_UNITS:
        (wants / unit).unlink(missing_ok=True)
    # named's alias link makes `is-enabled named` say enabled; `systemctl enable named` recreates it.
    (root / "etc/systemd/system/bind9.service").unlink(missing_ok=True)
    # Units that only fail or wait inside a container without udev / consoles.
    for unit in ("systemd-networkd-wait-online.service", "getty@tty1.service", "console-getty.service",
                 "apt-daily.timer", "apt-daily-upgrade.timer", "e2scrub_all.timer", "fstrim.timer"):
        link = root / "etc/systemd/system" / unit
        link.unlink(missing_ok=True)
        os.symlink("/dev/null", link)
    # A unit that hangs on stop must not hold `down` for the default 90 s.
    _write(root, "etc/systemd/system.conf.d/netready.conf", "[Manager]\nDefaultTimeoutStopSec=10s\n")
    _write(root, "etc/hostname", "machine\n")
    ssh = root / "root/.ssh"
    ssh.mkdir(mode=0o700, parents=True, exist_ok=True)
    _write(root, "root/.ssh/authorized_keys", pubkey, 0o600)
    # Fast SSH for Ansible: no reverse lookups against a resolver that does not exist.
    _write(root, "etc/ssh/sshd_config.d/netready.conf", "UseDNS no\nPermitRootLogin prohibit-password\n")
    for d in ("var/cache/apt/archives", "var/log/apt", "tmp"):
        for p in (root / d).glob("*"):
            if p.is_file() and not p.name == "lock":
                p.unlink()


def build(key: str) -> Image:
    img = _image(key)
    work = img.root.parent
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    _run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", f"netready-lab-{key}", "-f", str(img.ssh_key)])
    partial = work / "root.partial"
    try:
        _run(["debootstrap", "--variant=minbase", f"--include={','.join(PACKAGES)}", SUITE, str(partial),
              mirror_uri()], timeout=1800)
    except LabError as exc:
        raise LabError(f"{exc}\nThe image build needs the Debian mirror of this machine's apt sources. Build it once "
                       "from a network namespace that reaches it (e.g. the host's): python -m netready.lab.machines "
                       "image; the cached image is then used from any namespace.") from exc
    _customise(partial, Path(f"{img.ssh_key}.pub").read_text())
    tmp = img.tarball.with_suffix(".partial")
    _run(["tar", "--numeric-owner", "--xattrs", "--acls", "-C", str(partial), "-I", "zstd -T0 -3", "-cf",
          str(tmp), "."])
    tmp.rename(img.tarball)
    partial.rename(img.root)
    (work / ".complete").write_text(f"{time.time()}\n")
    return img


def unpack(key: str) -> Image:
    """Unpack a cached tarball (the unpacked copy was deleted); the key pair must still be there."""
    img = _image(key)
    if not img.ssh_key.exists():
        raise LabError(f"{img.tarball} has no SSH key beside it ({img.ssh_key}): rebuild")
    partial = img.root.parent / "root.partial"
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    _run(["tar", "--numeric-owner", "--xattrs", "--acls", "-C", str(partial), "-I", "zstd -T0", "-xf",
          str(img.tarball)])
    shutil.rmtree(img.root, ignore_errors=True)
    partial.rename(img.root)
    (img.root.parent / ".complete").write_text(f"{time.time()}\n")
    return img


def ensure_image(rebuild: bool = False) -> Image:
    """The cached image for the current recipe: built (~60 s) or unpacked only when missing."""
    for tool in ("debootstrap", "systemd-nspawn", "zstd", "ssh-keygen"):
        if not shutil.which(tool):
            pkg = {"systemd-nspawn": "systemd-container", "ssh-keygen": "openssh-client"}.get(tool, tool)
            raise LabError(f"missing program {tool} (Debian package {pkg})")
    key = cache_key()
    img = _image(key)
    CACHE_DIR.mkdir(parents=True, exist_ok=True)
    with open(CACHE_DIR / ".lock", "w") as lock:  # two labs building at once wait for each other
        fcntl.flock(lock, fcntl.LOCK_EX)
        if rebuild or not (img.root.parent / ".complete").exists():
            if not rebuild and img.tarball.exists():
                return unpack(key)
            return build(key)
    return img
