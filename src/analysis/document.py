"""The monthly report as a Word draft in the Vietnamese administrative format (Decree
30/2020/NĐ-CP): issuing body and national motto in two columns, number and place–date line,
title, numbered sections with their tables and figures, recipients and signature blocks.

The draft is rendered from the same content as the HTML (:func:`analysis.render.layout`), in
the report's language; figures are embedded as PNG only here (the Word file needs raster
images). The file is ready to edit and sign: the number, the day and the signer are left as
"…" for the office to fill in.
"""
from __future__ import annotations

import io
from pathlib import Path

from .files import atomic_write_bytes
from .i18n import text
from .render import layout, resolve

__all__ = ["write_docx", "ROMAN"]

ROMAN = ("I", "II", "III", "IV", "V", "VI", "VII", "VIII", "IX", "X", "XI", "XII")
FONT = "Times New Roman"  # Decree 30/2020, Appendix I: Times New Roman, 13–14 pt body
SKIP = ("title", "provenance")  # the header block replaces the title; provenance stays in the HTML record


def _no_borders(table) -> None:
    from docx.oxml import OxmlElement
    from docx.oxml.ns import qn

    tbl_pr = table._tbl.tblPr
    borders = OxmlElement("w:tblBorders")
    for edge in ("top", "left", "bottom", "right", "insideH", "insideV"):
        el = OxmlElement(f"w:{edge}")
        el.set(qn("w:val"), "nil")
        borders.append(el)
    tbl_pr.append(borders)


def _para(cell_or_doc, txt: str = "", *, bold=False, italic=False, size=13, align="center", space_after=0):
    from docx.enum.text import WD_ALIGN_PARAGRAPH
    from docx.shared import Pt

    paras = cell_or_doc.paragraphs if hasattr(cell_or_doc, "_tc") else []
    if len(paras) == 1 and not paras[0].runs and not paras[0].text:
        p = paras[0]  # a new table cell holds one empty paragraph: write into it
    else:
        p = cell_or_doc.add_paragraph()
    p.alignment = {"center": WD_ALIGN_PARAGRAPH.CENTER, "left": WD_ALIGN_PARAGRAPH.LEFT,
                   "justify": WD_ALIGN_PARAGRAPH.JUSTIFY, "right": WD_ALIGN_PARAGRAPH.RIGHT}[align]
    p.paragraph_format.space_after = Pt(space_after)
    if txt:
        run = p.add_run(txt)
        run.bold, run.italic = bold, italic
        run.font.size = Pt(size)
        run.font.name = FONT
    return p


def _issuer(report) -> tuple[str, str, str]:
    """(issuing body's parent line, its own line, the place) for the header block."""
    lang = report.lang
    province = getattr(report, "province", None)
    if province is None:
        return text(lang, "doc.issuer_parent"), "…", "…"
    from .units import short_name

    name = report._name(province)
    return text(lang, "doc.issuer_parent"), name.upper(), short_name(name)


def _place_date(report, place: str) -> str:
    from babel.dates import format_date

    from .i18n import LOCALES
    from .periods import parse_period

    end = parse_period(report.period).end
    month = end.month % 12 + 1
    year = end.year + (1 if end.month == 12 else 0)
    month_name = format_date(end.replace(year=year, month=month, day=1), format="LLLL", locale=LOCALES[report.lang])
    return text(report.lang, "doc.place_date", place=place, month=month, month_name=month_name, year=year)


def write_docx(report, sections, path) -> Path:
    """Write the Word draft of ``report`` (its ``sections``) to ``path`` atomically."""
    from docx import Document
    from docx.enum.table import WD_TABLE_ALIGNMENT
    from docx.shared import Cm, Pt

    lang = report.lang
    doc = Document()
    sec = doc.sections[0]
    sec.page_height, sec.page_width = Cm(29.7), Cm(21.0)  # A4
    sec.top_margin, sec.bottom_margin, sec.left_margin, sec.right_margin = Cm(2), Cm(2), Cm(3), Cm(1.5)
    normal = doc.styles["Normal"]
    normal.font.name, normal.font.size = FONT, Pt(13)
    props = doc.core_properties
    props.author = props.last_modified_by = "analysis-766"
    props.title = report.title_text()
    import datetime as _dt

    props.created = props.modified = _dt.datetime(2000, 1, 1)
    props.revision = 1

    # header block: issuing body | national motto; number | place and date
    parent, body, place = _issuer(report)
    head = doc.add_table(rows=2, cols=2)
    head.alignment = WD_TABLE_ALIGNMENT.CENTER
    _no_borders(head)
    left, right = head.cell(0, 0), head.cell(0, 1)
    left.width, right.width = Cm(6.5), Cm(10)
    _para(left, parent, size=13)
    _para(left, body, bold=True, size=13)
    _para(left, "———", size=10)
    _para(right, text(lang, "doc.motto1"), bold=True, size=12)
    _para(right, text(lang, "doc.motto2"), bold=True, size=13)
    _para(right, "———————————", size=10)
    _para(head.cell(1, 0), text(lang, "doc.number"), size=13)
    _para(head.cell(1, 1), _place_date(report, place), italic=True, size=14)

    _para(doc, "", space_after=6)
    _para(doc, text(lang, "doc.title"), bold=True, size=14)
    period = resolve(_period_msg(report), lang)
    if lang == "vi":  # inside a sentence: "… (Chỉ số 766) tháng 7/2024"
        period = period[:1].lower() + period[1:]
    subject = text(lang, "doc.subject", period=period)
    _para(doc, subject, bold=True, size=14, space_after=12)
    _para(doc, text(lang, "doc.draft"), italic=True, size=11, align="left", space_after=6)

    figure_no = 0
    numbered = [s for s in sections if s.key not in SKIP]
    for i, content in enumerate(numbered):
        for block in layout(content, images="png"):
            kind = block["kind"]
            if kind == "heading" and block["level"] == 2:
                title = resolve(content.title, lang)
                _para(doc, f"{ROMAN[i]}. {title.upper() if lang == 'vi' else title}", bold=True, size=13,
                      align="left", space_after=6)
            elif kind == "heading":
                _para(doc, block["text"], bold=True, italic=block["level"] > 3, size=13, align="left",
                      space_after=4)
            elif kind == "text":
                _para(doc, block["text"], size=13 if block.get("style") != "note" else 11,
                      italic=block.get("style") == "note", align="justify", space_after=6)
            elif kind == "items":
                for item in block["items"]:
                    _para(doc, "- " + item, size=13, align="justify", space_after=3)
            elif kind == "table":
                _table(doc, block)
            elif kind == "figure":
                figure_no += 1
                doc.add_picture(io.BytesIO(block["png"]), width=Cm(16))
                doc.paragraphs[-1].alignment = 1
                _para(doc, text(lang, "doc.figure", n=figure_no, caption=block["caption"]), italic=True, size=11,
                      space_after=8)

    # recipients | signature
    _para(doc, "", space_after=6)
    foot = doc.add_table(rows=1, cols=2)
    _no_borders(foot)
    rec, sig = foot.cell(0, 0), foot.cell(0, 1)
    p = _para(rec, text(lang, "doc.recipients"), bold=True, italic=True, size=12, align="left")
    for line in text(lang, "doc.recipient_lines").split("|"):
        _para(rec, line, size=11, align="left")
    _para(sig, text(lang, "doc.signature_for"), bold=True, size=13)
    _para(sig, text(lang, "doc.signature_title"), bold=True, size=13)
    _para(sig, text(lang, "doc.signature_hint"), italic=True, size=11)
    for _ in range(4):
        _para(sig, "")
    _para(sig, "…", bold=True, size=13)
    del p

    buf = io.BytesIO()
    doc.save(buf)
    from .workbook import _deterministic_zip

    path = Path(path)
    atomic_write_bytes(path, _deterministic_zip(buf.getvalue()))
    return path


def _period_msg(report):
    from .content import Period

    return Period(report.period)


def _table(doc, block) -> None:
    from docx.enum.text import WD_ALIGN_PARAGRAPH
    from docx.shared import Pt

    headers, rows, numeric = block["headers"], block["rows"], block["numeric"]
    table = doc.add_table(rows=1 + len(rows), cols=len(headers))
    table.style = "Table Grid"
    for j, h in enumerate(headers):
        cell = table.cell(0, j)
        cell.text = ""
        run = cell.paragraphs[0].add_run(h)
        run.bold, run.font.size, run.font.name = True, Pt(10), FONT
        cell.paragraphs[0].alignment = WD_ALIGN_PARAGRAPH.CENTER
    for i, row in enumerate(rows, start=1):
        for j, v in enumerate(row):
            para = table.cell(i, j).paragraphs[0]
            run = para.add_run(v)
            run.font.size, run.font.name = Pt(10), FONT
            para.alignment = WD_ALIGN_PARAGRAPH.RIGHT if numeric[j] else WD_ALIGN_PARAGRAPH.LEFT
    doc.add_paragraph()
