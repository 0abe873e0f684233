"""Issue #18: the lab portals whose pages depend on other hosts (VN-IPV6-ONLY).

Each such scenario has, besides its portal, a few more host names in its zone (or in another lab zone) on
the scenario's own web address pair: nginx serves them all from one server block (a multi-SAN certificate)
and one document root. A name without an AAAA record is IPv4-only however nginx listens: an IPv6-only
client finds no address for it.

- `v4deps`: the portal is dual stack, but its page loads a script and a font from static.v4deps.gov.vn
  (IPv4 only), posts its login form to sso.v4deps.gov.vn (IPv4 only) and, from a script of its own, loads
  an image from img.v4deps.gov.vn (IPv4 only: only a browser sees that one). It links to a payment service
  (pay., IPv4 only) and a document service (docs., dual stack).
- `v6ready`: the same page shape on dual-stack hosts only (and a fetch() and an iframe): compliant.
- `v4dns`: dual stack, its page loads a script from cdn.nov6.gov.vn, which has an AAAA record but lives in
  nov6.gov.vn, whose name servers have IPv4 addresses only: it cannot be resolved over IPv6 only.
"""

from __future__ import annotations

from pathlib import Path

from . import plan

# 1x1 transparent PNG; a few bytes standing in for a font (the browser fetches it, decoding does not matter).
PNG = bytes.fromhex("89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c4890000000d49444154789c6360"
                    "000002000001e221bc330000000049454e44ae426082")
FONT = b"wOF2\x00\x01\x00\x00netready-lab-font"

# scenario -> {host label (in the scenario's zone) or absolute name (trailing dot): dual stack?}
HOSTS: dict[str, dict[str, bool]] = {
    "v4deps": {"static": False, "sso": False, "img": False, "pay": False, "docs": True},
    "v6ready": {"static": True, "sso": True, "img": True, "pay": True, "docs": True},
    "v4dns": {"cdn.nov6.gov.vn.": True},
}


def _fqdn(label: str, scenario: str) -> str:
    return label if label.endswith(".") else f"{label}.{scenario}.gov.vn."


def host_names(scenario: str, index: int) -> list[str]:
    """Every extra host name served on this scenario's web addresses (no trailing dot)."""
    return [_fqdn(label, scenario).rstrip(".") for label in HOSTS.get(scenario, {})]


def zone_records(zone_scenario: str, scenarios: list[tuple[str, int]]) -> list[str]:
    """Records the zone of `zone_scenario` gets for the extra hosts of every scenario (some live elsewhere)."""
    zone = f"{zone_scenario}.gov.vn."
    out = []
    for scenario, index in scenarios:
        for label, dual in HOSTS.get(scenario, {}).items():
            name = _fqdn(label, scenario)
            if not name.endswith(zone):
                continue
            out.append(f"{name} A {plan.web4(index)}")
            if dual:
                out.append(f"{name} AAAA {plan.web6(index)}")
    return out


def _page(scenario: str, body: str, head: str = "") -> str:
    return (f'<!doctype html>\n<html lang="vi"><head><meta charset="utf-8"><title>Cổng Dịch vụ công</title>\n'
            f'<link rel="stylesheet" href="/site.css">\n{head}</head>\n<body><h1>Cổng Dịch vụ công</h1>\n'
            f"<p>dichvucong.{scenario}.gov.vn: cổng dịch vụ công trực tuyến (netready lab, scenario {scenario})</p>\n"
            f'<img src="/logo.png" alt="logo">\n{body}</body></html>\n')


def _service_page(scenario: str, xhr: bool, iframe: bool) -> str:
    z = f"{scenario}.gov.vn"
    head = (f'<style>@font-face {{ font-family: "LabFont"; src: url(https://static.{z}/font.woff2) '
            f'format("woff2"); }}\nbody {{ font-family: "LabFont", sans-serif; }}</style>\n'
            f'<script src="https://static.{z}/app.js"></script>\n')
    body = (f'<form action="https://sso.{z}/login" method="post"><input name="user">'
            f"<button>Đăng nhập</button></form>\n"
            f'<p><a href="https://pay.{z}/thanh-toan">Thanh toán trực tuyến</a> | '
            f'<a href="https://docs.{z}/bieu-mau.pdf">Biểu mẫu</a></p>\n')
    if iframe:
        body += f'<iframe src="https://docs.{z}/embed.html" title="docs"></iframe>\n'
    body += '<script src="/main.js"></script>\n'
    return _page(scenario, body, head)


def _main_js(scenario: str, xhr: bool) -> str:
    # The image exists only for a browser: no HTML names it.
    js = ('document.addEventListener("DOMContentLoaded", function () {\n'
          f'  var img = new Image(); img.alt = "banner"; img.src = "https://img.{scenario}.gov.vn/banner.png";\n'
          "  document.body.appendChild(img);\n});\n")
    if xhr:
        js += 'fetch("/api/status.json").then(function (r) { return r.text(); });\n'
    return js


def write_docroot(scenario: str, docroot: Path) -> bool:
    """Write the pages of a dependency scenario into its document root; False for other scenarios."""
    if scenario not in HOSTS:
        return False
    docroot.mkdir(parents=True, exist_ok=True)
    files: dict[str, str | bytes] = {"site.css": "h1 { color: #a00; }\n", "logo.png": PNG}
    if scenario == "v4dns":
        files["index.html"] = _page(scenario, "", '<script src="https://cdn.nov6.gov.vn/lib.js"></script>\n')
        files["lib.js"] = "document.title += ' (lib)';\n"
    else:
        files |= {
            "index.html": _service_page(scenario, scenario == "v6ready", scenario == "v6ready"),
            "main.js": _main_js(scenario, scenario == "v6ready"),
            "app.js": "window.labApp = true;\n",
            "font.woff2": FONT,
            "banner.png": PNG,
            "login": "<!doctype html><title>login</title>\n",
            "thanh-toan": "<!doctype html><title>payment</title>\n",
            "bieu-mau.pdf": "%PDF-1.4\n% netready lab\n",
            "embed.html": "<!doctype html><title>embed</title><p>docs</p>\n",
        }
        (docroot / "api").mkdir(exist_ok=True)
        files["api/status.json"] = '{"ok": true}\n'
    for rel, content in files.items():
        path = docroot / rel
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")
    return True
