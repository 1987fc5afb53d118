"""Draft a document's ``sources`` row from the document itself (no sidecar needed).

What an administrative report prints about itself, in the order of the national rules for
administrative documents (Nghị định 30/2020/NĐ-CP): the issuing body (upper-case lines at the
top: ``UBND HUYỆN PHÚ TÂN`` / ``VĂN PHÒNG``), the number (``Số: 443/BC-UBND``), the place and
date line (``Na Rì, ngày 5 tháng 8 năm 2024``), the kind (``BÁO CÁO``) and the title or the
subject line (``V/v …``). A news page gives a title (``<title>``, ``<h1>``, or its first line),
the site name and a credit line (``Theo Cổng thông tin điện tử tỉnh``).

* **Area**: the first unit named in the title, the issuer lines, the signature (``TM. ỦY BAN NHÂN
  DÂN``) or the first sentence with a total (``… tỉnh Bắc Kạn … đạt 82,88/100 điểm``), resolved
  through the unit index; a name found in several provinces is narrowed by the provinces the
  document names. A province that existed before the July 2025 reform and is not yet in the data
  is taken from ``reference/provinces_2024.csv`` (see :mod:`analysis.units`); a district named
  by the document is added under its province with ``valid_to`` 2025-06-30 (the end of the
  district level), noted as taken from the document.
* **Period**: from the title, else the first period phrase of the text: ``tháng 07/2024``,
  ``tháng 11 năm 2022``, ``Tháng 5 – Tuần 01`` (a week of the month; its cut-off from ``chốt số
  liệu: Ngày 06/5/2024`` or the issue date), ``quý I/2024``, ``6 tháng đầu năm 2024``,
  ``năm 2023``.
* ``data_as_of`` from ``tra cứu số liệu ngày …`` or ``chốt số liệu … ngày …``.

Every field drafted is said in the import notes; a field that cannot be drafted is an error
that says which sidecar field to write.
"""
from __future__ import annotations

import re
from datetime import date

import pandas as pd

from ..errors import DataError, UnknownUnitError
from ..text import name_key, nfc, slugify
from ..units import old_districts, old_provinces, old_units

__all__ = ["draft_source", "find_period", "find_area", "ProvenanceError"]


class ProvenanceError(DataError):
    """The document does not say which unit or period it reports on (a sidecar must)."""

_DATE_LINE = re.compile(r"^([^,\d]{2,40}),\s*ngày\s*(\d{0,2})\s*tháng\s*(\d{0,2})\s*năm\s*(\d{4})")
_NUMBER = re.compile(r"^\s*Số\s*:?\s*([0-9]*\s*/\s*[A-ZĐ][A-ZĐa-z0-9\-/.]*)")
_KIND_LINE = re.compile(r"^\s*(BÁO CÁO|THÔNG BÁO|KẾ HOẠCH|CÔNG VĂN|QUYẾT ĐỊNH|TỜ TRÌNH)\s*$")
_ROMAN = {"I": 1, "II": 2, "III": 3, "IV": 4}
from .prose import _UNIT_NAME as _UNIT  # noqa: E402


def _title_case_unit(kind: str, name: str) -> str:
    return f"{kind.casefold()} {' '.join(w if w.isdigit() else w[:1].upper() + w[1:].casefold() for w in name.split())}"


def find_period(text: str, *, year_hint: int | None = None) -> tuple[str | None, str | None]:
    """(period id, phrase) of the first period phrase of ``text``.

    Examples
    --------
    >>> find_period("Kết quả … tháng 07/2024 huyện Na Rì")
    ('2024-07', 'tháng 07/2024')
    >>> find_period("Tháng 5 – Tuần 01", year_hint=2024)
    ('2024-05-w1', 'Tháng 5 – Tuần 01')
    >>> find_period("Báo cáo quý II năm 2023")[0], find_period("6 tháng đầu năm 2024")[0]
    ('2023-Q2', '2024-H1')
    """
    t = nfc(text)
    patterns = [
        (r"tháng\s*0?(\d{1,2})\s*[-–—(]*\s*tuần\s*0?(\d)\)?(?:\s*(?:/|năm)\s*(\d{4}))?", "week"),
        (r"quý\s*([IV]+|\d)\s*(?:/|năm)\s*(\d{4})", "quarter"),
        (r"6\s*tháng\s*(đầu|cuối)\s*năm\s*(\d{4})", "half"),
        (r"tháng\s*0?(\d{1,2})\s*(?:/|năm)\s*(\d{4})", "month"),
        (r"(?:cả\s+)?năm\s+(\d{4})", "year"),
    ]
    best = None
    for pattern, kind in patterns:
        m = re.search(pattern, t, re.I)
        if m and (best is None or m.start() < best[0].start() or
                  (kind == "week" and m.start() <= best[0].start())):
            best = (m, kind)
    if best is None:
        return None, None
    m, kind = best
    if kind == "week":
        year = int(m[3]) if m[3] else year_hint
        if year is None:
            return None, m[0]
        return f"{year}-{int(m[1]):02d}-w{int(m[2])}", m[0]
    if kind == "quarter":
        q = _ROMAN.get(m[1].upper(), None) if not m[1].isdigit() else int(m[1])
        return (f"{m[2]}-Q{q}" if q else None), m[0]
    if kind == "half":
        return f"{m[2]}-H{1 if m[1] == 'đầu' else 2}", m[0]
    if kind == "month":
        if not 1 <= int(m[1]) <= 12:
            return None, m[0]
        return f"{m[2]}-{int(m[1]):02d}", m[0]
    return m[1], m[0]


def _date(day: str, month: str, year: str) -> date | None:
    try:
        return date(int(year), int(month), int(day)) if day and month else None
    except ValueError:
        return None


def find_area(candidates: list[str], dataset, provinces_named: list[str], *,
              after_reform: bool = False) -> tuple[str | None, list[dict], str | None]:
    """(unit id, new unit rows, phrase) of the first candidate name that is a unit.

    Names are looked up in the dataset's units, then (for a report from before 1 July 2025)
    among the 63 provinces and 705 districts that existed until 30 June 2025
    (``reference/provinces_2024.csv``, ``districts_2022.csv``); a district in neither is created
    under the one province the document names. A report from after the reform is never tied to
    a unit that ended with it.
    """
    from ..units import UnitIndex

    index = UnitIndex(dataset.units, dataset.unit_aliases)
    units = dataset.units.set_index("unit_id", drop=False)
    old = old_provinces()
    province_ids = []
    for p in provinces_named:
        try:
            uid = index.resolve(p)
        except UnknownUnitError:
            uid = None
        if uid is None:
            match = old.loc[old["key"] == _key(p)]
            uid = match["unit_id"].iloc[0] if len(match) else None
        if uid and uid not in province_ids:
            province_ids.append(uid)
    for phrase in candidates:
        kind = phrase.split(" ", 1)[0].casefold()
        try:
            found = index._candidates(phrase, None, None)
        except UnknownUnitError:
            found = set()
        found = {u for u in found if units.at[u, "level"] in ("province", "district", "commune", "department")
                 and (kind not in ("huyện", "thị xã", "quận") or units.at[u, "level"] == "district")
                 and (kind != "tỉnh" or units.at[u, "level"] == "province")}
        if len(found) > 1 and province_ids:
            found = {u for u in found if units.at[u, "province_id"] in province_ids}
        if after_reform:
            found = {u for u in found if not _ended(units.at[u, "valid_to"])}
        if len(found) == 1:
            return next(iter(found)), [], phrase
        if found or after_reform:
            continue
        if kind in ("tỉnh", "thành phố"):
            match = old.loc[old["key"] == _key(phrase)]
            if len(match):
                row = match.iloc[0]
                return row["unit_id"], [_province_row(row)], phrase
        if kind in ("huyện", "thị xã", "quận", "thành phố"):
            listed = old_districts()
            listed = listed.loc[(listed["key"] == name_key(phrase)) & (listed["unit_type"] == kind)]
            if province_ids:
                listed = listed.loc[listed["province_unit_id"].isin(province_ids)]
            if len(listed) == 1:
                ref = old_units().set_index("unit_id", drop=False)
                uid, prov = listed["unit_id"].iloc[0], listed["province_unit_id"].iloc[0]
                rows = [ref.loc[u].to_dict() for u in (prov, uid) if u not in units.index]
                return uid, rows, phrase
        if kind in ("huyện", "thị xã", "quận", "thành phố") and len(province_ids) == 1:
            prov = province_ids[0]
            rows = []
            if prov not in units.index:
                match = old.loc[old["unit_id"] == prov]
                if not len(match):
                    continue
                rows.append(_province_row(match.iloc[0]))
            name = phrase
            uid = f"{prov}/{slugify(name)}"
            rows.append({"unit_id": uid, "code": None, "name": name, "unit_type": kind, "level": "district",
                         "parent_id": prov, "province_id": prov, "valid_to": date(2025, 6, 30),
                         "note": "district named by the imported document and not in the GSO list of "
                                 "17 May 2022 (reference/districts_2022.csv); the district level ended "
                                 "on 30 June 2025"})
            return uid, rows, phrase
    return None, [], None


def _ended(valid_to) -> bool:
    """True for a unit whose validity ended before the July 2025 reform took effect."""
    if valid_to is None or (isinstance(valid_to, float) and valid_to != valid_to) or pd.isna(valid_to):
        return False
    return pd.Timestamp(valid_to).date() < date(2025, 7, 1)


def _key(name: str) -> str:
    return name_key(re.sub(r"^(tỉnh|thành phố)\s+", "", nfc(name).strip(), flags=re.I))


def _province_row(row) -> dict:
    return {"unit_id": row["unit_id"], "code": None, "name": row["name"], "unit_type": row["unit_type"],
            "level": "province", "parent_id": None, "province_id": row["unit_id"],
            "valid_to": date.fromisoformat(row["valid_to"]),
            "note": f"province before the July 2025 reform (GSO code {row['gso_code']}); from 1 July 2025 "
                    f"part of {row['new_name']} (Resolution 202/2025/QH15); reference/provinces_2024.csv"}


def draft_source(items: list[tuple], *, path, digest: str, dataset, meta=None,
                 given: dict | None = None) -> tuple[dict, list[dict], list[str]]:
    """(sources row, new unit rows, notes) drafted from a document's own lines; fields ``given``
    (from a sidecar) are not drafted.

    Raises
    ------
    DataError
        When the area or the period cannot be found; the message names the sidecar fields to
        write.
    """
    lines = [(i[1], i[2]) for i in items if i[0] == "text"]
    texts = [t for t, _ in lines]
    notes = []
    number = issued = place = None
    title = None
    issuer_lines: list[str] = []
    for k, text in enumerate(texts[:40]):
        plain = text.replace("*", "").strip()
        if number is None and (m := _NUMBER.match(plain)):
            number = re.sub(r"\s+", "", m[1])
        if issued is None and (m := _DATE_LINE.match(plain)):
            place, issued = m[1].strip(), _date(m[2], m[3], m[4])
            if issued is None:
                notes.append(f"date line '{plain}' leaves the day or month blank: issued_date left empty")
        if title is None and _KIND_LINE.match(plain) and k + 1 < len(texts):
            title = f"{plain.capitalize()} {texts[k + 1].replace('*', '').strip()}"
        if title is None and plain.startswith("V/v"):
            title = plain
    # issuer: upper-case lines before the number / national motto
    for text in texts[:8]:
        plain = text.replace("*", "").strip()
        if plain.startswith(("CỘNG HÒA", "CỘNG HOÀ", "Độc lập", "Số")) or _NUMBER.match(plain):
            break
        letters = [c for c in plain if c.isalpha()]
        if letters and sum(c.isupper() for c in letters) / len(letters) > 0.8 and len(plain) < 80:
            issuer_lines.append(plain)
    if issued is None and meta is not None and meta.published:
        try:
            issued = date.fromisoformat(meta.published[:10])
            notes.append(f"issued_date from the page's published time {meta.published}")
        except ValueError:
            pass
    if meta is not None and title is None:
        title = meta.h1 or meta.title
    if title is None and texts:
        title = texts[0][:200]
        notes.append("the document prints no title: the title is its first line")
    body = "\n".join(texts)
    credit = re.search(r"^\s*Theo\s+(.{5,80}?)\s*$", body, re.M)
    if issuer_lines:
        issuer = " – ".join(issuer_lines)
    elif meta is not None and meta.site_name:
        issuer = meta.site_name
    elif credit:
        issuer = credit[1]
    else:
        issuer = None
    given = given or {}
    # period
    year_hint = issued.year if issued else None
    if year_hint is None and (m := re.search(r"năm\s+(\d{4})", body)):
        year_hint = int(m[1])
    period, phrase = find_period(title or "", year_hint=year_hint)
    where = "title"
    if given.get("period_id"):
        period, phrase, where = given["period_id"], given["period_id"], "sidecar"
    if period is None:
        for text in texts:
            period, phrase = find_period(text, year_hint=year_hint)
            if period:
                where = "text"
                break
    if period is not None:
        notes.append(f"period drafted from the {where}: '{phrase}' -> {period}")
    # area
    provinces_named = [f"tỉnh {m[2]}" for m in _UNIT.finditer(body) if m[1].casefold() == "tỉnh"][:20]
    candidates = []
    sources_text = [title or ""] + [line.title() for line in issuer_lines]
    for text in sources_text:
        for m in _UNIT.finditer(text):
            candidates.append(_title_case_unit(m[1], m[2]))
    total_line = next((t for t in texts if re.search(r"/\s*100\s*điểm", t)), "")
    for m in _UNIT.finditer(total_line):
        candidates.append(_title_case_unit(m[1], m[2]))
    if place:
        for kind in ("huyện", "thành phố", "thị xã", "tỉnh"):
            candidates.append(f"{kind} {place}")
    if given.get("area_unit_id"):
        area, new_units, phrase = given["area_unit_id"], [], "the sidecar"
    else:
        from ..periods import parse_period
        from ..units import REFORM_DATE
        try:
            after = period is not None and parse_period(period).start >= REFORM_DATE
        except DataError:
            after = False
        area, new_units, phrase = find_area(candidates, dataset, provinces_named, after_reform=after)
    if area is None or period is None:
        what = []
        if area is None:
            what.append(f"which unit this document reports on (names tried: "
                        f"{', '.join(dict.fromkeys(candidates)) or 'none'})")
        if period is None:
            what.append("which period it reports on")
        fields = " and ".join(f for f, missing in (("area_unit_id", area is None), ("period_id", period is None))
                              if missing)
        raise ProvenanceError(f"cannot tell {' nor '.join(what)}; write a sidecar {path.name}.source.json "
                              f"with {fields} (e.g. \"period_id\": \"2024-07\")", file=path)
    notes.append(f"area drafted from '{phrase}': {area}")
    if issuer is None:
        unit_name = next((r["name"] for r in new_units if r["unit_id"] == area), None)
        if unit_name is None:
            known = dataset.units.set_index("unit_id")["name"]
            unit_name = known.get(area, area)
        issuer = f"UBND {unit_name}" if re.search(r"ỦY BAN NHÂN DÂN|UBND", body) else unit_name
        notes.append(f"issuer drafted from the area: '{issuer}'")
    as_of = None
    m = re.search(r"(?:tra cứu số liệu|chốt số liệu|số liệu (?:tính )?đến)[^\d]{0,20}(\d{1,2})/(\d{1,2})/(\d{4})",
                  body, re.I)
    if m:
        as_of = _date(m[1], m[2], m[3])
    cutoff = None
    if period.count("-w"):
        cutoff = as_of or issued
    sha8 = digest[:8]
    source_id = f"doc-{slugify(area.rsplit('/', 1)[-1])}-{period.lower()}-{sha8}"
    row = {"source_id": source_id, "doc_number": number, "issuer": issuer, "issued_date": issued,
           "title": title, "area_unit_id": area, "period_id": period, "data_as_of": as_of,
           "note": "provenance drafted from the document by the importer" +
                   (f"; place '{place}'" if place else ""), "cutoff_date": cutoff}
    return row, new_units, notes
