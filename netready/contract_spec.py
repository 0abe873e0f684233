"""SPEC.yml for `netready contract verify`: which contract, provider, services and clauses to check.

Parsed from yaml.compose nodes (not safe_load) so every error names its line, and so every value
stays a plain string (no YAML dates or numbers that would not survive the JSON evidence unchanged).

    contract: {id: HĐ-2026-01, provider: Công ty ABC, customer: Sở TTTT, title: ..., signed: 2026-01-15}
    scenario: outsourced            # outsourced | idc
    profile: circular32             # optional; default circular32 (lab when probing the lab)
    services:
      - kind: web                   # web | dns
        names: [dichvucong.example.gov.vn]
        expected: {ipv4: [198.51.100.10], ipv6: ["2001:db8::10"]}
      - kind: dns
        zones: [example.gov.vn]
        names: [dichvucong.example.gov.vn]   # names to judge the DNS clauses on (default: the zones)
    clauses: all                    # or a list of clause ids of data/clauses.yaml ("all": all but the optional)
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

SERVICE_KINDS = ("web", "dns")
SCENARIOS = ("outsourced", "idc")
TOP_KEYS = {"contract": True, "scenario": True, "services": True, "clauses": True, "profile": False}
CONTRACT_KEYS = {"id": True, "provider": True, "customer": False, "title": False, "signed": False, "notes": False}
SERVICE_KEYS = {"kind": True, "names": False, "zones": False, "expected": False, "notes": False}
EXPECTED_KEYS = {"ipv4": False, "ipv6": False}


class SpecError(ValueError):
    """A SPEC.yml that cannot be used; the message starts with 'file:line:'."""

    def __init__(self, path: str, line: int | None, message: str) -> None:
        self.path, self.line, self.message = path, line, message
        super().__init__(f"{path}:{line}: {message}" if line else f"{path}: {message}")


@dataclass
class Service:
    kind: str
    names: list[str]
    zones: list[str] = field(default_factory=list)
    expected_ipv4: list[str] | None = None  # None: no expectation given
    expected_ipv6: list[str] | None = None
    line: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "names": self.names, "zones": self.zones,
                "expected": {"ipv4": self.expected_ipv4, "ipv6": self.expected_ipv6}}


@dataclass
class ContractSpec:
    path: str
    text: str
    contract: dict[str, str]
    scenario: str
    services: list[Service]
    clauses: list[str]  # ids, resolved ("all" expanded)
    profile: str | None = None

    def names(self) -> list[str]:
        """Every name to probe, once, in spec order."""
        seen: dict[str, None] = {}
        for s in self.services:
            for n in s.names:
                seen.setdefault(n, None)
        return list(seen)

    def kinds(self) -> set[str]:
        return {s.kind for s in self.services}

    def to_dict(self) -> dict[str, Any]:
        return {"contract": self.contract, "scenario": self.scenario, "profile": self.profile,
                "services": [s.to_dict() for s in self.services], "clauses": self.clauses}


def _line(node: yaml.Node) -> int:
    return node.start_mark.line + 1


class _Reader:
    def __init__(self, path: str) -> None:
        self.path = path

    def fail(self, node: yaml.Node | None, message: str) -> SpecError:
        return SpecError(self.path, _line(node) if node is not None else None, message)

    def mapping(self, node: yaml.Node, what: str, keys: dict[str, bool]) -> dict[str, yaml.Node]:
        if not isinstance(node, yaml.MappingNode):
            raise self.fail(node, f"{what} must be a mapping with keys {sorted(keys)}")
        out: dict[str, yaml.Node] = {}
        for key_node, value_node in node.value:
            key = str(key_node.value)
            if key not in keys:
                raise self.fail(key_node, f"unknown field {key!r} in {what}; allowed: {', '.join(sorted(keys))}")
            if key in out:
                raise self.fail(key_node, f"field {key!r} given twice in {what}")
            out[key] = value_node
        missing = [k for k, required in keys.items() if required and k not in out]
        if missing:
            raise self.fail(node, f"{what} lacks required field(s) {', '.join(missing)}")
        return out

    def scalar(self, node: yaml.Node, what: str) -> str:
        if not isinstance(node, yaml.ScalarNode) or str(node.value).strip() == "":
            raise self.fail(node, f"{what} must be a non-empty text value")
        return str(node.value).strip()

    def strings(self, node: yaml.Node, what: str) -> list[str]:
        if isinstance(node, yaml.ScalarNode):
            return [self.scalar(node, what)]
        if not isinstance(node, yaml.SequenceNode):
            raise self.fail(node, f"{what} must be a list of text values")
        return [self.scalar(item, f"an item of {what}") for item in node.value]


def _addresses(reader: _Reader, node: yaml.Node, version: int, what: str) -> list[str]:
    out = []
    for item in node.value if isinstance(node, yaml.SequenceNode) else [node]:
        text = reader.scalar(item, what)
        try:
            addr = ipaddress.ip_address(text)
        except ValueError:
            raise reader.fail(item, f"{what}: {text!r} is not an IP address") from None
        if addr.version != version:
            raise reader.fail(item, f"{what}: {text!r} is not an IPv{version} address")
        out.append(addr.compressed)
    return out


def parse_spec(text: str, path: str = "SPEC.yml", known_clauses: dict[str, Any] | None = None) -> ContractSpec:
    """Parse and validate a spec; `known_clauses` (id -> clause) checks the clause ids and their services."""
    reader = _Reader(path)
    try:
        root = yaml.compose(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise SpecError(path, mark.line + 1 if mark else None, f"not valid YAML: {getattr(exc, 'problem', exc)}") \
            from None
    if root is None:
        raise SpecError(path, None, "empty spec")
    top = reader.mapping(root, "the spec", TOP_KEYS)
    cnodes = reader.mapping(top["contract"], "contract", CONTRACT_KEYS)
    contract = {k: reader.scalar(v, f"contract.{k}") for k, v in cnodes.items()}
    scenario = reader.scalar(top["scenario"], "scenario")
    if scenario not in SCENARIOS:
        raise reader.fail(top["scenario"], f"scenario {scenario!r} is not one of {', '.join(SCENARIOS)}")
    profile = reader.scalar(top["profile"], "profile") if "profile" in top else None
    snode = top["services"]
    if not isinstance(snode, yaml.SequenceNode) or not snode.value:
        raise reader.fail(snode, "services must be a non-empty list")
    services = []
    for item in snode.value:
        f = reader.mapping(item, "a service", SERVICE_KEYS)
        kind = reader.scalar(f["kind"], "kind")
        if kind not in SERVICE_KINDS:
            raise reader.fail(f["kind"], f"service kind {kind!r} is not one of {', '.join(SERVICE_KINDS)}")
        zones = reader.strings(f["zones"], "zones") if "zones" in f else []
        names = reader.strings(f["names"], "names") if "names" in f else list(zones)
        if not names:
            raise reader.fail(item, f"a {kind} service needs names" + (" or zones" if kind == "dns" else ""))
        service = Service(kind=kind, names=names, zones=zones, line=_line(item))
        if "expected" in f:
            exp = reader.mapping(f["expected"], "expected", EXPECTED_KEYS)
            if "ipv4" in exp:
                service.expected_ipv4 = _addresses(reader, exp["ipv4"], 4, "expected.ipv4")
            if "ipv6" in exp:
                service.expected_ipv6 = _addresses(reader, exp["ipv6"], 6, "expected.ipv6")
        services.append(service)
    kinds = {s.kind for s in services}
    cl_node = top["clauses"]
    if isinstance(cl_node, yaml.ScalarNode) and cl_node.value == "all":
        clauses = [cid for cid, c in (known_clauses or {}).items()
                   if scenario in c.scenarios and kinds & set(c.services) and not getattr(c, "optional", False)]
    else:
        clauses = []
        items = cl_node.value if isinstance(cl_node, yaml.SequenceNode) else None
        if not items:
            raise reader.fail(cl_node, "clauses must be 'all' or a non-empty list of clause ids")
        for item in items:
            cid = reader.scalar(item, "clause id")
            if known_clauses is not None:
                clause = known_clauses.get(cid)
                if clause is None:
                    raise reader.fail(item, f"unknown clause {cid!r}; known: {', '.join(known_clauses)}")
                if scenario not in clause.scenarios:
                    raise reader.fail(item, f"clause {cid} does not apply to scenario {scenario} "
                                            f"(only {', '.join(clause.scenarios)})")
                if not kinds & set(clause.services):
                    raise reader.fail(item, f"clause {cid} is about {'/'.join(clause.services)} services, and the "
                                            f"spec lists none")
            if cid in clauses:
                raise reader.fail(item, f"clause {cid} listed twice")
            clauses.append(cid)
    return ContractSpec(path=path, text=text, contract=contract, scenario=scenario, services=services,
                        clauses=clauses, profile=profile)


def load_spec(path: str | Path, known_clauses: dict[str, Any] | None = None) -> ContractSpec:
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise SpecError(str(p), None, f"cannot read: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise SpecError(str(p), None, "not UTF-8 text") from None
    return parse_spec(text, str(p), known_clauses)
