"""Fixtures for the lab's own tests (the `lab` fixture itself is in tests/conftest.py): thin wrappers
around the independent tools (dig, delv, openssl s_client, curl) that check the lab."""

from __future__ import annotations

import subprocess

import pytest


def sh(argv: list[str], timeout: float = 20, check: bool = False) -> subprocess.CompletedProcess[str]:
    res = subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
    if check and res.returncode:
        raise AssertionError(f"{' '.join(argv)} -> {res.returncode}\n{res.stdout}\n{res.stderr}")
    return res


@pytest.fixture(scope="session")
def dig(lab):
    def _dig(server: str, qname: str, qtype: str = "A", *opts: str) -> str:
        # +norecurse at authoritative servers; never the system resolver (always @server).
        return sh(["dig", f"@{server}", qname, qtype, "+dnssec", "+time=2", "+tries=1", *opts]).stdout

    return _dig


@pytest.fixture(scope="session")
def delv(lab):
    def _delv(qname: str, qtype: str = "A", resolver: str | None = None) -> str:
        res = sh(
            ["delv", f"@{resolver or lab.resolvers[0]}", "-a", lab.trust_anchor_bind, "+root=.", qname, qtype]
        )
        return res.stdout + res.stderr

    return _delv


@pytest.fixture(scope="session")
def s_client(lab):
    def _s_client(addr: str, servername: str, *opts: str) -> str:
        host = f"[{addr}]" if ":" in addr else addr
        res = subprocess.run(
            [
                "openssl",
                "s_client",
                "-connect",
                f"{host}:443",
                "-servername",
                servername,
                "-CAfile",
                lab.ca_bundle,
                *opts,
            ],
            input="",
            capture_output=True,
            text=True,
            timeout=15,
        )
        return res.stdout + res.stderr

    return _s_client


@pytest.fixture(scope="session")
def curl(lab):
    def _curl(
        url_host: str, addr: str, port: int, path: str = "/", *opts: str
    ) -> subprocess.CompletedProcess:
        fam = "-6" if ":" in addr else "-4"
        pin = f"{url_host}:{port}:{'[' + addr + ']' if ':' in addr else addr}"
        scheme = "https" if port == 443 else "http"
        return sh(
            [
                "curl",
                "-sS",
                fam,
                "--max-time",
                "5",
                "--cacert",
                lab.ca_bundle,
                "--resolve",
                pin,
                *opts,
                f"{scheme}://{url_host}{path}",
            ]
        )

    return _curl
