"""The shared browser keeps no page of its own: between checks only the browser process (and, for the full
Chromium, its storage service) runs, and a check's renderer goes with the check's browser context. A page
the browser opened by itself would keep a renderer (60-90 MB PSS) beside every check (issue #18: <= 150 MB
extra memory for one portal's check; bench/bench_ipv6only.py measures it)."""

from __future__ import annotations

import os
import time

import pytest

from netready.probes.browser import Browser, processes

BINARIES = ("/usr/lib/chromium/chromium-headless-shell", "/usr/lib/chromium/chromium")


def _renderers(browser_pid: int) -> list[int]:
    return [pid for pid, kind in processes(browser_pid) if kind == "renderer"]


def _wait_for(predicate, seconds: float = 5.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return predicate()


@pytest.mark.parametrize("binary", BINARIES, ids=["headless-shell", "full-chromium"])
def test_browser_keeps_no_page_and_no_renderer_between_checks(binary):
    if not os.access(binary, os.X_OK):
        pytest.fail(f"{binary} is not installed (the Makefile installs chromium and chromium-headless-shell)")
    browser = Browser(binary).start()
    try:
        def pages() -> list:
            return [t for t in browser.call("Target.getTargets")["targetInfos"] if t["type"] == "page"]

        time.sleep(1.0)  # the full Chromium announces its New Tab page a moment after it answers
        assert _wait_for(lambda: not pages()), pages()
        assert _wait_for(lambda: not _renderers(browser.pid)), _renderers(browser.pid)
        session = browser.open_page("http://127.0.0.1:9", lambda method, params: None)
        assert _wait_for(lambda: bool(_renderers(browser.pid)))  # the check's own page has its renderer
        browser.close_page(session)
        assert _wait_for(lambda: not _renderers(browser.pid)), "the check's renderer outlived its context"
        assert browser.alive and not pages()  # closing the last page does not end the browser
    finally:
        browser.stop()
