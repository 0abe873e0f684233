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
    when something changed, so clean data is returned as it is)."""
    if isinstance(value, str):
        return clean_text(value)
    if isinstance(value, dict):
        out = {}
        changed = False
        for k, v in value.items():
            ck, cv = clean(k), clean(v)
            changed = changed or ck is not k or cv is not v
            out[ck] = cv
        return out if changed else value
    if isinstance(value, list | tuple):
        items = [clean(v) for v in value]
        if any(a is not b for a, b in zip(items, value, strict=True)):
            return type(value)(items) if isinstance(value, tuple) else items
        return value
    return value


FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value: Any) -> Any:
    """A CSV cell a spreadsheet shows as text: strings that start like a formula get a leading apostrophe
    (OWASP); numbers and empty cells stay as they are."""
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value
