"""Read an ``.html`` page (a provincial news page, a district portal article) as document items.

The page's main text is the ``<article>`` or ``<main>`` element when there is one, else the
body without ``<nav>``, ``<header>``, ``<footer>``, ``<aside>``, ``<script>``, ``<style>`` and
``<form>``. Block elements (``p``, ``div``, ``li``, ``h1``–``h6``, ``br`` …) end a text line;
``<table>`` rows become table rows, a ``colspan`` cell is followed by empty cells (the layout of
a merged header in a text table, which :func:`analysis.importers.documents.assemble_tables`
already reads) and a ``rowspan`` cell leaves an empty cell in the rows below. Underlined text
(``<u>``) marks its cell. The page's ``<title>``, ``og:site_name`` and published time are kept
for the provenance draft. Parsing uses the standard library's :mod:`html.parser`, which
tolerates the unclosed tags of real pages.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from html.parser import HTMLParser

from ..text import nfc

__all__ = ["html_items", "PageMeta"]

_BLOCK = {"p", "div", "li", "h1", "h2", "h3", "h4", "h5", "h6", "br", "section", "article", "main",
          "blockquote", "ul", "ol", "dd", "dt", "figcaption", "caption", "hr", "pre"}
_SKIP = {"script", "style", "nav", "header", "footer", "aside", "form", "noscript", "template",
         "svg", "iframe", "button", "select"}


@dataclass
class PageMeta:
    """Bibliographic facts a page states about itself."""

    title: str | None = None
    site_name: str | None = None
    published: str | None = None
    h1: str | None = None
    extra: dict = field(default_factory=dict)


class _Parser(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.items: list[tuple] = []
        self.meta = PageMeta()
        self.skip = 0
        self.text: list[str] = []
        self.text_line = 0
        self.in_title = False
        self.in_h1 = False
        self.cell: list[str] | None = None
        self.cell_marked = False
        self.cell_span = 1
        self.row: list | None = None
        self.row_line = 0
        self.table_depth = 0
        self.underline = 0
        self.pending_rowspans: dict[int, int] = {}
        self.row_spans: dict[int, int] = {}

    # text lines
    def flush(self) -> None:
        line = " ".join("".join(self.text).split())
        if line:
            self.items.append(("text", nfc(line), self.text_line))
        elif self.text:
            self.items.append(("blank", self.text_line))
        self.text = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "meta":
            prop = (a.get("property") or a.get("name") or "").lower()
            if prop == "og:site_name":
                self.meta.site_name = a.get("content")
            elif prop in ("article:published_time", "date", "pubdate", "dc.date"):
                self.meta.published = a.get("content")
            elif prop == "og:title" and not self.meta.title:
                self.meta.title = a.get("content")
            return
        if tag == "title":
            self.in_title = True
            return
        if tag in _SKIP:
            self.skip += 1
            return
        if self.skip:
            return
        if tag == "h1":
            self.in_h1 = True
        if tag == "u":
            self.underline += 1
            if self.cell is not None:
                self.cell_marked = True
        if tag == "table":
            self.flush()
            self.table_depth += 1
            self.items.append(("blank", self.getpos()[0]))
            self.pending_rowspans = {}
        elif tag == "tr":
            self.row = []
            self.row_line = self.getpos()[0]
        elif tag in ("td", "th") and self.row is not None:
            self._fill_rowspans()
            self.cell = []
            self.cell_marked = self.underline > 0
            try:
                self.cell_span = max(1, min(50, int(a.get("colspan") or 1)))
            except ValueError:
                self.cell_span = 1
            try:
                rows = max(1, min(500, int(a.get("rowspan") or 1)))
            except ValueError:
                rows = 1
            if rows > 1:
                self.row_spans[len(self.row)] = rows - 1
        elif tag in _BLOCK and self.cell is None:
            self.flush()
            self.text_line = self.getpos()[0]
        elif tag in _BLOCK and self.cell is not None:
            self.cell.append(" ")

    def _fill_rowspans(self):
        while len(self.row) in self.pending_rowspans:
            i = len(self.row)
            self.row.append(("", False))
            self.pending_rowspans[i] -= 1
            if self.pending_rowspans[i] <= 0:
                del self.pending_rowspans[i]

    def handle_endtag(self, tag):
        if tag == "title":
            self.in_title = False
            return
        if tag in _SKIP:
            self.skip = max(0, self.skip - 1)
            return
        if self.skip:
            return
        if tag == "h1":
            self.in_h1 = False
        if tag == "u":
            self.underline = max(0, self.underline - 1)
        if tag in ("td", "th") and self.cell is not None and self.row is not None:
            text = nfc(" ".join("".join(self.cell).split()))
            self.row.append((text, self.cell_marked))
            self.row += [("", False)] * (self.cell_span - 1)
            self.cell = None
        elif tag == "tr" and self.row is not None:
            self._fill_rowspans()
            for i, n in self.row_spans.items():
                self.pending_rowspans[i] = n
            self.row_spans = {}
            if any(t for t, _ in self.row):
                self.items.append(("row", self.row, self.row_line, "html"))
            self.row = None
        elif tag == "table":
            self.table_depth = max(0, self.table_depth - 1)
            self.items.append(("blank", self.getpos()[0]))
        elif tag in _BLOCK and self.cell is None:
            self.flush()

    def handle_data(self, data):
        if self.in_title:
            self.meta.title = (self.meta.title or "") + data
            return
        if self.skip:
            return
        if self.in_h1:
            self.meta.h1 = " ".join(((self.meta.h1 or "") + " " + data).split())
        if self.cell is not None:
            self.cell.append(data)
        else:
            if not self.text:
                self.text_line = self.getpos()[0]
            self.text.append(data)


def _main_part(html: str) -> str:
    for tag in ("article", "main"):
        m = re.search(rf"<{tag}\b[^>]*>(.*)</{tag}\s*>", html, re.S | re.I)
        if m:
            # keep the line numbers of the page: pad with the newlines before the element
            return "\n" * html.count("\n", 0, m.start(1)) + m[1]
    return html


def html_items(html: str) -> tuple[list[tuple], PageMeta]:
    """Items of a page (see :func:`analysis.importers.documents.text_items`) and its metadata.

    Examples
    --------
    >>> items, meta = html_items("<title>T</title><article><p>Đạt 80,1 điểm.</p>"
    ...                          "<table><tr><th>Đơn vị</th><th>Điểm</th></tr>"
    ...                          "<tr><td>Xã A</td><td><u>70</u></td></tr></table></article>")
    >>> [i[0] for i in items if i[0] != 'blank'], meta.title
    (['text', 'row', 'row'], 'T')
    >>> [r for r in items if r[0] == 'row'][1][1]
    [('Xã A', False), ('70', True)]
    """
    head = _Parser()  # the whole page, for its title and meta elements
    head.feed(html)
    parser = _Parser()
    parser.feed(_main_part(html))
    parser.close()
    parser.flush()
    meta = parser.meta
    meta.title = meta.title or head.meta.title
    meta.site_name = meta.site_name or head.meta.site_name
    meta.published = meta.published or head.meta.published
    if meta.title:
        meta.title = nfc(" ".join(meta.title.split()))
    return parser.items, meta
