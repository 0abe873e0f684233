"""The `netready` command's entry point.

`netready --version` is answered here from the version the build wrote into the package.
`netready dnssec|tls|ipv6 NAME [options]`, what a user (and the DNSSEC and TLS benches) runs most to look at
one portal, and `netready check` (one portal, or a national sweep whose main process then holds no typer,
click or pydantic), are answered here without typer, whose import with its pydantic adapters costs about a quarter
of a second, more than a whole TLS scan of one address. COMMANDS declares each command's options once more,
the way cli.py declares them (tests/test_cli_fast.py keeps the two in step, flag by flag with kinds and
defaults, and compares their output); after parsing, both paths call the same netready.app.area_main.
Anything unusual (--help, --svg, a malformed option, a short option with its value attached, another
command) goes to the typer application in cli.py, which also gives the usage errors.
"""

from __future__ import annotations

import sys

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing: --version imports nothing it does not use
if TYPE_CHECKING:
    import argparse

FORMATS = ("table", "json", "csv", "html", "junit")
LANGS = ("vi", "en")
EXIT_USAGE = 3


class Opt:
    """One option of a command as cli.py declares it. kind: text (one value, the last one given wins), many
    (repeatable: a list, None when absent), flag (present or not; with two flags --x/--no-x: True, False, or
    the default None when neither is given), number (a float), integer (an int within bounds), choice (one
    of choices)."""

    __slots__ = ("flags", "kind", "default", "choices", "dest", "bounds")

    def __init__(self, *flags: str, kind: str = "text", default: object = None, choices: tuple[str, ...] = (),
                 dest: str | None = None, bounds: tuple[int, int] | None = None):
        self.flags, self.kind, self.default, self.choices, self.bounds = flags, kind, default, choices, bounds
        self.dest = dest or flags[0].lstrip("-").replace("-", "_")  # the parameter's name in cli.py


# Options every area command has, then each command's own, in cli.py's names and defaults.
_COMMON = (
    Opt("--resolver", kind="many"),
    Opt("--root-hints"),
    Opt("--lab", kind="flag", default=False),
    Opt("--profile", default="circular32"),
    Opt("--format", "-f", kind="choice", default="table", choices=FORMATS, dest="fmt"),
    Opt("--lang", kind="choice", default="en", choices=LANGS),
    Opt("--output", "-o"),
    Opt("--timeout", kind="number", default=2.0),
)
# command -> (its argument's name in cli.py, its options, the options only the typer application handles)
COMMANDS: dict[str, tuple[str, tuple[Opt, ...], tuple[str, ...]]] = {
    "dnssec": ("name", (*_COMMON, Opt("--trust-anchor")), ("--svg",)),
    "tls": ("host", (*_COMMON, Opt("--address", kind="many"), Opt("--ca-file"), Opt("--sni")), ()),
    "ipv6": ("name", (*_COMMON, Opt("--ca-file"), Opt("--no-browser", kind="flag", default=False),
                      Opt("--follow", kind="many"), Opt("--history", kind="many")), ()),
    # a national sweep's main process: no typer in it (netready.app.check_main). Its argument takes any
    # number of names ("*"), options may come between them.
    "check": ("names", (*_COMMON, Opt("--input", "-i", dest="input_file"), Opt("--resume", kind="flag", default=False),
                        Opt("--trust-anchor"), Opt("--ca-file"),
                        Opt("--concurrency", kind="integer", default=16, bounds=(1, 512)),
                        Opt("--budget", kind="number", default=30.0),
                        Opt("--browser", "--no-browser", kind="flag", default=None),
                        Opt("--follow", kind="many"), Opt("--history", kind="many")), ()),
}
MANY_NAMES = ("check",)  # commands whose argument is a list of names (possibly none)


class _Refuse(Exception):
    """The arguments are not a plain, valid invocation of the command: let typer handle them."""


def parser(command: str) -> argparse.ArgumentParser:
    """An argparse parser for one of COMMANDS that never prints or exits (it raises _Refuse)."""
    import argparse  # here, not above: `netready --version` needs none of it

    class _Parser(argparse.ArgumentParser):
        def error(self, message: str) -> None:  # never print or exit: typer answers malformed input
            raise _Refuse(message)

    argument, options, _ = COMMANDS[command]
    ap = _Parser(prog=f"netready {command}", add_help=False, allow_abbrev=False)
    ap.add_argument(argument, nargs="*" if command in MANY_NAMES else None)
    for opt in options:
        if opt.kind == "flag" and len(opt.flags) == 2:  # --x/--no-x
            ap.add_argument(opt.flags[0], dest=opt.dest, action="store_const", const=True, default=opt.default)
            ap.add_argument(opt.flags[1], dest=opt.dest, action="store_const", const=False, default=opt.default)
        elif opt.kind == "flag":
            ap.add_argument(*opt.flags, dest=opt.dest, action="store_true")
        elif opt.kind == "many":
            ap.add_argument(*opt.flags, dest=opt.dest, action="append")
        else:
            ap.add_argument(*opt.flags, dest=opt.dest, default=opt.default, choices=opt.choices or None,
                            type=_integer(opt.bounds) if opt.kind == "integer" else
                            float if opt.kind == "number" else str)
    return ap


def _integer(bounds: tuple[int, int] | None):  # type: ignore[no-untyped-def]
    """argparse type for an int option: digits only, within bounds (else typer gives the usage error)."""
    def parse(text: str) -> int:
        value = int(text)  # a ValueError reaches argparse, which calls error(): typer handles the input
        if bounds and not bounds[0] <= value <= bounds[1]:
            raise ValueError(f"{value} not in {bounds}")
        return value

    return parse


def _plain(argv: list[str], command: str) -> bool:
    """No help, no option of typer's own, and no short option other than the bare ones declared (click reads
    `-o=x` as the value "=x" where argparse reads "x"; such corners are typer's)."""
    _, options, delegated = COMMANDS[command]
    shorts = {f for opt in options for f in opt.flags if not f.startswith("--")}
    for a in argv:
        if a in ("-h", "--help") or a.split("=", 1)[0] in delegated:
            return False
        if a.startswith("-") and not a.startswith("--") and a != "-" and a not in shorts:
            return False
    return True


def run(command: str, argv: list[str]) -> int | None:
    """Run `netready COMMAND` on argv (after the command word); None when typer must handle it."""
    if command not in COMMANDS or not _plain(argv, command):
        return None
    try:
        ap = parser(command)
        args = vars(ap.parse_intermixed_args(argv) if command in MANY_NAMES else ap.parse_args(argv))
    except _Refuse:
        return None
    from netready.app import area_main, check_main
    from netready.errors import UsageError
    from netready.profiles import ProfileError

    argument = COMMANDS[command][0]
    try:
        if command == "check":
            return check_main(args.pop(argument) or None, args)
        return area_main(command, args.pop(argument), args)
    except (UsageError, ProfileError) as exc:
        sys.stderr.write(f"netready: {exc}\n")
        return EXIT_USAGE


def main() -> None:
    argv = sys.argv[1:]
    if argv == ["--version"]:  # nothing else to load: the version was written into the package at build time
        from netready import version_line

        sys.stdout.write(version_line() + "\n")
        sys.exit(0)
    if argv[:1] and argv[0] in COMMANDS:
        code = run(argv[0], argv[1:])
        if code is not None:
            sys.stdout.flush()
            sys.exit(code)
    from netready.cli import main as typer_main

    typer_main()
