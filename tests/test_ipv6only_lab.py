"""VN-IPV6-ONLY on the lab with the real Chromium (Debian's chromium-headless-shell, or chromium): the
dependency portals of netready/lab/pages.py, the static fallback, --follow, history, the shared browser of a
batch, the CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from netready.evaluate.ipv6only import ipv6_only
from netready.model import Report
from netready.probes import browser as browser_mod
from netready.probes import ipv6only
from netready.profiles import load_profile
from netready.scan import make_target, scan

NETREADY = str(Path(sys.executable).parent / "netready")
V4DEPS, V6READY, V4DNS = "dichvucong.v4deps.gov.vn", "dichvucong.v6ready.gov.vn", "dichvucong.v4dns.gov.vn"
PROFILE = load_profile("lab")


def _check(name: str, settings):
    target, dns_obs = make_target(name, settings)
    obs = ipv6only.run(target, settings)
    for o in obs:
        json.dumps(o.to_dict())  # every observation is JSON-able
    return obs, ipv6_only(target, dns_obs + obs, PROFILE)


def _fails(outcomes) -> dict[str, str]:
    return {o.subject: o.en for o in outcomes if o.verdict == "fail"}


def _kinds(obs, host: str) -> set[str]:
    kinds = set()
    for page in (o for o in obs if ":page:" in o.id):
        kinds |= {r["kind"] for r in page.data["requests"] if r["host"] == host}
        kinds |= {"form-action" for f in page.data["forms"] if f"//{host}/" in f["action"]}
    return kinds


def test_browser_finds_exactly_the_ipv4_only_requests_including_the_javascript_one(lab, lab_settings):
    assert browser_mod.find_chromium(), "Chromium is not installed (make deps installs it)"
    obs, outcomes = _check(V4DEPS, lab_settings)
    page = next(o for o in obs if ":page:" in o.id)
    assert page.data["mode"] == "browser" and page.data["state"] == "loaded", page.data
    fails = _fails(outcomes)
    assert set(fails) == {"static.v4deps.gov.vn", "sso.v4deps.gov.vn", "img.v4deps.gov.vn"}
    assert _kinds(obs, "static.v4deps.gov.vn") == {"script", "font"}
    assert _kinds(obs, "sso.v4deps.gov.vn") == {"form-action"}
    assert _kinds(obs, "img.v4deps.gov.vn") == {"image"}
    image = next(r for r in page.data["requests"] if r["host"] == "img.v4deps.gov.vn")
    assert image["in_html"] is False  # made by JavaScript: the page's HTML does not name it
    assert "not in the HTML: requested by a script or style sheet" in fails["img.v4deps.gov.vn"]
    assert all(r["in_html"] for r in page.data["requests"] if r["host"] != "img.v4deps.gov.vn")
    for host, text in fails.items():
        assert "IPv4 only (A 198.51.100.162, no AAAA)" in text and "first seen in this check" in text, host
    assert "script https://static.v4deps.gov.vn/app.js" in fails["static.v4deps.gov.vn"]
    assert "font https://static.v4deps.gov.vn/font.woff2" in fails["static.v4deps.gov.vn"]
    assert "form action https://sso.v4deps.gov.vn/login" in fails["sso.v4deps.gov.vn"]
    assert all(o.vi and "người dùng chỉ có IPv6" in o.vi for o in outcomes if o.verdict == "fail")
    # The portal's own requests went over IPv6 (the document, its style sheet, logo and main.js).
    hosts = next(o for o in obs if o.id.endswith(":hosts"))
    own = [r for r in hosts.data["transport"] if r["host"] == V4DEPS]
    assert own and own[0]["address"] == "2001:db8:200::162"
    # The links that leave the site: listed with their purpose and IPv6 status, not judged.
    links = {lk["host"]: lk["purpose"] for lk in hosts.data["links"]}
    assert links == {"pay.v4deps.gov.vn": "payment", "docs.v4deps.gov.vn": "document"}
    info = next(o for o in outcomes if o.subject == "links")
    assert info.verdict == "info"
    assert "pay.v4deps.gov.vn (payment: not reachable over IPv6)" in info.en
    assert "docs.v4deps.gov.vn (documents: IPv6 ok)" in info.en


def test_static_fallback_finds_the_ones_in_the_html(lab, lab_settings):
    from dataclasses import replace

    obs, outcomes = _check(V4DEPS, replace(lab_settings, browser=False))
    fails = _fails(outcomes)
    assert set(fails) == {"static.v4deps.gov.vn", "sso.v4deps.gov.vn"}  # the JavaScript image is not in the HTML
    assert _kinds(obs, "static.v4deps.gov.vn") == {"script", "font"}  # the font from an inline @font-face
    for text in fails.values():
        assert "static HTML check, no browser: the browser check is turned off (--no-browser)" in text
        assert "requests made by scripts are not seen" in text


def test_compliant_portal_with_only_dual_stack_hosts_passes(lab, lab_settings):
    obs, outcomes = _check(V6READY, lab_settings)
    assert [o.verdict for o in outcomes] == ["pass"], [o.en for o in outcomes]
    page = next(o for o in obs if ":page:" in o.id)
    kinds = {r["kind"] for r in page.data["requests"]}
    assert {"document", "style", "script", "font", "image", "fetch", "iframe"} <= kinds, kinds
    assert "pay.v6ready.gov.vn (payment: IPv6 ok)" in outcomes[0].en


def test_host_whose_name_servers_are_ipv4_only_fails_resolution_over_ipv6_only(lab, lab_settings):
    obs, outcomes = _check(V4DNS, lab_settings)
    fails = _fails(outcomes)
    assert set(fails) == {"cdn.nov6.gov.vn"}
    assert "does not resolve over IPv6 only: no IPv6 address for any name server of nov6.gov.vn" in \
        fails["cdn.nov6.gov.vn"]
    hosts = next(o for o in obs if o.id.endswith(":hosts"))
    cdn = next(r for r in hosts.data["transport"] if r["host"] == "cdn.nov6.gov.vn")
    assert cdn["address"]  # the transport alone works (AAAA from a dual-stack resolver): resolution is the gap


@pytest.mark.parametrize(("scenario", "why"), [("nov6", "IPv4 only (A 198.51.100.130, no AAAA)"),
                                               ("v6dead", "AAAA published but the IPv6 connection fails")])
def test_portal_itself_unreachable_over_ipv6(lab, lab_settings, scenario, why):
    name = lab.portal(scenario).name
    _obs, outcomes = _check(name, lab_settings)
    fails = _fails(outcomes)
    assert list(fails) == [name] and why in fails[name]


def test_follow_loads_the_login_page_too(lab, lab_settings):
    from dataclasses import replace

    obs, outcomes = _check(V6READY, replace(lab_settings, follow=["/login"]))
    pages = [o for o in obs if ":page:" in o.id]
    assert [p.data["url"] for p in pages] == [f"https://{V6READY}/", f"https://{V6READY}/login"]
    assert all(p.data["state"] == "loaded" for p in pages)
    assert "2 page(s)" in outcomes[0].en


def test_history_says_since_when(lab, lab_settings, tmp_path):
    from dataclasses import replace

    first = scan([V4DEPS], lab_settings, PROFILE, probe_names=("ipv6only",))
    (tmp_path / "earlier.json").write_text(first.to_json(), encoding="utf-8")
    obs, outcomes = _check(V4DEPS, replace(lab_settings, history=[str(tmp_path)]))
    fails = _fails(outcomes)
    assert fails and all(f"first seen {first.started} (1 earlier netready run(s))" in t for t in fails.values())
    hosts = next(o for o in obs if o.id.endswith(":hosts"))
    assert set(hosts.data["history"]["first_seen"]) == set(fails)  # recorded: a rejudge says the same


def test_batch_starts_the_browser_once_and_reuses_it(lab, lab_settings):
    browser_mod.stop_shared_browser()
    before = browser_mod.STARTS
    names = [V4DEPS, V6READY, V4DNS, lab.portal("good").name, lab.portal("nov6").name]
    report = scan(names, lab_settings, PROFILE, concurrency=5, probe_names=("ipv6only",))
    assert browser_mod.STARTS - before == 1
    modes = {o.data.get("mode") for o in report.observations if o.id.endswith(":hosts")}
    assert modes == {"browser"}
    browser = browser_mod._SHARED
    assert browser is not None and browser.alive
    pid = browser.pid
    browser_mod.stop_shared_browser()
    with pytest.raises(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)  # reaped: stopped by its pid
    assert not Path(f"/proc/{pid}").exists()


def test_without_chromium_the_static_fallback_says_so(lab, lab_settings, monkeypatch):
    browser_mod.stop_shared_browser()
    monkeypatch.setenv("NETREADY_CHROMIUM", "/nonexistent/chromium")
    obs, outcomes = _check(V4DEPS, lab_settings)
    page = next(o for o in obs if ":page:" in o.id)
    assert page.data["mode"] == "static"
    assert "no Chromium installed" in page.data["static_reason"]
    assert all("no Chromium installed" in o.en for o in outcomes if o.verdict == "fail")


def test_cli_ipv6_shows_the_ipv6_only_view_and_no_browser_switch(lab):
    env = {**os.environ, "NO_COLOR": "1"}
    r = subprocess.run([NETREADY, "ipv6", "--lab", "--no-browser", "-f", "json", V4DEPS], capture_output=True,
                       text=True, timeout=120, env=env)
    assert r.returncode == 0, r.stderr  # VN-IPV6-ONLY is recommended in the lab/circular32 profiles
    report = json.loads(r.stdout)
    assert report["settings"]["browser"] is False
    fails = {f.subject for f in Report.from_dict(report).findings
             if f.rule_id == "VN-IPV6-ONLY" and f.verdict == "fail"}
    assert fails == {"static.v4deps.gov.vn", "sso.v4deps.gov.vn"}
    r = subprocess.run([NETREADY, "ipv6", "--lab", "--lang", "vi", V6READY], capture_output=True, text=True,
                       timeout=120, env=env)
    assert r.returncode == 0, r.stderr
    assert "Trên mạng chỉ có IPv6" in r.stdout and "VN-IPV6-ONLY" in r.stdout
    r = subprocess.run([NETREADY, "ipv6", "--lab", "--history", "/nonexistent/dir", V6READY], capture_output=True,
                       text=True, timeout=60, env=env)
    assert r.returncode == 3 and "history source not found" in r.stderr


def test_ipv6only_profile_makes_the_rule_required(lab, tmp_path):
    profile = tmp_path / "lab-ipv6only.yaml"
    profile.write_text("extends: ipv6only\nlab: true\n", encoding="utf-8")
    r = subprocess.run([NETREADY, "check", "--lab", "--profile", str(profile), "-f", "json", V4DEPS, V6READY],
                       capture_output=True, text=True, timeout=300, env={**os.environ, "NO_COLOR": "1"})
    assert r.returncode == 1, r.stderr
    summary = json.loads(r.stdout)["summary"]["targets"]
    assert summary[V4DEPS]["status"] == "not-compliant" and summary[V4DEPS]["failed_required"] == ["VN-IPV6-ONLY"]
    assert summary[V6READY]["status"] == "compliant"


def test_a_crashed_browser_is_replaced_by_the_next_check(lab, lab_settings):
    import signal
    import time

    browser = browser_mod.shared_browser()
    pid, before = browser.pid, browser_mod.STARTS
    os.kill(pid, signal.SIGKILL)  # the browser this process started, by its pid
    deadline = time.monotonic() + 5
    while browser.alive and time.monotonic() < deadline:  # the reader sees the pipe close
        time.sleep(0.02)
    assert not browser.alive
    obs, outcomes = _check(V6READY, lab_settings)
    assert next(o for o in obs if ":page:" in o.id).data["mode"] == "browser"
    assert [o.verdict for o in outcomes] == ["pass"] and browser_mod.STARTS == before + 1
    browser.stop()  # reap the killed one


def test_full_chromium_finds_the_same_requests_when_the_headless_shell_is_absent(lab, lab_settings, monkeypatch):
    full = "/usr/lib/chromium/chromium"
    if not os.access(full, os.X_OK):
        pytest.fail("Debian's chromium is not installed (the Makefile installs it)")
    browser_mod.stop_shared_browser()
    monkeypatch.setenv("NETREADY_CHROMIUM", full)
    try:
        obs, outcomes = _check(V4DEPS, lab_settings)
        page = next(o for o in obs if ":page:" in o.id)
        assert page.data["mode"] == "browser" and page.data["engine"].startswith("Chrome/"), page.data  # new headless
        assert browser_mod._SHARED.binary == full
        assert set(_fails(outcomes)) == {"static.v4deps.gov.vn", "sso.v4deps.gov.vn", "img.v4deps.gov.vn"}
    finally:
        browser_mod.stop_shared_browser()
