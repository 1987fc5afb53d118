"""Province–period and comparison reports: one content function per section.

Each section method (``headline``, ``groups`` …) selects its data, computes its tables and returns
a :class:`analysis.content.Content`: tidy tables, figures and facts, laid out by message keys so
that :mod:`analysis.render` (HTML), :mod:`analysis.document` (Word) and :mod:`analysis.workbook`
(Excel/CSV) render the same content in the report's language. The data selection of every section
sits in one ``select_*``/``*_table`` method, so that it can be pointed at another derive-layer
function without touching the wording or the rendering.
"""
from __future__ import annotations

import hashlib
import importlib.metadata as md
import os
import platform
import subprocess
from functools import cached_property, lru_cache, wraps
from pathlib import Path

import numpy as np
import pandas as pd

from . import content as c
from .config import DATA_DIR, EXPORT_META, PROJECT_DIR
from .dataset import COMPARISON, Dataset, load_dataset
from .errors import ParameterError
from .i18n import LANGS, check_lang
from .periods import parse_period
from .reference import group_order, groups, indicator_catalog, recommendation_rules
from .units import display_name
from .selection import preferred, rank_rows
from .views import (area_units, comparison_periods, descendants, headline_record, national_average,
                    province_level_only, province_ranking, report_periods, unit_values)
from .views import group_table as derive_group_table
from .views import sub_indicator_table as derive_sub_indicator_table

__all__ = ["ProvinceReport", "ComparisonReport", "validate_parameters", "LANGS", "comparison_periods",
           "package_versions", "code_version", "CODE_VERSION_ENV", "shared_result", "SHARED_RESULTS_ENV", "load_report", "build_exports", "FORMATS", "NAMED_UNITS",
           "EXPORT_META"]

# Packages whose versions every report states.
REPORTED_PACKAGES = ("analysis", "pandas", "numpy", "scipy", "statsmodels", "matplotlib", "seaborn",
                     "pandera", "papermill", "nbconvert", "nbclient", "ipykernel", "jinja2", "babel",
                     "openpyxl", "python-docx")
PER_UNIT_INDICATORS = ("overdue_dossiers", "on_time_rate", "online_submission_rate", "online_payment_rate",
                       "e_certified_copies", "e_cert_units_deployed")
# Formats a build can write beside the executed notebook (the HTML comes from the notebook).
FORMATS = ("html", "docx", "xlsx", "csv")
# Why a sub-indicator's rate is undefined (views.sub_indicator_table's ``missing_case``) -> message key.
MISSING_CASES = {"no complaints": "missing.no_complaints", "no dossiers": "missing.no_dossiers",
                 "no procedures": "missing.no_procedures", "no requests": "missing.no_requests",
                 "no cases": "missing.no_cases", "not measured": "missing.not_measured"}
# A recommendation or an audit line names at most this many units, then "and n other units".
NAMED_UNITS = 8


def package_versions() -> dict[str, str]:
    """Installed versions of the packages every report names (as this process found them
    first: the libraries it has imported do not change while it runs)."""
    return dict(_package_versions())


@lru_cache(maxsize=1)
def _package_versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for name in REPORTED_PACKAGES:
        try:
            out[name] = md.version(name)
        except md.PackageNotFoundError:
            out[name] = "not installed"
    return out


# Set by a build for the kernels it starts: a folder where a result that several of its reports
# compute alike (a province's audit findings) is kept once (see shared_result).
SHARED_RESULTS_ENV = "ANALYSIS_SHARED_RESULTS"


def shared_result(key: dict, compute):
    """``compute()``, or what it returned for the same ``key`` in another report of this build.

    Outside a build (no :data:`SHARED_RESULTS_ENV`) this is ``compute()``. In a build, the result
    is pickled to the build's own folder under the SHA-256 of ``key`` (which must name all that
    the result depends on: the data's file hashes, the unit, the scheme), written atomically;
    a result that cannot be read is computed again. The folder is deleted when the next build
    into the same output directory starts, so code never changes under a kept result.

    >>> shared_result({"x": 1}, lambda: 87.15)
    87.15
    """
    import json
    import pickle

    folder = os.environ.get(SHARED_RESULTS_ENV)
    if not folder:
        return compute()
    name = hashlib.sha256(json.dumps(key, sort_keys=True, default=str).encode("utf-8")).hexdigest()
    path = Path(folder) / f"{name}.pickle"
    try:
        with open(path, "rb") as fh:
            return pickle.load(fh)
    except (OSError, EOFError, pickle.UnpicklingError, AttributeError, ImportError, IndexError, TypeError,
            ValueError):
        pass
    value = compute()
    try:
        from .files import atomic_write_bytes

        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(path, pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL))
    except OSError:
        pass  # a result not kept is computed again by the next report
    return value


# Set by a build for the kernels it starts: the code version it found once, when it planned
# the reports (see code_version).
CODE_VERSION_ENV = "ANALYSIS_CODE_VERSION"


def code_version() -> str:
    """Git commit of the project (with ``+dirty`` when the work tree has changes), or 'unknown'.

    In a build, the version the build found once for all its reports (:data:`CODE_VERSION_ENV`):
    a report's kernel then runs no ``git`` of its own (two processes per report).
    """
    given = os.environ.get(CODE_VERSION_ENV)
    if given:
        return given
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=PROJECT_DIR, capture_output=True,
                                text=True, check=True, timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=PROJECT_DIR,
                               capture_output=True, text=True, check=True, timeout=10).stdout.strip()
        return commit + ("+dirty" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def validate_parameters(ds, province: str, period: str, lang: str = "vi") -> None:
    """Reject a report request before any kernel starts, listing the valid choices.

    ``ds`` is a Dataset, or the (province, period) pairs that have data.

    Raises
    ------
    ParameterError
        One line naming the parameter, the bad value and what is allowed.
    """
    check_lang(lang)
    available = (report_periods(ds) if isinstance(ds, Dataset) else
                 pd.DataFrame(list(ds), columns=["province_id", "period_id"]))
    provinces = sorted(set(available["province_id"]))
    if province not in provinces:
        raise ParameterError(f"parameter 'province': unknown province '{province}'; provinces with data: "
                             f"{', '.join(provinces) or '(none)'}")
    parse_period(period, parameter="period")
    periods = sorted(available.loc[available["province_id"] == province, "period_id"])
    if period not in periods:
        raise ParameterError(f"parameter 'period': '{period}' is not in the data for '{province}'; "
                             f"periods with data: {', '.join(periods)}")


def _largest_section(rows: pd.DataFrame) -> str:
    """The section (table) with the most rows; ties go to the first in file order."""
    counts = rows["section"].value_counts(sort=False)
    return counts.index[counts.to_numpy().argmax()]


def _scheme(scheme: str, period: str):
    """The scheme a report scores and audits with: the version valid for the period, with the
    user's override file when ``scheme`` names one."""
    from .scheme import load_scheme

    return load_scheme(period=period, override_path=scheme or None)


def _once(method):
    """Compute a section once per report: later calls return the same object.

    A notebook shows each section, then the build exports the report (``sections()``) from the
    same kernel; with this, the export reuses what the notebook computed instead of computing
    the report twice. The parameters of a report are fixed when it is made, so a section's
    content cannot go stale; treat a returned section as read-only.
    """
    name = method.__name__

    @wraps(method)
    def section(self):
        done = self.__dict__.setdefault("_done", {})
        if name not in done:
            done[name] = method(self)
        return done[name]

    return section


def _file_sha(path: str) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest() if path else ""


class _Base:
    """Shared parts of the two report kinds."""

    ds: Dataset
    lang: str
    period: str
    scheme_path: str = ""

    @cached_property
    def _units(self) -> pd.DataFrame:
        return self.ds.units.set_index("unit_id")

    @cached_property
    def _names(self) -> dict[str, str]:
        return dict(zip(self.ds.units["unit_id"].to_numpy(dtype=object).tolist(),
                        self.ds.units["name"].to_numpy(dtype=object).tolist()))

    @cached_property
    def _levels(self) -> dict[str, str]:
        return dict(zip(self.ds.units["unit_id"].to_numpy(dtype=object).tolist(),
                        self.ds.units["level"].to_numpy(dtype=object).tolist()))

    def _periods_so_far(self, period_ids) -> set[str]:
        """The ids among ``period_ids`` of the periods that end on or before the report's: a
        later period is not part of this period's report, even when the data already has it."""
        end = parse_period(self.period).end
        return {p for p in pd.unique(pd.Series(period_ids, dtype=object).dropna()) if parse_period(p).end <= end}

    def _name(self, unit_id: str) -> str:
        return self._names[unit_id]

    def _table_name(self, unit_id: str) -> str:
        """A unit's name as report tables print it (``UBND xã …`` in Vietnamese)."""
        return display_name(self._name(unit_id), ubnd=self.lang == "vi")

    @cached_property
    def synthetic(self) -> bool:
        return bool((self.ds.sources["kind"] == "synthetic").any())

    @cached_property
    def scheme(self):
        return _scheme(self.scheme_path, self.period)

    @cached_property
    def _docs(self) -> dict[str, str]:
        """Each source as reports name it: its document number and issuer."""
        src = self.ds.sources
        return {sid: f"{number if isinstance(number, str) else ''} {issuer}".strip()
                for sid, number, issuer in zip(*(src[c].to_numpy(dtype=object).tolist()
                                                 for c in ("source_id", "doc_number", "issuer")))}

    def _doc(self, source_id: str) -> str:
        return self._docs[source_id]

    def _content(self, key: str, title=None, number=None, **kw) -> c.Content:
        return c.Content(key=key, lang=self.lang, title=title, number=number, **kw)

    def _title_content(self, heading) -> c.Content:
        parts = []
        if self.synthetic:
            parts.append(c.Text(c.Msg("report.synthetic"), "synthetic"))
        parts += [c.Heading(1, heading), c.Text(c.Msg("report.subtitle"), "lead")]
        s = self.scheme
        parts.append(c.Text(c.Msg("report.scheme", name=c.Code(self._scheme_name()), version=c.Code(s.version),
                                  sha=c.Code((s.sha256 or "")[:12] or "–")), "note"))
        return self._content("title", parts=parts, facts={"scheme": s.version, "scheme_sha256": s.sha256,
                                                         "scheme_file": self.scheme_path,
                                                         "scheme_file_sha256": _file_sha(self.scheme_path)})

    def _scheme_name(self) -> str:
        """The scheme as reports name it: the version, and the user's file when one is used."""
        return self.scheme.version + (f" + {Path(self.scheme_path).name}" if self.scheme_path else "")

    def _used_sources(self) -> set[str]:
        return set(self.ds.sources["source_id"])

    def _parameters(self) -> dict:
        raise NotImplementedError

    @_once
    def provenance(self) -> c.Content:
        """Parameters, scheme, data files and their hashes, sources, code and package versions."""
        params = pd.DataFrame(list(self._parameters().items()), columns=["parameter", "value"])
        params["value"] = params["value"].astype(str)
        params.attrs["kinds"] = {"value": "code"}
        files = pd.DataFrame(sorted(self.ds.file_hashes.items()), columns=["file", "sha256"])
        if self.scheme_path:
            files.loc[len(files)] = [self.scheme_path, _file_sha(self.scheme_path)]
        sources = self.ds.sources.loc[self.ds.sources["source_id"].isin(self._used_sources()),
                                      ["source_id", "doc_number", "issuer", "origin", "sha256"]].reset_index(drop=True)
        versions = pd.DataFrame(sorted(package_versions().items()), columns=["package", "version"])
        commit = code_version()
        parts = [c.Text(c.Msg("prov.generated")),
                 c.Heading(3, c.Msg("prov.params")), c.TableRef("parameters"),
                 c.Heading(3, c.Msg("prov.scheme")),
                 c.Text(c.Msg("report.scheme", name=c.Code(self._scheme_name()), version=c.Code(self.scheme.version),
                              sha=c.Code(self.scheme.sha256 or "–"))),
                 c.Heading(3, c.Msg("prov.data_files")), c.TableRef("data_files"),
                 c.Heading(3, c.Msg("prov.sources")), c.TableRef("sources"),
                 c.Heading(3, c.Msg("prov.code_version")), c.Text(c.Code(commit), "code"),
                 c.Heading(3, c.Msg("prov.packages")), c.TableRef("packages")]
        labels = {k: c.Msg(m) for k, m in (("parameters", "prov.params"), ("data_files", "prov.data_files"),
                                           ("sources", "prov.sources"), ("packages", "prov.packages"))}
        return self._content("provenance", c.Msg("section.provenance"), parts=parts, labels=labels,
                             tables={"parameters": params, "data_files": files, "sources": sources,
                                     "packages": versions},
                             facts={"code_version": commit})

    # --- the whole report ----------------------------------------------------------------
    def sections(self) -> list[c.Content]:
        """Every section of the report, in order (what the notebook shows)."""
        raise NotImplementedError

    def export(self, directory, formats=("xlsx", "csv"), *, stem: str = "report", fresh: bool = False) -> dict[str, Path]:
        """Write the report in ``formats`` (``docx``, ``xlsx``, ``csv``) into ``directory``:
        ``<stem>.docx``, ``<stem>.xlsx`` and ``<stem>_tables/*.csv``. Returns the paths written.
        ``fresh``: ``directory`` is a build's new private folder (see :func:`workbook.write_csv`)."""
        from .document import write_docx
        from .workbook import write_csv, write_xlsx

        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        unknown = sorted(set(formats) - set(FORMATS))
        if unknown:
            raise ParameterError(f"parameter 'formats': {', '.join(unknown)} not allowed; choose from "
                                 f"{', '.join(FORMATS)}")
        sections = self.sections()
        out = {}
        if "xlsx" in formats:
            out["xlsx"] = write_xlsx(sections, directory / f"{stem}.xlsx", self.lang)
        if "csv" in formats:
            out["csv"] = write_csv(sections, directory / f"{stem}_tables", self.lang, fresh=fresh)
        if "docx" in formats:
            out["docx"] = write_docx(self, sections, directory / f"{stem}.docx")
        return out


class ProvinceReport(_Base):
    """The report of one province for one period, section by section.

    Parameters
    ----------
    ds : Dataset
    province : str
        Province id (``units.unit_id`` of a province).
    period : str
        Period id with data for the province.
    lang : {"vi", "en"}
    scheme : str
        Path of a user scheme TOML file; empty for the version valid for the period.

    Examples
    --------
    >>> r = ProvinceReport.load("bac-kan", "2024-07")
    >>> float(r.headline().tables["headline"].loc[0, "total"])
    82.88
    """

    def __init__(self, ds: Dataset, province: str, period: str, lang: str = "vi", scheme: str = ""):
        validate_parameters(ds, province, period, lang)
        self.ds, self.province, self.period, self.lang = ds, province, period, lang
        self.scheme_path = str(scheme or "")

    @classmethod
    def load(cls, province: str, period: str, lang: str = "vi", data_dir: str | Path = "",
             scheme: str = "") -> "ProvinceReport":
        """Load the data directory (default ``data/``) and check the parameters."""
        return cls(load_dataset(Path(data_dir) if str(data_dir) else DATA_DIR, province=province), province, period,
                   lang, scheme)

    def _parameters(self) -> dict:
        return {"province": self.province, "period": self.period, "lang": self.lang,
                "scheme": self.scheme_path}

    # --- data selections ---------------------------------------------------------------
    @cached_property
    def _inside(self) -> set[str]:
        return set(descendants(self.ds.units, self.province, include_self=True)["unit_id"])

    @cached_property
    def _sources(self) -> set[str]:
        """Sources with a figure about a unit of the province (its own reports and country-wide files)."""
        src = self.ds.sources
        return (set(pd.unique(self._scores["source_id"].to_numpy()))
                | set(pd.unique(self._indicators["source_id"].to_numpy()))
                | set(pd.unique(src.loc[src["area_unit_id"].isin(self._inside), "source_id"].to_numpy())))

    @cached_property
    def _scores(self) -> pd.DataFrame:
        s = self.ds.scores
        return s.loc[s["unit_id"].isin(self._inside)]

    @cached_property
    def _indicators(self) -> pd.DataFrame:
        i = self.ds.indicators
        return i.loc[i["unit_id"].isin(self._inside)]

    @cached_property
    def area_units(self) -> list[str]:
        """The province and its districts that have a total for the period, in units.csv order."""
        tot = self._scores.loc[(self._scores["group"] == "TOTAL") & (self._scores["period_id"] == self.period)]
        units = area_units(self.ds, self.province, include_self=True)
        keep = units["unit_id"].isin(set(tot["unit_id"])) & units["level"].isin(["province", "district"])
        return list(units.loc[keep, "unit_id"])

    def title_text(self) -> str:
        """The report's title in its language (the HTML page's <title>)."""
        from .render import resolve

        return resolve(self._title_msg(), self.lang)

    def _title_msg(self):
        return c.Msg("report.title", area=c.Code(self._name(self.province)), period=c.Period(self.period))

    @_once
    def title(self) -> c.Content:
        return self._title_content(self._title_msg())

    # --- 1. headline ---------------------------------------------------------------------
    def _previous_total(self, unit: str) -> tuple[float, str] | None:
        prev = parse_period(self.period).previous()
        if prev is None:
            return None
        vals = unit_values(self.ds, table="scores", code="TOTAL", period=prev, units=[unit])
        vals = vals.loc[vals["source_id"].isin(self._sources)]
        return (float(vals["value"].iloc[0]), prev) if len(vals) else None

    def headline_table(self) -> pd.DataFrame:
        """One row per area unit from its own record (:func:`analysis.views.headline_record`):
        total, printed and computed band, rank, printed and computed change, and the source of
        each field (one name when one source gives them all)."""
        from .scoring import band_of

        rows = []
        for unit in self.area_units:
            rec = headline_record(self.ds, unit, self.period)   # the area's own record (derive layer)
            if rec["total"] is None:
                continue
            prev = self._previous_total(unit)
            sources = {f: self._doc(rec[f"{f}_source"]) for f in ("total", "rank", "change", "band")
                       if rec[f"{f}_source"] is not None}
            rows.append({
                "unit_id": unit, "unit": self._name(unit), "total": rec["total"], "band": rec["band"],
                "band_calc": band_of(pd.Series([rec["total"]]), self.scheme).iloc[0],
                "rank": rec["rank"], "rank_of": rec["rank_of"], "rank_block": rec["rank_block"],
                "change": rec["change"] if rec["change"] is not None else float("nan"),
                "change_calc": (rec["total"] - prev[0]) if prev else None,
                "previous": prev[1] if prev else None,
                # which source gave each field; one name when they all agree
                "source": "; ".join(dict.fromkeys(sources.values())) if len(set(sources.values())) <= 1 else
                "; ".join(f"{k}: {v}" for k, v in sources.items()),
            })
        cols = ["unit_id", "unit", "total", "band", "band_calc", "rank", "rank_of", "rank_block", "change",
                "change_calc", "previous", "source"]
        out = pd.DataFrame(rows, columns=cols)
        out["rank"] = out["rank"].astype("Int64")
        out["rank_of"] = out["rank_of"].astype("Int64")
        return out

    def _headline_sentence(self, r) -> c.Msg:
        band = r.band if isinstance(r.band, str) else r.band_calc
        rank = ""
        if not pd.isna(r.rank):
            rank = c.Msg("headline.rank", rank=c.Num(r.rank, 0),
                         of=c.Num(r.rank_of, 0) if not pd.isna(r.rank_of) else c.Code("?"),
                         block=c.Level(r.rank_block))
        printed = not pd.isna(r.change)
        delta = r.change if printed else r.change_calc
        change = ""
        if delta is not None and not pd.isna(delta) and (isinstance(r.previous, str) or printed):
            direction = c.Msg("headline.up" if delta > 0 else "headline.down" if delta < 0 else "headline.same")
            # a change the portal prints needs no previous period of ours to be stated
            previous = c.Period(r.previous) if isinstance(r.previous, str) else c.Msg("headline.previous_as_given")
            change = [c.Msg("headline.change", direction=direction, delta=c.Num(abs(delta)), previous=previous)]
            if not printed:
                change.append(c.Msg("headline.computed"))
            change = c.Join(change)
        sentence = c.Msg("headline.sentence", unit=c.Code(r.unit), period=c.Period(self.period),
                         total=c.Num(r.total), band=c.Band(band), rank=rank, change=change)
        if isinstance(r.band, str) and r.band != r.band_calc:
            return c.Join([sentence, c.Msg("headline.band_mismatch", printed=c.Band(r.band),
                                          calc=c.Band(r.band_calc))])
        return sentence

    @_once
    def headline(self) -> c.Content:
        """1. The total, band, rank and change of the province and its districts, and the trend."""
        table = self.headline_table()
        out = self._content("headline", c.Msg("section.headline"), number=1, tables={"headline": table})
        disturbed = self.disturbed_table()
        if len(disturbed):
            what = [c.Msg("headline.disturbed_item", units=c.Num(r.units, 0), of=c.Num(r.of, 0),
                          group=c.Msg("headline.total_word") if r.group == "TOTAL" else c.Group(r.group),
                          value=c.Num(r.value)) for r in disturbed.itertuples()]
            out.parts.append(c.Text(c.Msg("headline.disturbed", what=c.Join(what, "; ")), "warning"))
            out.tables["disturbed"] = disturbed
            out.labels["disturbed"] = c.Msg("col.disturbed")
            out.facts["disturbed"] = True
        if table.empty:
            out.parts.append(c.Text(c.Msg("empty.headline")))
        else:
            for r in table.itertuples():
                out.parts.append(c.Text(c.Cap(self._headline_sentence(r)), "headline"))
            shown = table.assign(rank_text=[("–" if pd.isna(a) else f"{int(a)}/{int(b) if not pd.isna(b) else '?'}")
                                            for a, b in zip(table["rank"], table["rank_of"])])
            out.tables["headline"] = table
            out.tables["headline_shown"] = shown
            out.parts.append(c.TableRef("headline_shown", ("unit", "total", "band", "band_calc", "rank_text",
                                                          "change", "change_calc", "source")))
            first = table.iloc[0]
            out.facts = {**out.facts, "unit": first["unit"], "total": float(first["total"]),
                         "band": first["band"] if isinstance(first["band"], str) else first["band_calc"],
                         "rank": None if pd.isna(first["rank"]) else int(first["rank"]),
                         "rank_of": None if pd.isna(first["rank_of"]) else int(first["rank_of"])}
        trend = self.trend()
        out.parts += trend.parts
        out.tables.update(trend.tables)
        out.figures.update(trend.figures)
        out.labels.update({"headline": c.Msg("section.headline"), **trend.labels})
        return out

    def disturbed_table(self) -> pd.DataFrame:
        """The placeholder-like runs of the period among the province's findings (values that look
        disturbed): ``group, value, units, of`` (:func:`analysis.audit.data_quality_warnings`)."""
        from .audit import data_quality_warnings

        return data_quality_warnings(self.findings, self.period)

    def trend_table(self) -> pd.DataFrame:
        """The province's total and rank over the periods of the report period's kind (months
        for a month report, year-to-date snapshots for a snapshot …), oldest first: values of
        other kinds are not comparable with it (see :meth:`trend_other_periods`)."""
        return self._trend_split[0].copy()

    def trend_other_periods(self) -> list[str]:
        """Periods with a total of the province that the trend leaves out (another kind of period)."""
        return list(self._trend_split[1])

    @cached_property
    def _trend_split(self) -> tuple[pd.DataFrame, list[str]]:
        """The province's totals per period up to the report's (a period ending later is not part
        of this period's report, even when the data already has it), split by kind: (the report
        period's kind, sorted by date; the other periods' ids, sorted by date)."""
        tot = self._scores.loc[(self._scores["group"] == "TOTAL") & (self._scores["unit_id"] == self.province)]
        series = (tot.groupby("period_id", sort=True)
                  .agg(value=("value", "first"), rank=("rank", "first"), rank_of=("rank_of", "first"))
                  .reset_index())
        kind = parse_period(self.period).kind
        so_far = self._periods_so_far(series["period_id"])
        periods = sorted((parse_period(p) for p in series["period_id"] if p in so_far), key=lambda p: (p.start, p.end))
        same = [p.period_id for p in periods if p.kind == kind]
        series = series.set_index("period_id").loc[same].reset_index()
        return series, [p.period_id for p in periods if p.kind != kind]

    @_once
    def trend(self) -> c.Content:
        """The province's totals and ranks over every period in its sources."""
        from .figures import trend as trend_figure

        series = self.trend_table()
        out = self._content("trend", parts=[c.Heading(3, c.Msg("section.trend"))],
                            labels={"trend": c.Msg("section.trend")})
        if series["value"].notna().sum() < 2:
            out.parts.append(c.Text(c.Msg("empty.trend")))
            out.tables["trend"] = series
            return out
        out.figures["trend"] = trend_figure(series, unit_label=self._name(self.province), synthetic=self.synthetic,
                                            lang=self.lang)
        table = series.rename(columns={"period_id": "period", "value": "total"})
        out.tables["trend"] = table
        out.parts += [c.FigureRef("trend", c.Msg("section.trend")), c.TableRef("trend")]
        others = self.trend_other_periods()
        if others:
            out.parts.append(c.Text(c.Msg("trend.other_kinds", n=c.Num(len(others), 0),
                                          periods=c.Join([c.Period(p) for p in others], sep="; ")), style="note"))
        return out

    # --- 2. groups -----------------------------------------------------------------------
    def group_table(self, unit: str) -> pd.DataFrame:
        """One row per group of a unit (:func:`analysis.views.group_table`: the preferred source's
        value): points, maximum, national average (when every province has one), share of the
        maximum, change, source."""
        rows = derive_group_table(self.ds, unit, self.period)
        return pd.DataFrame({"group": rows["group"].to_numpy(), "points": rows["value"].to_numpy(),
                             "max": rows["max_points"].to_numpy(),
                             "national_average": rows["national_average"].to_numpy(dtype=float),
                             "share": rows["share"].to_numpy(), "change": rows["change"].to_numpy(),
                             "source": [f"{self._doc(s)} – {sec}" for s, sec in zip(rows["source_id"], rows["section"])]})

    def sub_indicator_table(self, unit: str) -> pd.DataFrame:
        """One row per metric of a unit (:func:`analysis.views.sub_indicator_table`): numerator,
        denominator, rate, points, maximum; an undefined rate stays missing (printed "–", never
        0 %), with a footnote mark in ``note`` and the reason in ``missing_case``."""
        sub = derive_sub_indicator_table(self.ds, unit, self.period)
        marks, cases = [], []
        for case, kind in zip(sub["missing_case"], sub["missing_kind"]):
            if not isinstance(case, str):
                marks.append("")
                continue
            key = (case, kind)
            if key not in cases:
                cases.append(key)
            marks.append("*" * (cases.index(key) + 1))
        out = pd.DataFrame({"indicator": sub["indicator"].to_numpy(),
                            "numerator": sub["numerator"].to_numpy(dtype=float),
                            "denominator": sub["denominator"].to_numpy(dtype=float),
                            "rate": sub["rate"].to_numpy(dtype=float), "note": marks,
                            "points": sub["points"].to_numpy(dtype=float),
                            "max": sub["max_points"].to_numpy(dtype=float),
                            "missing_case": sub["missing_case"].to_numpy(), "missing_kind": sub["missing_kind"].to_numpy(),
                            "source_id": sub["source_id"].to_numpy()})
        out.attrs["decimals"] = {"points": 2, "max": 0, "numerator": 0, "denominator": 0}
        out.attrs["missing"] = cases
        return out

    def _missing_note(self, mark: str, case: str, kind: str) -> c.Msg:
        reason = c.Msg(MISSING_CASES.get(case, "missing.other"))
        if kind != "not_measured":
            reason = c.Join([reason, c.Code(" (0/0)")])
        return c.Msg("groups.rate_missing", mark=c.Code(mark), reason=reason)

    @_once
    def groups(self) -> c.Content:
        """2. Group points of the province and its districts against their maxima."""
        out = self._content("groups", c.Msg("section.groups"), number=2)
        for unit in self.area_units:
            table = self.group_table(unit)
            if table.empty:
                continue
            out.tables[f"groups_{unit}"] = table
            out.labels[f"groups_{unit}"] = c.Join([c.Msg("col.points"), c.Code(" – "), c.Code(self._name(unit))])
            cols = ("group", "points", "max") + (("national_average",) if table["national_average"].notna().any()
                                                  else ()) + ("share", "change", "source")
            out.parts += [c.Heading(3, c.Code(self._name(unit))), c.TableRef(f"groups_{unit}", cols)]
            sub = self.sub_indicator_table(unit)
            if len(sub):
                out.tables[f"sub_{unit}"] = sub
                out.labels[f"sub_{unit}"] = c.Join([c.Msg("col.indicator"), c.Code(" – "), c.Code(self._name(unit))])
                out.parts += [c.Heading(4, c.Msg("groups.sub_indicators", unit=c.Code(self._name(unit)))),
                              c.TableRef(f"sub_{unit}", ("indicator", "numerator", "denominator", "rate", "note",
                                                         "points", "max"))]
                for i, (case, kind) in enumerate(sub.attrs["missing"]):
                    out.parts.append(c.Text(self._missing_note("*" * (i + 1), case, kind), "note"))
        if not out.tables:
            out.parts.append(c.Text(c.Msg("empty.groups")))
        return out

    # --- 3. units --------------------------------------------------------------------------
    def unit_tables(self) -> dict[str, pd.DataFrame]:
        """For each block of commune-level units (and of departments) with totals: a ranked table."""
        return {key: table.copy() for key, table in self._unit_tables.items()}

    @cached_property
    def _unit_tables(self) -> dict[str, pd.DataFrame]:
        """:meth:`unit_tables`, computed once (the units section and the recommendations read it)."""
        from .scoring import band_of

        sc = self._period_scores
        out = {}
        units = area_units(self.ds, self.province)
        level = units.set_index("unit_id")["level"]
        tot_all = sc.loc[(sc["group"] == "TOTAL") & sc["value"].notna()
                         & sc["unit_id"].map(level).isin(["commune", "department"])]
        parents = units.set_index("unit_id")["parent_id"]
        blocks = tot_all.assign(parent=tot_all["unit_id"].map(parents), level=tot_all["unit_id"].map(level))
        order = list(group_order())
        # the previous period's total of each unit (its first row with a value), for the computed change
        prev = parse_period(self.period).previous()
        prev_tot = self._scores.loc[(self._scores["group"] == "TOTAL") & (self._scores["period_id"] == prev)]
        prev_value: dict = {}
        for unit, value in zip(prev_tot["unit_id"].to_numpy(dtype=object).tolist(),
                               prev_tot["value"].to_numpy(dtype=float).tolist()):
            if value == value:
                prev_value.setdefault(unit, value)
        # the other groups of the period's units, one row per unit and group (the preference rule)
        others = sc.loc[sc["unit_id"].isin(set(blocks["unit_id"].to_numpy().tolist())) & (sc["group"] != "TOTAL")]
        for (parent, lvl), tot in blocks.groupby(["parent", "level"], sort=False):
            tot = tot.loc[tot["section"] == _largest_section(tot)]
            tot = preferred(self.ds, "scores", tot)   # one row per unit: the source preference rule
            key = parent if lvl == "commune" else f"{parent}#department"
            ids = tot["unit_id"].to_numpy(dtype=object).tolist()
            table = pd.DataFrame({"unit_id": tot["unit_id"].to_numpy(), "total": tot["value"].to_numpy(),
                                  "band": tot["band"].to_numpy(), "rank": tot["rank"].to_numpy(),
                                  "change": tot["change"].to_numpy()})
            table["band_calc"] = band_of(table["total"], self.scheme).to_numpy()
            grp = preferred(self.ds, "scores", others.loc[others["unit_id"].isin(set(ids))])
            if len(grp):
                # each group's value per unit, in report order: what a pivot of the chosen rows
                # with "first" gives (a unit's first value that is not missing; a group with no
                # value in the block has no column)
                wide: dict = {}
                for unit, group, value in zip(grp["unit_id"].to_numpy(dtype=object).tolist(),
                                              grp["group"].to_numpy(dtype=object).tolist(),
                                              grp["value"].to_numpy(dtype=float).tolist()):
                    if value == value:
                        wide.setdefault(group, {}).setdefault(unit, value)
                nan = float("nan")
                for g in order:
                    if g in wide:
                        table[g] = np.array([wide[g].get(u, nan) for u in ids], dtype=float)
            if len(prev_tot):
                table["change_calc"] = table["total"] - np.array([prev_value.get(u, np.nan) for u in ids], dtype=float)
            table.insert(1, "unit", [self._table_name(u) for u in ids])
            out[key] = table.sort_values(["total", "unit"], ascending=[False, True], kind="stable").reset_index(drop=True)
        return out

    def province_ranking_table(self) -> pd.DataFrame:
        """The place of every province for the period (:func:`analysis.views.province_ranking`),
        only when the ranked list is complete (e.g. 34 of 34); else empty."""
        ranking = province_ranking(self.ds, self.period)
        complete = (len(ranking) >= 2 and ranking["rank_of"].notna().all()
                    and len(ranking) == int(ranking["rank_of"].max()))
        if not complete:
            return pd.DataFrame(columns=["unit_id", "province", "total", "rank", "rank_of", "rank_text"])
        return pd.DataFrame({"unit_id": ranking["unit_id"].to_numpy(), "province": ranking["name"].to_numpy(),
                             "total": ranking["value"].to_numpy(), "rank": ranking["rank"].to_numpy(),
                             "rank_of": ranking["rank_of"].to_numpy(),
                             "rank_text": [("–" if pd.isna(a) else f"{int(a)}/{int(b) if not pd.isna(b) else '?'}")
                                           for a, b in zip(ranking["rank"], ranking["rank_of"])]})

    def department_table(self) -> pd.DataFrame:
        deps = area_units(self.ds, self.province, level="department")["unit_id"]
        ind = self._indicators.loc[self._indicators["unit_id"].isin(set(deps))
                                   & (self._indicators["period_id"] == self.period)]
        return pd.DataFrame({"unit": [self._name(u) for u in ind["unit_id"]], "indicator": ind["indicator"].to_numpy(),
                             "value": ind["value"].to_numpy()})

    @_once
    def units(self) -> c.Content:
        """3. Every block of units ranked, with a figure per block."""
        from .figures import ranking_bars

        out = self._content("units", c.Msg("section.units"), number=3)
        tables = self._unit_tables
        if not tables and province_level_only(self.ds, self.province, self.period):
            ranking = self.province_ranking_table()
            if len(ranking):
                from .render import resolve

                heading = c.Msg("units.place_among", unit=c.Code(self._name(self.province)), n=c.Num(len(ranking), 0))
                out.figures["province_ranking"] = ranking_bars(
                    ranking.rename(columns={"province": "unit", "total": "value"}), label="unit",
                    highlight=self._name(self.province), title=resolve(heading, self.lang), xlabel=None,
                    synthetic=self.synthetic, lang=self.lang)
                out.tables["province_ranking"] = ranking
                out.labels["province_ranking"] = heading
                out.parts += [c.Heading(3, heading), c.FigureRef("province_ranking", heading),
                              c.TableRef("province_ranking", ("rank_text", "province", "total"))]
                return out
        if not tables:
            out.parts.append(c.Text(c.Msg("empty.units")))
        for key, table in tables.items():
            area, _, dep = key.partition("#")
            heading = c.Msg("units.departments_block" if dep else "units.block", area=c.Code(self._name(area)),
                            n=c.Num(len(table), 0))
            name = f"units_{key.replace('#', '_')}"
            from .render import resolve

            out.figures[name] = ranking_bars(table.rename(columns={"total": "value"}), label="unit", highlight=None,
                                             title=resolve(c.Msg("units.figure", heading=heading), self.lang),
                                             xlabel=None, synthetic=self.synthetic, lang=self.lang)
            out.tables[name] = table
            out.labels[name] = heading
            cols = ("rank", "unit") + tuple(g for g in group_order() if g in table) + \
                   tuple(x for x in ("total", "band", "band_calc", "change", "change_calc") if x in table)
            out.parts += [c.Heading(3, heading), c.FigureRef(name, heading), c.TableRef(name, cols)]
        deps = self.department_table()
        if len(deps):
            out.tables["departments"] = deps
            out.labels["departments"] = c.Msg("units.departments")
            out.parts += [c.Heading(3, c.Msg("units.departments")), c.TableRef("departments")]
        return out

    # --- 4. indicators -------------------------------------------------------------------
    @cached_property
    def _own_period_indicators(self) -> pd.DataFrame:
        """The indicators of the province's units for the report's period, without categories."""
        i = self._indicators
        return i.loc[(i["period_id"] == self.period) & i["category"].isna()]

    def indicator_tables(self) -> dict[str, pd.DataFrame]:
        """Per-unit tables for overdue dossiers, on-time, online submission and payment, e-certification."""
        ind = self._own_period_indicators
        ind = ind.loc[(ind["unit_id"] != self.province) & ind["indicator"].isin(PER_UNIT_INDICATORS)]
        codes = ind["indicator"].to_numpy(dtype=object)
        out = {}
        for code in PER_UNIT_INDICATORS:
            rows = ind.loc[codes == code]
            if code == "on_time_rate":
                levels = self._levels   # every unit of the data has a level (KeyError otherwise, as before)
                rows = rows.loc[[levels[u] == "commune" for u in rows["unit_id"].to_numpy(dtype=object).tolist()]]
            if len(rows) < 2:
                continue
            rows = rows.loc[rows["section"] == _largest_section(rows)]
            table = pd.DataFrame({"unit_id": rows["unit_id"].to_numpy(),
                                  "unit": [self._table_name(u) for u in rows["unit_id"].to_numpy(dtype=object).tolist()],
                                  "value": rows["value"].to_numpy(), "denominator": rows["denominator"].to_numpy(),
                                  "measure": rows["measure"].to_numpy(), "marked": rows["marked"].to_numpy()})
            table = table.sort_values(["value", "unit"], ascending=[False, True], kind="stable").reset_index(drop=True)
            if (table["measure"] == "percent").all():
                table.attrs["units"] = {"value": "percent"}
            out[code] = table
        return out

    @_once
    def indicators(self) -> c.Content:
        """4. Per-unit indicators (overdue dossiers, on time, online, e-certification)."""
        out = self._content("indicators", c.Msg("section.indicators"), number=4)
        tables = self.indicator_tables()
        cat = indicator_catalog()
        for code in PER_UNIT_INDICATORS:
            name = cat.at[code, "name_" + self.lang]
            if code not in tables:
                out.parts.append(c.Text(c.Msg("empty.indicator", name=c.Code(name))))
                continue
            table = tables[code]
            out.tables[f"indicator_{code}"] = table
            out.labels[f"indicator_{code}"] = c.Code(name)
            cols = ("unit", "value") + (("denominator",) if table["denominator"].notna().any() else ())
            out.parts += [c.Heading(3, c.Code(name)), c.TableRef(f"indicator_{code}", cols)]
        return out

    # --- 5. audit ------------------------------------------------------------------------
    @cached_property
    def findings(self) -> pd.DataFrame:
        """Audit findings about the province's units up to the report's period, with the
        report's scheme.

        The audit covers all of the province's data, the same for each of its reports, so a
        build computes it once and shares it between them (:func:`shared_result`); each report
        then leaves out the findings of periods that end after its own.
        """
        from .audit import audit

        def compute() -> pd.DataFrame:
            f = audit(self.ds, scheme=self.scheme if self.scheme_path else None)
            # findings about a whole table (no unit) belong to the province of the table's source
            area = self.ds.sources.set_index("source_id")["area_unit_id"]
            mine = (f["unit_id"].isin(self._inside)
                    | (f["unit_id"].isna() & f["source_id"].map(area).isin(self._inside)))
            return f.loc[mine].reset_index(drop=True)

        key = {"result": "findings", "province": self.province, "data": self.ds.file_hashes,
               "scheme": self.scheme.sha256 if self.scheme_path else None}
        f = shared_result(key, compute)
        keep = f["period_id"].isna() | f["period_id"].isin(self._periods_so_far(f["period_id"]))
        return f.loc[keep].reset_index(drop=True)

    def _count_noun(self, unit_ids) -> c.Msg | c.Code:
        """``15 xã`` when every unit has one level, else ``15 đơn vị``."""
        lv = list(dict.fromkeys(lv for u in unit_ids if isinstance(lv := self._levels.get(u), str)))
        n = len(set(unit_ids))
        if len(lv) == 1:
            return c.Count(n, lv[0])
        return c.Msg("list.units", n=c.Num(n, 0))

    def audit_lines(self) -> pd.DataFrame:
        """Findings grouped by check and by the (published, expected) pair: one line each,
        naming its units. Columns ``check, severity, published, expected, units, names``."""
        from .reference import checks

        f = self.findings
        if f.empty:
            return pd.DataFrame(columns=["check", "severity", "published", "expected", "units", "unit_ids",
                                         "table_sources"])
        order = checks()["order"]
        g = f.assign(_p=f["published"].round(6), _e=f["expected"].round(6),
                     _o=f["check"].map(order).fillna(999))
        rows = []
        for (o, check, sev, p, e), part in g.groupby(["_o", "check", "severity", "_p", "_e"], sort=True,
                                                     dropna=False):
            ids = list(dict.fromkeys(u for u in part["unit_id"] if isinstance(u, str)))
            # a finding about a whole table (no unit) is named by its source
            tables = tuple(dict.fromkeys(part.loc[~part["unit_id"].apply(lambda u: isinstance(u, str)), "source_id"]))
            rows.append({"check": check, "severity": sev, "published": p, "expected": e,
                         "units": len(ids), "unit_ids": tuple(ids), "table_sources": tables})
        lines = pd.DataFrame(rows)
        sev_rank = {"error": 0, "warning": 1, "info": 2}
        lines["_s"] = lines["severity"].map(sev_rank)
        lines["_o"] = lines["check"].map(order).fillna(999)
        return lines.sort_values(["_s", "_o", "units"], ascending=[True, True, False], kind="stable") \
            .drop(columns=["_s", "_o"]).reset_index(drop=True)

    @_once
    def audit(self) -> c.Content:
        """5. Audit of the published figures: one line per check and value pair, naming its
        units; the full list of findings goes to the tables."""
        f = self.findings
        out = self._content("audit", c.Msg("section.audit"), number=5)
        if f.empty:
            out.parts.append(c.Text(c.Msg("empty.audit")))
            out.tables["audit"] = f
            return out
        lines = self.audit_lines()
        names = [self._name(u) if u in self._units.index else u for u in f["unit_id"]]
        full = f.assign(unit=names, source=[f"{self._doc(s)} – {sec}" for s, sec in zip(f["source_id"], f["section"])])
        # the technical message is written by the audit in English: it goes only to English reports
        full = full[["severity", "check", "unit", "period_id", "published", "expected", "difference", "source"]
                    + (["message"] if self.lang == "en" else [])]
        summary = lines.assign(named=[", ".join([self._table_name(u) if u in self._units.index else u for u in ids]
                                                + [self._doc(s) for s in srcs])
                                      for ids, srcs in zip(lines["unit_ids"], lines["table_sources"])]) \
            .drop(columns=["unit_ids", "table_sources"])
        out.tables.update({"audit_summary": summary, "audit": full})
        out.labels.update({"audit_summary": c.Join([c.Msg("section.audit"), c.Code(" – "), c.Msg("col.line")]),
                           "audit": c.Msg("section.audit")})
        out.facts = {"findings": len(f), "errors": int((f["severity"] == "error").sum()),
                     "warnings": int((f["severity"] == "warning").sum()), "checks": int(f["check"].nunique())}
        out.parts.append(c.Text(c.Msg("audit.summary", n=c.Num(len(f), 0), errors=c.Num(out.facts["errors"], 0),
                                      warnings=c.Num(out.facts["warnings"], 0), checks=c.Num(out.facts["checks"], 0))))
        items = []
        for r in lines.itertuples():
            names = tuple(self._table_name(u) if u in self._units.index else u for u in r.unit_ids) + \
                tuple(self._doc(s) for s in r.table_sources)
            count = self._count_noun(r.unit_ids) if r.unit_ids else c.Msg("audit.whole_table")
            detail = c.Msg("audit.value_pair", published=c.Num(r.published), expected=c.Num(r.expected))
            items.append(c.Join([c.Msg("audit.line", count=count, check=c.Check(r.check),
                                      detail=detail), c.Code(" ("), c.Severity(r.severity), c.Code("): "),
                                c.Units(names, NAMED_UNITS)]))
        out.parts += [c.Items(tuple(items)), c.Text(c.Msg("audit.full_list"), "note")]
        return out

    # --- 6. correlations -----------------------------------------------------------------
    @cached_property
    def _question(self):
        from .questions import online_vs_satisfaction

        return online_vs_satisfaction(self.ds, self.period, province=self.province)

    @_once
    def correlations(self) -> c.Content:
        """6. Online submission against satisfaction, with intervals and adjusted p-values."""
        from .figures import correlation_scatter
        from .questions import QUANTITIES
        from .render import resolve

        res = self._question
        out = self._content("correlations", c.Msg("section.correlations"), number=6,
                            tables={"correlations": res.tests})
        out.parts.append(c.Text(res.verdict))
        if not res.answerable:
            return out
        label = {k: resolve(c.Msg(f"quantity.{k}"), self.lang) for k in QUANTITIES}
        out.figures["correlation"] = correlation_scatter(
            res.table, res.online, res.satisfaction, x_label=label[res.online], y_label=label[res.satisfaction],
            y_max=QUANTITIES[res.satisfaction][3], x_max=QUANTITIES[res.online][3],
            method=res.tests["method"].iloc[0], synthetic=self.synthetic, lang=self.lang)
        tests = res.tests.assign(ceiling=100 * res.tests["y_share_at_max"])
        out.tables["correlations"] = tests
        out.tables["correlation_units"] = res.table.reset_index()
        out.labels.update({"correlations": c.Msg("section.correlations"),
                           "correlation_units": c.Join([c.Msg("section.correlations"), c.Code(" – "),
                                                        c.Msg("col.unit")])})
        out.parts += [c.FigureRef("correlation", c.Code(label[res.online] + " – " + label[res.satisfaction])),
                      c.TableRef("correlations", ("x", "y", "method", "n", "r", "ci_low", "ci_high", "p_val", "p_bh",
                                                  "ceiling"))]
        return out

    # --- 7. recommendations --------------------------------------------------------------
    @cached_property
    def _period_scores(self) -> pd.DataFrame:
        """The scores of the province's units for the report's period."""
        return self._scores.loc[self._scores["period_id"] == self.period]

    @cached_property
    def _province_values(self) -> dict[str, float]:
        """The province's own value of each group for the period (its first row with a value)."""
        s = self._period_scores
        own = s.loc[(s["unit_id"] == self.province) & s["value"].notna()]
        out: dict = {}
        for group, value in zip(own["group"].to_numpy(dtype=object).tolist(), own["value"].to_numpy(dtype=float).tolist()):
            out.setdefault(group, value)
        return out

    def _province_value(self, group: str) -> float | None:
        return self._province_values.get(group)

    @cached_property
    def _portal_sources(self) -> set[str]:
        src = self.ds.sources
        return set(src.loc[src["kind"] == "portal", "source_id"].to_numpy().tolist())

    def _inherited(self, unit_ids, group: str) -> set[str]:
        """Units whose value of ``group`` is the province's own, inherited through the portal
        (``groups.csv`` column ``inherited_from``): such a value says nothing about the unit."""
        return self._inheriting(group) & set(unit_ids)

    def _inheriting(self, group: str) -> set[str]:
        """:meth:`_inherited` for every unit of the province (computed once per group)."""
        done = self.__dict__.setdefault("_inheriting_done", {})
        if group not in done:
            own = self._province_value(group)
            if groups().at[group, "inherited_from"] != "province" or own is None:
                done[group] = set()
            else:
                s = self._period_scores
                rows = s.loc[s["group"] == group]
                portal = rows["source_id"].isin(self._portal_sources)
                same = (rows["value"] - own).abs() < 5e-3
                done[group] = set(rows.loc[portal & same, "unit_id"].to_numpy().tolist())
        return done[group]

    def recommendation_table(self) -> pd.DataFrame:
        """Ranked recommendations: one row per rule and block, the units below its threshold
        (lowest first), with the values; none built on a value the unit inherits."""
        rules = recommendation_rules()
        g = groups()
        order = group_order()
        rows = []
        inherited_rows = []
        # each block's units, names and group values as plain lists and arrays, read once
        blocks = [(table["unit_id"].to_numpy(dtype=object).tolist(), table["unit"].to_numpy(dtype=object).tolist(),
                   {code: table[code].to_numpy(dtype=float) for code in order if code in table})
                  for table in self._unit_tables.values()]
        for rule, r in rules.iterrows():
            if r["kind"] == "group":
                for ids, names, values in blocks:
                    for code, vals in values.items():
                        maximum = g.at[code, "max_points"]
                        with np.errstate(invalid="ignore"):
                            low = np.flatnonzero(vals < r["threshold"] * maximum).tolist()
                        skip = self._inherited([ids[i] for i in low], code)
                        if skip:
                            inherited_rows.append({"group": code, "units": len(skip),
                                                   "value": self._province_value(code)})
                        # lowest value first, then by name; ties keep the table's order
                        low = sorted((i for i in low if ids[i] not in skip), key=lambda i: (vals[i], names[i]))
                        if len(low):
                            rows.append({"priority": r["priority"], "rule": rule, "target": code,
                                         "threshold": r["threshold"], "units": len(low),
                                         "unit_names": tuple(names[i] for i in low),
                                         "values": tuple(vals[low].tolist()),
                                         "maximum": maximum, "unit_ids": tuple(ids[i] for i in low)})
                continue
            ind = self._own_period_indicators
            ind = ind.loc[(ind["unit_id"] != self.province) & (ind["indicator"] == r["target"])]
            if len(ind):
                ind = ind.loc[self._units.loc[ind["unit_id"], "level"].to_numpy() == "commune"]
            if ind.empty:
                continue
            ind = ind.loc[ind["section"] == _largest_section(ind)]
            op, th = r["comparison"], r["threshold"]
            hit = {"eq": ind["value"] == th, "lt": ind["value"] < th, "gt": ind["value"] > th}[op]
            low = ind.loc[hit].sort_values(["value", "unit_id"], ascending=[op != "gt", True], kind="stable")
            if len(low):
                rows.append({"priority": r["priority"], "rule": rule, "target": r["target"], "threshold": th,
                             "units": len(low), "unit_names": tuple(self._table_name(u) for u in low["unit_id"]),
                             "values": tuple(low["value"]), "maximum": None,
                             "measure": low["measure"].iloc[0], "unit_ids": tuple(low["unit_id"])})
        cols = ["priority", "rule", "target", "threshold", "units", "unit_names", "values", "maximum", "measure",
                "unit_ids"]
        out = pd.DataFrame(rows).reindex(columns=cols)
        out = out.sort_values(["priority", "units"], ascending=[True, False], kind="stable").reset_index(drop=True)
        out.attrs["inherited"] = (pd.DataFrame(inherited_rows).groupby("group", as_index=False)
                                  .agg(units=("units", "sum"), value=("value", "first"))
                                  if inherited_rows else pd.DataFrame(columns=["group", "units", "value"]))
        return out

    def _rule_msg(self, r) -> c.Msg:
        rule = recommendation_rules().loc[r.rule]
        text_ = rule["name_" + self.lang]
        if rule["kind"] == "group":
            from .render import resolve

            text_ = text_.format(group=resolve(c.Group(r.target), self.lang),
                                 share=resolve(c.Num(100 * r.threshold), self.lang))
        return c.Code(text_)

    @_once
    def recommendations(self) -> c.Content:
        """7. Ranked recommendations: per rule, at most :data:`NAMED_UNITS` units named (lowest
        first) with their values, then the number of others."""
        table = self.recommendation_table()
        out = self._content("recommendations", c.Msg("section.recommendations"), number=7)
        if table.empty:
            out.parts.append(c.Text(c.Msg("empty.recommendations")))
        items = []
        export = []
        for r in table.itertuples():
            shown_vals = r.values[:NAMED_UNITS]
            if isinstance(r.maximum, float) and not pd.isna(r.maximum):
                detail = [c.Join([c.Num(v), c.Code("/"), c.Num(r.maximum)]) for v in shown_vals]
            else:
                unit = "%" if r.measure == "percent" else ""
                detail = [c.Num(v, None, unit) for v in shown_vals]
            items.append(c.Msg("rec.line", units=c.Units(r.unit_names, NAMED_UNITS), rule=self._rule_msg(r),
                               detail=c.Join(detail, ", ")))
            export.append({"priority": len(export) + 1, "rule": r.rule, "units": r.units,
                           "named": ", ".join(r.unit_names), "line": items[-1]})
        if items:
            out.parts.append(c.Items(tuple(items)))
        inherited = table.attrs["inherited"]
        for r in inherited.itertuples():
            out.parts.append(c.Text(c.Msg("rec.inherited", group=c.Group(r.group), n=c.Num(r.units, 0),
                                          value=c.Num(r.value)), "note"))
        rec = pd.DataFrame(export, columns=["priority", "rule", "units", "named", "line"])
        from .render import resolve

        rec["rule"] = [resolve(self._rule_msg(r), self.lang) for r in table.itertuples()]
        rec["line"] = [resolve(m, self.lang) for m in rec["line"]]
        out.tables["recommendations"] = rec
        out.facts = {"rules": len(table), "inherited": inherited.to_dict("records")}
        return out

    def _used_sources(self) -> set[str]:
        s, i = self._scores, self._indicators
        shown = set(s.loc[s["period_id"] == self.period, "source_id"]) | set(i.loc[i["period_id"] == self.period, "source_id"])
        trend = set(s.loc[(s["unit_id"] == self.province) & (s["group"] == "TOTAL"), "source_id"])
        return shown | trend

    def sections(self) -> list[c.Content]:
        return [self.title(), self.headline(), self.groups(), self.units(), self.indicators(), self.audit(),
                self.correlations(), self.recommendations(), self.provenance()]


class ComparisonReport(_Base):
    """Every province with data for a period, plus trends over periods."""

    def __init__(self, ds: Dataset, period: str, lang: str = "vi", scheme: str = ""):
        check_lang(lang)
        periods = comparison_periods(ds)
        if period not in periods:
            raise ParameterError(f"parameter 'period': '{period}' has fewer than two provinces with totals; "
                                 f"periods to compare: {', '.join(periods) or '(none)'}")
        self.ds, self.period, self.lang = ds, period, lang
        self.scheme_path = str(scheme or "")

    @classmethod
    def load(cls, period: str, lang: str = "vi", data_dir: str | Path = "", scheme: str = "") -> "ComparisonReport":
        return cls(load_dataset(Path(data_dir) if str(data_dir) else DATA_DIR, province=COMPARISON), period, lang,
                   scheme)

    def _parameters(self) -> dict:
        return {"period": self.period, "lang": self.lang, "scheme": self.scheme_path}

    @cached_property
    def _provinces(self) -> list[str]:
        return list(self.ds.units.loc[self.ds.units["level"] == "province", "unit_id"])

    def _title_msg(self):
        return c.Msg("compare.title", period=c.Period(self.period))

    def title_text(self) -> str:
        from .render import resolve

        return resolve(self._title_msg(), self.lang)

    @_once
    def title(self) -> c.Content:
        return self._title_content(self._title_msg())

    @cached_property
    def _province_table(self) -> pd.DataFrame:
        from .scoring import band_of

        s = self.ds.scores
        tot = s.loc[(s["group"] == "TOTAL") & (s["period_id"] == self.period) & s["unit_id"].isin(self._provinces)]
        tot = rank_rows(tot, self.ds.sources)   # each field from the preferred source that gives it
        first = tot.groupby("unit_id", sort=False).agg(value=("value", "first"), rank=("rank", "first"),
                                                        rank_of=("rank_of", "first"), change=("change", "first"))
        first = first.reset_index()
        first["province"] = [self._name(u) for u in first["unit_id"]]
        first["band_calc"] = band_of(first["value"], self.scheme).to_numpy()
        grp = s.loc[(s["period_id"] == self.period) & s["unit_id"].isin(self._provinces) & (s["group"] != "TOTAL")]
        grp = preferred(self.ds, "scores", grp)
        if len(grp):
            wide = grp.pivot_table(index="unit_id", columns="group", values="value", aggfunc="first")
            first = first.merge(wide, left_on="unit_id", right_index=True, how="left")
        return first.sort_values(["value", "province"], ascending=[False, True], na_position="last",
                                 kind="stable").reset_index(drop=True)

    def province_table(self) -> pd.DataFrame:
        """One row per province: total, computed band, rank, change and group points."""
        return self._province_table.copy()

    @_once
    def provinces(self) -> c.Content:
        from .figures import province_totals
        from .render import resolve

        table = self.province_table()
        out = self._content("provinces", c.Msg("section.provinces"), number=1)
        if table["value"].notna().any():
            out.figures["provinces"] = province_totals(table, label="province",
                                                       title=resolve(c.Msg("section.provinces"), self.lang),
                                                       xlabel=None, synthetic=self.synthetic, lang=self.lang)
            out.parts.append(c.FigureRef("provinces", c.Msg("section.provinces")))
        shown = table.rename(columns={"value": "total"})
        out.tables["provinces"] = shown
        cols = ("province", "total", "band_calc", "rank", "rank_of", "change") + \
            tuple(g for g in group_order("six") if g in shown)
        out.parts.append(c.TableRef("provinces", cols))
        nat = national_average(self.ds, self.period)
        if "TOTAL" in nat:
            out.parts.append(c.Text(c.Msg("provinces.national_average", value=c.Num(nat["TOTAL"]))))
            out.facts["national_average"] = float(nat["TOTAL"])
        return out

    @_once
    def group_profiles(self) -> c.Content:
        from .figures import group_small_multiples

        table = self.province_table()
        present = [g for g in group_order("six") if g in table]
        out = self._content("group_profiles", c.Msg("section.group_profiles"), number=2)
        if not present:
            out.parts.append(c.Text(c.Msg("empty.groups")))
            return out
        long = (table[["unit_id", "province", *present]]
                .melt(id_vars=["unit_id", "province"], var_name="group", value_name="value")
                .dropna(subset=["value"]))
        out.figures["group_profiles"] = group_small_multiples(long, panel="province", synthetic=self.synthetic,
                                                              lang=self.lang)
        out.tables["group_profiles"] = long.drop(columns=["unit_id"]).reset_index(drop=True)
        out.parts.append(c.FigureRef("group_profiles", c.Msg("section.group_profiles")))
        return out

    @_once
    def distributions(self) -> c.Content:
        from .figures import province_distributions
        from .render import resolve

        s = self.ds.scores
        communes = set(self.ds.units.loc[self.ds.units["level"] == "commune", "unit_id"])
        tot = s.loc[(s["group"] == "TOTAL") & (s["period_id"] == self.period) & s["unit_id"].isin(communes)
                    & s["value"].notna()].drop_duplicates("unit_id")
        out = self._content("distributions", c.Msg("section.distributions"), number=3)
        if tot.empty:
            out.parts.append(c.Text(c.Msg("empty.distributions")))
            self._province_question(out)
            return out
        prov = self._units["province_id"]
        data = pd.DataFrame({"unit_id": tot["unit_id"].to_numpy(), "value": tot["value"].to_numpy(),
                             "province": [self._name(prov[u]) for u in tot["unit_id"]]})
        out.figures["distributions"] = province_distributions(
            data, label=None, title=resolve(c.Msg("section.distributions"), self.lang), xlabel=None,
            synthetic=self.synthetic, lang=self.lang)
        out.tables["unit_totals"] = data.rename(columns={"value": "total"})
        out.parts.append(c.FigureRef("distributions", c.Msg("section.distributions")))
        self._province_question(out)
        return out

    def _province_question(self, out: c.Content) -> None:
        """The headline question across the provinces (online use against satisfaction), from
        their own records and the rates of a province details file; intervals and ceiling shown."""
        from .questions import online_vs_satisfaction

        res = online_vs_satisfaction(self.ds, self.period, level="province")
        if res.table.empty:
            return
        tests = res.tests.assign(ceiling=100 * res.tests["y_share_at_max"])
        out.tables["province_question"] = tests
        out.labels["province_question"] = c.Msg("provinces.question")
        out.parts += [c.Heading(3, c.Msg("provinces.question")),
                      c.Text(res.verdict),
                      c.TableRef("province_question", ("x", "y", "method", "n", "r", "ci_low", "ci_high", "p_val",
                                                       "ceiling"))]

    @_once
    def trends(self) -> c.Content:
        from .figures import trend as trend_figure

        s = self.ds.scores
        out = self._content("trends", c.Msg("section.trends"), number=4)
        tot = s.loc[(s["group"] == "TOTAL") & s["unit_id"].isin(self._provinces)
                    & s["period_id"].isin(self._periods_so_far(s["period_id"]))]
        for unit in sorted(set(tot["unit_id"]), key=self._name):
            series = (tot.loc[tot["unit_id"] == unit].sort_values("period_id")
                      .groupby("period_id").agg(value=("value", "first"), rank=("rank", "first"),
                                                rank_of=("rank_of", "first")).reset_index())
            if series["value"].notna().sum() >= 2:
                out.figures[f"trend_{unit}"] = trend_figure(series, unit_label=self._name(unit),
                                                            synthetic=self.synthetic, lang=self.lang)
                out.parts += [c.Heading(3, c.Code(self._name(unit))),
                              c.FigureRef(f"trend_{unit}", c.Join([c.Msg("section.trend"), c.Code(" – "),
                                                                  c.Code(self._name(unit))]))]
        if not out.figures:
            out.parts.append(c.Text(c.Msg("empty.trend")))
        return out

    def sections(self) -> list[c.Content]:
        return [self.title(), self.provinces(), self.group_profiles(), self.distributions(), self.trends(),
                self.provenance()]


def load_report(params: dict, kind: str = "province"):
    """The report a build job describes (its notebook parameters)."""
    p = dict(params)
    if kind == "province":
        return ProvinceReport.load(p["province"], p["period"], p.get("lang", "vi"), p.get("data_dir", ""),
                                   p.get("scheme", ""))
    return ComparisonReport.load(p["period"], p.get("lang", "vi"), p.get("data_dir", ""), p.get("scheme", ""))


def build_exports(report, directory, formats) -> None:
    """What a build runs in a report's kernel after its notebook: write the report's exports
    (``formats`` of :meth:`_Base.export`, none for HTML only) into ``directory``, and beside them
    :data:`EXPORT_META`: the report's title, the name of its area (empty for a comparison) and
    the files written, by format. The sections come from the notebook's run (each is computed
    once per report), so nothing is computed twice."""
    import json

    directory = Path(directory)
    # a build's new folder: the tables are written in place (see workbook.write_csv)
    fresh = not (directory / "report_tables").exists()
    written = report.export(directory, list(formats), stem="report", fresh=fresh) if formats else {}
    area = report._name(report.province) if isinstance(report, ProvinceReport) else ""
    meta = {"title": report.title_text(), "area": area,
            "files": {fmt: str(Path(path).relative_to(directory)) for fmt, path in written.items()}}
    directory.mkdir(parents=True, exist_ok=True)
    (directory / EXPORT_META).write_text(json.dumps(meta, ensure_ascii=False), encoding="utf-8")
