"""probes/dns_names.py answers a plain ASCII name without dnspython; these tests hold that shortcut to what
dnspython's IDNA 2008 conversion (and the checks after it) gives the same name."""

from __future__ import annotations

import random
import subprocess
import sys

import pytest

from netready.probes import dns_names
from netready.probes.dns_names import NameError_, to_ascii

CORNERS = [
    "dichvucong.gov.vn", "DichVuCong.Gov.VN", "dichvucong.gov.vn.", "  portal.gov.vn  ", "_dmarc.gov.vn",
    "-lead.gov.vn", "trail-.gov.vn", "a--b.gov.vn", "xn--dch-v-u0a4k.gov.vn", "xn--zz.gov.vn", "XN--ZZ.gov.vn",
    "123.gov.vn", "1.2.3.4", "localhost", "vn", "a" * 63 + ".gov.vn", "a" * 64 + ".gov.vn",
    ".".join(["a" * 63] * 3 + ["a" * 61]), ".".join(["a" * 63] * 3 + ["a" * 62]), "a..b", ".a.b", "a.b..",
    "a b.gov.vn", "a\\.b.gov.vn", "a\\065b.gov.vn", "a\\999.gov.vn", "a\\", "@", ".", "dịch-vụ.gov.vn",
    "DỊCH-VỤ.GOV.VN", "faß.de", "☃.com", "a\u3002b", "a/b.gov.vn", "a*.gov.vn", "*.gov.vn", "a\tb", "a\nb",
]


def _both(name: str) -> tuple[str, str]:
    """(to_ascii's answer, dnspython's answer for the same stripped text): each a name or 'error: message'."""
    def run(fn, text):  # type: ignore[no-untyped-def]
        try:
            return fn(text)
        except NameError_ as exc:
            return f"error: {exc}"

    raw = name.strip().rstrip(".")
    return run(to_ascii, name), run(dns_names._idna_to_ascii, raw) if raw else "error: empty name"


@pytest.mark.parametrize("name", CORNERS)
def test_a_plain_name_gets_what_idna_2008_gives_it(name):
    fast, slow = _both(name)
    assert fast == slow


def test_random_plain_names_agree_with_idna_2008():
    rnd = random.Random(19)
    alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_"
    for _ in range(2000):
        labels = ["".join(rnd.choice(alphabet) for _ in range(rnd.choice([1, 2, 5, 20, 62, 63, 64])))
                  for _ in range(rnd.randint(1, 6))]
        name = ".".join(labels) + rnd.choice(["", "."])
        fast, slow = _both(name)
        assert fast == slow, name


def test_a_plain_name_does_not_import_dnspython():
    code = ("import sys; from netready.probes.dns_names import to_ascii; "
            "print(to_ascii('DichVuCong.Gov.VN.'), any(m == 'dns' or m.startswith('dns.') for m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.stdout.split() == ["dichvucong.gov.vn", "False"], out.stderr
