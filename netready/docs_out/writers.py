"""Writers for a Document: md and html through Jinja2 templates, docx with python-docx, pdf with WeasyPrint.

python-docx and WeasyPrint are imported only when those formats are asked for (they cost import time).
"""

from __future__ import annotations

from pathlib import Path

from netready.docs_out.blocks import Bullets, Document, Heading, Para, Table
from netready.templating import environment, get_template

FORMATS = ("md", "html", "docx", "pdf")
LANG_TAGS = {"vi": "vi-VN", "en": "en-GB"}
BODY_FONT = "Times New Roman"  # the usual face of Vietnamese administrative documents; LibreOffice maps it


def md_cell(value: object) -> str:
    """A table cell that cannot break the Markdown table: pipes escaped, line breaks as <br>."""
    return str(value).replace("\\", "\\\\").replace("|", "\\|").replace("\r", "").replace("\n", "<br>")


def _env_filters() -> None:
    environment().filters.setdefault("mdcell", md_cell)


def render_md(doc: Document, template: str = "plan/document.md.j2") -> str:
    _env_filters()
    return get_template(template).render(doc=doc)


def render_html(doc: Document, template: str = "plan/document.html.j2") -> str:
    _env_filters()
    return get_template(template).render(doc=doc)


def html_to_pdf(html: str, path: str | Path) -> None:
    from weasyprint import HTML  # heavy import, only for pdf

    HTML(string=html, base_url=None).write_pdf(str(path))


def _add_page_field(paragraph) -> None:  # type: ignore[no-untyped-def]
    """Append a PAGE field (Word and LibreOffice both compute it at layout time)."""
    from docx.oxml import OxmlElement
    from docx.oxml.ns import qn

    def fld(char_type: str):  # type: ignore[no-untyped-def]
        el = OxmlElement("w:fldChar")
        el.set(qn("w:fldCharType"), char_type)
        return el

    run = paragraph.add_run()
    run._r.append(fld("begin"))
    instr = OxmlElement("w:instrText")
    instr.set(qn("xml:space"), "preserve")
    instr.text = " PAGE "
    run = paragraph.add_run()
    run._r.append(instr)
    run = paragraph.add_run()
    run._r.append(fld("separate"))
    paragraph.add_run("1")  # placeholder shown until the viewer updates fields
    run = paragraph.add_run()
    run._r.append(fld("end"))


def _set_lang(style, tag: str) -> None:  # type: ignore[no-untyped-def]
    """Mark the text language (spell checking, hyphenation) on a style's run properties."""
    from docx.oxml import OxmlElement
    from docx.oxml.ns import qn

    rpr = style.element.get_or_add_rPr()
    lang = rpr.find(qn("w:lang"))
    if lang is None:
        lang = OxmlElement("w:lang")
        rpr.append(lang)
    lang.set(qn("w:val"), tag)


def write_docx(doc: Document, path: str | Path) -> None:
    from docx import Document as Docx
    from docx.enum.text import WD_ALIGN_PARAGRAPH
    from docx.shared import Cm, Pt

    out = Docx()
    section = out.sections[0]
    section.page_height, section.page_width = Cm(29.7), Cm(21.0)  # A4
    section.left_margin, section.right_margin = Cm(2.5), Cm(2.0)
    section.top_margin, section.bottom_margin = Cm(2.0), Cm(2.0)
    normal = out.styles["Normal"]
    normal.font.name = BODY_FONT
    normal.font.size = Pt(12)
    _set_lang(normal, LANG_TAGS.get(doc.lang, doc.lang))
    for name in ("Title", "Heading 1", "Heading 2", "Heading 3", "Heading 4"):
        out.styles[name].font.name = BODY_FONT
    props = out.core_properties
    props.title, props.language, props.author = doc.title, LANG_TAGS.get(doc.lang, doc.lang), "netready"

    title = out.add_heading(doc.title, level=0)
    title.alignment = WD_ALIGN_PARAGRAPH.CENTER
    if doc.subtitle:
        p = out.add_paragraph()
        p.alignment = WD_ALIGN_PARAGRAPH.CENTER
        p.add_run(doc.subtitle).italic = True
    for key, value in doc.meta:
        p = out.add_paragraph()
        p.add_run(f"{key}: ").bold = True
        p.add_run(value)
    for block in doc.blocks:
        if isinstance(block, Heading):
            out.add_heading(block.text, level=min(block.level, 4))
        elif isinstance(block, Para):
            p = out.add_paragraph()
            run = p.add_run(block.text)
            if block.style == "note":
                run.italic = True
            elif block.style == "code":
                run.font.name = "Courier New"
                run.font.size = Pt(10)
        elif isinstance(block, Bullets):
            for item in block.items:
                out.add_paragraph(item, style="List Bullet")
        elif isinstance(block, Table):
            table = out.add_table(rows=1, cols=len(block.headers))
            table.style = "Table Grid"
            for cell, text in zip(table.rows[0].cells, block.headers, strict=True):
                cell.text = ""
                run = cell.paragraphs[0].add_run(text)
                run.bold = True
                run.font.size = Pt(10)
            for row in block.rows:
                cells = table.add_row().cells
                for cell, text in zip(cells, row, strict=True):
                    cell.text = ""
                    cell.paragraphs[0].add_run(str(text)).font.size = Pt(10)
            out.add_paragraph()
    footer = section.footer.paragraphs[0]
    footer.alignment = WD_ALIGN_PARAGRAPH.CENTER
    if doc.footer:
        footer.add_run(f"{doc.footer} — ")
    _add_page_field(footer)
    out.save(str(path))


def write_document(doc: Document, fmt: str, path: str | Path, md_template: str = "plan/document.md.j2",
                   html_template: str = "plan/document.html.j2") -> Path:
    """Write `doc` as md, html, docx or pdf to `path`; returns the path."""
    path = Path(path)
    if fmt == "md":
        path.write_text(render_md(doc, md_template), encoding="utf-8")
    elif fmt == "html":
        path.write_text(render_html(doc, html_template), encoding="utf-8")
    elif fmt == "docx":
        write_docx(doc, path)
    elif fmt == "pdf":
        html_to_pdf(render_html(doc, html_template), path)
    else:
        raise ValueError(f"unknown document format {fmt!r}; choose one of {', '.join(FORMATS)}")
    return path
