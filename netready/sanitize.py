"""Text from servers made safe once, where it enters the model (issue #15, item 9).

Servers choose the bytes of their headers, certificate fields, DNS names and error texts. A C0/C1 control
character or a bidirectional override in them could move a terminal's cursor or change its colours (table
output), make the JUnit XML invalid (XML 1.0 forbids most C0 characters), crash a DOCX writer, or make a
report read differently from what it says. `clean()` replaces each such character by a visible escape
(``\\x1b``, ``\\u202e``): the evidence keeps what the server sent, and nothing downstream can act on it.
Tab and newline stay (PEM blocks, multi-line messages). The result holds no such character, so cleaning
again changes nothing: renderers can trust any text that came through a probe or a loaded report.

`csv_cell()` is the other neutraliser: a spreadsheet runs a cell that starts with = + - @ (or a tab or
carriage return before them) as a formula (OWASP "CSV injection"); such a cell gets a leading apostrophe.
"""

from __future__ import annotations

import json
import re
from typing import Any

# C0 except tab and newline, DEL, C1, and the Unicode bidi marks/overrides/isolates ("Trojan Source").
UNSAFE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def clean_text(text: str) -> str:
    """text with every unsafe character replaced by its visible escape (unchanged when there is none)."""
    return UNSAFE.sub(_escape, text) if UNSAFE.search(text) else text


def clean(value: Any) -> Any:
    """value with clean_text() applied to every string in it, dict keys included (lists/dicts rebuilt only
    when something changed, so clean data is returned as it is). It runs on every observation of a batch:
    containers are first serialised once in C and searched, and walked only when that finds something."""
    if isinstance(value, dict | list | tuple):
        try:
            text = json.dumps(value, ensure_ascii=False, default=str)
        except (TypeError, ValueError):
            return _clean(value)
        return _clean(value) if _JSON_UNSAFE.search(text) else value
    return _clean(value)


# What UNSAFE matches, as json.dumps writes it: C0 as \u00XX or \b \f \r (\t \n stay allowed), DEL, C1 and
# the bidi marks raw. A literal backslash before b/f/r also matches: harmless, the walk then finds nothing.
_JSON_UNSAFE = re.compile(r"\\u00[01][0-9a-fA-F]|\\[bfr]|[\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def _clean(value: Any) -> Any:
    kind = type(value)
    if kind is str:
        return _sub(_escape, value) if _search(value) else value
    if kind is dict:
        out = {}
        changed = False
        for k, v in value.items():
            ck, cv = _clean(k), _clean(v)
            changed = changed or ck is not k or cv is not v
            out[ck] = cv
        return out if changed else value
    if kind is list or kind is tuple:
        items = [_clean(v) for v in value]
        if any(a is not b for a, b in zip(items, value, strict=True)):
            return tuple(items) if kind is tuple else items
        return value
    if isinstance(value, str):  # a str subclass
        return clean_text(str(value))
    return value


_search, _sub = UNSAFE.search, UNSAFE.sub


FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value: Any) -> Any:
    """A CSV cell a spreadsheet shows as text: strings that start like a formula get a leading apostrophe
    (OWASP); numbers and empty cells stay as they are."""
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value
