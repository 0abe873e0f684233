"""Jinja2 environment over the repository's top-level templates/ folder (reports, plans, configs)."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, Template, select_autoescape

TEMPLATE_DIR = Path(__file__).resolve().parent.parent / "templates"


@cache
def environment() -> Environment:
    return Environment(
        loader=FileSystemLoader(TEMPLATE_DIR),
        autoescape=select_autoescape(["html", "html.j2", "xml"], default_for_string=False),
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )


def get_template(name: str) -> Template:
    return environment().get_template(name)
