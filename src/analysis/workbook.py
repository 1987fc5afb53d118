"""Report tables for offices: one Excel workbook and CSV files, in the report's language.

Headers are the report's column names with their units, code values (bands, groups, checks,
periods) are words, numbers keep their value and get a number format with the printed decimals
(rates as %). Each sheet has its header row frozen, an autofilter and fitted column widths; sheet
names are readable, at most 31 characters and unique. Text that a spreadsheet would run as a
formula (starting with ``=``, ``+``, ``-``, ``@``, tab or carriage return) is written as text in
the workbook and prefixed with ``'`` in CSV (OWASP, "CSV Injection"). The same tables give the
same bytes: fixed document properties and fixed zip entry times.
"""
from __future__ import annotations

import csv
import io
import re
import zipfile
from pathlib import Path

import pandas as pd
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter

from .files import atomic_write_bytes, write_new_file
from .i18n import DASH, decimals_needed
from .render import NUMERIC_KINDS, cell_text, column_spec, header, resolve

__all__ = ["write_xlsx", "write_csv", "export_tables", "sheet_names", "neutralise", "FORMULA_STARTS"]

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
FIXED_TIME = (2000, 1, 1, 0, 0, 0)
_FIXED_W3CDTF = "2000-01-01T00:00:00Z"
_BAD_SHEET_CHARS = re.compile(r"[\[\]:*?/\\]")
_MAX_WIDTH = 60


def neutralise(value: str) -> str:
    """A CSV text cell that no spreadsheet runs as a formula.

    >>> neutralise("=1+1"), neutralise("-2"), neutralise("xã A")
    ("'=1+1", "'-2", 'xã A')
    """
    return "'" + value if value.startswith(FORMULA_STARTS) else value


def export_tables(sections) -> list[tuple[str, str, pd.DataFrame]]:
    """(file key, readable label, table) of every table to export, in report order.

    Tables whose name ends in ``_shown`` (a display copy of another table) are left out."""
    out = []
    for content in sections:
        section_title = resolve(content.title, content.lang) if content.title is not None else ""
        labels = content.labels
        names = [n for n in content.tables if not n.endswith("_shown")]
        for name in names:
            label = resolve(labels[name], content.lang) if name in labels else ""
            if not label:
                label = section_title if len(names) == 1 else f"{section_title} – {name.split('_', 1)[-1]}"
            out.append((name, label or name, content.tables[name]))
    return out


def sheet_names(labels: list[str]) -> list[str]:
    """Readable, valid, unique sheet names (at most 31 characters; ``…`` where cut).

    >>> sheet_names(["Kết quả các đơn vị – UBND huyện Na Rì rất dài quá", "A/B", "A/B"])
    ['Kết quả các đơn vị – UBND huyệ…', 'A-B', 'A-B (2)']
    """
    used, out = set(), []
    for label in labels:
        base = _BAD_SHEET_CHARS.sub("-", label).strip("' ") or "Sheet"
        base = base if len(base) <= 31 else base[:30] + "…"
        name, k = base, 1
        while name.casefold() in used:
            k += 1
            suffix = f" ({k})"
            name = (base if len(base) + len(suffix) <= 31 else base[:31 - len(suffix) - 1] + "…") + suffix
        used.add(name.casefold())
        out.append(name)
    return out


def _number_format(df: pd.DataFrame, col: str, kind: str, decimals, unit: str) -> str:
    if kind == "int":
        return "#,##0"
    if kind == "pvalue":
        return "0.000"
    if decimals is None:
        vals = pd.to_numeric(df[col], errors="coerce").dropna()
        decimals = max((decimals_needed(v) for v in vals), default=0)
    body = "#,##0" + ("." + "0" * decimals if decimals else "")
    return (("0." + "0" * decimals) if decimals else "0") + "%" if unit == "percent" else body


def _deterministic_zip(data: bytes) -> bytes:
    """Rewrite a zip with fixed entry times and fixed document dates in docProps/core.xml."""
    src = zipfile.ZipFile(io.BytesIO(data))
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as out:
        for info in src.infolist():
            body = src.read(info.filename)
            if info.filename == "docProps/core.xml":
                body = re.sub(rb"(<dcterms:(created|modified)[^>]*>)[^<]*(</dcterms:\2>)",
                              rb"\g<1>" + _FIXED_W3CDTF.encode() + rb"\g<3>", body)
            entry = zipfile.ZipInfo(info.filename, date_time=FIXED_TIME)
            entry.compress_type = zipfile.ZIP_DEFLATED
            entry.external_attr = 0o644 << 16
            out.writestr(entry, body)
    return buf.getvalue()


def _missing(value) -> bool:
    return value is None or (not isinstance(value, str) and pd.isna(value))


def _printed_length(value, kind: str, decimals: int | None) -> int:
    """Characters of a figure as :func:`analysis.render.cell_text` prints it (either notation: the
    two separators only swap), without formatting it through Babel.

    >>> [_printed_length(v, "number", d) for v, d in [(1234.5, 2), (87.1, None), (-0.004, 2), (None, 1)]]
    [8, 4, 4, 1]
    >>> _printed_length(0.0004, "pvalue", 3), len(cell_text(0.0004, "pvalue", 3, "vi"))
    (7, 7)
    """
    if isinstance(value, str):
        return len(value)
    if _missing(value):
        return len(DASH)
    v = float(value)
    if kind == "pvalue" and v < 0.001:
        return len("< 0.001")
    d = decimals_needed(v) if decimals is None else decimals
    v = round(v, d) + 0.0
    return len(f"{v if v != 0 else 0.0:,.{d}f}")


def _texts(values: list, kind: str, decimals, lang: str) -> list[str | None]:
    """The printed text of each cell of a text column (None where missing), each distinct value
    printed once (a column of bands or groups repeats a few values)."""
    seen: dict = {}
    out = []
    for value in values:
        if _missing(value):
            out.append(None)
            continue
        try:
            shown = seen[value]
        except KeyError:
            shown = seen[value] = cell_text(value, kind, decimals, lang)
        except TypeError:  # an unhashable value
            shown = cell_text(value, kind, decimals, lang)
        out.append(shown)
    return out


def _text_cell(ws, text: str | None):
    """A text cell that is never a formula, whatever the text starts with."""
    if text is None or not text.startswith(FORMULA_STARTS):
        return text  # a plain string: openpyxl writes it as a shared string
    cell = WriteOnlyCell(ws, value=text)
    cell.data_type = "s"
    cell.quotePrefix = True
    return cell


def _number_cells(ws, values: list, kind: str, unit: str) -> list:
    """The cells of a numeric column: numbers in the column's format, printed notes as text.

    Numbers are left as values: every number of the column shares one styled cell, which
    :func:`_rows` fills just before the row it belongs to is appended (a streamed sheet writes a
    row as soon as it is appended; openpyxl does the same with the cell of its plain values).
    """
    out = []
    for value in values:
        if isinstance(value, str):  # a figure already printed (a note in a numeric column)
            out.append(_text_cell(ws, value))
            continue
        if _missing(value):
            out.append(None)
            continue
        v = float(value)
        out.append(v / 100.0 if unit == "percent" else (int(v) if kind == "int" and v == int(v) else v))
    return out


def _rows(ws, columns: list[list], formats: list[str | None]):
    """Each row of ``columns``, a number of a numeric column (one with a format) put in that
    column's shared styled cell."""
    shared = []
    for fmt, values in zip(formats, columns):
        cell = None
        if fmt is not None and any(isinstance(v, (int, float)) for v in values):
            cell = WriteOnlyCell(ws)
            cell.number_format = fmt  # registered in the same order as one cell per number would
        shared.append(cell)
    for row in zip(*columns):
        out = []
        for value, cell in zip(row, shared):
            if cell is not None and isinstance(value, (int, float)):
                cell.value = value
                value = cell
            out.append(value)
        yield out


def write_xlsx(sections, path, lang: str) -> Path:
    """One sheet per table of ``sections`` (report order); returns ``path`` (written atomically).

    The workbook is streamed (openpyxl ``write_only``): each sheet's widths, frozen header and
    autofilter are set from the data first, then its rows are written once.
    """
    tables = export_tables(sections)
    wb = Workbook(write_only=True)
    bold, fill = Font(bold=True), PatternFill("solid", fgColor="F2F2F2")
    aligned = {side: Alignment(horizontal=side, wrap_text=True, vertical="top") for side in ("left", "right")}
    for (name, label, df), sheet in zip(tables, sheet_names([t[1] for t in tables])):
        ws = wb.create_sheet(sheet)
        cols = list(df.columns)
        heads, columns, widths, formats = [], [], [], []
        for col in cols:
            kind, dec, unit = column_spec(df, col)
            numeric = kind in NUMERIC_KINDS
            head = WriteOnlyCell(ws, value=header(col, lang, unit))
            head.data_type = "s"
            head.font, head.fill, head.alignment = bold, fill, aligned["right" if numeric else "left"]
            heads.append(head)
            values = df[col].tolist()
            if numeric:
                formats.append(_number_format(df, col, kind, dec, unit))
                cells = _number_cells(ws, values, kind, unit)
                longest = max((_printed_length(v, kind, dec) for v in values), default=0)
                longest += 1 if unit == "percent" and values else 0
            else:
                formats.append(None)
                texts = _texts(values, kind, dec, lang)
                cells = [_text_cell(ws, t) for t in texts]
                longest = max((len(DASH) if t is None else len(t) for t in texts), default=0)
            columns.append(cells)
            widths.append(min(_MAX_WIDTH, max(len(head.value), longest) + 2))
        for j, w in enumerate(widths, start=1):
            ws.column_dimensions[get_column_letter(j)].width = w
        ws.freeze_panes = "A2"
        if cols:
            ws.auto_filter.ref = f"A1:{get_column_letter(len(cols))}{max(1, len(df) + 1)}"
        ws.append(heads)
        for row in _rows(ws, columns, formats):
            ws.append(row)  # written now, before the next row reuses the shared cells
    if not wb.sheetnames:
        wb.create_sheet("–")
    props = wb.properties
    props.creator = "analysis-766"
    props.lastModifiedBy = "analysis-766"
    props.created = props.modified = pd.Timestamp("2000-01-01").to_pydatetime()
    buf = io.BytesIO()
    wb.save(buf)
    path = Path(path)
    atomic_write_bytes(path, _deterministic_zip(buf.getvalue()))
    return path


def write_csv(sections, directory, lang: str, *, fresh: bool = False) -> Path:
    """``directory/<table>.csv`` for every table: UTF-8 with a BOM (Excel on Windows reads the
    Vietnamese letters), headers and code values in ``lang``, numbers as values, formula-like
    text neutralised.

    Each file replaces an older one atomically. With ``fresh``, ``directory`` must be new (a
    build's private folder, published whole by one rename): each file is written in place.
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=not fresh)
    write = write_new_file if fresh else atomic_write_bytes
    for name, _label, df in export_tables(sections):
        cols = list(df.columns)
        specs = [column_spec(df, col) for col in cols]
        columns = []
        for col, (kind, dec, _) in zip(cols, specs):
            values = df[col].tolist()
            if kind in NUMERIC_KINDS:
                columns.append(["" if _missing(v) else neutralise(v) if isinstance(v, str) else
                                str(int(v)) if kind == "int" else repr(float(v)).removesuffix(".0") for v in values])
            else:
                columns.append(["" if t is None else neutralise(t) for t in _texts(values, kind, dec, lang)])
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\r\n")  # RFC 4180; a field with CR or LF is quoted
        w.writerow([header(col, lang, unit) for col, (_, _, unit) in zip(cols, specs)])
        w.writerows(zip(*columns))
        write(directory / f"{name.replace('/', '__').replace('#', '_')}.csv", buf.getvalue().encode("utf-8-sig"))
    return directory
