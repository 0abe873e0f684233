"""The IPv6-only page check against hostile pages on loopback (real Chromium and the static fallback): a page
that never finishes loading, an endless redirect, a huge page, a page that opens connections to hundreds of
hosts, and the IPv6-only proxy on its own (IPv4 literals, bad requests, caps). Every check ends within the
target's budget with a clear finding; none hangs.

Names come from a loopback fake DNS (port 53 on 127.0.0.1 and ::1: run as root in a network namespace of
your own); pages from a small threaded HTTP server on the lab's host-side address (netready.lab.plan.HOST6,
a documentation address the lab profile accepts: on ::1 the check would rightly fail the loopback class).
"""

from __future__ import annotations

import json
import socket
import threading
import time
from pathlib import Path
from types import SimpleNamespace

import pytest
from test_ipv6_fakedns import FakeDNS

from netready.evaluate.ipv6only import ipv6_only
from netready.lab.plan import HOST6
from netready.model import ProbeSettings, Target
from netready.probes import browser as browser_mod
from netready.probes import ipv6only
from netready.probes.webproxy import PROXY_STOPPED, HostResolver, IPv6OnlyProxy, Limits

MANY = 120  # hosts the hostile page opens connections to (more than the proxy's host cap of 48)
ZONES = {
    ".": """
@ 3600 SOA a.root-servers.test. hostmaster.test. 1 3600 600 86400 300
@ 3600 NS a.root-servers.test.
""",
    "hostile6.gov.vn.": f"""
@ 300 SOA ns1 hostmaster 7 3600 600 86400 300
@ 300 NS ns1
ns1 300 AAAA ::1
ns1 300 A 127.0.0.1
dichvucong 300 AAAA {HOST6}
dichvucong 300 A 127.0.0.1
v4only 300 A 127.0.0.1
""" + "".join(f"h{i} 300 AAAA {HOST6}\n" for i in range(MANY)),
}
ROOT_HINTS = """. 3600000 NS a.root-servers.test.
a.root-servers.test. 3600000 A 127.0.0.1
a.root-servers.test. 3600000 AAAA ::1
"""
NAME = "dichvucong.hostile6.gov.vn"
PROFILE = SimpleNamespace(lab=True, threshold=lambda name, default=None: default)
HUGE = 512 * 1024 * 1024  # announced and streamed: far more than the proxy's byte cap


class HostilePages:
    """Plain HTTP on [HOST6]:port; the path picks the misbehaviour."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((HOST6, 0))
        self.sock.listen(512)
        self.sock.settimeout(0.1)
        self.port = self.sock.getsockname()[1]
        self.stop = threading.Event()
        self.connections = 0
        self.thread = threading.Thread(target=self._loop, daemon=True)

    def url(self, path: str, host: str = NAME) -> str:
        return f"http://{host}:{self.port}{path}"

    def _loop(self) -> None:
        while not self.stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except (TimeoutError, OSError):
                continue
            self.connections += 1
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        try:
            conn.settimeout(5)
            head = b""
            while b"\r\n\r\n" not in head:
                chunk = conn.recv(4096)
                if not chunk:
                    return
                head += chunk
            path = head.split(b" ")[1].decode()
            if path.startswith("/loop"):
                n = int(path.rsplit("/", 1)[-1]) if path.count("/") > 1 else 0
                conn.sendall(f"HTTP/1.1 302 Found\r\nLocation: /loop/{n + 1}\r\nContent-Length: 0\r\n\r\n".encode())
            elif path == "/slow":  # the page starts and never ends
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n\r\n<!doctype html><html><body><p>")
                while not self.stop.is_set():
                    conn.sendall(b"x")
                    time.sleep(0.2)
            elif path == "/huge":
                conn.sendall(f"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: {HUGE}\r\n\r\n"
                             "<!doctype html><html><body><pre>".encode())
                block = b"y" * 65536
                while not self.stop.is_set():
                    conn.sendall(block)
            elif path == "/ctrl":  # control characters where a report or a terminal would print them
                body = (b'<!doctype html><html><body><a href="https://sso.x\x1b[2J.vn/">\x1b[31mlogin\x1b[0m</a>'
                        b'<a href="https://pay.hostile6.gov.vn/\x1b]0;owned\x07">pay\x1b[5m</a>'
                        b'<form action="/post\x1b[2J"></form></body></html>')
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: %d\r\n\r\n" % len(body)
                             + body)
            elif path == "/badstatus":
                conn.sendall(b"\x1b[2JHTTP/9 nonsense\r\n\r\n")
            elif path == "/many":
                imgs = "".join(f"(new Image()).src='http://h{i}.hostile6.gov.vn:{self.port}/i.png?{j}';"
                               for i in range(MANY) for j in range(3))
                body = (f"<!doctype html><html><body><p>many</p><script>{imgs}</script></body></html>").encode()
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: %d\r\n\r\n" % len(body)
                             + body)
            else:
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: image/png\r\nContent-Length: 0\r\n\r\n")
        except OSError:
            pass
        finally:
            conn.close()

    def __enter__(self) -> HostilePages:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join(2)
        self.sock.close()


@pytest.fixture(scope="module")
def hostile(lab, tmp_path_factory):  # the lab puts HOST6 on this namespace's side of its link
    hints = Path(tmp_path_factory.mktemp("v6only-dns")) / "root.hints"
    hints.write_text(ROOT_HINTS)
    try:
        dns_server = FakeDNS(ZONES).__enter__()
    except PermissionError:
        pytest.fail("port 53 needs root: run the suite as root (in a network namespace of your own)")
    except OSError as exc:
        pytest.fail(f"port 53 on loopback is busy ({exc}): run the suite in a network namespace of your own")
    with HostilePages() as pages:
        yield pages, str(hints)
    dns_server.__exit__()


def settings_for(hints: str, browser: bool = True, budget: float = 10.0) -> ProbeSettings:
    return ProbeSettings(root_hints=hints, timeout=1.0, budget=budget, lab=True, browser=browser)


def check(url: str, hints: str, browser: bool = True, budget: float = 10.0):
    t0 = time.monotonic()
    obs = ipv6only.check_pages(NAME, [url], settings_for(hints, browser, budget))
    elapsed = time.monotonic() - t0
    outcomes = ipv6_only(Target(NAME, NAME, ["127.0.0.1"], [HOST6]), obs, PROFILE)
    page = next(o for o in obs if ":page:" in o.id)
    return elapsed, page, outcomes


@pytest.mark.parametrize("browser", [True, False], ids=["chromium", "static"])
def test_page_that_never_finishes_is_bounded_and_an_error(hostile, browser) -> None:
    pages, hints = hostile
    elapsed, page, outcomes = check(pages.url("/slow"), hints, browser, budget=6.0)
    assert elapsed < 6.0 + 2, elapsed  # within the target's budget (plus teardown)
    assert page.data["state"] == "timeout", page.data
    assert [o.verdict for o in outcomes] == ["error"], [o.en for o in outcomes]
    assert "did not finish loading" in outcomes[0].en and "chưa tải xong" in outcomes[0].vi


@pytest.mark.parametrize("browser", [True, False], ids=["chromium", "static"])
def test_endless_redirect_is_an_error_naming_it(hostile, browser) -> None:
    pages, hints = hostile
    elapsed, page, outcomes = check(pages.url("/loop"), hints, browser)
    assert elapsed < 10, elapsed
    assert page.data["state"] == "failed"
    assert "TOO_MANY_REDIRECTS" in page.data["error"] or "more than 10 redirects" in page.data["error"]
    assert [o.verdict for o in outcomes] == ["error"]
    assert "could not be loaded" in outcomes[0].en
    assert sum(1 for r in page.data["requests"] if r["kind"] == "redirect") >= 10


@pytest.mark.parametrize("browser", [True, False], ids=["chromium", "static"])
def test_huge_page_stops_at_a_cap(hostile, browser) -> None:
    pages, hints = hostile
    elapsed, page, outcomes = check(pages.url("/huge"), hints, browser)
    assert elapsed < 12, elapsed
    limits = " ".join(page.data["limits"])
    if browser:  # Chromium reads as fast as it parses: the byte cap or the time budget, whichever comes first
        assert "bytes >" in limits or page.data["state"] == "timeout", page.data
        assert outcomes[0].verdict == "error"
        assert "cap reached: bytes" in outcomes[0].en or "did not finish loading" in outcomes[0].en
    else:  # the static reader stops at its cap and parses that much
        assert "html >" in limits and page.data["html_truncated"] and page.data["html_bytes"] > 0
        assert outcomes[0].verdict == "error" and "cap reached: html >" in outcomes[0].en


def test_page_opening_hundreds_of_hosts_is_capped(hostile) -> None:
    pages, hints = hostile
    elapsed, page, outcomes = check(pages.url("/many"), hints, True)
    assert elapsed < 12, elapsed
    hosts = next(o for o in ipv6only.check_pages(NAME, [pages.url("/many")], settings_for(hints))
                 if o.id.endswith(":hosts"))
    assert len({r["host"] for r in hosts.data["transport"]}) == Limits().hosts
    assert len(hosts.data["resolution"]) <= Limits().hosts
    assert any(cap.startswith("hosts >") for cap in page.data["limits"]), page.data["limits"]
    assert outcomes[0].verdict == "error" and "cap reached: hosts > 48" in outcomes[0].en


def test_hostile_checks_leave_no_browser_process_behind(hostile) -> None:
    browser_mod.stop_shared_browser()
    assert not browser_mod._LIVE  # every Chromium this process started is stopped (pids gone)


def test_proxy_refuses_ipv4_literals_and_names_without_aaaa(hostile) -> None:
    _pages, hints = hostile
    with IPv6OnlyProxy(settings_for(hints), time.monotonic() + 5) as proxy:
        for target in ("127.0.0.1:80", "v4only.hostile6.gov.vn:80"):
            with socket.create_connection(("127.0.0.1", proxy.port), timeout=5) as c:
                c.sendall(f"CONNECT {target} HTTP/1.1\r\nHost: {target}\r\n\r\n".encode())
                answer = c.recv(4096).decode()
            assert answer.startswith("HTTP/1.1 502"), answer
        with socket.create_connection(("127.0.0.1", proxy.port), timeout=5) as c:
            c.sendall(b"garbage\r\n\r\n")
            assert c.recv(4096).startswith(b"HTTP/1.1 400")
        recs = {r.host: r for r in proxy.records()}
    assert recs["127.0.0.1"].error.startswith("an IPv4 address literal")
    assert recs["v4only.hostile6.gov.vn"].error == "no AAAA record (IPv4 only: 127.0.0.1)"


def test_proxy_connection_cap_answers_503(hostile) -> None:
    pages, hints = hostile
    with IPv6OnlyProxy(settings_for(hints), time.monotonic() + 5, Limits(connections=3)) as proxy:
        answers = []
        for _ in range(5):
            with socket.create_connection(("127.0.0.1", proxy.port), timeout=5) as c:
                c.sendall(f"GET {pages.url('/x')} HTTP/1.1\r\nHost: {NAME}\r\n\r\n".encode())
                answers.append(c.recv(4096).split(b"\r\n")[0])
    assert answers[:3] == [b"HTTP/1.1 200 OK"] * 3
    assert answers[3:] == [b"HTTP/1.1 503 Service Unavailable"] * 2
    assert proxy.limit_hits == ["connections > 3"]


@pytest.mark.parametrize("browser", [True, False], ids=["chromium", "static"])
def test_control_characters_from_a_page_never_reach_a_report_or_terminal(hostile, browser) -> None:
    pages, hints = hostile
    obs = ipv6only.check_pages(NAME, [pages.url("/ctrl"), pages.url("/badstatus")], settings_for(hints, browser))
    text = json.dumps([o.to_dict() for o in obs], ensure_ascii=False)
    outcomes = ipv6_only(Target(NAME, NAME, ["127.0.0.1"], [HOST6]), obs, PROFILE)
    shown = " ".join(o.en + o.vi for o in outcomes)
    for raw in (text, shown):
        assert "\x1b" not in raw and "\x07" not in raw
    assert not [o.error for o in obs if o.error], [o.error for o in obs]
    links = next(o for o in obs if ":page:" in o.id).data["links"]
    assert any("%1B" in lk["href"] or "%1B" in lk["text"] for lk in links), links
    assert all("\x1b" not in lk["text"] for lk in links)


def test_a_sweep_without_the_browser_says_why_in_its_findings(hostile) -> None:
    """A national batch checks pages without Chromium by default (netready.app.BROWSER_BATCH_MAX): never
    silently, every VN-IPV6-ONLY finding says the pages were parsed and why."""
    from netready.app import BROWSER_OFF

    pages, hints = hostile
    settings = settings_for(hints, browser=False)
    settings.browser_off = BROWSER_OFF["batch"].format(n=20000)
    obs = ipv6only.check_pages(NAME, [pages.url("/ctrl")], settings)
    hosts = next(o for o in obs if o.id.endswith(":hosts"))
    assert hosts.data["mode"] == "static" and hosts.data["static_reason"] == settings.browser_off
    outcomes = ipv6_only(Target(NAME, NAME, ["127.0.0.1"], [HOST6]), obs, PROFILE)
    assert outcomes and all("a batch of 20000 names" in o.en and "a batch of 20000 names" in o.vi
                            and "không dùng trình duyệt" in o.vi for o in outcomes)


def test_a_history_source_that_fails_is_said_and_the_check_goes_on(hostile) -> None:
    """A history database that goes away mid-batch (`monitor:` on a PostgreSQL being restarted) must not turn the
    IPv6-only check into an internal error: the history block says what failed, the hosts are judged."""
    from dataclasses import replace

    from netready.ipv6only_history import register_source

    class Gone:
        description = "a database that went away"

        def first_seen(self, target: str, host: str) -> str | None:
            raise OSError("connection refused")

    register_source("gonehist", lambda rest: Gone())
    pages, hints = hostile
    settings = replace(settings_for(hints, browser=False), history=["gonehist:x"])
    page = pages.url("/badstatus", host="v4only.hostile6.gov.vn")  # no AAAA: a failing host to ask about
    hosts = next(o for o in ipv6only.check_pages(NAME, [page], settings) if o.id.endswith(":hosts"))
    assert hosts.error is None, hosts.error
    assert hosts.data["history"]["error"] == "history not read: OSError: connection refused"
    assert hosts.data["history"]["first_seen"] == {} and hosts.data["transport"]


def test_a_lookup_asked_after_the_proxy_stopped_is_an_error_not_a_thread_exception(hostile) -> None:
    """A page's connection still open when its check's budget ends asked the stopped proxy to look a host up:
    that raised RuntimeError ('cannot schedule new futures after shutdown') in the connection's thread and
    printed a traceback in the middle of a batch. It is the host's lookup error now."""
    from concurrent.futures import ThreadPoolExecutor

    _pages, hints = hostile
    pool = ThreadPoolExecutor(2)
    pool.shutdown()
    resolver = HostResolver(settings_for(hints), pool)
    assert resolver.resolve("dichvucong.hostile6.gov.vn").error == PROXY_STOPPED
    # stopped between the AAAA and A halves of one lookup
    assert resolver._lookup("dichvucong.hostile6.gov.vn").error == PROXY_STOPPED


def test_connections_open_when_the_proxy_stops_end_without_thread_exceptions(hostile) -> None:
    _pages, hints = hostile
    seen: list[BaseException] = []
    old_hook = threading.excepthook
    threading.excepthook = lambda args: seen.append(args.exc_value)
    try:
        proxy = IPv6OnlyProxy(settings_for(hints), time.monotonic() + 5)
        proxy.start()
        proxy.pool.shutdown()  # what stop() does, before the connections below have asked anything
        clients = [socket.create_connection(("127.0.0.1", proxy.port), timeout=5) for _ in range(4)]
        for i, c in enumerate(clients):
            c.sendall(f"CONNECT h{i}.hostile6.gov.vn:443 HTTP/1.1\r\n\r\n".encode())
        answers = [c.recv(4096) for c in clients]
        proxy.stop()
        for c in clients:
            c.close()
    finally:
        threading.excepthook = old_hook
    assert seen == []
    assert all(a.startswith(b"HTTP/1.1 502") and PROXY_STOPPED.encode() in a for a in answers), answers
