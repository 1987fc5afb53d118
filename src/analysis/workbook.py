"""Report tables for offices: one Excel workbook and CSV files, in the report's language.

Headers are the report's column names with their units, code values (bands, groups, checks,
periods) are words, numbers keep their value and get a number format with the printed decimals
(rates as %). Each sheet has its header row frozen, an autofilter and fitted column widths; sheet
names are readable, at most 31 characters and unique. Text that a spreadsheet would run as a
formula (starting with ``=``, ``+``, ``-``, ``@``, tab or carriage return) is written as text in
the workbook and prefixed with ``'`` in CSV (OWASP, "CSV Injection"). The same tables give the
same bytes: fixed document properties and fixed zip entry times.

openpyxl writes the workbook; only the cells of each sheet are written here, as the XML
openpyxl writes for the same cells (a report has thousands of cells, and openpyxl's cell
objects cost most of what its workbook did; see :func:`_sheet`).
"""
from __future__ import annotations

import csv
import io
import math
import re
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ERROR_CODES, ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.utils.exceptions import IllegalCharacterError
from openpyxl.worksheet._writer import WorksheetWriter
from openpyxl.writer.excel import ExcelWriter

from .files import atomic_write_bytes, write_new_files
from .i18n import DASH, decimals_needed
from .render import NUMERIC_KINDS, cell_text, column_spec, column_texts, header, resolve

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
    """None, NaN, NaT or pandas' NA (plain floats, texts and ints answered without pandas)."""
    if value is None:
        return True
    t = type(value)
    if t is float:
        return value != value
    if t is str or t is int or t is bool:
        return False
    return not isinstance(value, str) and pd.isna(value)


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
    """The printed text of each cell of a text column (None where missing), as the page prints
    it (:func:`analysis.render.column_texts`)."""
    return [None if _missing(v) else text for v, text in zip(values, column_texts(values, kind, decimals, lang))]


def _decimals(a: np.ndarray, most: int = 2) -> np.ndarray:
    """:func:`analysis.i18n.decimals_needed` of every (finite) value of ``a`` at once: the same
    test (``v * 10**d`` within 1e-9 of its rounding, half to even) in the same float arithmetic.

    >>> _decimals(np.array([87.15, 87.1, 20.0, 1 / 3])).tolist()
    [2, 1, 0, 2]
    """
    out = np.full(a.shape, most)
    for d in reversed(range(most)):  # the smallest d that holds wins
        x = a * float(10 ** d)
        out[np.abs(x - np.rint(x)) < 1e-9] = d
    return out


def _longest_figure(a: np.ndarray, kind: str, decimals: int | None) -> int:
    """The most characters any (finite, present) figure of ``a`` is printed with
    (:func:`_printed_length`), from a few of them: with a given number of decimals a figure's
    printed length grows with its size (rounding is monotone), so only the largest and the
    smallest of each number of decimals can be the longest."""
    longest = 0
    if kind == "pvalue":
        small = a < 0.001
        if small.any():
            longest = len("< 0.001")
            a = a[~small]
    ds = _decimals(a) if decimals is None else None
    for d in ((decimals,) if decimals is not None else np.unique(ds).tolist()):
        part = a if ds is None else a[ds == d]
        if part.size:
            longest = max(longest, _printed_length(float(part.max()), kind, decimals),
                          _printed_length(float(part.min()), kind, decimals))
    return longest


def _plain_numbers(series: pd.Series) -> bool:
    """A column of NumPy floats or ints (not text, not a nullable type whose missing value is NA)."""
    return isinstance(series.dtype, np.dtype) and series.dtype.kind in "fiu"


def _numeric_column(df: pd.DataFrame, col: str, series: pd.Series, kind: str, decimals,
                    unit: str) -> tuple[list, int, str]:
    """(cells, longest printed figure, number format) of a numeric column: a number as the
    sheet holds it (:func:`_sheet_value`), a printed note as text, None where missing.

    A column of plain floats or ints is read as one array (widths and decimals computed for the
    column at once); others (notes among the figures, nullable types) value by value."""
    if _plain_numbers(series):
        a = series.to_numpy(dtype="float64")
        present = ~np.isnan(a)
        if np.isfinite(a[present]).all():
            shown = a[present]
            fmt_decimals = decimals
            if decimals is None and kind not in ("int", "pvalue"):
                fmt_decimals = int(_decimals(shown).max()) if shown.size else 0
            longest = max(_longest_figure(shown, kind, decimals), len(DASH) if not present.all() else 0)
            if unit == "percent":
                a = a / 100.0
            values = a.tolist()
            if kind == "int":
                values = [int(v) if v == int(v) else v for v in values] if present.all() else \
                    [None if v != v else int(v) if v == int(v) else v for v in values]
            elif not present.all():
                values = [None if v != v else v for v in values]
            return values, longest, _number_format(df, col, kind, fmt_decimals, unit)
    values = series.tolist()
    cells = [_sheet_value(v, kind, unit) for v in values]
    longest = max((_printed_length(v, kind, decimals) for v in values), default=0)
    return cells, longest, _number_format(df, col, kind, decimals, unit)


def _sheet_value(value, kind: str, unit: str):
    """A value of a numeric column as the sheet holds it: a number (a rate as a fraction, a whole
    count as an int), a printed note as text, None where missing."""
    if isinstance(value, str):  # a figure already printed (a note in a numeric column)
        return value
    if _missing(value):
        return None
    v = float(value)
    return v / 100.0 if unit == "percent" else (int(v) if kind == "int" and v == int(v) else v)


# --- the rows of a sheet, as openpyxl writes them ---------------------------------------------
# openpyxl streams a write-only sheet one cell object at a time (a cell bound to each value, its
# style looked up, then lxml elements for the cell): ~15 us a cell, most of what a report's
# workbook cost. Here the <sheetData> rows are written as the text openpyxl writes for the same
# cells: inline strings escaped as lxml escapes them (ASCII output: & < > and CR as entities,
# every other non-ASCII character as a decimal reference), xml:space="preserve" on text with
# outer spaces, numbers as "%.16g", "#N/A"-like text as an error value, the style ids openpyxl
# gives the same cells (registered through openpyxl, in the order it would register them).
# openpyxl still writes everything else (workbook, styles, sheet properties, widths, frozen
# header, autofilter, package), and tests/test_workbook.py holds these rows byte for byte to
# what openpyxl's own writer makes of the same cells. The sheet's writer is handed to openpyxl
# through its write-only sheet's ``_writer`` (openpyxl 3.1, as locked): should an upgrade change
# that, or what openpyxl writes, that test fails.
_XML_ESCAPES = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;", "\r": "&#13;"})
_NOT_XML = re.compile("[\ud800-\udfff\ufffe\uffff]")  # lxml refuses these (openpyxl checks the rest)


def _inline(text: str) -> tuple[str, str]:
    """(cell type, cell body) of a text cell, as openpyxl writes it (its checks included)."""
    text = text[:32767]  # openpyxl's limit of a cell's text
    if ILLEGAL_CHARACTERS_RE.search(text):
        raise IllegalCharacterError(f"{text} cannot be used in worksheets.")
    if _NOT_XML.search(text):
        raise ValueError(f"{text!r} cannot be written to a worksheet: All strings must be XML compatible")
    if not text:
        return "inlineStr", ""
    space = ' xml:space="preserve"' if text != text.strip() else ""
    body = text.translate(_XML_ESCAPES).encode("ascii", "xmlcharrefreplace").decode("ascii")
    return "inlineStr", f"<is><t{space}>{body}</t></is>"


def _text_xml(text: str, quoted_style: int | None) -> str:
    """A text cell after its reference: a formula-like text as a quoted string (style
    ``quoted_style``), a spreadsheet error code as an error value, other text as a string."""
    if text.startswith(FORMULA_STARTS):
        return f' s="{quoted_style}" t="inlineStr">{_inline(text)[1]}</c>'
    if text in ERROR_CODES:
        return f' t="e"><v>{text}</v></c>'
    return f' t="inlineStr">{_inline(text)[1]}</c>'


def _number_xml(value, style: int) -> str:
    """A number cell after its reference (openpyxl's ``safe_string``: no text for NaN or inf)."""
    return f' s="{style}" t="n"><v>{"%.16g" % value if math.isfinite(value) else ""}</v></c>'


class _SheetPart(io.BytesIO):
    """A sheet's XML as openpyxl writes it (in memory, not in a temporary file) with an empty
    <sheetData>, and the rows written here that go into it."""
    rows = ""

    def xml(self) -> bytes:
        data = self.getvalue()
        if self.rows:
            data = data.replace(b"<sheetData></sheetData>", b"<sheetData>" + self.rows.encode("ascii") + b"</sheetData>", 1)
        return data


class _SheetWriter(WorksheetWriter):
    """openpyxl's sheet writer, writing into a :class:`_SheetPart`."""

    def __init__(self, ws):
        super().__init__(ws, out=_SheetPart())

    def cleanup(self):
        pass  # nothing on disk to remove


class _Archive(zipfile.ZipFile):
    """The zip that openpyxl writes a workbook into: every entry with fixed times and mode (the
    same tables give the same bytes, written and compressed once), each sheet with its rows."""

    def __init__(self, file):
        super().__init__(file, "w", zipfile.ZIP_DEFLATED)

    def writestr(self, zinfo_or_arcname, data, compress_type=None, compresslevel=None):
        name = getattr(zinfo_or_arcname, "filename", zinfo_or_arcname)
        body = data.encode("utf-8") if isinstance(data, str) else data
        if name == "docProps/core.xml":
            body = re.sub(rb"(<dcterms:(created|modified)[^>]*>)[^<]*(</dcterms:\2>)",
                          rb"\g<1>" + _FIXED_W3CDTF.encode() + rb"\g<3>", body)
        entry = zipfile.ZipInfo(name, date_time=FIXED_TIME)
        entry.compress_type = zipfile.ZIP_DEFLATED
        entry.external_attr = 0o644 << 16
        super().writestr(entry, body)

    def write(self, filename, arcname=None, compress_type=None, compresslevel=None):
        if isinstance(filename, _SheetPart):
            self.writestr(arcname, filename.xml())
        else:
            self.writestr(arcname or str(filename), Path(filename).read_bytes())


def _sheet(ws, df: pd.DataFrame, lang: str, styles: dict) -> None:
    """Fill the streamed sheet ``ws`` with table ``df``: widths, frozen header, autofilter, and
    its rows (header, then one row per record) for :class:`_Archive` to put in."""
    cols = list(df.columns)
    heads, columns, firsts, widths = [], [], [], []
    for col, series in df.items():
        kind, dec, unit = column_spec(df, col)
        numeric = kind in NUMERIC_KINDS
        head = header(col, lang, unit)
        heads.append((head, "right" if numeric else "left"))
        if numeric:
            cells, longest, fmt = _numeric_column(df, col, series, kind, dec, unit)
            longest += 1 if unit == "percent" and cells else 0
        else:
            cells = _texts(series.tolist(), kind, dec, lang)
            longest = max((len(DASH) if t is None else len(t) for t in cells), default=0)
            fmt = None
        if numeric:
            first_number = next((i for i, v in enumerate(cells) if v is not None and not isinstance(v, str)), None)
        else:  # texts only
            first_number = None
        first_quoted = None
        if any(t.startswith(FORMULA_STARTS) for t in set(cells) if isinstance(t, str)):
            first_quoted = next(i for i, v in enumerate(cells) if isinstance(v, str) and v.startswith(FORMULA_STARTS))
        columns.append((cells, fmt if first_number is not None else None, first_number is not None))
        firsts.append((first_number, first_quoted))
        widths.append(min(_MAX_WIDTH, max(len(head), longest) + 2))
    for j, w in enumerate(widths, start=1):
        ws.column_dimensions[get_column_letter(j)].width = w
    ws.freeze_panes = "A2"
    if cols:
        ws.auto_filter.ref = f"A1:{get_column_letter(len(cols))}{max(1, len(df) + 1)}"
    writer = _SheetWriter(ws)
    writer.write_top()  # what openpyxl writes before the rows, now that the sheet is set up
    ws._writer = writer

    # Styles get their ids in the order openpyxl would give them: the header row's cells, the
    # columns' number formats, then each style at its first cell, row by row.
    head_styles = []
    for _, side in heads:
        if side not in styles:
            cell = WriteOnlyCell(ws)
            cell.font, cell.fill, cell.alignment = styles["bold"], styles["fill"], styles["aligned"][side]
            styles[side] = cell.style_id
        head_styles.append(styles[side])
    number_cells = []
    for _, fmt, _ in columns:
        cell = None
        if fmt is not None:
            cell = WriteOnlyCell(ws)
            cell.number_format = fmt
        number_cells.append(cell)
    number_styles = [None] * len(cols)
    for row, j, what in sorted([(n, j, "number") for j, (n, _) in enumerate(firsts) if n is not None] +
                               [(q, j, "quoted") for j, (_, q) in enumerate(firsts) if q is not None]):
        if what == "number":
            number_styles[j] = number_cells[j].style_id
        elif "quoted" not in styles:
            cell = WriteOnlyCell(ws)
            cell.quotePrefix = True
            styles["quoted"] = cell.style_id
    quoted = styles.get("quoted")

    letters = [get_column_letter(j) for j in range(1, len(cols) + 1)]
    cells_xml = []
    for (cells, _, numbers), style in zip(columns, number_styles):
        texts = {v: _text_xml(v, quoted) for v in set(cells) if isinstance(v, str)}
        if not numbers:  # texts only
            cells_xml.append([None if v is None else texts[v] for v in cells])
        else:
            cells_xml.append([None if v is None else texts[v] if isinstance(v, str) else _number_xml(v, style)
                              for v in cells])
    out = ['<row r="1">']
    for letter, (head, _), style in zip(letters, heads, head_styles):
        kind, body = _inline(head)
        out.append(f'<c r="{letter}1" s="{style}" t="{kind}">{body}</c>')
    out.append("</row>")
    for r, row in enumerate(zip(*cells_xml), start=2):
        out.append(f'<row r="{r}">')
        out.extend([f'<c r="{letter}{r}"{x}' for letter, x in zip(letters, row) if x is not None])
        out.append("</row>")
    writer.out.rows = "".join(out)


def write_xlsx(sections, path, lang: str) -> Path:
    """One sheet per table of ``sections`` (report order); returns ``path`` (written atomically).

    The workbook is streamed (openpyxl ``write_only``): each sheet's widths, frozen header and
    autofilter are set from the data first, then its rows are written once, and the zip is
    written once with its fixed entry times.
    """
    tables = export_tables(sections)
    wb = Workbook(write_only=True)
    styles = {"bold": Font(bold=True), "fill": PatternFill("solid", fgColor="F2F2F2"),
              "aligned": {side: Alignment(horizontal=side, wrap_text=True, vertical="top") for side in ("left", "right")}}
    for (name, label, df), sheet in zip(tables, sheet_names([t[1] for t in tables])):
        _sheet(wb.create_sheet(sheet), df, lang, styles)
    if not wb.sheetnames:
        wb.create_sheet("–")
    props = wb.properties
    props.creator = "analysis-766"
    props.lastModifiedBy = "analysis-766"
    props.created = props.modified = pd.Timestamp("2000-01-01").to_pydatetime()
    buf = io.BytesIO()
    with _Archive(buf) as archive:
        ExcelWriter(wb, archive).write_data()
    atomic_write_bytes(Path(path), buf.getvalue())
    return Path(path)


def _csv_column(series: pd.Series, kind: str, decimals, lang: str) -> list[str]:
    """The fields of one column: numbers as values (``87.15``, ``3``), code values in ``lang``,
    empty where missing, formula-like text neutralised."""
    if kind in NUMERIC_KINDS:
        if _plain_numbers(series):  # none is text, NaN is the only missing value
            return ["" if v != v else str(int(v)) if kind == "int" else repr(float(v)).removesuffix(".0")
                    for v in series.tolist()]
        return ["" if _missing(v) else neutralise(v) if isinstance(v, str) else
                str(int(v)) if kind == "int" else repr(float(v)).removesuffix(".0") for v in series.tolist()]
    return ["" if t is None else neutralise(t) for t in _texts(series.tolist(), kind, decimals, lang)]


def write_csv(sections, directory, lang: str, *, fresh: bool = False) -> Path:
    """``directory/<table>.csv`` for every table: UTF-8 with a BOM (Excel on Windows reads the
    Vietnamese letters), headers and code values in ``lang``, numbers as values, formula-like
    text neutralised.

    Each file replaces an older one atomically. With ``fresh``, ``directory`` must be new (a
    build's private folder, published whole by one rename): the files are written in place,
    every one synced before this returns (:func:`analysis.files.write_new_files`).
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=not fresh)
    files = []
    for name, _label, df in export_tables(sections):
        heads, columns = [], []
        for col, series in df.items():
            kind, dec, unit = column_spec(df, col)
            heads.append(header(col, lang, unit))
            columns.append(_csv_column(series, kind, dec, lang))
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\r\n")  # RFC 4180; a field with CR or LF is quoted
        w.writerow(heads)
        w.writerows(zip(*columns))
        files.append((directory / f"{name.replace('/', '__').replace('#', '_')}.csv", buf.getvalue().encode("utf-8-sig")))
    if fresh:
        write_new_files(files)
    else:
        for path, data in files:
            atomic_write_bytes(path, data)
    return directory
