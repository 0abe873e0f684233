"""Small DNS servers on loopback for the DNS/DNSSEC fault tests (not a lab: signed toy zones in-process).

FakeServer answers UDP and TCP on <address>:53 through a handler(query, over_tcp) -> reply, where a reply
is bytes, a Message, None (stay silent: the client times out) or a list of those (UDP: sent one after
the other, e.g. a stray datagram before the answer).

Zones are built and signed here with dnspython (sign_zone does NSEC only, so the NSEC and NSEC3 chains
are made by build_zone itself): make_key() makes keys, build_zone() signs a zone text with NSEC or NSEC3
(iterations, salt, opt-out), and Authority answers from one or more such zones like a real authoritative
server: referrals with glue and DS (or its denial), CNAME, DNAME with a synthesised CNAME, wildcard
expansion with the no-closer-match proof, NXDOMAIN/NODATA with their full NSEC/NSEC3 proofs. Hostile
variants wrap Authority.handle and change what it would send.

signed_root() and zone_handler() are the older one-zone helpers of test_dnssec_faults.py.
"""

from __future__ import annotations

import base64
import socket
import struct
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import dns.dnssec
import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdata
import dns.rdataclass
import dns.rdataset
import dns.rdatatype
import dns.rrset
import dns.zone
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from dns.rdtypes.ANY.NSEC import Bitmap

Reply = "bytes | dns.message.Message | None | list"
Handler = Callable[[dns.message.Message, bool], Reply]
IN = dns.rdataclass.IN


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

    def _answer(self, wire: bytes, tcp: bool) -> list[bytes]:
        try:
            q = dns.message.from_wire(wire)
        except Exception:  # noqa: BLE001 - a fake server ignores what it cannot parse
            return []
        self.seen.append((q.question[0].name.to_text(), dns.rdatatype.to_text(q.question[0].rdtype), tcp))
        out = self.handler(q, tcp)
        items = out if isinstance(out, list) else [out]
        wires = []
        for item in items:
            if item is None:
                continue
            if isinstance(item, bytes):
                wires.append(item)
            else:  # an answer too big for the client's UDP payload goes out as TC and nothing in it
                wires.append(truncate_udp(item, q, tcp).to_wire(max_size=65535 if tcp else _payload(q)))
        return wires

    def _udp_loop(self) -> None:
        while not self._stop:
            try:
                wire, peer = self.udp.recvfrom(65535)
            except OSError:
                return
            for out in self._answer(wire, False):
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
                    outs = self._answer(wire, True)
                    if not outs:
                        time.sleep(3)
                        return
                    conn.sendall(struct.pack("!H", len(outs[-1])) + outs[-1])
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


def _payload(q: dns.message.Message) -> int:
    return max(512, q.payload) if q.edns >= 0 else 512


def truncate_udp(reply: dns.message.Message, q: dns.message.Message, tcp: bool) -> dns.message.Message:
    """What a server does with an answer too big for the client's UDP payload: TC and nothing in it."""
    if tcp or reply.id != q.id or len(reply.to_wire(max_size=65535)) <= _payload(q):
        return reply
    r = dns.message.make_response(q)
    r.flags = reply.flags | dns.flags.TC
    r.set_rcode(reply.rcode())
    return r


def hints_file(path: Path, addresses: list[str]) -> str:
    lines = [". 3600000 NS a.root-servers.test."]
    for a in addresses:
        lines.append(f"a.root-servers.test. 3600000 {'AAAA' if ':' in a else 'A'} {a}")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return str(path)


# --- keys and signed zones ---------------------------------------------------------------------------------


@dataclass
class Key:
    priv: object  # a cryptography private key (None for a key nobody can sign with)
    dnskey: dns.rdata.Rdata
    signs: bool = True  # False: published only (a pre-published or revoked-for-show key)

    @property
    def tag(self) -> int:
        return dns.dnssec.key_id(self.dnskey)

    @property
    def ksk(self) -> bool:
        return bool(self.dnskey.flags & 0x0001)


def make_key(algorithm: int = 13, ksk: bool = True, bits: int = 2048, flags: int | None = None) -> Key:
    """A key of this algorithm (13/14 ECDSA, 5/7/8/10 RSA, 15 Ed25519); flags 257 (KSK) or 256 (ZSK)."""
    if algorithm in (5, 7, 8, 10):
        priv = rsa.generate_private_key(65537, bits)
    elif algorithm == 14:
        priv = ec.generate_private_key(ec.SECP384R1())
    elif algorithm == 15:
        from cryptography.hazmat.primitives.asymmetric import ed25519

        priv = ed25519.Ed25519PrivateKey.generate()
    else:
        priv = ec.generate_private_key(ec.SECP256R1())
    f = flags if flags is not None else (257 if ksk else 256)
    return Key(priv, dns.dnssec.make_dnskey(priv.public_key(), algorithm, flags=f))


def ds_text(owner: str, key: Key | dns.rdata.Rdata, digest: str = "SHA256") -> str:
    dnskey = key.dnskey if isinstance(key, Key) else key
    ds = dns.dnssec.make_ds(owner, dnskey, digest, policy=dns.dnssec.allow_all_policy)
    return f"{owner} 300 IN DS {ds.to_text()}"


@dataclass
class Denial:
    kind: str = "nsec"  # nsec | nsec3 | none
    iterations: int = 0
    salt: bytes = b""
    opt_out: bool = False
    hash_alg: int = 1


@dataclass
class Signed:
    """A signed zone and what its server needs to answer from it."""

    zone: dns.zone.Zone
    keys: list[Key]
    denial: Denial
    nsec3_names: dict[str, dns.name.Name] = field(default_factory=dict)  # hash -> original owner

    @property
    def origin(self) -> dns.name.Name:
        return self.zone.origin


def now_window(days: float = 30, back: float = 3600) -> tuple[int, int]:
    now = int(time.time())
    return now - int(back), now + int(days * 86400)


def sign_rrset(rrset: dns.rrset.RRset, signer: dns.name.Name, keys: list[Key], inception: int,
               expiration: int) -> dns.rrset.RRset:
    sigs = dns.rrset.RRset(rrset.name, IN, dns.rdatatype.RRSIG, rrset.rdtype)
    for k in keys:
        if k.priv is None or not k.signs:
            continue
        sig = dns.dnssec.sign(rrset, k.priv, signer, k.dnskey, inception=inception, expiration=expiration,
                              policy=dns.dnssec.allow_all_policy)
        sigs.add(sig, rrset.ttl)
    return sigs


def build_zone(origin: str, text: str, keys: list[Key] | None, denial: Denial | None = None,
               window: tuple[int, int] | None = None) -> Signed:
    """The zone from text (absolute names, or relative to origin), its DNSKEYs added, NSEC or NSEC3
    chain built, every authoritative RRset signed (KSKs sign DNSKEY, ZSKs the rest; with KSKs only they
    sign everything). keys=None or [] gives an unsigned zone."""
    denial = denial or Denial()
    o = dns.name.from_text(origin)
    zone = dns.zone.from_text(text, origin=o, relativize=False, check_origin=False)
    keys = keys or []
    signed = Signed(zone, keys, denial if keys else Denial("none"))
    if not keys:
        return signed
    inception, expiration = window or now_window()
    soa = zone.find_rdataset(o, dns.rdatatype.SOA)
    with zone.writer() as txn:
        for k in keys:
            txn.add(o, soa.ttl, k.dnskey)
    cuts = [n for n, node in zone.nodes.items() if n != o and node.get_rdataset(IN, dns.rdatatype.NS)]

    def below_cut(name: dns.name.Name) -> bool:
        return any(name != c and name.is_subdomain(c) for c in cuts)

    auth = sorted(n for n in zone.nodes if not below_cut(n))
    if denial.kind == "nsec":
        _nsec_chain(zone, auth, cuts, soa[0].minimum)
    elif denial.kind == "nsec3":
        signed.nsec3_names = _nsec3_chain(zone, auth, cuts, denial, soa[0].minimum)
    ksks = [k for k in keys if k.ksk] or keys
    zsks = [k for k in keys if not k.ksk] or keys
    with zone.writer() as txn:
        for name in sorted(zone.nodes):
            if below_cut(name):
                continue
            node = zone.nodes[name]
            for rds in list(node.rdatasets):
                if rds.rdtype == dns.rdatatype.RRSIG:
                    continue
                if name in cuts and rds.rdtype not in (dns.rdatatype.DS, dns.rdatatype.NSEC):
                    continue  # delegation NS is not signed by the parent
                rrset = dns.rrset.from_rdata_list(name, rds.ttl, list(rds))
                # KSKs sign the key set; CDS/CDNSKEY too, as BIND and Knot do (RFC 7344 §4.1 wants a key the
                # parent's DS names among their signers).
                cds = (dns.rdatatype.CDS, dns.rdatatype.CDNSKEY)
                use = ksks if rds.rdtype == dns.rdatatype.DNSKEY else ([*ksks, *zsks] if rds.rdtype in cds else zsks)
                sigs = sign_rrset(rrset, o, use, inception, expiration)
                if len(sigs):
                    txn.add(sigs)
    return signed


def _bitmap(types: set[int]) -> tuple:
    return Bitmap.from_rdtypes(sorted(types)).windows


def _node_types(zone: dns.zone.Zone, name: dns.name.Name, cut: bool) -> set[int]:
    node = zone.nodes.get(name)
    types = {r.rdtype for r in node.rdatasets} if node is not None else set()
    if cut and dns.rdatatype.DS not in types:
        return types  # insecure delegation: nothing signed there
    return types | {dns.rdatatype.RRSIG} if types else types


def _nsec_chain(zone: dns.zone.Zone, auth: list[dns.name.Name], cuts: list, ttl: int) -> None:
    from dns.rdtypes.ANY.NSEC import NSEC

    with zone.writer() as txn:
        for i, name in enumerate(auth):
            nxt = auth[(i + 1) % len(auth)]
            types = _node_types(zone, name, name in cuts) | {dns.rdatatype.NSEC, dns.rdatatype.RRSIG}
            txn.add(name, ttl, NSEC(IN, dns.rdatatype.NSEC, nxt, _bitmap(types)))


def nsec3_hash(name: dns.name.Name, d: Denial) -> str:
    return dns.dnssec.nsec3_hash(name, d.salt, d.iterations, 1)


def _nsec3_chain(zone: dns.zone.Zone, auth: list[dns.name.Name], cuts: list, d: Denial,
                 ttl: int) -> dict[str, dns.name.Name]:
    from dns.rdtypes.ANY.NSEC3 import NSEC3
    from dns.rdtypes.ANY.NSEC3PARAM import NSEC3PARAM

    o = zone.origin
    names: set[dns.name.Name] = set()
    for name in auth:
        node = zone.nodes[name]
        if d.opt_out and name in cuts and not node.get_rdataset(IN, dns.rdatatype.DS):
            continue  # opt-out: insecure delegations get no NSEC3
        names.add(name)
        parent = name
        while parent != o and len(parent) > len(o):  # empty non-terminals have NSEC3 too (RFC 5155 §7.1)
            parent = parent.parent()
            names.add(parent)
    hashed = sorted((nsec3_hash(n, d), n) for n in names)
    owners = {}
    with zone.writer() as txn:
        for i, (h, name) in enumerate(hashed):
            nxt = hashed[(i + 1) % len(hashed)][0]
            types = _node_types(zone, name, name in cuts)
            if name == o:
                types |= {dns.rdatatype.NSEC3PARAM, dns.rdatatype.RRSIG}
            rd = NSEC3(IN, dns.rdatatype.NSEC3, d.hash_alg, 1 if d.opt_out else 0, d.iterations, d.salt,
                       base64.b32hexdecode(nxt + "=" * (-len(nxt) % 8)), _bitmap(types))
            owner = dns.name.Name((h.lower().encode(),) + o.labels)
            txn.add(owner, ttl, rd)
            owners[h.upper()] = name
        txn.add(o, 0, NSEC3PARAM(IN, dns.rdatatype.NSEC3PARAM, 1, 0, d.iterations, d.salt))
    return owners


# --- the authoritative server ------------------------------------------------------------------------------


class Authority:
    """Answers like an authoritative server (AA set) for the zones it holds; a query outside them is
    REFUSED. Zones are Signed; the deepest zone holding the name answers (its parent, for DS at a cut)."""

    def __init__(self, *zones: Signed) -> None:
        self.zones = list(zones)

    def zone_for(self, qname: dns.name.Name, qtype: int) -> Signed | None:
        held = sorted((z for z in self.zones if qname.is_subdomain(z.origin)), key=lambda z: -len(z.origin))
        if qtype == dns.rdatatype.DS and held and held[0].origin == qname and qname != dns.name.root:
            held = held[1:] or held  # DS lives in the parent, when we hold it
        return held[0] if held else None

    def handle(self, q: dns.message.Message, tcp: bool) -> dns.message.Message:
        qname, qtype = q.question[0].name, q.question[0].rdtype
        r = dns.message.make_response(q)
        r.flags &= ~dns.flags.RA
        z = self.zone_for(qname, qtype)
        if z is None:
            r.set_rcode(dns.rcode.REFUSED)
            return r
        self.answer(z, qname, qtype, r)
        return r

    # -- helpers
    @staticmethod
    def _add(z: Signed, section: list, name: dns.name.Name, rdtype: int, owner: dns.name.Name | None = None,
             signed: bool = True) -> bool:
        node = z.zone.nodes.get(name)
        rds = node.get_rdataset(IN, rdtype) if node is not None else None
        if rds is None:
            return False
        shown = owner or name
        if not any(r.name == shown and r.rdtype == rdtype for r in section):
            section.append(dns.rrset.from_rdata_list(shown, rds.ttl, list(rds)))
            sig = node.get_rdataset(IN, dns.rdatatype.RRSIG, rdtype)
            if signed and sig is not None:
                section.append(dns.rrset.from_rdata_list(shown, sig.ttl, list(sig)))
        return True

    @staticmethod
    def _exists(z: Signed, name: dns.name.Name) -> bool:
        """The name has data, or is an empty non-terminal (some name below it has data)."""
        if name in z.zone.nodes and any(r.rdtype not in (dns.rdatatype.NSEC3,) for r in z.zone.nodes[name]):
            return True
        return any(n != name and n.is_subdomain(name) and not _is_nsec3_owner(z, n) for n in z.zone.nodes)

    def _nsec_owner(self, z: Signed, name: dns.name.Name) -> dns.name.Name:
        """The NSEC owner that matches or covers name."""
        owners = sorted(n for n, node in z.zone.nodes.items() if node.get_rdataset(IN, dns.rdatatype.NSEC))
        best = owners[-1]
        for n in owners:
            if n <= name:
                best = n
        return best

    def _nsec3_owner(self, z: Signed, name: dns.name.Name, match: bool) -> dns.name.Name | None:
        h = nsec3_hash(name, z.denial).upper()
        hashes = sorted(z.nsec3_names)
        if match:
            return _n3name(z, h) if h in z.nsec3_names else None
        best = hashes[-1]
        for x in hashes:
            if x < h:
                best = x
        return _n3name(z, best)

    def _deny(self, z: Signed, r: dns.message.Message, names: list[tuple[dns.name.Name, str]]) -> None:
        """Add the NSEC/NSEC3 records for (name, 'match'|'cover') pairs."""
        for name, how in names:
            if z.denial.kind == "nsec":
                self._add(z, r.authority, self._nsec_owner(z, name), dns.rdatatype.NSEC)
            elif z.denial.kind == "nsec3":
                owner = self._nsec3_owner(z, name, how == "match")
                if owner is not None:
                    self._add(z, r.authority, owner, dns.rdatatype.NSEC3)

    def _closest_encloser(self, z: Signed, qname: dns.name.Name) -> dns.name.Name:
        ce = qname.parent()
        while ce != z.origin and not self._exists(z, ce):
            ce = ce.parent()
        return ce

    def answer(self, z: Signed, qname: dns.name.Name, qtype: int, r: dns.message.Message) -> None:
        o = z.origin
        # Delegations and DNAMEs on the way down from the apex.
        for n in range(len(o) + 1, len(qname) + 1):
            name = dns.name.Name(qname.labels[len(qname) - n:])
            node = z.zone.nodes.get(name)
            if node is None:
                continue
            if node.get_rdataset(IN, dns.rdatatype.NS) is not None:
                if name == qname and qtype == dns.rdatatype.DS:
                    break  # answered below from this (parent) side
                self.referral(z, name, r)
                return
            dname = node.get_rdataset(IN, dns.rdatatype.DNAME)
            if dname is not None and name != qname:
                r.flags |= dns.flags.AA
                self._add(z, r.answer, name, dns.rdatatype.DNAME)
                target = qname.relativize(name).derelativize(dname[0].target)
                cname = dns.rrset.from_text(qname, dname.ttl, "IN", "CNAME", target.to_text())
                r.answer.append(cname)
                return
        r.flags |= dns.flags.AA
        node = z.zone.nodes.get(qname)
        if node is not None and not _is_nsec3_owner(z, qname):
            if self._add(z, r.answer, qname, qtype):
                return
            if self._add(z, r.answer, qname, dns.rdatatype.CNAME):
                return
            self._add(z, r.authority, o, dns.rdatatype.SOA)
            if qtype == dns.rdatatype.DS and node.get_rdataset(IN, dns.rdatatype.NS) is not None and qname != o:
                self.no_ds(z, qname, r)
            else:
                self._deny(z, r, [(qname, "match")])
            return
        if self._exists(z, qname):  # empty non-terminal
            self._add(z, r.authority, o, dns.rdatatype.SOA)
            self._deny(z, r, [(qname, "match")])
            return
        ce = self._closest_encloser(z, qname)
        nc = dns.name.Name(qname.labels[len(qname) - len(ce) - 1:])
        wild = dns.name.Name((b"*",) + ce.labels)
        if wild in z.zone.nodes:
            for t in (qtype, dns.rdatatype.CNAME):
                if self._add(z, r.answer, wild, t, owner=qname):
                    self._deny(z, r, [(qname, "cover")] if z.denial.kind == "nsec" else [(nc, "cover")])
                    return
            self._add(z, r.authority, o, dns.rdatatype.SOA)
            if z.denial.kind == "nsec":
                self._deny(z, r, [(qname, "cover"), (wild, "match")])
            else:
                self._deny(z, r, [(ce, "match"), (nc, "cover"), (wild, "match")])
            return
        r.set_rcode(dns.rcode.NXDOMAIN)
        self._add(z, r.authority, o, dns.rdatatype.SOA)
        if z.denial.kind == "nsec":
            self._deny(z, r, [(qname, "cover"), (wild, "cover")])
        else:
            self._deny(z, r, [(ce, "match"), (nc, "cover"), (wild, "cover")])

    def referral(self, z: Signed, cut: dns.name.Name, r: dns.message.Message) -> None:
        self._add(z, r.authority, cut, dns.rdatatype.NS)
        if not self._add(z, r.authority, cut, dns.rdatatype.DS):
            self.no_ds(z, cut, r)
        for ns in z.zone.nodes[cut].get_rdataset(IN, dns.rdatatype.NS):
            if ns.target.is_subdomain(z.origin):
                for t in (dns.rdatatype.A, dns.rdatatype.AAAA):
                    self._add(z, r.additional, ns.target, t, signed=False)

    def no_ds(self, z: Signed, cut: dns.name.Name, r: dns.message.Message) -> None:
        """The proof that the delegation `cut` has no DS."""
        if z.denial.kind == "nsec":
            self._add(z, r.authority, cut, dns.rdatatype.NSEC)
        elif z.denial.kind == "nsec3":
            owner = self._nsec3_owner(z, cut, match=True)
            if owner is not None:
                self._add(z, r.authority, owner, dns.rdatatype.NSEC3)
            else:  # opt-out: closest encloser and the opt-out span covering the next closer
                ce = self._closest_encloser(z, cut)
                nc = dns.name.Name(cut.labels[len(cut) - len(ce) - 1:])
                self._deny(z, r, [(ce, "match"), (nc, "cover")])


def _n3name(z: Signed, h: str) -> dns.name.Name:
    return dns.name.Name((h.lower().encode(),) + z.origin.labels)


def _is_nsec3_owner(z: Signed, name: dns.name.Name) -> bool:
    node = z.zone.nodes.get(name)
    return node is not None and node.get_rdataset(IN, dns.rdatatype.NSEC3) is not None and len(node) <= 2


def rrset_of(msg: dns.message.Message, section: str, name: str | dns.name.Name, rdtype: int,
             covers: int = 0) -> dns.rrset.RRset | None:
    n = dns.name.from_text(name) if isinstance(name, str) else name
    for rr in getattr(msg, section):
        if rr.name == n and rr.rdtype == rdtype and rr.covers == covers:
            return rr
    return None


# --- the older one-zone helpers (test_dnssec_faults.py) -------------------------------------------------------

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


# --- toy hierarchies on loopback ----------------------------------------------------------------------------

ROOT_SOA = ". 3600 IN SOA a.root-servers.test. hostmaster.test. 1 3600 600 86400 300\n"


class ToyNet:
    """Servers on their own loopback addresses (127.53.<block>.1, .2, ...) and the settings to reach them:
    hints naming the toy root servers, the root's DS as trust anchor. Close it to stop every server."""

    _blocks = iter(range(10, 250))

    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.block = next(ToyNet._blocks)
        self.n = 0
        self.servers: list[FakeServer] = []

    def addr(self) -> str:
        self.n += 1
        return f"127.53.{self.block}.{self.n}"

    def serve(self, handler: Handler, addr: str | None = None) -> FakeServer:
        srv = FakeServer(addr or self.addr(), handler)
        self.servers.append(srv)
        return srv

    def settings(self, roots: list[str], anchor: str, timeout: float = 0.5, budget: float = 8.0):
        from netready.model import ProbeSettings

        hints = hints_file(self.tmp / f"hints-{self.block}-{self.n}", roots)
        ta = self.tmp / f"anchor-{self.block}-{self.n}"
        ta.write_text(anchor, encoding="utf-8")
        return ProbeSettings(root_hints=hints, trust_anchor=str(ta), timeout=timeout, budget=budget, lab=True)

    def close(self) -> None:
        for s in self.servers:
            s.close()


def child_text(origin: str, ns: dict[str, str], body: str, serial: int = 1) -> str:
    """A zone text with SOA, NS (name -> address, in-zone names get their A) and `body`."""
    lines = [f"{origin} 300 IN SOA {next(iter(ns))} hostmaster.{origin} {serial} 3600 600 86400 300"]
    for name, addr in ns.items():
        lines.append(f"{origin} 300 IN NS {name}")
        if name.endswith(origin):
            lines.append(f"{name} 300 IN A {addr}")
    return "\n".join(lines) + "\n" + body


@dataclass
class Toy:
    """A signed root delegating one child zone: what a test changes and inspects."""

    net: ToyNet
    settings: object
    root: Signed
    child: Signed | None
    root_addr: str
    child_addrs: list[str]
    servers: dict[str, FakeServer]


def toy_chain(net: ToyNet, origin: str, body: str, keys: list[Key] | None, denial: Denial | None = None,
              ds: list[str] | None = None, wrap: Callable | None = None, ns_count: int = 1,
              root_extra: str = "", root_denial: Denial | None = None, root_wrap: Callable | None = None,
              window: tuple[int, int] | None = None, child_wraps: list[Callable | None] | None = None,
              parent_ns: dict[str, str] | None = None, **settings_kw) -> Toy:
    """Root (signed, NSEC unless root_denial) -> `origin` (keys, denial). ds=None: SHA-256 DS of every KSK.
    wrap(authority) -> handler changes what every child server sends (child_wraps: per server)."""
    root_addr = net.addr()
    addrs = [net.addr() for _ in range(ns_count)]
    ns = {f"ns{i + 1}.{origin}": a for i, a in enumerate(addrs)}
    child = build_zone(origin, child_text(origin, ns, body), keys, denial, window) if keys is not None else None
    if ds is None:
        ds = [ds_text(origin, k) for k in keys or [] if k.ksk]
    listed = parent_ns or ns
    rtext = ROOT_SOA + ". 3600 IN NS a.root-servers.test.\n" + f"a.root-servers.test. 3600 IN A {root_addr}\n"
    rtext += "".join(f"{origin} 300 IN NS {n}\n" for n in listed)
    rtext += "".join(f"{n} 300 IN A {a}\n" for n, a in listed.items() if n.endswith(origin))
    rtext += "".join(line + "\n" for line in ds) + root_extra
    rkey = make_key(13)
    root = build_zone(".", rtext, [rkey], root_denial)
    servers = {}
    rauth = Authority(root)
    servers[root_addr] = net.serve(root_wrap(rauth) if root_wrap else rauth.handle, root_addr)
    if child is not None:
        for i, a in enumerate(addrs):
            w = (child_wraps[i] if child_wraps else None) or wrap
            auth = Authority(child)
            servers[a] = net.serve(w(auth) if w else auth.handle, a)
    return Toy(net, net.settings([root_addr], ds_text(".", rkey), **settings_kw), root, child, root_addr, addrs,
               servers)


def sign_extra(signed: Signed, rrset: dns.rrset.RRset, window: tuple[int, int] | None = None) -> dns.rrset.RRset:
    """Signatures over a record the zone does not hold (what a hostile server forges with the real key)."""
    inception, expiration = window or now_window()
    zsks = [k for k in signed.keys if not k.ksk] or signed.keys
    return sign_rrset(rrset, signed.origin, zsks, inception, expiration)


def nsec3_for(signed: Signed, name: dns.name.Name, match: bool) -> list[dns.rrset.RRset]:
    """The signed NSEC3 RRset matching (or covering) name, as the zone holds it."""
    owner = Authority(signed)._nsec3_owner(signed, name, match)
    if owner is None:
        return []
    node = signed.zone.nodes[owner]
    rds = node.get_rdataset(IN, dns.rdatatype.NSEC3)
    sig = node.get_rdataset(IN, dns.rdatatype.RRSIG, dns.rdatatype.NSEC3)
    return [dns.rrset.from_rdata_list(owner, rds.ttl, list(rds)), dns.rrset.from_rdata_list(owner, sig.ttl, list(sig))]


def nsec_for(signed: Signed, name: dns.name.Name) -> list[dns.rrset.RRset]:
    """The signed NSEC RRset matching or covering name."""
    owner = Authority(signed)._nsec_owner(signed, name)
    node = signed.zone.nodes[owner]
    rds = node.get_rdataset(IN, dns.rdatatype.NSEC)
    sig = node.get_rdataset(IN, dns.rdatatype.RRSIG, dns.rdatatype.NSEC)
    return [dns.rrset.from_rdata_list(owner, rds.ttl, list(rds)), dns.rrset.from_rdata_list(owner, sig.ttl, list(sig))]
