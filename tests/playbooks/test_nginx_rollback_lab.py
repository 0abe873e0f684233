"""The dual_stack role's check after nginx reloads, on a real lab machine (web1 as it starts: nginx on IPv4 only).

`nginx -s reload` (what the service's reload runs) succeeds even when the new configuration cannot be applied: the
master logs the error and keeps serving the old one. When another program holds [::]:80 (IPv6 only), the new
`listen [::]:80` cannot bind, nginx stays IPv4-only, and only a look at who listens on which port tells; any IPv6
listener (sshd on [::]:22) or the other program answering the controller's check must not pass for nginx."""

from __future__ import annotations

from netready.remediate import EXIT_HOST_FAILED, remediate

from .web import http_get, ipv6_port_held

# web1's one site (the role's backup of it, NAME.PID.DATE~, lands beside it)
SITES = ["sh", "-c", "md5sum /etc/nginx/sites-available/default; ls /etc/nginx/sites-enabled /etc/nginx/conf.d"]


def test_nginx_that_cannot_take_the_ipv6_port_is_rolled_back_not_reported_done(fresh_machines, lab_inv):
    web = fresh_machines["web1"]
    sites = web.run(SITES).stdout
    with ipv6_port_held(web, 80):
        r = remediate("dual-stack", lab_inv, limit="web1")
        assert r.exit_code() == EXIT_HOST_FAILED and r.failed_hosts == ["web1"], r.stdout[-3000:]
        failed = [e for e in r.events if e.status == "failed"]
        assert failed[-1].message.startswith("ROLLED BACK on web1: Check nginx listens over IPv6"), failed[-1]
        assert web.run(SITES).stdout == sites  # the sites are back as they were
        assert http_get(web.ipv4).startswith("HTTP/1.1 200")  # and nginx serves them
