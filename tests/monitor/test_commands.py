"""Rendering `monitor status` for a national fleet: every format says the same, a table stays aligned with
Vietnamese names (also decomposed), and nothing a server or a CSV file sent can drive a terminal."""

from __future__ import annotations

import csv
import io
import json
import unicodedata

from netready.monitor import commands
from netready.monitor.store import StatusRow


def _rows(n: int) -> list[StatusRow]:
    return [StatusRow(f"dichvucong.agency{i}.gov.vn", f"dịch-vụ-công{i}.gov.vn", f"UBND tỉnh {i % 63}", 1796613087,
                      "not-compliant" if i % 3 else "compliant", 90.9 if i % 3 else 100.0,
                      ["VN-TLS-CA"] if i % 3 else [], 90.0 - i % 7, 13.6, True, [] if i % 5 else ["first scan"],
                      2 - (i % 5 == 0)) for i in range(n)]


def test_status_formats_give_every_portal_and_the_same_values():
    rows = _rows(500)
    data = json.loads(commands.render_status(rows, "json", "en"))
    assert data == [r.to_dict() for r in rows] and data[0]["failed_required"] == []
    assert json.loads(commands.render_status([], "json", "en")) == []
    data[1]["failed_required"].append("X")  # to_dict gives copies: the rows are not changed through it
    assert rows[1].failed_required == ["VN-TLS-CA"]
    table = commands.render_status(rows, "csv", "en")
    assert [r["portal"] for r in csv.DictReader(io.StringIO(table))] == [r.portal for r in rows]


def test_status_table_columns_line_up_with_vietnamese_and_control_characters():
    rows = _rows(3)
    rows[1].org = unicodedata.normalize("NFD", "Ủy ban nhân dân tỉnh Đắk Lắk")  # combining marks: no column
    rows[2].display_name = "evil\x1b[2J.gov.vn"
    text = commands.render_status(rows, "table", "vi")
    assert "\x1b" not in text and "evil?[2J.gov.vn" in text
    lines = text.splitlines()
    assert len(lines) == 2 + len(rows) and set(lines[1]) <= {"-", " "}
    dashes = [i for i, c in enumerate(lines[1]) if c == "-" and (i == 0 or lines[1][i - 1] == " ")]
    for line in (lines[0], *lines[2:]):  # every column starts where its dashes start, in terminal columns
        cols = "".join(c for c in line if not unicodedata.combining(c))
        assert all(i == 0 or cols[i - 1] == " " for i in dashes[:4]), line
    assert "không đạt" in text and "lần quét đầu" in text
