"""Probes measure, evaluators judge (issue #16): the judges and the shared tables never import a probe, and the
probes never import a judge or a view. Read from the source's syntax tree, so an import hidden inside a
function (a lazy one) counts too."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import netready

PACKAGE = Path(netready.__file__).resolve().parent
REPO = PACKAGE.parent


def imported_modules(path: Path, root: Path = PACKAGE) -> set[str]:
    """Every module a file under the netready package (at root) imports, anywhere in it, as absolute dotted
    names (relative imports resolved; `from netready import probes` counts as netready.probes)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    package = ".".join(["netready", *path.relative_to(root).parts[:-1]])
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                parts = parts[: len(parts) - node.level + 1]
                base = ".".join([*parts, base] if base else parts)
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
    return found


def offenders(folder: str, banned: tuple[str, ...], root: Path = PACKAGE) -> dict[str, list[str]]:
    out = {}
    for path in sorted((root / folder).rglob("*.py")):
        bad = sorted(m for m in imported_modules(path, root) if m.startswith(banned))
        if bad:
            out[str(path.relative_to(root))] = bad
    return out


def banned_names(*modules: str) -> tuple[str, ...]:
    return tuple(n for m in modules for n in (m, m + "."))


def test_no_evaluator_imports_a_probe():
    assert offenders("evaluate", banned_names("netready.probes", "probes")) == {}


def test_the_shared_tables_import_neither_probes_nor_judges():
    assert offenders("tables", banned_names("netready.probes", "probes", "netready.evaluate", "netready.views")) == {}


def test_no_probe_imports_a_judge_or_a_view():
    assert (PACKAGE / "probes").resolve() == (REPO / "probes").resolve()  # the link of the import rename
    assert offenders("probes", banned_names("netready.evaluate", "netready.views", "netready.render")) == {}


@pytest.mark.parametrize("source", [
    "from netready.probes.tls_suites import classify",
    "import netready.probes.http",
    "from netready import probes",
    "def later():\n    from netready.probes.ipv6 import classify\n",
    "from ..probes import tls",
    "from ..probes.tls_suites import classify",
])
def test_the_walk_sees_every_way_of_importing_a_probe(tmp_path, source):
    """The check above cannot pass by missing an import: each spelling is caught in a scratch package."""
    (tmp_path / "evaluate").mkdir()
    (tmp_path / "evaluate" / "judge.py").write_text(source, encoding="utf-8")
    assert offenders("evaluate", banned_names("netready.probes", "probes"), tmp_path)["evaluate/judge.py"]


def test_a_judge_that_imports_only_tables_is_clean(tmp_path):
    (tmp_path / "evaluate").mkdir()
    (tmp_path / "evaluate" / "judge.py").write_text("from netready.tables.tls import classify\nfrom . import ladder\n")
    assert offenders("evaluate", banned_names("netready.probes", "probes"), tmp_path) == {}
