"""The 766 scoring scheme as versioned data (TOML), with user overrides and no numbers in code."""
from __future__ import annotations

import copy
import hashlib
import math
import tomllib
from dataclasses import dataclass, field
from datetime import date
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd

from .config import SCHEMES_DIR
from .errors import ParameterError
from .periods import Period, parse_period
from .reference import bands as reference_bands

__all__ = ["Scheme", "GroupSpec", "SubIndicator", "load_scheme", "available_versions", "scheme_for_periods",
           "user_scheme", "STATUSES", "SIX", "FIVE"]

STATUSES = ("verified", "inferred", "unknown")
SIX, FIVE = "six", "five"
_GROUP_KEYS = {"name_en", "max", "views", "status", "note", "cap", "parts", "sub"}
_SUB_KEYS = {"indicators", "points", "target", "status", "note", "full_if_zero", "no_cases", "not_measured"}
_CASE_RULES = ("full", "zero")


@dataclass(frozen=True)
class SubIndicator:
    """One scored sub-indicator: ``points × min(1, rate / target)``.

    ``points`` is NaN when the split is not established; ``indicators`` lists the indicator
    codes that can supply the rate, first found wins (empty: no code in the catalogue yet).
    ``no_cases`` ("full" or "zero") scores a rate whose denominator is 0 (no complaints, no
    dossiers: the rate is missing, not 0%); ``not_measured`` ("full") scores a sub-indicator the
    portal prints with null numerator and denominator but with points.

    Examples
    --------
    >>> sub = load_scheme().groups["MDHL"].subs[1]
    >>> sub.code, sub.points, sub.target
    ('pakn_satisfaction', 6.0, 100.0)
    """

    group: str
    code: str
    indicators: tuple[str, ...]
    points: float
    target: float
    status: str
    full_if_zero: str | None = None
    note: str = ""
    no_cases: str | None = None
    not_measured: str | None = None


@dataclass(frozen=True)
class GroupSpec:
    """A group of the index: maximum, the views it belongs to, its parts and sub-indicators.

    Examples
    --------
    >>> g = load_scheme().groups["DVTT"]
    >>> g.max, g.parts
    (22.0, ('ONLINE', 'TTTT'))
    """

    code: str
    max: float
    views: tuple[str, ...]
    status: str
    parts: tuple[str, ...] = ()
    cap: float | None = None
    subs: tuple[SubIndicator, ...] = ()
    name_en: str = ""
    note: str = ""


@dataclass(frozen=True)
class Scheme:
    """A version of the 766 method: groups, views, sub-indicator rules, bands, audit settings.

    Build it with :func:`load_scheme`; ``raw`` keeps the merged TOML content and ``files`` the
    files it came from (the shipped version, then the user's override).

    Examples
    --------
    >>> s = load_scheme("766-2025")
    >>> s.max_points("TTTT"), s.band_names[-1], s.bands_table()["lower"].tolist()
    (10.0, 'Xuất sắc', [0.0, 50.0, 70.0, 80.0, 90.0])
    """

    version: str
    valid_from: date
    groups: dict[str, GroupSpec]
    views: dict[str, tuple[str, ...]]
    band_names: tuple[str, ...]
    band_lower: tuple[float, ...]
    band_top: float
    audit: dict
    raw: dict = field(repr=False)
    files: tuple[str, ...] = ()
    sha256: str = ""

    def max_points(self, group: str) -> float:
        """Maximum points of ``group`` (``TOTAL`` is 100)."""
        try:
            return self.groups[group].max
        except KeyError:
            raise ParameterError(f"unknown group '{group}'; allowed: {', '.join(self.groups)}") from None

    def view(self, name: str) -> tuple[str, ...]:
        """Groups of a view: ``six`` (portal) or ``five`` (decision)."""
        try:
            return self.views[name]
        except KeyError:
            raise ParameterError(f"unknown view '{name}'; allowed: {', '.join(self.views)}") from None

    def groups_table(self) -> pd.DataFrame:
        """One row per group: max, views, parts, cap, status."""
        rows = [{"group": g.code, "name_en": g.name_en, "max_points": g.max, "views": "|".join(g.views),
                 "parts": "|".join(g.parts), "cap": g.cap, "status": g.status} for g in self.groups.values()]
        return pd.DataFrame(rows)

    def subindicator_table(self) -> pd.DataFrame:
        """One row per sub-indicator: group, code, indicator codes, points, target, status."""
        rows = [{"group": s.group, "sub": s.code, "indicators": "|".join(s.indicators), "points": s.points,
                 "target": s.target, "status": s.status, "full_if_zero": s.full_if_zero}
                for g in self.groups.values() for s in g.subs]
        return pd.DataFrame(rows, columns=["group", "sub", "indicators", "points", "target", "status",
                                           "full_if_zero"])

    def bands_table(self) -> pd.DataFrame:
        """Bands in ascending order with lower (inclusive) and upper (exclusive; top band inclusive)."""
        upper = list(self.band_lower[1:]) + [self.band_top]
        return pd.DataFrame({"band": self.band_names, "lower": self.band_lower, "upper": upper})


def _versions_on_disk() -> dict[str, Path]:
    out = {}
    for path in sorted(SCHEMES_DIR.glob("*.toml")):
        out[path.stem] = path
    return out


def available_versions() -> pd.DataFrame:
    """Shipped scheme versions with the date each becomes valid, oldest first.

    Examples
    --------
    >>> available_versions()["version"].tolist()
    ['766-2022', '766-2025']
    """
    rows = [{"version": v, "valid_from": valid_from, "file": name} for v, valid_from, name in _version_dates()]
    return pd.DataFrame(rows)


def _version_dates(versions: dict[str, Path] | None = None) -> list[tuple[str, date, str]]:
    """(version, valid_from, file name) of each shipped version, oldest first (read from the
    parsed files, which are parsed once per file version; nothing is copied)."""
    rows = [(version, _parse_toml(str(path), path.stat().st_mtime_ns)["scheme"]["valid_from"], path.name)
            for version, path in (versions or _versions_on_disk()).items()]
    return sorted(rows, key=lambda r: r[1])


def _read_toml(path: Path) -> dict:
    """Parsed TOML (a fresh copy: callers modify it); parsed once per file version."""
    try:
        stamp = Path(path).stat().st_mtime_ns
    except FileNotFoundError:
        raise ParameterError(f"scheme file '{path}' does not exist") from None
    return copy.deepcopy(_parse_toml(str(path), stamp))


@lru_cache(maxsize=64)
def _parse_toml(path: str, _mtime_ns: int) -> dict:
    try:
        with open(path, "rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError:
        raise ParameterError(f"scheme file '{path}' does not exist") from None
    except tomllib.TOMLDecodeError as exc:
        raise ParameterError(f"scheme file '{path}' is not valid TOML: {exc}") from None


def _materialise_bands(raw: dict, where: str) -> None:
    """Turn ``cut_points = "reference"`` into explicit lower bounds from reference/bands.csv, so
    that an override can change them with keys that exist."""
    bands = raw.setdefault("bands", {})
    source = bands.get("cut_points", "reference")
    if source != "reference":
        raise ParameterError(f"{where}: bands.cut_points must be \"reference\" (cut points live in "
                             f"reference/bands.csv; replace single bounds with [bands.lower])")
    ref = reference_bands()
    lower = {row.band: float(row.lower) for row in ref.itertuples()}
    lower.update(bands.get("lower", {}))
    bands["lower"] = lower
    bands.setdefault("top", float(ref["upper"].max()))


def _type_name(value) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "table"
    if isinstance(value, date):
        return "date"
    return type(value).__name__


def _deep_merge(base: dict, override: dict, path: str, prefix: str = "") -> dict:
    """Merge ``override`` into a copy of ``base``; every key must already exist in ``base``."""
    out = dict(base)
    for key, value in override.items():
        dotted = f"{prefix}{key}"
        if key not in base:
            allowed = ", ".join(sorted(map(str, base))) or "(none)"
            raise ParameterError(f"{path}: unknown key '{dotted}' in scheme override; allowed at "
                                 f"this level: {allowed}")
        old = base[key]
        if isinstance(old, dict):
            if not isinstance(value, dict):
                raise ParameterError(f"{path}: key '{dotted}' must be a table, got {_type_name(value)}")
            out[key] = _deep_merge(old, value, path, f"{dotted}.")
        else:
            if _type_name(old) != _type_name(value):
                raise ParameterError(f"{path}: key '{dotted}' must be a {_type_name(old)}, got "
                                     f"{_type_name(value)} ({value!r})")
            out[key] = copy.deepcopy(value)
    return out


def _case_rule(value, where: str) -> str | None:
    if value is None or value in _CASE_RULES:
        return value
    raise ParameterError(f"{where} must be one of {', '.join(_CASE_RULES)}, got {value!r}")


def _status(value, where: str) -> str:
    if value not in STATUSES:
        raise ParameterError(f"{where}: status '{value}' not allowed; allowed: {', '.join(STATUSES)}")
    return value


def _number(value, where: str, *, allow_nan=False, positive=False) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ParameterError(f"{where} must be a number, got {value!r}")
    x = float(value)
    if math.isnan(x):
        if allow_nan:
            return x
        raise ParameterError(f"{where} must be a number, got nan")
    if x < 0 or (positive and x == 0):
        raise ParameterError(f"{where} must be {'positive' if positive else 'non-negative'}, got {x}")
    return x


def _build(raw: dict, files: tuple[str, ...], digest: str) -> Scheme:
    where = files[-1] if files else "scheme"
    head = raw.get("scheme", {})
    version = head.get("version")
    valid_from = head.get("valid_from")
    if not isinstance(version, str) or not isinstance(valid_from, date):
        raise ParameterError(f"{where}: [scheme] needs version (string) and valid_from (date)")
    from .reference import indicator_catalog  # catalogue of indicator codes

    catalog = set(indicator_catalog().index)
    groups: dict[str, GroupSpec] = {}
    for code, spec in raw.get("groups", {}).items():
        gw = f"{where}: groups.{code}"
        unknown = set(spec) - _GROUP_KEYS
        if unknown:
            raise ParameterError(f"{gw}: unknown key(s) {', '.join(sorted(unknown))}; allowed: "
                                 f"{', '.join(sorted(_GROUP_KEYS))}")
        subs = []
        for sub_code, s in spec.get("sub", {}).items():
            sw = f"{gw}.sub.{sub_code}"
            unknown = set(s) - _SUB_KEYS
            if unknown:
                raise ParameterError(f"{sw}: unknown key(s) {', '.join(sorted(unknown))}; allowed: "
                                     f"{', '.join(sorted(_SUB_KEYS))}")
            indicators = tuple(s.get("indicators", ()))
            bad = [i for i in indicators if i not in catalog]
            if bad:
                raise ParameterError(f"{sw}.indicators: {', '.join(bad)} not in reference/indicators.csv")
            target = _number(s.get("target", 100.0), f"{sw}.target", positive=True)
            if target > 100:
                raise ParameterError(f"{sw}.target must be within (0, 100] percent, got {target}")
            subs.append(SubIndicator(group=code, code=sub_code, indicators=indicators,
                                     points=_number(s.get("points", math.nan), f"{sw}.points", allow_nan=True),
                                     target=target, status=_status(s.get("status", "inferred"), sw),
                                     full_if_zero=s.get("full_if_zero"), note=s.get("note", ""),
                                     no_cases=_case_rule(s.get("no_cases"), f"{sw}.no_cases"),
                                     not_measured=_case_rule(s.get("not_measured"), f"{sw}.not_measured")))
        cap = spec.get("cap")
        group = GroupSpec(code=code, max=_number(spec.get("max"), f"{gw}.max", positive=True),
                          views=tuple(spec.get("views", ())), status=_status(spec.get("status", "inferred"), gw),
                          parts=tuple(spec.get("parts", ())), cap=None if cap is None else _number(cap, f"{gw}.cap"),
                          subs=tuple(subs), name_en=spec.get("name_en", ""), note=spec.get("note", ""))
        known = sum(s.points for s in subs if not math.isnan(s.points))
        limit = group.cap if group.cap is not None else group.max
        if subs and known > group.max + 1e-9 and group.cap is None:
            raise ParameterError(f"{gw}: sub-indicator points add up to {known:g}, above the group "
                                 f"maximum {group.max:g}; lower them or set cap")
        if group.cap is not None and limit > group.max + 1e-9:
            raise ParameterError(f"{gw}.cap {limit:g} is above max {group.max:g}")
        groups[code] = group
    views = {name: tuple(codes) for name, codes in raw.get("views", {}).items()}
    for name, codes in views.items():
        missing = [c for c in codes if c not in groups]
        if missing:
            raise ParameterError(f"{where}: views.{name} names unknown group(s) {', '.join(missing)}")
        total = sum(groups[c].max for c in codes)
        if "TOTAL" in groups and abs(total - groups["TOTAL"].max) > 1e-9:
            raise ParameterError(f"{where}: the maxima of views.{name} add up to {total:g}, not the "
                                 f"TOTAL maximum {groups['TOTAL'].max:g}")
    for g in groups.values():
        missing = [p for p in g.parts if p not in groups]
        if missing:
            raise ParameterError(f"{where}: groups.{g.code}.parts names unknown group(s) {', '.join(missing)}")
        if g.parts and abs(sum(groups[p].max for p in g.parts) - g.max) > 1e-9:
            raise ParameterError(f"{where}: groups.{g.code}.max {g.max:g} differs from the sum of its "
                                 f"parts {', '.join(g.parts)}")
    bands = raw["bands"]
    lower = {k: _number(v, f"{where}: bands.lower.{k}") for k, v in bands["lower"].items()}
    order = sorted(lower, key=lower.get)
    lows = tuple(lower[b] for b in order)
    if len(set(lows)) != len(lows):
        raise ParameterError(f"{where}: bands.lower has two bands with the same cut point: {lower}")
    top = _number(bands.get("top", 100.0), f"{where}: bands.top")
    if top <= lows[-1]:
        raise ParameterError(f"{where}: bands.top {top:g} must be above the highest cut point {lows[-1]:g}")
    audit = dict(raw.get("audit", {}))
    return Scheme(version=version, valid_from=valid_from, groups=groups, views=views,
                  band_names=tuple(order), band_lower=lows, band_top=top, audit=audit, raw=raw,
                  files=files, sha256=digest)


@lru_cache(maxsize=32)
def _load_cached(version: str, override: str | None, override_mtime: float | None) -> Scheme:
    versions = _versions_on_disk()
    path = versions[version]
    raw = _read_toml(path)
    _materialise_bands(raw, str(path))
    files = (str(path),)
    h = hashlib.sha256(path.read_bytes())
    if override is not None:
        opath = Path(override)
        user = _read_toml(opath)
        raw = _deep_merge(raw, user, str(opath))
        raw["scheme"]["version"] = f"{raw['scheme']['version']}+override"
        files = files + (str(opath),)
        h.update(opath.read_bytes())
    return _build(raw, files, h.hexdigest())


def load_scheme(version: str | None = None, *, period=None, override_path=None) -> Scheme:
    """Load a version of the 766 scheme, optionally overridden by the user's TOML file.

    Parameters
    ----------
    version : str, optional
        ``"766-2022"`` or ``"766-2025"`` (see :func:`available_versions`). Default: the version
        valid for ``period``, or the newest one.
    period : str or analysis.periods.Period, optional
        A period id (``"2024-07"``); the version whose ``valid_from`` is on or before the period's
        last day is chosen. Give either ``version`` or ``period``.
    override_path : path, optional
        A TOML file whose keys replace those of the version (deep merge). Every key must exist
        in the version's file, with the same type; an unknown key raises ParameterError naming it.

    Returns
    -------
    Scheme

    Raises
    ------
    ParameterError
        Unknown version, both version and period given, a period before the first version, or a
        bad override (unknown key, wrong type, inconsistent maxima).

    Examples
    --------
    >>> s = load_scheme(period="2024-07")
    >>> s.version, s.max_points("DVTT"), s.view("five")
    ('766-2022', 22.0, ('CKMB', 'TDGQ', 'DVTT', 'MDHL', 'MDSH'))
    >>> load_scheme(period="2026-01").version
    '766-2025'
    """
    versions = _versions_on_disk()
    if version is not None and period is not None:
        raise ParameterError("load_scheme: give either version or period, not both")
    if version is None:
        table = _version_dates(versions)
        if period is None:
            version = table[-1][0]
        else:
            p = period if isinstance(period, Period) else parse_period(str(period), parameter="period")
            ok = [v for v, valid_from, _ in table if valid_from <= p.end]
            if not ok:
                raise ParameterError(f"period '{p.period_id}' ends before the first scheme version "
                                     f"({table[0][0]}, valid from {table[0][1]})")
            version = ok[-1]
    if version not in versions:
        raise ParameterError(f"unknown scheme version '{version}'; allowed: {', '.join(versions)}")
    override = None
    mtime = None
    if override_path is not None:
        opath = Path(override_path)
        if not opath.is_file():
            raise ParameterError(f"scheme override file '{opath}' does not exist")
        override, mtime = str(opath.resolve()), opath.stat().st_mtime
    return _load_cached(version, override, mtime)


def scheme_for_periods(period_ids) -> dict[str, Scheme]:
    """The scheme valid for each period id (one load per distinct version).

    Examples
    --------
    >>> {p: s.version for p, s in scheme_for_periods(["2022-11", "2026-01"]).items()}
    {'2022-11': '766-2022', '2026-01': '766-2025'}
    """
    out = {}
    for pid in pd.unique(np.asarray(list(period_ids), dtype=object)):
        out[pid] = load_scheme(period=pid)
    return out


def user_scheme(path, *, periods=(), parameter: str = "--scheme/SCHEME") -> Scheme:
    """Check a user scheme file named on the command line and load it (``build``, ``audit``).

    The file is an override (see :func:`load_scheme`): it is applied to the version valid for
    each of ``periods`` (the newest version when none is given), so a key that one of those
    versions lacks is refused before anything runs.

    Parameters
    ----------
    path : path
        The user's TOML file.
    periods : iterable of str, optional
        Period ids the file will be used for.
    parameter : str
        The parameter's name, as errors print it.

    Returns
    -------
    Scheme
        The scheme of the last period given (of the newest version when none is).

    Raises
    ------
    ParameterError
        One line naming the parameter and the file: missing, not a file, unreadable, not UTF-8,
        not TOML, an unknown key, a wrong type or an inconsistent scheme.

    Examples
    --------
    >>> import tempfile
    >>> folder = Path(tempfile.mkdtemp())
    >>> _ = (folder / "strict.toml").write_text('[bands.lower]\\n"Tốt" = 85.0\\n', encoding="utf-8")
    >>> s = user_scheme(folder / "strict.toml", periods=["2024-07"])
    >>> s.version, s.bands_table()["lower"].tolist()
    ('766-2022+override', [0.0, 50.0, 70.0, 85.0, 90.0])
    >>> _ = (folder / "typo.toml").write_text('[bands.lowr]\\n', encoding="utf-8")
    >>> user_scheme(folder / "typo.toml")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    analysis.errors.ParameterError: parameter '--scheme/SCHEME': .../typo.toml: unknown key 'bands.lowr' ...
    """
    where = f"parameter '{parameter}'"
    raw_path = str(path)
    if raw_path.strip() == "":
        raise ParameterError(f"{where}: an empty path is not allowed")
    opath = Path(raw_path)
    if not opath.exists():
        raise ParameterError(f"{where}: scheme file '{opath}' does not exist")
    if not opath.is_file():
        raise ParameterError(f"{where}: '{opath}' is not a file; give a scheme TOML file")
    try:
        data = opath.read_bytes()
    except OSError as exc:
        raise ParameterError(f"{where}: scheme file '{opath}' cannot be read ({exc.strerror or exc})") from None
    try:
        tomllib.loads(data.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise ParameterError(f"{where}: scheme file '{opath}' is not UTF-8 text (byte {exc.start})") from None
    except tomllib.TOMLDecodeError as exc:
        raise ParameterError(f"{where}: scheme file '{opath}' is not valid TOML: {exc}") from None
    targets = [None] if not list(periods) else list(dict.fromkeys(str(p) for p in periods))
    by_version: dict[str, str | None] = {}
    for pid in targets:
        version = load_scheme(period=pid).version if pid is not None else None
        by_version.setdefault(version, pid)
    scheme = None
    for version, pid in by_version.items():
        try:
            scheme = load_scheme(version, override_path=opath)
        except ParameterError as exc:
            used = f" (applied to scheme {version}, valid for period {pid})" if pid else ""
            message = str(exc).strip().splitlines()[0]
            raise ParameterError(f"{where}: {message}{used}") from None
    if len(targets) > 1:
        scheme = load_scheme(period=targets[-1], override_path=opath)
    return scheme
