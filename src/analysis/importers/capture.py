"""Import raw API captures through their manifest: the folders ``analysis.fetch`` writes
(``DIR/<capture date>/manifest.json`` + ``<endpoint>/<period>-<scope>[.pN].json``) and any folder
with a manifest in the same shape (``shared/data/portal/qd766/tests/fixtures/manifest.m0.json``).

:func:`import_json` is what ``python -m analysis import`` calls for every ``.json`` file:

* a capture manifest is checked against its folder (every listed file present with the listed
  SHA-256, or reported missing) and skipped as documentation;
* page 1 of a multi-page list is read with its other pages (their hashes checked): one source,
  one set of rows; pages 2… are skipped ("read with page 1");
* a capture restricted to one procedure (``formalityId``) is skipped: its figures are not the
  units' index values;
* the manifest's ``level`` (``province``, ``departments``, ``communes``; set by ``fetch
  --level``) keeps only the units of those levels (the province itself is always kept);
* everything else goes to :func:`analysis.importers.portal.import_portal` unchanged.
"""
from __future__ import annotations

import json
from pathlib import Path

from ..dataset import Dataset, file_sha256
from ..errors import DataError
from .portal import (ImportResult, _find_capture, import_portal, load_json, origin_of,
                     parse_portal)

__all__ = ["import_json", "manifest_summary", "keep_levels", "LEVEL_KEEP"]

# fetch --level -> unit levels kept on import (None: all).
LEVEL_KEEP = {
    "all": None,
    "province": {"country", "province"},
    "departments": {"country", "province", "department"},
    "communes": {"country", "province", "commune"},
}


def _is_manifest(obj) -> bool:
    return isinstance(obj, dict) and isinstance(obj.get("captures"), list)


def manifest_summary(path: Path, doc: dict) -> str:
    """One line on a capture manifest: captures listed, present, missing; hashes checked.

    Raises
    ------
    DataError
        A listed file whose bytes do not hash to the listed SHA-256.
    """
    folder = path.parent
    listed = [c for c in doc["captures"] if isinstance(c, dict) and c.get("file")]
    present, missing = 0, []
    for c in listed:
        f = folder / c["file"]
        if not f.exists():
            missing.append(c["file"])
            continue
        if c.get("sha256") and file_sha256(f) != c["sha256"]:
            raise DataError(f"the capture manifest lists SHA-256 {c['sha256'][:12]}… for "
                            f"{c['file']} but its bytes hash to {file_sha256(f)[:12]}…: the file "
                            f"is not the capture it describes", file=path)
        present += 1
    text = (f"a capture manifest, not a data file: {len(listed)} captures listed, {present} "
            f"present (hashes checked)")
    if missing:
        shown = ", ".join(missing[:4]) + (f" and {len(missing) - 4} more" if len(missing) > 4 else "")
        text += f", {len(missing)} not in this folder ({shown})"
    return text + "; the captures are read through it"


def _pages(entry: dict) -> list[dict]:
    """The manifest entries of every page of the list ``entry`` belongs to, in page order."""
    if int(entry.get("pages") or 1) <= 1:
        return [entry]
    doc = json.loads(Path(entry["manifest"]).read_text(encoding="utf-8"))
    key = (entry.get("endpoint"), entry.get("period"), entry.get("scope"))
    pages = sorted((c for c in doc["captures"]
                    if (c.get("endpoint"), c.get("period"), c.get("scope")) == key),
                   key=lambda c: int(c.get("page") or 1))
    if [int(c.get("page") or 1) for c in pages] != list(range(1, int(entry["pages"]) + 1)):
        raise DataError(f"the capture manifest {entry['manifest']} lists pages "
                        f"{[c.get('page') for c in pages]} of a {entry['pages']}-page list; the "
                        f"capture is incomplete", file=entry["file"])
    return pages


def keep_levels(result: ImportResult, existing: Dataset | None, level: str) -> None:
    """Drop the rows of units whose level ``level`` leaves out (in place)."""
    keep = LEVEL_KEEP.get(level)
    if keep is None or result.skipped:
        return
    import pandas as pd

    units = result.tables["units"]
    known = existing.units if existing is not None else units.iloc[0:0]
    levels = pd.concat([known[["unit_id", "level"]], units[["unit_id", "level"]]]).set_index("unit_id")["level"]
    kept = set(levels.index[levels.isin(keep)])
    dropped = 0
    for table in ("scores", "indicators", "unit_aliases"):
        df = result.tables[table]
        mask = df["unit_id"].isin(kept)
        dropped += int((~mask).sum()) if table == "scores" else 0
        result.tables[table] = df.loc[mask].reset_index(drop=True)
    result.tables["units"] = units.loc[units["unit_id"].isin(kept)].reset_index(drop=True)
    if dropped:
        result.notes.append(f"level '{level}' (fetch --level): {dropped} score rows of other levels "
                            f"left out; the raw responses keep them")


def import_json(path: Path | str, *, existing: Dataset | None = None,
                level: str | None = None) -> ImportResult:
    """Import one ``.json`` file, reading raw captures through their manifest.

    Parameters
    ----------
    path : path
    existing : Dataset, optional
    level : str, optional
        Override the manifest's ``level`` (``all``, ``province``, ``departments``, ``communes``).

    Returns
    -------
    ImportResult

    Raises
    ------
    DataError
        As :func:`analysis.importers.portal.import_portal`, plus a page whose bytes do not match
        the manifest, or a list whose pages are not all there.
    """
    path = Path(path)
    if path.suffix.lower() != ".json":
        return import_portal(path, existing=existing)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise DataError("file not found", file=path) from None
    obj = load_json(raw, file=path)
    if _is_manifest(obj):
        return ImportResult(path=path, kind="documentation", source_id=None,
                            skipped=manifest_summary(path, obj))
    if not (isinstance(obj, dict) and {"code", "data"} <= set(obj)):
        return import_portal(path, existing=existing)
    entry = _find_capture(path)
    if entry is None:
        return import_portal(path, existing=existing)
    payload = entry.get("payload") or {}
    formality = payload.get("formalityId") or payload.get("formalityID")
    if formality:
        return ImportResult(path=path, kind="skipped", source_id=None,
                            skipped=f"capture restricted to one procedure (formalityId {formality}): "
                                    f"not the units' index values")
    if "/evaluation/" not in str(entry.get("url", "")):
        return ImportResult(path=path, kind="skipped", source_id=None,
                            skipped=f"capture of {entry.get('url')}: not an index endpoint")
    page = int(entry.get("page") or 1)
    if page > 1:
        return ImportResult(path=path, kind="skipped", source_id=None,
                            skipped=f"page {page} of {entry.get('pages')} of a paged list: read "
                                    f"with page 1 ({Path(entry['file']).name.split('.p')[0]}.json)")
    pages = _pages(entry)
    if len(pages) == 1:
        result = import_portal(path, existing=existing)
    else:
        digest = file_sha256(path)
        if entry.get("sha256") and entry["sha256"] != digest:
            raise DataError(f"the capture manifest lists SHA-256 {entry['sha256'][:12]}… but the "
                            f"file hashes to {digest[:12]}…", file=path)
        merged = obj
        folder = Path(entry["manifest"]).parent
        extra = []
        for c in pages[1:]:
            f = folder / c["file"]
            if not f.exists():
                raise DataError(f"page {c.get('page')} ({c['file']}) of this list is missing",
                                file=path)
            if c.get("sha256") and file_sha256(f) != c["sha256"]:
                raise DataError(f"the capture manifest lists SHA-256 {c['sha256'][:12]}… but the "
                                f"file hashes to {file_sha256(f)[:12]}…", file=f)
            part = load_json(f.read_bytes(), file=f)
            children = part.get("data", {}).get("children") if isinstance(part, dict) else None
            if not isinstance(children, list):
                raise DataError("data.children: missing; expected the list of units of this page",
                                file=f)
            merged["data"]["children"] = merged["data"]["children"] + children
            extra.append(f"{c['file']} (sha256 {c['sha256'][:12]}…)")
        result = parse_portal(merged, file=path, name=f"{path.parent.name}-{path.stem}",
                              sha256=digest, origin=origin_of(path), existing=existing,
                              capture=entry)
        note = f"pages 2–{len(pages)} read with this file: {', '.join(extra)}"
        result.notes.append(note)
        src = result.tables["sources"]
        src.loc[0, "note"] = "; ".join(filter(None, [src.loc[0, "note"], note]))
    keep_levels(result, existing, level or entry.get("level") or "all")
    return result
