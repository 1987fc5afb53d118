"""Units and name harmonisation: map every printed spelling to one canonical unit."""
from __future__ import annotations

import difflib
from collections import defaultdict

import pandas as pd

from .errors import UnknownUnitError
from .text import UNIT_TYPES, name_key

__all__ = ["UnitIndex", "short_name", "display_name"]


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
