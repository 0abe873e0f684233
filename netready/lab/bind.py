"""BIND 9 configuration: one authoritative named (one view per virtual server, so each address answers
only for its own zones, like separate servers would) and one validating recursive resolver."""

from __future__ import annotations

import base64
import secrets
from pathlib import Path

from . import plan
from .zones import Zone

VIEWS = {  # view -> the name servers whose addresses it answers on
    "root": plan.ROOT_SERVERS,
    "vn": plan.VN_SERVERS,
    "agency": plan.agency_servers("x.", "bind"),
    "v4only": plan.agency_servers("x.", "bind-v4only"),
}

POLICY = """dnssec-policy "lab" {
    // Unlimited key lifetimes: no rollover timer ever fires during a lab's life.
    keys {
        ksk lifetime unlimited algorithm ecdsap256sha256;
        zsk lifetime unlimited algorithm ecdsap256sha256;
    };
    dnskey-ttl 300;
    // BIND 9.18 publishes CDS/CDNSKEY once the KSK is "omnipresent" (about an hour after `up` with the
    // default delays): a lab kept up would change BP-DNSSEC-CDS on `good` from info to pass. This delay
    // keeps the keys "rumoured" for a lab's life; the `cds` scenario publishes CDS/CDNSKEY itself.
    zone-propagation-delay 30d;
    max-zone-ttl 3600;
    signatures-validity 14d;
    signatures-validity-dnskey 14d;
    signatures-refresh 5d;
};
"""


def _addrs(servers) -> tuple[list[str], list[str]]:
    return [s.ipv4 for s in servers if s.ipv4], [s.ipv6 for s in servers if s.ipv6]


def _rndc(d: Path, port: int) -> str:
    secret = base64.b64encode(secrets.token_bytes(32)).decode()
    key = f'key "rndc-key" {{ algorithm hmac-sha256; secret "{secret}"; }};\n'
    (d / "rndc.conf").write_text(
        key + f'options {{ default-key "rndc-key"; default-server 127.0.0.1; default-port {port}; }};\n'
    )
    return (
        key + f'controls {{ inet 127.0.0.1 port {port} allow {{ 127.0.0.1; }} keys {{ "rndc-key"; }}; }};\n'
    )


def _common(d: Path) -> str:
    return f"""    directory "{d}";
    pid-file none;              // the lab tracks the pid itself
    session-keyfile none;
    managed-keys-directory "{d}";
    empty-zones-enable no;
    notify no;
"""


def _logging(d: Path) -> str:
    return f"""logging {{
    channel main {{ file "{d}/named.log"; severity info; print-time yes; print-category yes; }};
    category default {{ main; }};
    category lame-servers {{ null; }};
}};
"""


def auth_conf(d: Path, zones: list[Zone]) -> Path:
    d.mkdir(parents=True, exist_ok=True)
    v4, v6 = _addrs([s for servers in VIEWS.values() for s in servers])
    parts = [
        f"options {{\n{_common(d)}    listen-on port 53 {{ {'; '.join(v4)}; }};\n"
        f"    listen-on-v6 port 53 {{ {'; '.join(v6)}; }};\n    recursion no;\n    dnssec-validation no;\n"
        "    allow-transfer { none; };\n    minimal-responses no-auth-recursive;\n};\n",
        _rndc(d, 953),
        _logging(d),
        POLICY,
    ]
    for view, servers in VIEWS.items():
        a4, a6 = _addrs(servers)
        body = []
        for z in zones:
            if z.server != view and view not in z.also_views:
                continue
            if z.signer == "bind-policy":
                body.append(
                    f'    zone "{z.origin}" {{ type primary; file "{z.unsigned_file}"; '
                    f'dnssec-policy "lab"; inline-signing yes; key-directory "{z.keydir}"; }};'
                )
            else:  # offline-signed (served as is, never re-signed) or unsigned
                body.append(f'    zone "{z.origin}" {{ type primary; file "{z.served_file}"; }};')
        parts.append(
            f'view "{view}" {{\n    match-clients {{ any; }};\n'
            f"    match-destinations {{ {'; '.join(a4 + a6)}; }};\n" + "\n".join(body) + "\n};\n"
        )
    conf = d / "named.conf"
    conf.write_text("\n".join(parts))
    return conf


def resolver_conf(d: Path, hints: Path, anchors: Path) -> Path:
    d.mkdir(parents=True, exist_ok=True)
    conf = d / "named.conf"
    conf.write_text(
        f"options {{\n{_common(d)}"
        f"    listen-on port 53 {{ {plan.RESOLVER4}; }};\n"
        f"    listen-on-v6 port 53 {{ {plan.RESOLVER6}; }};\n"
        f"    query-source address {plan.RESOLVER4};\n"
        f"    query-source-v6 address {plan.RESOLVER6};\n"
        "    recursion yes;\n    allow-recursion { any; };\n    allow-query { any; };\n"
        "    dnssec-validation yes;     // with the lab root trust anchor below, not the real root's\n"
        "    servfail-ttl 0;            // a bogus answer is re-checked at every query\n"
        "    max-ncache-ttl 30;\n    lame-ttl 0;\n};\n"
        + _rndc(d, 954)
        + _logging(d)
        + f'zone "." {{ type hint; file "{hints}"; }};\n'
        + anchors.read_text()
    )
    return conf
