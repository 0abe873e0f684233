"""The block model: headings, paragraphs, bullet lists and tables, nothing else.

Kept deliberately small so that every format (md, html, docx, pdf) renders all of it faithfully.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class Heading:
    level: int  # 1 = section, 2 = subsection, 3 = item
    text: str
    kind: str = "heading"


@dataclass
class Para:
    text: str
    style: str = ""  # "" | "note" (italic hint to the editor) | "code" (a command line)
    kind: str = "para"


@dataclass
class Bullets:
    items: list[str]
    kind: str = "bullets"


@dataclass
class Table:
    headers: list[str]
    rows: list[list[str]]
    kind: str = "table"


Block = Heading | Para | Bullets | Table


@dataclass
class Document:
    """A titled sequence of blocks in one language, with key/value metadata shown under the title."""

    title: str
    lang: str
    blocks: list[Block] = field(default_factory=list)
    subtitle: str = ""
    meta: list[tuple[str, str]] = field(default_factory=list)
    footer: str = ""  # a short line for the page footer (docx/pdf), next to the page number

    def add(self, *blocks: Block) -> Document:
        self.blocks.extend(blocks)
        return self

    def text(self) -> str:
        """All visible text, one piece per line (for tests and search)."""
        parts = [self.title, self.subtitle, *(f"{k}: {v}" for k, v in self.meta)]
        for b in self.blocks:
            if isinstance(b, Heading | Para):
                parts.append(b.text)
            elif isinstance(b, Bullets):
                parts.extend(b.items)
            else:
                parts.extend(" | ".join(r) for r in [b.headers, *b.rows])
        return "\n".join(p for p in parts if p)

    def to_dict(self) -> dict[str, Any]:
        from dataclasses import asdict

        return asdict(self)
