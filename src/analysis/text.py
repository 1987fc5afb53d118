"""Vietnamese text: NFC, comparison keys for unit names, ASCII slugs."""
from __future__ import annotations

import re
import unicodedata

from .errors import DataError

__all__ = ["nfc", "is_nfc", "check_text", "name_key", "slugify", "strip_admin_prefix", "UNIT_TYPES"]

# Type words that open a unit name, longest first so "thị trấn" wins over "thị".
UNIT_TYPES = (
    "thành phố", "thị trấn", "thị xã", "thanh tra", "đặc khu", "huyện", "phường", "tỉnh", "xã", "sở", "ban",
)

# Old-style tone placement (hoà, thuý) and new style (hòa, thúy) are the same name.
_TONE_PAIRS = {}
for _plain, _marked in (("a", "àáảãạ"), ("e", "èéẻẽẹ"), ("y", "ỳýỷỹỵ")):
    for _tone_index, _ch in enumerate(_marked):
        for _vowel, _vowel_marked in (("o", "òóỏõọ"), ("u", "ùúủũụ")):
            # "oà" (old) -> "òa" (new); "uý" -> "úy"
            _TONE_PAIRS[_vowel + _ch] = _vowel_marked[_tone_index] + _plain

_PREFIX = re.compile(r"^(ubnd|ủy ban nhân dân|uỷ ban nhân dân)\s+", re.IGNORECASE)
_SUFFIX = re.compile(r"\s+[-–]\s+(tỉnh|thành phố|tp\.?)\s+[^-–]+$", re.IGNORECASE)


def nfc(text: str) -> str:
    """Return ``text`` in Unicode NFC (precomposed Vietnamese letters)."""
    return unicodedata.normalize("NFC", text)


# Control characters (C0, DEL, C1) other than tab and line feed, plus Unicode non-characters.
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\ufffe\uffff]")


def check_text(text: str, *, file=None, row=None, column=None) -> str:
    """Reject text holding control characters (NUL, escape, CR …): they are invisible in a
    table, break Excel files and terminals, and never belong in a name or a note.

    Examples
    --------
    >>> check_text("xã Sơn Thành")
    'xã Sơn Thành'
    >>> check_text("a" + chr(0) + "b", row=3, column="name")
    Traceback (most recent call last):
    ...
    analysis.errors.DataError: row 3, column 'name': text 'a\\x00b' holds control character U+0000; remove it
    """
    found = _CONTROL.search(text)
    if found:
        shown = text.encode("unicode_escape").decode("ascii")
        shown = shown if len(shown) <= 60 else shown[:57] + "..."
        raise DataError(f"text '{shown}' holds control character U+{ord(found.group()):04X}; remove it",
                        file=file, row=row, column=column)
    return text


def is_nfc(text: str) -> bool:
    """True when ``text`` is already in NFC."""
    return unicodedata.is_normalized("NFC", text)


def strip_admin_prefix(name: str, province_names=()) -> str:
    """Drop a leading ``UBND`` / ``Ủy ban nhân dân`` and a trailing `` - tỉnh X`` suffix.

    A bare suffix (``UBND xã Kông Bơ La - Gia Lai``) is dropped only when it is one of
    ``province_names``: department names contain dashes of their own
    (``Sở Lao động - Thương binh và Xã hội``).

    Examples
    --------
    >>> strip_admin_prefix("UBND xã Sơn Thành - tỉnh Bắc Kạn")
    'xã Sơn Thành'
    """
    s = " ".join(nfc(name).split())
    s = _PREFIX.sub("", s)
    s = _SUFFIX.sub("", s)
    for province in province_names:
        for dash in (" - ", " – "):
            if s.casefold().endswith((dash + province).casefold()):
                s = s[: -len(dash + province)]
    return s.strip()


def name_key(name: str, province_names=()) -> str:
    """A comparison key for unit names: NFC, case folded, admin words and suffix dropped,
    old/new tone placement unified, spaces collapsed.

    Examples
    --------
    >>> name_key("UBND Phường An Hoà - Tỉnh Đồng Tháp") == name_key("phường An Hòa")
    True
    """
    s = strip_admin_prefix(name, province_names).casefold()
    for old, new in _TONE_PAIRS.items():
        s = s.replace(old, new)
    return nfc(s)


def slugify(text: str) -> str:
    """ASCII slug: ``thị trấn Yên Lạc`` -> ``thi-tran-yen-lac``.

    Examples
    --------
    >>> slugify("Thành phố Sa Đéc")
    'thanh-pho-sa-dec'
    """
    s = nfc(text).replace("đ", "d").replace("Đ", "D")
    s = unicodedata.normalize("NFKD", s).encode("ascii", "ignore").decode("ascii").lower()
    return re.sub(r"[^a-z0-9]+", "-", s).strip("-")
