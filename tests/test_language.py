"""No leaks between the report languages: every report on the seed data (and on the shared
portal data, when present) is rendered in Vietnamese and in English, sentences, tables and
figure texts included, and the reader-facing text is checked for words of the other language.
Unit names, source titles and the categories printed by a source are data, not words of the
report, and are set aside first."""
from __future__ import annotations

import re
import unicodedata

import matplotlib.text
import pytest

from analysis.config import DATA_DIR, SHARED_DIR
from analysis.dataset import load_dataset
from analysis.i18n import catalog
from analysis.render import layout
from analysis.report import ComparisonReport, ProvinceReport
from analysis.units import display_name, short_name
from analysis.views import comparison_periods, report_periods

PORTAL = SHARED_DIR / "data" / "portal"
# Names of methods and notation that both languages use.
SHARED_WORDS = {"pearson", "spearman", "kendall", "ols", "sha", "holm", "bh", "ubnd", "tthc", "dvcqg", "csdlqg",
                "dvctt", "pakn", "vt", "bc"}
VIETNAMESE = re.compile(r"[ăâđêôơưàáảãạằắẳẵặầấẩẫậèéẻẽẹềếểễệìíỉĩịòóỏõọồốổỗộờớởỡợùúủũụừứửữựỳýỷỹỵ]",
                        re.IGNORECASE)


def _words(text: str) -> set[str]:
    return {w.lower() for w in re.findall(r"[^\W\d_]+", text)}


def english_words() -> set[str]:
    """Words of the English catalog that the Vietnamese catalog never uses."""
    en = set().union(*(_words(re.sub(r"\{[^}]*\}", " ", m)) for m in catalog("en").values()))
    vi = set().union(*(_words(m) for m in catalog("vi").values()))
    return {w for w in en - vi - SHARED_WORDS if len(w) >= 3}


def exempt_strings(ds) -> list[str]:
    """Data that keeps its own language: unit names, source titles and printed categories."""
    names = set()
    for name in ds.units["name"].dropna():
        names |= {name, display_name(name, ubnd=True), display_name(name), short_name(name)}
        names |= {s[:1].upper() + s[1:] for s in list(names)}
    src = ds.sources
    for col in ("doc_number", "issuer", "title", "origin", "note"):
        names |= set(src[col].dropna().astype(str))
    names |= set(ds.scores["section"].dropna()) | set(ds.indicators["section"].dropna())
    names |= set(ds.indicators["category"].dropna())
    names |= {f"{n} {i}".strip() for n, i in zip(src["doc_number"].fillna(""), src["issuer"].fillna(""))}
    return sorted((n for n in names if n), key=len, reverse=True)


def reader_text(report) -> str:
    """Every reader-facing string of a report: headings, sentences, items, table headers and
    cells (provenance values aside: file names, hashes, package names), figure texts."""
    out = []
    for section in report.sections():
        for block in layout(section, images="none"):
            if block["kind"] in ("heading", "text"):
                if block.get("style") != "code":
                    out.append(block["text"])
            elif block["kind"] == "items":
                out += block["items"]
            elif block["kind"] == "table":
                out += block["headers"]
                if section.key != "provenance":
                    out += [v for row in block["rows"] for v in row]
            elif block["kind"] == "figure":
                out.append(block["caption"])
        for fig in section.figures.values():
            # a wrapped label is one string (a unit name may run over two lines of a panel title)
            out += [t.get_text().replace("\n", " ") for t in fig.findobj(matplotlib.text.Text) if t.get_text()]
    return "\n".join(out)


def leaks(report, ds, lang: str) -> list[str]:
    text = unicodedata.normalize("NFC", reader_text(report))
    for name in exempt_strings(ds):
        text = text.replace(name, " ")
    text = re.sub(r"\b\d+/(\d+/)?[A-ZĐ][\wĐ]*(-[\wĐ]+)*", " ", text)  # document numbers: 766/QĐ-TTg
    found = []
    if lang == "en":
        for line in text.splitlines():
            if VIETNAMESE.search(line):
                found.append(line.strip())
    else:
        english = english_words()
        for line in text.splitlines():
            bad = sorted(_words(line) & english)
            if bad:
                found.append(f"{bad}: {line.strip()}")
    return found


def reports_of(ds, provinces=None, compare_periods=None):
    pairs = report_periods(ds)
    for prov, per in pairs.itertuples(index=False):
        if provinces is None or prov in provinces:
            for lang in ("vi", "en"):
                yield f"{prov}/{per}/{lang}", ProvinceReport(ds, prov, per, lang), lang
    for per in (compare_periods if compare_periods is not None else comparison_periods(ds)):
        for lang in ("vi", "en"):
            yield f"compare/{per}/{lang}", ComparisonReport(ds, per, lang), lang


def test_catalogs_have_the_same_messages_and_placeholders():
    vi, en = catalog("vi"), catalog("en")
    assert set(vi) == set(en)
    for key in vi:
        assert vi[key] and en[key], key
        # a month is a number in Vietnamese ("tháng 8") and a name in English ("August")
        vi_p, en_p = ({p.replace("month_name", "month") for p in re.findall(r"\{(\w+)\}", m)} for m in (vi[key], en[key]))
        assert vi_p == en_p, key


@pytest.mark.slow
def test_seed_reports_do_not_leak():
    ds = load_dataset(DATA_DIR)
    problems = {}
    for key, report, lang in reports_of(ds):
        found = leaks(report, ds, lang)
        if found:
            problems[key] = found[:5]
    assert not problems, "\n".join(f"{k}: {v}" for k, v in problems.items())


@pytest.mark.slow
@pytest.mark.skipif(not PORTAL.is_dir(), reason=f"portal mirrors not found at {PORTAL} (../shared is beside the "
                                                 "clone in CI)")
def test_portal_reports_do_not_leak(tmp_path_factory):
    from analysis.importers.command import run_import

    data = tmp_path_factory.mktemp("portal-language")
    run_import([PORTAL], data)
    ds = load_dataset(data)
    pairs = report_periods(ds)
    latest = pairs.sort_values("period_id").groupby("province_id").tail(1)
    provinces = set(latest["province_id"][:2])
    periods = comparison_periods(ds)[-1:]
    problems = {}
    for key, report, lang in reports_of(ds, provinces, periods):
        if isinstance(report, ProvinceReport) and report.period not in set(latest["period_id"]):
            continue
        found = leaks(report, ds, lang)
        if found:
            problems[key] = found[:5]
    assert not problems, problems


def test_figures_print_in_each_notation_as_babel_formats_them():
    """i18n.number keeps Babel's patterns parsed once; every figure prints as Babel's own
    format_decimal prints it from the pattern text (signs, rounding, grouping, no -0)."""
    import random

    from babel.numbers import format_decimal

    from analysis.i18n import LOCALES, decimals_needed, number

    rng = random.Random(766)
    values = [rng.uniform(-1e7, 1e7) for _ in range(500)] + [rng.uniform(-2, 2) for _ in range(500)]
    values += [0.0, -0.0, -0.004, 0.005, 2.675, 1.005, 87.15, 99.995, 1e15]
    for v in values:
        for lang in ("vi", "en"):
            for decimals in (None, 0, 1, 2, 3):
                d = decimals_needed(v) if decimals is None else decimals
                r = round(v, d) + 0.0
                expected = format_decimal(r if r != 0 else 0.0, format="#,##0" + ("." + "0" * d if d else ""),
                                          locale=LOCALES[lang])
                assert number(v, lang, decimals) == expected, (v, lang, decimals)
