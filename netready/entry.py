"""The `netready` command's entry point.

`netready --version` is answered here from the version the build wrote into the package.
`netready dnssec NAME [options]` is what a user (and the DNSSEC bench) runs most to look at one portal: it
is answered here without typer, whose import with its pydantic adapters costs about as much as the whole
DNSSEC check. The options are the ones cli.py declares for the command (tests/test_cli_fast.py keeps the
two in step and compares their output); anything else (--help, --svg, a malformed option, another command)
goes to the typer application in cli.py, which also gives the usage errors.
"""

from __future__ import annotations

import sys

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing: --version imports nothing it does not use
if TYPE_CHECKING:
    import argparse

FORMATS = ("table", "json", "csv", "html", "junit")
LANGS = ("vi", "en")
EXIT_USAGE = 3


class _Refuse(Exception):
    """The arguments are not a plain, valid `dnssec` invocation: let typer handle them."""


def dnssec_parser() -> argparse.ArgumentParser:
    import argparse  # here, not above: `netready --version` needs none of it

    class _Parser(argparse.ArgumentParser):
        def error(self, message: str) -> None:  # never print or exit: typer answers malformed input
            raise _Refuse(message)

    ap = _Parser(prog="netready dnssec", add_help=False, allow_abbrev=False)
    ap.add_argument("name")
    ap.add_argument("--trust-anchor")
    ap.add_argument("--root-hints")
    ap.add_argument("--resolver", action="append")
    ap.add_argument("--lab", action="store_true")
    ap.add_argument("--profile", default="circular32")
    ap.add_argument("--format", "-f", default="table", choices=FORMATS)
    ap.add_argument("--lang", default="en", choices=LANGS)
    ap.add_argument("--output", "-o")
    ap.add_argument("--timeout", type=float, default=2.0)
    return ap


DELEGATED = ("--help", "--svg")  # options of the dnssec command that only the typer application handles


def dnssec(argv: list[str]) -> int | None:
    """Run `netready dnssec` on argv (after the command word); None when typer must handle it."""
    if any(a == "-h" or a.split("=", 1)[0] in DELEGATED for a in argv):
        return None
    try:
        args = dnssec_parser().parse_args(argv)
    except _Refuse:
        return None
    from netready.app import area_command
    from netready.errors import UsageError
    from netready.profiles import ProfileError

    settings_args = dict(resolvers=args.resolver, root_hints=args.root_hints, trust_anchor=args.trust_anchor,
                         timeout=args.timeout, use_lab=args.lab)
    try:
        text, code = area_command("dnssec", args.name, args.format, args.lang, args.profile, settings_args)
    except (UsageError, ProfileError) as exc:
        sys.stderr.write(f"netready: {exc}\n")
        return EXIT_USAGE
    if args.output:
        from pathlib import Path

        Path(args.output).write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)
    return code


def main() -> None:
    argv = sys.argv[1:]
    if argv == ["--version"]:  # nothing else to load: the version was written into the package at build time
        from netready import version_line

        sys.stdout.write(version_line() + "\n")
        sys.exit(0)
    if argv[:1] == ["dnssec"]:
        code = dnssec(argv[1:])
        if code is not None:
            sys.stdout.flush()
            sys.exit(code)
    from netready.cli import main as typer_main

    typer_main()
