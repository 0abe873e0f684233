"""python -m netready.lab.machines up [NAME...] | reset [NAME...] | down | status | inventory [PATH] [--static] |
image [--rebuild]"""

from __future__ import annotations

import argparse
import json
import sys
import time

from ..errors import LabError
from ..orchestrate import is_up
from . import down, ensure_image, reset, status, up, write_inventory, write_lab_inventory


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m netready.lab.machines", description=__doc__)
    sub = ap.add_subparsers(dest="cmd", required=True)
    p_up = sub.add_parser("up", help="boot machines (default: all) in the caller's network namespace")
    p_up.add_argument("names", nargs="*")
    p_up.add_argument("--no-delegate", action="store_true", help="do not delegate the zones from the lab's gov.vn")
    p_up.add_argument("--rebuild", action="store_true", help="rebuild the image even if cached")
    p_reset = sub.add_parser("reset", help="back to the starting state (fresh overlays, boot again)")
    p_reset.add_argument("names", nargs="*")
    sub.add_parser("down", help="stop the machines, remove overlays, bridge, state")
    sub.add_parser("status", help="JSON status")
    p_inv = sub.add_parser("inventory", help="write the Ansible inventory "
                           "(default: <lab state dir>/remediate/hosts.yml)")
    p_inv.add_argument("path", nargs="?")
    p_inv.add_argument("--static", action="store_true", help="namespace-independent (inventories/lab/hosts.yml)")
    p_img = sub.add_parser("image", help="build or unpack the cached image")
    p_img.add_argument("--rebuild", action="store_true")
    a = ap.parse_args(argv)
    try:
        t0 = time.monotonic()
        if a.cmd in ("up", "reset"):
            if a.cmd == "up":
                ms = up(a.names or None, delegate=False if a.no_delegate else None, rebuild=a.rebuild)
            else:
                ms = reset(a.names or None)
            for m in ms:
                v6 = m.ipv6 if m.ipv6_configured else f"none (assigned {m.ipv6})"
                print(f"{m.name:6} {m.group:9} {m.ipv4:15} ipv6 {v6}  pid {m.pid}  boot {m.boot_seconds:.2f}s")
            print(f"{a.cmd} in {time.monotonic() - t0:.1f}s")
            if is_up():
                print(f"inventory for this lab: {write_lab_inventory()}")
        elif a.cmd == "down":
            down()
            print(f"down in {time.monotonic() - t0:.1f}s")
        elif a.cmd == "status":
            print(json.dumps(status(), indent=2))
        elif a.cmd == "inventory":
            if a.path:
                print(write_inventory(a.path, static=a.static))
            elif a.static:
                raise LabError("inventory --static needs a PATH (e.g. inventories/lab/hosts.yml)")
            else:
                print(write_lab_inventory())
        elif a.cmd == "image":
            img = ensure_image(rebuild=a.rebuild)
            print(f"{img.root} (key {img.key}) in {time.monotonic() - t0:.1f}s")
    except LabError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
