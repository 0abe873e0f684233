"""Costs of the lab machines: image (cached), up of three, boot per machine, ansible ping, reset, down.

Runs itself in a fresh network namespace (unshare --net) under lab name `mbench`, so it disturbs no
running lab. Usage: .venv/bin/python bench/machines.py [--rounds N]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def inner(rounds: int) -> None:
    subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
    from netready.lab.machines import down, ensure_image, reset, up, write_inventory

    t = time.monotonic()
    img = ensure_image()
    print(f"image cache check/unpack: {time.monotonic() - t:.2f}s (key {img.key}, {_du(img.root)} MB unpacked, "
          f"tarball {img.tarball.stat().st_size / 1e6:.0f} MB)")
    for r in range(rounds):
        t = time.monotonic()
        ms = up(delegate=False)
        print(f"round {r + 1}: up of {len(ms)} machines {time.monotonic() - t:.2f}s; boot " +
              ", ".join(f"{m.name} {m.boot_seconds:.2f}s" for m in ms))
        mem = [m.run(["sh", "-c", "ps -eo rss= | awk '{s+=$1} END {print s}'"]).stdout.strip() for m in ms]
        print("  RSS inside each machine (MiB): " + ", ".join(f"{int(k) / 1024:.0f}" for k in mem if k))
        with tempfile.TemporaryDirectory() as d:
            inv = write_inventory(d)
            t = time.monotonic()
            res = subprocess.run([str(Path(sys.executable).parent / "ansible"), "-i", str(inv), "all", "-m",
                                  "ansible.builtin.ping"], capture_output=True, text=True)
            print(f"  ansible ping of all: {time.monotonic() - t:.2f}s (rc {res.returncode})")
        t = time.monotonic()
        reset()
        print(f"  reset of all: {time.monotonic() - t:.2f}s")
        upper = sum(_du(Path(m.upper)) for m in ms)
        print(f"  overlay upper dirs after boot: {upper:.1f} MB in all")
        t = time.monotonic()
        down()
        print(f"  down: {time.monotonic() - t:.2f}s")


def _du(p: Path) -> float:
    out = subprocess.run(["du", "-sm", str(p)], capture_output=True, text=True).stdout.split()
    return float(out[0]) if out else 0.0


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--inner", action="store_true", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.inner:
        inner(a.rounds)
        return
    env = dict(os.environ, NETREADY_LAB_NAME="mbench")
    root = Path(__file__).resolve().parents[1]
    sys.exit(subprocess.run(["unshare", "--net", sys.executable, __file__, "--inner", "--rounds", str(a.rounds)],
                            env=env, cwd=root).returncode)


if __name__ == "__main__":
    main()
