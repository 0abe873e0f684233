"""Knot DNS: config, keys made with keymgr before knotd starts (so the parent's DS is known), and
automatic signing by knotd (`dnssec-signing: on`, a `manual` policy: keys never roll)."""

from __future__ import annotations

from pathlib import Path

from .sysutil import run
from .zones import Zone

POLICIES = """policy:
  - id: nsec3zero
    algorithm: ecdsap256sha256
    single-type-signing: on
    manual: on
    nsec3: on
    nsec3-iterations: 0
    nsec3-salt-length: 0
    dnskey-ttl: 300
    zone-max-ttl: 3600
  - id: nsec
    algorithm: ecdsap256sha256
    single-type-signing: on
    manual: on
    dnskey-ttl: 300
    zone-max-ttl: 3600
"""


def write_conf(d: Path, zones: list[Zone], listen: list[str], stale: list[Zone] | None = None) -> Path:
    """zones: signed (or not) by this knotd; stale: zones whose older, BIND-signed copy (expired signatures)
    this knotd only serves, as a secondary that stopped following its primary would."""
    (d / "db").mkdir(parents=True, exist_ok=True)
    (d / "zones").mkdir(exist_ok=True)
    zlines = []
    for z in zones:
        zlines += [f"  - domain: {z.origin}", f"    file: {z.unsigned_file}"]
        if z.signed:
            zlines += ["    dnssec-signing: on", f"    dnssec-policy: {'nsec3zero' if z.nsec3 else 'nsec'}"]
    for z in stale or []:
        zlines += [f"  - domain: {z.origin}", f"    file: {z.stale_file}"]
    conf = d / "knot.conf"
    conf.write_text(
        f"""server:
    rundir: "{d}"
    listen: [ {", ".join(f'"{a}@53"' for a in listen)} ]
database:
    storage: "{d}/db"
log:
  - target: stdout
    any: info
control:
    listen: "{d}/knot.sock"
{POLICIES}template:
  - id: default
    storage: "{d}/zones"
    # Signed data stays in memory: the zone file on disk is our unsigned input, never rewritten.
    zonefile-sync: -1
    zonefile-load: whole
    journal-content: none
zone:
"""
        + "\n".join(zlines)
        + "\n"
    )
    return conf


def keygen(z: Zone, conf: Path, tools: dict[str, str]) -> None:
    """One CSK (algorithm 13) in the instance's KASP database; the parent gets its SHA-256 DS."""
    km = [tools["keymgr"], "-c", str(conf), z.origin]
    run([*km, "generate", "algorithm=ecdsap256sha256", "ksk=yes", "zsk=yes"])
    z.ds = [
        ln.replace(" DS ", " IN DS ", 1)
        for ln in run([*km, "ds"]).stdout.splitlines()
        if len(ln.split()) >= 5 and ln.split()[4] == "2"
    ]
