"""Delegate the machines' agency zones from the lab's gov.vn (Knot, signed automatically by knotd).

The lab offers no delegation API, so this talks to the gov.vn knotd through its control socket
(<lab state dir>/knot-gov/knot.sock) in one transaction: zone-begin, unset the child's old NS/DS/glue,
set the new ones, zone-commit; knotd re-signs the changed records itself. Knot keeps these changes in
memory only (the lab's gov.vn has journal-content none, zonefile-load whole): a restart of the lab's
gov.vn server drops them; `up` of the machines delegates again.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path

from ..errors import LabError
from ..orchestrate import lab_name
from ..orchestrate import state_dir as lab_state_dir
from .state import load as load_state
from .state import save as save_state

PARENT = "gov.vn."
TTL = 300  # short: a DS added by a playbook is seen quickly by resolvers that cached the old answer


def _abs(name: str) -> str:
    return name if name.endswith(".") else name + "."


def control_socket(lab: str | None = None) -> Path:
    return lab_state_dir(lab_name(lab)) / "knot-gov" / "knot.sock"


def lab_is_up(lab: str | None = None) -> bool:
    return control_socket(lab).is_socket()


def _knotc(sock: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    knotc = shutil.which("knotc")
    if not knotc:
        raise LabError("missing program knotc (Debian package knot)")
    res = subprocess.run([knotc, "-s", str(sock), "-t", "10", *args], capture_output=True, text=True, timeout=20)
    if check and res.returncode != 0:
        raise LabError(f"knotc {' '.join(args)}: {(res.stdout + res.stderr).strip()}")
    return res


def _owners_below(sock: Path, zone: str) -> list[str]:
    """Owners in gov.vn at or below zone (the delegation NS/DS and the glue)."""
    out = _knotc(sock, "zone-read", PARENT).stdout
    owners = []
    for line in out.splitlines():
        f = line.split()
        if len(f) >= 2:
            owner = f[1] if f[0].startswith("[") else f[0]
            if (owner == zone or owner.endswith("." + zone)) and owner not in owners:
                owners.append(owner)
    return owners


def _normalise(nameservers: Sequence[dict | tuple]) -> list[tuple[str, str | None, str | None]]:
    out = []
    for ns in nameservers:
        if isinstance(ns, dict):
            out.append((_abs(ns["name"]), ns.get("ipv4"), ns.get("ipv6")))
        else:
            name, v4, v6 = (tuple(ns) + (None, None))[:3]
            out.append((_abs(name), v4, v6))
    return out


def delegate(zone: str, nameservers: Sequence[dict | tuple], ds_records: list[str] | None = None,
             lab: str | None = None) -> None:
    """Add or replace the delegation of zone in the lab's gov.vn: NS, glue (for in-zone names), DS.

    nameservers: [{"name", "ipv4", "ipv6"}] or [(name, ipv4, ipv6)]; ds_records: DS lines in presentation
    form, either full ("zone. 300 IN DS 12345 13 2 ABCD...") or rdata only ("12345 13 2 ABCD..."); None
    or [] leaves the zone insecurely delegated (removes an old DS).
    """
    zone = _abs(zone).lower()
    if not zone.endswith("." + PARENT):
        raise LabError(f"{zone} is not a child of {PARENT}")
    sock = control_socket(lab)
    if not sock.is_socket():
        raise LabError(f"the lab {lab_name(lab)} is not up (no gov.vn control socket {sock})")
    servers = _normalise(nameservers)
    if not servers:
        raise LabError(f"delegate {zone}: no name servers")
    _knotc(sock, "zone-begin", PARENT)
    try:
        for owner in _owners_below(sock, zone):
            _knotc(sock, "zone-unset", PARENT, owner)
        for name, v4, v6 in servers:
            _knotc(sock, "zone-set", PARENT, zone, str(TTL), "NS", name)
            if name == zone or name.endswith("." + zone):  # glue only for names inside the child
                if v4:
                    _knotc(sock, "zone-set", PARENT, name, str(TTL), "A", v4)
                if v6:
                    _knotc(sock, "zone-set", PARENT, name, str(TTL), "AAAA", v6)
        for ds in ds_records or []:
            _knotc(sock, "zone-set", PARENT, zone, str(TTL), "DS", *_ds_rdata(ds))
        _knotc(sock, "zone-commit", PARENT)
    except BaseException:
        _knotc(sock, "zone-abort", PARENT, check=False)
        raise
    _record(lab, zone, servers, ds_records or [])


def _ds_rdata(line: str) -> list[str]:
    f = line.split()
    if "DS" in f:
        f = f[f.index("DS") + 1:]
    if len(f) < 4:
        raise LabError(f"not a DS record: {line!r}")
    return [f[0], f[1], f[2], "".join(f[3:])]


def undelegate(zone: str, lab: str | None = None) -> None:
    """Remove the delegation (NS, DS, glue) of zone from gov.vn; nothing to do when the lab is down."""
    zone = _abs(zone).lower()
    sock = control_socket(lab)
    if not sock.is_socket():
        return
    _knotc(sock, "zone-begin", PARENT)
    try:
        for owner in _owners_below(sock, zone):
            _knotc(sock, "zone-unset", PARENT, owner)
        _knotc(sock, "zone-commit", PARENT)
    except BaseException:
        _knotc(sock, "zone-abort", PARENT, check=False)
        raise


def _record(lab: str | None, zone: str, servers: list, ds: list[str]) -> None:
    """Remember the delegation in the machines' state so `down` removes it."""
    name = lab_name(lab)
    st = load_state(name)
    if st is not None:
        st.setdefault("delegations", {})[zone] = {"nameservers": servers, "ds": ds}
        save_state(name, st)


def delegate_machines(lab: str, machines: list, required: bool = False) -> list[str]:
    """Delegations for the zones of the DNS machines: as last recorded, else insecure (NS + glue, no DS).
    Skipped when the lab is down (unless required)."""
    if not lab_is_up(lab):
        if required:
            raise LabError(f"cannot delegate the machines' zones: the lab {lab} is not up (netready lab up)")
        return []

    recorded = (load_state(lab) or {}).get("delegations", {})
    done = []
    for m in machines:
        if m.zone:
            # Re-apply what was recorded (a DS a playbook handed over survives a second `up`).
            rec = recorded.get(_abs(m.zone), {})
            servers = rec.get("nameservers") or [(f"ns1.{m.zone}", m.ipv4, m.ipv6)]
            delegate(m.zone, servers, rec.get("ds") or None, lab)
            done.append(m.zone)
    return done


def undelegate_all(lab: str, delegations: dict) -> None:
    for zone in delegations:
        try:
            undelegate(zone, lab)
        except LabError:
            pass  # the lab went down meanwhile: nothing left to clean there


def read_ds_file(path: str | Path) -> list[str]:
    """DS lines of a file the dnssec playbook exported (ZONE.ds: one DS record per line)."""
    return [line.strip() for line in Path(path).read_text().splitlines()
            if line.strip() and not line.lstrip().startswith(";") and "DS" in line.split()]


def submit_exported_ds(ds_dir: str | Path, lab: str | None = None,
                       zones: Sequence[str] | None = None) -> dict[str, list[str]]:
    """The registrar's step, in the lab: hand the DS the dnssec playbook exported to the lab's gov.vn.

    For every lab machine zone (or only those in zones) with a non-empty <ds_dir>/<zone>.ds, re-delegate
    the zone (NS and glue as last recorded, else ns1.<zone> on its machine) with those DS records.
    Returns {zone: DS lines}."""
    wanted = {z.rstrip(".").lower() for z in zones} if zones is not None else None
    from . import spec as S

    recorded = (load_state(lab_name(lab)) or {}).get("delegations", {})
    done: dict[str, list[str]] = {}
    for s in S.SPECS.values():
        if not s.zone or (wanted is not None and s.zone not in wanted):
            continue
        path = Path(ds_dir) / f"{s.zone}.ds"
        lines = read_ds_file(path) if path.is_file() else []
        if not lines:
            continue
        servers = recorded.get(_abs(s.zone), {}).get("nameservers") or [(f"ns1.{s.zone}", s.ipv4, s.ipv6)]
        delegate(s.zone, servers, lines, lab)
        done[s.zone] = lines
    return done
