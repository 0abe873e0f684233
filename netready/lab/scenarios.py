"""Scenario catalogue: one portal dichvucong.<scenario>.gov.vn per scenario, and the verdict every rule
of REQUIREMENTS §2 must give on it. docs/lab.md renders this table; probe tests are written against it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from netready.rules import catalogue

RULES = tuple(catalogue())  # every rule of the catalogue: each scenario expects a verdict from each

# What `good` gives. BP-OCSP is info where nothing is stapled (the lab's leaves name no OCSP responder, but
# `ocsp`'s). BP-DNSSEC-CDS is info where a zone publishes no CDS/CDNSKEY (only `cds` does). BP-TLS-PQ is info
# where nginx runs on Debian 12's OpenSSL 3.0 (no ML-KEM; `pq` is served by pqweb).
BASELINE: dict[str, str] = {rule: "pass" for rule in RULES} | {"BP-OCSP": "info", "BP-DNSSEC-CDS": "info",
                                                              "BP-TLS-PQ": "info"}

# A verdict is a word, or {"ipv4": word, "ipv6": word} when the address families differ.
Verdict = str | dict[str, str]


@dataclass(frozen=True)
class Scenario:
    name: str
    index: int  # web address index: 198.51.100.(128+index), 2001:db8:200::(128+index)
    summary: str
    dns_host: str = "bind"  # bind | knot | bind-v4only  (who serves the agency zone)
    signer: str = "bind-offline"  # bind-policy | bind-offline | knot | none
    algorithm: int = 13
    nsec3: tuple[str, int] | None = None  # (salt hex or "-", iterations); None = NSEC
    dnssec: str = "ok"  # ok | bogus-ds | expired | unsigned | stale | optout
    web6: str = "same"  # same | none (no AAAA) | dead (AAAA nobody serves) | diff (other page on v6)
    tls: str = "modern"  # modern (Mozilla intermediate) | legacy | cbconly (TLS 1.2, CBC-SHA static RSA only)
    # good | rsa1024 | expired | selfsigned | dual (ECDSA good + RSA expired) | wildcard (*.<zone>) |
    # ocsp (names a responder, response stapled) | muststaple (must-staple, nothing stapled)
    cert: str = "good"
    send_intermediate: bool = True
    http80: str = "redirect"  # redirect (301 to https) | page (200, no redirect)
    hsts: bool = True
    # Issue #13 (DNS/DNSSEC zones nobody here had built): what the zone looks like beyond the defaults.
    portal_record: str = "a"  # a | wildcard (*.<zone> serves it) | dname (CNAME into a DNAME'd subtree)
    keyset: str = "default"  # default (KSK + ZSK) | rollover (2 KSK + 2 ZSK, one pre-published: > 1232 bytes)
    ds_digest: int = 2  # digest type of the DS the parent publishes
    cds: bool = False  # publish CDS + CDNSKEY for the KSK (RFC 7344)
    nameservers: str = "default"  # default | lame (ns0 is a recursive resolver) | stale (ns2: Knot, old
    # expired copy) | mismatch (parent and zone NS sets differ, wrong glue)
    overrides: dict[str, Verdict] = field(default_factory=dict)
    notes: dict[str, str] = field(default_factory=dict)
    # Issue #14: the portal's first label (ASCII; an IDN in its A-label form), and who serves it.
    label: str = "dichvucong"
    server: str = "nginx"  # nginx | pqweb (netready/lab/pqweb.py: pyOpenSSL with the wheel's OpenSSL, ML-KEM)

    @property
    def zone(self) -> str:
        return f"{self.name}.gov.vn."

    @property
    def portal(self) -> str:
        return f"{self.label}.{self.name}.gov.vn"

    @property
    def portal_zone(self) -> str:
        """The zone that holds the portal's name: its own child zone under an opt-out parent (`optout`)."""
        return f"{self.portal}." if self.dnssec == "optout" else self.zone

    def expected(self) -> dict[str, Verdict]:
        return BASELINE | self.overrides


# On v6dead's AAAA there is no TLS at all: every rule that needs a handshake there is a consequence of
# VN-HTTPS (info, caused_by VN-HTTPS), not one more error.
_V6CAUSED = {"ipv4": "pass", "ipv6": "info"}
_WEB_RULES = ("VN-TLS-CA", "VN-TLS-KEY2048", "VN-TLS12", "BP-TLS-LEGACY-OFF", "BP-TLS13", "BP-TLS-CIPHERS",
              "BP-TLS-KEX", "BP-TLS-CERT", "BP-HSTS", "BP-TLS-VULNS")  # fmt: skip
_HSTS_IGNORED = "fail: the header is sent, but browsers ignore HSTS over a connection whose certificate is not valid " \
    "(RFC 6797 §8.1)"
_NOT_RESOLVABLE = (
    "web rules: pass when the portal's A/AAAA are taken from the authoritative servers or with CD=1; a "
    "probe that resolves only through the validating lab resolver gets SERVFAIL and must report error"
)

SCENARIOS: tuple[Scenario, ...] = (
    Scenario(
        "good",
        1,
        "fully compliant: dual stack, DNSSEC secure (BIND dnssec-policy, inline signing), TLS 1.2+1.3 "
        "Mozilla intermediate, RSA 2048 leaf + intermediate, HSTS 63072000, 80 -> 301 https, CAA",
        signer="bind-policy",
    ),
    Scenario(
        "nov6",
        2,
        "IPv4 only: no AAAA for the portal; its name servers have only A records and answer only on IPv4",
        dns_host="bind-v4only",
        web6="none",
        overrides={"VN-IPV6-WEB": "fail", "VN-IPV6-DNS": "fail", "BP-IPV6-PARITY": "info", "VN-IPV6-ONLY": "fail"},
        notes={"BP-IPV6-PARITY": "info: nothing to compare (no AAAA)"},
    ),
    Scenario(
        "v6dead",
        3,
        "AAAA published (2001:db8:dead::131) but nothing serves it: connecting fails at once "
        "(EHOSTUNREACH, an unreachable route on the lab's host side and in the router); IPv4 side like good",
        web6="dead",
        overrides={"VN-HTTPS": {"ipv4": "pass", "ipv6": "fail"}, "VN-IPV6-WEB": "fail", "BP-IPV6-PARITY": "info",
                   "VN-IPV6-ONLY": "fail"}
        | {rule: _V6CAUSED for rule in _WEB_RULES},
        notes={"VN-HTTPS": "fail on the AAAA address: it does not answer (connect fails fast, unreachable)",
               "web": "on the AAAA address the TLS rules are info with caused_by VN-HTTPS (consequences of the "
                      "root cause: not scored, no error)",
               "BP-IPV6-PARITY": "info with caused_by VN-IPV6-WEB: nothing answers over IPv6 to compare with"},
    ),
    Scenario(
        "unsigned",
        4,
        "zone not signed: insecure delegation (gov.vn proves no DS with NSEC3)",
        signer="none",
        dnssec="unsigned",
        overrides={
            "VN-DNSSEC": "fail",
            "BP-DNSSEC-ALGO": "info",
            "BP-DNSSEC-NSEC3": "info",
            "BP-DNSSEC-SIGS": "info",
        },
        notes={"VN-DNSSEC": "fail: status insecure", "BP-DNSSEC-ALGO": "info: no DNSKEY to judge"},
    ),
    Scenario(
        "bogus",
        5,
        "the DS in gov.vn matches no DNSKEY of the zone (zone itself correctly signed): bogus",
        dnssec="bogus-ds",
        overrides={"VN-DNSSEC": "fail"},
        notes={"VN-DNSSEC": "fail: status bogus (resolver SERVFAIL)", "web": _NOT_RESOLVABLE},
    ),
    Scenario(
        "expiredsig",
        6,
        "RRSIGs expired (signed offline with start/end in the past, served without re-signing): bogus",
        dnssec="expired",
        overrides={"VN-DNSSEC": "fail", "BP-DNSSEC-SIGS": "fail"},
        notes={"VN-DNSSEC": "fail: status bogus (signature expired)", "web": _NOT_RESOLVABLE},
    ),
    Scenario(
        "legacy",
        7,
        "TLS 1.0/1.1/1.2 (no 1.3), RSA 1024 leaf, CBC-SHA1, static-RSA and DHE-1024 suites accepted (no "
        "3DES: Debian's OpenSSL 3.0 has no 3DES suites at all), no HSTS, port 80 serves the page (200); "
        "zone signed by Knot (NSEC)",
        dns_host="knot",
        signer="knot",
        tls="legacy",
        cert="rsa1024",
        http80="page",
        hsts=False,
        overrides={
            "VN-HTTPS-FORCED": "fail",
            "VN-TLS-KEY2048": "fail",
            "BP-TLS-LEGACY-OFF": "fail",
            "BP-TLS13": "fail",
            "BP-TLS-CIPHERS": "fail",
            "BP-TLS-KEX": "fail",
            "BP-HSTS": "fail",
            "BP-TLS-VULNS": "warn",
        },
        notes={
            "VN-TLS-CA": "pass: chain, name and dates are valid; verify at OpenSSL SECLEVEL<=1 or the "
            "1024-bit key is reported as 'EE certificate key too weak' (that belongs to VN-TLS-KEY2048)",
            "BP-TLS-KEX": "fail: finite-field DHE with a 1024-bit group (RFC 2409 group 2)",
            "BP-TLS-CIPHERS": "fail: static-RSA suites (no forward secrecy); CBC-SHA1 alone would only warn",
            "BP-TLS-VULNS": "warn: at SECLEVEL 0 nginx signs the ServerKeyExchange with SHA-1 when a client offers "
            "only SHA-1; SSLv2, renegotiation, compression, SCSV, Heartbleed and ROBOT (RSA suites) are clean",
        },
    ),
    Scenario(
        "expiredcert",
        8,
        "leaf certificate from the lab CA expired 30 days ago (validity entirely in the past)",
        cert="expired",
        overrides={"VN-TLS-CA": "fail", "BP-TLS-CERT": "fail", "BP-HSTS": "fail"},
        notes={"BP-HSTS": _HSTS_IGNORED},
    ),
    Scenario(
        "selfsigned",
        9,
        "self-signed leaf (RSA 2048, valid 10 years)",
        cert="selfsigned",
        send_intermediate=False,
        overrides={"VN-TLS-CA": "fail", "BP-TLS-CERT": "fail", "BP-HSTS": "fail"},
        notes={"BP-TLS-CERT": "fail: self-signed leaf, no CA chain at all (its 3650-day lifetime would only warn)",
               "BP-HSTS": _HSTS_IGNORED},
    ),
    Scenario(
        "noint",
        10,
        "server sends the leaf only, not the intermediate CA",
        send_intermediate=False,
        overrides={"VN-TLS-CA": "fail", "BP-TLS-CERT": "fail", "BP-HSTS": "fail"},
        notes={"VN-TLS-CA": "fail: unable to get local issuer certificate (bundle = lab root only)",
               "BP-HSTS": _HSTS_IGNORED},
    ),
    Scenario(
        "v6diff",
        11,
        "dual stack, but IPv6 serves a different page (maintenance page, status 200); zone signed by Knot",
        dns_host="knot",
        signer="knot",
        web6="diff",
        overrides={"BP-IPV6-PARITY": "fail"},
        notes={"BP-IPV6-PARITY": "fail: same status (200), different body"},
    ),
    Scenario(
        "nsec3iter",
        12,
        "zone signed with NSEC3, 10 iterations and salt AABBCCDD (RFC 9276 says 0 and empty)",
        nsec3=("aabbccdd", 10),
        overrides={"BP-DNSSEC-NSEC3": "fail"},
    ),
    Scenario(
        "rsasha256",
        13,
        "like good, zone signed with algorithm 8 (RSASHA256, 2048-bit keys) offline by BIND",
        algorithm=8,
    ),
    Scenario(
        "rollover",
        14,
        "KSK and ZSK rollover in progress: two RSA KSKs (both in the DS set) and two RSA ZSKs (one "
        "pre-published), a DNSKEY answer of ~1.7 kB that UDP at 1232 bytes truncates: TCP carries it",
        algorithm=8,
        keyset="rollover",
        notes={"BP-DNS-CONSISTENT": "pass: the truncated UDP DNSKEY answer is asked again over TCP, never "
                                    "compared as an empty set"},
    ),
    Scenario(
        "wildcard",
        15,
        "the portal exists only through *.wildcard.gov.vn (A, AAAA); Knot signs with NSEC3 and proves "
        "that no closer name exists",
        dns_host="knot",
        signer="knot",
        nsec3=("-", 0),
        portal_record="wildcard",
    ),
    Scenario(
        "dname",
        16,
        "the portal is a CNAME to portal.old.dname.gov.vn, and old.dname.gov.vn is a DNAME to new.dname.gov.vn "
        "(a renamed department): BIND synthesises the unsigned CNAME from the signed DNAME",
        portal_record="dname",
    ),
    Scenario(
        "optout",
        17,
        "the portal is its own unsigned zone below optout.gov.vn, which is signed with NSEC3 opt-out: "
        "the delegation is insecure by an opt-out span (RFC 5155 §6)",
        nsec3=("-", 0),
        dnssec="optout",
        overrides={"VN-DNSSEC": "fail", "BP-DNSSEC-ALGO": "info", "BP-DNSSEC-NSEC3": "info",
                   "BP-DNSSEC-SIGS": "info"},
        notes={"VN-DNSSEC": "fail: status insecure (no DS, opt-out span at optout.gov.vn)"},
    ),
    Scenario(
        "lame",
        18,
        "three name servers; ns0.lame.gov.vn (sorted first) is the lab's recursive resolver, which answers "
        "without the AA bit: a lame delegation that resolvers skip",
        nameservers="lame",
        overrides={"BP-DNS-DELEGATION": "fail"},
        notes={"BP-DNS-DELEGATION": "fail: ns0.lame.gov.vn does not answer authoritatively",
               "VN-DNSSEC": "pass: the lame server is skipped (RFC 1034 §5.3.3), the others validate"},
    ),
    Scenario(
        "stale",
        19,
        "a stale secondary: ns2.stale.gov.vn (Knot, .102) serves an older copy whose signatures expired "
        "2 days ago; ns1 (BIND) serves the current one",
        dnssec="stale",
        nameservers="stale",
        overrides={"VN-DNSSEC": "fail", "BP-DNSSEC-SIGS": "fail", "BP-DNS-CONSISTENT": "fail"},
        notes={"VN-DNSSEC": "fail: ns2.stale.gov.vn serves data that does not validate (RRSIGs expired)",
               "BP-DNS-CONSISTENT": "fail: SOA serials differ"},
    ),
    Scenario(
        "cds",
        20,
        "publishes CDS and CDNSKEY for its KSK (RFC 7344), signed, matching the DS gov.vn holds",
        cds=True,
        overrides={"BP-DNSSEC-CDS": "pass"},
    ),
    Scenario(
        "rsasha1",
        21,
        "signed with algorithm 5 (RSASHA1, 2048-bit): still validates, but RFC 9905 forbids signing with it",
        algorithm=5,
        overrides={"BP-DNSSEC-ALGO": "fail"},
    ),
    Scenario(
        "sha1ds",
        22,
        "the DS at gov.vn uses SHA-1 (digest type 1) only: validates, but RFC 9904 says SHA-1 DS must not be made",
        ds_digest=1,
        overrides={"BP-DNSSEC-ALGO": "fail"},
    ),
    Scenario(
        "delegation",
        23,
        "gov.vn lists ns1 and ns2 (glue for ns2: 198.51.100.111, its own A is .92); the zone lists ns1, ns2 "
        "and ns3: NS sets and glue disagree, every address still answers",
        nameservers="mismatch",
        overrides={"BP-DNS-DELEGATION": "fail"},
    ),
    # issue #14 (indexes 24..33): TLS verdicts that were wrong, and the rules of 2026
    Scenario(
        "cbconly",
        24,
        "TLS 1.2 only with nothing but CBC-SHA static-RSA suites (AES128-SHA, AES256-SHA): HTTPS works for "
        "any client that offers them, so VN-HTTPS and VN-IPV6-WEB pass; cipher quality is BP-TLS-CIPHERS' business",
        tls="cbconly",
        overrides={"BP-TLS13": "fail", "BP-TLS-CIPHERS": "fail", "BP-TLS-KEX": "fail"},
        notes={"VN-HTTPS": "pass: the GET offers every suite OpenSSL has (Python's default 17 suites would fail here)",
               "BP-TLS-KEX": "fail: no ECDHE at all (static RSA key exchange)"},
    ),
    Scenario(
        "dualcert",
        25,
        "two certificates: ECDSA P-256 (valid, what ECDSA-capable clients get) and RSA 2048 (expired, what "
        "RSA-only clients get); both are judged",
        cert="dual",
        overrides={"VN-TLS-CA": "fail", "BP-TLS-CERT": "fail"},
        notes={"VN-TLS-CA": "fail: the RSA certificate, seen only in an RSA-only handshake, expired"},
    ),
    Scenario(
        "idnwild",
        26,
        "the portal's name is an IDN (dịchvụcông, A-label xn--dchvcng-x0a0689dsha) under a wildcard certificate "
        "*.idnwild.gov.vn: a wildcard covers one whole label, A-labels included (RFC 9525)",
        cert="wildcard",
        label="xn--dchvcng-x0a0689dsha",
        overrides={"VN-NAMING": "info"},
        notes={"VN-TLS-CA": "pass: *.idnwild.gov.vn matches xn--dchvcng-x0a0689dsha.idnwild.gov.vn",
               "VN-NAMING": "info: not dichvucong.<name>.gov.vn"},
    ),
    Scenario(
        "pq",
        27,
        "served by a small pyOpenSSL server on the venv wheel's OpenSSL (netready/lab/pqweb.py): TLS 1.2+1.3, "
        "groups X25519MLKEM768, SecP256r1MLKEM768, X25519, P-256, P-384; otherwise like good",
        server="pqweb",
        overrides={"BP-TLS-PQ": "pass"},
        notes={"BP-TLS-PQ": "pass: X25519MLKEM768 selected from a real 1216-byte key share"},
    ),
    Scenario(
        "ocsp",
        28,
        "the leaf names an OCSP responder; nginx staples a good, fresh response made offline with cryptography "
        "(ssl_stapling_file)",
        cert="ocsp",
        overrides={"BP-OCSP": "pass"},
        notes={"BP-OCSP": "pass: staple parsed with cryptography.x509.ocsp: good, fresh, signed by the issuer"},
    ),
    Scenario(
        "muststaple",
        29,
        "the leaf carries must-staple (RFC 7633 TLS feature status_request) and names a responder, but "
        "nothing is stapled",
        cert="muststaple",
        overrides={"BP-OCSP": "fail"},
        notes={"BP-OCSP": "fail: must-staple without a staple (browsers that honour it refuse the connection)"},
    ),
    # Issue #18 (indexes 34..39): portals whose pages need other hosts (netready/lab/pages.py).
    Scenario(
        "v4deps",
        34,
        "dual stack, but its page loads a script and a font from static.v4deps.gov.vn (IPv4 only), posts its "
        "login form to sso.v4deps.gov.vn (IPv4 only) and, from its own script, an image from img.v4deps.gov.vn "
        "(IPv4 only); links to pay. (IPv4 only) and docs. (dual stack)",
        overrides={"VN-IPV6-ONLY": "fail"},
        notes={"VN-IPV6-ONLY": "fail on static., sso. and img.v4deps.gov.vn (the image only in a browser); the "
               "IPv4-only payment link is listed (info), not judged"},
    ),
    Scenario(
        "v6ready",
        35,
        "the same page shape (script, font, style, image by script, fetch, iframe, login form, payment and "
        "document links) on dual-stack hosts only: usable on an IPv6-only network",
    ),
    Scenario(
        "v4dns",
        36,
        "dual stack, its page loads a script from cdn.nov6.gov.vn: that host has an AAAA record, but its zone's "
        "name servers are IPv4 only, so it cannot be resolved over IPv6 only",
        overrides={"VN-IPV6-ONLY": "fail"},
        notes={"VN-IPV6-ONLY": "fail on cdn.nov6.gov.vn: no IPv6 address for any name server of nov6.gov.vn"},
    ),
)

BY_NAME = {s.name: s for s in SCENARIOS}


def scale_names(n: int) -> list[str]:
    return [f"agency{i:04d}" for i in range(1, n + 1)]


def _cell(v: Verdict) -> str:
    if isinstance(v, dict):
        return " / ".join(f"{fam[-2:]}: {_cell(word)}" for fam, word in v.items())
    return {"fail": "**FAIL**"}.get(v, v)


def markdown_tables() -> str:
    """The two tables of docs/lab.md (scenarios, then expected verdicts); a test keeps the doc in sync."""
    from . import plan  # local: plan does not need scenarios

    out = [
        "| scenario | portal addresses (A / AAAA) | zone served by, signed by | what it is |",
        "|---|---|---|---|",
    ]
    for s in SCENARIOS:
        v6 = {"same": plan.web6(s.index), "diff": plan.web6(s.index) + " (other page)", "none": "none",
              "dead": plan.dead6(s.index) + " (unserved)"}[s.web6]  # fmt: skip
        sig = {"bind-policy": "BIND dnssec-policy (inline)", "bind-offline": "dnssec-signzone (offline)",
               "knot": "knotd (automatic)", "none": "unsigned"}[s.signer]  # fmt: skip
        if s.signer != "none":
            sig += f", alg {s.algorithm}, " + (
                f"NSEC3 {s.nsec3[1]} iter salt {s.nsec3[0]}" if s.nsec3 else "NSEC"
            )
        host = {
            "bind": "named (.91/.92)",
            "knot": "knotd (.101/.102)",
            "bind-v4only": "named, IPv4 only (.111/.112)",
        }[s.dns_host]
        host += {"default": "", "lame": " + ns0 = the resolver (.53)", "stale": ", ns2 = knotd .102 (stale copy)",
                 "mismatch": " + ns3 (.111)"}[s.nameservers]
        if s.ds_digest != 2:
            sig += f", DS digest {s.ds_digest}"
        if s.dnssec == "optout":
            sig += " opt-out; portal zone unsigned"
        out.append(f"| `{s.name}` | {plan.web4(s.index)} / {v6} | {host}; {sig} | {s.summary} |")
    out += ["", "| rule | " + " | ".join(f"`{s.name}`" for s in SCENARIOS) + " |",
            "|---|" + "---|" * len(SCENARIOS)]  # fmt: skip
    for rule in RULES:
        out.append(f"| {rule} | " + " | ".join(_cell(s.expected()[rule]) for s in SCENARIOS) + " |")
    notes = [f"- `{s.name}` {rule}: {text}" for s in SCENARIOS for rule, text in s.notes.items()]
    return "\n".join(out + ["", "Notes:", *notes]) + "\n"
