"""The remediation playbooks as an Ansible collection, netready.readiness, for Ansible users who install roles
as collections and call them by FQCN (as DebOps and dev-sec ship theirs).

    python -m netready.collection [--out dist] [--version V]      # what `make collection` runs
    -> dist/netready-readiness-VERSION.tar.gz
    ansible-galaxy collection install dist/netready-readiness-*.tar.gz
    ansible-playbook -i hosts.yml netready.readiness.site --check --diff

Built from the package's playbooks/ folder (netready/resources.py), so a wheel can build it too: the roles as they
are (each with its meta/argument_specs.yml), the playbooks with every role and every imported playbook named by its
FQCN, galaxy.yml with netready's version (git metadata at build time, written as a semantic version) and the
collections of playbooks/collections/requirements.yml as dependencies, meta/runtime.yml with the roles' oldest
Ansible. `ansible-galaxy collection build` writes the archive (MANIFEST.json, FILES.json with checksums).
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import yaml

from netready import resources

NAMESPACE, NAME = "netready", "readiness"
FQCN = f"{NAMESPACE}.{NAME}"
DESCRIPTION = ("Bring Vietnamese government portals to Circular 32/2017/TT-BTTTT: IPv6 dual stack, DNSSEC signing "
               "with DS export, HTTPS certificates (BIND, Knot, nginx on Debian)")
TAGS = ["networking", "security", "ipv6", "dnssec", "tls", "https", "bind", "knot", "nginx", "compliance"]
SKIP = shutil.ignore_patterns("__pycache__", "*.pyc", ".ansible", "*.retry")

# The spellings by which a playbook or a role's meta names a role or a playbook of its own.
ROLE_ITEM = re.compile(r"^([ \t]*-[ \t]+role:[ \t]+)([a-z0-9_]+)[ \t]*$", re.M)
ROLE_TASK = re.compile(
    r"^([ \t]*ansible\.builtin\.(?:include|import)_role:[ \t]*\n[ \t]+name:[ \t]+)([a-z0-9_]+)[ \t]*$", re.M)
PLAYBOOK_IMPORT = re.compile(
    r"^([ \t]*(?:-[ \t]+)?ansible\.builtin\.import_playbook:[ \t]+)([a-z0-9_]+)\.ya?ml[ \t]*$", re.M)
USAGE = re.compile(r"^(#.*?)\bplaybooks/([a-z0-9_]+)\.yml\b", re.M)  # `ansible-playbook playbooks/X.yml` (comments)


class CollectionError(RuntimeError):
    """The collection cannot be built (a role named in a way the builder does not rewrite, a missing tool)."""


def semantic_version(pep440: str) -> str:
    """netready's version (PEP 440, from setuptools-scm) as the semantic version ansible-galaxy requires:
    0.1.1.dev94+g10e8e7641 -> 0.1.1-dev.94+g10e8e7641; 1.2 -> 1.2.0; 1.0rc1 -> 1.0.0-rc.1."""
    from packaging.version import Version

    v = Version(pep440)
    release = ".".join(str(n) for n in (list(v.release) + [0, 0])[:3])
    pre = []
    if v.pre:
        pre.append(f"{v.pre[0]}.{v.pre[1]}")
    if v.dev is not None:
        pre.append(f"dev.{v.dev}")
    build = []
    if v.post is not None:  # semantic versions have no post-releases: kept as build metadata
        build.append(f"post.{v.post}")
    if v.local:
        build.append(v.local)
    return release + ("-" + ".".join(pre) if pre else "") + ("+" + ".".join(build) if build else "")


def _fqcn_roles(text: str, roles: set[str], where: str) -> str:
    def role(m: re.Match[str]) -> str:
        if m.group(2) not in roles:
            raise CollectionError(f"{where}: role {m.group(2)!r} is not a role of playbooks/roles")
        return f"{m.group(1)}{FQCN}.{m.group(2)}"

    return ROLE_TASK.sub(role, ROLE_ITEM.sub(role, text))


def _fqcn_playbooks(text: str, playbooks: set[str], where: str) -> str:
    def playbook(m: re.Match[str]) -> str:
        if m.group(2) not in playbooks:
            raise CollectionError(f"{where}: imports {m.group(2)!r}, which is not a playbook of playbooks/")
        return f"{m.group(1)}{FQCN}.{m.group(2)}"

    def usage(m: re.Match[str]) -> str:
        return f"{m.group(1)}{FQCN}.{m.group(2)}" if m.group(2) in playbooks else m.group(0)

    return USAGE.sub(usage, PLAYBOOK_IMPORT.sub(playbook, text))


def short_role_names(data: Any) -> list[str]:
    """Every role or playbook reference in a parsed playbook or role meta that is not in the collection's FQCN."""
    found: list[str] = []
    if isinstance(data, dict):
        for key, value in data.items():
            if key == "role" and isinstance(value, str) and not value.startswith(FQCN + "."):
                found.append(value)
            elif key in ("ansible.builtin.include_role", "ansible.builtin.import_role", "include_role",
                         "import_role") and isinstance(value, dict) and not str(value.get("name", "")).startswith(
                             FQCN + "."):
                found.append(str(value.get("name")))
            elif key in ("ansible.builtin.import_playbook", "import_playbook") and not str(value).startswith(
                    FQCN + "."):
                found.append(str(value))
            else:
                found += short_role_names(value)
    elif isinstance(data, list):
        for item in data:
            found += short_role_names(item)
    return found


def _galaxy(version: str, source: Path) -> dict[str, Any]:
    requirements = yaml.safe_load((source / "collections" / "requirements.yml").read_text(encoding="utf-8"))
    return {
        "namespace": NAMESPACE,
        "name": NAME,
        "version": semantic_version(version),
        "readme": "README.md",
        "authors": ["netready"],
        "description": DESCRIPTION,
        "license": ["Apache-2.0"],
        "tags": TAGS,
        "dependencies": {c["name"]: c["version"] for c in requirements["collections"]},
        "build_ignore": [],
    }


def _requires_ansible(roles_dir: Path) -> str:
    versions = []
    for meta in sorted(roles_dir.glob("*/meta/main.yml")):
        info = (yaml.safe_load(meta.read_text(encoding="utf-8")) or {}).get("galaxy_info") or {}
        if info.get("min_ansible_version"):
            versions.append(tuple(int(n) for n in str(info["min_ansible_version"]).split(".")))
    oldest = max(versions, default=(2, 15))
    return ">=" + ".".join(str(n) for n in (list(oldest) + [0, 0])[:3])


def _readme(playbooks: list[str], roles: list[str], galaxy: dict[str, Any]) -> str:
    lines = [
        f"# {FQCN}",
        "",
        DESCRIPTION + ".",
        "",
        f"Built from netready {galaxy['version']} (the `netready remediate` playbooks). Install and run:",
        "",
        "```sh",
        f"ansible-galaxy collection install {NAMESPACE}-{NAME}-{galaxy['version']}.tar.gz",
        f"ansible-playbook -i hosts.yml {FQCN}.site --check --diff     # what would change",
        f"ansible-playbook -i hosts.yml {FQCN}.site                    # change it",
        "```",
        "",
        "netready's own Ansible settings: `host_key_checking = True` (off only for throwaway lab machines) and "
        "`pipelining = True` under `[ssh_connection]`. DS records (`dnssec_ds_dir`) and CSRs (`tls_csr_dir`) land "
        "beside the inventory by default. Example inventories come with netready (`inventories/` of its source or "
        "package).",
        "",
        "Playbooks: " + ", ".join(f"`{FQCN}.{p}`" for p in playbooks) + ".",
        "",
        "Roles (arguments in each role's `meta/argument_specs.yml`, `ansible-doc -t role " + FQCN + ".ROLE`): "
        + ", ".join(f"`{FQCN}.{r}`" for r in roles) + ".",
        "",
        "Depends on: " + ", ".join(f"{k} {v}" for k, v in galaxy["dependencies"].items()) + ".",
        "",
    ]
    return "\n".join(lines)


def stage(dest: Path, version: str, source: Path | None = None) -> Path:
    """The collection's tree in dest (made), from source (default: the package's playbooks/)."""
    source = source or resources.folder("playbooks")
    roles = sorted(p.name for p in (source / "roles").iterdir() if (p / "tasks").is_dir())
    playbooks = sorted(p.stem for p in source.glob("*.yml"))
    dest.mkdir(parents=True, exist_ok=True)
    shutil.copytree(source / "roles", dest / "roles", ignore=SKIP)
    for role in roles:
        meta = dest / "roles" / role / "meta" / "main.yml"
        if meta.is_file():
            meta.write_text(_fqcn_roles(meta.read_text(encoding="utf-8"), set(roles), f"roles/{role}/meta/main.yml"),
                            encoding="utf-8")
        for tasks in (dest / "roles" / role / "tasks").glob("*.yml"):
            text = tasks.read_text(encoding="utf-8")
            tasks.write_text(_fqcn_roles(text, set(roles), f"roles/{role}/tasks/{tasks.name}"), encoding="utf-8")
    (dest / "playbooks").mkdir()
    for name in playbooks:
        text = (source / f"{name}.yml").read_text(encoding="utf-8")
        text = _fqcn_playbooks(_fqcn_roles(text, set(roles), f"{name}.yml"), set(playbooks), f"{name}.yml")
        (dest / "playbooks" / f"{name}.yml").write_text(text, encoding="utf-8")
    for f in [*dest.glob("playbooks/*.yml"), *dest.glob("roles/*/meta/main.yml"), *dest.glob("roles/*/tasks/*.yml")]:
        left = short_role_names(yaml.safe_load(f.read_text(encoding="utf-8")))
        if left:
            raise CollectionError(f"{f.relative_to(dest)}: roles or playbooks named in a way the builder does not "
                                  f"rewrite to {FQCN}.NAME: {left}")
    galaxy = _galaxy(version, source)
    (dest / "galaxy.yml").write_text(_yaml(galaxy), encoding="utf-8")
    (dest / "meta").mkdir()
    (dest / "meta" / "runtime.yml").write_text(_yaml({"requires_ansible": _requires_ansible(dest / "roles")}),
                                               encoding="utf-8")
    (dest / "README.md").write_text(_readme(playbooks, roles, galaxy), encoding="utf-8")
    (dest / "CHANGELOG.md").write_text(f"# Changelog\n\n## {galaxy['version']}\n\nBuilt from netready {version}: the "
                                       "playbooks of `netready remediate`, as they are in that version.\n",
                                       encoding="utf-8")
    return dest


class _Indented(yaml.SafeDumper):
    """Lists indented under their key, as yamllint (and ansible-lint) want them."""

    def increase_indent(self, flow: bool = False, indentless: bool = False) -> None:
        super().increase_indent(flow, False)


def _yaml(data: dict[str, Any]) -> str:
    return "---\n" + yaml.dump(data, Dumper=_Indented, sort_keys=False, allow_unicode=True, width=120)


def _galaxy_command() -> str:
    here = Path(sys.executable).parent / "ansible-galaxy"
    found = str(here) if here.is_file() else shutil.which("ansible-galaxy")
    if not found:
        raise CollectionError("ansible-galaxy not found (it comes with ansible-core, a netready dependency)")
    return found


def build(out_dir: str | Path, version: str | None = None) -> Path:
    """Build dist archive out_dir/netready-readiness-VERSION.tar.gz; returns its path. version: PEP 440 (default:
    netready's own)."""
    if version is None:
        from netready import __version__ as version
    out = Path(out_dir).resolve()
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="netready-collection-") as tmp:
        tree = stage(Path(tmp) / FQCN, version)
        proc = subprocess.run([_galaxy_command(), "collection", "build", str(tree), "--output-path", str(out),
                               "--force"], capture_output=True, text=True, timeout=300, check=False)
        if proc.returncode != 0:
            raise CollectionError(f"ansible-galaxy collection build failed: {(proc.stderr or proc.stdout)[-2000:]}")
    archive = out / f"{NAMESPACE}-{NAME}-{semantic_version(version)}.tar.gz"
    if not archive.is_file():
        raise CollectionError(f"ansible-galaxy wrote no {archive.name}: {proc.stdout[-500:]}")
    return archive


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m netready.collection", description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", default="dist", help="where the archive goes (default: dist)")
    ap.add_argument("--version", help="PEP 440 version (default: netready's own, from git metadata at build time)")
    ap.add_argument("--tree", help="write the collection's source tree (galaxy.yml...) to this new folder instead "
                                   "of building the archive")
    args = ap.parse_args(argv)
    try:
        if args.tree:
            from netready import __version__

            print(stage(Path(args.tree) / FQCN, args.version or __version__))
            return 0
        archive = build(args.out, args.version)
    except CollectionError as exc:
        print(f"netready.collection: {exc}", file=sys.stderr)
        return 1
    print(archive)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
