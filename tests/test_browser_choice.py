"""The IPv6-only page check in a batch: the browser up to BROWSER_BATCH_MAX names, the HTML above unless
--browser is given; the choice is stated in the report (table and HTML), never silent."""

from __future__ import annotations

import pytest

from netready.app import BROWSER_BATCH_MAX, with_ipv6only_options
from netready.model import ProbeSettings, Report, Target
from netready.render import render


@pytest.mark.parametrize("asked,names,browser,why", [
    (None, 1, True, None),
    (None, BROWSER_BATCH_MAX, True, None),
    (None, BROWSER_BATCH_MAX + 1, False, f"a batch of {BROWSER_BATCH_MAX + 1} names"),
    (None, 20000, False, "a batch of 20000 names"),
    (True, 20000, True, None),  # --browser: asked for, even for a sweep
    (False, 1, False, "--no-browser"),
])
def test_browser_choice(asked, names, browser, why):
    settings = with_ipv6only_options(ProbeSettings(), asked, names=names)
    assert settings.browser is browser
    assert (settings.browser_off is None) if why is None else (why in settings.browser_off)


def _report(settings: ProbeSettings) -> Report:
    from netready.judge import summarize

    targets = [Target(name="dichvucong.a.gov.vn", ascii_name="dichvucong.a.gov.vn"),
               Target(name="b.gov.vn", ascii_name="b.gov.vn")]
    return Report(tool_version="0", started="2026-01-01T00:00:00Z", finished="2026-01-01T00:00:01Z", profile="lab",
                  settings=settings.to_dict(), targets=targets, summary=summarize(targets, []))


def test_the_report_says_how_the_page_check_ran():
    sweep = _report(with_ipv6only_options(ProbeSettings(), None, names=5000))
    for lang, words in (("en", "HTML parsed, no browser"), ("vi", "không dùng trình duyệt")):
        for fmt in ("table", "html"):
            text = render(sweep, fmt, lang)
            assert words in text and "a batch of 5000 names" in text, (lang, fmt)
    small = _report(with_ipv6only_options(ProbeSettings(), None, names=2))
    assert "headless Chromium" in render(small, "html") and "no browser" not in render(small, "table")
    back = Report.from_json(sweep.to_json())
    assert back.settings["browser"] is False and "5000" in back.settings["browser_off"]
