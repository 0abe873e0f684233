"""Jinja2 environment over the package's templates/ folder (reports, plans, contracts; netready/resources.py)."""

from __future__ import annotations

import base64
import hashlib
import re
from functools import cache

from jinja2 import Environment, FileSystemLoader, Template, select_autoescape

from netready import resources


@cache
def environment() -> Environment:
    return Environment(
        loader=FileSystemLoader(resources.folder("templates")),
        autoescape=select_autoescape(["html", "html.j2", "xml"], default_for_string=False),
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )


def get_template(name: str) -> Template:
    return environment().get_template(name)


STYLE = re.compile(r"<style>(.*?)</style>", re.S)
CSP_SLOT = "<head>\n"


def with_csp(html: str) -> str:
    """The page with a Content-Security-Policy as the first element of <head> (issue #15): no script runs unless
    it comes from the page's own origin (the reports carry none), nothing loads from the network (images only
    as data: URIs), and only the page's own <style> blocks apply, pinned by their SHA-256. So even text that
    slipped past escaping could not run or phone home when an auditor opens the file."""
    hashes = " ".join(f"'sha256-{base64.b64encode(hashlib.sha256(m.encode()).digest()).decode()}'"
                      for m in STYLE.findall(html))
    style_src = hashes or "'none'"
    policy = (f"default-src 'none'; script-src 'self'; style-src {style_src}; img-src data:; "
              "font-src data:; base-uri 'none'; form-action 'none'; object-src 'none'")
    meta = f'<meta http-equiv="Content-Security-Policy" content="{policy}">\n'
    if CSP_SLOT not in html:
        raise ValueError("template has no <head> line to put the Content-Security-Policy in")
    return html.replace(CSP_SLOT, CSP_SLOT + meta, 1)
