"""Reports that hostile servers cannot subvert (issue #15, items 8 and 9): a real lab report whose every string
field carries script, `javascript:` URLs, spreadsheet formulas and terminal escapes goes through `netready
rejudge` and `netready merge` in every format; the HTML has no script and a Content-Security-Policy, the table
no escape sequence, the CSV no formula, the JUnit validates against the JUnit XSD, the JSON holds no control
character, and the DOCX/PDF plan is written. The DNSSEC chain picture is drawn from counters and sanitised."""

from __future__ import annotations

import copy
import csv
import io
import json
import os
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest

from netready.model import Observation, Report
from netready.sanitize import UNSAFE, clean, clean_text, csv_cell
from netready.views.dnssec import chain_dot, chain_svg, sanitize_svg

NETREADY = str(Path(sys.executable).parent / "netready")
XSD = Path(__file__).parent / "data" / "junit.xsd"
PORTALS = ["dichvucong.good.gov.vn", "dichvucong.bogus.gov.vn", "dichvucong.legacy.gov.vn"]
# A spreadsheet formula first (CSV), then markup and script URLs (HTML), then terminal control (table/JUnit).
PAYLOAD = ('=HYPERLINK("http://x")<script>alert(1)</script>"\'><img src=x onerror=alert(2)>'
           '<a href="javascript:alert(3)">j</a>javascript:alert(4)\x1b[2J\x1b]0;pwned\x07\x9b31m\u202e\x00')
FORMATS = ("table", "json", "csv", "html", "junit")
# Fields whose values are names the code looks up (probe kind, verdict, status...): poisoning them too only
# sends every observation to "unknown" and the rich parts (certificates, chain picture) are never drawn.
STRUCTURAL = {"probe", "verdict", "level", "rule_id", "status", "type", "kind", "digest_type", "source"}
# A stored finding's verdict and level must be one of the known words, or the file is refused at load
# (test_loaded_report_..._refuses_bad_verdicts); everything else is fair game.
ENUMS = {"verdict", "level"}


def poison(value, keep_structure: bool, key: str = ""):
    if isinstance(value, str):
        if key in (STRUCTURAL if keep_structure else ENUMS):
            return value
        return PAYLOAD + value + PAYLOAD
    if isinstance(value, dict):
        return {k: poison(v, keep_structure, k) for k, v in value.items()}
    if isinstance(value, list):
        return [poison(v, keep_structure, key) for v in value]
    return value


@pytest.fixture(scope="module")
def lab_report(lab_settings) -> dict:
    from netready.profiles import load_profile
    from netready.scan import scan

    return scan(PORTALS, lab_settings, load_profile("lab")).to_dict()


@pytest.fixture(scope="module", params=["every-field", "keep-structure"])
def hostile_file(request, lab_report, tmp_path_factory) -> Path:
    data = poison(copy.deepcopy(lab_report), request.param == "keep-structure")
    data["schema_version"] = lab_report["schema_version"]
    path = tmp_path_factory.mktemp(request.param) / "isp-a.json"
    path.write_text(json.dumps(data, ensure_ascii=False))
    return path


def _run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([NETREADY, *args], capture_output=True, text=True, timeout=300, cwd=cwd,
                          env=dict(os.environ, NO_COLOR="1"))


class _Elements(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    handle_startendtag = handle_starttag


def assert_html_safe(html: str) -> None:
    parser = _Elements()
    parser.feed(html)
    tags = parser.tags
    names = [t for t, _ in tags]
    assert "script" not in names and "img" not in names and "iframe" not in names and "foreignobject" not in names
    for tag, attrs in tags:
        for name, value in attrs.items():
            assert not name.startswith("on"), (tag, name, value)
            if name in ("href", "src", "xlink:href", "action", "formaction"):
                raise AssertionError(f"<{tag} {name}={value!r}> in the report")
            assert "javascript:" not in (value or "").lower() or name == "content", (tag, name, value)
    assert not UNSAFE.search(html)
    csp = [a["content"] for t, a in tags if t == "meta" and (a.get("http-equiv") or "").lower()
           == "content-security-policy"]
    assert len(csp) == 1 and "script-src 'self'" in csp[0] and "default-src 'none'" in csp[0]
    assert "'unsafe-inline'" not in csp[0]
    assert names.index("meta") < names.index("style")  # the policy comes before anything it governs


def assert_csv_safe(text: str) -> None:
    rows = list(csv.reader(io.StringIO(text)))
    assert len(rows) > 1
    for row in rows:
        for cell in row:
            assert not cell.startswith(("=", "+", "-", "@", "\t", "\r")), cell


def assert_junit_valid(text: str) -> None:
    from lxml import etree

    schema = etree.XMLSchema(etree.parse(str(XSD)))
    doc = etree.fromstring(text.encode())
    assert schema.validate(doc), schema.error_log
    assert doc.findall(".//testcase")


def assert_json_clean(text: str) -> None:
    def walk(v):
        if isinstance(v, str):
            assert not UNSAFE.search(v), v
        elif isinstance(v, dict):
            for k, x in v.items():
                walk(k)
                walk(x)
        elif isinstance(v, list):
            for x in v:
                walk(x)

    walk(json.loads(text))


CHECKS = {"html": assert_html_safe, "csv": assert_csv_safe, "junit": assert_junit_valid, "json": assert_json_clean,
          "table": lambda text: not UNSAFE.search(text) or pytest.fail(repr(UNSAFE.search(text)))}


@pytest.mark.parametrize("fmt", FORMATS)
def test_rejudge_of_a_hostile_report_is_inert_in_every_format(hostile_file, fmt):
    r = _run("rejudge", str(hostile_file), "--profile", "lab", "-f", fmt)
    assert r.returncode in (0, 1, 2), r.stderr[-2000:]
    assert r.stdout.strip()
    CHECKS[fmt](r.stdout)
    assert "\x1b" not in r.stdout and "\x9b" not in r.stdout


@pytest.mark.parametrize("fmt", FORMATS)
def test_merge_of_hostile_reports_is_inert_in_every_format(hostile_file, fmt, tmp_path):
    other = tmp_path / "isp-b.json"
    other.write_text(hostile_file.read_text())
    out = tmp_path / f"merged.{fmt}"
    r = _run("merge", str(hostile_file), str(other), "--profile", "lab", "-f", fmt, "-o", str(out))
    assert r.returncode in (0, 1, 2), r.stderr[-2000:]
    CHECKS[fmt](out.read_text())
    assert not UNSAFE.search(r.stderr)


def test_merge_never_reads_a_profile_path_named_by_a_report(lab_report, tmp_path):
    data = copy.deepcopy(lab_report)
    evil = tmp_path / "evil.yaml"
    evil.write_text("name: evil\nlevels: {VN-DNSSEC: info}\n")
    data["profile"] = str(evil)
    for name in ("a.json", "b.json"):
        (tmp_path / name).write_text(json.dumps(data))
    r = _run("merge", str(tmp_path / "a.json"), str(tmp_path / "b.json"), "-f", "json")
    assert r.returncode == 3 and "not a built-in one" in r.stderr and "give --profile" in r.stderr, r.stderr


def test_hostile_report_shows_its_data_escaped_in_the_html(hostile_file):
    """The payload is there as text (the evidence keeps what the server sent), only inert."""
    html = _run("rejudge", str(hostile_file), "--profile", "lab", "-f", "html").stdout
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "\\x1b[2J" in html and "\\u202e" in html  # control characters shown as visible escapes


@pytest.mark.parametrize("fmt", ["docx", "pdf", "html", "md"])
def test_plan_from_a_hostile_report_is_written(hostile_file, fmt, tmp_path):
    out = tmp_path / f"plan.{fmt}"
    r = _run("plan", "--agency", PAYLOAD.replace("\x00", ""), "--from", str(hostile_file), "-f", fmt, "-o", str(out))
    assert r.returncode == 0, r.stderr[-2000:]
    assert out.stat().st_size > 1000
    if fmt == "html":
        assert "<script>" not in out.read_text()


# --- the model's entry points ---------------------------------------------------------------------------------

def test_clean_escapes_control_characters_once():
    raw = "a\x1b[31mb\x9bc\x00d\re\u202ef\tg\nh"
    once = clean_text(raw)
    assert once == "a\\x1b[31mb\\x9bc\\x00d\\x0de\\u202ef\tg\nh"
    assert clean_text(once) == once and not UNSAFE.search(once)
    data = {"k\x07": ["x\x85", ("y", 1)], "n": None}
    assert clean(data) == {"k\\x07": ["x\\x85", ("y", 1)], "n": None}
    clean_data = {"a": ["b", {"c": "d"}]}
    assert clean(clean_data) is clean_data  # nothing to do: the same object back


def _flat(report: dict) -> dict:
    """The same report in the flat layout of schema 1, which netready still reads."""
    rep = Report.from_dict(report)
    return {**{k: v for k, v in report.items() if k not in ("results", "shared")}, "schema_version": 1,
            "targets": [t.to_dict() for t in rep.targets],
            "observations": [o.to_dict() for o in rep.observations],
            "findings": [f.to_dict() for f in rep.findings]}


def test_loaded_report_has_no_control_characters_and_refuses_bad_verdicts(lab_report):
    shared = copy.deepcopy(lab_report)  # schema 2: results with shared evidence
    shared["results"][0]["target"]["error"] = "x\x1b[2Jy"
    assert Report.from_dict(shared).targets[0].error == "x\\x1b[2Jy"
    data = _flat(lab_report)
    data["targets"][0]["error"] = "x\x1b[2Jy"
    data["observations"][0]["data"]["injected\x1b"] = ["\x9b1m"]
    rep = Report.from_dict(data)
    assert rep.targets[0].error == "x\\x1b[2Jy"
    assert rep.observations[0].data["injected\\x1b"] == ["\\x9b1m"]
    data["findings"][0]["verdict"] = "<b>pass</b>"
    with pytest.raises(ValueError, match="unknown verdict"):
        Report.from_dict(data)


def _chain_observation(tag) -> dict:
    return {"id": "dnssec:x.gov.vn:chain", "probe": "dnssec", "target": "x.gov.vn", "subject": "x.gov.vn",
            "data": {"status": "secure", "reason": "r", "trust_anchor": {"source": "s", "ds": [], "keys": []},
                     "zones": [{"zone": ".", "parent": None, "status": "secure", "reason": "r",
                                "ds": [{"key_tag": tag, "algorithm": 13, "digest_type": 2, "digest": "ab",
                                        "matches": tag, "problem": None}],
                                "ds_denial": None, "ds_sigs": [],
                                "dnskeys": [{"key_tag": tag, "algorithm": 13, "key_bits": 256, "sep": True,
                                             "revoked": False}],
                                "dnskey_sigs": [{"key_tag": tag, "valid": True, "reason": "", "expiration": "e"}]}],
                     "answers": []}}


def test_key_tags_are_integers_when_a_report_is_loaded():
    assert Observation.from_dict(_chain_observation("12345")).data["zones"][0]["ds"][0]["key_tag"] == 12345
    with pytest.raises(ValueError, match="key_tag must be an integer"):
        Observation.from_dict(_chain_observation('1 [URL="javascript:alert(1)"]'))
    with pytest.raises(ValueError, match="integer 0..65535"):
        Observation.from_dict(_chain_observation(70000))


def test_chain_picture_node_names_come_from_counters():
    """A key tag that reached the drawing as text (a bug upstream) stays inside a quoted label."""
    hostile = '1 [URL="javascript:alert(1)" label="x"]; evil'
    obs = [Observation(**_chain_observation(hostile))]
    dot = chain_dot(obs)
    svg = chain_svg(obs)  # Graphviz itself, before any sanitising
    assert "href" not in svg and "<a" not in svg  # URL= would have made a link
    assert "DNSKEY 1 [URL=javascript:alert(1) label=x]; evil" in dot.replace('\\"', "")  # a label, quoted
    for line in dot.splitlines():
        if "->" in line or "[shape" in line:
            assert line.strip().split()[0] in ("anchor", "subgraph") or line.strip().split()[0].startswith("n")


def test_svg_is_sanitised_before_it_is_inlined():
    svg = ('<?xml version="1.0"?><!DOCTYPE svg><svg xmlns="http://www.w3.org/2000/svg" '
           'xmlns:xlink="http://www.w3.org/1999/xlink" width="10" onload="alert(1)">'
           '<script>alert(2)</script><g id="n0" class="node"><title>n0</title>'
           '<a xlink:href="javascript:alert(3)" target="_blank"><ellipse cx="1" cy="2" fill="url(http://x)"/>'
           '<text x="1" style="x">&lt;script&gt;</text></a></g>'
           '<foreignObject><body xmlns="http://www.w3.org/1999/xhtml"><img src="x"/></body></foreignObject>'
           '<image href="http://x/y.png"/><use href="#n0"/></svg>')
    out = sanitize_svg(svg)
    assert out.startswith("<svg") and "<ellipse" in out and "<title>n0</title>" in out
    for bad in ("script>", "onload", "javascript", "href", "<a ", "foreignObject", "<image", "<use", "url(",
                "style="):
        assert bad not in out, bad
    assert "&lt;script&gt;" in out  # text stays text
    assert sanitize_svg("not svg") == "" and sanitize_svg("<svg><unclosed></svg>") == ""


def test_csv_cells_that_look_like_formulas_are_neutralised():
    for start in ("=", "+", "-", "@", "\t", "\r"):
        assert csv_cell(f"{start}cmd|' /C calc'!A0") == f"'{start}cmd|' /C calc'!A0"
    assert csv_cell("dichvucong.gov.vn") == "dichvucong.gov.vn" and csv_cell(87.5) == 87.5 and csv_cell("") == ""
