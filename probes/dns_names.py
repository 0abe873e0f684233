"""A user's portal name to its ASCII DNS form (IDNA 2008), with the length checks of a host name.

Its own module, apart from probes/dns.py, so that `netready tls NAME --address A` (and anything else that only
normalises a name) does not import dnspython's message machinery; a plain ASCII name does not even need
dnspython's name module (whose import reads package metadata: about 50 ms of a 0.4 s process).
"""

from __future__ import annotations

import re

MAX_LABEL = 63
MAX_NAME = 253
# Labels of letters, digits, hyphens and underscores, 1 to MAX_LABEL long: IDNA 2008 (dnspython's practical
# codec) passes pure-ASCII labels unchanged and none of their characters is escaped in DNS text, so such a
# name's ASCII form is itself, lowercased (tests/test_dns_names.py checks both ways agree).
_PLAIN_NAME = re.compile(r"[A-Za-z0-9_-]{1,63}(\.[A-Za-z0-9_-]{1,63})*")


class NameError_(ValueError):
    """The user's name cannot be a DNS host name (empty or over-long label, bad IDN...)."""


def to_ascii(name: str) -> str:
    """IDNA 2008 (RFC 5891, UTS 46 mapping, non-transitional) conversion of a user-given name to its ASCII
    form, with length checks. Explicitly IDNA 2008 through the `idna` package (dnspython[idna]): without
    it dnspython silently falls back to IDNA 2003, which maps "faß" to "fass" and accepts symbols such as
    U+2603 that IDNA 2008 forbids."""
    raw = name.strip().rstrip(".")
    if not raw:
        raise NameError_("empty name")
    if len(raw) <= MAX_NAME and _PLAIN_NAME.fullmatch(raw):
        return raw.lower()
    return _idna_to_ascii(raw)


def _idna_to_ascii(raw: str) -> str:
    """to_ascii through dnspython: IDN labels, escapes, and every name that fails a check (its message)."""
    import dns.exception
    import dns.name

    try:
        ascii_name = dns.name.from_unicode(raw, idna_codec=dns.name.IDNA_2008_Practical).to_text(omit_final_dot=True)
    except (dns.exception.DNSException, UnicodeError) as exc:
        raise NameError_(f"not a valid domain name: {raw!r} ({exc})") from exc
    labels = ascii_name.split(".")
    if any(len(label) == 0 for label in labels):
        raise NameError_(f"empty label in {raw!r}")
    if any(len(label) > MAX_LABEL for label in labels):
        raise NameError_(f"label longer than {MAX_LABEL} characters in {raw!r}")
    if len(ascii_name) > MAX_NAME:
        raise NameError_(f"name longer than {MAX_NAME} characters: {raw!r}")
    return ascii_name.lower()
