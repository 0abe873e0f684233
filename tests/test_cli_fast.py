"""`netready dnssec|tls|ipv6 NAME` are answered by netready/entry.py without typer (its import costs more than a
whole TLS scan of one address); these tests keep that path equal to the typer commands declared in cli.py."""

from __future__ import annotations

import enum
import json
import re
import subprocess
import sys
import types
import typing
from pathlib import Path

import pytest

from netready import entry

NETREADY = str(Path(sys.executable).parent / "netready")
REPO = Path(__file__).resolve().parent.parent
TYPER = [sys.executable, "-c", "from netready import cli; cli.main()"]  # the same command through typer


def _typer_options(command: str) -> tuple[str, dict[str, tuple]]:  # type: ignore[type-arg]
    """The typer command's argument name, and per option (by parameter name): its flags, kind, default, choices,
    read from the click command typer builds and the type hints of the function in cli.py."""
    import typer.main

    from netready import cli

    params = typer.main.get_command(cli.app).commands[command].params
    hints = typing.get_type_hints(getattr(cli, command))
    argument = next(p.name for p in params if not any(o.startswith("-") for o in p.opts))
    options = {}
    for p in params:
        if p.name == argument:
            continue
        hint = hints[p.name]
        if typing.get_origin(hint) in (typing.Union, types.UnionType):  # X | None
            hint = next(t for t in typing.get_args(hint) if t is not type(None))
        default = p.default.value if isinstance(p.default, enum.Enum) else p.default
        if p.is_flag:
            kind, choices = "flag", ()
        elif p.multiple:
            kind, choices = "many", ()
        elif isinstance(hint, type) and issubclass(hint, enum.Enum):
            kind, choices = "choice", tuple(e.value for e in hint)
        else:
            kind, choices = {float: "number", int: "integer"}.get(hint, "text"), ()
        bounds = (p.min, p.max) if kind == "integer" and getattr(p, "min", None) is not None else None
        options[p.name] = (tuple(sorted([*p.opts, *p.secondary_opts])), kind, default, choices, bounds)
    return argument, options


@pytest.mark.parametrize("command", sorted(entry.COMMANDS))
def test_fast_path_knows_exactly_the_options_cli_declares(command):
    argument, options, delegated = entry.COMMANDS[command]
    typer_argument, typer_options = _typer_options(command)
    fast = {o.dest: (tuple(sorted(o.flags)), o.kind, o.default, o.choices, o.bounds) for o in options}
    left_to_typer = {k: v for k, v in typer_options.items() if set(v[0]) & set(delegated)}
    assert argument == typer_argument
    assert fast == {k: v for k, v in typer_options.items() if k not in left_to_typer}
    assert {f for v in left_to_typer.values() for f in v[0]} >= set(delegated)


def test_the_option_test_sees_an_option_the_fast_path_lacks(monkeypatch):
    argument, options, delegated = entry.COMMANDS["tls"]
    monkeypatch.setitem(entry.COMMANDS, "tls", (argument, tuple(o for o in options if o.dest != "sni"), delegated))
    with pytest.raises(AssertionError):
        test_fast_path_knows_exactly_the_options_cli_declares("tls")


@pytest.mark.parametrize("command,argv", [
    ("dnssec", ["--help"]), ("dnssec", ["-h"]), ("dnssec", ["x", "--svg", "a.svg"]), ("dnssec", ["x", "--svg=a.svg"]),
    ("dnssec", ["x", "--bogus"]), ("dnssec", []), ("dnssec", ["x", "--format", "yaml"]),
    ("dnssec", ["x", "--timeout", "soon"]), ("dnssec", ["x", "y"]),
    ("tls", ["--help"]), ("tls", []), ("tls", ["x", "y"]), ("tls", ["x", "--sni"]), ("tls", ["x", "-fjson"]),
    ("tls", ["x", "-o=out.txt"]), ("tls", ["x", "--lab=yes"]), ("tls", ["x", "--timeout", "-1"]),
    ("tls", ["x", "--address"]), ("tls", ["x", "--trust-anchor", "ta"]), ("tls", ["x", "--lang", "fr"]),
    ("tls", ["x", "--form", "json"]), ("tls", ["x", "--form=json"]),  # no abbreviations, as in click
    ("ipv6", ["x", "--browser"]), ("ipv6", ["x", "--no-browser=1"]), ("ipv6", ["x", "--sni", "y"]),
    ("check", ["x", "--concurrency", "0"]), ("check", ["x", "--concurrency", "1.5"]), ("check", ["-ix.txt"]),
    ("check", ["--browser=1"]), ("check", ["x", "--budget"]), ("rejudge", ["x"]), ("lab", ["up"]),
])
def test_anything_unusual_goes_to_typer(command, argv):
    assert entry.run(command, argv) is None


def test_the_fast_path_reads_what_typer_reads():
    args = vars(entry.parser("tls").parse_args(["h:8443", "-f", "json", "--address", "a", "--address=b", "-o", "-",
                                                "--lab", "--timeout=0.5", "--sni", "s", "--resolver", "r"]))
    assert args == {"host": "h:8443", "fmt": "json", "address": ["a", "b"], "output": "-", "lab": True,
                    "timeout": 0.5, "sni": "s", "resolver": ["r"], "root_hints": None, "ca_file": None,
                    "profile": "circular32", "lang": "en"}


def test_fast_path_does_not_import_typer(tmp_path):
    code = ("import sys; from netready import entry; "
            "rc = entry.run('dnssec', ['a..b', '--root-hints', sys.argv[1]]); "
            "print(rc, 'typer' in sys.modules, 'pydantic' in sys.modules)")
    hints = tmp_path / "hints"
    hints.write_text(". 3600 NS a.root-servers.test.\na.root-servers.test. 3600 A 127.0.0.1\n")
    out = subprocess.run([sys.executable, "-c", code, str(hints)], capture_output=True, text=True, timeout=60,
                         cwd=REPO)
    last = out.stdout.splitlines()[-1].split()  # after the report of the bad name
    assert last == ["2", "False", "False"], out.stderr  # undetermined (exit 2), and neither typer nor pydantic


def test_a_json_check_loads_neither_renderers_of_other_formats_nor_the_lab_orchestration(tmp_path):
    heavy = ("tabulate", "jinja2", "scapy", "netready.lab.orchestrate", "typer", "ansible_runner", "docx")
    code = ("import sys; from netready import entry; "
            "rc = entry.run('dnssec', ['a..b', '--root-hints', sys.argv[1], '-f', 'json']); "
            f"print(rc, [m for m in {heavy!r} if m in sys.modules])")
    hints = tmp_path / "hints"
    hints.write_text(". 3600 NS a.root-servers.test.\na.root-servers.test. 3600 A 127.0.0.1\n")
    out = subprocess.run([sys.executable, "-c", code, str(hints)], capture_output=True, text=True, timeout=60,
                         cwd=tmp_path)
    assert out.stdout.splitlines()[-1] == "2 []", out.stdout[-500:] + out.stderr


def test_a_tls_table_on_given_addresses_loads_no_typer_tabulate_dnspython_or_lab_tables(tmp_path):
    """What `netready tls NAME --address A` (the TLS bench's command) needs is the probe, the judge and the
    table: not typer and pydantic, tabulate and wcwidth, dnspython (a plain name, addresses given) or the lab."""
    heavy = ("typer", "pydantic", "tabulate", "wcwidth", "dns", "importlib.metadata", "jinja2",
             "netready.lab.scenarios", "netready.lab.orchestrate")
    code = ("import sys; from netready import entry; "
            "rc = entry.run('tls', ['portal.gov.vn:1', '--address', '127.0.0.1', '--timeout', '1']); "
            f"print(rc, [m for m in {heavy!r} if m in sys.modules])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert out.stdout.splitlines()[-1] == "1 []", out.stdout[-800:] + out.stderr  # port 1 refused: VN-HTTPS fails
    assert "VN-HTTPS" in out.stdout  # the findings table was drawn


@pytest.mark.parametrize("argv", [["dnssec", "x.gov.vn", "--profile", "no-such-profile"],
                                  ["tls", "x.gov.vn:99999"], ["tls", "[2001:db8::1]:http"],
                                  ["tls", "x.gov.vn", "--ca-file", "/nonexistent/ca.pem"],
                                  ["ipv6", "x.gov.vn", "--follow", "two words"]])
def test_usage_errors_are_the_same_on_both_paths(argv):
    fast = subprocess.run([NETREADY, *argv], capture_output=True, text=True, timeout=60)
    slow = subprocess.run([*TYPER, *argv], capture_output=True, text=True, timeout=60, cwd=REPO)
    assert fast.returncode == slow.returncode == 3, (fast.stderr, slow.stderr)
    assert fast.stderr == slow.stderr and fast.stderr.startswith("netready: ")
    assert fast.stdout == slow.stdout == ""


def test_malformed_options_exit_3_through_typer():
    out = subprocess.run([NETREADY, "tls", "x.gov.vn", "--bogus-option"], capture_output=True, text=True, timeout=60)
    assert out.returncode == 3 and "--bogus-option" in out.stderr


def test_fast_and_typer_paths_give_the_same_report(lab):
    name = "dichvucong.stale.gov.vn"
    fast = subprocess.run([NETREADY, "dnssec", "--lab", name, "--lang", "vi"], capture_output=True, text=True,
                          timeout=120)
    slow = subprocess.run([*TYPER, "dnssec", "--lab", name, "--lang", "vi"], capture_output=True, text=True,
                          timeout=120, cwd=REPO)
    assert fast.returncode == slow.returncode == 1, (fast.stderr, slow.stderr)

    def rules(text: str) -> list[str]:
        return [" ".join(line.split()[:3]) for line in text.splitlines() if line.startswith(("VN-", "BP-"))]

    assert rules(fast.stdout) == rules(slow.stdout) and len(rules(fast.stdout)) == 8
    assert fast.stdout.splitlines()[0] == slow.stdout.splitlines()[0]  # the chain's status line


def _steady(text: str) -> list[str]:
    """The lines of a `netready tls` table that do not carry a measured time."""
    return [line for line in text.splitlines() if not re.search(r"\b\d+(\.\d+)? ms\b", line)]


def _steady_json(text: str) -> dict:  # type: ignore[type-arg]
    report = json.loads(text)
    return {"findings": [r["findings"] for r in report["results"]], "summary": report["summary"],
            "targets": [r["target"] for r in report["results"]], "settings": report["settings"],
            "observations": [[(o["id"], o.get("error")) for o in r["observations"]] for r in report["results"]]}


@pytest.mark.parametrize("how", [["--lang", "vi"], ["-f", "json"], ["--address", "{address}", "--ca-file", "{ca}"]])
def test_fast_and_typer_paths_give_the_same_tls_report(lab, how):
    """The legacy portal (TLS 1.0-1.2, static RSA: every weakness check runs, most rules fail), both paths: the
    same table or JSON, the same exit code."""
    portal = next(p for p in lab.portals if p.scenario == "legacy")
    argv = ["tls", "--lab", portal.name, *(a.format(address=portal.ipv4[0], ca=lab.ca_bundle) for a in how)]
    fast = subprocess.run([NETREADY, *argv], capture_output=True, text=True, timeout=120)
    slow = subprocess.run([*TYPER, *argv], capture_output=True, text=True, timeout=120, cwd=REPO)
    assert fast.returncode == slow.returncode == 1, (fast.stderr, slow.stderr)
    if "json" in how:
        assert _steady_json(fast.stdout) == _steady_json(slow.stdout)
    else:
        assert _steady(fast.stdout) == _steady(slow.stdout)
        assert sum(line.startswith(("VN-", "BP-")) for line in fast.stdout.splitlines()) >= 12


def test_the_tls_findings_table_is_tabulates_own(lab, lab_settings, monkeypatch):
    """The findings table of a real report, coloured and in both languages, drawn by netready/simple_table.py
    and by tabulate: the same text."""
    from netready import simple_table
    from netready.app import area_report
    from netready.profiles import load_for_run
    from netready.render import render

    portal = next(p for p in lab.portals if p.scenario == "legacy")
    report = area_report("tls", portal.name, lab_settings, load_for_run("circular32", True),
                         addresses=[portal.ipv4[0]])
    ours = {(lang, colour): render(report, "table", lang, colour) for lang in ("en", "vi") for colour in (False, True)}
    drawn: list[str | None] = []
    draw = simple_table._draw
    monkeypatch.setattr(simple_table, "_draw", lambda rows, headers: drawn.append(draw(rows, headers)))
    assert drawn == [] and all(ours[k] == render(report, "table", *k) for k in ours)
    assert len(drawn) == 4 and None not in drawn  # this module drew all four, tabulate the comparison


def test_fast_and_typer_paths_give_the_same_ipv6_report(lab):
    name = "dichvucong.good.gov.vn"
    argv = ["ipv6", "--lab", "--no-browser", name, "-f", "json"]
    fast = subprocess.run([NETREADY, *argv], capture_output=True, text=True, timeout=180)
    slow = subprocess.run([*TYPER, *argv], capture_output=True, text=True, timeout=180, cwd=REPO)
    assert fast.returncode == slow.returncode == 0, (fast.stderr, slow.stderr)
    assert [f["rule_id"] for f in _steady_json(fast.stdout)["findings"][0]] == \
           [f["rule_id"] for f in _steady_json(slow.stdout)["findings"][0]]
    assert _steady_json(fast.stdout)["summary"] == _steady_json(slow.stdout)["summary"]


def test_version_is_the_packages_on_both_paths():
    from importlib.metadata import version

    fast = subprocess.run([NETREADY, "--version"], capture_output=True, text=True, timeout=60)
    slow = subprocess.run([*TYPER, "--version"], capture_output=True, text=True, timeout=60, cwd=REPO)
    assert fast.returncode == slow.returncode == 0
    assert fast.stdout == slow.stdout == f"netready {version('netready')}\n"
    assert "+g" in fast.stdout or ".dev" not in fast.stdout  # a development build names its commit


def test_version_loads_nothing_but_the_version():
    code = ("import sys; sys.argv = ['netready', '--version']; from netready.entry import main\n"
            "try:\n    main()\nexcept SystemExit:\n    pass\n"
            "print(sorted(m for m in sys.modules if m.startswith('netready') or m in ('argparse', 'typing')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.stdout.splitlines()[-1] == "['netready', 'netready._version', 'netready.entry']", out.stderr


def _verdicts(path: Path) -> tuple:
    from netready.model import Report

    report = Report.load(path)
    return sorted((f.target, f.rule_id, f.subject, f.verdict) for f in report.findings), report.summary["totals"]


def test_fast_and_typer_paths_check_names_alike(lab, tmp_path):
    """`netready check` with names between the options, a journal and a report: the same verdicts, exit code
    and message on both paths (a national sweep's main process runs the fast one)."""
    names = ["dichvucong.good.gov.vn", next(p.name for p in lab.portals if p.scenario == "legacy")]
    runs = {}
    for path, cmd in (("fast", [NETREADY]), ("typer", TYPER)):
        out = tmp_path / f"{path}.json"
        argv = ["check", names[0], "--lab", "--no-browser", "-f", "json", names[1], "-o", str(out),
                "--concurrency", "2", "--lang", "vi"]
        runs[path] = subprocess.run([*cmd, *argv], capture_output=True, text=True, timeout=300, cwd=REPO)
        assert (tmp_path / f"{path}.json.jsonl").is_file()
        runs[path].verdicts = _verdicts(out)  # type: ignore[attr-defined]
    fast, slow = runs["fast"], runs["typer"]
    assert fast.returncode == slow.returncode == 1, (fast.stderr, slow.stderr)  # the legacy portal fails
    assert fast.stderr.replace("fast.json", "X") == slow.stderr.replace("typer.json", "X")
    assert "đã ghi báo cáo" in fast.stderr
    assert fast.verdicts == slow.verdicts and fast.verdicts[1]["targets"] == 2  # type: ignore[attr-defined]


def test_a_sweep_main_process_loads_no_typer(tmp_path):
    """The fast path of `check` (here on a name that does not resolve: nothing to reach) imports no typer,
    click or pydantic: the main process of a national sweep is that much smaller."""
    hints = tmp_path / "root.hints"
    hints.write_text(". 3600000 NS a.root.invalid.\na.root.invalid. 3600000 A 127.0.0.1\n", encoding="utf-8")
    code = ("import sys; from netready import entry; "
            f"rc = entry.run('check', ['a..b', '--root-hints', {str(hints)!r}, '-f', 'json', '--timeout', '0.2']); "
            "print(rc, [m for m in ('typer', 'click', 'pydantic', 'rich') if m in sys.modules])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert out.stdout.splitlines()[-1] == "2 []", out.stdout[-800:] + out.stderr  # an invalid name: undetermined


@pytest.mark.parametrize("command", ["tls", "dnssec", "ipv6", "check"])
def test_lab_that_is_not_up_is_one_line_and_exit_3_on_both_paths(command, tmp_path):
    """`netready tls NAME --lab` with no lab up printed a LabError traceback; now a usage error, on both paths."""
    import os

    env = dict(os.environ, NETREADY_LAB_NAME="notuplab", NETREADY_LAB_DIR=str(tmp_path))
    argv = [command, "x.gov.vn", "--lab"]
    fast = subprocess.run([NETREADY, *argv], capture_output=True, text=True, timeout=60, env=env)
    slow = subprocess.run([*TYPER, *argv], capture_output=True, text=True, timeout=60, cwd=REPO, env=env)
    assert fast.returncode == slow.returncode == 3, (fast.stderr, slow.stderr)
    assert fast.stderr == slow.stderr
    assert fast.stderr.startswith("netready: --lab: lab 'notuplab' is not up") and "Traceback" not in fast.stderr
    assert fast.stderr.count("\n") == 1
