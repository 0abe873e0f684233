"""VN-IPV6-ONLY (Decision 3369/QĐ-BKHCN): the portal works for a citizen on an IPv6-only network.

Pure: reads the ipv6only probe's observations. Passes when the portal resolves over IPv6 only and its pages
and every request they make (scripts, styles, fonts, images, frames, XHR/fetch, form actions, redirects)
reach their hosts over IPv6 only. Otherwise one `fail` per host that an IPv6-only citizen cannot reach
(subject = the host), saying why, what on the pages needs it and since when. Ambiguity (timeouts, a page
that never finished, caps reached, a page that fails for reasons that are not IPv6) gives `error`, never a
pass. Links that leave the site (SSO, payment, document services) are listed, not judged: they lead to
other sites, which are checked as targets of their own.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from netready.evaluate import Outcome, by_probe, evaluator
from netready.evaluate.ipv6 import CLASS_TEXT, acceptable
from netready.model import Observation, Target
from netready.tables.web import host_port, ipv6_class

if TYPE_CHECKING:
    from netready.profiles import Profile

RULE = "VN-IPV6-ONLY"
MAX_USES = 3  # uses of a host quoted in a message ("and N more")

KIND_TEXT: dict[str, tuple[str, str]] = {
    "document": ("page", "trang"), "iframe": ("frame", "khung (iframe)"), "script": ("script", "script"),
    "style": ("style sheet", "tệp CSS"), "font": ("font", "phông chữ"), "image": ("image", "ảnh"),
    "media": ("media", "tệp đa phương tiện"), "xhr": ("XHR", "XHR"), "fetch": ("fetch", "fetch"),
    "websocket": ("WebSocket", "WebSocket"), "form-action": ("form action", "đích gửi biểu mẫu"),
    "redirect": ("redirect to", "chuyển hướng tới"), "other": ("request", "yêu cầu"),
}
PURPOSE_TEXT = {"sso": ("SSO/login", "đăng nhập/SSO"), "payment": ("payment", "thanh toán"),
                "document": ("documents", "tài liệu"), "other": ("other", "khác")}


@dataclass
class HostProblem:
    host: str
    verdict: str  # fail | error
    en: list[str] = field(default_factory=list)
    vi: list[str] = field(default_factory=list)


def _hosts(observations: list[Observation]) -> Observation | None:
    return next((o for o in by_probe(observations, "ipv6only") if o.id.endswith(":hosts")), None)


def _pages(observations: list[Observation]) -> list[Observation]:
    return [o for o in by_probe(observations, "ipv6only") if ":page:" in o.id]


def _transport_problem(rec: dict[str, Any], profile: Profile) -> tuple[str, str, str] | None:
    """(verdict, en, vi) for one host:port the proxy tried, or None when IPv6 worked."""
    if rec.get("address"):
        cls = ipv6_class(rec["address"])
        if not acceptable(cls, profile):
            en, vi = CLASS_TEXT.get(cls, (cls, cls))
            return ("fail", f"it answers only on {rec['address']}, {en}, not a global unicast address",
                    f"chỉ trả lời tại {rec['address']}, {vi}, không phải địa chỉ unicast toàn cầu")
        return None
    error = rec.get("error") or "no IPv6 connection"
    stage = rec.get("stage")
    if stage == "limit":
        return ("error", f"not checked ({error})", f"không kiểm tra ({error})")
    if stage == "resolve":
        if rec.get("lookup_error"):
            return ("error", f"its AAAA lookup failed: {rec['lookup_error']}",
                    f"tra cứu AAAA thất bại: {rec['lookup_error']}")
        if rec.get("a") and not rec.get("aaaa"):
            a = ", ".join(rec["a"])
            if error.startswith("an IPv4 address literal"):
                return ("fail", f"it is an IPv4 address literal ({a})", f"là địa chỉ IPv4 viết trực tiếp ({a})")
            return ("fail", f"IPv4 only (A {a}, no AAAA)", f"chỉ có IPv4 (A {a}, không có AAAA)")
        rcode = rec.get("aaaa_rcode") or "no answer"
        return ("fail", f"it has no address at all (answer {rcode})", f"không có địa chỉ nào (trả lời {rcode})")
    timeouts = all("timeout" in part for part in error.split("; "))
    verdict = "error" if timeouts else "fail"
    return (verdict, f"AAAA published but the IPv6 connection fails ({error})",
            f"có AAAA nhưng không kết nối được qua IPv6 ({error})")


def _walk_problem(walk: dict[str, Any]) -> tuple[str, str, str] | None:
    if not walk or walk.get("skipped") or not walk.get("error"):
        return None
    error = walk["error"]
    verdict = "error" if walk.get("failure") in ("timeout", "budget") else "fail"
    return (verdict, f"its name does not resolve over IPv6 only: {error}",
            f"tên miền không phân giải được chỉ qua IPv6: {error}")


def _uses(pages: list[Observation]) -> dict[str, list[tuple[str, str, str | None]]]:
    """host -> [(kind, url, initiator)] in page order: what on the pages needs the host. The initiator is the
    script that made the request when known, "" when the page's HTML does not name it (a script or a style
    sheet asked: only a browser sees such requests)."""
    uses: dict[str, list[tuple[str, str, str | None]]] = {}
    for page in pages:
        for req in page.data.get("requests") or []:
            initiator = req.get("initiator") or ("" if req.get("in_html") is False else None)
            uses.setdefault(req["host"], []).append((req["kind"], req["url"], initiator))
        for form in page.data.get("forms") or []:
            hp = host_port(form.get("action") or "")
            if hp:
                uses.setdefault(hp[0], []).append(("form-action", form["action"], None))
    return uses


def _uses_text(items: list[tuple[str, str, str | None]]) -> tuple[str, str]:
    seen: list[tuple[str, str, str | None]] = []
    for item in items:
        if item[:2] not in [s[:2] for s in seen]:
            seen.append(item)
    en, vi = [], []
    for kind, url, initiator in seen[:MAX_USES]:
        k_en, k_vi = KIND_TEXT.get(kind, KIND_TEXT["other"])
        by = f" (requested by the script {initiator})" if initiator and initiator != url else ""
        by_vi = f" (do script {initiator} yêu cầu)" if by else ""
        if initiator == "":
            by, by_vi = " (not in the HTML: requested by a script or style sheet)", \
                " (không có trong HTML: do script hoặc CSS yêu cầu)"
        en.append(f"{k_en} {url}{by}")
        vi.append(f"{k_vi} {url}{by_vi}")
    more = len(seen) - MAX_USES
    if more > 0:
        en.append(f"and {more} more")
        vi.append(f"và {more} mục khác")
    return ", ".join(en), ", ".join(vi)


def _since(host: str, hosts: Observation) -> tuple[str, str]:
    hist = hosts.data.get("history") or {}
    when = (hist.get("first_seen") or {}).get(host)
    if when:
        src = hist.get("source") or "history"
        return f"first seen {when} ({src})", f"phát hiện lần đầu {when} ({src})"
    day = (hosts.started or "")[:10]
    if hist.get("source"):
        return (f"first seen in this check ({day}; not in {hist['source']})",
                f"phát hiện lần đầu ở lần kiểm tra này ({day}; không có trong {hist['source']})")
    return (f"first seen in this check ({day}; no monitoring history given)",
            f"phát hiện lần đầu ở lần kiểm tra này ({day}; chưa có lịch sử giám sát)")


def _mode_note(hosts: Observation, pages: list[Observation]) -> tuple[str, str]:
    reason = hosts.data.get("static_reason")
    if hosts.data.get("mode") == "static" or reason:
        return (f" [static HTML check, no browser: {reason}; requests made by scripts are not seen]",
                f" [chỉ phân tích HTML, không dùng trình duyệt: {reason}; yêu cầu do script tạo ra không được thấy]")
    engine = next((p.data.get("engine") for p in pages if p.data.get("engine")), "Chromium")
    return f" [{engine} through an IPv6-only proxy]", f" [{engine} qua proxy chỉ IPv6]"


def _links_text(hosts: Observation, bad: set[str]) -> tuple[str, str, list[str]]:
    """Summary of the external service links: (en, vi, hosts an IPv6-only citizen cannot follow)."""
    links = [lk for lk in hosts.data.get("links") or [] if lk.get("purpose") != "other"]
    if not links:
        return "", "", []
    en, vi, dead = [], [], []
    checked = {r["host"] for r in hosts.data.get("transport") or []}
    for host in dict.fromkeys(lk["host"] for lk in links):
        kinds = sorted({lk["purpose"] for lk in links if lk["host"] == host})
        p_en = "/".join(PURPOSE_TEXT[k][0] for k in kinds)
        p_vi = "/".join(PURPOSE_TEXT[k][1] for k in kinds)
        if host not in checked:
            en.append(f"{host} ({p_en}: not checked)")
            vi.append(f"{host} ({p_vi}: chưa kiểm tra)")
            continue
        ok = host not in bad
        en.append(f"{host} ({p_en}: {'IPv6 ok' if ok else 'not reachable over IPv6'})")
        vi.append(f"{host} ({p_vi}: {'IPv6 tốt' if ok else 'không truy cập được qua IPv6'})")
        if not ok:
            dead.append(host)
    return "; ".join(en), "; ".join(vi), dead


@evaluator(RULE)
def ipv6_only(target: Target, observations: list[Observation], profile: Profile) -> list[Outcome]:
    hosts = _hosts(observations)
    pages = _pages(observations)
    if hosts is None:
        return []
    evidence = (hosts.id, *(p.id for p in pages))
    if hosts.error:
        return [Outcome("error", f"could not check: {hosts.error}", f"không kiểm tra được: {hosts.error}",
                        subject=target.ascii_name, evidence=evidence)]
    data = hosts.data
    roles: dict[str, list[str]] = data.get("roles") or {}
    needed_hosts = {key.rsplit(":", 1)[0] for key, r in roles.items() if {"page", "form"} & set(r)}
    needed_hosts.add(target.ascii_name)
    problems: dict[str, HostProblem] = {}
    link_bad: set[str] = set()

    def add(host: str, found: tuple[str, str, str] | None) -> None:
        if found is None:
            return
        verdict, en, vi = found
        if host not in needed_hosts:
            link_bad.add(host)
            return
        prob = problems.setdefault(host, HostProblem(host, verdict))
        if verdict == "fail":
            prob.verdict = "fail"
        if en not in prob.en:
            prob.en.append(en)
            prob.vi.append(vi)

    for rec in data.get("transport") or []:
        add(rec["host"], _transport_problem(rec, profile))
    walks = data.get("resolution") or {}
    for host, walk in walks.items():
        add(host, _walk_problem(walk))
    skipped = next((w["skipped"] for w in walks.values() if w.get("skipped")), None)

    # Page-level problems that are not about one host: a page that never finished, caps, non-IPv6 failures.
    incomplete_en, incomplete_vi = [], []
    for page in pages:
        d = page.data
        if d.get("state") == "timeout":
            incomplete_en.append(f"{d['url']} did not finish loading within the time budget "
                                 f"({d.get('pending', 0)} requests still open)")
            incomplete_vi.append(f"{d['url']} chưa tải xong trong thời gian cho phép "
                                 f"(còn {d.get('pending', 0)} yêu cầu chưa xong)")
        elif d.get("state") in ("failed", "error"):
            main = next((r for r in d.get("requests") or [] if r["kind"] == "document"), None)
            if main is None or main["host"] not in problems:
                incomplete_en.append(f"{d['url']} could not be loaded: {d.get('error')}")
                incomplete_vi.append(f"không tải được {d['url']}: {d.get('error')}")
        for cap in d.get("limits") or []:
            if f"cap reached: {cap}" not in incomplete_en:
                incomplete_en.append(f"cap reached: {cap}")
                incomplete_vi.append(f"vượt giới hạn: {cap}")
        if d.get("requests_dropped"):
            incomplete_en.append(f"{d['requests_dropped']} more requests on {d['url']} not recorded")
            incomplete_vi.append(f"{d['requests_dropped']} yêu cầu khác trên {d['url']} không được ghi lại")
    if skipped:
        incomplete_en.append(f"resolution over IPv6 only not checked: {skipped}")
        incomplete_vi.append(f"chưa kiểm tra phân giải chỉ qua IPv6: {skipped}")

    mode_en, mode_vi = _mode_note(hosts, pages)
    links_en, links_vi, dead_links = _links_text(hosts, link_bad | set(problems))
    uses = _uses(pages)
    outcomes: list[Outcome] = []
    for host in sorted(problems, key=lambda h: (h != target.ascii_name, h)):
        prob = problems[host]
        if prob.verdict != "fail":
            continue
        use_en, use_vi = _uses_text(uses.get(host, []))
        since_en, since_vi = _since(host, hosts)
        own = host == target.ascii_name
        needs_en = "the portal itself" if own and not use_en else (use_en or "the pages")
        needs_vi = "chính cổng thông tin" if own and not use_vi else (use_vi or "các trang")
        outcomes.append(Outcome(
            "fail",
            f"{host}: {'; '.join(prob.en)} — unreachable for an IPv6-only citizen, needed for {needs_en}; "
            f"{since_en}{mode_en}",
            f"{host}: {'; '.join(prob.vi)} — người dùng chỉ có IPv6 không truy cập được, cần cho {needs_vi}; "
            f"{since_vi}{mode_vi}",
            subject=host, evidence=evidence))
    if outcomes:
        unsure = [p for p in problems.values() if p.verdict == "error"]
        if unsure or incomplete_en:  # what else could not be checked: said, not hidden behind the fails
            en = [f"{p.host}: {'; '.join(p.en)}" for p in unsure] + incomplete_en
            vi = [f"{p.host}: {'; '.join(p.vi)}" for p in unsure] + incomplete_vi
            outcomes.append(Outcome("error", "also not checked: " + "; ".join(en), "chưa kiểm tra được thêm: "
                                    + "; ".join(vi), subject=target.ascii_name, evidence=evidence))
        if dead_links:
            outcomes.append(Outcome(
                "info", f"links leaving the site: {links_en}", f"liên kết ra ngoài trang: {links_vi}",
                subject="links", evidence=(hosts.id,)))
        return outcomes
    unsure = [p for p in problems.values() if p.verdict == "error"]
    if unsure or incomplete_en:
        en = [f"{p.host}: {'; '.join(p.en)}" for p in unsure] + incomplete_en
        vi = [f"{p.host}: {'; '.join(p.vi)}" for p in unsure] + incomplete_vi
        return [Outcome("error", "could not finish the IPv6-only check: " + "; ".join(en) + mode_en,
                        "chưa hoàn tất kiểm tra chỉ IPv6: " + "; ".join(vi) + mode_vi,
                        subject=target.ascii_name, evidence=evidence)]
    n_req = sum(len(p.data.get("requests") or []) for p in pages)
    n_hosts = len({r["host"] for r in data.get("transport") or []})
    n_pages = len(pages)
    tail_en = f"; links leaving the site: {links_en}" if links_en else ""
    tail_vi = f"; liên kết ra ngoài trang: {links_vi}" if links_vi else ""
    return [Outcome(
        "pass",
        f"resolves over IPv6 only, and {n_pages} page(s) with {n_req} request(s) to {n_hosts} host(s) all work "
        f"over IPv6 only{tail_en}{mode_en}",
        f"phân giải được chỉ qua IPv6, {n_pages} trang với {n_req} yêu cầu tới {n_hosts} máy chủ đều hoạt động "
        f"chỉ qua IPv6{tail_vi}{mode_vi}",
        subject=target.ascii_name, evidence=evidence)]
