"""Table specifications and pandera schemas of the six tables of a data directory."""
from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
import pandera.pandas as pa

from .reference import GROUP_CODES, band_aliases, bands, groups, indicator_catalog, levels

__all__ = ["Column", "FRAME_CHECK_FOCUS", "TABLE_COLUMNS", "KEYS", "table_schema", "canonical_band", "SLUG", "UNIT_ID",
           "UNIT_CODE", "PERIOD_ID", "MEASURES", "SOURCE_KINDS", "UNIT_TYPES"]

SLUG = r"^[a-z0-9]+(?:-[a-z0-9]+)*$"
UNIT_ID = r"^[a-z0-9]+(?:-[a-z0-9]+)*(?:/[a-z0-9]+(?:-[a-z0-9]+)*)*$"
UNIT_CODE = r"^(?:H\d{2}(?:\.\d+)*|\d{3}\.\d{2}\.\d{2}\.H\d{2})$"
PERIOD_ID = r"^\d{4}(?:-\d{2}|-\d{2}-w\d|-Q\d|-H\d|-[ymq]td-\d{2}-\d{2})?$"
SHA256 = r"^[0-9a-f]{64}$"
MEASURES = ("percent", "count", "points", "days")
SOURCE_KINDS = ("report", "portal", "document", "synthetic")
UNIT_TYPES = ("tỉnh", "thành phố", "huyện", "thị xã", "xã", "phường", "thị trấn", "đặc khu", "sở", "ban",
              "thanh tra", "văn phòng", "cơ quan")


# Error text of each frame-level check -> the column an error message should point at.
FRAME_CHECK_FOCUS: dict[str, str | None] = {}


def _frame_check(fn, error: str, column: str | None = None) -> pa.Check:
    """A check over whole rows; errors point at ``column`` (None: the row as a whole)."""
    FRAME_CHECK_FOCUS[error] = column
    return pa.Check(fn, error=error)


@dataclass(frozen=True)
class Column:
    """A column of a table file: name, type (str, float, int, bool, date) and whether it is required."""

    name: str
    type: str = "str"
    required: bool = True


def _cols(spec: str) -> tuple[Column, ...]:
    """Parse ``name:type[?]`` words; ``?`` marks an optional (nullable) column."""
    out = []
    for word in spec.split():
        name, _, typ = word.partition(":")
        optional = typ.endswith("?")
        out.append(Column(name, typ.rstrip("?") or "str", not optional))
    return tuple(out)


TABLE_COLUMNS: dict[str, tuple[Column, ...]] = {
    "sources": _cols("source_id kind doc_number:str? issuer issued_date:date? title area_unit_id "
                     "period_id data_as_of:date? as_published:bool origin sha256:str? note:str?"),
    "units": _cols("unit_id code:str? name unit_type:str? level parent_id:str? province_id "
                   "valid_to:date? note:str?"),
    "unit_aliases": _cols("alias unit_id source_id kind note:str?"),
    "periods": _cols("period_id kind start_date:date end_date:date cutoff_date:date? label_vi"),
    "scores": _cols("source_id section unit_id period_id group value:float? max_stated:float? "
                    "decimals:int? rank:int? rank_of:int? rank_block:str? band:str? change:float? "
                    "marked:bool note:str?"),
    "indicators": _cols("source_id section unit_id period_id indicator measure category:str? "
                        "block:str? value:float denominator:float? decimals:int? marked:bool "
                        "note:str?"),
}

KEYS: dict[str, list[str]] = {
    "sources": ["source_id"],
    "units": ["unit_id"],
    "unit_aliases": ["alias", "unit_id", "source_id"],
    "periods": ["period_id"],
    "scores": ["source_id", "section", "unit_id", "period_id", "group"],
    "indicators": ["source_id", "section", "unit_id", "period_id", "indicator", "measure", "category"],
}

_DTYPES = {"str": str, "float": float, "int": "Int64", "bool": bool, "date": "datetime64[ns]"}


def _column(col: Column, *checks, **kw) -> pa.Column:
    return pa.Column(_DTYPES[col.type], checks=list(checks), nullable=not col.required,
                     coerce=False, **kw)


def _in(values, what: str) -> pa.Check:
    allowed = sorted(set(values))
    shown = ", ".join(map(str, allowed[:12])) + (" …" if len(allowed) > 12 else "")
    return pa.Check.isin(allowed, error=f"{what}; allowed: {shown}")


def _regex(pattern: str, what: str) -> pa.Check:
    return pa.Check.str_matches(pattern, error=f"{what} (pattern {pattern})")


def _unique_key(table: str) -> pa.Check:
    key = KEYS[table]

    def check(df: pd.DataFrame) -> pd.Series:
        return ~df.duplicated(subset=key, keep="first")

    return _frame_check(check, f"duplicate key ({', '.join(key)}): each must appear once")


def table_schema(table: str, refs: dict | None = None) -> pa.DataFrameSchema:
    """The pandera schema of one table.

    Parameters
    ----------
    table : str
        One of ``sources, units, unit_aliases, periods, scores, indicators``.
    refs : dict, optional
        Ids of already validated tables (``unit_id``, ``period_id``, ``source_id``, and
        ``clean_sources``) for referential checks; without it those checks are skipped.
    """
    refs = refs or {}
    cols = {c.name: c for c in TABLE_COLUMNS[table]}
    checks: dict[str, list] = {name: [] for name in cols}
    frame_checks = [_unique_key(table)]

    def ref(column: str, key: str, table_name: str):
        if key in refs:
            checks[column].append(_in(refs[key], f"must be a {key} of {table_name}.csv"))

    if table == "sources":
        checks["source_id"].append(_regex(SLUG, "must be a lowercase slug"))
        checks["kind"].append(_in(SOURCE_KINDS, "unknown source kind"))
        checks["period_id"].append(_regex(PERIOD_ID, "must be a period id"))
        checks["sha256"].append(_regex(SHA256, "must be 64 lowercase hex digits"))
    elif table == "units":
        checks["unit_id"].append(_regex(UNIT_ID, "must be a slug path like bac-kan/huyen-na-ri"))
        checks["code"].append(_regex(UNIT_CODE, "must be an official code like H03, 000.44.36.H03 or H21.227"))
        checks["level"].append(_in(levels().index, "unknown level"))
        checks["unit_type"].append(_in(UNIT_TYPES, "unknown unit type"))
        frame_checks.append(_frame_check(
            lambda df: df["code"].isna() | ~df.duplicated(subset=["code"], keep="first"),
            "duplicate official code: a code names one unit", "code"))
        frame_checks.append(_frame_check(
            lambda df: df["level"].isin(["country", "province"]) == df["parent_id"].isna(),
            "a province (or the country) has no parent_id and every other unit has one", "parent_id"))
        frame_checks.append(_frame_check(
            lambda df: df["parent_id"].isna() | df["parent_id"].isin(set(df["unit_id"])),
            "parent_id must be a unit_id of units.csv", "parent_id"))
        frame_checks.append(_frame_check(
            lambda df: df["province_id"].isin(set(df.loc[df["level"].isin(["country", "province"]), "unit_id"])),
            "province_id must be the unit_id of a province in units.csv", "province_id"))
    elif table == "unit_aliases":
        ref("unit_id", "unit_id", "units")
        ref("source_id", "source_id", "sources")
        checks["kind"].append(_in(("variant", "typo"), "unknown alias kind"))
    elif table == "periods":
        checks["period_id"].append(_regex(PERIOD_ID, "must be a period id"))
        checks["kind"].append(_in(("month", "week", "quarter", "half", "year", "ytd", "qtd", "mtd"), "unknown period kind"))
        frame_checks.append(_frame_check(lambda df: df["start_date"] <= df["end_date"],
                                     "start_date must not be after end_date", "start_date"))
    elif table in ("scores", "indicators"):
        ref("source_id", "source_id", "sources")
        ref("unit_id", "unit_id", "units")
        ref("period_id", "period_id", "periods")
        checks["decimals"].append(pa.Check.in_range(0, 4, error="decimals printed must be 0–4"))
        if table == "scores":
            checks["group"].append(_in(GROUP_CODES, "unknown group code"))
            checks["value"].append(pa.Check.in_range(0, 100, error="a score must be within 0–100 points"))
            checks["max_stated"].append(pa.Check.in_range(0, 100, include_min=False,
                                                          error="a stated maximum must be within (0, 100]"))
            checks["rank"].append(pa.Check.ge(1, error="a rank starts at 1"))
            checks["rank_block"].append(_in(levels().index, "unknown rank block"))
            checks["band"].append(_in(bands()["band"], "band must be a canonical band name"))
            frame_checks.append(_frame_check(
                lambda df: df["rank"].isna() | df["rank_of"].isna() | (df["rank"] <= df["rank_of"]),
                "rank must not exceed rank_of", "rank"))
            frame_checks.append(_frame_check(
                lambda df: df["value"].notna() | df["rank"].notna() | df["band"].notna(),
                "a score row needs a value, a rank or a band", "value"))
            group_max = groups()["max_points"]
            clean = set(refs.get("clean_sources", ()))

            def within_group_max(df: pd.DataFrame) -> pd.Series:
                limit = df["group"].map(group_max)
                over = df["value"].notna() & limit.notna() & (df["value"] > limit + 1e-9)
                return ~(over & df["source_id"].isin(clean))

            frame_checks.append(_frame_check(
                within_group_max,
                "score above its group's maximum in a source that claims to be clean "
                "(sources.as_published = false)", "value"))
        else:
            catalog = indicator_catalog()
            checks["indicator"].append(_in(catalog.index, "unknown indicator code (reference/indicators.csv)"))
            checks["measure"].append(_in(MEASURES, "unknown measure"))
            checks["block"].append(_in(levels().index, "unknown block"))
            checks["value"].append(pa.Check.ge(0, error="a rate or count cannot be negative"))
            checks["denominator"].append(pa.Check.ge(0, error="a denominator cannot be negative"))
            allowed = {(code, m) for code, ms in catalog["measures"].items() for m in ms}

            def measure_allowed(df: pd.DataFrame) -> pd.Series:
                pairs = pd.Series(list(zip(df["indicator"], df["measure"])), index=df.index)
                return pairs.isin(allowed) | ~df["indicator"].isin(catalog.index)

            frame_checks.append(_frame_check(measure_allowed,
                                         "measure not allowed for this indicator (reference/indicators.csv)", "measure"))
            frame_checks.append(_frame_check(
                lambda df: (df["measure"] != "percent") | (df["value"] <= 100),
                "a percentage must be within 0–100", "value"))
            frame_checks.append(_frame_check(
                lambda df: df["denominator"].isna() | (df["value"] <= df["denominator"] + 1e-9)
                | (df["measure"] == "percent"),
                "a count cannot exceed its denominator", "value"))

    columns = {name: _column(col, *checks[name]) for name, col in cols.items()}
    return pa.DataFrameSchema(columns, checks=frame_checks, strict=True, ordered=True,
                              name=f"{table}.csv")


def canonical_band(text: str | None) -> str | None:
    """Canonical band name for a printed spelling (``TB`` → ``Trung bình``), or None."""
    if text is None:
        return None
    return band_aliases().get(text.strip())
