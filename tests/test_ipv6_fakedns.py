"""A tiny authoritative DNS server on loopback (UDP+TCP, port 53 on 127.0.0.1 and ::1) that serves
records the lab cannot publish: AAAA pointing at link-local or IPv4-mapped addresses, name servers
with IPv4 only, names with no records at all. It is authoritative for every zone it holds, the root
included, so an iterative resolver given it as the only root server gets answers straight away.

Port 53 needs root; run the suite in a network namespace of your own to share nothing.
"""

from __future__ import annotations

import socket
import struct
import threading
from pathlib import Path

import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdatatype
import dns.zone
import pytest

ZONES = {
    ".": """
@ 3600 SOA a.root-servers.test. hostmaster.test. 1 3600 600 86400 300
@ 3600 NS a.root-servers.test.
""",
    "hostile.gov.vn.": """
@ 300 SOA ns1 hostmaster 7 3600 600 86400 300
@ 300 NS ns1
@ 300 NS ns2
ns1 300 AAAA ::1
ns1 300 A 127.0.0.1
ns2 300 A 127.0.0.1
dichvucong 300 AAAA ::1
dichvucong 300 A 127.0.0.1
linklocal 300 AAAA fe80::1
linklocal 300 A 127.0.0.1
mapped 300 AAAA ::ffff:127.0.0.1
mapped 300 A 127.0.0.1
txtonly 300 TXT "no address here"
alias 300 CNAME linklocal
""",
    "v4only.gov.vn.": """
@ 300 SOA nsa hostmaster 1 3600 600 86400 300
@ 300 NS nsa
@ 300 NS nsb
nsa 300 A 127.0.0.1
nsb 300 A 127.0.0.1
dichvucong 300 A 127.0.0.1
""",
}
ROOT_HINTS = """. 3600000 NS a.root-servers.test.
a.root-servers.test. 3600000 A 127.0.0.1
a.root-servers.test. 3600000 AAAA ::1
"""


class FakeDNS:
    def __init__(self, zones: dict[str, str] = ZONES) -> None:
        self.zones = {
            dns.name.from_text(origin): dns.zone.from_text(text, origin=origin, relativize=False)
            for origin, text in zones.items()
        }
        self.stop = threading.Event()
        self.socks: list[socket.socket] = []
        self.threads: list[threading.Thread] = []
        self.queries = 0

    def answer(self, wire: bytes) -> bytes | None:
        try:
            q = dns.message.from_wire(wire)
        except Exception:
            return None
        self.queries += 1
        r = dns.message.make_response(q)
        r.flags |= dns.flags.AA
        qname, qtype = q.question[0].name, q.question[0].rdtype
        origin = max((o for o in self.zones if qname.is_subdomain(o)), key=lambda o: len(o), default=None)
        if origin is None:
            r.set_rcode(dns.rcode.REFUSED)
            return r.to_wire()
        zone = self.zones[origin]
        node = zone.get_node(qname)
        soa = zone.find_rrset(origin, dns.rdatatype.SOA)
        if node is None:
            r.set_rcode(dns.rcode.NXDOMAIN)
            r.authority.append(soa)
            return r.to_wire()
        rds = node.get_rdataset(dns.rdataclass.IN, qtype)
        cname = node.get_rdataset(dns.rdataclass.IN, dns.rdatatype.CNAME)
        if rds is not None:
            r.answer.append(zone.find_rrset(qname, qtype))
        elif cname is not None:
            r.answer.append(zone.find_rrset(qname, dns.rdatatype.CNAME))
            target = cname[0].target
            tnode = zone.get_node(target)
            if tnode is not None and tnode.get_rdataset(dns.rdataclass.IN, qtype) is not None:
                r.answer.append(zone.find_rrset(target, qtype))
        else:
            r.authority.append(soa)
        return r.to_wire()

    def _udp(self, sock: socket.socket) -> None:
        while not self.stop.is_set():
            try:
                wire, peer = sock.recvfrom(4096)
            except (TimeoutError, OSError):
                continue
            out = self.answer(wire)
            if out:
                sock.sendto(out, peer)

    def _tcp(self, sock: socket.socket) -> None:
        while not self.stop.is_set():
            try:
                conn, _ = sock.accept()
            except (TimeoutError, OSError):
                continue
            with conn:
                conn.settimeout(2)
                try:
                    size = struct.unpack("!H", conn.recv(2))[0]
                    wire = b""
                    while len(wire) < size:
                        wire += conn.recv(size - len(wire))
                    out = self.answer(wire)
                    if out:
                        conn.sendall(struct.pack("!H", len(out)) + out)
                except (OSError, struct.error):
                    pass

    def __enter__(self) -> FakeDNS:
        for family, addr in ((socket.AF_INET, "127.0.0.1"), (socket.AF_INET6, "::1")):
            for kind, loop in ((socket.SOCK_DGRAM, self._udp), (socket.SOCK_STREAM, self._tcp)):
                s = socket.socket(family, kind)
                s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                s.bind((addr, 53))
                if kind == socket.SOCK_STREAM:
                    s.listen(8)
                s.settimeout(0.1)
                self.socks.append(s)
                t = threading.Thread(target=loop, args=(s,), daemon=True)
                t.start()
                self.threads.append(t)
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        for t in self.threads:
            t.join(1)
        for s in self.socks:
            s.close()


@pytest.fixture(scope="module")
def fakedns(tmp_path_factory):
    hints = Path(tmp_path_factory.mktemp("fakedns")) / "root.hints"
    hints.write_text(ROOT_HINTS)
    try:
        server = FakeDNS().__enter__()
    except PermissionError:
        pytest.fail("port 53 needs root: run the suite as root (in a network namespace of your own)")
    except OSError as exc:
        pytest.fail(f"port 53 on loopback is busy ({exc}): run the suite in a network namespace of your own")
    yield server, str(hints)
    server.__exit__()


def test_fake_dns_answers(fakedns) -> None:
    from netready.probes.dns import ask

    ans = ask("::1", "linklocal.hostile.gov.vn", "AAAA", 1.0, tcp=True)
    assert ans.error is None and ans.response.answer[0][0].address == "fe80::1"
    nx = ask("127.0.0.1", "nothing.hostile.gov.vn", "A", 1.0)
    assert nx.response.rcode() == dns.rcode.NXDOMAIN
