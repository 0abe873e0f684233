"""Document output shared by plans and contract clauses: a small block model and its writers.

Content builders (plan.py, contract.py) produce a `Document` of blocks; the writers turn it into
Markdown and HTML (through Jinja2 templates), DOCX (python-docx) and PDF (WeasyPrint over the HTML).
"""

from netready.docs_out.blocks import Bullets, Document, Heading, Para, Table

__all__ = ["Bullets", "Document", "Heading", "Para", "Table"]
