"""Rendering of report content for people: words from the catalog, numbers by locale, HTML by
Jinja2 templates. Holds no logic about the index (see :mod:`analysis.content`).

The same :func:`layout` (content -> headings, paragraphs, lists, tables, figures, all in the
report's language) feeds the HTML templates here, the Word document (:mod:`analysis.document`)
and, for tables, the workbook (:mod:`analysis.workbook`).
"""
from __future__ import annotations

import base64
import html as _html
import math
import re
from functools import lru_cache

import pandas as pd
from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup, escape

from . import content as c
from .config import PACKAGE_DIR
from .i18n import DASH, Translator, number, period_label, text
from .reference import bands, checks, columns, groups, indicator_catalog, levels

__all__ = ["resolve", "layout", "section_html", "display_frame", "column_spec", "cell_text", "column_texts", "header",
           "styler", "index_html", "environment", "stylesheet", "warm", "figure_png", "figure_svg", "display_bundles"]

TEMPLATE_DIR = PACKAGE_DIR / "templates"
NUMERIC_KINDS = ("number", "int", "pvalue")


@lru_cache(maxsize=None)
def environment() -> Environment:
    """The Jinja2 environment of the report templates (autoescaped, deterministic)."""
    env = Environment(loader=FileSystemLoader(str(TEMPLATE_DIR)), autoescape=select_autoescape(["html", "j2"]),
                      trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=False)
    env.filters["b64"] = lambda data: base64.b64encode(data).decode("ascii")
    env.filters["rows_html"] = _rows_html
    return env


@lru_cache(maxsize=None)
def stylesheet() -> str:
    """The report's stylesheet (screen and print), read once."""
    return (TEMPLATE_DIR / "report.css").read_text(encoding="utf-8")


def warm() -> None:
    """Load once what the first report of a process would otherwise load on first use: both
    catalogs, the locale data behind numbers and dates, the compiled templates, the stylesheet,
    the reference tables and every shipped scheme.

    Everything loaded here comes with the package (no data directory is read), so a fork server
    can call it before forking kernels (:mod:`analysis.forkkernel`): each kernel then starts with
    it in memory, shared copy-on-write, instead of reading and parsing it again.

    >>> warm()
    """
    from datetime import date

    from . import reference
    from .i18n import LANGS, catalog, date_label
    from .scheme import available_versions, load_scheme

    env = environment()
    for name in env.list_templates(extensions=["j2"]):
        env.get_template(name)
    stylesheet()
    for lang in LANGS:
        catalog(lang)
        number(1234.5, lang, 2)
        date_label(date(2024, 1, 31), lang)
        for period in ("2024-01", "2024-Q1", "2024", "2024-ytd-01-31", "2024-01-w1"):
            period_label(period, lang)
    for name in ("groups", "bands", "band_aliases", "levels", "indicator_catalog", "checks",
                 "recommendation_rules", "columns"):
        getattr(reference, name)()
    for version in available_versions()["version"]:
        load_scheme(version)


# --- typed values to words ----------------------------------------------------------------
def _band(code, lang: str) -> str:
    if code is None or (not isinstance(code, str) and pd.isna(code)):
        return DASH
    names = _band_names_en()
    if code not in names:
        return str(code)
    return code if lang == "vi" else names[code]


@lru_cache(maxsize=None)
def _band_names_en() -> dict[str, str]:
    b = bands()
    return dict(zip(b["band"], b["name_en"]))


def _group(code: str, lang: str, short: bool = False) -> str:
    g = groups()
    if code not in g.index:
        return str(code)
    return g.at[code, ("short_" if short else "name_") + lang]


def _level(level, lang: str) -> str:
    lv = levels()
    return lv.at[level, "block_" + lang] if isinstance(level, str) and level in lv.index else ""


def _check(code: str, lang: str) -> str:
    ch = checks()
    return ch.at[code, "name_" + lang] if code in ch.index else str(code)


def _indicator(code: str, lang: str) -> str:
    cat = indicator_catalog()
    return cat.at[code, "name_" + lang] if code in cat.index else str(code)


def resolve(value, lang: str) -> str:
    """A typed content value (or plain text) in the words and notation of ``lang``.

    >>> resolve(c.Msg("list.others", n=c.Num(3)), "vi")
    'và 3 đơn vị khác'
    >>> resolve(c.Num(87.15), "vi"), resolve(c.Band("Tốt"), "en"), resolve(c.Period("2024-07"), "en")
    ('87,15', 'Good', 'July 2024')
    """
    if isinstance(value, c.Msg):
        return text(lang, value.key, **{k: resolve(v, lang) for k, v in value.values.items()})
    if isinstance(value, c.Num):
        return number(value.value, lang, value.decimals) + (value.unit if not _missing(value.value) else "")
    if isinstance(value, c.Band):
        return _band(value.code, lang)
    if isinstance(value, c.Group):
        return _group(value.code, lang)
    if isinstance(value, c.Period):
        return period_label(value.period_id, lang)
    if isinstance(value, c.Level):
        return _level(value.level, lang)
    if isinstance(value, c.Check):
        return _check(value.code, lang)
    if isinstance(value, c.Severity):
        return text(lang, f"severity.{value.code}")
    if isinstance(value, c.Code):
        return "" if value.text is None else str(value.text)
    if isinstance(value, c.Join):
        return value.sep.join(resolve(v, lang) for v in value.parts)
    if isinstance(value, c.Cap):
        out = resolve(value.inner, lang)
        return out[:1].upper() + out[1:]
    if isinstance(value, c.Count):
        lv = levels()
        noun = lv.at[value.level, ("noun_one_" if value.n == 1 else "noun_") + lang] if value.level in lv.index else text(lang, "list.units", n="").strip()
        return f"{number(value.n, lang, 0)} {noun}"
    if isinstance(value, c.Units):
        names = list(value.names)
        shown = ", ".join(names[:value.limit])
        rest = len(names) - value.limit
        if rest <= 0:
            return shown
        more = text(lang, "list.other_one") if rest == 1 else text(lang, "list.others", n=number(rest, lang, 0))
        return f"{shown} {more}"
    if isinstance(value, (list, tuple)):
        return ", ".join(resolve(v, lang) for v in value)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return number(value, lang)
    return "" if value is None else str(value)


def _missing(value) -> bool:
    try:
        return value is None or math.isnan(float(value))
    except ValueError:
        return False
    except TypeError:  # pandas' NA
        return True


# --- tables ---------------------------------------------------------------------------------
def column_spec(df: pd.DataFrame, col: str) -> tuple[str, int | None, str]:
    """(kind, decimals, unit) of a column: from ``reference/columns.csv``, the table's
    ``attrs['units']``/``attrs['decimals']`` overrides, or its dtype."""
    found = _column_specs().get(col)
    if found is not None:
        kind, decimals, unit = found
    else:
        dtype = df.dtypes.iloc[df.columns.get_loc(col)]
        numeric = pd.api.types.is_numeric_dtype(dtype) and not pd.api.types.is_bool_dtype(dtype)
        kind, decimals, unit = ("number" if numeric else "text"), None, ""
    attrs = df.attrs
    kind = attrs.get("kinds", {}).get(col, kind)
    unit = attrs.get("units", {}).get(col, unit)
    decimals = attrs.get("decimals", {}).get(col, decimals)
    return kind, decimals, unit


@lru_cache(maxsize=None)
def _column_specs() -> dict[str, tuple[str, int | None, str]]:
    """``reference/columns.csv`` as a dict: column -> (kind, decimals, unit)."""
    spec = columns()
    return {col: (kind, int(dec) if dec else None, unit)
            for col, kind, dec, unit in zip(spec.index, spec["kind"], spec["decimals"], spec["unit"])}


def header(col: str, lang: str, unit: str = "") -> str:
    """A column header in ``lang``, with its unit (``Tỷ lệ (%)``)."""
    cat_key = f"col.{col}"
    from .i18n import catalog

    if cat_key in catalog(lang):
        name = text(lang, cat_key)
    elif col in groups().index:
        name = _group(col, lang, short=True)
    else:
        name = col
    if unit == "percent" and "%" not in name:
        name += " (%)"
    elif unit == "days":
        name += f" ({text(lang, 'unit.days')})"
    return name


def cell_text(value, kind: str, decimals: int | None, lang: str) -> str:
    """One cell as printed."""
    if kind in NUMERIC_KINDS and isinstance(value, str):
        return value
    if kind in NUMERIC_KINDS:
        if kind == "pvalue" and not _missing(value) and float(value) < 0.001:
            return "< " + number(0.001, lang, 3)
        return number(value, lang, decimals)
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return DASH
    if kind == "band":
        return _band(value, lang)
    if kind == "group":
        return _group(value, lang)
    if kind == "period":
        return period_label(value, lang)
    if kind == "indicator":
        return _indicator(value, lang)
    if kind == "check":
        return _check(value, lang)
    if kind == "severity":
        return text(lang, f"severity.{value}")
    if kind == "quantity":
        return text(lang, f"quantity.{value}")
    if kind == "measure":
        return text(lang, f"measure.{value}")
    if kind == "category":  # a printed category: a band is named in the report's language
        from .reference import band_aliases

        return _band(band_aliases().get(value, value), lang) if value in band_aliases() else str(value)
    return str(value)


def column_texts(values, kind: str, decimals: int | None, lang: str) -> list[str]:
    """Every cell of one column as printed: ``[cell_text(v, kind, decimals, lang) for v in
    values]``, with a code column's distinct strings (bands, groups, periods repeat) each looked
    up once.

    >>> column_texts(["Tốt", "Khá", "Tốt", None], "band", None, "en")
    ['Good', 'Fair', 'Good', '–']
    >>> column_texts([87.15, 1234.5, None], "number", 1, "vi")
    ['87,2', '1.234,5', '–']
    """
    if kind in NUMERIC_KINDS:
        return [cell_text(v, kind, decimals, lang) for v in values]
    seen: dict[str, str] = {}
    out = []
    for v in values:
        if type(v) is str:  # only strings are cached: 1, 1.0 and True are equal keys, not equal texts
            try:
                out.append(seen[v])
            except KeyError:
                out.append(seen.setdefault(v, cell_text(v, kind, decimals, lang)))
        else:
            out.append(cell_text(v, kind, decimals, lang))
    return out


def _label_value(value, kind: str, lang: str):
    """A code column translated for a reader (values of other columns unchanged)."""
    if kind in ("band", "group", "period", "indicator", "check", "severity", "quantity", "measure", "category"):
        return cell_text(value, kind, None, lang)
    return value


def display_frame(df: pd.DataFrame, lang: str, columns_: tuple | None = None) -> pd.DataFrame:
    """The table with headers and code values in ``lang`` (numbers stay numbers)."""
    cols = list(columns_ or df.columns)
    out = pd.DataFrame(index=range(len(df)))
    for col in cols:
        kind, _, unit = column_spec(df, col)
        out[header(col, lang, unit)] = [_label_value(v, kind, lang) for v in df[col]]
    return out


def styler(df: pd.DataFrame, lang: str, columns_: tuple | None = None, uuid: str = "r766"):
    """A pandas Styler of the table: headers and notation of ``lang``, numbers right-aligned.

    The table has the class ``r766`` and each cell the class ``num`` or ``text`` (the report's
    stylesheet aligns and spaces them); ``uuid`` names the table (``T_<uuid>``), one per page.

    >>> st = styler(pd.DataFrame({"group": ["CKMB"], "score": [87.15]}), "vi", uuid="t1")
    >>> html = st.to_html()
    >>> '<table id="T_t1" class="r766">' in html and '<td class="data row0 col1 num" >87,15</td>' in html
    True
    """
    from pandas.io.formats.style import Styler

    cols = [col for col in (columns_ or tuple(df.columns)) if col in df.columns]
    shown = display_frame(df, lang, tuple(cols))
    fmt, classes, right = {}, {}, []
    for j, (col, head) in enumerate(zip(cols, shown.columns)):
        kind, dec, _ = column_spec(df, col)
        numeric = kind in NUMERIC_KINDS
        if numeric:
            fmt[head] = (lambda v, k=kind, d=dec: cell_text(v, k, d, lang))
            right.append(j)
        classes[head] = ["num" if numeric else "text"] * len(shown)
    st = Styler(shown, cell_ids=False, uuid=uuid).format(fmt, na_rep=DASH).hide(axis="index")
    st = st.set_table_attributes('class="r766"').set_td_classes(pd.DataFrame(classes, index=shown.index))
    if right:
        st = st.set_table_styles([{"selector": ", ".join(f"th.col{j}" for j in right),
                                   "props": [("text-align", "right")]}])
    return st


def _table_block(df: pd.DataFrame, lang: str, cols: tuple | None) -> dict:
    cols = [col for col in (cols or tuple(df.columns)) if col in df.columns]
    specs = [column_spec(df, col) for col in cols]
    heads = [header(col, lang, unit) for col, (_, _, unit) in zip(cols, specs)]
    numeric = [kind in NUMERIC_KINDS for kind, _, _ in specs]
    if cols and df.columns.is_unique:  # printed a column at a time
        series = [s for _, s in df.items()] if cols == list(df.columns) else [df[col] for col in cols]
        printed = [column_texts(s.tolist(), kind, dec, lang) for s, (kind, dec, _) in zip(series, specs)]
        rows = [list(row) for row in zip(*printed)]
    else:
        rows = [[cell_text(v, kind, dec, lang) for v, (kind, dec, _) in zip(row, specs)]
                for row in df[cols].itertuples(index=False)]
    return {"kind": "table", "headers": heads, "numeric": numeric, "rows": rows}


def _rows_html(rows: list[list[str]], numeric: list[bool]) -> Markup:
    """The ``<tr>`` lines of a table's body (the section template's ``rows_html`` filter).

    Written here rather than by a template loop: a report's tables have thousands of cells, and
    a Jinja loop with its per-cell expressions costs several times this join. The markup is the
    same, each text escaped as the template's autoescape would."""
    opens = ['<td class="num">' if n else '<td class="text">' for n in numeric]
    return Markup("".join(["<tr>" + "".join([f"{o}{escape(v)}</td>" for o, v in zip(opens, row)]) + "</tr>\n"
                           for row in rows]))


def figure_png(fig) -> bytes:
    """The raster form of a figure (Word documents)."""
    from .figures import to_png

    return to_png(fig)


def figure_svg(fig, prefix: str = "f") -> str:
    """The vector form of a figure (HTML pages and notebooks), text kept as text."""
    from .figures import to_svg

    return to_svg(fig, prefix=prefix)


def _id(*parts) -> str:
    return re.sub(r"[^A-Za-z0-9_-]+", "-", "-".join(str(p) for p in parts)).strip("-")


def layout(content: c.Content, *, images: str = "svg", rows: bool = True) -> list[dict]:
    """The section as a list of blocks in its language: ``heading`` (level, text), ``text``
    (text, style), ``items``, ``table`` (name, columns, and with ``rows=True`` its headers,
    numeric flags and printed rows), ``figure`` (name, caption, and the image: ``svg`` text with
    ``images="svg"``, ``png`` bytes with ``images="png"``, neither with ``images="none"``)."""
    if images not in ("svg", "png", "none"):
        raise ValueError(f"images must be svg, png or none, not {images!r}")
    lang = content.lang
    blocks = []
    if content.title is not None:
        title = resolve(content.title, lang)
        if content.number:
            title = f"{content.number}. {title}"
        blocks.append({"kind": "heading", "level": 2 if content.key != "title" else 1, "text": title})
    for part in content.parts:
        if isinstance(part, c.Heading):
            blocks.append({"kind": "heading", "level": part.level, "text": resolve(part.text, lang)})
        elif isinstance(part, c.Text):
            blocks.append({"kind": "text", "text": resolve(part.text, lang), "style": part.style})
        elif isinstance(part, c.Items):
            blocks.append({"kind": "items", "items": [resolve(i, lang) for i in part.items]})
        elif isinstance(part, c.TableRef):
            block = {"kind": "table", "name": part.name, "columns": part.columns,
                     "id": "T_" + _id(content.key, part.name)}
            blocks.append({**_table_block(content.tables[part.name], lang, part.columns), **block} if rows else block)
        elif isinstance(part, c.FigureRef):
            fig = content.figures[part.name]
            block = {"kind": "figure", "name": part.name, "caption": resolve(part.caption, lang)}
            if images == "png":
                block["png"] = figure_png(fig)
            elif images == "svg":
                svg = figure_svg(fig, prefix=_id("fig", content.key, part.name))
                block["svg"] = svg.replace("<svg ", f'<svg role="img" aria-label="{_html.escape(block["caption"])}" ', 1)
            blocks.append(block)
    return blocks


def section_html(content: c.Content) -> str:
    """HTML of one section (Jinja2 template ``section.html.j2``), figures as inline SVG; the
    title section carries the stylesheet (screen and print)."""
    env = environment()
    css = stylesheet() if content.key == "title" else ""
    return env.get_template("section.html.j2").render(blocks=layout(content), key=content.key, css=css,
                                                       lang=content.lang)


_MD_SPECIAL = re.compile(r"([\\`*_\[\]<>#|])")


def _md(text_: str) -> str:
    """Plain text as Markdown that shows the same characters."""
    return _MD_SPECIAL.sub(r"\\\1", text_)


def _prose_markdown(blocks: list[dict]) -> str:
    out = []
    for b in blocks:
        if b["kind"] == "heading":
            out.append("#" * b["level"] + " " + _md(b["text"]))
        elif b["kind"] == "text":
            strong = b["style"] in ("synthetic", "warning")
            out.append(f"**{_md(b['text'])}**" if strong else _md(b["text"]))
        elif b["kind"] == "items":
            out.append("\n".join("- " + _md(i) for i in b["items"]))
    return "\n\n".join(out) + "\n"


def display_bundles(content: c.Content) -> list[dict]:
    """The section as a sequence of notebook outputs (MIME bundles), in its language.

    Headings, paragraphs and lists come as Markdown with the same text as HTML (``text/markdown``
    and ``text/html``); each table as HTML in the report's notation (headers with units, numbers
    right-aligned: what its pandas Styler, ``content.styler(name)``, prints, written by the
    section template, several times faster than ``Styler.to_html``); each figure as inline vector SVG with
    its caption. Every HTML part is wrapped in ``<div class="r766 r766-<section>">`` so the
    report's stylesheet (carried by the title section) applies, in JupyterLab as in the HTML
    page nbconvert builds. ``text/plain`` is a short stable stand-in naming what to call.
    """
    env = environment()
    css = stylesheet() if content.key == "title" else ""
    bundles, prose = [], []

    def wrap(body: str) -> str:
        return env.get_template("part.html.j2").render(body=body, key=content.key, lang=content.lang,
                                                      css=css if not bundles else "")

    def flush():
        if prose:
            body = env.get_template("section.html.j2").render(blocks=prose, key=content.key, css="",
                                                              lang=content.lang, bare=True)
            plain = next((b["text"] for b in prose if b["kind"] == "heading"), None) or content.key
            bundles.append({"text/html": wrap(body), "text/markdown": _prose_markdown(prose),
                            "text/plain": plain})
            prose.clear()

    for block in layout(content, images="svg"):
        if block["kind"] == "table":
            flush()
            name = block["name"]
            body = env.get_template("section.html.j2").render(blocks=[block], key=content.key, css="",
                                                              lang=content.lang, bare=True)
            bundles.append({"text/html": wrap(body.strip()),
                            "text/plain": f"<table {name!r}: {len(block['rows'])} rows x {len(block['headers'])} "
                                          f"columns; .frame({name!r}), .styler({name!r})>"})
        elif block["kind"] == "figure":
            flush()
            caption = _html.escape(block["caption"])
            bundles.append({"text/html": wrap(f"<figure>\n{block['svg']}<figcaption>{caption}</figcaption></figure>"),
                            "text/plain": f"<figure {block['name']!r}: .figures[{block['name']!r}]>"})
        else:
            prose.append(block)
    flush()
    return bundles


def index_html(entries: list[dict], lang: str = "vi") -> str:
    """The index page: one row per report with its title, province and period in ``lang``.

    ``entries`` are dicts with ``key``, ``kind``, ``lang`` and ``params`` (a build stamp), and
    optionally ``province_name`` (the unit's name) and ``files`` (format -> relative link:
    ``html``, ``docx``, ``xlsx``, ``ipynb``).
    """
    _ = Translator(lang)
    names = {"html": "HTML", "docx": "Word", "xlsx": "Excel", "ipynb": _("index.notebook")}
    rows = []
    for e in entries:
        p = e["params"]
        period = period_label(p["period"], p["lang"]) if p.get("period") else DASH
        if e["kind"] == "compare":
            title = text(p["lang"], "compare.title", period=period)
            province = _("index.compare")
        else:
            province = e.get("province_name") or p.get("province", DASH)
            title = text(p["lang"], "report.title", area=province, period=period)
        rows.append({"title": title, "province": province, "period": period_label(p["period"], lang),
                     "lang": _(f"index.lang_{p['lang']}"),
                     "files": {names.get(k, k): v for k, v in e.get("files", {}).items()},
                     "href": e["key"] + ".html"})
    css = stylesheet()
    return environment().get_template("index.html.j2").render(rows=rows, _=_, css=css, lang=lang) + "\n"
