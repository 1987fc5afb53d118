"""Read the figures printed in the running text of a 766 report (headlines, lists, news prose).

Tables are read by :mod:`analysis.importers.documents`; this module reads every other line. A
line is split into sentences and clauses (at ``;``), and each clause is searched for the shapes
reports use, in this order (each match is consumed, so a number is read once):

1. **References that are not figures** (dates, document numbers such as ``443/BC-UBND``,
   ``Quyết định số 766``, times, section references ``mục 1.6``, ``Tuần 01``, list numbers):
   dropped. Period phrases among them (``tháng 7/2024``, ``cả năm 2022``) set the clause's period.
2. **Statements about blocks of units** (``Có 9/9 xã, phường xếp loại Yếu``, ``15 đơn vị xếp loại
   xuất sắc``, ``18/18 cơ quan đơn vị cấp tỉnh … có tỷ lệ hài lòng 100%``, ``điểm cao nhất là
   47,34/100``, ``07/07 … đã công khai kết quả``, ``có 10 cơ quan … đạt 100% là A; B; …``).
3. **Changes** (``(tăng 0,9 điểm)``, ``Giảm 11,17 điểm``, ``bằng kỳ trước``), **ranks**
   (``xếp hạng 2/8``, ``xếp thứ 21/63``, ``đứng thứ 14/63``), **bands** (``xếp loại Tốt``,
   ``(mức tốt)``, ``xếp loại “TỐT”``); they belong to the nearest score before them in the clause.
4. **Points** ``x/max điểm``: the group follows from the maximum (100 total, 20 timeliness, 12
   online services, 10 payment) or, for 18 and 22, from the group named in the clause, else in the
   headings above (``công khai`` → CKMB, ``hài lòng`` → MDHL, ``số hóa`` → MDSH, ``dịch vụ trực
   tuyến`` /22 → DVTT). ``đạt 80,1 điểm`` without a maximum is a total only when the clause says
   ``tổng`` or gives a rank or band; ``bình quân cả nước 75,5 điểm`` is the country's total.
5. **Rates and counts** after a label (``- Tỷ lệ hồ sơ xử lý đúng hạn/trong hạn: 90,76 %``,
   ``+ Thanh toán trực tuyến: 79 (60,31%)`` under its ``-`` parent) or inside a sentence
   (``đạt tỷ lệ 61,54% hồ sơ đúng hạn``): the indicator comes from ``INDICATOR_RULES`` (data: a
   pattern on the label, optionally one on its parent line and headings).

Each figure is tied to a unit: one named in the clause (``huyện Na Rì``, ``Sở Tư pháp``, resolved
through :class:`analysis.units.UnitIndex` inside the document's province), else the document's
area, except under a heading or line prefix about a block of units (``Đối với UBND xã, phường``,
``Cấp huyện:``), where only block statements are read. Approximate figures (``trên 90%``,
``80% trở lên``) are not figures. Whatever number is left in a clause after all this is listed as
*not read* with its line: nothing is dropped silently.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

import pandas as pd

from ..errors import DataError, UnknownUnitError
from ..numerals import parse_number
from ..schema import canonical_band
from ..text import nfc

__all__ = ["read_prose", "ProseContext", "INDICATOR_RULES", "GROUP_WORDS", "sentences"]

# Group named in a clause or heading -> group code (for maxima 18 and 22, which two groups share).
GROUP_WORDS: list[tuple[str, str]] = [
    (r"công khai,? minh bạch|công khai", "CKMB"),
    (r"mức độ hài lòng|hài lòng", "MDHL"),
    (r"số hóa|số hoá|chứng thực điện tử", "MDSH"),
    (r"dịch vụ trực tuyến|dịch vụ công trực tuyến|dvctt", "DVTT"),
    (r"tiến độ", "TDGQ"),
    (r"thanh toán", "TTTT"),
]
_MAX_GROUP = {100: "TOTAL", 20: "TDGQ", 12: "ONLINE", 10: "TTTT"}
_SHARED_MAX = {18: ("CKMB", "MDHL"), 22: ("MDSH", "DVTT")}

# (label pattern, context pattern or None, indicator). The label is the text before ':' of a
# list line (or the words around a figure in a sentence), lower case; the context is the parent
# list line and the headings above. First match wins, so specific rules come first.
INDICATOR_RULES: list[tuple[str, str | None, str]] = [
    (r"chưa đồng bộ", None, "dossiers_not_synced"),
    (r"đồng bộ", None, "dossiers_synced"),
    (r"cập nhật,? công khai đúng hạn", None, "procedures_updated_on_time"),
    (r"công bố đúng hạn", None, "procedures_published_on_time"),
    (r"công khai (có )?đầy đủ", None, "procedures_published_full"),
    (r"hài lòng trong (xử lý )?phản ánh", None, "satisfaction_pakn_rate"),
    (r"hài lòng trong (xử lý )?(tiếp nhận|giải quyết)", None, "satisfaction_dossier_rate"),
    (r"mức độ hài lòng", None, "satisfaction_rate"),
    (r"phản ánh,? kiến nghị (được )?xử lý đúng hạn", None, "pakn_on_time_rate"),
    (r"^kiến nghị về (những )?vướng mắc", r"phân loại", "pakn_share_difficulties"),
    (r"^phản ánh về hành vi", r"phân loại", "pakn_share_staff_conduct"),
    (r"xử lý đúng hạn", r"nộp trực tuyến", "online_on_time_rate"),
    (r"xử lý quá hạn", r"nộp trực tuyến", "online_overdue_rate"),
    (r"nộp trực tiếp", None, "offline_submission_rate"),
    (r"nộp (hồ sơ )?trực tuyến", r"nộp (hồ sơ )?trực tuyến|^$", "online_submission_rate"),
    (r"hồ sơ nộp trực tuyến", None, "online_submission_rate"),
    (r"^thanh toán trực tuyến$", r"giao dịch thanh toán", "payment_procedures_online"),
    (r"^thanh toán trực tiếp", r"giao dịch thanh toán", "payment_procedures_offline"),
    (r"^thanh toán trực tuyến$", r"hồ sơ thanh toán", "payment_dossiers_online"),
    (r"^thanh toán trực tiếp", r"hồ sơ thanh toán", "payment_dossiers_offline"),
    (r"^cung cấp trên cổng", r"nghĩa vụ tài chính", "fee_procedures_on_portal"),
    (r"^chưa tích hợp", r"nghĩa vụ tài chính", "fee_procedures_not_integrated"),
    (r"(dvctt|dịch vụ công trực tuyến) một phần", None, "procedures_online_partial"),
    (r"(dvctt|dịch vụ công trực tuyến) toàn trình", None, "procedures_online_full"),
    (r"cung cấp thông tin trực tuyến", None, "procedures_online_info"),
    (r"^còn lại$", r"dịch vụ công trực tuyến|dvctt", "procedures_not_online"),
    (r"quá hạn|trễ hạn", None, "overdue_rate"),
    (r"đúng hạn|xử lý hồ sơ", None, "on_time_rate"),
    (r"cấp kết quả (giải quyết )?(tthc )?điện tử|kết quả điện tử", None, "e_results_rate"),
    (r"khai thác,? sử dụng lại", None, "reuse_rate"),
    (r"số hóa hồ sơ,? kết quả|thực hiện số hóa", None, "digitised_dossiers_rate"),
    (r"tài khoản.*xác thực", None, "verified_accounts"),
    (r"hồ sơ chứng thực", None, "e_certified_copies"),
    (r"thanh toán trực tuyến", None, "online_payment_rate"),
]

_NUM = r"\d+(?:[.,]\d+)*"
_BAND_WORDS = r"xuất sắc|tốt|khá|trung bình|yếu|tb"
_PERIOD_MONTH = re.compile(r"tháng\s*0?(\d{1,2})\s*(?:/|năm)\s*(\d{4})", re.I)
_PERIOD_YEAR = re.compile(r"(?:cả|trong|của)\s+năm\s+(\d{4})", re.I)
_REFERENCES = [
    r"https?://\S+|<[^>]+>",
    r"\b\d{1,2}\s*/\s*\d{1,2}\s*/\s*\d{4}\b",
    r"ngày\s+\d{1,2}\s+tháng\s+\d{1,2}\s+năm\s+\d{4}",
    r"(?i:tháng)\s*0?\d{1,2}\s*(?:/|năm)\s*\d{4}",
    r"\b(?:từ\s+)?(?:đầu\s+)?năm\s+\d{4}",
    r"ngày\s+\d{1,2}\s*/\s*\d{1,2}(?:\s*/\s*\d{4})?",
    r"\d{1,2}\s*/\s*\d{4}",
    r"(?:Số|số)\s*:?\s*\d*\s*/\s*[A-ZĐ][\wĐ\-/]*",
    r"\b\d+\s*/\s*[A-ZĐ][A-ZĐa-zđ\-]*[A-ZĐ][\wĐ\-]*",
    r"\b\d+\s*-\s*[A-ZĐ]{2,}/[A-ZĐ]+",
    r"(?:Quyết định|Nghị quyết|Công văn|Kế hoạch|Chỉ thị|Thông tư|Nghị định)\s+(?:số\s+)?\d+",
    r"\b\d+\s*giờ\b",
    r"(?i:bộ chỉ số|chỉ số)\s+766\b",
    r"\b(?:mục|khoản|điểm|Điều|Phụ lục|phụ lục|Hình|Biểu đồ|Bảng|hình)\s+[\dIVX]+(?:\.\d+)*\b",
    r"\b(?i:tuần)\s*0?\d+\b",
    r"\b(?i:phường|quận)\s+\d{1,2}\b",
    r"\b(?i:tháng)\s*0?\d{1,2}\b",
    r"\b(?i:quý)\s*(?:[IV]+|\d)(?:\s*(?:/|năm)\s*\d{4})?\b",
    r"\b6\s*(?i:tháng)\s*(?:đầu|cuối)\s*năm\s*\d{4}",
    r"\b[Kk]hóa\s+[IVX]+\b",
    r"\b(?:Tổng|tổng)\s+điểm\s+\d+\b",
]
_REFERENCE = re.compile("|".join(f"(?:{p})" for p in _REFERENCES))
_LEADING = re.compile(r"^\s*(?:#+\s*)?(?:[IVX]+\.|\d+(?:\.\d+)*\.?(?=\s)|[a-zđ]\)|[-+•*–])\s*")
_LIST_NUMBER = re.compile(r"^\s*(?:[IVX]+\.|\d+(?:\.\d+)*\.(?=\s)|\d+\)|[a-zđ]\)|[-+•*–])\s*")
_DEPARTMENT = re.compile(r"^\s*((?:Sở|Ban|Thanh tra|Văn phòng|Công an|Bảo hiểm xã hội|Cục|Chi cục|Trung tâm)\b.*?)"
                         r"\s+(?:dẫn đầu|đạt|xếp|với|có|được|đứng)\b")
_APPROX = re.compile(rf"(?:trên|dưới|gần|hơn|khoảng|xấp xỉ|tối thiểu|ít nhất|tối đa)\s+{_NUM}\s*%?"
                     rf"|{_NUM}\s*%?\s*trở lên|{_NUM}\s*%?\s*trở xuống")
_UNIT_NAME_RE = re.compile(
    r"(?<![\w])(?:UBND\s+|Ủy ban nhân dân\s+)?"
    r"(tỉnh|thành phố|huyện|thị xã|thị trấn|quận|xã|phường|Thành phố|Tỉnh|Huyện|Thị xã|Xã|Phường)"
    r"\s+(\w+(?:\s+\w+){0,5})")


class _UnitNames:
    """Unit names in a text: a type word followed by capitalised words (or a number)."""

    @staticmethod
    def finditer(text: str):
        for m in _UNIT_NAME_RE.finditer(text):
            words = []
            for k, w in enumerate(m[2].split()):
                if w[:1].isupper() or (k == 0 and w.isdigit()):
                    words.append(w)
                else:
                    break
            if words:
                yield (m[0], m[1], " ".join(words))


_UNIT_NAME = _UnitNames()
_DEPT_NAME = re.compile(r"^\s*(Sở|Ban|Thanh tra|Văn phòng|Trung tâm|Công an|Bảo hiểm|Cục|Chi cục)\b")


@dataclass
class ProseContext:
    """What the prose reader needs to know about the document."""

    source_id: str
    period: object              # analysis.periods.Period of the document
    area: str                   # area unit id
    province: str | None
    index: object               # analysis.units.UnitIndex
    units: pd.DataFrame         # indexed by unit_id
    catalog: pd.DataFrame       # indicator catalogue indexed by code
    country: str = "viet-nam"   # the country unit (national averages)
    country_used: bool = False
    extra_units: list = field(default_factory=list)


def _fold(text: str) -> str:
    return " ".join(nfc(text).casefold().split())


def _num(text: str, *, integer: bool = False) -> float:
    value = parse_number(text.strip(), integer=integer)
    if value is None:
        raise DataError(f"'{text}' is not a number")
    return float(value)


def _decimals(text: str) -> int:
    s = text.strip()
    if "," in s:
        return len(s.rsplit(",", 1)[1])
    if "." in s and not re.fullmatch(r"\d{1,3}(\.\d{3})+", s):
        return len(s.rsplit(".", 1)[1])
    return 0


def sentences(line: str) -> list[str]:
    """Split a line into sentences (a full stop followed by a capital letter or a list item).

    Examples
    --------
    >>> sentences("Đạt 14,1/18 điểm. Trong tháng 7, có 10 đơn vị.")
    ['Đạt 14,1/18 điểm.', 'Trong tháng 7, có 10 đơn vị.']
    """
    parts = re.split(r"(?<=[^\d\s][.!?])\s+(?=[A-ZĐÀ-Ỹ\"“(*])", line)
    return [p for p in (s.strip() for s in parts) if p]


class _Blank:
    """A clause whose consumed spans are blanked out, so a number is read once."""

    def __init__(self, text: str):
        self.text = text
        self.work = text

    def take(self, start: int, end: int) -> None:
        self.work = self.work[:start] + " " * (end - start) + self.work[end:]

    def left(self) -> list[str]:
        return re.findall(r"\d+(?:[.,]\d+)*", self.work)


class _Headings:
    """Stack of numbered headings (roman, then dotted arabic) with their text."""

    def __init__(self):
        self.stack: list[tuple[int, str, str]] = []  # (depth, number, text)

    def update(self, line: str) -> bool:
        s = line.lstrip("#").strip().replace("*", "")
        m = re.match(r"^([IVX]+)\.\s+(.*)", s)
        if m:
            self.stack = [(0, m[1], m[2])]
            return True
        m = re.match(r"^(\d{1,2}(?:\.\d{1,2})+)\.?\s+(.*)", s) or re.match(r"^(\d{1,2})\.\s+(.*)", s)
        if m and not m[2].startswith(("/", "%")):
            depth = m[1].count(".") + 1
            self.stack = [h for h in self.stack if h[0] < depth] + [(depth, m[1], m[2])]
            return True
        return False

    @property
    def number(self) -> str | None:
        return ".".join(h[1] for h in self.stack) or None

    def texts(self) -> list[str]:
        return [h[2] for h in reversed(self.stack)]


def _block_of(text: str) -> str | None:
    """Level of a block of units a heading or prefix speaks about (``xã, phường`` -> commune)."""
    t = _fold(text)
    if re.search(r"cấp xã|(ubnd|các) xã|xã, phường|xã, thị trấn|phường, xã", t):
        return "commune"
    if re.search(r"cấp huyện|các huyện", t):
        return "district"
    if re.search(r"cấp tỉnh|các sở|sở, ban, ngành", t):
        return "department"
    return None


def _group_in(text: str, maximum: float | None) -> str | None:
    t = _fold(text)
    found = None
    best = -1
    for pattern, group in GROUP_WORDS:
        for m in re.finditer(pattern, t):
            if m.start() > best:
                best, found = m.start(), group
    if found == "DVTT" and maximum == 12:
        return "ONLINE"
    return found


def _indicator_for(label: str, context: str, catalog) -> str | None:
    lab, ctx = _fold(label), _fold(context)
    for pattern, ctx_pattern, indicator in INDICATOR_RULES:
        if re.search(pattern, lab) and (ctx_pattern is None or re.search(ctx_pattern, ctx)):
            return indicator if indicator in catalog.index else None
    return None


class _Reader:
    def __init__(self, ctx: ProseContext):
        self.ctx = ctx
        self.scores: list[dict] = []
        self.indicators: list[dict] = []
        self.not_read: list[str] = []
        self.read_lines: list[str] = []
        self.periods: list[str] = []
        self.headings = _Headings()
        self.parent = ""
        self.paragraph = 0

    # -- helpers ---------------------------------------------------------------------------
    def section(self) -> str:
        number = self.headings.number
        return f"{number} (đoạn văn)" if number else f"đoạn {self.paragraph} (văn bản)"

    def period_of(self, clause: str) -> str:
        p = self.ctx.period
        for m in _PERIOD_MONTH.finditer(clause):
            month, year = int(m[1]), int(m[2])
            if (year, month) != (p.year, p.month):
                if re.search(r"bằng\s*$", clause[:m.start()]):
                    continue
                return f"{year}-{month:02d}"
        if m := _PERIOD_YEAR.search(clause):
            if "cả năm" in clause[max(0, m.start() - 3):m.end()] or p.year != int(m[1]):
                return m[1]
        return p.period_id

    def unit_in(self, clause: str) -> tuple[str | None, str | None]:
        """(unit id named in the clause, problem)."""
        found, problems = [], []
        clause = re.split(r"\b(?:gồm|là)\s*:", clause)[0]  # a list of member units is not the subject
        clause = re.sub(r"^[^:]{0,40}:\s*", "", clause) if re.match(r"^[^:\d]{0,40}:", clause) else clause
        if m := _DEPARTMENT.match(clause):
            name = m[1].strip(" ,")
            try:
                uid = self.ctx.index.resolve(name, province=self.ctx.province)
            except UnknownUnitError as exc:
                return None, str(exc)
            if uid is None:
                return None, f"unit '{name}' is not in units.csv or unit_aliases.csv"
            return uid, None
        for _, kind, name in _UNIT_NAME.finditer(clause):
            if kind.casefold() in ("tỉnh", "thành phố") and name in ("Đoàn", "Ủy"):
                continue
            text = f"{kind.casefold()} {name}"
            try:
                uid = self.ctx.index.resolve(text, province=self.ctx.province, parent=None)
            except UnknownUnitError as exc:
                problems.append(str(exc))
                continue
            if uid is None and kind.casefold() in ("tỉnh",):
                uid = self.ctx.index.resolve(text)  # another province named in the text
            if uid is None:
                problems.append(f"unit '{text}' is not in units.csv or unit_aliases.csv")
            elif uid not in found:
                found.append(uid)
        if len(found) > 1:
            # the area and its province are often named together ("huyện X, tỉnh Y")
            own = [u for u in found if u == self.ctx.area]
            if own:
                return own[0], None
            return None, f"names several units ({', '.join(found)})"
        if found:
            return found[0], None
        if problems:
            return None, "; ".join(problems)
        return None, None

    def score(self, unit, period, group, value, decimals, maximum, line, text, **extra) -> dict:
        rec = {"source_id": self.ctx.source_id, "section": self.section(), "unit_id": unit,
               "period_id": period, "group": group, "value": value, "max_stated": maximum,
               "decimals": decimals, "rank": None, "rank_of": None, "rank_block": None, "band": None,
               "change": None, "marked": False, "note": None, "_line": line, "_text": text}
        rec.update(extra)
        self.scores.append(rec)
        if period not in self.periods:
            self.periods.append(period)
        return rec

    def indicator(self, unit, period, indicator, measure, value, decimals, line, text, *,
                  denominator=None, category=None, block=None, section=None) -> bool:
        cat = self.ctx.catalog
        allowed = cat.at[indicator, "measures"] if indicator in cat.index else ()
        if isinstance(allowed, str):
            allowed = allowed.split("|")
        if indicator not in cat.index or measure not in allowed:
            return False
        self.indicators.append({
            "source_id": self.ctx.source_id, "section": section or self.section(), "unit_id": unit,
            "period_id": period, "indicator": indicator, "measure": measure, "category": category,
            "block": block, "value": value, "denominator": denominator, "decimals": decimals,
            "marked": False, "note": None, "_line": line, "_text": text})
        if period not in self.periods:
            self.periods.append(period)
        return True

    # -- one line ----------------------------------------------------------------------------
    def line(self, text: str, n: int) -> None:
        raw = nfc(text).replace("**", "").replace("*", "").replace("\u00a0", " ").strip()
        if not raw:
            return
        is_heading = self.headings.update(raw)
        stripped = raw.lstrip("#").strip()
        bullet = stripped[:1]
        bullet = bullet if bullet in ("-", "+", "•", "–") else ""
        if bullet in ("-", "–") or is_heading:
            self.parent = ""
        body = _LEADING.sub("", stripped, count=1) if (bullet or is_heading) else stripped
        if not is_heading and not bullet:
            self.paragraph += 1
        block = None
        for t in self.headings.texts()[:1]:
            block = _block_of(t) if re.match(r"^\s*(đối với|cấp)\b", _fold(t)) else None
        prefix = re.match(r"^(Cấp (?:tỉnh|huyện|xã)|Đối với (?:UBND |các )?[^,:]*?(?:xã, phường|cấp \w+|xã|phường))\s*[:,]",
                          body)
        if prefix:
            block = _block_of(prefix[1])
        if block is None and re.match(r"^\s*đối với (thành phố|huyện|thị xã|tỉnh)", _fold(body)):
            block = None
        parent = self.parent
        if bullet in ("-", "–") and body.rstrip().endswith(":"):
            self.parent = body.rstrip(": ")
        # a '- label: values' line (or '+ label: values' under its parent)
        done = False
        if ":" in body and (bullet or is_heading or re.match(r"^[^:]{3,160}:\s*[\d(]", body)):
            label, _, values = body.partition(":")
            if re.search(r"\d", values) and not re.search(r"\d", _REFERENCE.sub(" ", label)):
                done = self.label_values(label, values, parent if bullet == "+" else "", block, n, body)
        if not done:
            for sentence in sentences(body):
                self.sentence(sentence, block, n, parent)

    def label_values(self, label, values, parent, block, n, text) -> bool:
        """``Tỷ lệ …: 33 TTHC (đạt 10,65 %)`` -> indicator rows; False when it is not such a line."""
        m_month = re.fullmatch(r"\s*[Tt]háng\s*0?(\d{1,2})\s*", label)
        if m_month or re.search(r"/\s*(100|22|20|18|12|10)\s*điểm", values):
            return False  # a monthly series or a score: read as a sentence
        headings = " ".join(self.headings.texts())
        indicator = _indicator_for(label, f"{parent} {headings}" if parent else headings, self.ctx.catalog)
        if indicator is None and parent:
            indicator = _indicator_for(label, parent, self.ctx.catalog)
        if indicator is None:
            return False
        if block is not None:
            return False
        clause = _Blank(values)
        for m in _REFERENCE.finditer(values):
            clause.take(m.start(), m.end())
        for m in _APPROX.finditer(clause.work):
            return False
        quantities = list(re.finditer(rf"({_NUM})\s*(?:/\s*({_NUM}))?\s*(%)?", clause.work))
        if not quantities:
            return False
        unit, problem = self.unit_in(label)
        if problem:
            self.not_read.append(f"line {n}: '{text}': {problem}; not read")
            return True
        unit = unit or self.ctx.area
        period = self.period_of(label + " " + values)
        read = []
        for q in quantities:
            number, denom, pct = q[1], q[2], q[3]
            try:
                if pct:
                    ok = self.indicator(unit, period, indicator, "percent", _num(number), _decimals(number),
                                        n, text)
                else:
                    value = _num(number, integer=True)
                    ok = self.indicator(unit, period, indicator, "count", value, 0, n, text,
                                        denominator=_num(denom, integer=True) if denom else None)
            except DataError:
                ok = False
            if ok:
                clause.take(q.start(), q.end())
                read.append(q[0])
        left = clause.left()
        if left:
            self.not_read.append(f"line {n}: '{text}': {', '.join(left)} not read")
        if read:
            self.read_lines.append(f"line {n}")
        return True

    def sentence(self, sentence: str, block, n, parent) -> None:
        clause_texts = [c for c in re.split(r";\s*", sentence) if c.strip()]
        last_indicator = None
        self.named_list(sentence, block, n)
        for ct in clause_texts:
            last_indicator = self.clause(ct, block, n, last_indicator, parent, sentence)

    def named_list(self, sentence, block, n) -> None:
        """``có 10 cơ quan, đơn vị … đạt 100% là A; B; …`` -> one rate per named unit."""
        m = re.search(rf"có\s+(\d+)\s+(?:cơ quan,?\s*đơn vị|đơn vị|cơ quan)\s+(.*?)\s+đạt\s+({_NUM})\s*%\s+là\s+(.+?)\.?$",
                      sentence)
        if not m:
            return
        indicator = _indicator_for(m[2], "", self.ctx.catalog)
        names = [x.strip(" .") for x in re.split(r";", m[4]) if x.strip(" .")]
        if indicator is None or len(names) != int(m[1]):
            return
        try:
            uids = [self.ctx.index.resolve(x, province=self.ctx.province) for x in names]
        except UnknownUnitError:
            return
        if any(u is None for u in uids):
            missing = [x for x, u in zip(names, uids) if u is None]
            self.not_read.append(f"line {n}: units named with {m[3]}% not in units.csv: {'; '.join(missing)}")
            self._consumed_list = sentence
            return
        period = self.period_of(sentence)
        for uid in uids:
            self.indicator(uid, period, indicator, "percent", _num(m[3]), _decimals(m[3]), n, sentence)
        self._consumed_list = sentence

    def clause(self, text, block, n, last_indicator, parent, sentence):
        if getattr(self, "_consumed_list", None) == sentence:
            return last_indicator
        c = _Blank(text)
        period = self.period_of(text)
        for m in _REFERENCE.finditer(text):
            c.take(m.start(), m.end())
        lead = _LIST_NUMBER.match(c.work)
        if lead:
            c.take(0, lead.end())
        self.named(text, n, period)
        if not c.left():
            return last_indicator
        self.blocks(c, block, n, period, text)
        # monthly series 'Tháng 1: 66,13/100 điểm, xếp thứ 31/63'
        m = re.match(r"^\s*[Tt]háng\s*0?(\d{1,2})\s*:", text)
        if m and block is None:
            month = int(m[1])
            p = self.ctx.period
            year = p.year if month <= (p.month or 12) else p.year - 1
            period = f"{year}-{month:02d}" if (year, month) != (p.year, p.month) else p.period_id
        unit, problem = self.unit_in(text)
        # 'bình quân cả nước 75.5 điểm': the country's total, whatever else the clause says
        country = False
        for m in re.finditer(rf"(?:bình quân|trung bình)\s+(?:của\s+)?cả nước[^\d;]{{0,25}}?({_NUM})\s*"
                             rf"(?:/\s*100\s*)?điểm", c.work, re.I):
            self.ctx.country_used = country = True
            self.score(self.ctx.country, period, "TOTAL", _num(m[1]), _decimals(m[1]),
                       100.0 if "/" in m[0] else None, n, text)
            c.take(m.start(), m.end())
        if unit is None and not country and block is None and \
                re.search(r"\b(bình quân|trung bình chung|các xã|các phường|các đơn vị|các sở|các huyện)\b",
                          text, re.I):
            block = "several units"  # an average or a statement about a block: not the area's figure
        # changes, ranks, bands: positions to attach to the nearest score before them
        attach = []
        for m in re.finditer(rf"\(?\s*(tăng|giảm|Tăng|Giảm)\s+({_NUM})\s*điểm\s*\)?", c.work):
            sign = -1 if m[1].casefold() == "giảm" else 1
            attach.append((m.start(), "change", sign * _num(m[2])))
            c.take(m.start(), m.end())
        for m in re.finditer(r"\(?\s*(bằng kỳ trước|không thay đổi|giữ nguyên)\s*\)?", c.work, re.I):
            attach.append((m.start(), "change", 0.0))
        for m in re.finditer(r"(?:xếp hạng|xếp thứ|đứng thứ|đứng hạng|thứ hạng)\s*(?:thứ\s*)?(\d+)\s*/\s*(\d+)",
                             c.work, re.I):
            attach.append((m.start(), "rank", (int(m[1]), int(m[2]))))
            c.take(m.start(), m.end())
        for m in re.finditer(rf"(?:xếp loại|đạt loại|\(mức|mức)\s*[“\"']?\s*({_BAND_WORDS})\s*[”\"']?\s*\)?",
                             c.work, re.I):
            band = canonical_band(m[1]) or canonical_band(m[1].upper()) or canonical_band(m[1].casefold())
            if band:
                attach.append((m.start(), "band", band))
        # scores
        found = []
        for m in re.finditer(rf"({_NUM})\s*/\s*(100|22|20|18|12|10)\s*(?:điểm)", c.work):
            found.append((m.start(), m.end(), m[1], float(m[2])))
        if not found:
            for m in re.finditer(rf"(?:đạt|được|là|với|cả nước)\s*:?\s*({_NUM})\s*điểm", c.work):
                found.append((m.start(1), m.end(), m[1], None))
            if found and not (re.search(r"tổng", text, re.I) or attach):
                found = []
        recs = []
        last_end = 0
        for start, end, number, maximum in found:
            window = text[last_end:start]
            last_end = end
            if maximum is not None and int(maximum) in _MAX_GROUP:
                group = _MAX_GROUP[int(maximum)]
            elif maximum is None:
                group = "TOTAL"
            else:
                group = _group_in(window, maximum) or _group_in(text[:start], maximum)
                if group is None:
                    group = next((g for t in self.headings.texts() + [parent]
                                  if (g := _group_in(t, maximum))), None)
                if group not in _SHARED_MAX.get(int(maximum), ()):
                    self.not_read.append(f"line {n}: '{text.strip()}': {number}/{maximum:g} điểm: "
                                         f"the group is not named; not read")
                    continue
            if problem:
                self.not_read.append(f"line {n}: '{text.strip()}': {problem}; not read")
                continue
            if block is not None and unit is None:
                continue  # about a block of units: left for the 'not read' list below
            uid = unit or self.ctx.area
            c.take(start, end)
            recs.append((start, self.score(uid, period, group, _num(number), _decimals(number), maximum,
                                           n, text)))
        for pos, kind, value in sorted(attach, key=lambda t: t[0]):
            before = [r for s, r in recs if s <= pos]
            after = [r for s, r in recs if s > pos]
            if not before and not after:
                continue
            rec = before[-1] if before else after[0]
            if kind == "rank":
                rec["rank"], rec["rank_of"] = value
                rec["rank_block"] = self.ctx.units.at[rec["unit_id"], "level"] \
                    if rec["unit_id"] in self.ctx.units.index else None
            elif kind == "band":
                rec["band"] = value
            else:
                rec["change"] = value
        # 'thứ hạng bằng tháng 6/2024': the same rank in that month
        m = re.search(r"thứ hạng bằng tháng\s*0?(\d{1,2})\s*/\s*(\d{4})", text)
        if m and recs and recs[0][1].get("rank"):
            rec = recs[0][1]
            pid = f"{int(m[2])}-{int(m[1]):02d}"
            self.score(rec["unit_id"], pid, rec["group"], None, None, None, n, text,
                       rank=rec["rank"], rank_of=rec["rank_of"], rank_block=rec["rank_block"])
        for m in re.finditer(rf"(?:xếp loại|đạt loại|\(mức|mức)\s*[“\"']?\s*({_BAND_WORDS})", c.work, re.I):
            if recs:
                c.take(m.start(), m.end())
        # rates and counts inside the sentence
        last_indicator = self.inline(c, text, block, unit, problem, period, n, last_indicator, parent)
        for m in _APPROX.finditer(c.work):
            self.not_read.append(f"line {n}: '{m[0].strip()}' is approximate, not a figure: '{text.strip()}'")
            c.take(m.start(), m.end())
        left = c.left()
        if left:
            self.not_read.append(f"line {n}: '{text.strip()}': {', '.join(left)} not read")
        elif recs:
            self.read_lines.append(f"line {n}")
        return last_indicator

    def inline(self, c, text, block, unit, problem, period, n, last_indicator, parent):
        nums = list(re.finditer(rf"({_NUM})\s*%", c.work))
        record = not problem and (block is None or unit is not None)
        if nums:
            prev_end = 0
            for i, m in enumerate(nums):
                nxt = nums[i + 1].start() if i + 1 < len(nums) else len(c.text)
                after = re.split(r"[,;(]", c.text[m.end():nxt])[0]
                window = c.text[prev_end:m.start()] + " " + after
                prev_end = m.end()
                indicator = _indicator_for(window, parent, self.ctx.catalog) or last_indicator
                if re.search(r"(trên|dưới|gần|khoảng|hơn)\s*$", c.text[:m.start()]) or \
                        re.match(r"\s*trở (lên|xuống)", c.text[m.end():]):
                    last_indicator = indicator
                    continue  # approximate: listed as not read below
                if indicator is None or not record:
                    last_indicator = indicator or last_indicator
                    continue
                if self.indicator(unit or self.ctx.area, period, indicator, "percent", _num(m[1]),
                                  _decimals(m[1]), n, text):
                    c.take(m.start(), m.end())
                    last_indicator = indicator
        # 'có 1.064 hồ sơ quá hạn': overdue dossiers as listed
        m = re.search(rf"(?:có|là)\s+({_NUM})\s+hồ sơ\s+(?:xử lý\s+)?quá hạn", c.work)
        if m and not problem and (block is None or unit is not None):
            if self.indicator(unit or self.ctx.area, period, "overdue_dossiers", "count",
                              _num(m[1], integer=True), 0, n, text):
                c.take(m.start(), m.end())
        # counts of e-certified copies and units in a sentence about e-certification
        if not problem and re.search(r"chứng thực", text):
            blk = block or _block_of(text)
            m = re.search(rf"({_NUM})\s+hồ sơ\s+(?:TTHC\s+)?chứng thực", c.work)
            if m and blk is None:
                if self.indicator(unit or self.ctx.area, period, "e_certified_copies", "count",
                                  _num(m[1], integer=True), 0, n, text):
                    c.take(m.start(), m.end())
            m = re.search(rf"(?:tại|có)\s+({_NUM})(?:\s*/\s*({_NUM}))?\s+đơn vị", c.work)
            if m:
                denom = _num(m[2], integer=True) if m[2] else None
                if (blk is None) or denom is not None:
                    if self.indicator(unit or self.ctx.area, period, "e_cert_units_deployed", "count",
                                      _num(m[1], integer=True), 0, n, text, denominator=denom, block=blk):
                        c.take(m.start(), m.end())
        return last_indicator

    def blocks(self, c: _Blank, block, n, period, text) -> None:
        """Statements about a block of units (counts by band, highest/lowest totals …)."""
        area = self.ctx.area
        t = c.work
        # 'Có 9/9 xã, phường xếp loại Yếu'; '15 đơn vị xếp loại xuất sắc'
        for m in re.finditer(rf"(\d+)(?:\s*/\s*(\d+))?\s+(đơn vị|xã, phường|xã, thị trấn|xã|phường|huyện|sở[^,;]*?"
                             rf"|cơ quan[^,;]*?)\s+(?:được\s+)?xếp loại\s+[“\"']?({_BAND_WORDS})", t, re.I):
            noun = m[3].casefold()
            blk = _block_of(m[3]) or (
                "department" if noun.startswith(("sở", "cơ quan")) else
                "commune" if noun.split(",")[0] in ("xã", "phường", "thị trấn") else
                "district" if noun == "huyện" else None) or block
            band = canonical_band(m[4]) or canonical_band(m[4].casefold()) or canonical_band(m[4].upper())
            if blk is None or band is None:
                continue
            if self.indicator(area, period, "units_by_band", "count", float(m[1]), 0, n, text,
                              denominator=float(m[2]) if m[2] else None, category=band, block=blk):
                c.take(m.start(), m.end())
        # 'Điểm số cao nhất là 47,34/100 điểm, điểm thấp nhất là 34,75/100 điểm'
        for m in re.finditer(rf"(cao nhất|thấp nhất)\s+(?:là|đạt)\s+({_NUM})\s*(?:/\s*100)?\s*điểm", c.work):
            blk = block or _block_of(text)
            if blk is None:
                continue
            ind = "unit_total_max" if m[1] == "cao nhất" else "unit_total_min"
            if self.indicator(area, period, ind, "points", _num(m[2]), _decimals(m[2]), n, text, block=blk):
                c.take(m.start(), m.end())
        # '18/18 cơ quan đơn vị cấp tỉnh, 8/8 đơn vị cấp huyện có tỷ lệ hài lòng 100%'
        m = re.search(r"((?:\d+\s*/\s*\d+\s+[^,;/]*?cấp (?:tỉnh|huyện|xã)[,\s]*)+)có tỷ lệ hài lòng\s+100\s*%",
                      c.work)
        if m:
            for part in re.finditer(r"(\d+)\s*/\s*(\d+)\s+([^,;/]*?cấp (tỉnh|huyện|xã))", m[1]):
                blk = {"tỉnh": "department", "huyện": "district", "xã": "commune"}[part[4]]
                category = " ".join(part[3].split())
                self.indicator(area, period, "units_satisfaction_100", "count", float(part[1]), 0, n, text,
                               denominator=float(part[2]), category=category, block=blk)
            c.take(m.start(), m.end())
        # '07/07 cơ quan, đơn vị cấp huyện đã công khai kết quả'
        m = re.search(r"(\d+)\s*/\s*(\d+)\s+[^;/]*?cấp (tỉnh|huyện|xã)\s+đã công khai kết quả", c.work)
        if m:
            blk = {"tỉnh": "department", "huyện": "district", "xã": "commune"}[m[3]]
            if self.indicator(area, period, "units_publishing_results", "count", float(m[1]), 0, n, text,
                              denominator=float(m[2]), block=blk):
                c.take(m.start(), m.end())

    def named(self, text, n, period) -> None:
        """Units named with a band: '08 sở được xếp loại tốt gồm: A, B', 'X dẫn đầu …, xếp loại …'."""
        # '08 sở được xếp loại tốt gồm: A, B, C' -> each named unit's band
        m = re.search(rf"(?:xếp loại|đạt loại)\s+({_BAND_WORDS})\s*(?:gồm|là)\s*:?\s*(.+)$", text, re.I)
        if m:
            band = canonical_band(m[1]) or canonical_band(m[1].casefold())
            names = [x.strip(" .") for x in re.split(r",|;| và ", m[2]) if x.strip(" .")]
            uids = []
            for x in names:
                try:
                    uids.append(self.ctx.index.resolve(x, province=self.ctx.province))
                except UnknownUnitError:
                    uids.append(None)
            if band and names and all(uids):
                for uid in uids:
                    self.score(uid, period, "TOTAL", None, None, None, n, text, band=band)
            elif names:
                self.not_read.append(f"line {n}: units named as '{m[1]}' not all in units.csv: "
                                     f"{'; '.join(x for x, u in zip(names, uids) if u is None)}")
        # '… dẫn đầu …, xếp loại xuất sắc' names one unit with its band (handled with the scores
        # when a score is printed; a name with a band and no score is read here)
        m = re.match(rf"^(?:[^:]{{0,40}}:\s*)?(.+?)\s+dẫn đầu.*?xếp loại\s+({_BAND_WORDS})", text, re.I)
        if m and not re.search(r"\d\s*(?:/\s*100\s*)?điểm", text):
            try:
                uid = self.ctx.index.resolve(m[1], province=self.ctx.province)
            except UnknownUnitError:
                uid = None
            band = canonical_band(m[2]) or canonical_band(m[2].casefold())
            if uid and band:
                self.score(uid, period, "TOTAL", None, None, None, n, text, band=band)
            else:
                self.not_read.append(f"line {n}: '{text.strip()}': unit '{m[1]}' is not in units.csv or "
                                     f"unit_aliases.csv; its band is not read")


def read_prose(items: list[tuple], ctx: ProseContext) -> dict:
    """Figures of the text lines of a document.

    Parameters
    ----------
    items : list of tuple
        Document items (:func:`analysis.importers.documents.text_items`); only ``text`` items
        are read here.
    ctx : ProseContext

    Returns
    -------
    dict
        ``scores`` and ``indicators`` (row dicts with ``_line`` and ``_text``: where each
        figure was read), ``periods`` used, ``not_read`` (one entry per clause with a number
        that was not read, with its line).

    Examples
    --------
    >>> from analysis.importers.prose import _fold
    >>> _fold("  Công  KHAI ")
    'công khai'
    """
    reader = _Reader(ctx)
    for item in items:
        if item[0] == "text":
            reader.line(item[1], item[2])
        elif item[0] == "row":
            reader.parent = ""
    return {"scores": reader.scores, "indicators": reader.indicators, "periods": reader.periods,
            "not_read": reader.not_read}
