"""Readers of web addresses that the probes (what to fetch next) and the judges (where a redirect or a form
goes) must read the same way: the one Location parser, host/port of a page URL, the class of an IPv6 address.
Pure and never raising: whatever a server sent gives a value or an error string, never an exception.

Sources: RFC 3986 (URI reference resolution), RFC 9110 §10.2.2 (Location), the IANA IPv6 Special-Purpose
Address Registry (RFC 6890) for ADDRESS_CLASSES.
"""

from __future__ import annotations

import functools
import re
from typing import Any
from urllib.parse import urljoin, urlsplit

# --- Location ---------------------------------------------------------------------------------------------


def parse_location(value: str) -> dict[str, Any]:
    """Scheme, host (lower case, no trailing dot) and port of a Location value; never raises (issue #15): a
    server that sends `https://host:99999/` or `https://[host/` gets error set, not a crashed judge."""
    out: dict[str, Any] = {"scheme": "", "host": "", "port": None, "error": None}
    try:
        u = urlsplit(value)
        out["scheme"] = u.scheme.lower()
        out["host"] = (u.hostname or "").rstrip(".").lower()
        out["port"] = u.port
    except ValueError as exc:
        out["error"] = f"bad Location {value[:80]!r}: {exc}"
    return out


def split_location(location: str, base: str) -> dict[str, Any]:
    """A Location header resolved against the request URL (relative ones too), then read by parse_location
    (the one Location parser), with its path and query; never raises. A bad port or a broken IPv6 literal
    gives {"error": "..."} naming the problem: a finding, not an exception."""
    try:
        url = urljoin(base, location.strip())
    except ValueError as exc:
        return {"error": f"bad Location {location[:80]!r}: {exc}", "url": location[:200]}
    out: dict[str, Any] = {**parse_location(url), "url": url}
    if out["error"]:
        return out
    parts = urlsplit(url)
    out["path"] = parts.path or "/"
    out["query"] = parts.query
    out["path_query"] = out["path"] + (f"?{parts.query}" if parts.query else "")
    return out


# --- page URLs --------------------------------------------------------------------------------------------

_HOST_RE = re.compile(r"^(?:[a-z0-9_](?:[a-z0-9_-]*[a-z0-9_])?\.?)+$|^[0-9a-f:.]+$")


def host_port(url: str) -> tuple[str, int] | None:
    """(host, port) of an http(s) URL, or None for other schemes (data:, blob:, javascript:...) and for
    host names no resolver would take (the page is hostile or broken: nothing to reach)."""
    try:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https", "ws", "wss") or not parts.hostname:
            return None
        port = parts.port or (443 if parts.scheme in ("https", "wss") else 80)
    except ValueError:
        return None
    host = parts.hostname.lower().rstrip(".")
    if len(host) > 253 or not _HOST_RE.match(host):
        return None
    return host, port


# --- IPv6 address classes ---------------------------------------------------------------------------------

# Most specific first; the first prefix an address falls in gives its class.
ADDRESS_CLASSES: tuple[tuple[str, str], ...] = (
    ("::/128", "unspecified"),
    ("::1/128", "loopback"),
    ("::ffff:0:0/96", "ipv4-mapped"),
    ("::/96", "ipv4-compatible"),
    ("64:ff9b::/96", "nat64"),
    ("64:ff9b:1::/48", "nat64"),
    ("100::/64", "discard"),
    ("2001::/32", "teredo"),
    ("2001:2::/48", "benchmarking"),
    ("2001:10::/28", "orchid"),
    ("2001:20::/28", "orchid"),
    ("2001:db8::/32", "documentation"),
    ("3fff::/20", "documentation"),
    ("2002::/16", "6to4"),
    ("fc00::/7", "unique-local"),
    ("fe80::/10", "link-local"),
    ("fec0::/10", "site-local"),
    ("ff00::/8", "multicast"),
    ("2000::/3", "global"),
)


@functools.lru_cache(maxsize=1)
def _nets() -> tuple:
    from netaddr import IPNetwork  # here, not at import: netaddr costs ~65 ms per process

    return tuple((IPNetwork(net), cls) for net, cls in ADDRESS_CLASSES)


def ipv6_class(address: str) -> str:
    """Class of an IPv6 address: global, documentation, link-local, ipv4-mapped... or invalid."""
    from netaddr import IPAddress

    try:
        ip = IPAddress(address.split("%")[0], 6)
    except (ValueError, TypeError, Exception):  # netaddr raises AddrFormatError (a subclass of Exception)
        return "invalid"
    for net, cls in _nets():
        if ip in net:
            return cls
    return "reserved"
