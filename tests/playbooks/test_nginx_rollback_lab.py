"""The dual_stack role's check after nginx reloads, on a real lab machine (web1 as it starts: nginx on IPv4 only).

`nginx -s reload` (what the service's reload runs) succeeds even when the new configuration cannot be applied: the
master logs the error and keeps serving the old one. When another program holds [::]:80 (IPv6 only), the new
`listen [::]:80` cannot bind, nginx stays IPv4-only, and only a look at who listens on which port tells; any IPv6
listener (sshd on [::]:22) or the other program answering the controller's check must not pass for nginx."""

from __future__ import annotations

import socket

from netready.remediate import EXIT_HOST_FAILED, remediate

# Holds port 80 over IPv6 only (IPV6_V6ONLY), beside nginx's 0.0.0.0:80, and accepts connections.
SQUATTER = ("import socket, time; s = socket.socket(socket.AF_INET6); s.setsockopt(socket.IPPROTO_IPV6, "
            "socket.IPV6_V6ONLY, 1); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); "
            "s.bind(('::', 80)); s.listen(); time.sleep(3600)")
# web1's one site (the role's backup of it, NAME.PID.DATE~, lands beside it)
SITES = ["sh", "-c", "md5sum /etc/nginx/sites-available/default; ls /etc/nginx/sites-enabled /etc/nginx/conf.d"]


def _status_line(address: str, port: int = 80) -> str:
    with socket.create_connection((address, port), timeout=5) as sock:
        sock.sendall(b"GET / HTTP/1.0\r\nHost: web1\r\n\r\n")
        return sock.recv(200).split(b"\r\n")[0].decode(errors="replace")


def test_nginx_that_cannot_take_the_ipv6_port_is_rolled_back_not_reported_done(fresh_machines, lab_inv):
    web = fresh_machines["web1"]
    started = web.run(["sh", "-c", f"systemd-run --unit=netready-test-v6squat python3 -c \"{SQUATTER}\" && "
                                   "for i in $(seq 50); do ss -H -l -t -n -6 'sport = :80' | grep -q . && exit 0; "
                                   "sleep 0.1; done; exit 1"])
    assert started.returncode == 0, started.stderr
    sites = web.run(SITES).stdout
    try:
        r = remediate("dual-stack", lab_inv, limit="web1")
        assert r.exit_code() == EXIT_HOST_FAILED and r.failed_hosts == ["web1"], r.stdout[-3000:]
        failed = [e for e in r.events if e.status == "failed"]
        assert failed[-1].message.startswith("ROLLED BACK on web1: Check nginx listens over IPv6"), failed[-1]
        assert web.run(SITES).stdout == sites  # the sites are back as they were
        assert _status_line(web.ipv4).startswith("HTTP/1.1 200")  # and nginx serves them
    finally:
        web.run(["systemctl", "stop", "netready-test-v6squat.service"])
