"""Mozilla's intermediate profile has one home (netready/tables/tls.py); what cannot import it -- the tls role
shipped to agencies' servers -- must say the same thing."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from netready.probes import tls_suites as S
from netready.tables import tls as T

ROLE = Path(__file__).resolve().parents[1] / "playbooks" / "roles" / "tls"


def test_each_openssl_name_of_the_intermediate_suites_is_the_suite_the_judge_compares() -> None:
    by_openssl = {name: suite for suite, name in S.openssl_names().items()}
    names = T.MOZILLA_INTERMEDIATE_OPENSSL.split(":")
    assert len(names) == len(T.MOZILLA_INTERMEDIATE_TLS12) == 6
    assert {S.suite_name(by_openssl[n]) for n in names} == T.MOZILLA_INTERMEDIATE_TLS12


def test_the_tls_role_configures_nginx_with_the_intermediate_suites_and_hsts_age_of_the_tables() -> None:
    template = (ROLE / "templates" / "nginx-site.conf.j2").read_text()
    ciphers = re.findall(r"^\s*ssl_ciphers\s+([^;]+);", template, re.M)
    assert ciphers == [T.MOZILLA_INTERMEDIATE_OPENSSL]
    assert re.findall(r"^\s*ssl_ecdh_curve\s+([^;]+);", template, re.M) == [T.MOZILLA_INTERMEDIATE_CURVES_OPENSSL]
    defaults = yaml.safe_load((ROLE / "defaults" / "main.yml").read_text())
    assert defaults["tls_hsts_max_age"] == T.MOZILLA_HSTS_AGE
    specs = yaml.safe_load((ROLE / "meta" / "argument_specs.yml").read_text())
    assert specs["argument_specs"]["main"]["options"]["tls_hsts_max_age"]["default"] == T.MOZILLA_HSTS_AGE


def test_the_lab_serves_the_intermediate_suites_of_the_tables() -> None:
    from netready.lab import nginx, pqweb

    good = nginx.Site(names=["a.gov.vn"], ipv4=[], ipv6=[], tls="modern", chain=Path("c"), key=Path("k"),
                      root=Path("r"))
    assert f'ssl_ciphers "{T.MOZILLA_INTERMEDIATE_OPENSSL}";' in nginx._tls(good)
    assert f"ssl_ecdh_curve {T.MOZILLA_INTERMEDIATE_CURVES_OPENSSL};" in nginx._tls(good)
    assert pqweb.CIPHERS.decode() == T.MOZILLA_INTERMEDIATE_OPENSSL
    assert pqweb.HSTS == f"max-age={T.MOZILLA_HSTS_AGE}"
