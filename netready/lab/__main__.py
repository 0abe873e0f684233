"""python -m netready.lab up|down|status|env|exec  (the `netready lab ...` CLI calls the same functions)."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time

from .errors import LabError
from .orchestrate import down, env, lab_name, state_dir, status, up
from .scenarios import markdown_tables
from .sysutil import find_tools


def main(argv: list[str] | None = None) -> int:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--name", help="lab name (default: $NETREADY_LAB_NAME or nrlab)")
    ap = argparse.ArgumentParser(prog="python -m netready.lab", description="netready offline lab")
    sub = ap.add_subparsers(dest="cmd", required=True)
    p_up = sub.add_parser("up", help="start the lab (idempotent)", parents=[common])
    p_up.add_argument("--scale", type=int, default=0, help="extra agencyNNNN.gov.vn portals (and N // 9 broken ones)")
    p_up.add_argument("--json", action="store_true", help="print the environment as JSON")
    sub.add_parser("down", help="stop everything and remove all traces", parents=[common])
    sub.add_parser("status", help="what runs", parents=[common]).add_argument("--json", action="store_true")
    sub.add_parser("env", help="paths and addresses for probes", parents=[common]).add_argument(
        "--json", action="store_true"
    )
    sub.add_parser("table", help="print the scenario tables of docs/lab.md (Markdown)")
    p_ex = sub.add_parser(
        "exec", help="run a command in a lab namespace: exec dns -- rndc ...", parents=[common]
    )
    p_ex.add_argument("role", choices=["rtr", "dns", "web"])
    p_ex.add_argument("command", nargs=argparse.REMAINDER)
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stderr)
    try:
        if args.cmd == "up":
            e = up(args.name, scale=args.scale)  # logs "lab X up in N s"
            _print_env(e.to_dict(), args.json)
        elif args.cmd == "down":
            t0 = time.monotonic()
            down(args.name)
            print(f"lab {lab_name(args.name)} down in {time.monotonic() - t0:.2f} s", file=sys.stderr)
        elif args.cmd == "status":
            st = status(args.name)
            if args.json:
                print(json.dumps(st, indent=2))
            else:
                print(f"lab {st['name']}: {st['phase']}, running={st['running']} ({st['state_dir']})")
                for ns in st["namespaces"].values():
                    print(f"  ns {ns['name']:<14} holder pid {ns['holder_pid']:<8} alive={ns['alive']}")
                for svc, p in st["processes"].items():
                    print(f"  {svc:<17} pid {p['pid']:<8} alive={p['alive']}")
        elif args.cmd == "env":
            _print_env(env(args.name).to_dict(), args.json)
        elif args.cmd == "table":
            print(markdown_tables(), end="")
        elif args.cmd == "exec":
            st = json.loads((state_dir(lab_name(args.name)) / "state.json").read_text())
            cmd = args.command[1:] if args.command[:1] == ["--"] else args.command
            pid = st["holders"][args.role]["pid"]
            os.execv(find_tools()["nsenter"], ["nsenter", "-t", str(pid), "-n", "--", *cmd])
    except LabError as exc:
        print(f"lab error: {exc}", file=sys.stderr)
        return 2
    return 0


def _print_env(e: dict, as_json: bool) -> None:
    if as_json:
        print(json.dumps(e, indent=2, ensure_ascii=False))
        return
    for key in ("root_hints", "trust_anchor", "trust_anchor_bind", "ca_bundle"):
        print(f"{key:<18} {e[key]}")
    print(f"{'resolvers':<18} {' '.join(e['resolvers'])}")
    for p in e["portals"]:
        print(f"  {p['name']:<34} {' '.join(p['ipv4'] + p['ipv6'])}")


if __name__ == "__main__":
    sys.exit(main())
