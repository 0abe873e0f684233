"""What a running lab tells its users (probes, tests, demo): LabEnv and its parts, JSON-able."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field


@dataclass
class Portal:
    name: str  # dichvucong.<scenario>.gov.vn (no trailing dot)
    scenario: str
    ipv4: list[str]
    ipv6: list[str]  # as published in DNS (v6dead: an address nobody serves)
    zone: str  # <scenario>.gov.vn (no trailing dot)
    nameservers: list[dict]  # [{name, ipv4, ipv6}] (ipv6 None for nov6)
    summary: str = ""
    signer: str = ""  # bind-policy | bind-offline | knot | none
    dnssec: str = ""  # ok | bogus-ds | expired | unsigned
    expected: dict = field(default_factory=dict)  # rule id -> verdict (or {"ipv4": .., "ipv6": ..})


@dataclass
class LabEnv:
    name: str
    state_dir: str
    root_hints: str  # zone-file form: . NS, A, AAAA
    trust_anchor: str  # ". IN DS ..." (SHA-256 of the root KSK)
    trust_anchor_dnskey: str  # ". IN DNSKEY 257 3 13 ..."
    trust_anchor_bind: str  # trust-anchors { . static-ds ...; };  (delv -a, named)
    ca_bundle: str  # lab root CA, PEM
    resolvers: list[str]  # validating recursive resolver, IPv4 and IPv6
    root_servers: list[dict]
    portals: list[Portal]
    namespaces: dict[str, str] = field(default_factory=dict)  # role -> name (<lab>-rtr ...)
    host_interface: str = ""
    timings: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> LabEnv:
        data = dict(data)
        data["portals"] = [Portal(**p) for p in data.get("portals", [])]
        return cls(**data)

    def portal(self, scenario: str) -> Portal:
        for p in self.portals:
            if p.scenario == scenario:
                return p
        raise KeyError(scenario)
