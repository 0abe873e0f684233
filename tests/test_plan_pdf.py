"""The DOCX opens in LibreOffice (converted to PDF) and the PDFs keep the Vietnamese text.

Needs Debian packages libreoffice-writer-nogui (or libreoffice-writer) and poppler-utils, and PyPI
python-docx and weasyprint.
"""

from __future__ import annotations

import subprocess

from test_plan import AGENCY, made_report

from netready.plan import draft_plan, write_plan


def pdf_text(path) -> str:
    return subprocess.run(["pdftotext", "-layout", str(path), "-"], check=True, capture_output=True,
                          text=True, timeout=60).stdout


def pdf_pages(path) -> int:
    info = subprocess.run(["pdfinfo", str(path)], check=True, capture_output=True, text=True, timeout=60).stdout
    return int(next(line.split()[1] for line in info.splitlines() if line.startswith("Pages:")))


def test_docx_converts_with_libreoffice(tmp_path) -> None:
    plan = draft_plan(AGENCY, "outsourced", "own", made_report(), "vi")
    docx = write_plan(plan, "docx", tmp_path / "ke-hoach.docx")
    # a private profile dir: no clash with another LibreOffice run, no writes to $HOME
    subprocess.run(["soffice", f"-env:UserInstallation=file://{tmp_path}/lo", "--headless", "--convert-to", "pdf",
                    "--outdir", str(tmp_path), str(docx)], check=True, capture_output=True, timeout=180)
    pdf = tmp_path / "ke-hoach.pdf"
    assert pdf_pages(pdf) >= 3
    text = pdf_text(pdf)
    for phrase in ("Mục đích, yêu cầu và căn cứ pháp lý", "Danh sách tồn tại cần khắc phục",
                   "Phương án khôi phục", "nhà đăng ký tên miền", "Đơn vị cung cấp dịch vụ DNS hosting"):
        assert phrase in " ".join(text.split()) or phrase in text, phrase


def test_pdf_through_weasyprint(tmp_path) -> None:
    plan = draft_plan(AGENCY, "idc", "outsourced", made_report(), "vi")
    pdf = write_plan(plan, "pdf", tmp_path / "ke-hoach.pdf")
    assert pdf_pages(pdf) >= 3
    flat = " ".join(pdf_text(pdf).split())
    assert "Rà soát, nâng cấp hạ tầng trung tâm tích hợp dữ liệu" in flat
    assert AGENCY in flat
