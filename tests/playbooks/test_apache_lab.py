"""The dual_stack role on an Apache web server, on a real lab machine: web1 with its nginx stopped and disabled
and Apache serving port 80 over IPv4 only (`Listen 0.0.0.0:80`, a common set-up of agency servers).

In order: a configuration Apache would refuse is never written and Apache keeps serving; an Apache that cannot
take the IPv6 port (another program holds it) is rolled back and serves as before; once both are fixed the role
makes Apache listen over IPv6 and the portal answers over IPv6 from the controller, without starting the nginx
the admin stopped; a second run changes nothing."""

from __future__ import annotations

import hashlib

import pytest

from netready.remediate import EXIT_HOST_FAILED, EXIT_OK, remediate

from .web import http_get, ipv6_port_held

PAGE = "apache on web1, served over both families"
BROKEN = "/etc/apache2/conf-enabled/zz-netready-test-broken.conf"
# web1 has no certificate for Apache: only port 80 is checked from the controller at the end of the role.
VERIFY = {"dual_stack_verify_ports": [80]}
LOOK = ["sh", "-c", "cat /etc/apache2/ports.conf; ls /etc/apache2/conf-enabled"]


def _get(address: str) -> str:
    return http_get(address).partition("\r\n\r\n")[2]


def _sh(machine, script: str) -> str:
    res = machine.run(["sh", "-c", script])
    assert res.returncode == 0, (script, res.stdout, res.stderr)
    return res.stdout


@pytest.fixture(scope="module")
def apache_web1(fresh_machines):
    """web1 as an Apache host: nginx stopped and disabled, Apache on 0.0.0.0:80 serving PAGE."""
    web = fresh_machines["web1"]
    _sh(web, "systemctl disable --now nginx.service"
             " && printf 'Listen 0.0.0.0:80\\n' > /etc/apache2/ports.conf"
             f" && printf '%s\\n' '{PAGE}' > /var/www/html/index.html"
             " && systemctl enable --now apache2.service")
    assert PAGE in _get(web.ipv4)
    assert not _sh(web, "ss -H -l -t -n -6 'sport = :80'").strip()  # IPv4 only
    return web


def test_an_apache_configuration_apache_would_refuse_is_never_written_and_apache_keeps_serving(
        apache_web1, lab_inv):
    web = apache_web1
    # Broken after Apache started (an admin's half-done edit): the running server does not see it, but the
    # whole configuration checked with the new ports.conf in place fails.
    _sh(web, f"printf 'ThisIsNotADirective on\\n' > {BROKEN}")
    try:
        before = web.run(LOOK).stdout
        r = remediate("dual-stack", lab_inv, limit="web1", extravars=VERIFY)
        assert r.exit_code() == EXIT_HOST_FAILED and r.failed_hosts == ["web1"], r.stdout[-3000:]
        failed = [e for e in r.events if e.status == "failed"]
        assert failed[0].task == "Make Apache listen on all address families", failed[0]
        assert "ThisIsNotADirective" in failed[0].message
        assert web.run(LOOK).stdout == before  # ports.conf not written
        assert PAGE in _get(web.ipv4)  # and Apache still serves
    finally:
        _sh(web, f"rm -f {BROKEN}")


def test_apache_that_cannot_take_the_ipv6_port_is_rolled_back_and_serves_as_before(apache_web1, lab_inv):
    web = apache_web1
    with ipv6_port_held(web, 80):
        r = remediate("dual-stack", lab_inv, limit="web1", extravars=VERIFY)
        assert r.exit_code() == EXIT_HOST_FAILED and r.failed_hosts == ["web1"], r.stdout[-3000:]
        failed = [e for e in r.events if e.status == "failed"]
        # Apache started: it drops a [::]:80 it cannot bind when 0.0.0.0:80 works, so it served IPv4 only and
        # the squatter answered over IPv6; the check looks at who listens, not whether something does.
        assert failed[-1].message.startswith("ROLLED BACK on web1: Check Apache listens over IPv6"), failed[-1]
        assert _sh(web, "cat /etc/apache2/ports.conf").splitlines() == ["Listen 0.0.0.0:80"]
        assert web.run(["systemctl", "is-active", "apache2.service"]).stdout.strip() == "active"
        assert PAGE in _get(web.ipv4)


def test_the_role_makes_apache_listen_on_ipv6_without_starting_the_stopped_nginx(apache_web1, lab_inv):
    web = apache_web1
    backups = _sh(web, "ls /etc/apache2/ | grep -c '^ports.conf\\..*~$' || true").strip()
    r = remediate("dual-stack", lab_inv, limit="web1", extravars=VERIFY)
    assert r.exit_code() == EXIT_OK and r.failed_hosts == [], r.stdout[-3000:]
    ports = _sh(web, "cat /etc/apache2/ports.conf")
    assert ports.splitlines() == ["Listen 80"]
    assert '"apache2"' in _sh(web, "ss -H -l -t -n -p -6 'sport = :80'")
    assert PAGE in _get(web.ipv6)  # from the controller, over IPv6 (the role opened the firewall too)
    assert PAGE in _get(web.ipv4)
    assert web.run(["systemctl", "is-active", "nginx.service"]).stdout.strip() == "inactive"
    # one more backup beside it, of the ports.conf before the change
    assert int(_sh(web, "ls /etc/apache2/ | grep -c '^ports.conf\\..*~$' || true")) == int(backups) + 1


def test_a_second_run_on_the_apache_host_changes_nothing(apache_web1, lab_inv):
    web = apache_web1
    digest = hashlib.sha256(_sh(web, "cat /etc/apache2/ports.conf").encode()).hexdigest()
    r = remediate("dual-stack", lab_inv, limit="web1", extravars=VERIFY)
    assert r.exit_code() == EXIT_OK, r.stdout[-3000:]
    assert r.hosts["web1"].changed == 0, [e.task for e in r.events if e.status == "changed"]
    assert hashlib.sha256(_sh(web, "cat /etc/apache2/ports.conf").encode()).hexdigest() == digest


def test_a_ports_conf_made_dual_stack_by_hand_is_left_as_it_is(apache_web1, lab_inv):
    """`Listen 0.0.0.0:80` beside `Listen [::]:80` already serves both families: rewriting the first to `Listen 80`
    would ask for [::]:80 twice."""
    web = apache_web1
    _sh(web, "printf 'Listen 0.0.0.0:80\\nListen [::]:80\\n' > /etc/apache2/ports.conf && systemctl restart apache2")
    assert PAGE in _get(web.ipv6) and PAGE in _get(web.ipv4)
    r = remediate("dual-stack", lab_inv, limit="web1", extravars=VERIFY)
    assert r.exit_code() == EXIT_OK, r.stdout[-3000:]
    assert r.hosts["web1"].changed == 0, [e.task for e in r.events if e.status == "changed"]
    assert _sh(web, "cat /etc/apache2/ports.conf").splitlines() == ["Listen 0.0.0.0:80", "Listen [::]:80"]
