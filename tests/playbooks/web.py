"""What the web-server tests of the dual_stack role do on web1: ask for a page, hold a port over IPv6."""

from __future__ import annotations

import contextlib
import socket
from collections.abc import Iterator

# Holds a port over IPv6 only (IPV6_V6ONLY), beside a server's 0.0.0.0 on the same port, and accepts connections.
_SQUATTER = ("import socket, sys, time; s = socket.socket(socket.AF_INET6); s.setsockopt(socket.IPPROTO_IPV6, "
             "socket.IPV6_V6ONLY, 1); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); "
             "s.bind(('::', int(sys.argv[1]))); s.listen(); time.sleep(3600)")
_UNIT = "netready-test-v6squat"


def http_get(address: str, port: int = 80) -> str:
    """One HTTP/1.0 GET of / straight to address (no proxy, no resolver): the whole answer, or the error."""
    try:
        with socket.create_connection((address, port), timeout=5) as sock:
            sock.sendall(b"GET / HTTP/1.0\r\nHost: web1\r\n\r\n")
            data = b""
            while chunk := sock.recv(65536):
                data += chunk
    except OSError as exc:
        return f"error: {exc}"
    return data.decode(errors="replace")


@contextlib.contextmanager
def ipv6_port_held(machine, port: int = 80) -> Iterator[None]:
    """Another program on the machine holding [::]:port (IPv6 only) while the block runs."""
    started = machine.run(["sh", "-c", f"systemd-run --unit={_UNIT} python3 -c \"{_SQUATTER}\" {port} && "
                                       f"for i in $(seq 50); do ss -H -l -t -n -6 'sport = :{port}' | grep -q . "
                                       "&& exit 0; sleep 0.1; done; exit 1"])
    assert started.returncode == 0, started.stderr
    try:
        yield
    finally:
        machine.run(["systemctl", "stop", f"{_UNIT}.service"])
