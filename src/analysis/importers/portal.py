"""Import JSON saved from the national portal's 766 API: crawler files and raw API responses.

Layouts recognised (``detect_layout``), each described in ``shared/data/portal/README.md``:

========================  ==============================================================
``provinces``             ``metadata`` + national ``overview`` + ``provinces[]`` (34 records)
``unit-list``             ``metadata`` + province ``overview`` + ``communes[]`` / ``agencies[]``
``detail``                ``metadata`` + ``agenciesDetail[]`` with ``componentIndicators``
``catalog-provinces``     crawler catalog: ``schemaVersion`` + ``provinces[]`` with ``overview``
``catalog-communes``      crawler catalog: ``schemaVersion`` + ``communes[]`` (no group scores)
``raw``                   raw API envelope ``code/message/data``: ``{parent, children}`` of
                          the six group endpoints (``dvc-progress-tree`` TDGQ,
                          ``provide-online-tree`` ONLINE, ``formality-online-payment-tree``
                          TTTT, ``transparency`` CKMB, ``dossier-digitized`` MDSH,
                          ``handling-satisfaction`` MDHL) or ``{overview, radar, evaluation[]}``
                          of ``service-results`` (the country's provinces, or one province's
                          units; ``radar`` holds the five decision groups, online = 22)
``documentation``         ``metrics.m0.json`` and capture manifests: recognised and skipped
========================  ==============================================================

Decisions (the data is recorded *as published*; nothing is corrected silently):

* **Group codes.** ``CLGQ`` (old API name, Gia Lai ``overview``) is read as ``ONLINE``. A
  record holding both is an error.
* **CLGQ/TTTT swap.** Online payment has a maximum of 10 points, so "the field that never
  exceeds 10 is payment". Old third-party scripts swapped the two fields. When a file has a
  ``TTTT`` value above 10 the importer stops with a :class:`DataError` naming the record;
  ``swap_online_payment=True`` imports the file with the two groups exchanged and says so in
  the source's note. A swapped file whose values all stay below 10 cannot be detected.
* **Periods.** ``timeType`` ``year`` with a run date inside the year is a year-to-date
  snapshot ``YYYY-ytd-MM-DD`` (cut-off = run date, Vietnam local); after the year it is the
  year. A quarter or month is ``YYYY-QN`` / ``YYYY-MM`` once the run date is past its end, else
  a snapshot ``YYYY-qtd-MM-DD`` / ``YYYY-mtd-MM-DD`` (quarter or month to the run date). The run date is ``metadata.runDateStr`` (DDMMYYYY, local), else the
  local (UTC+7) date of ``extractedAt`` / ``generatedAt`` / the capture time in the manifest.
  Raw API responses carry no period: it comes from the capture manifest beside them
  (``manifest*.json`` listing the file with its SHA-256), from ``period=`` and ``as_of=``, or
  from a crawler's file name (``raw_Provinces_year_2026_27092026``: year 2026 read on 27 Sep
  2026; ``service_results_month_2026_2``: month 2/2026, capture date unknown — accepted as a
  finished month only when the response's ``monthlyChart`` has a value for a later month;
  ``data_as_of`` is then left empty).
* **Units.** Codes decide (``H21``, ``H21.227``); a province without a known code is matched
  by name. New units get ids ``<province-slug>/<slug of the canonical name>`` (``-2`` … on a
  collision). Every spelling seen is added to ``unit_aliases`` (NFC; an NFD spelling is noted).
* **Ranks.** ``provinces[].rank`` is the rank among the provinces (``rank_block`` province).
  In unit lists, ``rank`` counts communes and agencies together (149 in Gia Lai), which no
  ``rank_block`` can express, so the within-block ``groupRank`` is stored as ``rank`` (block =
  the level) and the portal ``rank`` is kept in the row's note.
* **Precision.** Portal points and percentages are rounded to 2 decimals; JSON drops trailing
  zeros, so ``decimals`` is 2 for them (0 for counts).
* **Missing is not zero.** A metric rate over 0 cases (0/0: no complaints, no dossiers) or over
  nothing measured (null/null: the e-certified copy) is undefined, whatever ``ratio`` the crawler
  prints (0, or 100). No percent row is stored; the count (0/0) and the points are, with the
  reason in the note (``rate missing: no complaints (PAKN) (0/0)``). Scoring applies the portal's
  rule for each case (scheme keys ``no_cases`` and ``not_measured``).
* **National overview.** The ``overview`` of a provinces file ("Cả nước") is the record of the
  country unit ``viet-nam``; the details file's ``componentIndicators`` are read per province
  (provinces with an empty breakdown are named in a note; nothing is invented for them).
* **Derived fields** (``ratio`` of a group = score ÷ maximum, ``scoreDelta`` of nothing,
  ``growthPercent``) are not stored; fields with no indicator code yet are listed in
  ``ImportResult.unmapped``. Indicator codes and allowed measures are read from
  ``reference/indicators.csv`` at run time, so a code added there is imported from then on.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pandas as pd

from ..config import SHARED_DIR
from ..dataset import Dataset, empty_table, file_sha256
from ..errors import DataError
from ..periods import SNAPSHOT_KINDS, parse_period
from ..reference import indicator_catalog
from ..schema import TABLE_COLUMNS, UNIT_CODE, UNIT_TYPES
from ..text import is_nfc, name_key, nfc, slugify, strip_admin_prefix
from ..units import short_name

__all__ = [
    "ImportResult", "import_portal", "parse_portal", "load_json", "detect_layout", "portal_period",
    "normalise_field_names", "rows_frame", "origin_of", "vietnam_date", "OLD_API_FIELDS",
    "OLD_API_VALUES", "PORTAL_GROUPS", "COUNTER_RULES", "METRIC_RULES", "RAW_ENDPOINTS",
    "SERVICE_RESULTS", "RADAR_GROUPS", "raw_name_period",
    "VIETNAM_TZ", "DOCUMENTATION_LAYOUTS",
]

VIETNAM_TZ = timezone(timedelta(hours=7), "ICT")
PAYMENT_MAX = 10.0
SUM_TOLERANCE = 0.02
PORTAL_DECIMALS = 2

# Group keys as they appear in portal files -> group codes of reference/groups.csv.
PORTAL_GROUPS: dict[str, str] = {
    "CKMB": "CKMB", "TDGQ": "TDGQ", "ONLINE": "ONLINE", "CLGQ": "ONLINE", "TTTT": "TTTT",
    "MDHL": "MDHL", "MDSH": "MDSH",
}

# Old API field names -> new API field names. The earlier API (2022-2024) and the crawlers
# written for it used Vietnamese field names; spellings differ between crawlers, so this table
# lists every spelling the toolkit accepts. Add a row when a new one is met; a record that
# carries an old and a new name for the same field is rejected.
OLD_API_FIELDS: dict[str, str] = {
    # containers
    "thongTin": "metadata", "thongTinChung": "metadata", "tongQuan": "overview",
    "danhSachTinh": "provinces", "danhSachXa": "communes", "danhSachCoQuan": "agencies",
    "danhSachSoNganh": "agencies", "chiTietCoQuan": "agenciesDetail", "soLuong": "count",
    # metadata
    "tinh": "province", "maTinh": "provinceCode", "tenTinh": "provinceName",
    "loaiThoiGian": "timeType", "kieuThoiGian": "timeType", "nam": "year", "thang": "month",
    "quy": "quarter", "ky": "period", "nhanKy": "periodLabel", "ngayChay": "runDateStr",
    "thoiDiemLay": "extractedAt",
    # unit identity
    "idDonVi": "departmentId", "donViId": "departmentId",
    "tenDonVi": "departmentName", "donViTen": "departmentName",
    "maDonVi": "departmentCode", "donViMa": "departmentCode",
    "tenNgan": "shortName", "tenVietTat": "shortName",
    "capDonVi": "childGroup", "nhomDonVi": "childGroup", "loaiDonVi": "childGroup",
    # scores
    "tongDiem": "totalScore", "diemToiDa": "totalMaxScore", "tongDiemToiDa": "totalMaxScore",
    "tyLe": "ratio", "diemThayDoi": "scoreDelta", "chenhLech": "scoreDelta",
    "diemNhom": "groupScores", "diemTheoNhom": "groupScores", "diemChiSo": "groupScores",
    "xepHang": "rank", "thuHang": "rank", "xepHangNhom": "groupRank",
}

# Old API values of a few fields -> new values (compared case-insensitively).
OLD_API_VALUES: dict[str, dict[str, str]] = {
    "timeType": {"nam": "year", "năm": "year", "thang": "month", "tháng": "month",
                 "quy": "quarter", "quý": "quarter"},
    "childGroup": {"xa": "COMMUNE", "cap_xa": "COMMUNE", "so_nganh": "AGENCY",
                   "co_quan": "AGENCY", "cap_tinh": "AGENCY"},
}

# childGroup / level values -> levels of reference/levels.csv.
PORTAL_LEVELS = {"AGENCY": "department", "PROVINCE": "department", "COMMUNE": "commune"}

# Rates and counts in group blocks and raw API records: field -> (indicator, measure,
# denominator field). Codes not yet in reference/indicators.csv are proposed ones: their
# values are listed in `unmapped` until the catalogue has them.
COUNTER_RULES: dict[str, dict[str, tuple[str, str, str | None]]] = {
    "TDGQ": {
        "ratio": ("on_time_rate", "percent", None),
        "totalOnTime": ("on_time_rate", "count", "totalReceived"),
        "totalOverdue": ("overdue_rate", "count", "totalReceived"),
        "totalCompleted": ("dossiers_completed", "count", "totalReceived"),
        "avgProcessingDays": ("avg_processing_days", "days", None),
    },
    "ONLINE": {
        "channelOnlineSum": ("online_submission_rate", "count", "channelTotalSum"),
        "partialCount": ("procedures_online_partial", "count", None),
        "fullCount": ("procedures_online_full", "count", None),
        "onlineOnTimeSum": ("online_on_time_rate", "count", "channelOnlineSum"),
        "onlineOverdueSum": ("online_overdue_rate", "count", "channelOnlineSum"),
    },
    "TTTT": {
        "totalDossierOnlinePaymentSuccess": ("payment_dossiers_online", "count",
                                             "totalDossierFinancialObligation"),
        "totalDossierOnlineFormalityPaymentSuccess": ("payment_procedures_online", "count",
                                                      "totalFeeFormality"),
        "totalFeeDossierFormality": ("fee_procedures_with_dossiers", "count", "totalFeeFormality"),
    },
    "MDHL": {
        "totalPetitions": ("pakn_received", "count", None),
    },
    "CKMB": {}, "MDSH": {},
}
# Fields used only as the denominator of a rule above.
DENOMINATOR_FIELDS = {"totalReceived", "channelTotalSum", "totalDossierFinancialObligation",
                      "totalFeeFormality"}

# Sub-indicator codes of `metrics[]` -> indicator codes.
METRIC_RULES: dict[str, str] = {
    "PUBLISH_ON_TIME": "procedures_published_on_time",
    "PUBLIC_UPDATE_ON_TIME": "procedures_updated_on_time",
    "PUBLIC_CONTENT_FULL": "procedures_published_full",
    "DOSSIER_SYNC": "dossiers_synced",
    "ORIGINAL_RESULT_AVAILABLE": "e_results_rate",
    "SO_HOA_GIAY_TO_GIAI_QUYET": "digitised_dossiers_rate",
    "REUSED_DIGITIZED_DATA": "reuse_rate",
    "SYNCED_WITH_DVCQG_PERSONAL_STORAGE": "personal_storage_sync_rate",
    "CITIZEN_DATA_CONNECTED_DOSSIER": "population_data_dossier_rate",
    "CITIZEN_DATA_CONNECTED_FORMALITY": "population_data_procedure_rate",
    "ELECTRONIC_CERTIFIED_COPY": "e_certified_copy_rate",
    "PETITION_PROCESSING_ON_TIME": "pakn_on_time_rate",
    "PETITION_HANDLING_SATISFACTION": "satisfaction_pakn_rate",
    "DOSSIER_RECEIVING_SATISFACTION": "satisfaction_dossier_rate",
}

# Why a rate has no cases (denominator 0): what the metric counts, by code prefix. The rate is
# then missing (never 0%), with this reason in the note.
NO_CASE_REASONS: dict[str, str] = {
    "PETITION_": "no complaints (PAKN)",
    "DOSSIER_RECEIVING_SATISFACTION": "no dossiers",
    "DOSSIER_": "no dossiers",
    "ORIGINAL_RESULT": "no dossiers", "SO_HOA_": "no dossiers", "REUSED_": "no dossiers",
    "SYNCED_": "no dossiers", "CITIZEN_DATA_CONNECTED_DOSSIER": "no dossiers",
    "CITIZEN_DATA_CONNECTED_FORMALITY": "no procedures", "PUBLISH_": "no procedures",
    "PUBLIC_": "no procedures", "ELECTRONIC_CERTIFIED_COPY": "no requests",
}


def no_case_reason(code: str) -> str:
    """Reason a metric has no cases (denominator 0), from its code.

    Examples
    --------
    >>> no_case_reason("PETITION_PROCESSING_ON_TIME"), no_case_reason("XYZ")
    ('no complaints (PAKN)', 'no cases')
    """
    for prefix, reason in NO_CASE_REASONS.items():
        if code.startswith(prefix):
            return reason
    return "no cases"


# Raw API endpoints: group and a parent field that identifies the response when no manifest says.
# The three endpoints without a marker (no real capture in ../shared yet) are recognised through
# their capture manifest only; their `metrics[]` are read like the crawler's.
RAW_ENDPOINTS: dict[str, dict[str, str]] = {
    "dvc-progress-tree": {"group": "TDGQ", "marker": "totalOnTime"},
    "provide-online-tree": {"group": "ONLINE", "marker": "channelOnlineSum"},
    "formality-online-payment-tree": {"group": "TTTT", "marker": "totalDossierFinancialObligation"},
    "transparency": {"group": "CKMB"},
    "dossier-digitized": {"group": "MDSH"},
    "handling-satisfaction": {"group": "MDHL"},
}
# The endpoint with the total, the five decision groups and the unit list of an area.
SERVICE_RESULTS = "service-results"

DOCUMENTATION_LAYOUTS = {
    "metrics": "a transcription of the metrics sheet of 'Công thức 766.xlsx' (documentation of "
               "the formulas), not a data file",
    "manifest": "a capture manifest (request payloads, times and hashes of raw API captures), "
                "not a data file; it is read when the raw responses it lists are imported",
}

# Record fields that are identity or bookkeeping, never figures.
_IDENTITY = {"departmentId", "departmentName", "departmentCode", "level", "childGroup",
             "shortName", "provinceCode", "provinceName", "rootDepartmentId", "verified", "source"}
# Score fields handled as scores, or derived from them and not stored.
_SCORE_FIELDS = {"score", "maxScore", "totalScore", "totalMaxScore", "scoreDelta", "rank",
                 "groupRank", "ratio", "groupScores", "componentIndicators"}
_INDEX = re.compile(r"\[\d+\]")
_COMMUNE_TYPES = ("thị trấn", "đặc khu", "phường", "xã")
_DEPARTMENT_TYPES = ("thanh tra", "văn phòng", "sở", "ban")
_PROVINCE_TYPES = ("thành phố", "tỉnh")


@dataclass
class ImportResult:
    """What one file adds to a data directory.

    Attributes
    ----------
    path : Path or None
        The file read.
    kind : str
        Layout recognised (``provinces``, ``unit-list``, ``raw:TDGQ``, ``document`` …).
    source_id : str or None
        The ``sources`` row that records the file (None when skipped).
    tables : dict of DataFrame
        New rows for each of the six tables (typed like :func:`analysis.dataset.empty_table`).
    unmapped : list of str
        Figures in the file that have no indicator code (or measure) yet, by JSON path.
    notes : list of str
        Facts worth knowing about the file (mismatches, skipped blocks, decisions applied).
    skipped : str or None
        Why the file adds nothing (documentation, already imported), else None.
    uninterpreted : list of str
        Documents only: every header, unit name or cell that could not be read.
    """

    path: Path | None
    kind: str
    source_id: str | None
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    unmapped: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    skipped: str | None = None
    uninterpreted: list[str] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        """Number of new rows per table."""
        return {name: len(df) for name, df in self.tables.items()}


# --- small pure helpers -----------------------------------------------------------------------

def rows_frame(table: str, rows: list[dict]) -> pd.DataFrame:
    """A typed DataFrame of ``table`` from row dicts (missing keys are empty cells).

    Examples
    --------
    >>> rows_frame("periods", [{"period_id": "2026-08", "kind": "month",
    ...     "start_date": date(2026, 8, 1), "end_date": date(2026, 8, 31),
    ...     "label_vi": "Tháng 8/2026"}]).loc[0, "end_date"].date()
    datetime.date(2026, 8, 31)
    """
    if not rows:
        return empty_table(table)
    index = pd.RangeIndex(len(rows))
    data = {}
    for col in TABLE_COLUMNS[table]:
        values = [row.get(col.name) for row in rows]
        if col.type == "str":
            data[col.name] = pd.Series(values, index=index, dtype="str")
        elif col.type == "float":
            data[col.name] = pd.Series([float("nan") if v is None else float(v) for v in values],
                                       index=index, dtype="float64")
        elif col.type == "int":
            data[col.name] = pd.Series(values, index=index, dtype="Int64")
        elif col.type == "bool":
            data[col.name] = pd.Series([bool(v) for v in values], index=index, dtype="bool")
        else:
            data[col.name] = pd.to_datetime(pd.Series(values, index=index, dtype="object")).astype(
                "datetime64[ns]")
    return pd.DataFrame(data, index=index)


def vietnam_date(timestamp: str) -> date:
    """Local (UTC+7) calendar date of an ISO timestamp; a naive timestamp is taken as UTC.

    Examples
    --------
    >>> vietnam_date("2026-09-23T22:44:58Z")
    datetime.date(2026, 9, 24)
    """
    moment = datetime.fromisoformat(timestamp.strip().replace("Z", "+00:00"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(VIETNAM_TZ).date()


def portal_period(time_type: str, year: int, *, as_of: date, month: int | None = None,
                  quarter: int | None = None) -> tuple[str, date | None]:
    """Period id and cut-off of a portal figure read on ``as_of`` (Vietnam local date).

    Parameters
    ----------
    time_type : {'year', 'month', 'quarter'}
    year, month, quarter : int
    as_of : date
        The run date: a period not yet over is a running snapshot frozen on this day.

    Returns
    -------
    (str, date or None)
        ``YYYY`` / ``YYYY-MM`` / ``YYYY-QN`` for a finished period (cut-off None);
        ``YYYY-ytd-MM-DD``, ``YYYY-qtd-MM-DD`` or ``YYYY-mtd-MM-DD`` for a running year,
        quarter or month: a snapshot "to date" whose id records the as-of date (cut-off = as_of).

    Raises
    ------
    ValueError
        Unknown time type, or a period that starts after ``as_of``.

    Examples
    --------
    >>> portal_period("year", 2026, as_of=date(2026, 9, 24))
    ('2026-ytd-09-24', datetime.date(2026, 9, 24))
    >>> portal_period("month", 2026, month=8, as_of=date(2026, 9, 26))
    ('2026-08', None)
    >>> portal_period("quarter", 2026, quarter=3, as_of=date(2026, 9, 26))
    ('2026-qtd-09-26', datetime.date(2026, 9, 26))
    """
    if time_type == "year":
        pid = f"{year}"
    elif time_type == "month":
        if month is None or not 1 <= int(month) <= 12:
            raise ValueError(f"timeType 'month' needs a month 1-12, found {month!r}")
        pid = f"{year}-{int(month):02d}"
    elif time_type == "quarter":
        if quarter is None or not 1 <= int(quarter) <= 4:
            raise ValueError(f"timeType 'quarter' needs a quarter 1-4, found {quarter!r}")
        pid = f"{year}-Q{int(quarter)}"
    else:
        raise ValueError(f"unknown timeType '{time_type}'; expected year, quarter or month")
    period = parse_period(pid)
    if as_of > period.end:
        return pid, None
    if as_of < period.start:
        raise ValueError(f"run date {as_of.isoformat()} is before the period {pid} starts")
    kind = {"year": "ytd", "quarter": "qtd", "month": "mtd"}[time_type]
    return f"{year}-{kind}-{as_of.month:02d}-{as_of.day:02d}", as_of


def _join(path: str, key) -> str:
    if isinstance(key, int):
        return f"{path}[{key}]"
    return f"{path}.{key}" if path else str(key)


def normalise_field_names(obj: Any, path: str = "", seen: set | None = None) -> Any:
    """Rename old-API field names (``OLD_API_FIELDS``) and values (``OLD_API_VALUES``) to the
    new API's, recursively. ``seen`` collects the old names met.

    Raises
    ------
    DataError
        When one object holds an old and a new name for the same field.

    Examples
    --------
    >>> normalise_field_names({"maDonVi": "H21", "tongDiem": 62.7})
    {'departmentCode': 'H21', 'totalScore': 62.7}
    """
    if isinstance(obj, list):
        return [normalise_field_names(v, _join(path, i), seen) for i, v in enumerate(obj)]
    if not isinstance(obj, dict):
        return obj
    out: dict = {}
    origin: dict = {}
    for key, value in obj.items():
        new = OLD_API_FIELDS.get(key, key)
        if new in out:
            raise DataError(f"{_join(path, key)}: fields '{origin[new]}' and '{key}' both give "
                            f"'{new}' (an old-API and a new-API name); keep one of them")
        if new != key and seen is not None:
            seen.add(key)
        value = normalise_field_names(value, _join(path, key), seen)
        if new in OLD_API_VALUES and isinstance(value, str):
            value = OLD_API_VALUES[new].get(value.casefold(), value)
        out[new] = value
        origin[new] = key
    return out


_JSON_STRING = re.compile(r'"(?:[^"\\]|\\.)*"')
_BRACKETS = re.compile(r"[\[\]{}]")


def load_json(raw: bytes, file=None) -> Any:
    """Parse JSON bytes; errors name the line and column.

    Checked at the boundary, because JSON allows what the portal never sends: a key twice in one
    object (``json`` would keep the last silently), integers longer than 18 digits, ``NaN`` and
    ``Infinity``, and nesting deeper than 64 levels (a portal response has fewer than 10).

    Raises
    ------
    DataError
        Not UTF-8, malformed JSON (``line 3, column 17: Expecting ','``), or one of the above.

    Examples
    --------
    >>> load_json(b'{"a": [1, 2]}')
    {'a': [1, 2]}
    >>> load_json(b'{"a": 1, "a": 2}')
    Traceback (most recent call last):
    ...
    analysis.errors.DataError: duplicate key 'a' in one JSON object (line 1); the file is ambiguous
    """
    if raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise DataError(f"not UTF-8 (byte 0x{raw[exc.start]:02x} at offset {exc.start}); a portal "
                        f"JSON file is UTF-8 text", file=file) from None
    if not text.strip():
        raise DataError("file is empty; expected a portal JSON object", file=file)
    depth = 0
    for bracket in _BRACKETS.findall(_JSON_STRING.sub("", text)):  # depth, before the parser recurses
        depth += 1 if bracket in "[{" else -1
        if depth > 64:
            raise DataError("JSON nested more than 64 levels deep; a portal file has fewer than 10",
                            file=file)

    def pairs(items):
        obj = {}
        for key, value in items:
            if key in obj:
                raise ValueError(f"duplicate key '{key[:60]}'")
            obj[key] = value
        return obj

    def integer(digits: str) -> int:
        if len(digits.lstrip("-")) > 18:
            raise ValueError(f"integer with {len(digits.lstrip('-'))} digits ({digits[:12]}…)")
        return int(digits)

    def constant(name: str):
        raise ValueError(f"'{name}' is not a number JSON allows")

    def real(digits: str) -> float:
        value = float(digits)
        if value in (float("inf"), float("-inf")):  # 1e400
            raise ValueError(f"'{digits[:24]}' overflows a number")
        return value

    try:
        return json.loads(text, object_pairs_hook=pairs, parse_int=integer, parse_constant=constant,
                          parse_float=real)
    except json.JSONDecodeError as exc:
        raise DataError(f"malformed JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}",
                        file=file, row=exc.lineno) from None
    except ValueError as exc:  # from the hooks; json does not say where, so find the line
        where = ""
        if str(exc).startswith("duplicate key"):
            key = str(exc).split("'")[1]
            pos = text.find(f'"{key}"', text.find(f'"{key}"') + 1)
            where = f" (line {text.count(chr(10), 0, pos) + 1})" if pos >= 0 else ""
            raise DataError(f"{exc} in one JSON object{where}; the file is ambiguous", file=file) from None
        raise DataError(f"{exc}; the portal sends at most 18 digits and only finite numbers",
                        file=file) from None
    except RecursionError:
        raise DataError("JSON nested too deeply to read", file=file) from None


def detect_layout(obj: Any) -> str:
    """Name of the portal layout of a parsed (and renamed) JSON document.

    Raises
    ------
    DataError
        When the document matches no known layout.

    Examples
    --------
    >>> detect_layout({"code": "OK", "message": "OK", "data": {"parent": {}, "children": []}})
    'raw'
    """
    if not isinstance(obj, dict):
        raise DataError(f"top level is a JSON {type(obj).__name__}; a portal file is a JSON object")
    keys = set(obj)
    if "captures" in keys:
        return "manifest"
    if "rows" in keys and ({"sheet", "sourceFile", "range"} & keys):
        return "metrics"
    if {"code", "data"} <= keys:
        return "raw"
    if "agenciesDetail" in keys:
        return "detail"
    if "metadata" in keys and "provinces" in keys:
        return "provinces"
    if "metadata" in keys and ({"communes", "agencies"} & keys):
        return "unit-list"
    if "provinces" in keys:
        return "catalog-provinces"
    if "communes" in keys:
        return "catalog-communes"
    shown = ", ".join(sorted(keys)[:10])
    raise DataError(f"not a portal data file: its top-level keys ({shown}) match no known layout; "
                    f"expected metadata+provinces[], metadata+communes[]/agencies[], "
                    f"agenciesDetail[], a catalog (schemaVersion+provinces[]/communes[]) or a raw "
                    f"API response (code, message, data{{parent, children}})")


def origin_of(path: Path) -> str:
    """``shared/<path below the shared dir>`` when the file is there, else its name."""
    try:
        return "shared/" + Path(path).resolve().relative_to(SHARED_DIR.resolve()).as_posix()
    except ValueError:
        return Path(path).name


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


_TYPE_CHECKS = {
    "number": _is_number,
    "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "string": lambda v: isinstance(v, str),
    "object": lambda v: isinstance(v, dict),
    "list": lambda v: isinstance(v, list),
}


def _canonical_type_name(name: str, types) -> tuple[str, str | None]:
    """Lower-case a leading type word (``Xã Chơ Long`` -> ``xã Chơ Long``), except before a
    bare number (``Phường 1``). Returns (name, type word or None)."""
    low = name.casefold()
    for word in types:
        if low.startswith(word + " "):
            rest = name[len(word) + 1:].strip()
            if rest.isdigit():
                return f"{word.capitalize()} {rest}", word
            return f"{word} {rest}", word
    return name, None


# --- the builder: rows for one file -------------------------------------------------------------

class _Builder:
    """Collects the rows one file adds, resolving units against the existing tables."""

    def __init__(self, *, file, source_id: str, existing: Dataset | None):
        self.file = file
        self.source_id = source_id
        units = existing.units if existing is not None else empty_table("units")
        aliases = existing.unit_aliases if existing is not None else empty_table("unit_aliases")
        periods = existing.periods if existing is not None else empty_table("periods")
        self.units: dict[str, dict] = {}
        for rec in units.to_dict("records"):
            self.units[rec["unit_id"]] = {k: (None if _missing(v) else v) for k, v in rec.items()}
        self.by_code = {u["code"]: uid for uid, u in self.units.items() if u.get("code")}
        self.alias_pairs = set(zip(aliases["alias"], aliases["unit_id"]))
        self.period_ids = set(periods["period_id"])
        self.new_units: list[dict] = []
        self.rows: dict[str, list[dict]] = {t: [] for t in ("unit_aliases", "periods", "scores",
                                                              "indicators")}
        self.unmapped: dict[str, str] = {}
        self.notes: list[str] = []
        self.codes_seen: dict[str, str] = {}
        self.catalog = indicator_catalog()

    # errors and notes
    def error(self, path: str, message: str) -> DataError:
        return DataError(f"{path}: {message}", file=self.file)

    def unmap(self, path: str, why: str) -> None:
        self.unmapped.setdefault(_INDEX.sub("[*]", path), why)

    # typed access
    def get(self, obj: dict, key: str, path: str, expected: str, *, required=True, nullable=False):
        where = _join(path, key)
        if key not in obj:
            if required:
                raise self.error(where, f"missing; expected {expected}")
            return None
        value = obj[key]
        if value is None:
            if nullable or not required:
                return None
            raise self.error(where, f"is null; expected {expected}")
        check = _TYPE_CHECKS.get(expected.split()[0], _TYPE_CHECKS["string"])
        if not check(value):
            raise self.error(where, f"expected {expected}, found {type(value).__name__} {value!r:.40}")
        return value

    def records(self, obj: dict, key: str, path: str) -> list[tuple[str, dict]]:
        items = self.get(obj, key, path, "list (array of unit records)")
        out = []
        for i, item in enumerate(items):
            where = _join(_join(path, key), i)
            if not isinstance(item, dict):
                raise self.error(where, f"expected an object (unit record), found {type(item).__name__}")
            out.append((where, item))
        return out

    # periods
    def period(self, period_id: str, cutoff: date | None) -> None:
        if period_id in self.period_ids:
            return
        p = parse_period(period_id, cutoff=cutoff)
        self.period_ids.add(period_id)
        self.rows["periods"].append({
            "period_id": period_id, "kind": p.kind, "start_date": p.start, "end_date": p.end,
            "cutoff_date": p.end if p.kind in SNAPSHOT_KINDS else None, "label_vi": p.label("vi")})

    # units
    def _code(self, rec: dict, path: str) -> str:
        code = self.get(rec, "departmentCode", path, "string (unit code like H21 or H21.227)")
        if not re.match(UNIT_CODE, code):
            raise self.error(_join(path, "departmentCode"),
                             f"'{code}' is not a unit code; expected H21 or H21.227")
        if code in self.codes_seen:
            raise self.error(path, f"duplicate unit: code {code} also at {self.codes_seen[code]}; "
                                   f"each unit appears once in a file")
        self.codes_seen[code] = path
        return code

    def province_names(self) -> tuple[str, ...]:
        return tuple(short_name(u["name"]) for u in self.units.values() if u["level"] == "province")

    def alias(self, spelling: str, uid: str) -> None:
        text = nfc(" ".join(spelling.split()))
        if not text or (text, uid) in self.alias_pairs:
            return
        self.alias_pairs.add((text, uid))
        self.rows["unit_aliases"].append({
            "alias": text, "unit_id": uid, "source_id": self.source_id, "kind": "variant",
            "note": None if is_nfc(spelling) else "printed with combining accents (NFD) in the source"})

    def _add_unit(self, row: dict) -> str:
        self.units[row["unit_id"]] = row
        if row.get("code"):
            self.by_code[row["code"]] = row["unit_id"]
        self.new_units.append(row)
        return row["unit_id"]

    def province(self, raw_name: str, code: str | None, path: str, short: str | None = None) -> str:
        """Unit id of a province record, created when new."""
        name = strip_admin_prefix(raw_name)
        canonical, utype = _canonical_type_name(name, _PROVINCE_TYPES)
        if utype is None:
            raise self.error(_join(path, "departmentName"),
                             f"'{raw_name}' does not name a province (expected 'UBND tỉnh …' or "
                             f"'UBND thành phố …')")
        bare = short_name(canonical)
        if short and name_key(short) != name_key(bare):
            self.notes.append(f"{path}: shortName '{short}' differs from the name '{raw_name}'")
        uid = self.by_code.get(code) if code else None
        if uid is None:
            matches = [u for u, r in self.units.items()
                       if r["level"] == "province" and name_key(short_name(r["name"])) == name_key(bare)]
            if len(matches) == 1:
                uid = matches[0]
                if code and self.units[uid].get("code") and self.units[uid]["code"] != code:
                    raise self.error(path, f"province '{raw_name}' has code {code} but unit {uid} has "
                                           f"code {self.units[uid]['code']}")
                if code and not self.units[uid].get("code"):
                    self.notes.append(f"unit {uid} has no code in units.csv; the portal gives {code} "
                                      f"(matched by name; add the code to units.csv)")
        if uid is None:
            base = slugify(bare)
            uid, n = base, 2
            while uid in self.units:
                uid, n = f"{base}-{n}", n + 1
            self._add_unit({"unit_id": uid, "code": code, "name": nfc(canonical),
                            "unit_type": utype if utype in UNIT_TYPES else None,
                            "level": "province", "parent_id": None, "province_id": uid,
                            "valid_to": None, "note": None})
        self.alias(raw_name, uid)
        if short:
            self.alias(short, uid)
        return uid

    def child(self, raw_name: str, code: str, level: str, province_uid: str, path: str) -> str:
        """Unit id of a department or commune record, created when new."""
        province_code = self.units[province_uid].get("code")
        if province_code and code.split(".")[0] != province_code:
            raise self.error(_join(path, "departmentCode"),
                             f"'{code}' is not a code of province {province_uid} ({province_code})")
        uid = self.by_code.get(code)
        if uid is not None:
            if self.units[uid]["province_id"] != province_uid:
                raise self.error(path, f"code {code} belongs to unit {uid} of another province")
            self.alias(raw_name, uid)
            return uid
        name = strip_admin_prefix(raw_name, self.province_names())
        if level == "commune":
            canonical, utype = _canonical_type_name(name, _COMMUNE_TYPES)
        else:  # a department's name is a proper name: "Sở Tư pháp", kept as printed
            canonical = name
            utype = next((w for w in _DEPARTMENT_TYPES if name.casefold().startswith(w + " ")), None)
        canonical = nfc(canonical)
        base = f"{province_uid}/{slugify(canonical)}"
        uid, n = base, 2
        while uid in self.units:
            other = self.units[uid]
            if (not other.get("code") and other["parent_id"] == province_uid
                    and name_key(other["name"]) == name_key(canonical)):
                self.notes.append(f"unit {uid} has no code in units.csv; the portal gives {code} "
                                  f"(matched by name; add the code to units.csv)")
                self.alias(raw_name, uid)
                return uid
            uid, n = f"{base}-{n}", n + 1
        if uid != base:
            self.notes.append(f"{path}: id {base} is taken; the unit '{canonical}' ({code}) got {uid}")
        self._add_unit({"unit_id": uid, "code": code, "name": canonical,
                        "unit_type": utype if utype in UNIT_TYPES else None, "level": level,
                        "parent_id": province_uid, "province_id": province_uid, "valid_to": None,
                        "note": None})
        self.alias(raw_name, uid)
        return uid

    # figures
    def score(self, *, section, unit, period, group, value, max_stated=None, rank=None,
              rank_of=None, rank_block=None, change=None, note=None) -> None:
        self.rows["scores"].append({
            "source_id": self.source_id, "section": section, "unit_id": unit, "period_id": period,
            "group": group, "value": value, "max_stated": max_stated,
            "decimals": PORTAL_DECIMALS if value is not None else None, "rank": rank,
            "rank_of": rank_of, "rank_block": rank_block, "band": None, "change": change,
            "marked": False, "note": note})

    def indicator(self, *, path, section, unit, period, indicator, measure, value,
                  denominator=None, note=None) -> None:
        if indicator not in self.catalog.index:
            self.unmap(path, f"indicator code '{indicator}' is not in reference/indicators.csv "
                             f"(proposed)")
            return
        if measure not in self.catalog.at[indicator, "measures"]:
            self.unmap(path, f"measure '{measure}' is not allowed for '{indicator}' in "
                             f"reference/indicators.csv")
            return
        if measure == "count":
            if value != int(value) or value < 0:
                raise self.error(path, f"{value!r} is not a count (a whole number ≥ 0)")
            if denominator is not None and value > denominator:
                note = "; ".join(filter(None, [note, f"count exceeds its stated denominator "
                                                     f"{denominator:g} (as published)"]))
                denominator = None
        elif measure == "percent" and not 0 <= value <= 100:
            raise self.error(path, f"{value!r} is not a percentage (0–100)")
        self.rows["indicators"].append({
            "source_id": self.source_id, "section": section, "unit_id": unit, "period_id": period,
            "indicator": indicator, "measure": measure, "category": None, "block": None,
            "value": float(value), "denominator": None if denominator is None else float(denominator),
            "decimals": 0 if measure == "count" else PORTAL_DECIMALS, "marked": False, "note": note})

    def result(self, path, kind, source_row: dict) -> ImportResult:
        tables = {
            "sources": rows_frame("sources", [source_row]),
            "units": rows_frame("units", self.new_units),
            **{t: rows_frame(t, rows) for t, rows in self.rows.items()},
        }
        unmapped = [f"{p}: {why}" for p, why in self.unmapped.items()]
        return ImportResult(path=path, kind=kind, source_id=self.source_id, tables=tables,
                            unmapped=unmapped, notes=list(dict.fromkeys(self.notes)))


def _missing(value) -> bool:
    try:
        return value is None or bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


# --- layouts -----------------------------------------------------------------------------------

@dataclass
class _Context:
    """What a layout parser needs besides the JSON: where the period comes from."""

    period: str | None = None
    cutoff: date | None = None
    as_of: date | None = None
    capture: dict | None = None
    swap_online_payment: bool = False


def _metadata_period(b: _Builder, meta: dict, path: str) -> tuple[str, date | None, date]:
    run = b.get(meta, "runDateStr", path, "string DDMMYYYY (run date, Vietnam local)", required=False)
    extracted = b.get(meta, "extractedAt", path, "string (ISO time, UTC)", required=False)
    as_of = None
    if run is not None:
        m = re.fullmatch(r"(\d{2})(\d{2})(\d{4})", run)
        if not m:
            raise b.error(_join(path, "runDateStr"), f"'{run}' is not a date DDMMYYYY")
        try:
            as_of = date(int(m[3]), int(m[2]), int(m[1]))
        except ValueError:
            raise b.error(_join(path, "runDateStr"), f"'{run}' names a day that does not exist") from None
    if extracted is not None:
        try:
            local = vietnam_date(extracted)
        except ValueError:
            raise b.error(_join(path, "extractedAt"), f"'{extracted}' is not an ISO time") from None
        if as_of is None:
            as_of = local
        elif local != as_of:
            b.notes.append(f"run date {as_of.isoformat()} (runDateStr) differs from the local date "
                           f"{local.isoformat()} of extractedAt {extracted}; the run date is used")
    if as_of is None:
        raise b.error(path, "no run date: expected runDateStr (DDMMYYYY) or extractedAt")
    time_type = b.get(meta, "timeType", path, "string (year, quarter or month)")
    year = b.get(meta, "year", path, "integer (year)")
    raw_period = b.get(meta, "period", path, "integer", required=False, nullable=True)
    month = b.get(meta, "month", path, "integer (month)", required=False, nullable=True)
    quarter = b.get(meta, "quarter", path, "integer (quarter)", required=False, nullable=True)
    if time_type == "month" and month is None:
        month = raw_period
    if time_type == "quarter" and quarter is None:
        quarter = raw_period
    if time_type == "year" and raw_period is not None:
        b.notes.append(f"metadata.period {raw_period} ('{meta.get('periodLabel')}') ignored: "
                       f"timeType is 'year'")
    try:
        pid, cutoff = portal_period(time_type, year, as_of=as_of, month=month, quarter=quarter)
    except ValueError as exc:
        raise b.error(path, str(exc)) from None
    return pid, cutoff, as_of


def _group_scores(b: _Builder, rec: dict, path: str, ctx: _Context, *, required=True) -> dict[str, float | None]:
    gs = b.get(rec, "groupScores", path, "object of group scores", required=required)
    if gs is None:
        return {}
    where = _join(path, "groupScores")
    out: dict[str, float | None] = {}
    for key, value in gs.items():
        group = PORTAL_GROUPS.get(key)
        if group is None:
            raise b.error(_join(where, key), f"unknown group code '{key}'; expected one of CKMB, "
                                             f"TDGQ, CLGQ/ONLINE, TTTT, MDHL, MDSH")
        if group in out:
            raise b.error(_join(where, key), f"group {group} given twice (ONLINE and its old name "
                                             f"CLGQ); keep one")
        if value is not None and not _is_number(value):
            raise b.error(_join(where, key), f"expected a number (points), found "
                                             f"{type(value).__name__} {value!r:.40}")
        if value is not None and not 0 <= value <= 100:
            raise b.error(_join(where, key), f"{value} is not a score (0–100 points)")
        out[group] = value
    missing = [g for g in ("CKMB", "TDGQ", "ONLINE", "TTTT", "MDHL", "MDSH") if g not in out]
    if missing:
        raise b.error(where, f"missing group(s) {', '.join(missing)}; expected CKMB, TDGQ, "
                             f"CLGQ/ONLINE, TTTT, MDHL, MDSH")
    if "CLGQ" in gs:
        pattern = _INDEX.sub("[*]", where)
        b.notes.append(f"old group code CLGQ read as ONLINE (online public services) in {pattern}")
    if out["TTTT"] is not None and out["TTTT"] > PAYMENT_MAX + 1e-9:
        if not ctx.swap_online_payment:
            raise b.error(_join(where, "TTTT"),
                          f"{out['TTTT']} exceeds 10, the maximum of online payment: the file looks "
                          f"like it swaps CLGQ/ONLINE and TTTT (old third-party scripts did). Fix "
                          f"the export, or import it with swap_online_payment=True")
    if ctx.swap_online_payment:
        out["ONLINE"], out["TTTT"] = out["TTTT"], out["ONLINE"]
    return out


def _check_sum(b: _Builder, checks: list, what: str) -> None:
    """Note records whose totalScore differs from the sum of their group scores."""
    bad = [(path, total, s) for path, total, s in checks if abs(total - s) > SUM_TOLERANCE]
    if bad:
        worst = max(bad, key=lambda t: abs(t[1] - t[2]))
        b.notes.append(f"{len(bad)} of {len(checks)} {what}: totalScore differs from the sum of "
                       f"groupScores by more than {SUM_TOLERANCE} (largest at {worst[0]}: "
                       f"{worst[1]} vs {worst[2]:.2f}); recorded as published")


def _unit_scores(b: _Builder, rec: dict, path: str, *, section: str, unit: str, period: str,
                 ctx: _Context, rank=None, rank_of=None, rank_block=None, rank_note=None,
                 maxima: dict | None = None, checks: list | None = None, groups_required=True) -> None:
    total = b.get(rec, "totalScore", path, "number (total points)", nullable=False)
    if not 0 <= total <= 100:
        raise b.error(_join(path, "totalScore"), f"{total} is not a total (0–100 points)")
    total_max = b.get(rec, "totalMaxScore", path, "number (maximum points)", required=False)
    change = b.get(rec, "scoreDelta", path, "number or null", required=False, nullable=True)
    gs = _group_scores(b, rec, path, ctx, required=groups_required)
    b.score(section=section, unit=unit, period=period, group="TOTAL", value=float(total),
            max_stated=total_max, rank=rank, rank_of=rank_of, rank_block=rank_block,
            change=change, note=rank_note)
    for group, value in gs.items():
        if value is None:
            b.notes.append(f"{_join(path, 'groupScores')}.{group}: null, no score recorded")
            continue
        b.score(section=section, unit=unit, period=period, group=group, value=float(value),
                max_stated=(maxima or {}).get(group))
    if checks is not None and gs and all(v is not None for v in gs.values()):
        checks.append((path, total, sum(gs.values())))


def _counters(b: _Builder, group: str, rec: dict, path: str, *, section, unit, period,
              skip=frozenset(), note=None) -> None:
    rules = COUNTER_RULES.get(group, {})
    for key, value in rec.items():
        where = _join(path, key)
        if key in rules:
            indicator, measure, denominator_key = rules[key]
            if value is None:
                continue
            if not _is_number(value):
                raise b.error(where, f"expected a number, found {value!r:.40}")
            denominator = None
            if denominator_key is not None:
                denominator = rec.get(denominator_key)
                if denominator is not None and not _is_number(denominator):
                    raise b.error(_join(path, denominator_key), f"expected a number, found {denominator!r:.40}")
            row_note = note
            if denominator_key is None and measure == "percent" and group == "TDGQ" \
                    and rec.get("totalReceived") == 0:
                # missing is not zero: an on-time rate over no dossiers is undefined
                b.notes.append(f"{where}: rate missing: no dossiers received (0/0); not stored")
                continue
            if denominator == 0:
                row_note = "; ".join(filter(None, [note, "rate missing: no cases (0/0)"]))
            b.indicator(path=where, section=section, unit=unit, period=period, indicator=indicator,
                        measure=measure, value=value, denominator=denominator, note=row_note)
        elif key in _IDENTITY or key in _SCORE_FIELDS or key in DENOMINATOR_FIELDS or key in skip:
            continue
        elif key == "monthlyChart":
            b.unmap(where, "chart series (one value per month) not imported")
        else:
            b.unmap(where, "no indicator code for this field")


def _metrics(b: _Builder, block: dict, path: str, *, section, unit, period) -> None:
    metrics = b.get(block, "metrics", path, "list of sub-indicators", required=False)
    for i, m in enumerate(metrics or []):
        where = _join(_join(path, "metrics"), i)
        if not isinstance(m, dict):
            raise b.error(where, "expected an object (sub-indicator)")
        code = b.get(m, "code", where, "string (sub-indicator code)")
        label = f"{_join(path, 'metrics')}[{code}]"
        indicator = METRIC_RULES.get(code)
        if indicator is None:
            b.unmap(label, f"sub-indicator '{code}' has no indicator code")
            continue
        status = m.get("dataQualityStatus")
        note = f"dataQualityStatus {status}: {m.get('dataQualityMessage') or ''}".strip() if status else None
        ratio = b.get(m, "ratio", where, "number or null (percent)", nullable=True)
        num = b.get(m, "numerator", where, "number or null", nullable=True)
        den = b.get(m, "denominator", where, "number or null", nullable=True)
        score = b.get(m, "score", where, "number or null (points)", nullable=True)
        # Missing is not zero: a rate over 0 cases (0/0) or over nothing measured (null/null) is
        # undefined, whatever the crawler prints as ratio (0 for no complaints, 100 for the
        # e-certified copy). The rate is not stored; the count (0/0) and the points are, with
        # the reason; scoring applies the portal's rule for the case (scheme no_cases/not_measured).
        missing_reason = None
        if den is not None and den == 0:
            missing_reason = f"rate missing: {no_case_reason(code)} (0/0)"
        elif num is None and den is None and ratio is not None:
            missing_reason = (f"rate missing: not measured (numerator and denominator null, the portal "
                              f"prints ratio {ratio:g})")
        if missing_reason is not None:
            note = "; ".join(filter(None, [missing_reason, note]))
            ratio = None
            b.notes.append(f"{_INDEX.sub('[*]', path)}.metrics[{code}]: rates at 0/0 or null/null stored as "
                           f"missing with their reason, not as a rate")
        if ratio is not None:
            b.indicator(path=f"{label}.ratio", section=section, unit=unit, period=period,
                        indicator=indicator, measure="percent", value=ratio, note=note)
        if num is not None:
            b.indicator(path=f"{label}.numerator", section=section, unit=unit, period=period,
                        indicator=indicator, measure="count", value=num, denominator=den, note=note)
        if score is not None:
            b.indicator(path=f"{label}.score", section=section, unit=unit, period=period,
                        indicator=indicator, measure="points", value=score, note=note)


def _parse_provinces(b: _Builder, obj: dict, ctx: _Context) -> tuple[str, str, date, str]:
    meta = b.get(obj, "metadata", "", "object (run metadata)")
    period, cutoff, as_of = _metadata_period(b, meta, "metadata")
    b.period(period, cutoff)
    overview = b.get(obj, "overview", "", "object (national overview)", required=False)
    records = b.records(obj, "provinces", "")
    declared = overview.get("totalProvincesCount") if overview else None
    rank_of = len(records)
    if declared is not None and declared != rank_of:
        b.notes.append(f"overview.totalProvincesCount {declared} but provinces[] has {rank_of} records")
    checks: list = []
    uids = []
    empty_breakdown: list[str] = []
    for path, rec in records:
        code = b._code(rec, path)
        name = b.get(rec, "departmentName", path, "string (unit name)")
        short = b.get(rec, "shortName", path, "string", required=False)
        uid = b.province(name, code, path, short)
        uids.append(uid)
        rank = b.get(rec, "rank", path, "integer (rank)", required=False, nullable=True)
        if rank is not None and not 1 <= rank <= rank_of:
            raise b.error(_join(path, "rank"), f"rank {rank} is outside 1–{rank_of}")
        maxima = None
        if "componentIndicators" in rec:   # the details file: sub-indicators per province
            comp = rec.get("componentIndicators") or {}
            maxima = _detail_block(b, rec, path, unit=uid, period=period,
                                   section="provinces[].componentIndicators")
            if not any((blk or {}).get("metrics") for blk in comp.values() if isinstance(blk, dict)):
                empty_breakdown.append(b.units[uid]["name"])
        _unit_scores(b, rec, path, section="provinces[]", unit=uid, period=period, ctx=ctx,
                     rank=rank, rank_of=rank_of if rank is not None else None,
                     rank_block="province" if rank is not None else None, checks=checks,
                     maxima=maxima)
    _check_sum(b, checks, "provinces")
    if empty_breakdown:
        b.notes.append(f"{len(empty_breakdown)} provinces have no sub-indicator breakdown (empty metrics, "
                       f"null ratios): {', '.join(empty_breakdown)}; only their scores are recorded")
    area = _smallest_code_unit(b, [b.units[u] for u in uids])
    if overview is not None:
        # the national overview ("Cả nước") is the country unit's record
        name = overview.get("departmentName")
        if area != COUNTRY_ID:
            area = _country(b)
        if isinstance(name, str):
            b.alias(name, COUNTRY_ID)
        _unit_scores(b, overview, "overview", section="overview", unit=COUNTRY_ID, period=period,
                     ctx=ctx, groups_required=False)
    label = meta.get("periodLabel") or period
    kind = "chỉ số thành phần của " if any("componentIndicators" in r for _, r in records) else ""
    title = f"Kết quả đánh giá chất lượng phục vụ: {kind}{rank_of} tỉnh, thành phố ({label})"
    return period, title, as_of, area


COUNTRY_ID = "viet-nam"


def _smallest_code_unit(b: _Builder, units: list[dict]) -> str:
    """The area of a file: its one province, or the country when it covers several."""
    if len({u["unit_id"] for u in units}) == 1:
        return units[0]["unit_id"]
    return _country(b)


def _country(b: _Builder) -> str:
    """The country unit, created when new."""
    if COUNTRY_ID not in b.units:
        b._add_unit({"unit_id": COUNTRY_ID, "code": None, "name": "Việt Nam", "unit_type": None,
                     "level": "country", "parent_id": None, "province_id": COUNTRY_ID, "valid_to": None,
                     "note": "the whole country: area of portal files that cover several provinces"})
    return COUNTRY_ID


def _parse_unit_list(b: _Builder, obj: dict, ctx: _Context, *, detail=False) -> tuple[str, str, date, str]:
    meta = b.get(obj, "metadata", "", "object (run metadata)")
    period, cutoff, as_of = _metadata_period(b, meta, "metadata")
    b.period(period, cutoff)
    province_name = b.get(meta, "province", "metadata", "string (province name)")
    province_code = b.get(meta, "provinceCode", "metadata", "string (province code)", required=False)
    overview = b.get(obj, "overview", "", "object (province overview)", required=False)
    if overview is not None:
        code = b._code(overview, "overview")
        if province_code and code != province_code:
            raise b.error("overview.departmentCode", f"{code} differs from metadata.provinceCode {province_code}")
        province_code = province_code or code
    province = b.province(province_name, province_code, "metadata")
    checks: list = []
    if overview is not None:
        b.province(b.get(overview, "departmentName", "overview", "string (unit name)"), province_code, "overview")
        _unit_scores(b, overview, "overview", section="overview", unit=province, period=period,
                     ctx=ctx, checks=checks)
    lists = ["agenciesDetail"] if detail else [k for k in ("communes", "agencies") if k in obj]
    total_units = overview.get("totalUnitsCount") if overview else None
    described = []
    for key in lists:
        records = b.records(obj, key, "")
        count = obj.get("count")
        if count is not None and len(lists) == 1 and count != len(records):
            raise b.error("count", f"says {count} units but {key}[] has {len(records)} records "
                                   f"(truncated file?)")
        for path, rec in records:
            code = b._code(rec, path)
            name = b.get(rec, "departmentName", path, "string (unit name)")
            group = b.get(rec, "childGroup", path, "string (AGENCY or COMMUNE)")
            level = PORTAL_LEVELS.get(group)
            if level is None:
                raise b.error(_join(path, "childGroup"), f"'{group}' is not AGENCY or COMMUNE")
            uid = b.child(name, code, level, province, path)
            rank = b.get(rec, "groupRank", path, "integer (rank in the block)", required=False, nullable=True)
            portal_rank = b.get(rec, "rank", path, "integer (rank)", required=False, nullable=True)
            if rank is not None and not 1 <= rank <= len(records):
                raise b.error(_join(path, "groupRank"), f"rank {rank} is outside 1–{len(records)}")
            note = None
            if portal_rank is not None:
                note = (f"portal rank {portal_rank}" + (f"/{total_units}" if total_units else "")
                        + " among all units of the province (communes and agencies together)")
            maxima = None
            if detail:
                maxima = _detail_block(b, rec, path, unit=uid, period=period)
            _unit_scores(b, rec, path, section=f"{key}[]", unit=uid, period=period, ctx=ctx,
                         rank=rank, rank_of=len(records) if rank is not None else None,
                         rank_block=level if rank is not None else None, rank_note=note,
                         maxima=maxima, checks=checks)
        described.append(f"{len(records)} {key}")
    _check_sum(b, checks, "records")
    label = meta.get("periodLabel") or period
    title = (f"Kết quả đánh giá chất lượng phục vụ: {', '.join(described)} của "
             f"{province_name} ({label})")
    return period, title, as_of, province


def _detail_block(b: _Builder, rec: dict, path: str, *, unit, period,
                  section: str = "agenciesDetail[].componentIndicators") -> dict:
    """Indicators of ``componentIndicators``; returns the stated maximum of each group."""
    comp = b.get(rec, "componentIndicators", path, "object (sub-indicators by group)")
    where = _join(path, "componentIndicators")
    maxima = {}
    gs = rec.get("groupScores") or {}
    for key, block in comp.items():
        group = PORTAL_GROUPS.get(key.split("_")[0])
        bpath = _join(where, key)
        if group is None:
            raise b.error(bpath, f"unknown block '{key}'; expected CKMB_…, TDGQ_…, ONLINE_…, TTTT_…, "
                                 f"MDHL_…, MDSH_…")
        if not isinstance(block, dict):
            raise b.error(bpath, "expected an object (group block)")
        maxima[group] = b.get(block, "maxScore", bpath, "number (maximum points)", required=False)
        score = b.get(block, "score", bpath, "number (points)", required=False, nullable=True)
        printed = gs.get(key.split("_")[0], gs.get("CLGQ") if group == "ONLINE" else None)
        if score is not None and printed is not None and abs(score - printed) > 0.005:
            b.notes.append(f"{bpath}.score {score} differs from groupScores {printed}")
        _counters(b, group, block, bpath, section=section, unit=unit, period=period,
                  skip={"metrics"})
        _metrics(b, block, bpath, section=section, unit=unit, period=period)
    return maxima


def _parse_catalog(b: _Builder, obj: dict, ctx: _Context, key: str) -> tuple[str, str, date, str]:
    generated = b.get(obj, "generatedAt", "", "string (ISO time, UTC)")
    year = b.get(obj, "year", "", "integer (year)")
    try:
        as_of = vietnam_date(generated)
        period, cutoff = portal_period("year", year, as_of=as_of)
    except ValueError as exc:
        raise b.error("generatedAt", str(exc)) from None
    b.period(period, cutoff)
    records = b.records(obj, key, "")
    count = obj.get("count")
    if count is not None and count != len(records):
        raise b.error("count", f"says {count} units but {key}[] has {len(records)} records")
    provinces = []
    for path, rec in records:
        code = b._code(rec, path)
        name = b.get(rec, "departmentName", path, "string (unit name)")
        if key == "provinces":
            uid = b.province(name, code, path)
            provinces.append(uid)
            overview = b.get(rec, "overview", path, "object (province overview)", required=False)
            if overview is not None:
                _unit_scores(b, overview, _join(path, "overview"), section="provinces[].overview",
                             unit=uid, period=period, ctx=ctx, groups_required=False)
            continue
        pcode = b.get(rec, "provinceCode", path, "string (province code)")
        pname = b.get(rec, "provinceName", path, "string (province name)")
        province = b.province(pname, pcode, path)
        provinces.append(province)
        group = b.get(rec, "childGroup", path, "string (COMMUNE or AGENCY)")
        level = PORTAL_LEVELS.get(group)
        if level is None:
            raise b.error(_join(path, "childGroup"), f"'{group}' is not AGENCY or COMMUNE")
        uid = b.child(name, code, level, province, path)
        _unit_scores(b, rec, path, section=f"{key}[]", unit=uid, period=period, ctx=ctx,
                     groups_required=False)
    names = sorted({b.units[p]["name"] for p in provinces})
    title = f"Danh mục {len(records)} đơn vị ({key}) của {', '.join(names)}, năm {year} (catalog)"
    return period, title, as_of, (provinces[0] if len(set(provinces)) == 1 else
                                  _smallest_code_unit(b, [b.units[p] for p in set(provinces)]))


def _child_unit(b: _Builder, rec: dict, path: str, field: str, allowed: str, code, parent: str):
    """The level (from the record's ``field``, one of ``allowed``) and unit id of a child record."""
    value = b.get(rec, field, path, f"string ({allowed})")
    level = PORTAL_LEVELS.get(value)
    if level is None:
        raise b.error(_join(path, field), f"'{value}' is not {allowed}")
    return level, b.child(b.get(rec, "departmentName", path, "string (unit name)"), code, level, parent, path)


def _parse_raw(b: _Builder, obj: dict, ctx: _Context) -> tuple[str, str, date | None, str, str]:
    code = obj.get("code")
    if code != "OK":
        raise b.error("code", f"the API answered '{code}' ({obj.get('message')!r}); only OK responses hold data")
    data = b.get(obj, "data", "", "object (the API's answer)")
    endpoint = _raw_endpoint(b, data, ctx)
    period, cutoff, as_of = _raw_period(b, data, ctx)
    b.period(period, cutoff)
    if endpoint == SERVICE_RESULTS:
        title, area = _parse_service_results(b, data, ctx, period)
        return period, title, as_of, area, endpoint
    parent = b.get(data, "parent", "data", "object (province record)")
    children = b.records(data, "children", "data")
    group = RAW_ENDPOINTS[endpoint]["group"]
    payload = (ctx.capture or {}).get("payload") or {}
    formality = payload.get("formalityId") or payload.get("formalityID")
    if formality:
        b.notes.append(f"capture restricted to one procedure (formalityId {formality}): the figures "
                       f"are not the units' index values")
    pcode = b._code(parent, "data.parent")
    province = b.province(b.get(parent, "departmentName", "data.parent", "string (unit name)"), pcode,
                          "data.parent")
    score_key = "totalScore"
    b.score(section="data.parent", unit=province, period=period, group=group,
            value=float(b.get(parent, score_key, "data.parent", "number (points)")),
            max_stated=b.get(parent, "totalMaxScore", "data.parent", "number", required=False))
    _counters(b, group, parent, "data.parent", section="data.parent", unit=province, period=period,
              skip={"metrics"})
    _metrics(b, parent, "data.parent", section="data.parent", unit=province, period=period)
    page = payload.get("pageSize")
    merged = int((ctx.capture or {}).get("pages") or 1) > 1  # pages read together (capture import)
    if page is not None and len(children) > page and not merged:
        b.notes.append(f"data.children has {len(children)} records although the request asked for "
                       f"pageSize {page}")
    for path, rec in children:
        code = b._code(rec, path)
        level, uid = _child_unit(b, rec, path, "level", "PROVINCE or COMMUNE", code, province)
        key = "score" if "score" in rec else "totalScore"
        value = b.get(rec, key, path, "number (points)")
        if not 0 <= value <= 100:
            raise b.error(_join(path, key), f"{value} is not a score (0–100 points)")
        if group == "TTTT" and value > PAYMENT_MAX + 1e-9:
            raise b.error(_join(path, key), f"{value} exceeds 10, the maximum of online payment")
        b.score(section="data.children[]", unit=uid, period=period, group=group, value=float(value),
                max_stated=rec.get("maxScore", rec.get("totalMaxScore")),
                change=b.get(rec, "scoreDelta", path, "number or null", required=False, nullable=True))
        _counters(b, group, rec, path, section="data.children[]", unit=uid, period=period,
                  skip={"metrics"})
        _metrics(b, rec, path, section="data.children[]", unit=uid, period=period)
    for key in data:
        if key not in ("parent", "children"):
            b.unmap(f"data.{key}", "chart series (one value per month) not imported"
                    if key.endswith("Chart") else "not read from this endpoint")
    name = b.units[province]["name"]
    title = (f"API {endpoint} ({group}): {name} và {len(children)} đơn vị trực thuộc, kỳ {period}")
    return period, title, as_of, province, endpoint


def _raw_endpoint(b: _Builder, data: dict, ctx: _Context) -> str:
    """The endpoint a raw response came from: the capture's URL, else its shape."""
    known = (SERVICE_RESULTS, *RAW_ENDPOINTS)
    url = ((ctx.capture or {}).get("url") or "").rstrip("/")
    if url:
        endpoint = next((e for e in known if url.endswith("/" + e)), None)
        if endpoint is None:
            raise b.error("", f"the capture manifest names {url}, which is not an endpoint the "
                              f"importer reads ({', '.join(known)})")
        return endpoint
    if "evaluation" in data and "overview" in data:
        return SERVICE_RESULTS
    parent = data.get("parent")
    if isinstance(parent, dict):
        endpoint = next((e for e, spec in RAW_ENDPOINTS.items()
                         if spec.get("marker") and spec["marker"] in parent), None)
        if endpoint is not None:
            return endpoint
    raise b.error("data", f"cannot tell which endpoint this raw response comes from: keep its "
                          f"capture manifest (manifest*.json listing the file) beside it; the "
                          f"importer recognises {', '.join(known)}")


# Crawler names of raw captures: raw_Provinces_year_2026_27092026.json (time type, year, run date
# DDMMYYYY, Vietnam local), service_results_month_2026_2.json (time type, year, month; no date).
_RAW_NAME = re.compile(r"(?:^|_)(?P<type>year|quarter|month)_(?P<year>\d{4})(?:_(?P<n>\d{1,2}))?"
                       r"(?:_(?P<run>\d{8}))?$")


def raw_name_period(stem: str) -> dict | None:
    """Period fields read from the file name of a crawler's raw capture, or None.

    Examples
    --------
    >>> raw_name_period("raw_Provinces_year_2026_27092026")
    {'timeType': 'year', 'year': 2026, 'number': None, 'run_date': datetime.date(2026, 9, 27)}
    >>> raw_name_period("service_results_month_2026_2")["number"]
    2
    """
    m = _RAW_NAME.search(stem)
    if not m:
        return None
    run = None
    if m["run"]:
        try:
            run = date(int(m["run"][4:]), int(m["run"][2:4]), int(m["run"][:2]))
        except ValueError:
            return None
    return {"timeType": m["type"], "year": int(m["year"]),
            "number": int(m["n"]) if m["n"] else None, "run_date": run}


def _latest_chart_month(data: dict, year: int) -> date | None:
    """First day of the last month with a value in ``monthlyChart`` (the data were read then or later)."""
    chart = data.get("monthlyChart")
    if not isinstance(chart, list):
        return None
    months = []
    for item in chart:
        if not isinstance(item, dict):
            continue
        label = item.get("month", item.get("label"))
        values = [v for k, v in item.items() if k not in ("month", "label")]
        if isinstance(label, str) and label.isdigit() and 1 <= int(label) <= 12 and any(
                _is_number(v) for v in values):
            months.append(int(label))
    return date(year, max(months), 1) if months else None


def _raw_period(b: _Builder, data: dict, ctx: _Context) -> tuple[str, date | None, date | None]:
    """Period id, cut-off and read date of a raw response: given, from the capture manifest, or
    from the crawler's file name."""
    if ctx.period is not None:
        if ctx.as_of is None:
            raise b.error("", "period given without as_of (the date the figures were read)")
        return ctx.period, ctx.cutoff, ctx.as_of
    if ctx.capture is not None:
        payload = ctx.capture.get("payload") or {}
        captured = ctx.capture.get("capturedAt")
        if not captured:
            raise b.error("", "the capture manifest gives no capturedAt for this file")
        try:
            as_of = vietnam_date(captured)
            if "timeType" in payload:
                period, cutoff = portal_period(payload["timeType"], payload["year"], as_of=as_of,
                                               month=payload.get("month"), quarter=payload.get("quarter"))
            elif "fromDate" in payload and "toDate" in payload:
                period, cutoff = _period_from_dates(payload["fromDate"], payload["toDate"], as_of)
            else:
                raise ValueError("the capture payload has neither timeType nor fromDate/toDate")
        except (ValueError, KeyError) as exc:
            raise b.error("", f"capture manifest: {exc}") from None
        return period, cutoff, as_of
    named = raw_name_period(Path(str(b.file)).stem) if b.file else None
    if named is None:
        raise b.error("", "a raw API response carries no period: keep its capture manifest "
                          "(manifest*.json listing this file) beside it, name it like the crawler "
                          "(…_month_2026_2.json, …_year_2026_27092026.json), or pass period= and as_of=")
    kind, year, number, as_of = named["timeType"], named["year"], named["number"], named["run_date"]
    if kind != "year" and number is None:
        raise b.error("", f"the file name gives a {kind} of {year} without its number")
    month = number if kind == "month" else None
    quarter = number if kind == "quarter" else None
    where = f"file name {Path(str(b.file)).name}"
    if as_of is not None:
        try:
            period, cutoff = portal_period(kind, year, as_of=as_of, month=month, quarter=quarter)
        except ValueError as exc:
            raise b.error("", f"{where}: {exc}") from None
        b.notes.append(f"period {period} and capture date {as_of.isoformat()} read from the {where} "
                       f"(the response has no metadata)")
        return period, cutoff, as_of
    # No capture date: the period counts as finished only when the response itself shows a later
    # month (a monthlyChart value), i.e. the figures were read after the period ended.
    pid = {"year": f"{year}", "quarter": f"{year}-Q{quarter}", "month": f"{year}-{month:02d}"}[kind]
    try:
        end = parse_period(pid).end
    except DataError as exc:
        raise b.error("", f"{where}: {exc}") from None
    seen = _latest_chart_month(data, year)
    if seen is None or seen <= end:
        raise b.error("", f"{where} gives the period {pid} but no capture date, and nothing in the "
                          f"response shows that the period was over when it was read; pass "
                          f"period= and as_of=")
    b.notes.append(f"period {pid} read from the {where}; capture date unknown (no metadata, none "
                   f"in the name): data_as_of left empty. The period was over when the figures "
                   f"were read: monthlyChart already has a value for {seen:%Y-%m}")
    return pid, None, None


# service-results `radar` codes -> group codes (the five decision groups; the online group is 22).
RADAR_GROUPS = {"CKMB": "CKMB", "TDGQ": "TDGQ", "ONLINE_SERVICE": "DVTT", "MDHL": "MDHL", "MDSH": "MDSH"}
# service-results `donuts` items -> (indicator, measure); the share's denominator is the donut's sum.
DONUT_RULES = {
    ("onlineDossier", "ONLINE"): "online_submission_rate",
    ("onlineDossier", "OTHER"): "offline_submission_rate",
    ("onlineProvision", "FULL"): "procedures_online_full",
    ("onlineProvision", "PARTIAL"): "procedures_online_partial",
    ("onlineProvision", "NONE"): "procedures_not_online",
}


def _parse_service_results(b: _Builder, data: dict, ctx: _Context, period: str) -> tuple[str, str]:
    """Rows of a raw ``service-results`` response: the national list of provinces (no
    ``rootDepartmentId``) or one province's units. Returns (title, area unit id)."""
    overview = b.get(data, "overview", "data", "object (overview of the area)")
    records = b.records(data, "evaluation", "data")
    code = b.get(overview, "departmentCode", "data.overview", "string or null (unit code)",
                 required=False, nullable=True)
    checks: list = []
    if code is None:  # the whole country: evaluation[] lists the provinces
        uids = []
        for path, rec in records:
            pcode = b._code(rec, path)
            uid = b.province(b.get(rec, "departmentName", path, "string (unit name)"), pcode, path)
            uids.append(uid)
            _unit_scores(b, rec, path, section="data.evaluation[]", unit=uid, period=period, ctx=ctx,
                         checks=checks)
        _check_sum(b, checks, "provinces")
        # the national overview ("Cả nước"), radar (the five groups: plain means of the provinces)
        # and donuts are the country unit's record
        area = _smallest_code_unit(b, [b.units[u] for u in uids] + [{"unit_id": COUNTRY_ID}])
        name = overview.get("departmentName")
        if isinstance(name, str) and name.strip():
            b.alias(name, COUNTRY_ID)
        _unit_scores(b, overview, "data.overview", section="data.overview", unit=COUNTRY_ID,
                     period=period, ctx=ctx, groups_required=False)
        _radar(b, data, COUNTRY_ID, period)
        _donuts(b, data, COUNTRY_ID, period)
        title = f"API service-results: {len(records)} tỉnh, thành phố, kỳ {period}"
    else:
        if not re.match(UNIT_CODE, code):
            raise b.error("data.overview.departmentCode", f"'{code}' is not a unit code; expected H21")
        b.codes_seen[code] = "data.overview"
        area = b.province(b.get(overview, "departmentName", "data.overview", "string (unit name)"),
                          code, "data.overview")
        _unit_scores(b, overview, "data.overview", section="data.overview", unit=area, period=period,
                     ctx=ctx, groups_required=False)
        _radar(b, data, area, period)
        _donuts(b, data, area, period)
        levels: dict[str, int] = {}
        for path, rec in records:
            ucode = b._code(rec, path)
            level, uid = _child_unit(b, rec, path, "childGroup", "AGENCY or COMMUNE", ucode, area)
            levels[level] = levels.get(level, 0) + 1
            _unit_scores(b, rec, path, section="data.evaluation[]", unit=uid, period=period, ctx=ctx,
                         groups_required=False, checks=checks)
        if records and not any("groupScores" in rec for _, rec in records):
            b.notes.append("data.evaluation[]: the unit records carry totals only (no group scores)")
        _check_sum(b, checks, "records")
        name = b.units[area]["name"]
        described = ", ".join(f"{n} {lv}" for lv, n in sorted(levels.items()))
        title = f"API service-results: {name} ({described or 'no units'}), kỳ {period}"
    if "growthPercent" in data:
        b.unmap("data.growthPercent", "change in percent against an earlier period (derived; not stored)")
    for key in ("monthlyChart", "dossierChart"):
        if key in data:
            b.unmap(f"data.{key}", "chart series (one value per month) not imported")
    return title, area


def _radar(b: _Builder, data: dict, unit: str, period: str) -> None:
    radar = b.get(data, "radar", "data", "list of group scores", required=False, nullable=True)
    for i, item in enumerate(radar or []):
        where = f"data.radar[{i}]"
        if not isinstance(item, dict):
            raise b.error(where, "expected an object (group score)")
        code = b.get(item, "code", where, "string (group code)")
        group = RADAR_GROUPS.get(code)
        if group is None:
            raise b.error(_join(where, "code"), f"unknown radar group '{code}'; expected "
                                                f"{', '.join(RADAR_GROUPS)}")
        value = b.get(item, "score", where, "number or null (points)", nullable=True)
        if value is None:
            b.notes.append(f"{where} ({code}): score null, no score recorded")
            continue
        if not 0 <= value <= 100:
            raise b.error(_join(where, "score"), f"{value} is not a score (0–100 points)")
        b.score(section="data.radar[]", unit=unit, period=period, group=group, value=float(value),
                max_stated=b.get(item, "maxScore", where, "number (maximum points)", required=False))


def _donuts(b: _Builder, data: dict, unit: str, period: str) -> None:
    donuts = b.get(data, "donuts", "data", "object of shares", required=False, nullable=True)
    for name, items in (donuts or {}).items():
        if items is None:
            continue
        where = f"data.donuts.{name}"
        if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
            raise b.error(where, "expected a list of {code, value, percent} objects")
        values = [i.get("value") for i in items]
        total = sum(values) if all(_is_number(v) for v in values) else None
        for item in items:
            indicator = DONUT_RULES.get((name, item.get("code")))
            label = f"{where}[{item.get('code')}]"
            if indicator is None:
                b.unmap(label, "no indicator code for this share")
                continue
            if _is_number(item.get("value")):
                b.indicator(path=f"{label}.value", section="data.donuts", unit=unit, period=period,
                            indicator=indicator, measure="count", value=item["value"], denominator=total)
            if _is_number(item.get("percent")):
                b.indicator(path=f"{label}.percent", section="data.donuts", unit=unit, period=period,
                            indicator=indicator, measure="percent", value=item["percent"])


def _period_from_dates(start: str, end: str, as_of: date) -> tuple[str, date | None]:
    s, e = date.fromisoformat(start), date.fromisoformat(end)
    if s.day == 1 and s.month == 1 and e == date(s.year, 12, 31):
        return portal_period("year", s.year, as_of=as_of)
    if s.day == 1 and (s.month - 1) % 3 == 0 and e == parse_period(f"{s.year}-Q{(s.month - 1) // 3 + 1}").end:
        return portal_period("quarter", s.year, as_of=as_of, quarter=(s.month - 1) // 3 + 1)
    if s.day == 1 and e == parse_period(f"{s.year}-{s.month:02d}").end:
        return portal_period("month", s.year, as_of=as_of, month=s.month)
    raise ValueError(f"fromDate {start} – toDate {end} is not a month, quarter or year")


# --- entry points ------------------------------------------------------------------------------

def parse_portal(obj: Any, *, file=None, name: str = "portal", sha256: str | None = None,
                 origin: str | None = None, existing: Dataset | None = None,
                 capture: dict | None = None, period: str | None = None, as_of: date | None = None,
                 swap_online_payment: bool = False) -> ImportResult:
    """Rows that one parsed portal JSON document adds (pure: no file access).

    Parameters
    ----------
    obj : parsed JSON
    file : path, optional
        Named in errors.
    name : str
        Short name used in the source id (``portal-<name>-<sha256[:8]>``).
    sha256, origin : str
        Provenance of the original bytes.
    existing : Dataset, optional
        Tables already in the target directory; units are matched against them.
    capture : dict, optional
        The manifest entry of a raw API capture (``payload``, ``capturedAt``, ``url``).
    period, as_of : optional
        Period id and read date for a raw response without a manifest.
    swap_online_payment : bool
        Exchange ONLINE and TTTT (for files known to swap them; see the module notes).

    Returns
    -------
    ImportResult

    Raises
    ------
    DataError
        Unexpected schema (naming the JSON path and what was expected), duplicate unit, unknown
        layout, swapped groups.

    Examples
    --------
    >>> doc = {"metadata": {"scope": "Provinces", "runDateStr": "26092026", "timeType": "year",
    ...        "year": 2026}, "provinces": [{"departmentName": "UBND tỉnh Gia Lai",
    ...        "departmentCode": "H21", "totalScore": 62.74, "rank": 1, "groupScores": {
    ...        "CKMB": 11.79, "TDGQ": 15.8, "ONLINE": 8.47, "TTTT": 6.91, "MDSH": 9.34,
    ...        "MDHL": 10.43}}]}
    >>> r = parse_portal(doc, name="example", sha256="0" * 64)
    >>> r.tables["units"].loc[0, ["unit_id", "name", "level"]].tolist()
    ['gia-lai', 'tỉnh Gia Lai', 'province']
    >>> row = r.tables["scores"].iloc[0]
    >>> row["period_id"], row["group"], float(row["value"]), int(row["rank"])
    ('2026-ytd-09-26', 'TOTAL', 62.74, 1)
    """
    old_names: set = set()
    obj = normalise_field_names(obj, "", old_names) if isinstance(obj, (dict, list)) else obj
    try:
        layout = detect_layout(obj)
    except DataError as exc:
        raise DataError(str(exc), file=file) from None
    if layout in DOCUMENTATION_LAYOUTS:
        return ImportResult(path=Path(file) if file else None, kind="documentation", source_id=None,
                            skipped=DOCUMENTATION_LAYOUTS[layout])
    digest = sha256 or "0" * 64
    base = slugify(name)[:48].strip("-") or "file"
    source_id = f"portal-{base}-{digest[:8]}"
    b = _Builder(file=file, source_id=source_id, existing=existing)
    ctx = _Context(period=period, cutoff=None, as_of=as_of, capture=capture,
                   swap_online_payment=swap_online_payment)
    if period is not None:
        given = parse_period(period)
        ctx.cutoff = given.end if given.kind in SNAPSHOT_KINDS else None
    kind = layout
    if layout == "provinces":
        pid, title, read_on, area = _parse_provinces(b, obj, ctx)
    elif layout in ("unit-list", "detail"):
        pid, title, read_on, area = _parse_unit_list(b, obj, ctx, detail=layout == "detail")
    elif layout in ("catalog-provinces", "catalog-communes"):
        pid, title, read_on, area = _parse_catalog(b, obj, ctx, layout.split("-")[1])
    else:
        pid, title, read_on, area, endpoint = _parse_raw(b, obj, ctx)
        kind = f"raw:{RAW_ENDPOINTS[endpoint]['group'] if endpoint in RAW_ENDPOINTS else endpoint}"
    if old_names:
        b.notes.append(f"old API field names read: {', '.join(sorted(old_names))}")
    if swap_online_payment:
        b.notes.append("ONLINE and TTTT exchanged on import (swap_online_payment=True)")
    provinces_covered = {u["province_id"] for u in b.units.values() if u["unit_id"] in
                         {r["unit_id"] for r in b.rows["scores"]}}
    source_note = [f"layout {layout}"]
    if len(provinces_covered) > 1:
        source_note.append(f"covers {len(provinces_covered)} provinces (area: the whole country)")
    source_note += [n for n in b.notes if n.startswith(("old API", "ONLINE and TTTT"))]
    if capture:
        source_note.append(f"captured {capture.get('capturedAt')} ({capture.get('method', 'POST')} "
                           f"{capture.get('url')})")
    source_row = {
        "source_id": source_id, "kind": "portal", "doc_number": None,
        "issuer": "Cổng Dịch vụ công quốc gia", "issued_date": None, "title": title,
        "area_unit_id": area, "period_id": pid, "data_as_of": read_on, "as_published": True,
        "origin": origin or name, "sha256": sha256, "note": "; ".join(source_note)}
    return b.result(Path(file) if file else None, kind, source_row)


def _find_capture(path: Path) -> dict | None:
    """The manifest entry of a raw capture, from a ``manifest*.json`` in a parent directory."""
    for folder in list(path.parents)[:4]:
        for manifest in sorted(folder.glob("manifest*.json")):
            try:
                doc = json.loads(manifest.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                continue
            rel = path.relative_to(folder).as_posix()
            for entry in doc.get("captures", []) if isinstance(doc, dict) else []:
                if isinstance(entry, dict) and entry.get("file") == rel:
                    return {**entry, "manifest": manifest}
    return None


def import_portal(path: Path | str, *, existing: Dataset | None = None, period: str | None = None,
                  as_of: date | None = None, swap_online_payment: bool = False) -> ImportResult:
    """Read one portal JSON file and return the rows it adds, with its provenance.

    Parameters
    ----------
    path : path
        A ``.json`` file saved from the portal API (crawler output or raw response).
    existing : Dataset, optional
        The tables of the target data directory (units are matched by code, then name).
    period, as_of : optional
        For a raw API response without a capture manifest beside it.
    swap_online_payment : bool
        See the module notes on the CLGQ/TTTT swap.

    Returns
    -------
    ImportResult
        ``skipped`` is set for documentation files (``metrics.m0.json``, manifests).

    Raises
    ------
    DataError
        Wrong kind of file, malformed JSON (line and column), unexpected schema (JSON path),
        duplicate unit, a manifest whose hash disagrees with the file.

    Examples
    --------
    >>> from analysis.config import SHARED_DIR
    >>> f = SHARED_DIR / "data/portal/crawler-766/data/gia_lai/agencies_GiaLai_24092026.json"
    >>> r = import_portal(f) if f.exists() else None
    >>> r is None or len(r.tables["units"]) == 15  # Gia Lai and its 14 agencies
    True
    """
    path = Path(path)
    if path.suffix.lower() != ".json":
        raise DataError(f"not a portal JSON file (suffix '{path.suffix}'); the portal importer reads "
                        f".json files saved from the portal API", file=path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise DataError("file not found", file=path) from None
    obj = load_json(raw, file=path)
    digest = file_sha256(path)
    capture = None
    name = path.stem
    if isinstance(obj, dict) and {"code", "data"} <= set(obj):
        name = f"{path.parent.name}-{path.stem}"
        capture = _find_capture(path)
        if capture is not None and capture.get("sha256") and capture["sha256"] != digest:
            raise DataError(f"the capture manifest {capture['manifest']} lists SHA-256 "
                            f"{capture['sha256'][:12]}… for this file but its bytes hash to "
                            f"{digest[:12]}…: the file is not the capture it describes", file=path)
    return parse_portal(obj, file=path, name=name, sha256=digest, origin=origin_of(path),
                        existing=existing, capture=capture, period=period, as_of=as_of,
                        swap_online_payment=swap_online_payment)
