"""One web page as an IPv6-only citizen gets it: every request it makes, with its kind, through the
IPv6-only proxy (probes/webproxy.py).

- `load_in_browser(browser, url, proxy, deadline)`: headless Chromium loads the page (scripts run, so what
  they load is seen); the DevTools Network events give each request's URL, kind, frame, redirects and
  failures; one DOM read after the page settles gives the forms (their actions) and the links.
- `load_static(url, proxy, deadline)`: no browser: the HTML is fetched through the same proxy and parsed
  with lxml (libxml2's HTML parser); what the HTML names is listed, what scripts would load is not seen.

Both return a PageResult (plain data, JSON-able). Nothing here judges.
"""

from __future__ import annotations

import http.client
import re
import ssl
import threading
import time
from dataclasses import asdict, dataclass, field
from typing import Any
from urllib.parse import urljoin, urlsplit

from netready.probes.browser import Browser, BrowserError
from netready.probes.webproxy import IPv6OnlyProxy
from netready.tables.web import host_port

MAX_REQUESTS = 500  # requests recorded per page (a hostile page may make thousands: the rest are counted)
MAX_LINKS = 300
MAX_FORMS = 50
HTML_CAP = 4 * 1024 * 1024  # bytes of HTML the static fallback reads and parses
MAX_REDIRECTS = 10  # static fallback (Chromium stops at 20 by itself)
SETTLE_QUIET_S = 0.3  # after the load event: no request in flight for this long = settled
SETTLE_MAX_S = 2.0  # ... but wait at most this long after the load event (long polls never settle)

# DevTools resource types -> kinds of the report.
KINDS = {"Document": "document", "Stylesheet": "style", "Script": "script", "Font": "font", "Image": "image",
         "Media": "media", "XHR": "xhr", "Fetch": "fetch", "EventSource": "xhr", "WebSocket": "websocket",
         "Manifest": "other", "Ping": "other", "CSPViolationReport": "other", "Prefetch": "other",
         "Preflight": "other", "TextTrack": "media", "SignedExchange": "other", "Other": "other"}

DOM_SCRIPT = (
    "(() => {"
    " const abs = (u) => { try { return new URL(u, document.baseURI).href; } catch (e) { return null; } };"
    " const method = (el, alt) => ((el && el.getAttribute(alt)) || 'get').toLowerCase();"
    " const forms = [];"
    f" for (const f of Array.from(document.forms).slice(0, {MAX_FORMS})) {{"
    "  forms.push({action: abs(f.getAttribute('action') || document.URL), method: method(f, 'method')});"
    "  for (const b of Array.from(f.querySelectorAll('[formaction]')).slice(0, 5))"
    "   forms.push({action: abs(b.getAttribute('formaction')), method: method(b, 'formmethod')});"
    " }"
    f" const links = Array.from(document.querySelectorAll('a[href], area[href]')).slice(0, {MAX_LINKS})"
    "  .map((a) => ({href: abs(a.getAttribute('href')),"
    "                text: (a.textContent || a.getAttribute('alt') || '').trim().slice(0, 80)}));"
    " return JSON.stringify({url: document.URL, forms, links});"
    "})()"
)


@dataclass
class Request:
    url: str
    host: str
    port: int
    kind: str  # document | iframe | script | style | font | image | media | xhr | fetch | form-action | redirect...
    method: str = "GET"
    resource: str | None = None  # for a redirect hop: what was being loaded (document, script...)
    status: int | None = None
    error: str | None = None  # net::ERR_... from the browser, or why the static fetch failed
    redirected_from: str | None = None
    initiator: str | None = None  # the script that asked for it (requests made by JavaScript), when known
    seen: str = "request"  # request (made) | html (named in the HTML, static fallback) | dom (form action)
    in_html: bool | None = None  # browser: the page's HTML names it (False: a script or style sheet asked)


@dataclass
class PageResult:
    url: str
    mode: str  # browser | static
    engine: str = ""
    static_reason: str | None = None  # why the static fallback ran
    final_url: str | None = None
    state: str = "loaded"  # loaded | timeout (load event never came) | failed (navigation error) | error
    error: str | None = None
    elapsed_ms: float = 0.0
    requests: list[Request] = field(default_factory=list)
    requests_dropped: int = 0  # requests beyond MAX_REQUESTS, counted only
    forms: list[dict[str, str]] = field(default_factory=list)
    links: list[dict[str, str]] = field(default_factory=list)
    pending: int = 0  # requests still in flight when the check stopped waiting
    limits: list[str] = field(default_factory=list)  # caps reached (proxy and page)
    html_bytes: int | None = None  # static fallback: bytes of HTML parsed
    html_truncated: bool = False

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


_CONTROL_RE = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def clean(text: str | None, limit: int = 2048) -> str | None:
    """Text a page controls (URLs, link texts), made safe to store and print: control characters (a terminal
    escape sequence, a newline) percent-encoded, length capped."""
    if text is None:
        return None
    out = _CONTROL_RE.sub(lambda m: f"%{ord(m.group()):02X}", text)
    return out if len(out) <= limit else out[:limit] + "…"


# ---------------------------------------------------------------------------------------- browser


class _Collector:
    """Turns one page's DevTools events into Requests; counts what is still in flight."""

    def __init__(self, result: PageResult) -> None:
        self.result = result
        self.by_id: dict[str, Request] = {}
        self.inflight: set[str] = set()
        self.main_frame: str | None = None
        self.loaded = threading.Event()
        self.dialogs: list[str] = []
        self.last_activity = time.monotonic()
        self.lock = threading.Lock()

    def __call__(self, method: str, params: dict[str, Any]) -> None:
        with self.lock:
            self.last_activity = time.monotonic()
            if method == "Network.requestWillBeSent":
                self._request(params)
            elif method == "Network.responseReceived":
                req = self.by_id.get(params.get("requestId", ""))
                if req is not None:
                    req.status = params.get("response", {}).get("status")
            elif method in ("Network.loadingFinished", "Network.loadingFailed"):
                rid = params.get("requestId", "")
                self.inflight.discard(rid)
                req = self.by_id.get(rid)
                if req is not None and method == "Network.loadingFailed" and not req.error:
                    req.error = clean(params.get("blockedReason") or params.get("errorText") or "failed", 200)
            elif method == "Page.loadEventFired":
                self.loaded.set()
            elif method == "Page.javascriptDialogOpening":
                self.dialogs.append(params.get("type", "dialog"))

    def _request(self, p: dict[str, Any]) -> None:
        rid, req_info = p.get("requestId", ""), p.get("request", {})
        url = req_info.get("url", "")
        previous = self.by_id.get(rid)
        if p.get("redirectResponse") and previous is not None:
            previous.status = p["redirectResponse"].get("status")
        hp = host_port(url)
        if hp is None:  # data:, blob: ... never reach the network
            return
        if previous is None and len(self.by_id) >= 4 * MAX_REQUESTS:  # a page firing requests without end
            self.result.requests_dropped += 1
            return
        kind = KINDS.get(p.get("type", "Other"), "other")
        frame = p.get("frameId")
        if kind == "document" and self.main_frame and frame and frame != self.main_frame:
            kind = "iframe"
        resource = None
        if p.get("redirectResponse"):
            resource, kind = kind, "redirect"
        initiator = p.get("initiator", {})
        stack_url = next(
            (f.get("url") for f in (initiator.get("stack") or {}).get("callFrames", []) if f.get("url")), None)
        # A script's request names the script (the stack), a parser's the document or style sheet.
        origin = (stack_url or initiator.get("url")) if initiator.get("type") == "script" else None
        req = Request(url=clean(url) or "", host=hp[0], port=hp[1], kind=kind,
                      method=clean(req_info.get("method", "GET"), 16) or "GET", resource=resource,
                      redirected_from=previous.url if p.get("redirectResponse") and previous else None,
                      initiator=clean(origin))
        self.by_id[rid] = req
        self.inflight.add(rid)
        if len(self.result.requests) < MAX_REQUESTS:
            self.result.requests.append(req)
        else:
            self.result.requests_dropped += 1


def load_in_browser(browser: Browser, url: str, proxy: IPv6OnlyProxy, deadline: float,
                    follow: list[str] | None = None) -> list[PageResult]:
    """Load url (then each follow URL, in the same browser context) through the proxy. Never raises
    BrowserError for page problems; raises it when the browser itself is unusable."""
    results: list[PageResult] = []
    holder: dict[str, _Collector] = {}

    def on_event(method: str, params: dict[str, Any]) -> None:
        collector = holder.get("c")
        if collector is not None:
            collector(method, params)

    session = browser.open_page(proxy.url, on_event, timeout=max(1.0, deadline - time.monotonic()))
    try:
        sid = session.session_id
        # Runtime on: the V8 inspector then records the script stack of each request a script makes. Bodies
        # are kept up to HTML_CAP so the page's own HTML can be read back (what it names, see _mark_in_html).
        for f in (browser.send("Page.enable", session_id=sid), browser.send("Runtime.enable", session_id=sid),
                  browser.send("Network.enable", {"maxTotalBufferSize": 2 * HTML_CAP,
                                                  "maxResourceBufferSize": HTML_CAP}, session_id=sid)):
            f.result(timeout=max(0.5, deadline - time.monotonic()))
        for page_url in [url, *(follow or [])]:
            if time.monotonic() >= deadline:
                results.append(PageResult(url=page_url, mode="browser", engine=browser.version, state="error",
                                          error="not loaded: the time budget was used by the pages before"))
                continue
            result = PageResult(url=page_url, mode="browser", engine=browser.version)
            holder["c"] = collector = _Collector(result)
            _navigate(browser, sid, collector, result, deadline)
            results.append(result)
    finally:
        browser.close_page(session)
    return results


def _navigate(browser: Browser, sid: str, c: _Collector, result: PageResult, deadline: float) -> None:
    t0 = time.monotonic()

    def left() -> float:
        return deadline - time.monotonic()

    try:
        nav = browser.call("Page.navigate", {"url": result.url}, session_id=sid, timeout=max(0.2, left()))
    except BrowserError as exc:
        if "no answer" not in str(exc):
            raise
        nav = {"errorText": "navigation did not start within the time budget"}
    with c.lock:
        c.main_frame = nav.get("frameId")
        for req in c.result.requests:  # requests seen before navigate answered: main-frame documents
            if req.kind == "iframe":
                req.kind = "document"
    if nav.get("errorText"):
        result.state, result.error = "failed", nav["errorText"]
    else:
        # The load event, then quiet network (what scripts load after onload), all within the deadline.
        while not c.loaded.wait(timeout=min(0.1, max(left(), 0))):
            if left() <= 0:
                result.state = "timeout"
                result.error = "the page did not finish loading (no load event) within the time budget"
                break
            if c.dialogs:
                _dismiss(browser, sid)
        if result.state == "loaded":
            settle_until = min(deadline, time.monotonic() + SETTLE_MAX_S)
            while time.monotonic() < settle_until:
                with c.lock:
                    quiet = not c.inflight and time.monotonic() - c.last_activity >= SETTLE_QUIET_S
                if quiet:
                    break
                if c.dialogs:
                    _dismiss(browser, sid)
                time.sleep(0.05)
        main = next((r for r in result.requests if r.kind == "document"), None)
        if result.state == "loaded" and main is not None and main.error and main.status is None:
            result.state, result.error = "failed", main.error
    if left() > 0.2:
        _read_dom(browser, sid, result, min(left(), 3.0))
    if left() > 0.2 and result.state == "loaded":
        _mark_in_html(browser, sid, c, result, min(left(), 3.0))
    with c.lock:
        result.pending = len(c.inflight)
    result.elapsed_ms = round((time.monotonic() - t0) * 1000, 1)


def _mark_in_html(browser: Browser, sid: str, c: _Collector, result: PageResult, timeout: float) -> None:
    """Mark each request with whether the page's HTML names it (what the static fallback finds): the others
    were made by scripts or style sheets, which only a browser sees."""
    import base64

    with c.lock:
        doc_id = next((rid for rid, r in c.by_id.items() if r.kind in ("document", "redirect")
                       and (r.resource in (None, "document")) and r.status and r.status < 300), None)
        doc = c.by_id.get(doc_id or "")
    if doc is None:
        return
    try:
        got = browser.call("Network.getResponseBody", {"requestId": doc_id}, session_id=sid, timeout=timeout)
    except BrowserError:
        return  # not kept (larger than the buffer, or evicted): the requests stay unmarked
    body = got.get("body") or ""
    raw = base64.b64decode(body) if got.get("base64Encoded") else body.encode("utf-8", "replace")
    named = PageResult(url=doc.url, mode="static")
    _parse_html(raw[:HTML_CAP], doc.url, named)
    in_html = {r.url for r in named.requests} | {doc.url}
    for req in result.requests:
        req.in_html = req.url in in_html


def _dismiss(browser: Browser, sid: str) -> None:
    browser.send("Page.handleJavaScriptDialog", {"accept": False}, session_id=sid)


def _read_dom(browser: Browser, sid: str, result: PageResult, timeout: float) -> None:
    import json

    try:
        got = browser.call("Runtime.evaluate", {"expression": DOM_SCRIPT, "returnByValue": True, "timeout": 2000},
                           session_id=sid, timeout=timeout)
        value = json.loads(got.get("result", {}).get("value") or "{}")
    except (BrowserError, ValueError):
        return  # a busy or broken page: the requests seen still count
    result.final_url = clean(value.get("url"))
    result.forms = [{"action": clean(f["action"]) or "", "method": clean(str(f.get("method")), 16) or "get"}
                    for f in value.get("forms", []) if isinstance(f, dict) and f.get("action")][:MAX_FORMS]
    result.links = [{"href": clean(ln["href"]) or "", "text": clean(str(ln.get("text") or ""), 80) or ""}
                    for ln in value.get("links", []) if isinstance(ln, dict) and ln.get("href")][:MAX_LINKS]


# ----------------------------------------------------------------------------------- static fallback


def _unverified() -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE  # certificates are other rules' business, as in the browser check
    return ctx


def _fetch(url: str, proxy: IPv6OnlyProxy, deadline: float, timeout: float) -> tuple[int, dict[str, str], bytes,
                                                                                       bool]:
    """GET url through the proxy: (status, headers, body up to HTML_CAP, truncated)."""
    parts = urlsplit(url)
    hp = host_port(url)
    if hp is None:
        raise ValueError(f"not an http(s) URL: {url}")
    per_op = max(0.05, min(timeout, deadline - time.monotonic()))
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    if parts.scheme == "https":
        conn: http.client.HTTPConnection = http.client.HTTPSConnection("127.0.0.1", proxy.port, timeout=per_op,
                                                                       context=_unverified())
        conn.set_tunnel(hp[0], hp[1])
        target = path
    else:
        conn = http.client.HTTPConnection("127.0.0.1", proxy.port, timeout=per_op)
        target = url
    try:
        conn.request("GET", target, headers={"User-Agent": "netready/0.1 (IPv6-only check)",
                                             "Accept": "text/html,*/*", "Accept-Encoding": "identity"})
        resp = conn.getresponse()
        body = b""
        while len(body) < HTML_CAP:
            if time.monotonic() >= deadline:
                raise TimeoutError("the page did not finish arriving within the time budget")
            chunk = resp.read1(65536) if hasattr(resp, "read1") else resp.read(65536)
            if not chunk:
                break
            body += chunk
        truncated = len(body) >= HTML_CAP
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, body[:HTML_CAP], truncated
    finally:
        conn.close()


def load_static(url: str, proxy: IPv6OnlyProxy, deadline: float, timeout: float, reason: str) -> PageResult:
    """Fetch url over IPv6 only (following redirects) and list what its HTML names."""
    t0 = time.monotonic()
    result = PageResult(url=url, mode="static", engine="lxml", static_reason=reason)
    current, previous = url, None
    body = b""
    for hop in range(MAX_REDIRECTS + 1):
        hp = host_port(current)
        if hp is None:
            result.state, result.error = "failed", f"not an http(s) URL: {current}"
            break
        req = Request(url=clean(current) or "", host=hp[0], port=hp[1], kind="document" if hop == 0 else "redirect",
                      resource=None if hop == 0 else "document", redirected_from=clean(previous))
        result.requests.append(req)
        try:
            status, headers, body, truncated = _fetch(current, proxy, deadline, timeout)
        except (OSError, http.client.HTTPException, ValueError, TimeoutError) as exc:
            req.error = clean(_fetch_error(exc, proxy, hp), 300)
            result.state = "timeout" if isinstance(exc, TimeoutError) and time.monotonic() >= deadline else "failed"
            result.error = req.error
            break
        req.status = status
        location = headers.get("location")
        if 300 <= status < 400 and location:
            if hop == MAX_REDIRECTS:
                result.state, result.error = "failed", f"more than {MAX_REDIRECTS} redirects"
                break
            previous, current = current, urljoin(current, location)
            continue
        result.final_url, result.html_bytes, result.html_truncated = current, len(body), truncated
        if truncated:
            result.limits.append(f"html > {HTML_CAP} bytes (parsed the first {HTML_CAP})")
        _parse_html(body, current, result)
        break
    result.limits.extend(h for h in proxy.limit_hits if h not in result.limits)
    result.elapsed_ms = round((time.monotonic() - t0) * 1000, 1)
    return result


def _fetch_error(exc: BaseException, proxy: IPv6OnlyProxy, hp: tuple[str, int]) -> str:
    """The proxy's own reason when it refused the tunnel (IPv4 only, unreachable...), else the exception."""
    rec = next((r for r in proxy.records() if (r.host, r.port) == hp), None)
    if rec is not None and rec.error:
        return rec.error
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


FONT_EXT = re.compile(r"\.(woff2?|ttf|otf|eot)(\?|#|$)", re.I)
LOADED_RELS = {"stylesheet": "style", "icon": "image", "shortcut": "image", "apple-touch-icon": "image",
               "manifest": "other", "modulepreload": "script"}
PRELOAD_AS = {"font": "font", "script": "script", "style": "style", "image": "image", "fetch": "fetch",
              "document": "iframe", "audio": "media", "video": "media", "track": "media"}


def _kind_of(el: Any, attr: str | None, link: str, pos: int) -> str | None:
    """What the browser would do with this link in the HTML; None for what it does not load by itself."""
    tag = el.tag if isinstance(el.tag, str) else ""
    tag = tag.lower()
    if attr is None:  # inside a <style> element or a style attribute: url() and @import
        text = el.text or "" if tag == "style" else el.get("style") or ""
        before = text[:pos]
        if re.search(r"@import\s+(url\()?\s*['\"]?$", before, re.I):
            return "style"
        face = before.lower().rfind("@font-face")
        if (face >= 0 and "}" not in before[face:]) or FONT_EXT.search(link):
            return "font"
        return "image"
    if tag == "script" and attr == "src":
        return "script"
    if tag == "link" and attr == "href":
        rels = (el.get("rel") or "").lower().split()
        if "preload" in rels:
            return PRELOAD_AS.get((el.get("as") or "").lower(), "other")
        return next((LOADED_RELS[r] for r in rels if r in LOADED_RELS), None)
    if tag in ("iframe", "frame") and attr == "src":
        return "iframe"
    if tag == "form" and attr == "action" or attr == "formaction":
        return "form-action"
    if tag in ("img", "input") and attr == "src" or attr in ("poster", "background"):
        return "image"
    if tag in ("video", "audio", "source", "track") and attr == "src":
        return "media"
    if tag in ("embed", "object", "applet") or attr in ("data", "codebase", "archive", "classid"):
        return "other"
    return None


def _parse_html(body: bytes, base: str, result: PageResult) -> None:
    import lxml.html

    try:
        doc = lxml.html.document_fromstring(body or b"<html></html>")
    except (ValueError, lxml.etree.ParserError) as exc:  # type: ignore[attr-defined]
        result.error = f"cannot parse the HTML: {exc}"
        return
    # Links are resolved here, not with make_links_absolute: that one writes the attributes back, and lxml
    # refuses to write a value with control characters (a hostile page would stop the parse).
    base_el = next(iter(doc.xpath("//base[@href]")), None)
    page_url = base
    if base_el is not None:
        try:
            base = urljoin(base, base_el.get("href").strip())
        except ValueError:
            pass
    seen: set[tuple[str, str]] = set()
    forms: list[dict[str, str]] = []
    for el, attr, raw_link, pos in doc.iterlinks():
        try:
            link = urljoin(base, raw_link.strip())
        except ValueError:
            continue
        tag = el.tag.lower() if isinstance(el.tag, str) else ""
        if tag in ("a", "area") and attr == "href":
            if host_port(link) and len(result.links) < MAX_LINKS:
                result.links.append({"href": clean(link) or "", "text": clean((el.text_content() or "").strip(), 80)
                                     or ""})
            continue
        if tag == "meta" and attr == "content":
            continue
        kind = _kind_of(el, attr, link, pos)
        if kind is None:
            continue
        if kind == "form-action":
            method = (el.get("method") or el.get("formmethod") or "get").lower()
            if len(forms) < MAX_FORMS:
                forms.append({"action": clean(link) or "", "method": clean(method, 16) or "get"})
            continue
        _add(result, seen, link, kind)
    for el in doc.iter("form"):  # a form without action posts to the page itself
        if el.get("action") is None and len(forms) < MAX_FORMS:
            forms.append({"action": clean(page_url) or "", "method": clean((el.get("method") or "get").lower(), 16)
                          or "get"})
    for el in doc.xpath("//*[@srcset]"):  # lxml's iterlinks does not read srcset
        for candidate in (el.get("srcset") or "").split(","):
            token = candidate.strip().split(" ")[0]
            if token:
                _add(result, seen, urljoin(base, token), "image")
    for el in doc.xpath("//meta[translate(@http-equiv,'REFSH','refsh')='refresh']"):
        m = re.search(r"url\s*=\s*['\"]?([^'\";]+)", el.get("content") or "", re.I)
        if m:
            _add(result, seen, urljoin(base, m.group(1).strip()), "redirect")
    result.forms = forms


def _add(result: PageResult, seen: set[tuple[str, str]], url: str, kind: str) -> None:
    hp = host_port(url)
    if hp is None or (url, kind) in seen:
        return
    seen.add((url, kind))
    if len(result.requests) >= MAX_REQUESTS:
        result.requests_dropped += 1
        return
    result.requests.append(Request(url=clean(url) or "", host=hp[0], port=hp[1], kind=kind, seen="html",
                                   resource="document" if kind == "redirect" else None))
