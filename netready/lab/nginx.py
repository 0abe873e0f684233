"""nginx: one master for every portal, in the web namespace; config, pages and logs in the state dir."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from netready.tables.tls import MOZILLA_HSTS_AGE, MOZILLA_INTERMEDIATE_CURVES_OPENSSL, MOZILLA_INTERMEDIATE_OPENSSL

# Debian's OpenSSL 3.0 refuses TLS 1.0/1.1, SHA-1 and 1024-bit keys/groups above SECLEVEL 0.
CBC_ONLY_CIPHERS = "AES128-SHA:AES256-SHA"  # TLS 1.2, static RSA, CBC with HMAC-SHA1 (cbconly)
LEGACY_CIPHERS = (
    "ECDHE-RSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-SHA:DHE-RSA-AES128-SHA:AES128-SHA:AES256-SHA:"
    "DES-CBC3-SHA:@SECLEVEL=0"
)


@dataclass
class Site:
    names: list[str]
    ipv4: list[str]
    ipv6: list[str]
    tls: str  # modern | legacy
    chain: Path
    key: Path
    root: Path  # document root served on every address
    root6: Path | None = None  # a different document root for the IPv6 addresses (v6diff)
    http80: str = "redirect"
    hsts: bool = True
    dhparam: Path | None = None
    more_certs: list[tuple[Path, Path]] = field(default_factory=list)  # (chain, key) of other key types
    stapling_file: Path | None = None  # a DER OCSP response nginx staples as it is
    server: str = "nginx"  # nginx, or pqweb (netready/lab/pqweb.py serves it; not in nginx.conf)


def page(title: str, body: str) -> str:
    return (
        f'<!doctype html>\n<html lang="vi"><head><meta charset="utf-8"><title>{title}</title></head>\n'
        f"<body><h1>{title}</h1>\n<p>{body}</p></body></html>\n"
    )


def _tls(s: Site) -> list[str]:
    lines = [f"ssl_certificate {s.chain};", f"ssl_certificate_key {s.key};"]
    for chain, key in s.more_certs:
        lines += [f"ssl_certificate {chain};", f"ssl_certificate_key {key};"]
    if s.stapling_file:
        lines += ["ssl_stapling on;", f"ssl_stapling_file {s.stapling_file};"]
    if s.tls == "cbconly":
        lines += ["ssl_protocols TLSv1.2;", f'ssl_ciphers "{CBC_ONLY_CIPHERS}";', "ssl_prefer_server_ciphers on;"]
    elif s.tls == "legacy":
        lines += [
            "ssl_protocols TLSv1 TLSv1.1 TLSv1.2;",
            f'ssl_ciphers "{LEGACY_CIPHERS}";',
            "ssl_prefer_server_ciphers on;",
        ]
        if s.dhparam:
            lines.append(f"ssl_dhparam {s.dhparam};")
    else:
        lines += [
            "ssl_protocols TLSv1.2 TLSv1.3;",
            f'ssl_ciphers "{MOZILLA_INTERMEDIATE_OPENSSL}";',
            f"ssl_ecdh_curve {MOZILLA_INTERMEDIATE_CURVES_OPENSSL};",
            "ssl_prefer_server_ciphers off;",
            "ssl_session_tickets off;",
        ]
    if s.hsts:
        lines.append(f'add_header Strict-Transport-Security "max-age={MOZILLA_HSTS_AGE}" always;')
    return lines


def _server(listen: list[str], names: list[str], body: list[str]) -> str:
    inner = [f"listen {a};" for a in listen] + [f"server_name {' '.join(names)};"] + body
    return "server {\n" + "".join(f"    {ln}\n" for ln in inner) + "}\n"


def _blocks(s: Site) -> list[str]:
    v4 = [f"{a}" for a in s.ipv4]
    v6 = [f"[{a}]" for a in s.ipv6]
    serve = ["location / { try_files $uri $uri/ =404; }", "index index.html;"]
    out = []
    groups = [(v4 + v6, s.root)] if not s.root6 else [(v4, s.root), (v6, s.root6)]
    for addrs, docroot in groups:
        if not addrs:
            continue
        out.append(_server([f"{a}:443 ssl" for a in addrs], s.names, [*_tls(s), f"root {docroot};", *serve]))
        if s.http80 == "redirect":
            http = ["return 301 https://$host$request_uri;"]
        else:
            http = [f"root {docroot};", *serve]
        out.append(_server([f"{a}:80" for a in addrs], s.names, http))
    return out


def write_conf(d: Path, sites: list[Site]) -> Path:
    for sub in ("logs", "tmp"):
        (d / sub).mkdir(parents=True, exist_ok=True)
    conf = d / "nginx.conf"
    servers = "".join(b for s in sites for b in _blocks(s))
    conf.write_text(f"""daemon off;                 # the keeper is its parent; the lab stops it by pid
master_process on;
worker_processes 1;
pid {d}/nginx.pid;
error_log {d}/logs/error.log notice;  # not info: that level logs every refused ClientHello of a TLS scan
events {{ worker_connections 512; }}
http {{
    default_type text/html;
    types {{ text/html html; text/css css; application/javascript js; image/png png; font/woff2 woff2;
             application/json json; application/pdf pdf; }}  # the pages of netready/lab/pages.py (issue #18)
    charset utf-8;
    access_log {d}/logs/access.log;
    client_body_temp_path {d}/tmp/body;
    proxy_temp_path {d}/tmp/proxy;
    fastcgi_temp_path {d}/tmp/fastcgi;
    uwsgi_temp_path {d}/tmp/uwsgi;
    scgi_temp_path {d}/tmp/scgi;
    server_tokens off;
    ssl_session_cache shared:lab:1m;
    ssl_session_timeout 1d;
    server_names_hash_bucket_size 128;
    server_names_hash_max_size 8192;
{servers}}}
""")
    return conf
