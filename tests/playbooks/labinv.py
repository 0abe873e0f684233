"""Inventory for the lab machines in the variables the netready roles read (literal values only, so
`ansible-inventory --list` shows them as they are and remediate() finds the portals)."""

from __future__ import annotations

from pathlib import Path

import yaml


def lab_inventory(path: Path, ca_dir: Path, work: Path) -> Path:
    """Write hosts.yml for web1, bind1, knot1 into path; DS and CSR files go under work."""
    from netready.lab.machines import spec as S
    from netready.lab.machines.image import CACHE_DIR

    def host(s) -> dict:
        return {
            "ansible_host": s.ipv4,
            "dual_stack_ipv6_address": f"{s.ipv6}/{S.PREFIX6}",
        }

    web = {s.name: host(s) | {"netready_portals": list(S.PORTALS)} for s in S.SPECS.values() if s.group == "web"}
    bind = {s.name: host(s) | {"dnssec_zones": [{"name": s.zone, "file": f"/var/lib/bind/db.{s.zone}"}]}
            for s in S.SPECS.values() if s.group == "dns_bind"}
    knot = {s.name: host(s) | {"dnssec_zones": [{"name": s.zone, "file": f"/var/lib/knot/{s.zone}.zone"}]}
            for s in S.SPECS.values() if s.group == "dns_knot"}
    inv = {"all": {
        "vars": {
            "ansible_user": "root",
            "ansible_ssh_private_key_file": str(CACHE_DIR / "id_ed25519"),
            "ansible_ssh_common_args": "-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null",
            "ansible_python_interpreter": "/usr/bin/python3",
            "dual_stack_interface": "host0",
            "dual_stack_ipv6_gateway": S.BRIDGE6,
        },
        "children": {
            "web": {"hosts": web, "vars": {
                "tls_source": "csr",
                "tls_ca_cert": str(ca_dir / "intermediate.pem"),
                "tls_ca_key": str(ca_dir / "intermediate.key"),
                "tls_ca_chain": str(ca_dir / "intermediate.pem"),
                "tls_ca_bundle": str(ca_dir / "root.pem"),
                "tls_csr_dir": str(work / "csr"),
            }},
            "dns": {
                "vars": {
                    "dnssec_ds_dir": str(work / "ds"),
                    "dual_stack_nginx": False,
                    "dual_stack_verify_ports": [53],
                },
                "children": {"dns_bind": {"hosts": bind}, "dns_knot": {"hosts": knot}},
            },
        },
    }}
    path.mkdir(parents=True, exist_ok=True)
    out = path / "hosts.yml"
    out.write_text("# netready playbook tests: the lab machines (generated)\n" + yaml.safe_dump(inv, sort_keys=False))
    return out
