"""Province–period and comparison reports: every section as deterministic HTML built from data.

A notebook cell calls one method and displays what it returns; every number in the text is
formatted from the tables here, never typed. Sections whose data is missing say so in one line.
"""
from __future__ import annotations

import functools
import html
import importlib.metadata as md
import os
import platform
import subprocess
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import pandas as pd

from .config import DATA_DIR, PROJECT_DIR, RECOMMENDATION_SHARE
from .dataset import COMPARISON, Dataset, load_dataset
from .errors import ParameterError
from .numerals import format_vi
from .periods import parse_period
from .reference import groups, indicator_catalog
from .units import display_name
from .audit import data_quality_warnings
from .selection import preferred, rank_rows
from .views import (area_units, comparison_periods, descendants, group_table, headline_record, national_average,
                    province_level_only,
                    province_ranking, report_periods, sub_indicator_table, unit_values)

__all__ = ["Section", "ProvinceReport", "ComparisonReport", "validate_parameters", "LANGS",
           "comparison_periods", "package_versions"]

LANGS = ("vi", "en")
# Packages whose versions every report states.
REPORTED_PACKAGES = ("analysis", "pandas", "numpy", "scipy", "statsmodels", "matplotlib", "seaborn",
                     "pandera", "papermill", "nbconvert", "nbclient", "ipykernel")
PER_UNIT_INDICATORS = ("overdue_dossiers", "on_time_rate", "online_submission_rate", "online_payment_rate",
                       "e_certified_copies", "e_cert_units_deployed")

T = {
    "vi": {
        "title": "Báo cáo Chỉ số 766 – {area} – {period}",
        "compare_title": "So sánh Chỉ số 766 giữa các tỉnh – {period}",
        "subtitle": "Bộ chỉ số chỉ đạo, điều hành và đánh giá chất lượng phục vụ người dân, doanh nghiệp "
                    "(Quyết định 766/QĐ-TTg). Số liệu theo các báo cáo đã công bố; các giá trị “tính lại” do bộ "
                    "công cụ tính từ chính số liệu đó.",
        "headline": "1. Kết quả chung", "groups": "2. Điểm các nhóm chỉ số", "units": "3. Kết quả các đơn vị",
        "indicators": "4. Các chỉ tiêu theo đơn vị", "audit": "5. Kiểm tra số liệu đã công bố",
        "correlations": "6. Tương quan", "recommendations": "7. Kiến nghị", "provenance": "Nguồn gốc số liệu",
        "trend": "Diễn biến qua các kỳ",
        "unit": "Đơn vị", "total": "Tổng điểm", "band": "Xếp loại", "band_calc": "Xếp loại (tính lại)",
        "rank": "Xếp hạng", "change": "Tăng/giảm", "change_calc": "Tăng/giảm (tính lại)", "source": "Nguồn",
        "group": "Nhóm chỉ số", "points": "Điểm", "max": "Tối đa", "max_stated": "Tối đa (ghi trong báo cáo)",
        "share": "% tối đa", "indicator": "Chỉ tiêu", "value": "Giá trị", "period": "Kỳ",
        "no_total": "Không có tổng điểm của tỉnh hoặc đơn vị cấp huyện cho kỳ này.",
        "no_groups": "Không có điểm nhóm chỉ số cho kỳ này.",
        "no_units": "Không có bảng kết quả theo đơn vị cho kỳ này.",
        "no_indicator": "Không có số liệu “{name}” theo đơn vị cho kỳ này.",
        "no_findings": "Không phát hiện mâu thuẫn trong số liệu đã công bố của tỉnh.",
        "no_trend": "Chỉ có một kỳ số liệu của tỉnh: chưa vẽ được diễn biến.",
        "no_recommendations": "Không có đơn vị nào dưới ngưỡng kiến nghị.",
        "sub_indicators": "Chỉ tiêu thành phần của {unit}",
        "numerator": "Tử số", "denominator": "Mẫu số", "rate": "Tỷ lệ (%)", "national_average": "Trung bình cả nước",
        "previous_as_given": "kỳ trước (mức thay đổi do Cổng công bố)",
        "province_question": "Dịch vụ trực tuyến và mức độ hài lòng giữa các tỉnh, thành phố",
        "national_average_total": "Trung bình cả nước: {value} điểm.",
        "disturbed_item": "{units}/{of} đơn vị có {group} đúng bằng {value}",
        "missing_cases": {"no complaints": "không có phản ánh, kiến nghị", "no dossiers": "không có hồ sơ",
                          "no procedures": "không có TTHC", "no requests": "không có yêu cầu",
                          "no cases": "không có trường hợp nào",
                          "not measured": "không đo (tử số và mẫu số để trống)"},
        "disturbed": "Lưu ý về chất lượng số liệu: {what} Các giá trị này có dấu hiệu bất thường, không nên đọc như kết quả đo thực tế.",
        "rate_missing": "Tỷ lệ không xác định ({reason}): không ghi 0%, điểm tính theo quy tắc của Cổng.",
        "place_among": "Vị trí của {unit} trong {n} tỉnh, thành phố",
        "units_block": "{area}: {n} đơn vị cấp xã",
        "departments_block": "{area}: {n} sở, ban, ngành",
        "departments": "Các sở, ban, ngành có số liệu",
        "headline_sentence": "{unit}, {period}: đạt {total}/100 điểm, xếp loại {band}{rank}{change}.",
        "rank_part": ", xếp hạng {rank}/{of} {block}",
        "change_part": "; {direction} {delta} điểm so với {prev}",
        "up": "tăng", "down": "giảm", "same": "bằng",
        "computed": " (tính từ số liệu)",
        "band_mismatch": " Xếp loại in trong báo cáo là “{printed}”, khác với xếp loại theo thang điểm (“{calc}”).",
        "block": {"province": "tỉnh, thành phố", "district": "huyện, thị xã, thành phố",
                  "commune": "xã, phường, thị trấn", "department": "sở, ban, ngành"},
        "check": "Kiểm tra", "published": "Công bố", "expected": "Kỳ vọng", "difference": "Chênh lệch",
        "severity": "Mức độ", "message": "Mô tả", "findings_summary": "{n} phát hiện ({errors} lỗi, {warnings} cảnh báo).",
        "x": "Biến x", "y": "Biến y", "method": "Phương pháp", "ci": "KTC 95%", "p": "p", "p_bh": "p (BH)",
        "ceiling": "% đạt trần (y)", "n": "n",
        "rec_group": "{units}: điểm nhóm “{group}” dưới {share}% mức tối đa ({detail}).",
        "rec_indicator": "{units}: {rule} ({detail}).",
        "params": "Tham số", "data_files": "Tệp dữ liệu (SHA-256)", "code_version": "Phiên bản mã",
        "packages": "Phiên bản gói", "generated": "Báo cáo tạo tự động từ dữ liệu; không có số nào được gõ tay.",
        "province_totals": "Tổng điểm các tỉnh", "no_provinces": "Không có tổng điểm cấp tỉnh cho kỳ này.",
        "group_profiles": "Điểm các nhóm chỉ số theo tỉnh", "distributions": "Phân bố tổng điểm của đơn vị theo tỉnh",
        "no_distributions": "Không có bảng điểm theo đơn vị cho kỳ này.",
        "synthetic": "DỮ LIỆU GIẢ LẬP – không phải số liệu thật",
    },
    "en": {
        "title": "766 Index report – {area} – {period}",
        "compare_title": "766 Index: provinces compared – {period}",
        "subtitle": "Index of service quality to citizens and businesses (Decision 766/QĐ-TTg). Figures as "
                    "published; values marked “computed” are derived by the toolkit from those figures.",
        "headline": "1. Headline", "groups": "2. Group scores", "units": "3. Units of the area",
        "indicators": "4. Indicators by unit", "audit": "5. Audit of the published figures",
        "correlations": "6. Correlations", "recommendations": "7. Recommendations", "provenance": "Provenance",
        "trend": "Trend over periods",
        "unit": "Unit", "total": "Total", "band": "Band", "band_calc": "Band (computed)",
        "rank": "Rank", "change": "Change", "change_calc": "Change (computed)", "source": "Source",
        "group": "Group", "points": "Points", "max": "Maximum", "max_stated": "Maximum stated",
        "share": "% of maximum", "indicator": "Indicator", "value": "Value", "period": "Period",
        "no_total": "No province or district total for this period.",
        "no_groups": "No group scores for this period.",
        "no_units": "No per-unit table for this period.",
        "no_indicator": "No per-unit figures for “{name}” in this period.",
        "no_findings": "No contradictions found in the province's published figures.",
        "no_trend": "Only one period of province data: no trend to draw.",
        "no_recommendations": "No unit falls below a recommendation threshold.",
        "sub_indicators": "Sub-indicators of {unit}",
        "numerator": "Numerator", "denominator": "Denominator", "rate": "Rate (%)", "national_average": "National average",
        "previous_as_given": "the previous period (change as published by the portal)",
        "province_question": "Online services and satisfaction across the provinces",
        "national_average_total": "National average: {value} points.",
        "disturbed_item": "{units} of {of} units have {group} exactly {value}",
        "missing_cases": {"not measured": "not measured (numerator and denominator empty)"},
        "disturbed": "Data quality warning: {what} These values look disturbed and should not be read as measurements.",
        "rate_missing": "Rate undefined ({reason}): not shown as 0%; points follow the portal's rule.",
        "place_among": "Place of {unit} among the {n} provinces",
        "units_block": "{area}: {n} commune-level units",
        "departments_block": "{area}: {n} departments",
        "departments": "Departments with figures",
        "headline_sentence": "{unit}, {period}: {total}/100 points, band {band}{rank}{change}.",
        "rank_part": ", rank {rank}/{of} {block}",
        "change_part": "; {direction} {delta} points against {prev}",
        "up": "up", "down": "down", "same": "unchanged",
        "computed": " (computed)",
        "band_mismatch": " The report prints the band “{printed}”, unlike the band implied by the score (“{calc}”).",
        "block": {"province": "provinces", "district": "districts", "commune": "communes",
                  "department": "departments"},
        "check": "Check", "published": "Published", "expected": "Expected", "difference": "Difference",
        "severity": "Severity", "message": "Message", "findings_summary": "{n} findings ({errors} errors, {warnings} warnings).",
        "x": "x", "y": "y", "method": "Method", "ci": "95% CI", "p": "p", "p_bh": "p (BH)",
        "ceiling": "% at ceiling (y)", "n": "n",
        "rec_group": "{units}: group “{group}” below {share}% of its maximum ({detail}).",
        "rec_indicator": "{units}: {rule} ({detail}).",
        "params": "Parameters", "data_files": "Data files (SHA-256)", "code_version": "Code version",
        "packages": "Package versions", "generated": "Generated from data; no number is typed by hand.",
        "province_totals": "Province totals", "no_provinces": "No province totals for this period.",
        "group_profiles": "Group profiles by province", "distributions": "Unit totals by province",
        "no_distributions": "No per-unit scores for this period.",
        "synthetic": "SYNTHETIC DATA – not real figures",
    },
}

STYLE = ("<style>table.r766{border-collapse:collapse;margin:0.5em 0 1em;font-size:0.92em}"
         "table.r766 th,table.r766 td{border:1px solid #ccc;padding:3px 8px;text-align:left;vertical-align:top}"
         "table.r766 th{background:#f2f2f2}p.headline{font-size:1.1em}p.synthetic{color:#a00}"
         "figure{margin:0.5em 0}figure img{max-width:100%}</style>")

# Indicator rules for recommendations: (indicator, comparison, threshold, Vietnamese rule, English rule).
# Thresholds follow the method's full-mark targets (online submission 50%, transparency and
# timeliness close to 100%) and the seed reports' own wording.
INDICATOR_RULES = (
    ("online_payment_rate", "eq", 0.0, "chưa phát sinh thanh toán trực tuyến", "no online payment yet"),
    ("online_submission_rate", "lt", 50.0, "tỷ lệ hồ sơ nộp trực tuyến dưới 50%", "online submission below 50%"),
    ("online_service_rate", "lt", 50.0, "tỷ lệ dịch vụ công trực tuyến dưới 50%", "online-service rate below 50%"),
    ("transparency_rate", "lt", 80.0, "tỷ lệ công khai, minh bạch dưới 80%", "transparency rate below 80%"),
    ("on_time_rate", "lt", 90.0, "tỷ lệ hồ sơ giải quyết đúng hạn dưới 90%", "on-time rate below 90%"),
    ("overdue_dossiers", "gt", 0.0, "còn hồ sơ giải quyết quá hạn", "overdue dossiers remain"),
)


@dataclass
class Section:
    """A block of report HTML; Jupyter displays it through ``_repr_html_``."""

    html: str
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)

    def _repr_html_(self) -> str:
        return self.html

    def __repr__(self) -> str:  # the text/plain form of a notebook output: short and stable
        return f"<Section: {len(self.tables)} tables>"  # no length: the commit line varies

    def __add__(self, other: "Section") -> "Section":
        return Section(self.html + other.html, {**self.tables, **other.tables})


def _e(text) -> str:
    return html.escape(str(text), quote=False)


def _num(value, lang: str, decimals: int = 2) -> str:
    if value is None or pd.isna(value):
        return "–"
    if lang == "vi":
        return format_vi(float(value), decimals)
    return f"{float(value):,.{decimals}f}"


def _auto(value, lang: str) -> str:
    """A figure with the decimals it needs (up to 2), in the report's notation."""
    if value is None or pd.isna(value):
        return "–"
    v = float(value)
    decimals = 0 if v == round(v) else (1 if abs(v * 10 - round(v * 10)) < 1e-9 else 2)
    return _num(v, lang, decimals)


def _table(df: pd.DataFrame, lang: str, *, numeric: dict | None = None) -> str:
    """HTML table with numbers in the report's notation; deterministic."""
    numeric = numeric or {}
    shown = df.copy()
    for col in shown.columns:
        if col in numeric:
            d = numeric[col]
            shown[col] = [(_auto(v, lang) if d is None else _num(v, lang, d)) for v in shown[col]]
        else:
            shown[col] = ["–" if (v is None or (not isinstance(v, str) and pd.isna(v))) else str(v)
                          for v in shown[col]]
    head = "".join(f"<th>{_e(c)}</th>" for c in shown.columns)
    body = "".join("<tr>" + "".join(f"<td>{_e(v)}</td>" for v in row) + "</tr>"
                   for row in shown.itertuples(index=False))
    return f'<table class="r766"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def _largest_section(rows: pd.DataFrame) -> str:
    """The section (table) with the most rows; ties go to the first in file order."""
    counts = rows["section"].value_counts(sort=False)
    return counts.index[counts.to_numpy().argmax()]


def _h(level: int, text: str) -> str:
    return f"<h{level}>{_e(text)}</h{level}>"


def _p(text: str) -> str:
    return f"<p>{_e(text)}</p>"


def package_versions() -> dict[str, str]:
    """Installed versions of the packages every report names."""
    out = {"python": platform.python_version()}
    for name in REPORTED_PACKAGES:
        try:
            out[name] = md.version(name)
        except md.PackageNotFoundError:
            out[name] = "not installed"
    return out


def code_version() -> str:
    """Git commit of the project (with ``+dirty`` when the work tree has changes), or 'unknown'."""
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
    if lang not in LANGS:
        raise ParameterError(f"parameter 'lang': '{lang}' is not allowed; choose one of: {', '.join(LANGS)}")
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


TABLES_ENV = "ANALYSIS_TABLES_OUT"


def write_tables_export(tables: dict[str, pd.DataFrame], directory: Path) -> None:
    """``directory/tables/<name>.csv`` (UTF-8) and ``directory/tables.xlsx`` (one sheet a table,
    fixed document dates so the same tables give the same bytes)."""
    csv_dir = directory / "tables"
    csv_dir.mkdir(parents=True, exist_ok=True)
    for name, df in tables.items():
        df.to_csv(csv_dir / f"{name.replace('/', '__')}.csv", index=False, encoding="utf-8", lineterminator="\n")
    with pd.ExcelWriter(directory / "tables.xlsx", engine="openpyxl") as writer:
        used = set()
        for name, df in tables.items():
            sheet = name.replace("/", "_")[-31:]
            while sheet in used:
                sheet = ("_" + sheet)[-31:]
            used.add(sheet)
            df.to_excel(writer, sheet_name=sheet, index=False)
        props = writer.book.properties
        props.creator = "analysis-766"
        props.created = props.modified = pd.Timestamp("2000-01-01").to_pydatetime()


def _collect(method):
    """Remember the tables of every section shown, so they can be exported without recomputing."""
    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        section = method(self, *args, **kwargs)
        self.__dict__.setdefault("_collected", {}).update(section.tables)
        return section
    return wrapper


class _Base:
    """Shared helpers of the two report kinds."""

    def export_tables(self, directory: str | Path | None = None) -> None:
        """Write the report's tables as CSV files and one Excel workbook, for offices that work
        in Excel.

        Writes ``tables/<name>.csv`` and ``tables.xlsx`` into ``directory``, by default the
        directory the build runner names in ``ANALYSIS_TABLES_OUT``; does nothing when neither
        is given (interactive use, nbval). Displays nothing. The tables are those the sections
        already computed, so nothing is computed twice.
        """
        directory = directory or os.environ.get(TABLES_ENV)
        if not directory:
            return
        tables = self.__dict__.get("_collected") or self.tables()
        write_tables_export({k: v for k, v in tables.items() if isinstance(v, pd.DataFrame)}, Path(directory))

    ds: Dataset
    lang: str

    @property
    def t(self) -> dict:
        return T[self.lang]

    def _name(self, unit_id: str) -> str:
        return self._units.at[unit_id, "name"]

    @cached_property
    def _units(self) -> pd.DataFrame:
        return self.ds.units.set_index("unit_id")

    @cached_property
    def synthetic(self) -> bool:
        return bool((self.ds.sources["kind"] == "synthetic").any())

    def _period_label(self, period: str) -> str:
        row = self.ds.periods.loc[self.ds.periods["period_id"] == period]
        if self.lang == "vi" and len(row):
            return row["label_vi"].iloc[0]
        cutoff = None if not len(row) or pd.isna(row["cutoff_date"].iloc[0]) else row["cutoff_date"].iloc[0].date()
        p = parse_period(period, cutoff=cutoff)
        return p.label_vi() if self.lang == "vi" else p.label_en()

    def _group_name(self, code: str) -> str:
        g = groups()
        return g.at[code, "name_vi"] if self.lang == "vi" else g.at[code, "name_en"]

    def _doc(self, source_id: str) -> str:
        row = self.ds.sources.set_index("source_id").loc[source_id]
        number = row["doc_number"] if isinstance(row["doc_number"], str) else ""
        return f"{number} {row['issuer']}".strip()

    def _figure(self, fig, alt: str) -> str:
        """Embed a matplotlib figure as a PNG data URI with alt text (deterministic bytes)."""
        import base64

        from .figures import to_png

        data = base64.b64encode(to_png(fig)).decode("ascii")
        return f'<figure><img alt="{html.escape(alt)}" src="data:image/png;base64,{data}"/></figure>'

    def _used_sources(self) -> set[str]:
        """Sources whose figures the report shows (all of them, unless a subclass narrows it)."""
        return set(self.ds.sources["source_id"])

    def provenance(self, params: dict) -> Section:
        t = self.t
        rows = [(k, v) for k, v in params.items()]
        files = [(name, digest) for name, digest in sorted(self.ds.file_hashes.items())]
        used = self._used_sources()
        sources = self.ds.sources.loc[self.ds.sources["source_id"].isin(used),
                                      ["source_id", "doc_number", "issuer", "origin", "sha256"]]
        versions = package_versions()
        out = _h(2, t["provenance"]) + _p(t["generated"])
        out += _h(3, t["params"]) + _table(pd.DataFrame(rows, columns=["parameter", "value"]), self.lang)
        out += _h(3, t["data_files"]) + _table(pd.DataFrame(files, columns=["file", "sha256"]), self.lang)
        out += _table(sources, self.lang)
        out += _h(3, t["code_version"]) + f"<p><code>{_e(code_version())}</code></p>"
        out += _h(3, t["packages"]) + _table(pd.DataFrame(sorted(versions.items()), columns=["package", "version"]),
                                             self.lang)
        return Section(out)


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

    Examples
    --------
    >>> r = ProvinceReport.load("bac-kan", "2024-07")
    >>> "82,88" in r.headline().html
    True
    """

    def __init__(self, ds: Dataset, province: str, period: str, lang: str = "vi"):
        validate_parameters(ds, province, period, lang)
        self.ds, self.province, self.period, self.lang = ds, province, period, lang

    @classmethod
    def load(cls, province: str, period: str, lang: str = "vi", data_dir: str | Path = "") -> "ProvinceReport":
        """Load the data directory (default ``data/``) and check the parameters."""
        return cls(load_dataset(Path(data_dir) if str(data_dir) else DATA_DIR, province=province), province, period,
                   lang)

    # --- data selections ---------------------------------------------------------------
    @cached_property
    def _inside(self) -> set[str]:
        return set(descendants(self.ds.units, self.province, include_self=True)["unit_id"])

    @cached_property
    def _sources(self) -> set[str]:
        """Sources with a figure about a unit of the province (its own reports and country-wide files)."""
        return (set(self.ds.scores.loc[self.ds.scores["unit_id"].isin(self._inside), "source_id"])
                | set(self.ds.indicators.loc[self.ds.indicators["unit_id"].isin(self._inside), "source_id"])
                | set(self.ds.sources.loc[self.ds.sources["area_unit_id"].isin(self._inside), "source_id"]))

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

    def title(self) -> Section:
        t = self.t
        text = t["title"].format(area=self._name(self.province), period=self._period_label(self.period))
        out = STYLE + f"<h1>{_e(text)}</h1>" + _p(t["subtitle"])
        if self.synthetic:
            out = f'<p class="synthetic"><strong>{_e(t["synthetic"])}</strong></p>' + out
        return Section(out)

    # --- 1. headline ---------------------------------------------------------------------
    def _previous_total(self, unit: str) -> tuple[float, str] | None:
        prev = parse_period(self.period).previous()
        if prev is None:
            return None
        vals = unit_values(self.ds, table="scores", code="TOTAL", period=prev, units=[unit])
        vals = vals.loc[vals["source_id"].isin(self._sources)]
        return (float(vals["value"].iloc[0]), prev) if len(vals) else None

    def headline_table(self) -> pd.DataFrame:
        """One row per area unit: total, printed and computed band, rank, printed and computed change."""
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
                "band_calc": band_of(pd.Series([rec["total"]])).iloc[0],
                "rank": rec["rank"], "rank_of": rec["rank_of"], "rank_block": rec["rank_block"],
                "change": rec["change"] if rec["change"] is not None else float("nan"),
                "change_calc": (rec["total"] - prev[0]) if prev else None,
                "previous": prev[1] if prev else None,
                # which source gave each field; one name when they all agree
                "source": "; ".join(dict.fromkeys(sources.values())) if len(set(sources.values())) <= 1 else
                "; ".join(f"{k}: {v}" for k, v in sources.items()),
            })
        return pd.DataFrame(rows)

    @_collect
    def headline(self) -> Section:
        t, lang = self.t, self.lang
        out = _h(2, t["headline"])
        disturbed = data_quality_warnings(self.findings, self.period)
        if len(disturbed):
            what = "; ".join(t["disturbed_item"].format(units=r.units, of=r.of, group=self._group_name(r.group)
                                                        if r.group != "TOTAL" else t["total"], value=_auto(r.value, lang))
                             for r in disturbed.itertuples()) + "."
            out += f'<p class="warning"><strong>{_e(t["disturbed"].format(what=what))}</strong></p>'
        table = self.headline_table()
        if table.empty:
            return Section(out + _p(t["no_total"]))
        for r in table.itertuples():
            printed_band = r.band if isinstance(r.band, str) else None
            band = printed_band or r.band_calc
            rank = "" if r.rank is None or pd.isna(r.rank) else t["rank_part"].format(
                rank=int(r.rank), of=int(r.rank_of) if r.rank_of and not pd.isna(r.rank_of) else "?",
                block=t["block"].get(r.rank_block, ""))
            delta, computed = (r.change, "") if not pd.isna(r.change) else (r.change_calc, t["computed"])
            change = ""
            if delta is not None and not pd.isna(delta) and (r.previous or not computed):
                direction = t["up"] if delta > 0 else (t["down"] if delta < 0 else t["same"])
                prev = self._period_label(r.previous) if r.previous else t["previous_as_given"]
                change = t["change_part"].format(direction=direction, delta=_auto(abs(delta), lang),
                                                 prev=prev) + computed
            sentence = t["headline_sentence"].format(unit=r.unit, period=self._period_label(self.period),
                                                     total=_auto(r.total, lang), band=band, rank=rank, change=change)
            if printed_band and printed_band != r.band_calc:
                sentence += t["band_mismatch"].format(printed=r.band, calc=r.band_calc)
            out += f'<p class="headline">{_e(sentence[:1].upper() + sentence[1:])}</p>'
        shown = table.assign(rank=[("–" if pd.isna(a) else f"{int(a)}/{int(b) if not pd.isna(b) else '?'}")
                                   for a, b in zip(table["rank"], table["rank_of"])])
        shown = shown[["unit", "total", "band", "band_calc", "rank", "change", "change_calc", "source"]]
        shown.columns = [t[c] for c in ["unit", "total", "band", "band_calc", "rank", "change", "change_calc", "source"]]
        out += _table(shown, lang, numeric={t["total"]: None, t["change"]: None, t["change_calc"]: 2})
        return Section(out + self.trend().html, {"headline": table})

    @_collect
    def trend(self) -> Section:
        """The province's totals and ranks over every period in its sources."""
        from .figures import trend as trend_figure

        t = self.t
        tot = self._scores.loc[(self._scores["group"] == "TOTAL") & (self._scores["unit_id"] == self.province)]
        series = (tot.sort_values("period_id").groupby("period_id", sort=True)
                  .agg(value=("value", "first"), rank=("rank", "first"), rank_of=("rank_of", "first"))
                  .reset_index())
        out = _h(3, t["trend"])
        if series["value"].notna().sum() < 2:
            return Section(out + _p(t["no_trend"]))
        shown = series.assign(period=[self._period_label(p) for p in series["period_id"]])
        table = shown[["period", "value", "rank", "rank_of"]]
        table.columns = [t["period"], t["total"], t["rank"], "/"]
        fig = trend_figure(series, unit_label=self._name(self.province), synthetic=self.synthetic)
        out += self._figure(fig, t["trend"]) + _table(table, self.lang, numeric={t["total"]: None})
        return Section(out, {"trend": series})

    # --- 2. groups -----------------------------------------------------------------------
    @_collect
    def groups(self) -> Section:
        t, lang = self.t, self.lang
        out = _h(2, t["groups"])
        g = groups()
        sc = self._scores.loc[(self._scores["period_id"] == self.period) & (self._scores["group"] != "TOTAL")]
        tables = {}
        found = False
        for unit in self.area_units:
            rows = group_table(self.ds, unit, self.period)   # one row per group (derive layer)
            if rows.empty:
                continue
            found = True
            table = pd.DataFrame({
                t["group"]: [self._group_name(c) for c in rows["group"]],
                t["points"]: rows["value"].to_numpy(),
                t["max"]: rows["max_points"].to_numpy(),
                t["share"]: rows["share"].to_numpy(),
                t["change"]: rows["change"].to_numpy(),
                t["source"]: [f"{self._doc(s)} – {sec}" for s, sec in zip(rows["source_id"], rows["section"])],
            })
            numeric = {t["points"]: None, t["max"]: 0, t["share"]: 1, t["change"]: None}
            if rows["national_average"].notna().any():
                table.insert(3, t["national_average"], rows["national_average"].to_numpy())
                numeric[t["national_average"]] = 2
            out += _h(3, self._name(unit)) + _table(table, lang, numeric=numeric)
            tables[f"groups_{unit}"] = rows
            out += self._sub_indicators(unit)
        if not found:
            out += _p(t["no_groups"])
        return Section(out, tables)

    def _sub_indicators(self, unit: str) -> str:
        t = self.t
        sub = sub_indicator_table(self.ds, unit, self.period)   # one row per metric (derive layer)
        if sub.empty:
            return ""
        cat = indicator_catalog()
        name_col = "name_vi" if self.lang == "vi" else "name_en"
        marks, notes = [], []
        cases = t["missing_cases"]
        for case, kind in zip(sub["missing_case"], sub["missing_kind"]):
            reason = None if not isinstance(case, str) else \
                cases.get(case, case) + ("" if kind == "not_measured" else " (0/0)")
            if isinstance(reason, str):
                if reason not in notes:
                    notes.append(reason)
                marks.append("*" * (notes.index(reason) + 1))
            else:
                marks.append("")
        rate = [("–" + m) if v is None or pd.isna(v) else _auto(v, self.lang) for v, m in zip(sub["rate"], marks)]
        table = pd.DataFrame({
            t["indicator"]: [cat.at[c, name_col] for c in sub["indicator"]],
            t["numerator"]: sub["numerator"].to_numpy(dtype=float), t["denominator"]: sub["denominator"].to_numpy(dtype=float),
            t["rate"]: rate, t["points"]: sub["points"].to_numpy(dtype=float), t["max"]: sub["max_points"].to_numpy(dtype=float),
        })
        html = _table(table, self.lang, numeric={t["numerator"]: 0, t["denominator"]: 0, t["points"]: 2, t["max"]: 0})
        foot = "".join(_p(f"{'*' * (i + 1)} {t['rate_missing'].format(reason=r)}") for i, r in enumerate(notes))
        return _h(4, t["sub_indicators"].format(unit=self._name(unit))) + html + foot

    # --- 3. units --------------------------------------------------------------------------
    def unit_tables(self) -> dict[str, pd.DataFrame]:
        """For each district with commune-level totals in the period: a ranked table."""
        from .scoring import band_of

        sc = self._scores.loc[self._scores["period_id"] == self.period]
        out = {}
        units = area_units(self.ds, self.province)
        level = units.set_index("unit_id")["level"]
        tot_all = sc.loc[(sc["group"] == "TOTAL") & sc["value"].notna()
                         & sc["unit_id"].map(level).isin(["commune", "department"])]
        # one block per parent and level: the communes of a district (or, since 2025, of the
        # province) and the province's departments
        parents = units.set_index("unit_id")["parent_id"]
        blocks = tot_all.assign(parent=tot_all["unit_id"].map(parents), level=tot_all["unit_id"].map(level))
        for (parent, lvl), tot in blocks.groupby(["parent", "level"], sort=False):
            tot = tot.loc[tot["section"] == _largest_section(tot)]
            tot = preferred(self.ds, "scores", tot)   # one row per unit: the source preference rule
            key = parent if lvl == "commune" else f"{parent}#department"
            table = pd.DataFrame({"unit_id": tot["unit_id"].to_numpy(), "total": tot["value"].to_numpy(),
                                  "band": tot["band"].to_numpy(), "rank": tot["rank"].to_numpy(),
                                  "change": tot["change"].to_numpy()})
            table["band_calc"] = band_of(table["total"]).to_numpy()
            grp = preferred(self.ds, "scores", sc.loc[sc["unit_id"].isin(set(table["unit_id"])) & (sc["group"] != "TOTAL")])
            if len(grp):
                wide = grp.pivot_table(index="unit_id", columns="group", values="value", aggfunc="first")
                order = [c for c in ("CKMB", "TDGQ", "ONLINE", "TTTT", "DVTT", "MDHL", "MDSH") if c in wide]
                table = table.merge(wide[order], left_on="unit_id", right_index=True, how="left")
            prev = parse_period(self.period).previous()
            prev_tot = self._scores.loc[(self._scores["group"] == "TOTAL") & (self._scores["period_id"] == prev)]
            if len(prev_tot):
                p = prev_tot.groupby("unit_id")["value"].first()
                table["change_calc"] = table["total"] - table["unit_id"].map(p)
            table.insert(1, "unit", [display_name(self._name(u), ubnd=True) for u in table["unit_id"]])
            out[key] = table.sort_values(["total", "unit"], ascending=[False, True], kind="stable")
        return out

    @_collect
    def units(self) -> Section:
        from .figures import ranking_bars

        t, lang = self.t, self.lang
        out = _h(2, t["units"])
        tables = self.unit_tables()
        if not tables and province_level_only(self.ds, self.province, self.period):
            # only a province-level record: its place among the provinces, as a figure
            ranking = province_ranking(self.ds, self.period)
            # only a complete list of the ranked provinces (e.g. 34 of 34) shows a place among them
            if len(ranking) >= 2 and ranking["rank_of"].notna().all() and len(ranking) == int(ranking["rank_of"].max()):
                heading = t["place_among"].format(unit=self._name(self.province), n=len(ranking))
                fig = ranking_bars(ranking, label="name", highlight=self._name(self.province), title=heading,
                                   xlabel=t["total"], synthetic=self.synthetic)
                out += _h(3, heading) + self._figure(fig, heading)
                shown = ranking.assign(rank=[("–" if pd.isna(a) else f"{int(a)}/{int(b) if not pd.isna(b) else '?'}")
                                             for a, b in zip(ranking["rank"], ranking["rank_of"])])
                shown = shown[["rank", "name", "value"]]
                shown.columns = [t["rank"], t["unit"], t["total"]]
                out += _table(shown, lang, numeric={t["total"]: None})
                return Section(out, {"province_ranking": ranking})
        if not tables:
            out += _p(t["no_units"])
        for key, table in tables.items():
            area, _, dep = key.partition("#")
            heading = (t["departments_block"] if dep else t["units_block"]).format(area=self._name(area), n=len(table))
            out += _h(3, heading)
            fig = ranking_bars(table.rename(columns={"total": "value"}), label="unit", highlight=None,
                               title=f"{t['total']} – {heading}", xlabel=t["total"], synthetic=self.synthetic)
            out += self._figure(fig, heading)
            cols = ["rank", "unit"] + [c for c in ("CKMB", "TDGQ", "ONLINE", "TTTT", "DVTT", "MDHL", "MDSH")
                                       if c in table] + ["total", "band", "band_calc", "change", "change_calc"]
            shown = table[[c for c in cols if c in table]].copy()
            names = {c: (self._group_name(c) if c in groups().index else t.get(c, c)) for c in shown.columns}
            names["rank"] = t["rank"]
            shown.columns = [names[c] for c in shown.columns]
            numeric = {names[c]: None for c in cols if c in table and c not in ("unit", "band", "band_calc", "rank")}
            numeric[names["rank"]] = 0
            out += _table(shown, lang, numeric=numeric)
        out += self._departments()
        return Section(out, {f"units_{d.replace('#', '_')}": tb for d, tb in tables.items()})

    def _departments(self) -> str:
        deps = area_units(self.ds, self.province, level="department")["unit_id"]
        ind = self._indicators.loc[self._indicators["unit_id"].isin(set(deps))
                                   & (self._indicators["period_id"] == self.period)]
        if ind.empty:
            return ""
        cat = indicator_catalog()
        name_col = "name_vi" if self.lang == "vi" else "name_en"
        table = pd.DataFrame({self.t["unit"]: [self._name(u) for u in ind["unit_id"]],
                              self.t["indicator"]: [cat.at[c, name_col] for c in ind["indicator"]],
                              self.t["value"]: ind["value"].to_numpy()})
        return _h(3, self.t["departments"]) + _table(table, self.lang, numeric={self.t["value"]: None})

    # --- 4. indicators -------------------------------------------------------------------
    def indicator_tables(self) -> dict[str, pd.DataFrame]:
        """Per-unit tables for overdue dossiers, on-time, online submission and payment, e-certification."""
        ind = self._indicators.loc[(self._indicators["period_id"] == self.period) & self._indicators["category"].isna()]
        out = {}
        for code in PER_UNIT_INDICATORS:
            rows = ind.loc[(ind["indicator"] == code) & (ind["unit_id"] != self.province)]
            if code == "on_time_rate":
                levels_ = self._units.loc[rows["unit_id"], "level"].to_numpy() if len(rows) else []
                rows = rows.loc[[lv == "commune" for lv in levels_]]
            if len(rows) < 2:
                continue
            rows = rows.loc[rows["section"] == _largest_section(rows)]
            table = pd.DataFrame({"unit_id": rows["unit_id"].to_numpy(),
                                  "unit": [display_name(self._name(u), ubnd=True) for u in rows["unit_id"]],
                                  "value": rows["value"].to_numpy(), "denominator": rows["denominator"].to_numpy(),
                                  "measure": rows["measure"].to_numpy(), "marked": rows["marked"].to_numpy()})
            out[code] = table.sort_values(["value", "unit"], ascending=[False, True], kind="stable")
        return out

    @_collect
    def indicators(self) -> Section:
        t, lang = self.t, self.lang
        out = _h(2, t["indicators"])
        tables = self.indicator_tables()
        cat = indicator_catalog()
        name_col = "name_vi" if lang == "vi" else "name_en"
        for code in PER_UNIT_INDICATORS:
            name = cat.at[code, name_col]
            if code not in tables:
                out += _p(t["no_indicator"].format(name=name))
                continue
            table = tables[code]
            measure = table["measure"].iloc[0]
            header = f"{name} ({'%' if measure == 'percent' else t['value'].lower()})"
            shown = pd.DataFrame({t["unit"]: table["unit"], header: table["value"]})
            if table["denominator"].notna().any():
                shown["/"] = table["denominator"]
            out += _h(3, name) + _table(shown, lang, numeric={header: None, "/": 0})
        return Section(out, {f"indicator_{k}": v for k, v in tables.items()})

    # --- 5. audit ------------------------------------------------------------------------
    @cached_property
    def findings(self) -> pd.DataFrame:
        from .audit import audit

        f = audit(self.ds)
        # findings about a whole table (no unit) belong to the province of the table's source
        area = self.ds.sources.set_index("source_id")["area_unit_id"]
        mine = f["unit_id"].isin(self._inside) | (f["unit_id"].isna() & f["source_id"].map(area).isin(self._inside))
        return f.loc[mine].reset_index(drop=True)

    @_collect
    def audit(self) -> Section:
        t, lang = self.t, self.lang
        out = _h(2, t["audit"])
        f = self.findings
        if f.empty:
            return Section(out + _p(t["no_findings"]))
        out += _p(t["findings_summary"].format(n=len(f), errors=int((f["severity"] == "error").sum()),
                                              warnings=int((f["severity"] == "warning").sum())))
        names = [self._name(u) if u in self._units.index else u for u in f["unit_id"]]
        shown = pd.DataFrame({
            t["severity"]: f["severity"], t["check"]: f["check"], t["unit"]: names,
            t["period"]: f["period_id"], t["published"]: f["published"], t["expected"]: f["expected"],
            t["difference"]: f["difference"], t["source"]: [f"{self._doc(s)} – {sec}" for s, sec in
                                                           zip(f["source_id"], f["section"])],
            t["message"]: f["message"],
        })
        out += _table(shown, lang, numeric={t["published"]: None, t["expected"]: 2, t["difference"]: 2})
        return Section(out, {"audit": f})

    # --- 6. correlations -----------------------------------------------------------------
    @_collect
    def correlations(self) -> Section:
        from .figures import correlation_scatter
        from .questions import QUANTITIES, online_vs_satisfaction

        t, lang = self.t, self.lang
        res = online_vs_satisfaction(self.ds, self.period, province=self.province)
        out = _h(2, t["correlations"]) + _p(res.verdict_vi if lang == "vi" else res.verdict_en)
        if not res.answerable:
            return Section(out, {"correlations": res.tests})
        label = {k: v[4] for k, v in QUANTITIES.items()}
        fig = correlation_scatter(res.table, res.online, res.satisfaction,
                                  x_label=label[res.online], y_label=label[res.satisfaction],
                                  y_max=QUANTITIES[res.satisfaction][3], x_max=QUANTITIES[res.online][3],
                                  method=res.tests["method"].iloc[0], synthetic=self.synthetic)
        out += self._figure(fig, label[res.online] + " – " + label[res.satisfaction])
        tests = res.tests
        shown = pd.DataFrame({
            t["x"]: [label.get(x, x) for x in tests["x"]], t["y"]: [label.get(y, y) for y in tests["y"]],
            t["method"]: tests["method"], t["n"]: tests["n"], "r": tests["r"],
            t["ci"]: [f"{_num(a, lang)} … {_num(b, lang)}" for a, b in zip(tests["ci_low"], tests["ci_high"])],
            t["p"]: tests["p_val"], t["p_bh"]: tests["p_bh"], t["ceiling"]: 100 * tests["y_share_at_max"],
        })
        out += _table(shown, lang, numeric={t["n"]: 0, "r": 2, t["p"]: 3, t["p_bh"]: 3, t["ceiling"]: 0})
        return Section(out, {"correlations": tests, "correlation_units": res.table})

    # --- 7. recommendations --------------------------------------------------------------
    def recommendation_list(self) -> list[str]:
        """Units below a threshold, per group and per indicator rule, named like the seed reports."""
        t, lang = self.t, self.lang
        g = groups()
        items = []
        inherited = self._inherited_groups()
        for table in self.unit_tables().values():
            for code in ("CKMB", "TDGQ", "ONLINE", "TTTT", "DVTT", "MDHL", "MDSH"):
                if code not in table or code in inherited:   # inherited values say nothing about units
                    continue
                limit = RECOMMENDATION_SHARE * g.at[code, "max_points"]
                low = table.loc[table[code] < limit].sort_values([code, "unit"], kind="stable")
                if len(low):
                    detail = ", ".join(f"{_auto(v, lang)}/{_auto(g.at[code, 'max_points'], lang)}" for v in low[code])
                    items.append(t["rec_group"].format(units=", ".join(low["unit"]), group=self._group_name(code),
                                                       share=_auto(100 * RECOMMENDATION_SHARE, lang), detail=detail))
        ind = self._indicators.loc[(self._indicators["period_id"] == self.period) & self._indicators["category"].isna()
                                   & (self._indicators["unit_id"] != self.province)]
        for code, op, threshold, rule_vi, rule_en in INDICATOR_RULES:
            rows = ind.loc[(ind["indicator"] == code)]
            rows = rows.loc[self._units.loc[rows["unit_id"], "level"].to_numpy() == "commune"] if len(rows) else rows
            if rows.empty:
                continue
            rows = rows.loc[rows["section"] == _largest_section(rows)]
            hit = {"eq": rows["value"] == threshold, "lt": rows["value"] < threshold,
                   "gt": rows["value"] > threshold}[op]
            low = rows.loc[hit].sort_values(["value", "unit_id"], kind="stable")
            if len(low):
                names = [display_name(self._name(u), ubnd=True) for u in low["unit_id"]]
                unit = "%" if low["measure"].iloc[0] == "percent" else ""
                detail = ", ".join(f"{_auto(v, lang)}{unit}" for v in low["value"])
                items.append(t["rec_indicator"].format(units=", ".join(names), rule=rule_vi if lang == "vi" else rule_en,
                                                       detail=detail))
        return items

    def _inherited_groups(self) -> set[str]:
        """Groups the audit finds inherited from the province in this period."""
        f = self.findings
        hit = f.loc[(f["check"] == "inherited") & (f["period_id"] == self.period), "message"]
        return set(hit.str.extract(r"print (\w+) ")[0].dropna())

    @_collect
    def recommendations(self) -> Section:
        t = self.t
        items = self.recommendation_list()
        out = _h(2, t["recommendations"])
        if not items:
            return Section(out + _p(t["no_recommendations"]))
        return Section(out + "<ul>" + "".join(f"<li>{_e(i)}</li>" for i in items) + "</ul>",
                       {"recommendations": pd.DataFrame({"recommendation": items})})

    def provenance(self, params: dict | None = None) -> Section:  # noqa: D401 - same as base
        params = params or {"province": self.province, "period": self.period, "lang": self.lang}
        return super().provenance(params)

    def _used_sources(self) -> set[str]:
        s, i = self._scores, self._indicators
        shown = set(s.loc[s["period_id"] == self.period, "source_id"]) | set(i.loc[i["period_id"] == self.period, "source_id"])
        trend = set(s.loc[(s["unit_id"] == self.province) & (s["group"] == "TOTAL"), "source_id"])
        return shown | trend

    def tables(self) -> dict[str, pd.DataFrame]:
        """Every table of the report, for CSV/Excel export (computed without drawing figures)."""
        from .questions import online_vs_satisfaction

        out = {"headline": self.headline_table()}
        sc = self._scores.loc[(self._scores["period_id"] == self.period) & (self._scores["group"] != "TOTAL")]
        for unit in self.area_units:
            rows = sc.loc[sc["unit_id"] == unit]
            if len(rows):
                out[f"groups_{unit}"] = rows
        out.update({f"units_{k.replace('#', '_')}": v for k, v in self.unit_tables().items()})
        out.update({f"indicator_{k}": v for k, v in self.indicator_tables().items()})
        out["audit"] = self.findings
        res = online_vs_satisfaction(self.ds, self.period, province=self.province)
        out["correlations"] = res.tests
        out["recommendations"] = pd.DataFrame({"recommendation": self.recommendation_list()})
        return out


class ComparisonReport(_Base):
    """Every province with data for a period, plus trends over periods."""

    def __init__(self, ds: Dataset, period: str, lang: str = "vi"):
        if lang not in LANGS:
            raise ParameterError(f"parameter 'lang': '{lang}' is not allowed; choose one of: {', '.join(LANGS)}")
        periods = comparison_periods(ds)
        if period not in periods:
            raise ParameterError(f"parameter 'period': '{period}' has fewer than two provinces with totals; "
                                 f"periods to compare: {', '.join(periods) or '(none)'}")
        self.ds, self.period, self.lang = ds, period, lang

    @classmethod
    def load(cls, period: str, lang: str = "vi", data_dir: str | Path = "") -> "ComparisonReport":
        return cls(load_dataset(Path(data_dir) if str(data_dir) else DATA_DIR, province=COMPARISON), period, lang)

    @cached_property
    def _provinces(self) -> list[str]:
        return list(self.ds.units.loc[self.ds.units["level"] == "province", "unit_id"])

    def title(self) -> Section:
        t = self.t
        out = STYLE + f"<h1>{_e(t['compare_title'].format(period=self._period_label(self.period)))}</h1>" + _p(t["subtitle"])
        if self.synthetic:
            out = f'<p class="synthetic"><strong>{_e(t["synthetic"])}</strong></p>' + out
        return Section(out)

    def province_table(self) -> pd.DataFrame:
        from .scoring import band_of

        s = self.ds.scores
        tot = s.loc[(s["group"] == "TOTAL") & (s["period_id"] == self.period) & s["unit_id"].isin(self._provinces)]
        tot = rank_rows(tot, self.ds.sources)   # each field from the preferred source that gives it
        first = tot.groupby("unit_id", sort=False).agg(value=("value", "first"), rank=("rank", "first"),
                                                        rank_of=("rank_of", "first"), change=("change", "first"))
        first = first.reset_index()
        first["province"] = [self._name(u) for u in first["unit_id"]]
        first["band_calc"] = band_of(first["value"]).to_numpy()
        grp = s.loc[(s["period_id"] == self.period) & s["unit_id"].isin(self._provinces) & (s["group"] != "TOTAL")]
        grp = preferred(self.ds, "scores", grp)
        if len(grp):
            wide = grp.pivot_table(index="unit_id", columns="group", values="value", aggfunc="first")
            first = first.merge(wide, left_on="unit_id", right_index=True, how="left")
        return first.sort_values(["value", "province"], ascending=[False, True], na_position="last", kind="stable")

    @_collect
    def provinces(self) -> Section:
        from .figures import province_totals

        t, lang = self.t, self.lang
        table = self.province_table()
        out = _h(2, t["province_totals"])
        if table["value"].notna().any():
            fig = province_totals(table, label="province", title=t["province_totals"], xlabel=t["total"],
                                  synthetic=self.synthetic)
            out += self._figure(fig, t["province_totals"])
        cols = ["province", "value", "band_calc", "rank", "rank_of", "change"]
        cols += [c for c in ("CKMB", "TDGQ", "ONLINE", "TTTT", "MDHL", "MDSH") if c in table]
        shown = table[cols].copy()
        shown.columns = [t["unit"], t["total"], t["band_calc"], t["rank"], "/", t["change"]] + \
                        [self._group_name(c) for c in cols[6:]]
        numeric = {c: None for c in shown.columns if c not in (t["unit"], t["band_calc"])}
        out += _table(shown, lang, numeric=numeric)
        nat = national_average(self.ds, self.period)
        if "TOTAL" in nat:
            out += _p(t["national_average_total"].format(value=_auto(nat["TOTAL"], lang)))
        return Section(out, {"provinces": table})

    @_collect
    def group_profiles(self) -> Section:
        from .figures import group_small_multiples

        t = self.t
        table = self.province_table()
        present = [c for c in ("CKMB", "TDGQ", "ONLINE", "TTTT", "MDHL", "MDSH") if c in table]
        out = _h(2, t["group_profiles"])
        if not present:
            return Section(out + _p(t["no_groups"]))
        long = (table[["unit_id", "province", *present]]
                .melt(id_vars=["unit_id", "province"], var_name="group", value_name="value")
                .dropna(subset=["value"]))
        fig = group_small_multiples(long, panel="province", synthetic=self.synthetic)
        return Section(out + self._figure(fig, t["group_profiles"]))

    def _province_question(self) -> Section:
        """The headline question across the provinces (online use vs satisfaction), from their own
        records and the real rates of a province details file; uncertainty and ceiling shown."""
        from .questions import online_vs_satisfaction

        res = online_vs_satisfaction(self.ds, self.period, level="province")
        if res.table.empty:
            return Section("")
        t = res.tests
        shown = pd.DataFrame({"x": t["x"], "y": t["y"], "method": t["method"], "n": t["n"], "r": t["r"],
                              "ci": [f"{_num(a, self.lang)} … {_num(b, self.lang)}" for a, b in zip(t["ci_low"], t["ci_high"])],
                              "p": t["p_val"], "ceiling %": 100 * t["y_share_at_max"]})
        html = (_h(3, self.t["province_question"]) + _p(res.verdict_vi if self.lang == "vi" else res.verdict_en)
                + _table(shown, self.lang, numeric={"n": 0, "r": 2, "p": 3, "ceiling %": 0}))
        return Section(html, {"province_question": t})

    @_collect
    def distributions(self) -> Section:
        from .figures import province_distributions

        t = self.t
        s = self.ds.scores
        communes = set(self.ds.units.loc[self.ds.units["level"] == "commune", "unit_id"])
        tot = s.loc[(s["group"] == "TOTAL") & (s["period_id"] == self.period) & s["unit_id"].isin(communes)
                    & s["value"].notna()].drop_duplicates("unit_id")
        out = _h(2, t["distributions"])
        question = self._province_question()
        if tot.empty:
            return Section(out + _p(t["no_distributions"]) + question.html, question.tables)
        prov = self._units["province_id"]
        data = pd.DataFrame({"unit_id": tot["unit_id"], "value": tot["value"],
                             "province": [self._name(prov[u]) for u in tot["unit_id"]]})
        fig = province_distributions(data, label=None, title=t["distributions"], xlabel=t["total"],
                                     synthetic=self.synthetic)
        return Section(out + self._figure(fig, t["distributions"]) + question.html,
                       {"unit_totals": data, **question.tables})

    @_collect
    def trends(self) -> Section:
        from .figures import trend as trend_figure

        t = self.t
        s = self.ds.scores
        out = _h(2, t["trend"])
        tot = s.loc[(s["group"] == "TOTAL") & s["unit_id"].isin(self._provinces)]
        drawn = False
        for unit in sorted(set(tot["unit_id"]), key=self._name):
            series = (tot.loc[tot["unit_id"] == unit].sort_values("period_id")
                      .groupby("period_id").agg(value=("value", "first"), rank=("rank", "first"),
                                                rank_of=("rank_of", "first")).reset_index())
            if series["value"].notna().sum() >= 2:
                out += _h(3, self._name(unit)) + self._figure(trend_figure(series, unit_label=self._name(unit),
                                                                           synthetic=self.synthetic),
                                                             t["trend"] + " – " + self._name(unit))
                drawn = True
        if not drawn:
            out += _p(t["no_trend"])
        return Section(out)

    def provenance(self, params: dict | None = None) -> Section:  # noqa: D401
        return super().provenance(params or {"period": self.period, "lang": self.lang})

    def tables(self) -> dict[str, pd.DataFrame]:
        """The comparison's tables, for CSV/Excel export."""
        return {"provinces": self.province_table()}
