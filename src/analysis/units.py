"""Units and name harmonisation: map every printed spelling to one canonical unit."""
from __future__ import annotations

import difflib
import re
from collections import defaultdict
from datetime import date
from functools import lru_cache

import pandas as pd

from .config import REFERENCE_DIR
from .errors import UnknownUnitError
from .text import UNIT_TYPES, name_key

__all__ = ["UnitIndex", "short_name", "display_name", "old_provinces", "new_provinces", "old_districts",
           "province_crosswalk", "district_crosswalk", "old_units", "REFORM_DATE", "crosses_reform",
           "NOT_COMPARABLE", "LEGAL_SOURCE"]

#: First day of the two-level local government (34 provinces, no districts).
REFORM_DATE = date(2025, 7, 1)
#: Flag carried by comparisons and trends whose periods straddle :data:`REFORM_DATE`.
NOT_COMPARABLE = "not comparable: the periods straddle the 1 July 2025 reform of provinces"
#: Legal source of the province crosswalk.
LEGAL_SOURCE = ("Nghị quyết 202/2025/QH15 của Quốc hội ngày 12/6/2025 về việc sắp xếp đơn vị hành "
                "chính cấp tỉnh (effective 1 July 2025)")


@lru_cache(maxsize=1)
def old_provinces() -> pd.DataFrame:
    """The 63 provinces that existed until 30 June 2025, with their GSO codes, the unit id the
    toolkit gives them and the new (34) province each became part of.

    Sources are stated in ``reference/PROVINCES.md``.

    Examples
    --------
    >>> t = old_provinces()
    >>> len(t), t["new_gso_code"].nunique(), int((t["arrangement"] == "kept").sum())
    (63, 34, 11)
    >>> t.set_index("unit_id").at["bac-kan", "new_name"]
    'tỉnh Thái Nguyên'
    """
    t = pd.read_csv(REFERENCE_DIR / "provinces_2024.csv", dtype=str, keep_default_na=False, encoding="utf-8")
    t["key"] = [name_key(re.sub(r"^(tỉnh|thành phố)\s+", "", n)) for n in t["name"]]
    return t


@lru_cache(maxsize=1)
def new_provinces() -> pd.DataFrame:
    """The 34 provinces from 1 July 2025 with their GSO codes and the old provinces they were
    formed from (``|``-separated).

    Examples
    --------
    >>> t = new_provinces()
    >>> len(t), t.set_index("gso_code").at["91", "formed_from"]
    (34, 'tỉnh An Giang|tỉnh Kiên Giang')
    """
    return pd.read_csv(REFERENCE_DIR / "provinces_2025.csv", dtype=str, keep_default_na=False, encoding="utf-8")


@lru_cache(maxsize=1)
def old_districts() -> pd.DataFrame:
    """The 705 district-level units (huyện, quận, thị xã, thành phố thuộc tỉnh) of the GSO list
    of 17 May 2022, with their GSO codes, province and unit id; all ended on 30 June 2025 with
    the district level. Changes between May 2022 and June 2025 are not in this list (see
    ``reference/PROVINCES.md``).

    Examples
    --------
    >>> d = old_districts()
    >>> len(d), d["province_gso_code"].nunique()
    (705, 63)
    >>> d.set_index("gso_code").at["066", "unit_id"]
    'bac-kan/huyen-na-ri'
    """
    t = pd.read_csv(REFERENCE_DIR / "districts_2022.csv", dtype=str, keep_default_na=False, encoding="utf-8")
    t["key"] = [name_key(n) for n in t["name"]]
    return t


def old_units() -> pd.DataFrame:
    """The 63 provinces and 705 districts before the July 2025 reform as rows of ``units.csv``
    (``valid_to`` 2025-06-30; codes of the national e-government catalogue are not known for
    them, so ``code`` is empty and the GSO code is in ``note``).

    Examples
    --------
    >>> u = old_units()
    >>> len(u), sorted(u["level"].unique())
    (768, ['district', 'province'])
    """
    p, d = old_provinces(), old_districts()
    provinces = pd.DataFrame({
        "unit_id": p["unit_id"], "code": None, "name": p["name"], "unit_type": p["unit_type"],
        "level": "province", "parent_id": None, "province_id": p["unit_id"],
        "valid_to": pd.to_datetime(p["valid_to"]).dt.date,
        "note": [f"province before the July 2025 reform (GSO code {c}); from 1 July 2025 part of {n} "
                 f"(Resolution 202/2025/QH15); reference/provinces_2024.csv"
                 for c, n in zip(p["gso_code"], p["new_name"])]})
    districts = pd.DataFrame({
        "unit_id": d["unit_id"], "code": None, "name": d["name"], "unit_type": d["unit_type"],
        "level": "district", "parent_id": d["province_unit_id"], "province_id": d["province_unit_id"],
        "valid_to": pd.to_datetime(d["valid_to"]).dt.date,
        "note": [f"district (GSO code {c}, GSO list of 17 May 2022); the district level ended on 30 June "
                 f"2025; reference/districts_2022.csv" for c in d["gso_code"]]})
    return pd.concat([provinces, districts], ignore_index=True)


def district_crosswalk() -> pd.DataFrame:
    """Old district -> the new (34) province it lies in. Provinces were merged whole, so a
    district's new province is that of its old province; the district itself has no successor
    (its communes were rearranged by resolutions of the Standing Committee of the National
    Assembly, not held here).

    Examples
    --------
    >>> cw = district_crosswalk().set_index("old_unit_id")
    >>> cw.at["dong-thap/thanh-pho-sa-dec", "new_name"]
    'tỉnh Đồng Tháp'
    """
    d, p = old_districts(), old_provinces().set_index("gso_code")
    return pd.DataFrame({
        "old_unit_id": d["unit_id"], "old_name": d["name"], "old_gso_code": d["gso_code"],
        "old_province_unit_id": d["province_unit_id"], "valid_to": d["valid_to"],
        "new_gso_code": [p.at[c, "new_gso_code"] for c in d["province_gso_code"]],
        "new_name": [p.at[c, "new_name"] for c in d["province_gso_code"]],
        "comparable": False, "legal_source": LEGAL_SOURCE})


def province_crosswalk() -> pd.DataFrame:
    """Old province -> new province, one row per old province, with the legal source.

    Examples
    --------
    >>> cw = province_crosswalk()
    >>> cw.loc[cw["old_unit_id"] == "quang-nam", ["new_name", "comparable"]].values.tolist()
    [['thành phố Đà Nẵng', False]]
    """
    t = old_provinces()
    return pd.DataFrame({
        "old_unit_id": t["unit_id"], "old_name": t["name"], "old_gso_code": t["gso_code"],
        "valid_to": t["valid_to"], "new_gso_code": t["new_gso_code"], "new_name": t["new_name"],
        "arrangement": t["arrangement"],
        # a merged province's series does not continue; a kept one changes its sub-units only
        "comparable": t["arrangement"] == "kept",
        "legal_source": LEGAL_SOURCE})


def crosses_reform(*periods) -> bool:
    """True when the periods (``Period`` objects or ids) lie on both sides of 1 July 2025, so a
    comparison or trend across them must carry :data:`NOT_COMPARABLE`.

    Examples
    --------
    >>> crosses_reform("2025-06", "2025-08"), crosses_reform("2024-07", "2025-06")
    (True, False)
    """
    from .periods import parse_period

    sides = set()
    for p in periods:
        p = parse_period(p) if isinstance(p, str) else p
        sides.add(p.end >= REFORM_DATE if p.start >= REFORM_DATE or p.end < REFORM_DATE else None)
    return None in sides or len(sides) > 1


def short_name(name: str) -> str:
    """Name without its type word: ``xã Sơn Thành`` -> ``Sơn Thành``; ``Phường 1`` stays.

    Examples
    --------
    >>> short_name("thị trấn Yên Lạc"), short_name("Phường 1")
    ('Yên Lạc', 'Phường 1')
    """
    low = name.casefold()
    for word in UNIT_TYPES:
        if low.startswith(word + " ") and not name[len(word) + 1:].strip().isdigit():
            return name[len(word) + 1:].strip()
    return name


def display_name(name: str, *, ubnd: bool = False) -> str:
    """Name as report tables print it: ``UBND xã Sơn Thành`` when ``ubnd`` and the name carries
    the type word of a local government (xã, phường, huyện …); otherwise the canonical name,
    so Phú Tân's bare ``Phú Long`` stays bare, as its report prints it.

    Examples
    --------
    >>> display_name("xã Sơn Thành", ubnd=True), display_name("Phú Long", ubnd=True)
    ('UBND xã Sơn Thành', 'Phú Long')
    """
    local = ("xã ", "phường ", "thị trấn ", "đặc khu ", "huyện ", "thị xã ", "thành phố ", "tỉnh ")
    if ubnd and name.casefold().startswith(local):
        return f"UBND {name}"
    return name


class UnitIndex:
    """Look-up of units by official code and by any spelling, scoped by province.

    Built from ``units.csv`` and ``unit_aliases.csv``. A name is compared through
    :func:`analysis.text.name_key`, first with its type word, then (when unique in the scope)
    without it, so Phú Tân's bare ``PHÚ THỌ`` finds ``Phú Thọ``.
    """

    def __init__(self, units: pd.DataFrame, aliases: pd.DataFrame | None = None):
        self.units = units.set_index("unit_id", drop=False)
        provinces = units.loc[units["level"] == "province"]
        self.province_names = tuple(short_name(n) for n in provinces["name"])
        self._by_code = {c: u for c, u in zip(units["code"], units["unit_id"]) if isinstance(c, str)}
        self._full: dict[tuple, set] = defaultdict(set)   # (province, key) -> unit ids
        self._bare: dict[tuple, set] = defaultdict(set)   # (province, key without type) -> unit ids
        self._aliases = aliases if aliases is not None else pd.DataFrame(columns=["alias", "unit_id"])
        for uid, name, prov in zip(units["unit_id"], units["name"], units["province_id"]):
            self._add(prov, name, uid)
        for alias, uid in zip(self._aliases["alias"], self._aliases["unit_id"]):
            if uid in self.units.index:
                self._add(self.units.at[uid, "province_id"], alias, uid)

    @classmethod
    def from_dataset(cls, ds) -> "UnitIndex":
        """Index of a loaded :class:`analysis.dataset.Dataset`."""
        return cls(ds.units, ds.unit_aliases)

    def _add(self, province: str, name: str, uid: str) -> None:
        key = name_key(name, self.province_names)
        self._full[(province, key)].add(uid)
        self._bare[(province, name_key(short_name(key), self.province_names))].add(uid)

    def by_code(self, code: str) -> str | None:
        """Unit id for an official code, or None."""
        return self._by_code.get(code)

    def _candidates(self, name: str, province: str | None, parent: str | None) -> set:
        provinces = [province] if province else sorted(set(self.units["province_id"]))
        key = name_key(name, self.province_names)
        bare = name_key(short_name(key), self.province_names)
        found: set = set()
        for prov in provinces:
            found |= self._full.get((prov, key), set())
        if not found:
            for prov in provinces:
                found |= self._bare.get((prov, bare), set())
        if parent and len(found) > 1:
            narrowed = {u for u in found if self.units.at[u, "parent_id"] == parent or u == parent}
            found = narrowed or found
        return found

    def resolve(self, name: str, *, province: str | None = None, parent: str | None = None) -> str | None:
        """Unit id for one name inside ``province`` (and under ``parent``), or None when it
        matches no unit. Raises UnknownUnitError when it matches several."""
        found = self._candidates(name, province, parent)
        if len(found) > 1:
            raise UnknownUnitError(f"name '{name}' matches several units: {', '.join(sorted(found))}; "
                                   f"add an alias row or pass the parent unit", unit=name)
        return next(iter(found)) if found else None

    def resolve_names(self, names, *, province: str | None = None, parent: str | None = None,
                      file=None, column=None) -> list[str]:
        """Unit ids for many names; raise one error listing every name that matches nothing.

        Parameters
        ----------
        names : iterable of str
        province, parent : str, optional
            Scope of the search (unit ids).
        file, column
            Where the names were read, for the error.

        Raises
        ------
        UnknownUnitError
            Listing each unknown name with the closest known spellings.
        """
        names = list(names)
        out, unknown = [], []
        for name in names:
            uid = self.resolve(name, province=province, parent=parent)
            out.append(uid)
            if uid is None:
                unknown.append(name)
        if unknown:
            scope = [k for (prov, k) in self._full if province is None or prov == province]
            lines = []
            for name in unknown:
                close = difflib.get_close_matches(name_key(name, self.province_names), scope, n=3, cutoff=0.6)
                hint = f" (closest known: {', '.join(close)})" if close else ""
                lines.append(f"'{name}'{hint}")
            where = f" in province '{province}'" if province else ""
            raise UnknownUnitError(f"unknown unit name(s){where}: {'; '.join(lines)}. Add the "
                                   f"spelling to unit_aliases.csv or the unit to units.csv",
                                   file=file, column=column, unit=unknown[0])
        return out

    def check_aliases(self, *, file=None) -> None:
        """Every alias must lead back to its own unit and to no other in its province."""
        for i, (alias, uid) in enumerate(zip(self._aliases["alias"], self._aliases["unit_id"])):
            prov = self.units.at[uid, "province_id"] if uid in self.units.index else None
            found = self._candidates(alias, prov, None)
            if found != {uid}:
                others = ", ".join(sorted(found - {uid}))
                raise UnknownUnitError(f"alias '{alias}' of '{uid}' also matches {others}; "
                                       f"aliases must be unambiguous inside a province",
                                       file=file, row=i + 2, column="alias", unit=uid)
