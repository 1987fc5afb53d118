"""Report content: what a reader is told, as tables and facts, in no language and no format.

A content function (a method of :class:`analysis.report.ProvinceReport` or
:class:`~analysis.report.ComparisonReport`) returns a :class:`Content`: tidy DataFrames with
fixed snake_case columns, matplotlib figures, a dict of facts, and ``parts`` — the order in which
a renderer lays them out. Text parts are message keys of the catalog with typed values
(:class:`Num`, :class:`Band`, :class:`Period` …), so the words and the notation are chosen by the
renderer for the report's language (:mod:`analysis.render`), never here.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pandas as pd

__all__ = ["Content", "Msg", "Num", "Band", "Group", "Period", "Level", "Check", "Severity", "Units",
           "Join", "Cap", "Count", "Heading", "Text", "Items", "TableRef", "FigureRef", "Code"]


# --- typed values: a renderer turns each into words of the report's language ---------------
@dataclass(frozen=True)
class Msg:
    """A catalog message with its values (values may be other typed values)."""

    key: str
    values: dict = field(default_factory=dict)

    def __init__(self, key: str, **values):
        object.__setattr__(self, "key", key)
        object.__setattr__(self, "values", values)


@dataclass(frozen=True)
class Num:
    """A figure; ``decimals=None`` prints the decimals it needs (up to 2); ``unit`` ``"%"`` appends %."""

    value: Any
    decimals: int | None = None
    unit: str = ""


@dataclass(frozen=True)
class Band:
    """A band by its canonical (reference) name."""

    code: Any


@dataclass(frozen=True)
class Group:
    """A group of indicators by code (``CKMB``)."""

    code: str


@dataclass(frozen=True)
class Period:
    """A period by id."""

    period_id: str


@dataclass(frozen=True)
class Level:
    """The name of a ranking block (``commune`` -> ``xã, phường, thị trấn``)."""

    level: Any


@dataclass(frozen=True)
class Check:
    """An audit check by code."""

    code: str


@dataclass(frozen=True)
class Severity:
    code: str


@dataclass(frozen=True)
class Code:
    """Text shown as it is in every language (a unit name, a document number)."""

    text: Any


@dataclass(frozen=True)
class Units:
    """Names of units, at most ``limit`` named, then "and n other units"."""

    names: tuple
    limit: int = 5


@dataclass(frozen=True)
class Join:
    """Several typed values written one after the other, ``sep`` between them."""

    parts: tuple
    sep: str = ""

    def __init__(self, parts, sep: str = ""):
        object.__setattr__(self, "parts", tuple(parts))
        object.__setattr__(self, "sep", sep)


@dataclass(frozen=True)
class Cap:
    """A value with its first letter upper-cased (a unit name opening a sentence)."""

    inner: Any


@dataclass(frozen=True)
class Count:
    """``15 xã`` / ``15 communes``: a number of units with the noun of their level."""

    n: int
    level: str


# --- layout parts -----------------------------------------------------------------------------
@dataclass(frozen=True)
class Heading:
    level: int
    text: Any  # Msg or Code


@dataclass(frozen=True)
class Text:
    text: Any
    style: str = ""  # "headline", "note", "synthetic", "lead"


@dataclass(frozen=True)
class Items:
    items: tuple


@dataclass(frozen=True)
class TableRef:
    """A table of the content shown in place, optionally only some of its columns."""

    name: str
    columns: tuple | None = None


@dataclass(frozen=True)
class FigureRef:
    name: str
    caption: Any


@dataclass
class Content:
    """One section of a report: tables, figures, facts and their layout.

    ``tables`` hold every figure of the section, including those no page shows (they go to the
    workbook and the CSV files); ``facts`` are the numbers the sentences quote.
    In a notebook the section displays as a sequence of rich outputs in the report's language
    (:func:`analysis.render.display_bundles`): its heading and sentences as Markdown, each table
    in the report's notation, each figure as vector SVG. The DataFrames are ``content.tables[...]``
    (``content.frame(name)`` with headers and notation of the report's language,
    ``content.styler(name)`` a Styler printing what the table shows) and the figures
    ``content.figures[...]``.
    ``_repr_html_`` is the whole section as one HTML fragment.
    """

    key: str
    lang: str
    title: Any = None  # Msg of the section heading (numbered by the renderer)
    parts: list = field(default_factory=list)
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    figures: dict = field(default_factory=dict)
    facts: dict = field(default_factory=dict)
    number: int | None = None  # section number in the report (1., 2. …) or None
    labels: dict = field(default_factory=dict)  # table name -> label (a sheet name in the workbook)

    def _repr_html_(self) -> str:
        from .render import section_html

        return section_html(self)

    def _ipython_display_(self) -> None:
        from IPython.display import publish_display_data

        from .render import display_bundles

        for bundle in display_bundles(self):
            publish_display_data(bundle)

    def show(self) -> None:
        """Display the section in a notebook (what ending a cell with the section does)."""
        self._ipython_display_()

    def __repr__(self) -> str:  # the text/plain form of a notebook output: short and stable
        return f"<Content {self.key}: {len(self.tables)} tables, {len(self.figures)} figures>"

    def frame(self, name: str) -> pd.DataFrame:
        """Table ``name`` as a reader sees it: headers and codes in the report's language."""
        from .render import display_frame

        return display_frame(self.tables[name], self.lang)

    def styler(self, name: str):
        """Table ``name`` as a pandas Styler with the report's number notation."""
        from .render import _id, styler

        return styler(self.tables[name], self.lang, uuid=_id(self.key, name))
