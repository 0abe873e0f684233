"""`netready merge` on real reports of the lab taken from three "vantage points" of one machine:

- isp-a sees the lab as it is (good, legacy, v6dead);
- isp-b checks a subset (good, legacy) while the good portal's IPv6 address has no route from here
  (an `unreachable` route for that one address: a broken IPv6 path of one ISP);
- isp-c has no IPv6 at all (a policy rule makes all of 2001:db8::/32 unreachable) and checks good, nov6.

The route and the rule are added in the network namespace the tests run in and removed right after the
check (run this file in a namespace of your own: `ip netns exec NAME env NETREADY_LAB_NAME=NAME pytest ...`).
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from contextlib import contextmanager
from pathlib import Path

import jsonschema
import pytest

from netready.merge import VERDICT_ORDER
from netready.model import Report

NETREADY = str(Path(sys.executable).parent / "netready")
SCHEMA = json.loads((Path(__file__).parent.parent / "docs" / "report.schema.json").read_text(encoding="utf-8"))
RULE_PRIORITY = "77"  # the ip -6 rule of the vantage point without IPv6


def _ip(*args: str) -> None:
    r = subprocess.run(["ip", "-6", *args], capture_output=True, text=True, timeout=10)
    assert r.returncode == 0, f"ip -6 {' '.join(args)}: {r.stderr}"


@contextmanager
def _changed_routing(add: list[str], delete: list[str]):
    _ip(*add)
    try:
        yield
    finally:
        _ip(*delete)


def _check(out: Path, names: list[str]) -> int:
    r = subprocess.run(
        [NETREADY, "check", "--lab", "-f", "json", "-o", str(out), *names], capture_output=True, text=True, timeout=300
    )
    assert r.returncode in (0, 1, 2), r.stderr
    return r.returncode


def _merge(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [NETREADY, "merge", *args],
        capture_output=True,
        text=True,
        timeout=300,
        env={"NO_COLOR": "1", "PATH": "/usr/bin:/bin"},
    )


@pytest.fixture(scope="module")
def vp(lab, tmp_path_factory):
    """{vantage name: (report file, the portals' names by scenario)} taken on the lab."""
    d = tmp_path_factory.mktemp("vantage")
    names = {s: lab.portal(s).name for s in ("good", "legacy", "v6dead", "nov6")}
    good_v6 = lab.portal("good").ipv6[0]
    _check(d / "isp-a.json", [names["good"], names["legacy"], names["v6dead"]])
    with _changed_routing(
        ["route", "add", "unreachable", f"{good_v6}/128"], ["route", "del", "unreachable", f"{good_v6}/128"]
    ):
        _check(d / "isp-b.json", [names["good"], names["legacy"]])
    rule = ["priority", RULE_PRIORITY, "to", "2001:db8::/32", "unreachable"]
    with _changed_routing(["rule", "add", *rule], ["rule", "del", *rule]):
        _check(d / "isp-c.json", [names["good"], names["nov6"]])
    return {
        "dir": d,
        "names": names,
        "good_v6": good_v6,
        "files": {v: d / f"{v}.json" for v in ("isp-a", "isp-b", "isp-c")},
    }


def _load(path: Path) -> Report:
    raw = json.loads(path.read_text(encoding="utf-8"))
    jsonschema.validate(raw, SCHEMA)
    return Report.from_dict(raw)


def _verdicts(report: Report) -> dict[tuple[str, str, str | None], str]:
    return {(f.target, f.rule_id, f.subject): f.verdict for f in report.findings}


def _finding(report: Report, target: str, rule: str, subject: str | None):
    found = [f for f in report.findings if (f.target, f.rule_id, f.subject) == (target, rule, subject)]
    assert len(found) == 1, (target, rule, subject, found)
    return found[0]


def test_merge_gives_the_worst_verdict_over_vantage_points(vp):
    a, b = (_load(vp["files"][v]) for v in ("isp-a", "isp-b"))
    good, v6 = vp["names"]["good"], vp["good_v6"]
    # The two vantage points really differ on the good portal's IPv6 address.
    assert _verdicts(a)[(good, "VN-IPV6-WEB", v6)] == "pass"
    assert _verdicts(b)[(good, "VN-IPV6-WEB", v6)] == "fail"
    assert a.summary["targets"][good]["status"] == "compliant"

    out = vp["dir"] / "ab.json"
    r = _merge(str(vp["files"]["isp-a"]), str(vp["files"]["isp-b"]), "-f", "json", "-o", str(out))
    assert r.returncode == 1, r.stderr  # legacy and (now) good are not compliant
    assert "vantage points isp-a, isp-b" in r.stderr
    merged = _load(out)

    # Ids unique, each observation and its subject carry the vantage point; evidence points at them.
    ids = [o.id for o in merged.observations]
    assert len(ids) == len(set(ids)) == len(a.observations) + len(b.observations)
    assert all(o.id.split("/", 1)[0] in ("isp-a", "isp-b") for o in merged.observations)
    assert all(o.subject.split("/", 1)[0] == o.id.split("/", 1)[0] for o in merged.observations)
    assert all(e in set(ids) for f in merged.findings for e in f.evidence)

    # Every merged verdict is the worst of the two inputs' own verdicts (all three portals), a consequence
    # of another rule's failure (caused_by) counting only where no vantage point could judge the rule itself.
    va, vb = _verdicts(a), _verdicts(b)
    caused = [{(f.target, f.rule_id, f.subject) for f in r.findings if f.caused_by} for r in (a, b)]
    got = _verdicts(merged)
    assert set(got) == set(va) | set(vb)
    for key, verdict in got.items():
        seen = [v[key] for v in (va, vb) if key in v]
        judged = [v[key] for v, c in zip((va, vb), caused, strict=True) if key in v and key not in c]
        assert verdict == min(judged or seen, key=VERDICT_ORDER.index), key
    # isp-b has no route to the good portal's AAAA: there VN-HTTPS fails and the TLS rules are its consequences;
    # isp-a judged them, so its verdicts stand in the merge.
    assert _finding(b, good, "VN-TLS-CA", v6).caused_by == "VN-HTTPS"
    assert (_finding(merged, good, "VN-TLS-CA", v6).verdict, _finding(merged, good, "VN-TLS-CA", v6).caused_by) \
        == ("pass", None)
    assert _finding(merged, good, "VN-HTTPS", v6).verdict == "fail"

    f = _finding(merged, good, "VN-IPV6-WEB", v6)
    assert f.verdict == "fail"
    assert f.text("en").startswith("isp-b: fail — AAAA published but unreachable")
    assert "isp-a: pass — HTTPS answers over IPv6" in f.text("en")
    assert "isp-b: không đạt" in f.text("vi")
    assert merged.summary["targets"][good]["status"] == "not-compliant"
    assert "VN-IPV6-WEB" in merged.summary["targets"][good]["failed_required"]

    # v6dead was checked at isp-a only, and says so.
    v6dead = vp["names"]["v6dead"]
    assert merged.summary["targets"][v6dead]["vantage_points"] == ["isp-a"]
    assert merged.summary["targets"][v6dead]["not_checked_at"] == ["isp-b"]
    assert all("name not checked at isp-b" in f.text("en") for f in merged.findings_for(v6dead))
    assert all("tên miền không được kiểm tra tại isp-b" in f.text("vi") for f in merged.findings_for(v6dead))
    assert merged.summary["targets"][good]["not_checked_at"] == []

    # Targets: the union, addresses too, in first-seen order.
    assert [t.ascii_name for t in merged.targets] == [t.ascii_name for t in a.targets]

    # Evidence of the inputs: SHA-256 of each file as read.
    meta = {m["name"]: m for m in merged.settings["merge"]["vantage_points"]}
    for name in ("isp-a", "isp-b"):
        assert meta[name]["sha256"] == hashlib.sha256(vp["files"][name].read_bytes()).hexdigest()
        assert meta[name]["ipv6"] is True
    assert merged.profile == "lab"


def test_vantage_point_without_ipv6_is_not_counted_for_ipv6(vp):
    a, c = (_load(vp["files"][v]) for v in ("isp-a", "isp-c"))
    good, v6, nov6 = vp["names"]["good"], vp["good_v6"], vp["names"]["nov6"]
    assert _verdicts(c)[(good, "VN-IPV6-WEB", v6)] == "fail"  # what isp-c alone would say
    assert _verdicts(c)[(good, "VN-IPV6-DNS", "good.gov.vn")] == "fail"

    out = vp["dir"] / "ac.json"
    r = _merge(str(vp["files"]["isp-a"]), str(vp["files"]["isp-c"]), "-f", "json", "-o", str(out), "--lang", "vi")
    assert r.returncode == 1, r.stderr
    assert "đã gộp 2 báo cáo" in r.stderr
    merged = _load(out)
    meta = {m["name"]: m for m in merged.settings["merge"]["vantage_points"]}
    assert meta["isp-a"]["ipv6"] is True
    assert meta["isp-c"]["ipv6"] is False
    assert "Network is unreachable" in meta["isp-c"]["ipv6_evidence"]

    f = _finding(merged, good, "VN-IPV6-WEB", v6)
    assert f.verdict == "pass"
    assert "not counted, no IPv6 at isp-c: fail" in f.text("en")
    assert "không tính, điểm đo isp-c không có IPv6" in f.text("vi")
    assert _finding(merged, good, "VN-IPV6-DNS", "good.gov.vn").verdict == "pass"
    assert _verdicts(c)[(good, "VN-IPV6-ONLY", good)] == "fail"  # issue #18: IPv6-only as seen without IPv6
    assert _finding(merged, good, "VN-IPV6-ONLY", good).verdict == "pass"
    assert merged.summary["targets"][good]["status"] == "compliant"
    # What isp-c saw over IPv4 still counts (its HTTPS on the IPv4 address).
    assert "isp-a, isp-c: pass" in _finding(merged, good, "VN-HTTPS", lab_v4(a, good)).text("en")
    # nov6 was checked only at isp-c: "no AAAA" is a DNS fact and counts; the name servers over IPv6 cannot
    # be told from a vantage point without IPv6.
    assert _finding(merged, nov6, "VN-IPV6-WEB", None).verdict == "fail"
    dns = [f for f in merged.findings_for(nov6) if f.rule_id == "VN-IPV6-DNS"]
    assert [f.verdict for f in dns] == ["error"]
    assert dns[0].text("en").startswith("cannot tell: no vantage point with IPv6")


def lab_v4(report: Report, name: str) -> str:
    return next(t.ipv4[0] for t in report.targets if t.ascii_name == name)


def test_merge_with_itself_keeps_the_verdicts(vp):
    src = vp["files"]["isp-a"]
    a = _load(src)
    check_exit = 1 if a.summary["totals"]["not_compliant"] else 0
    out = vp["dir"] / "aa.json"
    r = _merge(str(src), str(src), "--vantage", "x", "--vantage", "y", "-f", "json", "-o", str(out))
    assert r.returncode == check_exit, r.stderr
    merged = _load(out)
    assert _verdicts(merged) == _verdicts(a)
    assert {n: s["status"] for n, s in merged.summary["targets"].items()} == {
        n: s["status"] for n, s in a.summary["targets"].items()
    }
    assert len(merged.observations) == 2 * len(a.observations)
    assert all(f.text("en").startswith("x, y: ") for f in merged.findings)


def test_a_merged_report_merges_again_and_rejudges(vp):
    first = vp["dir"] / "abc.json"
    files = [str(vp["files"][v]) for v in ("isp-a", "isp-b", "isp-c")]
    assert _merge(*files, "-f", "json", "-o", str(first)).returncode == 1
    again = vp["dir"] / "abc-again.json"
    assert _merge(str(first), "-f", "json", "-o", str(again)).returncode == 1
    one, two = _load(first), _load(again)
    assert [f.to_dict() for f in one.findings] == [f.to_dict() for f in two.findings]
    assert [o.id for o in one.observations] == [o.id for o in two.observations]
    for m1, m2 in zip(one.settings["merge"]["vantage_points"], two.settings["merge"]["vantage_points"], strict=True):
        assert m1["sha256"] == m2["sha256"]  # the original files' hashes survive
        assert m2["via"]["sha256"] == hashlib.sha256(first.read_bytes()).hexdigest()
    # Another profile: the merged report re-judged equals merging the inputs under that profile.
    s1, s2 = vp["dir"] / "strict1.json", vp["dir"] / "strict2.json"
    _merge(*files, "--profile", "strict", "-f", "json", "-o", str(s1))
    _merge(str(first), "--profile", "strict", "-f", "json", "-o", str(s2))
    strict1, strict2 = _load(s1), _load(s2)
    assert strict1.profile == "strict"
    assert _verdicts(strict1) == _verdicts(strict2)


def test_merge_outputs_every_format(vp):
    files = [str(vp["files"][v]) for v in ("isp-a", "isp-b")]
    r = _merge(*files, "--lang", "vi")
    assert r.returncode == 1
    assert "KHÔNG ĐẠT" in r.stdout and "isp-b: không đạt" in r.stdout
    assert "\x1b[" not in r.stdout
    html = _merge(*files, "-f", "html").stdout
    assert "isp-a/ipv6:" in html and "name not checked at isp-b" in html
    csv_text = _merge(*files, "-f", "csv").stdout
    assert csv_text.count("\n") == 1 + 3
    junit = _merge(*files, "-f", "junit").stdout
    assert "<testsuites" in junit and "isp-b: fail" in junit


@pytest.mark.parametrize(
    "case", ["count", "missing", "invalid", "schema", "duplicate", "name", "merged-renamed", "profile"]
)
def test_merge_usage_errors_exit_3(vp, case):
    d, a = vp["dir"], str(vp["files"]["isp-a"])
    args = {
        "count": ([a, str(vp["files"]["isp-b"]), "--vantage", "one"], "--vantage given 1 time(s) for 2 report(s)"),
        "missing": ([a, str(d / "nope.json")], "nope.json: cannot read"),
        "invalid": ([a, str(d / "broken.json")], "broken.json: not valid JSON"),
        "schema": ([a, str(d / "v9.json")], "schema_version 9"),
        "duplicate": ([a, a], "vantage point 'isp-a' appears twice"),
        "name": ([a, "--vantage", "isp/a"], "vantage point name 'isp/a'"),
        "merged-renamed": ([str(d / "ab.json"), "--vantage", "z"], "is a merged report"),
        "profile": ([a, "--profile", "no-such-profile"], "no-such-profile"),
    }[case]
    (d / "broken.json").write_text('{"schema_version": 1, "targets": [', encoding="utf-8")
    v9 = json.loads(vp["files"]["isp-a"].read_text(encoding="utf-8")) | {"schema_version": 9}
    (d / "v9.json").write_text(json.dumps(v9), encoding="utf-8")
    if case == "merged-renamed":
        assert _merge(a, str(vp["files"]["isp-b"]), "-f", "json", "-o", str(d / "ab.json")).returncode == 1
    r = _merge(*args[0])
    assert r.returncode == 3, r.stdout + r.stderr
    assert args[1] in r.stderr
    assert r.stdout == ""
