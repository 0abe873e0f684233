"""netready/simple_table.py draws tabulate's "simple" table without importing tabulate; these tests hold it to
tabulate's own output, on the texts netready's reports are made of and on the corner cases it leaves to
tabulate."""

from __future__ import annotations

import ast
import random
import unicodedata
from pathlib import Path

import pytest
import wcwidth
import yaml
from tabulate import tabulate

from netready import render, simple_table
from netready.simple_table import ONE_COLUMN
from netready.simple_table import simple_table as draw

REPO = Path(__file__).resolve().parent.parent


def _tabulate(rows: list[list[str]], headers: list[str]) -> str:
    return tabulate(rows, headers=headers, tablefmt="simple")


def _report_texts() -> list[str]:
    """Every text a findings table can show: the rule catalogue and the document texts in both languages, and
    the string literals of the judges (the reasons of findings are made from them)."""
    texts: list[str] = []

    def walk(node: object) -> None:
        if isinstance(node, str):
            texts.append(node)
        elif isinstance(node, dict):
            for v in node.values():
                walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)

    for name in ("rules.yaml", "messages.yaml"):
        walk(yaml.safe_load((REPO / "netready" / "data" / name).read_text(encoding="utf-8")))
    for path in sorted((REPO / "netready" / "evaluate").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                texts.append(node.value)
    return [" ".join(t.split()) for t in texts if t.strip()]


def test_every_one_column_character_is_one_column_for_wcwidth():
    chars = "".join(chr(c) for a, b in ONE_COLUMN for c in range(a, b + 1))
    assert all(wcwidth.wcwidth(c) == 1 for c in chars), [hex(ord(c)) for c in chars if wcwidth.wcwidth(c) != 1]
    assert not any(unicodedata.combining(c) for c in chars)
    assert wcwidth.wcswidth(chars) == len(chars)


@pytest.mark.parametrize("lang", ["en", "vi"])
def test_findings_tables_of_report_texts_are_drawn_here_exactly_as_tabulate_draws_them(lang):
    texts = _report_texts()
    words = [*render.VERDICT_WORDS[lang].values(), *render.LEVEL_WORDS[lang].values()]
    subjects = ["198.51.100.129", "2001:db8::10", "dichvucong.good.gov.vn", "gov.vn", "", "dịch-vụ.gov.vn"]
    headers = [render.LABELS[lang][k] for k in ("rule", "level", "verdict", "subject", "reason")]
    rnd = random.Random(19)
    drawn_here = 0
    for n in range(300):
        rows = []
        for _ in range(rnd.randint(1, 14)):
            verdict = rnd.choice(list(render.VERDICT_WORDS[lang]))
            word = render.VERDICT_WORDS[lang][verdict]
            rows.append([rnd.choice(["VN-HTTPS", "BP-TLS-VULNS", "VN-DNSSEC-CHAIN", "X"]), rnd.choice(words),
                         render._paint(word, verdict, colour=n % 2 == 0), rnd.choice(subjects),
                         render._short(rnd.choice(texts))])
        assert draw(rows, headers) == _tabulate(rows, headers), rows
        drawn_here += simple_table._draw(rows, headers) is not None
    assert drawn_here >= 250  # tabulate is the exception, not the rule (the judges' texts: Vietnamese and ASCII)


@pytest.mark.parametrize("rows", [
    [["a", "1"], ["b", "22"]],  # a column of numbers: tabulate aligns it right
    [["a", "1.5"], ["b", "1,000"]],  # decimals, thousands separators
    [["a", "True"], ["b", "False"]],  # booleans
    [["a", ""], ["b", ""]],  # an empty column
    [["a", "1e999"], ["b", "inf"]],
    [["日本語", "x"], ["b", "y"]],  # two columns per character
    [["Vie\u0302\u0323t", "x"], ["b", "y"]],  # decomposed Vietnamese: combining marks take no column
    [["a\nb", "x"], ["c", "y"]],  # a line break
    [["a\tb", "x"], ["c", "y"]],
    [["\x1b]8;;https://gov.vn\x1b\\link\x1b]8;;\x1b\\", "x"], ["c", "y"]],  # an escape sequence that is not a colour
    [["\x01", "x"], ["c", "y"]],  # tabulate's separating line
    [["a\u00ad", "x"], ["c", "y"]],  # soft hyphen
    [],  # no rows
])
def test_what_this_module_does_not_draw_is_drawn_by_tabulate(rows):
    headers = ["name", "value"]
    assert simple_table._draw(rows, headers) is None
    assert draw(rows, headers) == _tabulate(rows, headers)


@pytest.mark.parametrize("rows", [
    [["  padded  ", "x"], ["b", "\xa0nbsp\xa0"]],  # cells are stripped (also of no-break spaces)
    [["short", "a"], ["b", "c"]],  # header plus two wider than every cell
    [["a", "12"], ["b", "twelve"]],  # a number in a text column stays as written
    [["a", "\x1b[31mđỏ\x1b[0m"], ["b", "xanh lá cây"]],  # colours take no column
    [["a", "1.50"], ["b", "x"]],
    [["a", "-"], ["b", "-"]],  # "-" is text to tabulate too (a score not measured)
    [["quá dài — mũi tên → ≥ 2048 “trích” … ", "x"], ["b", "y"]],
])
def test_corners_it_draws_itself_match_tabulate(rows):
    headers = ["tên", "giá trị"]
    assert simple_table._draw(rows, headers) is not None
    assert draw(rows, headers) == _tabulate(rows, headers)


def test_none_cells_and_ragged_rows_go_to_tabulate():
    with_none: list[list] = [["a", None]]  # type: ignore[type-arg]
    assert draw(with_none, ["x", "y"]) == tabulate(with_none, headers=["x", "y"], tablefmt="simple")
    assert draw([["a"], ["b", "c"]], ["x", "y"]) == tabulate([["a"], ["b", "c"]], headers=["x", "y"],
                                                             tablefmt="simple")
