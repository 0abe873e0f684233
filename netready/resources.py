"""The files that come inside the netready package, found the same way in a source tree and in an installed wheel.

    folder("playbooks") / "site.yml"      # a real folder: Ansible and Jinja2 read it by path
    read_text("data", "rules.yaml")

The repository keeps templates/, playbooks/ and inventories/ at its top (the design card); the package reaches them
as netready/templates, netready/playbooks and netready/inventories: links in the source tree, folders in a wheel
(pyproject.toml). data/ (rules, profiles, clauses, root hints) lives in the package itself. Nothing is read
relative to the repository or the working directory, so `pip install` and `pipx install` of the wheel give a
complete tool. The package is used from disk (pip and pipx always unpack it): Ansible needs real files.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

FOLDERS = ("data", "templates", "playbooks", "inventories")


class MissingResource(FileNotFoundError):
    """The installation lacks a folder that every netready installation has: it is incomplete."""


def folder(name: str) -> Path:
    """The package's folder `name` (one of FOLDERS) on disk."""
    if name not in FOLDERS:
        raise ValueError(f"unknown netready folder {name!r}: one of {', '.join(FOLDERS)}")
    path = Path(str(resources.files("netready").joinpath(name)))
    if not path.is_dir():
        raise MissingResource(f"this netready installation has no {name}/ folder ({path}): reinstall netready "
                              "from its wheel, or in a source tree run `make venv`")
    return path


def path(name: str, *parts: str) -> Path:
    """A file or folder inside the package's folder `name`."""
    return folder(name).joinpath(*parts)


def read_text(name: str, *parts: str) -> str:
    return path(name, *parts).read_text(encoding="utf-8")
