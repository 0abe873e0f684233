"""tabulate's "simple" table (`tabulate(rows, headers, tablefmt="simple")`), drawn without importing tabulate
when the cells allow it.

The findings table is drawn on every run of `netready dnssec|tls|ipv6 NAME` and `check`, and importing
tabulate costs about 35 ms (it loads wcwidth's Unicode tables and importlib.metadata), a tenth of a whole
`netready tls` process. For the cells of these tables (rule ids, words, addresses, sentences in Vietnamese or
English) tabulate's output is simple to reproduce exactly: every column is text and left-aligned, as wide as
its widest cell or its header plus two, cells stripped of surrounding whitespace, columns two spaces apart,
trailing spaces cut, a dashed line under the header. Anything else goes to tabulate itself: a column that
holds no text (tabulate aligns numbers right or on the decimal point and reformats them), a character whose
terminal width may not be one column (CJK, combining marks, emoji, controls), a line break, an escape
sequence other than the colours of netready.render, no rows, rows of unequal length.
tests/test_simple_table.py compares the two on every rule text in both languages and on the corner cases.
"""

from __future__ import annotations

import re

# The SGR colour sequences netready.render._paint writes; tabulate does not count them in a cell's width.
COLOUR = re.compile(r"\x1b\[[0-9;]*m")
# Code points that take exactly one terminal column and never combine: ASCII, Latin-1 and Latin Extended-A/B
# (without the soft hyphen), the Vietnamese letters of Latin Extended Additional, dashes, quotes, bullets and
# the ellipsis, arrows, <= and >= (tests/test_simple_table.py checks each against wcwidth, which tabulate uses).
ONE_COLUMN = ((0x20, 0x7E), (0xA0, 0xAC), (0xAE, 0x24F), (0x1E00, 0x1EFF), (0x2010, 0x2027), (0x2190, 0x21FF),
              (0x2264, 0x2265))
_ONE_COLUMN_RE = re.compile("^[" + "".join(f"\\u{a:04x}-\\u{b:04x}" for a, b in ONE_COLUMN) + "]*$")
# A number with thousands separators ("1,000", "-1,000.5", ".5"), which tabulate also reads as a number.
_GROUPED_NUMBER = re.compile(r"[+-]?[0-9]{1,3}(,[0-9]{3})*(\.[0-9]*)?|\.[0-9]+")


def _is_text(cell: str) -> bool:
    """tabulate surely types this cell as text: not empty, not True/False, not a number in any spelling."""
    if not cell or cell in ("True", "False") or _GROUPED_NUMBER.fullmatch(cell):
        return False
    try:
        float(cell)  # "1e5", "inf", " 12 ", "1_000" (and "1e999", which tabulate calls text: drawn by tabulate)
    except ValueError:
        return True
    return False


def simple_table(rows: list[list[str]], headers: list[str]) -> str:
    """The same text as `tabulate(rows, headers=headers, tablefmt="simple")` (no trailing newline)."""
    if rows and all(isinstance(c, str) for row in rows for c in row) and all(len(r) == len(headers) for r in rows):
        drawn = _draw(rows, headers)
        if drawn is not None:
            return drawn
    from tabulate import tabulate

    return tabulate(rows, headers=headers, tablefmt="simple")


def _draw(rows: list[list[str]], headers: list[str]) -> str | None:
    """The table, or None when tabulate must draw it (see the module's docstring)."""
    cells = [[c.strip() for c in row] for row in rows]
    visible = [[COLOUR.sub("", c) for c in row] for row in cells]
    shown_headers = [COLOUR.sub("", h) for h in headers]
    if not all(_ONE_COLUMN_RE.match(text) for text in (*shown_headers, *(c for row in visible for c in row))):
        return None
    if not all(any(_is_text(COLOUR.sub("", row[i])) for row in rows) for i in range(len(headers))):
        return None
    widths = [max(len(h) + 2, *(len(row[i]) for row in visible)) for i, h in enumerate(shown_headers)]

    def line(texts: list[str], shown: list[str]) -> str:
        return "  ".join(t + " " * (w - len(s)) for t, s, w in zip(texts, shown, widths, strict=True)).rstrip()

    out = [line(headers, shown_headers), "  ".join("-" * w for w in widths)]
    out += [line(row, shown) for row, shown in zip(cells, visible, strict=True)]
    return "\n".join(out)
