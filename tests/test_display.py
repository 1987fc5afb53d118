"""The notebook form of a report: each section displays as a sequence of rich outputs (prose as
Markdown with the same text as HTML, each table as HTML printing what its pandas Styler prints,
each figure as inline SVG),
all under the report's stylesheet, with no id used twice in a page and no PNG drawn."""
from __future__ import annotations

import re
from collections import Counter
from html import unescape
from html.parser import HTMLParser

import pytest

from analysis import figures
from analysis.config import DATA_DIR
from analysis.dataset import load_dataset
from analysis.render import display_bundles, layout, styler
from analysis.report import ComparisonReport, ProvinceReport

PROVINCE_SECTIONS = ("title", "headline", "groups", "units", "indicators", "audit", "correlations",
                     "recommendations", "provenance")
COMPARE_SECTIONS = ("title", "provinces", "group_profiles", "distributions", "trends", "provenance")


@pytest.fixture(scope="module")
def ds():
    return load_dataset(DATA_DIR)


class _Ids(HTMLParser):
    def __init__(self):
        super().__init__()
        self.ids, self.text = [], []

    def handle_starttag(self, tag, attrs):
        self.ids += [v for k, v in attrs if k == "id"]

    def handle_data(self, data):
        self.text.append(data)


def _sections(ds, kind, lang):
    if kind == "province":
        report = ProvinceReport(ds, "bac-kan", "2024-07", lang=lang)
        return [getattr(report, name)() for name in PROVINCE_SECTIONS]
    report = ComparisonReport(ds, "2024-07", lang=lang)
    return [getattr(report, name)() for name in COMPARE_SECTIONS]


@pytest.mark.parametrize("kind,lang", [("province", "vi"), ("province", "en"), ("compare", "vi")])
def test_sections_display_as_prose_tables_and_figures(ds, kind, lang, monkeypatch):
    def no_png(*a, **k):
        raise AssertionError("a PNG was drawn for the notebook or the HTML")

    monkeypatch.setattr(figures, "to_png", no_png)
    page = _Ids()
    for i, section in enumerate(_sections(ds, kind, lang)):
        bundles = display_bundles(section)
        blocks = layout(section, images="none")
        kinds = [b["kind"] for b in blocks]
        assert sum("<table" in b["text/html"] for b in bundles) == kinds.count("table")
        assert sum("<svg" in b["text/html"] for b in bundles) == kinds.count("figure")
        assert ("<style>" in bundles[0]["text/html"]) == (i == 0)  # the title carries the stylesheet
        for b in bundles:
            html = b["text/html"]
            assert re.search(rf'<div class="r766 r766-{section.key}" lang="{lang}">', html)
            assert b["text/plain"] and "\n" not in b["text/plain"]
            page.feed(html)
            if "<table" in html:
                assert re.search(r'<table id="T_[\w-]+" class="r766">', html)
                name = re.search(r"<table '([^']+)'", b["text/plain"]).group(1)
                cells = re.findall(r"<t[hd][^>]*>([^<]*)</t[hd]>", html)
                columns = next(t["columns"] for t in blocks if t["kind"] == "table" and t["name"] == name)
                shown = styler(section.tables[name], lang, columns).to_html()
                styled = re.findall(r"<t[hd] [^>]*>([^<]*)</t[hd]>", shown)
                assert cells == styled  # the same headers and printed cells as the Styler
                assert "<td" in html and not re.search(r'<td class="(?!(num|text)")', html)
            elif "<svg" in html:
                assert '<svg role="img" aria-label="' in html and "<figcaption>" in html
                assert "</text>" in html  # words kept as text
            else:  # prose: the Markdown says what the HTML says
                words = unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html.split("</style>")[-1])).strip())
                md = re.sub(r"\s+", " ", re.sub(r"^#+ |^- |\*\*|\\", "", b["text/markdown"], flags=re.M)).strip()
                assert re.sub(r"\s+", "", md.replace("*", "")) == re.sub(r"\s+", "", words.replace("*", ""))
        texts = [b["text"] for b in blocks if b["kind"] in ("heading", "text")]
        shown = " ".join(page.text)
        assert all(t in shown or "&" in t for t in texts)
    duplicated = [k for k, n in Counter(page.ids).items() if n > 1]
    assert not duplicated, duplicated[:5]


def test_section_objects_display_in_ipython_and_keep_their_frames(ds):
    from IPython.core.interactiveshell import InteractiveShell
    from IPython.utils.capture import capture_output

    InteractiveShell.instance()  # publishing needs a shell, as in a kernel
    section = ProvinceReport(ds, "bac-kan", "2024-07").headline()
    with capture_output() as captured:
        section.show()
    assert [o.data for o in captured.outputs] == display_bundles(section)
    assert "trend" in section.figures and section.frame("trend").columns[0] == "Kỳ"
    assert section.styler("trend").to_html().count("<tr>") == len(section.tables["trend"]) + 1


def test_word_export_still_has_raster_figures(ds, tmp_path):
    import docx

    path = ProvinceReport(ds, "bac-kan", "2024-07").export(tmp_path, ("docx",))["docx"]
    d = docx.Document(path)
    blobs = [rel.target_part.blob for rel in d.part.rels.values() if "image" in rel.reltype]
    assert len(blobs) >= 3 and all(b.startswith(b"\x89PNG") for b in blobs)
