"""docs/lab.md carries the scenario tables generated from netready/lab/scenarios.py, unchanged."""

from pathlib import Path

from netready.lab.scenarios import RULES, SCENARIOS, markdown_tables

DOC = Path(__file__).resolve().parents[2] / "docs" / "lab.md"


def test_doc_tables_match_the_catalogue():
    text = DOC.read_text()
    begin = text.index("\n", text.index("<!-- scenario-table:begin")) + 1
    end = text.index("<!-- scenario-table:end")
    assert text[begin:end] == markdown_tables(), "paste `python -m netready.lab table` into docs/lab.md"


def test_every_rule_has_a_verdict_for_every_scenario():
    words = {"pass", "fail", "warn", "info", "error"}
    for sc in SCENARIOS:
        exp = sc.expected()
        assert set(exp) == set(RULES), sc.name
        for v in exp.values():
            assert (set(v.values()) if isinstance(v, dict) else {v}) <= words, (sc.name, v)
