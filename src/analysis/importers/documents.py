"""Import report documents (.docx, .html, or text/markdown with tab or pipe tables): their tables
and their running text.

A report is read in three steps, each a pure function except the first:

1. **Items** (:func:`text_items`, :func:`docx_items`): the document as a sequence of text lines,
   blank lines and table rows (cells with their text and whether they are underlined).
2. **Tables** (:func:`assemble_tables`): consecutive rows become a table; a table cut by a page
   break (rows resuming after blank lines, with the same number of cells and no header of their
   own) is joined again. Each table keeps its caption (the nearest capitalised line above it) and
   the number of the heading it sits under (``I.3.1``).
3. **Rows** (:func:`interpret_table`): headers are recognised through ``HEADER_RULES`` (data:
   a pattern on the normalised header text -> what the column holds), unit names through
   :class:`analysis.units.UnitIndex` (canonical names and ``unit_aliases``), numbers through
   :func:`analysis.numerals.parse_number`.

Nothing is guessed silently. Every header, unit name or cell that cannot be read is listed in
``ImportResult.uninterpreted`` (and its value is not imported). Rules that go beyond reading a
cell are stated here:

* A multi-row header is read column by column as ``top / bottom``; an empty top cell continues
  the label on its left (a merged cell), so Phú Tân's ``ĐIỂM TỔNG HỢP`` spans its four columns.
* ``Tỷ lệ (%)`` alone does not say which rate: the table's caption decides (``HỒ SƠ TRỰC
  TUYẾN`` -> online submission, ``THANH TOÁN TRỰC TUYẾN`` -> online payment), else the column is
  listed. ``Điểm đạt được`` takes the group of the rate printed beside it.
* A column headed by a month (``THÁNG 4``) holds that month of the report's year (the year
  before when the month is later than the report's); ``THÁNG 5 - TUẦN 01`` in a report of that
  week is the report's own period.
* ``STT`` (or the list number before a unit name) is taken as the rank of the total only when
  the table has a total column and the numbered rows run 1..n with totals not increasing;
  rows without a number (``TOÀN HUYỆN``) are not ranked. ``rank_block`` is the units' level.
* ``x/y`` under ``Đã triển khai`` is a count of units with its denominator; when ``y`` is 1 the
  unit counts itself, so ``block`` is its level, otherwise ``block`` stays empty (which units
  were counted is not printed).
* Change columns (``Tăng giảm``, ``Giảm 13,96``, ``▼13,96``) and bands (``Xếp loại``) belong to
  the total of the report's period. Underlined cells (``<u>…</u>``, or underlined runs in a
  .docx) are ``marked``.

The running text (headlines, lists, news prose: ``87,15/100 điểm (mức tốt), xếp hạng 2/8``) is
read by :mod:`analysis.importers.prose`, .html pages are turned into items by
:mod:`analysis.importers.webpage`, and a document without a ``sources`` row is given one drafted
from its own lines by :mod:`analysis.importers.provenance` (a ``.source.json`` sidecar overrides
the draft field by field).
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import pandas as pd

from ..dataset import Dataset, empty_table, file_sha256
from ..errors import DataError, UnknownUnitError
from ..numerals import parse_number
from ..periods import Period, parse_period
from ..reference import indicator_catalog
from ..schema import canonical_band
from ..text import nfc
from ..units import NOT_COMPARABLE, UnitIndex, crosses_reform
from .portal import COUNTRY_ID, ImportResult, origin_of, rows_frame
from .prose import ProseContext, read_prose
from .webpage import html_items

__all__ = ["Cell", "RawTable", "import_document", "interpret_document", "interpret_table",
           "text_items", "docx_items", "assemble_tables", "HEADER_RULES", "TITLE_RATE_RULES",
           "DOCUMENT_SUFFIXES", "sidecar_path", "read_items", "DocumentResult"]

DOCUMENT_SUFFIXES = (".docx", ".txt", ".md", ".markdown", ".html", ".htm")

# Header text (normalised: NFC, lower case, single spaces, ' / ' between header rows) -> what
# the column holds. First match wins. Roles: stt, unit, code, ignore, score (group, period from
# the header), indicator (code, measure), band, change. `title` restricts a rule to tables whose
# caption matches; `group` 'from_rate' takes the group of the rate column beside it.
HEADER_RULES: list[tuple[str, dict]] = [
    (r"^(stt|tt|số tt)$", {"role": "stt"}),
    (r"^(tên cơ quan ?[/,] ?đơn vị|tên cơ quan, đơn vị|tên đơn vị|đơn vị|cơ quan, đơn vị)$",
     {"role": "unit"}),
    (r"mã định danh", {"role": "code"}),
    (r"^danh sách hồ sơ$", {"role": "ignore"}),
    (r"tổng hợp xếp loại.* / tổng điểm$", {"role": "score", "group": "TOTAL"}),
    (r"(^| / )xếp loại$", {"role": "band"}),
    (r"tăng ?/ ?giảm|tăng giảm", {"role": "change"}),
    (r"^điểm tổng hợp / tháng", {"role": "score", "group": "TOTAL"}),
    (r"công khai,? minh bạch.*tổng điểm", {"role": "score", "group": "CKMB"}),
    (r"tiến độ giải quyết.*tổng điểm", {"role": "score", "group": "TDGQ"}),
    (r"dịch vụ công trực tuyến.*tổng điểm", {"role": "score", "group": "ONLINE"}),
    (r"dịch vụ trực tuyến.*tổng điểm", {"role": "score", "group": "DVTT"}),
    (r"thanh toán trực tuyến.*tổng điểm", {"role": "score", "group": "TTTT"}),
    (r"mức độ hài lòng.*tổng điểm", {"role": "score", "group": "MDHL"}),
    (r"số hóa hồ sơ.*tổng điểm", {"role": "score", "group": "MDSH"}),
    (r"^(tổng điểm|điểm đánh giá|tổng số điểm|điểm tổng hợp)$", {"role": "score", "group": "TOTAL"}),
    (r"^công khai,? minh bạch \(%\)$", {"role": "indicator", "indicator": "transparency_rate",
                                        "measure": "percent"}),
    # 'TIỀN ĐỘ' (sic, Phú Tân) is read as 'TIẾN ĐỘ'
    (r"^ti[ếề]n độ giải quyết \(%\)$", {"role": "indicator", "indicator": "on_time_rate",
                                         "measure": "percent"}),
    (r"dịch vụ công tt / dvctt$", {"role": "indicator", "indicator": "online_service_rate",
                                   "measure": "percent"}),
    (r" / thanh toán tt$", {"role": "indicator", "indicator": "online_payment_rate",
                            "measure": "percent"}),
    (r"số hóa hồ sơ.* / số hóa hồ sơ$", {"role": "indicator", "indicator": "digitised_dossiers_rate",
                                         "measure": "percent"}),
    (r" / tái sử dụng( \(%\))?$", {"role": "indicator", "indicator": "reuse_rate", "measure": "percent"}),
    (r" / chứng thực đt$", {"role": "indicator", "indicator": "e_certified_copy_rate",
                            "measure": "percent"}),
    (r"^tỷ lệ (hồ sơ )?(xử lý )?đúng hạn( \(%\))?$", {"role": "indicator", "indicator": "on_time_rate",
                                                     "measure": "percent"}),
    (r"^điểm đạt được$", {"role": "score", "group": "from_rate"}),
    (r"^tổng số hồ (sơ )?xử lý quá hạn$", {"role": "indicator", "indicator": "overdue_dossiers",
                                           "measure": "count"}),
    (r"^đã triển khai$", {"role": "indicator", "indicator": "e_cert_units_deployed",
                          "measure": "count", "title": r"chứng thực", "fraction": True}),
    (r"^số lượng hồ sơ hoàn thành$", {"role": "indicator", "indicator": "e_certified_copies",
                                      "measure": "count", "title": r"chứng thực"}),
    (r"^tỷ lệ \(%\)$", {"role": "indicator", "indicator": "by_title", "measure": "percent"}),
]

# For a bare 'Tỷ lệ (%)' column: pattern on the table caption -> indicator.
TITLE_RATE_RULES: list[tuple[str, str]] = [
    (r"hồ sơ trực tuyến|nộp trực tuyến", "online_submission_rate"),
    (r"thanh toán trực tuyến", "online_payment_rate"),
    (r"đúng hạn", "on_time_rate"),
]

_TAGS = re.compile(r"</?[a-zA-Z][^>]*>")
_UNDERLINE = re.compile(r"<u>", re.IGNORECASE)
_LIST_NUMBER = re.compile(r"^(\d{1,3})[.)]\s+(?=\S)")
_FIGURE = re.compile(r"^[\d.,/%\s▼▲↑↓+\-−]+$")
_MONTH = re.compile(r"tháng\s*(\d{1,2})(?:\s*[-–]?\s*tuần\s*0*(\d+))?")
_ROMAN = re.compile(r"^([IVX]+)\.\s")
_ARABIC = re.compile(r"^(\d+(?:\.\d+)*)\.?\s")


@dataclass
class Cell:
    """One table cell: its text (tags and bold markers removed, NFC) and whether it is underlined."""

    text: str
    marked: bool = False


@dataclass
class RawTable:
    """Rows of one table as printed, with where it sits in the document."""

    rows: list[list[Cell]]
    lines: list[int]
    caption: str | None = None
    heading: str | None = None
    style: str = "tab"
    header_end: int | None = None  # rows before a markdown separator line

    @property
    def line(self) -> int:
        return self.lines[0] if self.lines else 0


def _clean(text: str) -> Cell:
    marked = bool(_UNDERLINE.search(text))
    text = _TAGS.sub("", text).replace("**", "").replace("\u00a0", " ")
    return Cell(nfc(" ".join(text.split())), marked)


def _is_separator(cells: list[str]) -> bool:
    return bool(cells) and all(re.fullmatch(r":?-{2,}:?", c.strip()) for c in cells if c.strip()) \
        and any(c.strip() for c in cells)


def text_items(text: str) -> list[tuple]:
    """A text/markdown document as items: ``('text', line, n)``, ``('blank', n)``,
    ``('row', cells, n, style)`` and ``('sep', n)`` for a markdown separator.

    Examples
    --------
    >>> [i[0] for i in text_items("Title\\n\\nA\\tB\\n1\\t2")]
    ['text', 'blank', 'row', 'row']
    """
    items = []
    for n, line in enumerate(nfc(text).splitlines(), start=1):
        stripped = line.strip()
        if "\t" in line and stripped:
            items.append(("row", [_clean(c) for c in line.split("\t")], n, "tab"))
        elif stripped.startswith("|") and stripped.count("|") >= 2:
            cells = stripped.strip("|").split("|")
            if _is_separator(cells):
                items.append(("sep", n))
            else:
                items.append(("row", [_clean(c) for c in cells], n, "pipe"))
        elif not stripped or not _clean(stripped).text:
            items.append(("blank", n))
        else:
            items.append(("text", _clean(stripped).text, n))
    return items


def docx_items(path: Path | str) -> list[tuple]:
    """A .docx document as items (see :func:`text_items`); ``n`` counts paragraphs and table
    rows in document order. Merged cells repeat their text, underlined runs mark a cell."""
    import zipfile

    import docx  # python-docx; imported here so text imports do not need it
    from docx.table import Table
    from docx.text.paragraph import Paragraph

    with zipfile.ZipFile(path) as archive:  # a zip bomb is refused before anything is inflated
        entries = archive.infolist()
    inflated = sum(e.file_size for e in entries)
    if len(entries) > 5000 or inflated > 256 * 2**20:  # a long report: ~100 entries, a few MB
        raise DataError(f"refused: the .docx holds {len(entries)} entries inflating to "
                        f"{inflated / 2**20:.0f} MiB (limits: 5000 entries, 256 MiB)", file=path)

    document = docx.Document(str(path))
    items, n = [], 0
    for child in document.element.body.iterchildren():
        tag = child.tag.rsplit("}", 1)[-1]
        if tag == "p":
            n += 1
            text = Paragraph(child, document).text
            cell = _clean(text)
            items.append(("text", cell.text, n) if cell.text else ("blank", n))
        elif tag == "tbl":
            items.append(("blank", n))  # two Word tables never share rows
            for row in Table(child, document).rows:
                n += 1
                cells = []
                for c in row.cells:
                    underlined = any(run.underline for p in c.paragraphs for run in p.runs if run.text.strip())
                    cell = _clean(" ".join(p.text for p in c.paragraphs))
                    cells.append(Cell(cell.text, cell.marked or underlined))
                items.append(("row", cells, n, "docx"))
    return items


def _is_figure_row(cells: list[Cell]) -> bool:
    return any(c.text and _FIGURE.match(c.text) and re.search(r"\d", c.text) for c in cells)


def _is_caption(line: str) -> bool:
    letters = [c for c in line if c.isalpha()]
    return len(letters) >= 6 and sum(c.isupper() for c in letters) / len(letters) >= 0.8


class _Headings:
    """Tracks the number of the heading the text is under: ``I``, ``I.3``, ``I.3.1``."""

    def __init__(self):
        self.roman: str | None = None
        self.arabic: str | None = None

    def update(self, line: str) -> None:
        s = line.lstrip("#").strip()
        if m := _ROMAN.match(s):
            self.roman, self.arabic = m[1], None
        elif (m := _ARABIC.match(s)) and not s[m.end():].startswith(("/", "%")):
            self.arabic = m[1]

    @property
    def current(self) -> str | None:
        parts = [p for p in (self.roman, self.arabic) if p]
        return ".".join(parts) or None


def _continues(table: RawTable, cells: list[Cell]) -> bool:
    """Rows after a page break continue a table: data (not a header) and the same width."""
    width = max(len(r) for r in table.rows)
    non_empty = sum(1 for c in cells if c.text)
    return _is_figure_row(cells) and (len(cells) == width or (len(cells) > width and non_empty <= width))


def assemble_tables(items: list[tuple]) -> list[RawTable]:
    """Group items into tables, joining tables cut by page breaks.

    Examples
    --------
    >>> t = assemble_tables(text_items("TỶ LỆ THANH TOÁN\\nSTT\\tĐơn vị\\n1\\tA\\n\\n2\\tB"))
    >>> len(t), len(t[0].rows), t[0].caption
    (1, 3, 'TỶ LỆ THANH TOÁN')
    """
    tables: list[RawTable] = []
    current: RawTable | None = None
    gap = False
    recent: list[str] = []
    headings = _Headings()
    for item in items:
        kind = item[0]
        if kind == "sep":
            if current is not None and current.style == "pipe" and current.header_end is None:
                current.header_end = len(current.rows)
            gap = False
            continue
        if kind == "row":
            _, cells, n, style = item
            if current is not None and current.style == style and (not gap or _continues(current, cells)):
                current.rows.append(cells)
                current.lines.append(n)
            else:
                if current is not None:
                    tables.append(current)
                caption = next((line for line in reversed(recent) if _is_caption(line)), None)
                current = RawTable(rows=[cells], lines=[n], caption=caption, heading=headings.current,
                                   style=style)
                recent = []
            gap = False
        elif kind == "blank":
            gap = True
        else:
            if current is not None:
                tables.append(current)
                current = None
            headings.update(item[1])
            recent = (recent + [item[1]])[-3:]
            gap = False
    if current is not None:
        tables.append(current)
    return tables


# --- cell readers (pure) ----------------------------------------------------------------------

def _decimals(text: str) -> int:
    s = text.strip().rstrip("%").strip()
    if "," in s:
        return len(s.rsplit(",", 1)[1])
    if "." in s and not re.fullmatch(r"[+\-]?\d{1,3}(\.\d{3})+", s):
        return len(s.rsplit(".", 1)[1])
    return 0


def _number(text: str, *, integer=False) -> tuple[float, int]:
    value = parse_number(text.replace("−", "-"), integer=integer)
    if value is None:
        raise DataError("empty cell")
    return float(value), 0 if integer else _decimals(text)


def _points(text: str) -> tuple[float, float | None, int]:
    """``16,3/20`` -> (16.3, 20, 1); ``87,15`` -> (87.15, None, 2)."""
    if "/" in text:
        value, _, limit = text.partition("/")
        v, d = _number(value)
        return v, _number(limit)[0], d
    v, d = _number(text)
    return v, None, d


def _change(text: str) -> float:
    """``Giảm 13,96`` -> -13.96; ``▼13,96`` -> -13.96; ``Tăng 2`` / ``▲2`` -> 2; ``6.06``."""
    s = text.strip()
    low = s.casefold()
    if low.startswith(("bằng", "không đổi")):
        return 0.0
    sign = 1.0
    for words, factor in ((("giảm", "▼", "↓"), -1.0), (("tăng", "▲", "↑"), 1.0)):
        for word in words:
            if low.startswith(word):
                s, sign = s[len(word):].strip(), factor
                break
    return sign * _number(s)[0]


def _with_change(text: str) -> tuple[float, int, float | None]:
    """``47,34 ▼13,96`` -> (47.34, 2, -13.96); a plain number has no change."""
    m = re.fullmatch(r"([\d.,]+)\s*([▼▲↓↑].*)", text.strip())
    if m:
        v, d = _number(m[1])
        return v, d, _change(m[2])
    v, d = _number(text)
    return v, d, None


def _fraction(text: str) -> tuple[float, float | None]:
    if "/" in text:
        a, _, b = text.partition("/")
        return _number(a, integer=True)[0], _number(b, integer=True)[0]
    return _number(text, integer=True)[0], None


def _label(header_rows: list[list[Cell]], width: int) -> list[str]:
    """One normalised label per column: ``top / bottom``, merged top cells spread right."""
    grid = [[(r[i].text if i < len(r) else "") for i in range(width)] for r in header_rows]
    if len(grid) > 1:
        last = ""
        for i in range(width):
            if grid[0][i]:
                last = grid[0][i]
            elif i > 1:  # STT and unit columns never continue a merged cell
                grid[0][i] = last
    labels = []
    for i in range(width):
        parts: list[str] = []
        for row in grid:
            part = " ".join(row[i].casefold().split())
            if part and (not parts or parts[-1] != part):
                parts.append(part)
        labels.append(" / ".join(parts))
    return labels


def _rule(label: str) -> dict | None:
    for pattern, spec in HEADER_RULES:
        if re.search(pattern, label):
            return dict(spec, _pattern=pattern)
    return None


@dataclass
class _Context:
    source_id: str
    period: Period
    index: UnitIndex
    units: pd.DataFrame
    province: str | None
    parent: str | None
    catalog: pd.DataFrame = field(default_factory=indicator_catalog)
    sections: set = field(default_factory=set)


def _column_period(label: str, ctx: _Context) -> tuple[str | None, str | None]:
    """(period id, problem) for a column whose header names a month (and week)."""
    m = _MONTH.search(label)
    if not m:
        return ctx.period.period_id, None
    month, week = int(m[1]), int(m[2]) if m[2] else None
    p = ctx.period
    if p.month == month and (week is None and p.kind == "month" or week == p.week):
        return p.period_id, None
    if week is not None:
        return None, f"header '{label}' names week {week} of month {month}, not the report's period"
    year = p.year if month <= (p.month or 12) else p.year - 1
    return f"{year}-{month:02d}", None


def interpret_table(table: RawTable, ctx: _Context) -> tuple[list[dict], list[dict], list[str], list[str], str]:
    """Tidy rows of one table.

    Returns
    -------
    (scores, indicators, periods used, uninterpreted, section)
    """
    problems: list[str] = []
    where = f"table at line {table.line}"
    if table.header_end is not None:
        header_rows, body = table.rows[:table.header_end], table.rows[table.header_end:]
    else:
        k = 0
        while k < min(3, len(table.rows)) and not _is_figure_row(table.rows[k]):
            k += 1
        header_rows, body = table.rows[:k], table.rows[k:]
    lines = table.lines[len(header_rows):]
    if not header_rows:
        return [], [], [], [f"{where}: no header row, so its columns cannot be named; not read"], ""
    labels = _label(header_rows, max(len(r) for r in header_rows))
    caption_key = " ".join((table.caption or "").casefold().split())
    columns: dict[int, dict] = {}
    for i, label in enumerate(labels):
        has_data = any(i < len(r) and r[i].text for r in body)
        spec = _rule(label) if label else None
        if spec is None:
            if has_data:
                problems.append(f"{where}: column {i + 1} header '{label or '(empty)'}' not recognised; "
                                f"its values are not imported")
            continue
        if spec.get("title") and not re.search(spec["title"], caption_key):
            problems.append(f"{where}: column '{label}' is read only in a table whose caption matches "
                            f"'{spec['title']}' (caption: '{table.caption}'); not imported")
            continue
        if spec.get("indicator") == "by_title":
            found = next((ind for pat, ind in TITLE_RATE_RULES if re.search(pat, caption_key)), None)
            if found is None:
                problems.append(f"{where}: column '{label}' does not say which rate it holds and the "
                                f"caption ('{table.caption}') does not either; not imported")
                continue
            spec = dict(spec, indicator=found)
        if spec["role"] == "score":
            pid, problem = _column_period(label, ctx)
            if problem:
                problems.append(f"{where}: {problem}; not imported")
                continue
            spec = dict(spec, period=pid)
            if m := re.search(r"tổng điểm (\d+)", label):
                spec["max"] = float(m[1])
        columns[i] = dict(spec, label=label)
    # 'Điểm đạt được' takes the group of the rate beside it
    rate_groups = {ctx.catalog.at[c["indicator"], "group"] for c in columns.values()
                   if c["role"] == "indicator" and c["indicator"] in ctx.catalog.index}
    for i, c in list(columns.items()):
        if c["role"] == "score" and c["group"] == "from_rate":
            if len(rate_groups) == 1:
                c["group"] = next(iter(rate_groups))
            else:
                problems.append(f"{where}: column '{c['label']}' gives points but no single rate column "
                                f"says of which group; not imported")
                del columns[i]
    seen_targets: dict = {}
    for i, c in list(columns.items()):
        target = (c["role"], c.get("group"), c.get("period"), c.get("indicator"))
        if c["role"] in ("score", "indicator", "band", "change", "unit", "stt", "code") and target in seen_targets:
            problems.append(f"{where}: columns {seen_targets[target] + 1} and {i + 1} both hold "
                            f"'{c['label']}'; the second is not imported")
            del columns[i]
        else:
            seen_targets[target] = i
    unit_col = next((i for i, c in columns.items() if c["role"] == "unit"), None)
    if unit_col is None:
        problems.append(f"{where}: no unit-name column (headers: {', '.join(filter(None, labels))}); not read")
        return [], [], [], problems, ""
    total_col = next((i for i, c in columns.items() if c["role"] == "score" and c["group"] == "TOTAL"
                      and c["period"] == ctx.period.period_id), None)
    for i, c in columns.items():
        if c["role"] in ("band", "change") and total_col is None:
            problems.append(f"{where}: column '{c['label']}' belongs to a total, but the table has no "
                            f"total of {ctx.period.period_id}; not imported")
    value_labels = [c["label"] for c in columns.values() if c["role"] in ("score", "indicator", "band", "change")]
    section = _section(table, value_labels, header_rows, columns, ctx)

    scores: list[dict] = []
    indicators: list[dict] = []
    periods: list[str] = []
    ranked: list[tuple[int, dict]] = []
    numbered: list[int] = []  # row numbers of every named row, read or not
    for row, line in zip(body, lines):
        at = f"{where}, row at line {line}"
        note = None
        if len(row) > len(labels):
            extra = len(row) - len(labels)
            empties = [j for j in range(1, len(row)) if not row[j].text]
            if sum(1 for c in row if c.text) <= len(labels) and len(empties) >= extra:
                drop = set(empties[:extra])
                row = [c for j, c in enumerate(row) if j not in drop]
                note = f"{extra} stray empty cell(s) in the printed row dropped"
            else:
                problems.append(f"{at}: {len(row)} cells for {len(labels)} columns; row not read")
                continue
        row = row + [Cell("")] * (len(labels) - len(row))
        name_cell = row[unit_col].text
        ordinal = None
        if m := _LIST_NUMBER.match(name_cell):
            ordinal, name_cell = int(m[1]), name_cell[m.end():]
        if not name_cell:
            if any(row[i].text for i in columns if i != unit_col and columns[i]["role"] != "stt"):
                problems.append(f"{at}: a row with figures but no unit name; not read")
            continue
        stt_col = next((i for i, c in columns.items() if c["role"] == "stt"), None)
        if stt_col is not None and re.fullmatch(r"\d{1,3}", row[stt_col].text):
            ordinal = int(row[stt_col].text)
        if ordinal is not None:
            numbered.append(ordinal)
        uid = None
        code_col = next((i for i, c in columns.items() if c["role"] == "code"), None)
        code = row[code_col].text if code_col is not None and row[code_col].text else None
        try:
            uid = ctx.index.resolve(name_cell, province=ctx.province, parent=ctx.parent)
        except UnknownUnitError as exc:
            problems.append(f"{at}: {exc}; row not read")
            continue
        if code:
            by_code = ctx.index.by_code(code)
            if by_code and uid and by_code != uid:
                problems.append(f"{at}: name '{name_cell}' is unit {uid} but code {code} is unit "
                                f"{by_code}; row not read")
                continue
            uid = uid or by_code
        if uid is None:
            problems.append(f"{at}: unit '{name_cell}' is not in units.csv or unit_aliases.csv"
                            f" (province {ctx.province}); row not read")
            continue
        level = ctx.units.at[uid, "level"]
        total_row = None
        extras: dict = {}
        for i, c in columns.items():
            cell = row[i]
            if not cell.text or c["role"] in ("unit", "stt", "code", "ignore"):
                continue
            try:
                if c["role"] == "score":
                    if i == total_col and c["group"] == "TOTAL":
                        value, decimals, change = _with_change(cell.text)
                        limit = None
                    else:
                        value, limit, decimals = _points(cell.text)
                        change = None
                    rec = {"source_id": ctx.source_id, "section": section, "unit_id": uid,
                           "period_id": c["period"], "group": c["group"], "value": value,
                           "max_stated": limit if limit is not None else c.get("max"),
                           "decimals": decimals, "rank": None, "rank_of": None, "rank_block": None,
                           "band": None, "change": change, "marked": cell.marked, "note": note,
                           "_line": line, "_text": f"{name_cell} | {c['label']}: {cell.text}"}
                    scores.append(rec)
                    if c["period"] not in periods:
                        periods.append(c["period"])
                    if i == total_col:
                        total_row = rec
                elif c["role"] == "indicator":
                    if c.get("fraction"):
                        value, denominator = _fraction(cell.text)
                        decimals = 0
                    else:
                        value, decimals = _number(cell.text, integer=c["measure"] == "count")
                        denominator = None
                    block = level if c.get("fraction") and denominator == 1 else None
                    indicators.append({
                        "source_id": ctx.source_id, "section": section, "unit_id": uid,
                        "period_id": ctx.period.period_id, "indicator": c["indicator"],
                        "measure": c["measure"], "category": None, "block": block, "value": value,
                        "denominator": denominator, "decimals": decimals, "marked": cell.marked,
                        "note": note, "_line": line,
                        "_text": f"{name_cell} | {c['label']}: {cell.text}"})
                elif c["role"] == "band":
                    band = canonical_band(cell.text)
                    if band is None:
                        problems.append(f"{at}: '{cell.text}' under '{c['label']}' is not a band "
                                        f"(reference/bands.csv); not imported")
                    else:
                        extras["band"], extras["band_marked"] = band, cell.marked
                elif c["role"] == "change":
                    extras["change"] = _change(cell.text)
            except DataError as exc:
                problems.append(f"{at}, column '{c['label']}': '{cell.text}' not read: {exc}")
        if total_row is not None:
            if "band" in extras:
                total_row["band"] = extras["band"]
                total_row["marked"] = total_row["marked"] or extras["band_marked"]
            if "change" in extras:
                total_row["change"] = extras["change"]
            if ordinal is not None:
                ranked.append((ordinal, total_row))
    if total_col is not None and ranked:
        totals = [r["value"] for _, r in sorted(ranked, key=lambda t: t[0])]
        levels = {ctx.units.at[r["unit_id"], "level"] for _, r in ranked}
        if numbered == list(range(1, len(numbered) + 1)) and all(a >= b for a, b in zip(totals, totals[1:])):
            for o, r in ranked:
                r["rank"], r["rank_of"] = o, len(numbered)
                r["rank_block"] = next(iter(levels)) if len(levels) == 1 else None
        else:
            problems.append(f"{where}: row numbers are not taken as ranks (they do not run 1..n "
                            f"with totals not increasing)")
    return scores, indicators, periods, problems, section


def _section(table: RawTable, value_labels, header_rows, columns, ctx: _Context) -> str:
    title = table.caption or " – ".join(
        dict.fromkeys(c.text for r in header_rows[-1:] for i, c in enumerate(r)
                      if c.text and columns.get(i, {}).get("role") in ("score", "indicator", "band", "change")))
    section = " ".join(filter(None, [table.heading, "bảng", title or f"dòng {table.line}"]))
    base, n = section, 2
    while section in ctx.sections:
        section, n = f"{base} ({n})", n + 1
    ctx.sections.add(section)
    return section


def interpret_document(tables: list[RawTable], *, dataset: Dataset, source: dict,
                       items: list[tuple] | None = None, extra_units: pd.DataFrame | None = None) -> ImportResult:
    """Tidy score and indicator rows of every table of a document (pure).

    Parameters
    ----------
    tables : list of RawTable
        From :func:`assemble_tables`.
    dataset : Dataset
        Units and aliases to resolve names; periods already known.
    source : dict
        The ``sources`` row of the document (``source_id``, ``period_id``, ``area_unit_id``).
    items : list of tuple, optional
        The document's items: when given, its running text is read too
        (:func:`analysis.importers.prose.read_prose`).
    extra_units : DataFrame, optional
        Units the import adds (an old province or district named by the document).

    Returns
    -------
    DocumentResult
        ``tables`` holds ``scores``, ``indicators`` and any new ``periods``;
        ``uninterpreted`` lists everything not read; ``figures`` says where each figure was read.
    """
    periods_df = dataset.periods
    known = dict(zip(periods_df["period_id"], periods_df["cutoff_date"]))
    cutoff = known.get(source["period_id"])
    cutoff = None if cutoff is None or pd.isna(cutoff) else pd.Timestamp(cutoff).date()
    if isinstance(source.get("cutoff_date"), date):
        cutoff = source["cutoff_date"]
    period = parse_period(source["period_id"], cutoff=cutoff)
    all_units = dataset.units if extra_units is None or not len(extra_units) else \
        pd.concat([dataset.units, extra_units], ignore_index=True)
    units = all_units.set_index("unit_id", drop=False)
    area = source["area_unit_id"]
    if area not in units.index:
        raise DataError(f"area_unit_id '{area}' of source {source['source_id']} is not in units.csv")
    ended = units.at[area, "valid_to"]
    if ended is not None and not pd.isna(ended) and pd.Timestamp(ended).date() < period.start:
        raise DataError(f"area '{area}' existed until {pd.Timestamp(ended).date()} but source "
                        f"{source['source_id']} reports on {period.period_id}; after the July 2025 reform "
                        f"its figures belong to the new unit (see analysis.units.province_crosswalk)")
    ctx = _Context(source_id=source["source_id"], period=period,
                   index=UnitIndex(all_units, dataset.unit_aliases), units=units,
                   province=units.at[area, "province_id"], parent=area)
    scores, indicators, problems, used, notes = [], [], [], [], []
    new_units: list[dict] = []
    for table in tables:
        s, i, p, u, section = interpret_table(table, ctx)
        scores += s
        indicators += i
        problems += u
        used += [x for x in p if x not in used]
        if s or i:
            notes.append(f"{section}: {len(s)} scores, {len(i)} indicators")
    if items is not None:
        country = next((u for u in units.index if units.at[u, "level"] == "country"), COUNTRY_ID)
        pctx = ProseContext(source_id=ctx.source_id, period=period, area=area, province=ctx.province,
                            index=ctx.index, units=units, catalog=ctx.catalog, country=country)
        prose = read_prose(items, pctx)
        if pctx.country_used and country not in units.index:
            new_units.append({"unit_id": country, "code": None, "name": "Việt Nam", "unit_type": None,
                              "level": "country", "parent_id": None, "province_id": country,
                              "valid_to": None, "note": "the country, for national averages printed in reports"})
        n_s, n_i = len(prose["scores"]), len(prose["indicators"])
        scores += prose["scores"]
        indicators += prose["indicators"]
        used += [x for x in prose["periods"] if x not in used]
        problems += prose["not_read"]
        if n_s or n_i:
            notes.append(f"running text: {n_s} scores, {n_i} indicators")
    for r in scores:  # a change measured across the July 2025 reform compares different units
        if r.get("change") is not None:
            prev = parse_period(r["period_id"]).previous()
            if prev and crosses_reform(r["period_id"], prev):
                r["note"] = "; ".join(filter(None, [r.get("note"), f"change {NOT_COMPARABLE}"]))
                notes.append(f"line {r.get('_line')}: change of {r['unit_id']} {r['period_id']} against "
                             f"{prev}: {NOT_COMPARABLE}")
    scores, dropped = _dedupe(scores, ("unit_id", "period_id", "group"))
    indicators, dropped_i = _dedupe(indicators, ("unit_id", "period_id", "indicator", "measure", "category"))
    notes += dropped + dropped_i
    figures = [_figure(r, "score") for r in scores] + [_figure(r, "indicator") for r in indicators]
    scores = [{k: v for k, v in r.items() if not k.startswith("_")} for r in scores]
    indicators = [{k: v for k, v in r.items() if not k.startswith("_")} for r in indicators]
    new_periods = []
    for pid in used:
        if pid in known:
            continue
        p = parse_period(pid, cutoff=cutoff if pid == period.period_id else None)
        new_periods.append({"period_id": pid, "kind": p.kind, "start_date": p.start, "end_date": p.end,
                            "cutoff_date": p.end if p.kind in ("week", "ytd") else None,
                            "label_vi": p.label("vi")})
    tables_out = {
        "sources": empty_table("sources"), "units": rows_frame("units", new_units),
        "unit_aliases": empty_table("unit_aliases"), "periods": rows_frame("periods", new_periods),
        "scores": rows_frame("scores", scores), "indicators": rows_frame("indicators", indicators)}
    return DocumentResult(path=None, kind="document", source_id=source["source_id"], tables=tables_out,
                          notes=notes, uninterpreted=problems, figures=figures)


@dataclass
class DocumentResult(ImportResult):
    """An :class:`ImportResult` that also says where each figure was read (``figures``: one
    line per figure, ``line N: what = value  <- sentence or cell``)."""

    figures: list[str] = field(default_factory=list)


def _figure(rec: dict, kind: str) -> str:
    if kind == "score":
        what = f"{rec['unit_id']} {rec['period_id']} {rec['group']}"
        value = "" if rec["value"] is None else f"{rec['value']:g}"
        extras = [f"rank {rec['rank']}/{rec['rank_of']}" if rec.get("rank") else "",
                  f"band {rec['band']}" if rec.get("band") else "",
                  f"change {rec['change']:+g}" if rec.get("change") is not None else ""]
    else:
        what = f"{rec['unit_id']} {rec['period_id']} {rec['indicator']}" + \
            (f" [{rec['category']}]" if rec.get("category") else "")
        value = f"{rec['value']:g}{'%' if rec['measure'] == 'percent' else ''}" + \
            (f"/{rec['denominator']:g}" if rec.get("denominator") is not None else "")
        extras = [f"block {rec['block']}" if rec.get("block") else ""]
    extra = ", ".join(e for e in extras if e)
    return (f"line {rec.get('_line', '?')}: {what} = {value}{' (' + extra + ')' if extra else ''}"
            f"  <- {rec.get('_text', '')}")


def _dedupe(rows: list[dict], key: tuple) -> tuple[list[dict], list[str]]:
    """One row per key inside a section: the same figure printed twice in one section is kept
    once; a different value for the same key gets its own section (``… (2)``)."""
    seen: dict = {}
    out, notes = [], []
    for r in rows:
        k = (r["section"],) + tuple(r.get(c) for c in key)
        if k in seen:
            if seen[k].get("value") == r.get("value"):
                continue
            n = 2
            while (f"{r['section']} ({n})",) + k[1:] in seen:
                n += 1
            r = dict(r, section=f"{r['section']} ({n})")
            notes.append(f"line {r.get('_line')}: a second, different figure for the same key; "
                         f"kept in section '{r['section']}'")
            k = (r["section"],) + k[1:]
        seen[k] = r
        out.append(r)
    return out, notes


def sidecar_path(path: Path) -> Path | None:
    """The provenance file beside a document (``report.docx.source.json`` or
    ``report.source.json``), or None."""
    for candidate in (path.with_name(path.name + ".source.json"), path.with_name(path.stem + ".source.json")):
        if candidate.is_file():
            return candidate
    return None


_SOURCE_REQUIRED = ("source_id", "issuer", "title", "area_unit_id", "period_id")


def _source_row(dataset: Dataset, source, digest: str, path: Path, draft=None) -> tuple[dict, bool, list[str]]:
    """(sources row, is new, notes) for a document: given, found by hash, or drafted from the
    document (``draft``: a callable returning the drafted row), a sidecar overriding the draft."""
    sources = dataset.sources
    notes: list[str] = []
    if isinstance(source, str):
        match = sources.loc[sources["source_id"] == source]
        if match.empty:
            raise DataError(f"source '{source}' is not in sources.csv", file=path)
        return match.iloc[0].to_dict(), False, notes
    if source is None:
        match = sources.loc[sources["sha256"] == digest]
        if not match.empty:
            return match.iloc[0].to_dict(), False, notes
        side = sidecar_path(path)
        given = {}
        if side is not None:
            try:
                given = json.loads(side.read_text(encoding="utf-8"))
            except ValueError as exc:
                raise DataError(f"malformed JSON: {exc}", file=side) from None
            if not isinstance(given, dict):
                raise DataError("expected a JSON object with the sources.csv fields", file=side)
        if side is not None and all(given.get(k) for k in _SOURCE_REQUIRED):
            source = given
            notes.append(f"provenance from {side.name}")
        elif draft is None:
            raise DataError(f"no provenance for this document: sources.csv has no row with its SHA-256 "
                            f"and there is no {path.name}.source.json beside it; write one with "
                            f"{', '.join(_SOURCE_REQUIRED)} (and doc_number, issued_date, data_as_of)",
                            file=path)
        else:
            drafted, notes = draft(given)
            overridden = [k for k, v in given.items() if v not in (None, "")]
            source = {**drafted, **{k: v for k, v in given.items() if v not in (None, "")}}
            if overridden:
                notes.append(f"{side.name} overrides the draft for: {', '.join(overridden)}")
    missing = [k for k in _SOURCE_REQUIRED if not source.get(k)]
    if missing:
        raise DataError(f"document provenance lacks {', '.join(missing)}", file=path)
    if source.get("sha256") and source["sha256"] != digest:
        raise DataError(f"provenance gives SHA-256 {source['sha256'][:12]}… but the file hashes to "
                        f"{digest[:12]}…", file=path)
    row = {"kind": "document", "as_published": True, "origin": origin_of(path), **source, "sha256": digest}
    for key in ("issued_date", "data_as_of", "cutoff_date"):
        if isinstance(row.get(key), str) and row[key]:
            row[key] = date.fromisoformat(row[key])
    return row, True, notes


def read_items(path: Path) -> tuple[list[tuple], object]:
    """The items of a document file and, for a web page, its metadata (else None).

    Raises
    ------
    DataError
        Not a readable .docx, not UTF-8 text, binary content.
    """
    suffix = path.suffix.lower()
    if suffix == ".docx":
        try:
            return docx_items(path), None
        except Exception as exc:  # python-docx raises several kinds for a file that is not a .docx
            raise DataError(f"not a readable .docx file ({type(exc).__name__}: {exc})", file=path) from None
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        if suffix in (".html", ".htm"):
            m = re.search(rb"charset=[\"']?([\w-]+)", raw[:4096], re.I)
            try:
                text = raw.decode(m[1].decode("ascii")) if m else None
            except (LookupError, UnicodeDecodeError):
                text = None
            if text is None:
                raise DataError(f"not UTF-8 text and no usable charset declared (byte 0x{raw[exc.start]:02x} "
                                f"at offset {exc.start})", file=path) from None
        else:
            raise DataError(f"not UTF-8 text (byte 0x{raw[exc.start]:02x} at offset {exc.start}); "
                            f"save the report as UTF-8", file=path) from None
    if "\x00" in text:
        raise DataError("binary content: not a text, markdown or HTML report", file=path)
    if suffix in (".html", ".htm"):
        items, meta = html_items(text)
        out = []
        for it in items:
            if it[0] == "row":
                out.append(("row", [_html_cell(t, m) for t, m in it[1]], it[2], it[3]))
            else:
                out.append(it)
        return out, meta
    return text_items(text), None


def _html_cell(text: str, marked: bool) -> Cell:
    c = _clean(text)
    return Cell(c.text, marked or c.marked)


def import_document(path: Path | str, *, dataset: Dataset, source: str | dict | None = None,
                    allow_empty: bool = False) -> ImportResult:
    """Read the figures of a report: its tables and its running text (.docx, .txt, .md, .html).

    Parameters
    ----------
    path : path
    dataset : Dataset
        Units, aliases, periods and sources of the target data directory.
    source : str, dict or None
        A ``source_id`` of ``dataset.sources``; or a dict of sources fields for a new source;
        or None: the source whose ``sha256`` equals the file's, else a provenance drafted from
        the document itself (:func:`analysis.importers.provenance.draft_source`), each field of
        a sidecar ``<file>.source.json`` overriding the draft.
    allow_empty : bool
        Accept a document from which no figure is read (otherwise an error).

    Returns
    -------
    DocumentResult
        Score and indicator rows, new periods, units (an old province or district the document
        names) and the new source row, plus ``uninterpreted``: every header, unit name, cell or
        sentence with a number that was not read, and ``figures``: where each figure was read.

    Raises
    ------
    DataError
        Wrong kind of file, text that is not UTF-8, no provenance found or drafted, no figure.

    Examples
    --------
    >>> from analysis.config import DATA_DIR, SHARED_DIR
    >>> from analysis.dataset import load_dataset
    >>> seed = SHARED_DIR / "seeds" / "000_9ad0f225468d8a80.txt"
    >>> r = import_document(seed, dataset=load_dataset(DATA_DIR)) if seed.exists() else None
    >>> r is None or len(r.tables["scores"]) > 102
    True
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in DOCUMENT_SUFFIXES:
        raise DataError(f"not a report document (suffix '{path.suffix}'); the document importer reads "
                        f"{', '.join(DOCUMENT_SUFFIXES)}", file=path)
    if not path.is_file():
        raise DataError("file not found", file=path)
    digest = file_sha256(path)
    items, meta = read_items(path)
    new_units: list[dict] = []

    def draft(given: dict):
        from .provenance import draft_source
        row, units_rows, notes = draft_source(items, path=path, digest=digest, dataset=dataset, meta=meta,
                                              given=given)
        new_units.extend(units_rows)
        return row, notes

    row, is_new, prov_notes = _source_row(dataset, source, digest, path, draft=draft)
    extra = rows_frame("units", new_units) if new_units else None
    result = interpret_document(assemble_tables(items), dataset=dataset, source=row, items=items,
                                extra_units=extra)
    result.path = path
    result.notes = prov_notes + result.notes
    if extra is not None:
        result.tables["units"] = pd.concat([extra, result.tables["units"]], ignore_index=True) \
            if len(result.tables["units"]) else extra
        result.notes.append(f"units added: {', '.join(u['unit_id'] for u in new_units)}")
    n_figures = len(result.tables["scores"]) + len(result.tables["indicators"])
    if n_figures == 0 and not allow_empty:
        shown = "; ".join(result.uninterpreted[:3])
        raise DataError(f"no figure was read from this document ({len(result.uninterpreted)} passages with "
                        f"numbers not read{': ' + shown if shown else ''}); pass --allow-empty to import "
                        f"its provenance anyway", file=path)
    if is_new:
        clean = {k: v for k, v in row.items() if k != "cutoff_date"}
        if n_figures == 0:  # imported on purpose without figures: the data check knows it by its note
            from ..dataset import NO_FIGURES_NOTE

            note = clean.get("note")
            clean["note"] = NO_FIGURES_NOTE if not isinstance(note, str) or not note else f"{note}; {NO_FIGURES_NOTE}"
        result.tables["sources"] = rows_frame("sources", [clean])
        if row["period_id"] not in set(dataset.periods["period_id"]) and \
                row["period_id"] not in set(result.tables["periods"]["period_id"]):
            p = parse_period(row["period_id"], cutoff=row.get("cutoff_date"))
            extra_p = {"period_id": p.period_id, "kind": p.kind, "start_date": p.start, "end_date": p.end,
                       "cutoff_date": p.end if p.kind in ("week", "ytd") else None, "label_vi": p.label("vi")}
            result.tables["periods"] = pd.concat([result.tables["periods"], rows_frame("periods", [extra_p])],
                                                 ignore_index=True)
    return result
