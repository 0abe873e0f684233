"""DNS hierarchy: zone contents, keys, DS records and offline signing (BIND tools).

Bring-up is bottom-up without waiting for any daemon: every key is made first (dnssec-keygen, or keymgr
for Knot zones), so each parent's DS set is known before the parent is signed or loaded.
"""

from __future__ import annotations

import datetime as dt
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from . import pages, plan
from .plan import NameServer
from .scenarios import SCENARIOS, Scenario, scale_names
from .sysutil import run

ALG_NAMES = {5: "RSASHA1", 8: "RSASHA256", 13: "ECDSAP256SHA256"}
CAA_ISSUER = "ca.netready-lab.test"
SIG_DAYS = 30  # offline signatures: valid 30 days from `up` (BP-DNSSEC-SIGS wants >= 3 days left)


@dataclass
class Zone:
    origin: str  # absolute, with the trailing dot
    server: str  # named-auth view (root|vn|agency|v4only) or knot-gov | knot-agency
    servers: tuple[NameServer, ...]
    signer: str = "bind-offline"  # bind-offline | bind-policy | knot | none
    algorithm: int = 13
    nsec3: tuple[str, int] | None = None
    dnssec: str = "ok"  # ok | bogus-ds | expired | unsigned | stale | optout
    records: list[str] = field(default_factory=list)
    children: list[Zone] = field(default_factory=list)
    scenario: str | None = None
    csk: bool = False  # one key (flags 257) signs everything: half the key generation, for scale zones
    # Issue #13 zones (see Scenario): keys, DS digest, CDS, opt-out, what the parent lists, extra servers.
    keyset: str = "default"  # default | rollover
    ds_digest: int = 2
    cds: bool = False
    opt_out: bool = False  # NSEC3 opt-out: insecure delegations get no NSEC3
    parent_ns: tuple[NameServer, ...] | None = None  # NS + glue as the parent lists them (None: `servers`)
    also_views: tuple[str, ...] = ()  # other named-auth views serving the same (offline-signed) file
    secondary: str | None = None  # a daemon (knot-agency) that serves an older, expired copy
    # Filled during bring-up:
    keydir: Path | None = None
    ds: list[str] = field(default_factory=list)  # what the parent publishes
    unsigned_file: Path | None = None
    served_file: Path | None = None
    stale_file: Path | None = None  # the older copy `secondary` serves

    @property
    def signed(self) -> bool:
        return self.signer != "none"

    @property
    def knot(self) -> bool:
        return self.server.startswith("knot")


def _addr_records(s: NameServer) -> list[str]:
    return [f"{s.name} A {s.ipv4}"] * bool(s.ipv4) + [f"{s.name} AAAA {s.ipv6}"] * bool(s.ipv6)


def agency_zone(sc: Scenario) -> Zone:
    servers = list(plan.agency_servers(sc.zone, sc.dns_host))
    portal = f"{sc.portal}."
    v6 = {"same": plan.web6(sc.index), "diff": plan.web6(sc.index), "dead": plan.dead6(sc.index)}.get(sc.web6)
    recs = [f"www.{sc.zone} CNAME {portal}", f'{sc.zone} CAA 0 issue "{CAA_ISSUER}"']
    if sc.portal_record == "wildcard":
        owner = f"*.{sc.zone}"
    elif sc.portal_record == "dname":
        owner = f"portal.new.{sc.zone}"
        recs += [f"{portal} CNAME portal.old.{sc.zone}", f"old.{sc.zone} DNAME new.{sc.zone}"]
    else:
        owner = portal
    recs.append(f"{owner} A {plan.web4(sc.index)}")
    if v6:
        recs.append(f"{owner} AAAA {v6}")
    recs += pages.zone_records(sc.name, [(s.name, s.index) for s in SCENARIOS])  # issue #18: page hosts
    server = {"bind": "agency", "bind-v4only": "v4only", "knot": "knot-agency"}[sc.dns_host]
    extra: dict = {}
    if sc.nameservers == "lame":  # ns0 is the lab's recursive resolver: NOERROR without AA
        servers.insert(0, NameServer(f"ns0.{sc.zone}", plan.RESOLVER4, plan.RESOLVER6, "resolver"))
    elif sc.nameservers == "stale":  # ns2 on the Knot agency instance, serving an old expired copy
        servers[1] = plan.agency_servers(sc.zone, "knot")[1]
        extra["secondary"] = "knot-agency"
    elif sc.nameservers == "mismatch":  # the zone adds ns3 (.111); the parent's glue for ns2 says .111
        v4only = plan.agency_servers(sc.zone, "bind-v4only")[0]
        extra["parent_ns"] = (servers[0], NameServer(servers[1].name, v4only.ipv4, servers[1].ipv6, "named-auth"))
        servers.append(NameServer(f"ns3.{sc.zone}", v4only.ipv4, None, "named-auth"))
        extra["also_views"] = ("v4only",)
    common = dict(keyset=sc.keyset, ds_digest=sc.ds_digest, cds=sc.cds) | extra
    if sc.dnssec == "optout":  # signed parent with NSEC3 opt-out, the portal in its own unsigned zone
        child = Zone(portal, server, tuple(servers), "none", dnssec="optout", scenario=sc.name,
                     records=[f"{portal} A {plan.web4(sc.index)}", f"{portal} AAAA {v6}",
                              f'{portal} CAA 0 issue "{CAA_ISSUER}"'])
        return Zone(sc.zone, server, tuple(servers), sc.signer, sc.algorithm, sc.nsec3, "ok",
                    [r for r in recs if not r.startswith(owner)], children=[child], opt_out=True, **common)
    return Zone(
        sc.zone, server, tuple(servers), sc.signer, sc.algorithm, sc.nsec3, sc.dnssec, recs, scenario=sc.name,
        **common,
    )


def scale_zone(label: str) -> Zone:
    origin = f"{label}.gov.vn."
    recs = [
        f"dichvucong.{origin} A {plan.SCALE_WEB4}",
        f"dichvucong.{origin} AAAA {plan.SCALE_WEB6}",
        f'{origin} CAA 0 issue "{CAA_ISSUER}"',
    ]
    return Zone(
        origin,
        "agency",
        plan.agency_servers(origin, "bind"),
        records=recs,
        scenario=f"scale:{label}",
        csk=True,
    )


def broken_zone(index: int) -> Zone:
    """brokenNNNN.gov.vn: a delegation to a name server that drops, refuses or answers garbage (not
    served, not signed: gov.vn proves the missing DS), or a served zone whose portal's web address refuses
    connections or accepts them and stays silent (plan.BROKEN_KINDS, in turn)."""
    kind = plan.BROKEN_KINDS[(index - 1) % len(plan.BROKEN_KINDS)]
    origin = f"broken{index:04d}.gov.vn."
    if kind in plan.BROKEN_DNS:
        n = plan.BROKEN_DNS[kind]
        ns = plan.NameServer(f"ns1.{origin}", plan.dns4(n), plan.dns6(n), "hostile")
        return Zone(origin, "none", (ns,), "none", dnssec="unsigned", scenario=f"broken:{kind}")
    web4, web6 = plan.broken_web(kind)
    recs = [f"dichvucong.{origin} A {web4}", f"dichvucong.{origin} AAAA {web6}"]
    return Zone(origin, "agency", plan.agency_servers(origin, "bind"), records=recs, scenario=f"broken:{kind}",
                csk=True)


def broken_count(scale: int) -> int:
    """Broken portals that come with `scale` good ones: one in ten."""
    return scale // 9 if scale else 0


def hierarchy(scale: int = 0) -> Zone:
    """The root zone, with vn., gov.vn. and every agency zone below it (and the broken ones of a scale)."""
    agencies = [agency_zone(sc) for sc in SCENARIOS] + [scale_zone(n) for n in scale_names(scale)]
    agencies += [broken_zone(i) for i in range(1, broken_count(scale) + 1)]
    # gov.vn: Knot, NSEC3 with 0 iterations and an empty salt (RFC 9276).
    gov = Zone("gov.vn.", "knot-gov", plan.GOV_SERVERS, "knot", 13, ("-", 0), children=agencies)
    # vn.: RSASHA256 like the real .vn; NSEC.
    vn = Zone("vn.", "vn", plan.VN_SERVERS, "bind-offline", 8, children=[gov])
    root_recs = [r for s in plan.ROOT_SERVERS for r in _addr_records(s)]
    return Zone(".", "root", plan.ROOT_SERVERS, "bind-offline", 13, records=root_recs, children=[vn])


def file_name(z: Zone) -> str:
    return z.origin.rstrip(".") or "root"


def walk(z: Zone) -> list[Zone]:
    out = [z]
    for c in z.children:
        out.extend(walk(c))
    return out


def zone_text(z: Zone, serial: int) -> str:
    """Unsigned zone file with absolute names only; children get NS + glue + DS (if any)."""
    first = z.servers[0].name
    rname = "hostmaster.root-servers.test." if z.origin == "." else f"hostmaster.{z.origin}"
    lines = [
        "$TTL 300",
        f"{z.origin} 300 SOA {first} {rname} {serial} 1800 900 604800 300",
        *[f"{z.origin} NS {s.name}" for s in z.servers],
    ]
    if z.origin != ".":  # root server addresses are already among the root's own records
        lines += [r for s in z.servers if s.name.endswith(z.origin) for r in _addr_records(s)]
    lines += z.records
    for c in z.children:
        listed = c.parent_ns or c.servers
        lines += [f"{c.origin} NS {s.name}" for s in listed]
        lines += [r for s in listed if s.name.endswith(c.origin) for r in _addr_records(s)]
        lines += [ds.replace(" IN DS ", " DS ") for ds in c.ds]
    return "\n".join(lines) + "\n"


def keygen_bind(z: Zone, keydir: Path, tools: dict[str, str]) -> None:
    """KSK + ZSK in keydir; DS (digest z.ds_digest, SHA-256 by default) from the KSK, or from an unrelated
    key for a bogus delegation. `rollover`: two KSKs (both in the DS set) and two ZSKs, the second
    pre-published (in the DNSKEY set, signing nothing yet). `cds`: CDS and CDNSKEY of the KSK added."""
    keydir.mkdir(parents=True, exist_ok=True)
    z.keydir = keydir
    alg = ALG_NAMES[z.algorithm]
    bits = ["-b", "2048"] if z.algorithm in (5, 8) else []
    gen = [tools["dnssec-keygen"], "-q", "-K", str(keydir), "-a", alg, *bits, "-L", "300"]
    ksks = [run([*gen, "-f", "KSK", z.origin]).stdout.strip()]
    if z.keyset == "rollover":
        ksks.append(run([*gen, "-f", "KSK", z.origin]).stdout.strip())
        run([*gen, "-P", "now", "-A", "+30d", z.origin])  # the next ZSK, pre-published
    if not z.csk:
        run([*gen, z.origin])
    ds_keys = [keydir / f"{k}.key" for k in ksks]
    if z.dnssec == "bogus-ds":
        rogue = keydir.parent / f"rogue-{z.origin.rstrip('.')}"
        rogue.mkdir(exist_ok=True)
        ds_keys = [rogue / (run([*gen[:3], str(rogue), *gen[4:], "-f", "KSK", z.origin]).stdout.strip() + ".key")]
    z.ds = [ln for key in ds_keys
            for ln in run([tools["dnssec-dsfromkey"], f"-{z.ds_digest}", str(key)]).stdout.splitlines() if ln.strip()]
    if z.cds:
        ksk = keydir / f"{ksks[0]}.key"
        z.records += [ln.replace(" IN CDS ", " CDS ") for ln in
                      run([tools["dnssec-dsfromkey"], "-C", "-2", str(ksk)]).stdout.splitlines() if ln.strip()]
        z.records += [" ".join(ln.split()).replace(" DNSKEY ", " CDNSKEY ")
                      for ln in ksk.read_text().splitlines() if ln.strip() and not ln.startswith(";")]


def sign_bind(z: Zone, workdir: Path, tools: dict[str, str], now: dt.datetime, source: Path | None = None,
              out: Path | None = None, expired: bool = False) -> None:
    """Offline signing with dnssec-signzone (expired: start and end both in the past, no verification).
    source/out: sign another copy of the zone (the stale secondary's older one) into another file."""
    assert z.keydir and z.unsigned_file
    fmt = "%Y%m%d%H%M%S"
    start, end = now - dt.timedelta(hours=1), now + dt.timedelta(days=SIG_DAYS)
    extra: list[str] = []
    if z.dnssec == "expired" or expired:
        start, end = now - dt.timedelta(days=30), now - dt.timedelta(days=2)
        extra.append("-P")  # dnssec-signzone would refuse to verify a zone whose signatures are expired
    if z.nsec3:
        extra += ["-3", z.nsec3[0], "-H", str(z.nsec3[1])]
        if z.opt_out:
            extra.append("-A")
    if z.csk:
        extra.append("-z")  # the one KSK-flagged key signs every RRset
    source = source or z.unsigned_file
    out = out or z.unsigned_file.with_suffix(".signed")
    run(
        [
            tools["dnssec-signzone"],
            "-q",
            "-S",
            "-K",
            str(z.keydir),
            "-d",
            str(workdir),
            "-o",
            z.origin,
            "-s",
            start.strftime(fmt),
            "-e",
            end.strftime(fmt),
            *extra,
            "-f",
            str(out),
            str(source),
        ]
    )
    if out == z.unsigned_file.with_suffix(".signed"):
        z.served_file = out


def assign_files(root: Zone, zonedir: Path) -> None:
    zonedir.mkdir(parents=True, exist_ok=True)
    for z in walk(root):
        z.unsigned_file = z.served_file = zonedir / f"{file_name(z)}.zone"
        if z.secondary:
            z.stale_file = zonedir / f"{file_name(z)}.stale.signed"


def prepare(
    root: Zone, zonedir: Path, keydir: Path, tools: dict[str, str], knot_keygen, serial: int, now: dt.datetime
) -> None:
    """Keys for every signed zone, then zone files (children's DS in each parent), then offline signing."""
    zones = walk(root)
    with ThreadPoolExecutor(max_workers=4) as pool:
        jobs = []
        for z in zones:
            if z.signer in ("bind-offline", "bind-policy"):
                jobs.append(pool.submit(keygen_bind, z, keydir / file_name(z), tools))
        for z in zones:  # keymgr uses one LMDB per instance: keep those calls sequential
            if z.signer == "knot":
                knot_keygen(z)
        for j in jobs:
            j.result()
        for z in zones:
            assert z.unsigned_file
            z.unsigned_file.write_text(zone_text(z, serial))
        jobs = [pool.submit(sign_bind, z, zonedir, tools, now) for z in zones if z.signer == "bind-offline"]
        for z in zones:
            if z.stale_file:  # the secondary's copy: one serial older, signed with dates in the past
                older = z.stale_file.with_suffix(".zone")
                older.write_text(zone_text(z, serial - 1))
                jobs.append(pool.submit(sign_bind, z, zonedir, tools, now, older, z.stale_file, True))
        for j in jobs:
            j.result()


def trust_anchor_files(root: Zone, outdir: Path) -> dict[str, Path]:
    """Root DS (zone-file form), root KSK DNSKEY (zone-file form) and a BIND trust-anchors clause."""
    assert root.keydir
    ds = [ln for ln in root.ds if " DS " in ln]
    ksk = [p for p in root.keydir.glob("K*.key") if " 257 " in p.read_text()]
    dnskeys = [ln for p in ksk for ln in p.read_text().splitlines() if ln and not ln.startswith(";")]
    files = {
        "trust_anchor": outdir / "root.ds",
        "trust_anchor_dnskey": outdir / "root.dnskey",
        "trust_anchor_bind": outdir / "trust-anchors.conf",
    }
    files["trust_anchor"].write_text("\n".join(ds) + "\n")
    files["trust_anchor_dnskey"].write_text("\n".join(dnskeys) + "\n")
    clauses = []
    for ln in ds:
        tag, alg, dig, hexd = ln.split()[-4:]
        clauses.append(f'    . static-ds {tag} {alg} {dig} "{hexd}";')
    files["trust_anchor_bind"].write_text("trust-anchors {\n" + "\n".join(clauses) + "\n};\n")
    return files


def root_hints(path: Path) -> Path:
    lines = [f".  3600000  NS  {s.name}" for s in plan.ROOT_SERVERS]
    lines += [
        f"{r.split()[0]}  3600000  {' '.join(r.split()[1:])}"
        for s in plan.ROOT_SERVERS
        for r in _addr_records(s)
    ]
    path.write_text("\n".join(lines) + "\n")
    return path
