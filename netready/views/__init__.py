"""The human views of the area commands (`netready dnssec|tls|ipv6 NAME`): what the probes saw, drawn above the
findings. One room for them, beside the report renderers (netready/render.py): a view reads saved observations
only, so a report can be drawn again offline.

    dnssec  netready/views/dnssec.py   chain tree (text) and the DNSViz-style SVG
    ipv6    netready/views/ipv6.py     AAAA, web per address, name servers over IPv6, IPv6-only pages
    tls     netready/views/tls.py     versions, suites, certificates, groups, HTTP, weaknesses, Mozilla profile

Each module is imported only by the command that draws it.
"""

from __future__ import annotations

import importlib
from typing import Any

from netready.model import Observation

# area -> the (module, function) of each of its text views, drawn in this order
AREA_VIEWS: dict[str, tuple[tuple[str, str], ...]] = {
    "dnssec": (("netready.views.dnssec", "render_chain_text"),),
    "tls": (("netready.views.tls", "render_tls_text"),),
    "ipv6": (("netready.views.ipv6", "render_ipv6_text"), ("netready.views.ipv6", "render_ipv6only_text")),
}


def area_text(area: str, observations: list[Observation], lang: str) -> str:
    """The text views of one area over these observations, a blank line between two ("" for an area without)."""
    out = []
    for module, function in AREA_VIEWS.get(area, ()):
        view: Any = getattr(importlib.import_module(module), function)
        out.append(view(observations, lang).rstrip("\n") + "\n")
    return "\n".join(out)
