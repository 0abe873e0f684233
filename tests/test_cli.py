"""The command line: input files, usage errors (exit 3), offline rejudge and every output format."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path
from xml.etree import ElementTree as ET

import pytest

from netready.app import read_names
from netready.errors import UsageError
from netready.judge import summarize
from netready.model import Finding, Report, Target
from netready.render import render

NETREADY = str(Path(sys.executable).parent / "netready")


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([NETREADY, *args], capture_output=True, text=True, timeout=120)


def test_read_names_plain_csv_and_idn(tmp_path):
    plain = tmp_path / "names.txt"
    plain.write_text("# agencies\ndichvucong.a.gov.vn\n\nbộ.gov.vn\ndichvucong.a.gov.vn\n", encoding="utf-8")
    assert read_names(["x.gov.vn"], str(plain)) == ["x.gov.vn", "dichvucong.a.gov.vn", "bộ.gov.vn"]
    table = tmp_path / "names.csv"
    table.write_text("agency,Name\nA,dichvucong.a.gov.vn\nB,dichvucong.b.gov.vn\n", encoding="utf-8")
    assert read_names([], str(table)) == ["dichvucong.a.gov.vn", "dichvucong.b.gov.vn"]
    bad = tmp_path / "bad.csv"
    bad.write_text("agency,host\nA,x\n", encoding="utf-8")
    with pytest.raises(UsageError, match="'name' or 'domain' column"):
        read_names([], str(bad))
    with pytest.raises(UsageError, match="no name to check"):
        read_names([], None)


def test_usage_errors_exit_3(tmp_path):
    assert run("check", "--no-such-option").returncode == 3
    assert run("check").returncode == 3  # no names
    r = run("check", "x.gov.vn", "--profile", str(tmp_path / "missing.yaml"))
    assert r.returncode == 3 and "not a built-in profile" in r.stderr
    r = run("rejudge", str(tmp_path / "missing.json"))
    assert r.returncode == 3


def test_invalid_names_get_a_clear_error_per_target(tmp_path):
    hints = tmp_path / "hints"
    hints.write_text(". 1 NS ns.hostile.\nns.hostile. 1 A 127.0.0.9\n", encoding="utf-8")
    long_label = "a" * 64 + ".gov.vn"
    r = run("check", "a..b", long_label, "--root-hints", str(hints), "--timeout", "0.3", "-f", "json")
    assert r.returncode == 2, r.stderr
    report = Report.from_json(r.stdout)
    errors = {t.ascii_name: t.error for t in report.targets}
    assert "empty" in errors["a..b"]
    assert any("63" in (e or "") for e in errors.values())
    assert all(f.verdict == "error" for f in report.findings)


def _sample_report() -> Report:
    t = Target(name="dịchvụcông.gov.vn", ascii_name="xn--dchvcng-o0a4b6c.gov.vn", ipv4=["198.51.100.7"])
    f = [
        Finding("VN-HTTPS", t.ascii_name, "pass", "required", {"vi": "đạt", "en": "ok"}, "198.51.100.7"),
        Finding("VN-TLS12", t.ascii_name, "fail", "required", {"vi": "không có TLS 1.2", "en": "no TLS 1.2"},
                "198.51.100.7"),
        Finding("BP-CAA", t.ascii_name, "info", "info", {"vi": "không có CAA", "en": "no CAA"}),
    ]
    return Report("0.1.0", "2026-11-26T00:00:00.000Z", "2026-11-26T00:00:01.000Z", "circular32",
                  targets=[t], findings=f, summary=summarize([t], f))


def test_formats_parse():
    report = _sample_report()
    table = render(report, "table", "vi")
    assert "KHÔNG ĐẠT" in table and "không có TLS 1.2" in table
    rows = list(csv.DictReader(io.StringIO(render(report, "csv"))))
    assert rows[0]["VN-TLS12"] == "fail" and rows[0]["status"] == "not-compliant"
    junit = ET.fromstring(render(report, "junit"))
    suite = junit.find("testsuite")
    assert suite is not None and suite.get("failures") == "1"

    class Collect(HTMLParser):
        def __init__(self) -> None:
            super().__init__()
            self.text: list[str] = []
            self.external: list[str] = []

        def handle_starttag(self, tag, attrs):
            for k, v in attrs:
                if k in ("src", "href") and v and "://" in v:
                    self.external.append(v)

        def handle_data(self, data):
            self.text.append(data)

    html = render(report, "html", "vi")
    parser = Collect()
    parser.feed(html)
    text = "".join(parser.text)
    assert "Báo cáo kiểm tra" in text and "không có TLS 1.2" in text
    assert parser.external == []  # self-contained: no network assets
    assert json.loads(html.split("<pre>")[1].split("</pre>")[0].replace("&#34;", '"').replace("&quot;", '"')
                      .replace("&lt;", "<").replace("&gt;", ">").replace("&#39;", "'").replace("&amp;", "&"))


def test_rejudge_command_offline(tmp_path):
    path = tmp_path / "r.json"
    path.write_text(_sample_report().to_json(), encoding="utf-8")
    r = run("rejudge", str(path), "--profile", "strict", "-f", "json")
    assert r.returncode in (1, 2), r.stderr
    again = Report.from_json(r.stdout)
    assert again.profile == "strict"
    assert {f.level for f in again.findings if f.rule_id == "BP-HSTS"} == {"required"}


def test_plan_and_contract_commands(tmp_path):
    r = run("plan", "--agency", "Bộ Tư pháp", "--scenario", "outsourced", "--dns", "own")
    assert r.returncode == 0, r.stderr
    assert "KẾ HOẠCH TRIỂN KHAI" in r.stdout and "Bộ Tư pháp" in r.stdout
    assert run("plan", "--agency", "X", "--scenario", "cloud").returncode == 3
    assert run("plan", "--agency", "X", "-f", "docx").returncode == 3  # binary output needs -o
    docx = tmp_path / "plan.docx"
    r = run("plan", "--agency", "X", "--lang", "en", "-f", "docx", "-o", str(docx))
    assert r.returncode == 0 and docx.stat().st_size > 5000
    r = run("contract", "clauses", "--service", "web", "--lang", "en")
    assert r.returncode == 0 and "Acceptance test" in r.stdout
    bad = tmp_path / "spec.yml"
    bad.write_text("contract: X\nprovider: Y\nsurprise: 1\n", encoding="utf-8")
    r = run("contract", "verify", str(bad))
    assert r.returncode == 3 and "spec.yml:" in r.stderr


def test_read_names_checks_each_portal_once():
    names = read_names(["Dichvucong.Good.gov.vn", "dichvucong.good.gov.vn.", "bộ.gov.vn", "xn--b-8xm.gov.vn"], None)
    assert names == ["Dichvucong.Good.gov.vn", "bộ.gov.vn"]
