"""Small DNS servers on loopback for the DNSSEC probe's fault tests (not a lab: one signed toy root zone).

FakeServer answers UDP and TCP on <address>:53 through a handler(query, over_tcp) -> bytes | Message | None
(None: stay silent, so the client times out). signed_root() builds a root zone signed with dnspython
(NSEC chain) and zone_handler() answers from it like an authoritative server would.
"""

from __future__ import annotations

import socket
import struct
import threading
import time
from collections.abc import Callable
from pathlib import Path

import dns.dnssec
import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.rrset
import dns.zone
from cryptography.hazmat.primitives.asymmetric import ec

Handler = Callable[[dns.message.Message, bool], "bytes | dns.message.Message | None"]


class FakeServer:
    def __init__(self, address: str, handler: Handler) -> None:
        self.address = address
        self.handler = handler
        self.seen: list[tuple[str, str, bool]] = []  # (qname, qtype, tcp)
        fam = socket.AF_INET6 if ":" in address else socket.AF_INET
        self.udp = socket.socket(fam, socket.SOCK_DGRAM)
        self.tcp = socket.socket(fam, socket.SOCK_STREAM)
        for s in (self.udp, self.tcp):
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind((address, 53))
        self.tcp.listen(16)
        self._stop = False
        self._threads = [
            threading.Thread(target=self._udp_loop, daemon=True),
            threading.Thread(target=self._tcp_loop, daemon=True),
        ]
        for t in self._threads:
            t.start()

    def _answer(self, wire: bytes, tcp: bool) -> bytes | None:
        try:
            q = dns.message.from_wire(wire)
        except Exception:  # noqa: BLE001 - a fake server ignores what it cannot parse
            return None
        self.seen.append((q.question[0].name.to_text(), dns.rdatatype.to_text(q.question[0].rdtype), tcp))
        out = self.handler(q, tcp)
        if out is None or isinstance(out, bytes):
            return out
        return out.to_wire(max_size=65535 if tcp else 1232)

    def _udp_loop(self) -> None:
        while not self._stop:
            try:
                wire, peer = self.udp.recvfrom(65535)
            except OSError:
                return
            out = self._answer(wire, False)
            if out is not None:
                try:
                    self.udp.sendto(out, peer)
                except OSError:
                    pass

    def _tcp_loop(self) -> None:
        while not self._stop:
            try:
                conn, _ = self.tcp.accept()
            except OSError:
                return
            threading.Thread(target=self._tcp_conn, args=(conn,), daemon=True).start()

    def _tcp_conn(self, conn: socket.socket) -> None:
        with conn:
            conn.settimeout(3)
            try:
                while True:
                    head = conn.recv(2)
                    if len(head) < 2:
                        return
                    (n,) = struct.unpack("!H", head)
                    wire = b""
                    while len(wire) < n:
                        chunk = conn.recv(n - len(wire))
                        if not chunk:
                            return
                        wire += chunk
                    out = self._answer(wire, True)
                    if out is None:
                        time.sleep(3)
                        return
                    conn.sendall(struct.pack("!H", len(out)) + out)
            except OSError:
                return

    def close(self) -> None:
        self._stop = True
        for s in (self.udp, self.tcp):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            s.close()


def hints_file(path: Path, addresses: list[str]) -> str:
    lines = [". 3600000 NS a.root-servers.test."]
    for a in addresses:
        lines.append(f"a.root-servers.test. 3600000 {'AAAA' if ':' in a else 'A'} {a}")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return str(path)


ROOT_TEXT = """
@ 3600 IN SOA a.root-servers.test. hostmaster.test. 1 3600 600 86400 300
@ 3600 IN NS a.root-servers.test.
a.root-servers.test. 3600 IN A {addr}
www.portal.test. 300 IN A 198.51.100.7
www.portal.test. 300 IN AAAA 2001:db8::7
loop-a.test. 300 IN CNAME loop-b.test.
loop-b.test. 300 IN CNAME loop-a.test.
alias.test. 300 IN CNAME www.portal.test.
xn--dchvcng-x0a0689dsha.test. 300 IN A 198.51.100.8
"""


def signed_root(addr: str, expired: bool = False) -> tuple[dns.zone.Zone, str]:
    """A tiny signed root zone and its trust anchor (a DS line), ECDSA P-256 with an NSEC chain."""
    zone = dns.zone.from_text(ROOT_TEXT.format(addr=addr), origin=dns.name.root, relativize=False)
    priv = ec.generate_private_key(ec.SECP256R1())
    key = dns.dnssec.make_dnskey(priv.public_key(), dns.dnssec.Algorithm.ECDSAP256SHA256, flags=257)
    now = int(time.time())
    inception, expiration = (now - 20 * 86400, now - 86400) if expired else (now - 3600, now + 30 * 86400)
    dns.dnssec.sign_zone(zone, keys=[(priv, key)], inception=inception, expiration=expiration)
    ds = dns.dnssec.make_ds(dns.name.root, key, "SHA256")
    return zone, f". IN DS {ds.to_text()}\n"


def zone_handler(zone: dns.zone.Zone) -> Handler:
    """Authoritative answers from one signed zone: data + RRSIG, CNAME, NODATA/NXDOMAIN with NSEC proof."""
    origin = zone.origin
    nsecs = sorted((name, node) for name, node in zone.nodes.items() if node.get_rdataset(1, dns.rdatatype.NSEC))

    def add(section: list, name: dns.name.Name, rdtype: int) -> None:
        node = zone.get_node(name)
        if node is None:
            return
        rds = node.get_rdataset(dns.rdataclass.IN, rdtype)
        if rds is None:
            return
        section.append(dns.rrset.from_rdata_list(name, rds.ttl, list(rds)))
        sig = node.get_rdataset(dns.rdataclass.IN, dns.rdatatype.RRSIG, rdtype)
        if sig is not None:
            section.append(dns.rrset.from_rdata_list(name, sig.ttl, list(sig)))

    def covering(name: dns.name.Name) -> dns.name.Name:
        owner = nsecs[-1][0]
        for n, _node in nsecs:
            if n < name:
                owner = n
        return owner

    def handle(q: dns.message.Message, tcp: bool) -> dns.message.Message:
        r = dns.message.make_response(q)
        r.flags |= dns.flags.AA
        qname, qtype = q.question[0].name, q.question[0].rdtype
        node = zone.get_node(qname)
        if node is not None:
            if node.get_rdataset(1, qtype) is not None:
                add(r.answer, qname, qtype)
            elif node.get_rdataset(1, dns.rdatatype.CNAME) is not None:
                add(r.answer, qname, dns.rdatatype.CNAME)
            else:
                add(r.authority, origin, dns.rdatatype.SOA)
                add(r.authority, qname, dns.rdatatype.NSEC)
            return r
        add(r.authority, origin, dns.rdatatype.SOA)
        if any(n.is_subdomain(qname) for n in zone.nodes):  # empty non-terminal: NODATA
            add(r.authority, covering(qname), dns.rdatatype.NSEC)
            return r
        r.set_rcode(dns.rcode.NXDOMAIN)
        for owner in {covering(qname), covering(dns.name.Name((b"*",) + origin.labels))}:
            add(r.authority, owner, dns.rdatatype.NSEC)
        return r

    return handle
