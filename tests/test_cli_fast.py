"""`netready dnssec` is answered by netready/entry.py without typer (its import costs as much as the whole
check); these tests keep that path equal to the typer command declared in cli.py."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from netready import entry

NETREADY = str(Path(sys.executable).parent / "netready")
REPO = Path(__file__).resolve().parent.parent


def _typer_options() -> set[str]:
    import typer.main

    from netready import cli

    command = typer.main.get_command(cli.app).commands["dnssec"]
    return {opt for p in command.params for opt in (*p.opts, *p.secondary_opts) if opt.startswith("-")}


def test_fast_path_knows_exactly_the_options_cli_declares():
    parser = entry.dnssec_parser()
    fast = {opt for a in parser._actions for opt in a.option_strings}
    assert fast | set(entry.DELEGATED) == _typer_options() | {"--help"}  # click adds --help itself


@pytest.mark.parametrize("argv", [["--help"], ["x", "--svg", "a.svg"], ["x", "--svg=a.svg"], ["x", "--bogus"],
                                  [], ["x", "--format", "yaml"], ["x", "--timeout", "soon"], ["x", "y"]])
def test_anything_unusual_goes_to_typer(argv):
    assert entry.dnssec(argv) is None


def test_fast_path_does_not_import_typer(tmp_path):
    code = ("import sys; from netready import entry; "
            "rc = entry.dnssec(['a..b', '--root-hints', sys.argv[1]]); "
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
            "rc = entry.dnssec(['a..b', '--root-hints', sys.argv[1], '-f', 'json']); "
            f"print(rc, [m for m in {heavy!r} if m in sys.modules])")
    hints = tmp_path / "hints"
    hints.write_text(". 3600 NS a.root-servers.test.\na.root-servers.test. 3600 A 127.0.0.1\n")
    out = subprocess.run([sys.executable, "-c", code, str(hints)], capture_output=True, text=True, timeout=60,
                         cwd=tmp_path)
    assert out.stdout.splitlines()[-1] == "2 []", out.stdout[-500:] + out.stderr


def test_usage_errors_exit_3_on_both_paths():
    fast = subprocess.run([NETREADY, "dnssec", "x.gov.vn", "--profile", "no-such-profile"], capture_output=True,
                          text=True, timeout=60)
    slow = subprocess.run([NETREADY, "dnssec", "x.gov.vn", "--bogus-option"], capture_output=True, text=True,
                          timeout=60)
    assert fast.returncode == 3 and "no-such-profile" in fast.stderr
    assert slow.returncode == 3


def test_fast_and_typer_paths_give_the_same_report(lab):
    name = "dichvucong.stale.gov.vn"
    fast = subprocess.run([NETREADY, "dnssec", "--lab", name, "--lang", "vi"], capture_output=True, text=True,
                          timeout=120)
    slow = subprocess.run([sys.executable, "-c", "from netready import cli; cli.main()", "dnssec", "--lab", name,
                           "--lang", "vi"], capture_output=True, text=True, timeout=120, cwd=REPO)
    assert fast.returncode == slow.returncode == 1, (fast.stderr, slow.stderr)

    def rules(text: str) -> list[str]:
        return [" ".join(line.split()[:3]) for line in text.splitlines() if line.startswith(("VN-", "BP-"))]

    assert rules(fast.stdout) == rules(slow.stdout) and len(rules(fast.stdout)) == 8
    assert fast.stdout.splitlines()[0] == slow.stdout.splitlines()[0]  # the chain's status line


def test_version_is_the_packages_on_both_paths():
    from importlib.metadata import version

    fast = subprocess.run([NETREADY, "--version"], capture_output=True, text=True, timeout=60)
    slow = subprocess.run([sys.executable, "-c", "from netready import cli; cli.main()", "--version"],
                          capture_output=True, text=True, timeout=60, cwd=REPO)
    assert fast.returncode == slow.returncode == 0
    assert fast.stdout == slow.stdout == f"netready {version('netready')}\n"
    assert "+g" in fast.stdout or ".dev" not in fast.stdout  # a development build names its commit


def test_version_loads_nothing_but_the_version():
    code = ("import sys; sys.argv = ['netready', '--version']; from netready.entry import main\n"
            "try:\n    main()\nexcept SystemExit:\n    pass\n"
            "print(sorted(m for m in sys.modules if m.startswith('netready') or m in ('argparse', 'typing')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.stdout.splitlines()[-1] == "['netready', 'netready._version', 'netready.entry']", out.stderr
