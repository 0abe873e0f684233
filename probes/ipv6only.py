"""The whole portal as an IPv6-only citizen sees it (Decision 3369/QĐ-BKHCN): resolution over IPv6 only of
the portal and of every host its pages use, the pages loaded in headless Chromium through netready's
IPv6-only proxy (or, without the browser, their HTML parsed), and the links that leave the site for SSO,
payment and document services. Measures only; netready.evaluate.ipv6only judges (VN-IPV6-ONLY).

Observations (shapes in docs/probes/ipv6only.md):
  ipv6only:<name>:page:<n>   one per page loaded (the front page, then each --follow page): mode, state,
                             every request (URL, host, kind, status, error), forms, links, caps reached
  ipv6only:<name>:hosts      every host the pages need (and the portal): AAAA/A, the IPv6 connection the
                             proxy made or why none, resolution over IPv6 only; external service links
                             with their purpose; first-seen times from the history source
"""

from __future__ import annotations

import re
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import urljoin

from netready.model import Observation, ObservationTimer, ProbeSettings, Target
from netready.probes.browser import BrowserError, find_chromium, shared_browser, stop_shared_browser
from netready.probes.ipv6 import resolve_ipv6_only
from netready.probes.pagecheck import PageResult, host_port, load_in_browser, load_static
from netready.probes.webproxy import IPv6OnlyProxy, Limits, _is_v4_literal, _is_v6_literal

PROBE = "ipv6only"
MAX_LINK_HOSTS = 16  # external link hosts checked (SSO, payment and document services first)
MAX_WALKS = 48  # hosts resolved over IPv6 only

# What a link that leaves the site is for, from words in its host, path or text (first match wins).
PURPOSES: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("sso", re.compile(r"(^|[./\-_])(sso|vneid|xacthuc|dangnhap|dang-nhap|login|signin|auth|oauth2?|openid|cas|"
                       r"idp|account|taikhoan|tai-khoan|id)([./\-_?]|$)|đăng nhập|xác thực", re.I)),
    ("payment", re.compile(r"(^|[./\-_])(pay|payment|paygov|thanhtoan|thanh-toan|napas|vnpay|momo|keypay|"
                           r"epay|bank|nganhang|checkout)([./\-_?]|$)|thanh toán", re.I)),
    ("document", re.compile(r"(^|[./\-_])(docs?|tailieu|tai-lieu|vanban|van-ban|congbao|files?|storage|"
                            r"download|luutru|bieumau|bieu-mau)([./\-_?]|$)|\.(pdf|docx?|xlsx?|odt|zip)(\?|$)|"
                            r"tài liệu|văn bản|biểu mẫu", re.I)),
)


def page_seconds(settings: ProbeSettings) -> float:
    """How long the pages may take in all: five network timeouts, 3-20 s, and never past 60 % of the budget."""
    return min(max(3.0, min(20.0, settings.timeout * 5)), settings.budget * 0.6)


def purpose(url: str, text: str = "") -> str:
    for name, pattern in PURPOSES:
        if pattern.search(url) or (text and pattern.search(text)):
            return name
    return "other"


def _base_host(name: str) -> str:
    return name[4:] if name.startswith("www.") else name


def _load_pages(urls: list[str], settings: ProbeSettings, proxy: IPv6OnlyProxy, deadline: float
                ) -> tuple[list[PageResult], str | None]:
    """The pages in the shared browser, or parsed statically (with the reason) when it cannot be used."""
    reason = None
    if not settings.browser:
        reason = settings.browser_off or "the browser check is turned off (--no-browser)"
    elif find_chromium() is None:
        reason = "no Chromium installed (Debian packages chromium-headless-shell or chromium)"
    browser = None
    if reason is None:
        try:
            browser = shared_browser()
        except BrowserError as exc:
            reason = f"Chromium could not start: {exc}"
    if browser is not None:
        if not browser.acquire_page(deadline - time.monotonic() - 1.0):
            reason = "the browser was busy with other portals for the whole time budget"
        else:
            try:
                return load_in_browser(browser, urls[0], proxy, deadline, urls[1:]), None
            except BrowserError as exc:  # the browser itself broke (crash, pipe closed): say so, parse the HTML
                reason = f"Chromium failed during the check: {exc}"
                if "no answer" in str(exc):  # wedged: the next check starts a fresh one
                    stop_shared_browser(browser)
            finally:
                browser.release_page()
    return [load_static(u, proxy, deadline, settings.timeout, reason) for u in urls], reason


def _needed(pages: list[PageResult], name: str) -> tuple[dict[tuple[str, int], list[str]], list[dict[str, str]]]:
    """(host, port) -> the roles that need it (page, form); and the links that leave the site."""
    needed: dict[tuple[str, int], list[str]] = {}
    links: list[dict[str, str]] = []
    seen_links: set[str] = set()
    own = {_base_host(name)}
    for page in pages:
        for req in page.requests:
            needed.setdefault((req.host, req.port), [])
            if "page" not in needed[(req.host, req.port)]:
                needed[(req.host, req.port)].append("page")
        for form in page.forms:
            hp = host_port(form.get("action") or "")
            if hp:
                roles = needed.setdefault(hp, [])
                if "form" not in roles:
                    roles.append("form")
        own |= {_base_host(r.host) for r in page.requests if r.kind == "document"}
    for page in pages:
        for link in page.links:
            hp = host_port(link.get("href") or "")
            if hp is None or _base_host(hp[0]) in own or link["href"] in seen_links:
                continue
            seen_links.add(link["href"])
            links.append({"href": link["href"], "host": hp[0], "port": str(hp[1]), "text": link.get("text", ""),
                          "purpose": purpose(link["href"], link.get("text", ""))})
    return needed, links


def _check_hosts(proxy: IPv6OnlyProxy, todo: list[tuple[str, int, str]]) -> None:
    """Connect over IPv6 to the hosts no page request reached (form actions, links, static mode)."""
    def one(item: tuple[str, int, str]) -> None:
        _rec, sock = proxy.reach(item[0], item[1], via=item[2])
        if sock is not None:
            sock.close()

    if todo:
        with ThreadPoolExecutor(max_workers=min(8, len(todo)), thread_name_prefix="v6only-check") as pool:
            list(pool.map(one, todo))


def _history(settings: ProbeSettings) -> tuple[Any, str | None]:
    if not settings.history:
        return None, None
    from netready.ipv6only_history import HistoryError, load_history

    try:
        source = load_history(list(settings.history))
    except HistoryError as exc:
        return None, f"history not read: {exc}"
    return source, None


def run(target: Target, settings: ProbeSettings) -> list[Observation]:
    """Observations of one resolved target: its front page https://NAME/ and the --follow pages (never
    raises; bounded by settings.budget)."""
    front = f"https://{target.ascii_name}/"
    return check_pages(target.ascii_name, [front] + [urljoin(front, f) for f in settings.follow if f.strip()],
                       settings)


def check_pages(name: str, urls: list[str], settings: ProbeSettings) -> list[Observation]:
    """The IPv6-only check of the pages `urls` of portal `name` (the first is its front page)."""
    t0 = time.monotonic()
    end = t0 + settings.budget * 0.85  # the scanner stops waiting at the budget: finish before it
    page_end = min(end, t0 + page_seconds(settings))
    hosts_obs = Observation(id=f"{PROBE}:{name}:hosts", probe=PROBE, target=name, subject=name,
                            asked={"front_page": urls[0], "follow": urls[1:], "browser": settings.browser,
                                   "ipv6_only": True, "nat64": False})
    out: list[Observation] = []
    # The pages stop at page_end themselves; the proxy closes what is left a moment later (were it first, a
    # page cut at the deadline would look complete to the static reader).
    proxy = IPv6OnlyProxy(settings, page_end + 0.5, Limits())
    proxy.start()
    try:
        t_pages = time.monotonic()
        pages, reason = _load_pages(urls, settings, proxy, page_end)
        for i, page in enumerate(pages):
            page.limits.extend(h for h in proxy.limit_hits if h not in page.limits)
            obs = Observation(id=f"{PROBE}:{name}:page:{i}", probe=PROBE, target=name, subject=page.url,
                              asked={"url": page.url, "mode": page.mode, "through": "netready IPv6-only proxy"},
                              data=page.to_dict(), duration_ms=page.elapsed_ms)
            if page.state == "error":
                obs.error = page.error
            out.append(obs)
        with ObservationTimer(hosts_obs):
            proxy.deadline = end  # the pages are done; checking the other hosts may use the rest of the budget
            needed, links = _needed(pages, name)
            for url in urls:  # the pages themselves, even when the browser recorded no request for one
                hp = host_port(url)
                if hp is not None:
                    needed.setdefault(hp, ["page"])
            reached = {(r.host, r.port) for r in proxy.records()}
            by_purpose = sorted({(lk["host"], int(lk["port"]), lk["purpose"]) for lk in links},
                                key=lambda x: (x[2] == "other", x[0]))
            link_hosts = [(h, p) for h, p, _ in by_purpose if (h, p) not in needed][:MAX_LINK_HOSTS]
            todo = [(h, p, "check") for (h, p) in needed if (h, p) not in reached]
            todo += [(h, p, "link") for (h, p) in link_hosts if (h, p) not in reached]
            _check_hosts(proxy, todo)
            records = proxy.records()
            names = sorted({r.host for r in records if not _literal(r.host)})[:MAX_WALKS]
            with ThreadPoolExecutor(max_workers=min(8, max(1, len(names))), thread_name_prefix="v6only-walk") as p:
                walks = dict(zip(names, p.map(lambda h: resolve_ipv6_only(h, settings, end), names), strict=True))
            roles = {f"{h}:{p}": r for (h, p), r in needed.items()}
            for h, p in link_hosts:
                roles.setdefault(f"{h}:{p}", []).append("link")
            source, history_error = _history(settings)
            failing = sorted({r.host for r in records if not r.ok} |
                             {h for h, w in walks.items() if w.get("error")})
            first_seen = {}
            if source is not None:
                try:
                    for host in failing:
                        when = source.first_seen(name, host)
                        if when:
                            first_seen[host] = when
                except Exception as exc:  # a history database gone away: said, and the check goes on
                    history_error = f"history not read: {type(exc).__name__}: {exc}"
            hosts_obs.data = {
                "mode": pages[0].mode if pages else None,
                "static_reason": reason,
                "pages_ms": round((time.monotonic() - t_pages) * 1000, 1),
                "transport": [r.to_dict() for r in records],
                "roles": roles,
                "resolution": walks,
                "links": links,
                "limits": list(proxy.limit_hits),
                "history": {"source": getattr(source, "description", None), "error": history_error,
                            "first_seen": first_seen},
            }
    except Exception as exc:  # a bug must become a visible error on this target, not a crash of the scan
        hosts_obs.error = f"internal error in the IPv6-only check: {type(exc).__name__}: {exc}"
    finally:
        proxy.stop()
    out.append(hosts_obs)
    return out


def _literal(host: str) -> bool:
    return _is_v4_literal(host) or _is_v6_literal(host)
