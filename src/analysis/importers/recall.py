"""Measure what the document importer recovers against curated figures (recall, precision).

A *figure* is one printed fact: a score's value, its rank (with the size of the ranked block),
its band or its change; or an indicator's value (with its measure and category). Each is keyed by
unit, period and group or indicator, so a figure counts whichever section it was read from and a
figure printed twice counts once per curated row. Recall = curated figures found among the
extracted ones; precision = extracted figures equal to a curated one (in value, unit and
period).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import pandas as pd

__all__ = ["figure_keys", "Comparison", "compare", "seed_comparisons", "TABLE_SECTION"]

#: Sections of curated data that are tables (the rest is running text).
TABLE_SECTION = r"bảng|^Phụ lục"


def _missing(v) -> bool:
    return v is None or v is pd.NA or (isinstance(v, float) and math.isnan(v))


def figure_keys(scores: pd.DataFrame, indicators: pd.DataFrame) -> list[tuple]:
    """One key per printed figure of score and indicator rows.

    Examples
    --------
    >>> s = pd.DataFrame([{"unit_id": "u", "period_id": "2024-07", "group": "TOTAL", "value": 87.15,
    ...                    "rank": 2, "rank_of": 8, "band": "Tốt", "change": None}])
    >>> i = pd.DataFrame(columns=["unit_id", "period_id", "indicator", "measure", "category", "value"])
    >>> [k[4] for k in figure_keys(s, i)]
    ['value', 'rank', 'band']
    """
    out = []
    for r in scores.to_dict("records"):
        base = ("score", r["unit_id"], r["period_id"], r["group"])
        if not _missing(r["value"]):
            out.append(base + ("value", round(float(r["value"]), 4)))
        if not _missing(r["rank"]):
            out.append(base + ("rank", int(r["rank"]), None if _missing(r["rank_of"]) else int(r["rank_of"])))
        if isinstance(r["band"], str):
            out.append(base + ("band", r["band"]))
        if not _missing(r["change"]):
            out.append(base + ("change", round(float(r["change"]), 4)))
    for r in indicators.to_dict("records"):
        category = r["category"] if isinstance(r["category"], str) else None
        out.append(("indicator", r["unit_id"], r["period_id"], r["indicator"], r["measure"], category,
                    round(float(r["value"]), 4)))
    return out


@dataclass
class Comparison:
    """Figures curated, extracted, and how they meet."""

    curated: list[tuple]
    extracted: list[tuple]

    @property
    def found(self) -> list[tuple]:
        got = set(self.extracted)
        return [k for k in self.curated if k in got]

    @property
    def missed(self) -> list[tuple]:
        got = set(self.extracted)
        return [k for k in self.curated if k not in got]

    @property
    def wrong(self) -> list[tuple]:
        """Extracted figures that equal no curated figure."""
        cur = set(self.curated)
        return sorted({k for k in self.extracted if k not in cur}, key=str)

    @property
    def recall(self) -> float:
        return len(self.found) / len(self.curated) if self.curated else 1.0

    @property
    def precision(self) -> float:
        ext = set(self.extracted)
        return (len(ext) - len(self.wrong)) / len(ext) if ext else 1.0


def compare(extracted: dict[str, pd.DataFrame], curated: dict[str, pd.DataFrame]) -> Comparison:
    """Compare the ``scores`` and ``indicators`` of an import with curated ones."""
    return Comparison(curated=figure_keys(curated["scores"], curated["indicators"]),
                      extracted=figure_keys(extracted["scores"], extracted["indicators"]))


def seed_comparisons(data_dir=None, seeds_dir=None) -> list[tuple]:
    """(source_id, Comparison of all figures, Comparison of running-text figures, result) for
    every seed report whose file is found.

    Each seed is read as a new document: its ``sources`` row is removed, so the provenance is
    drafted from the text, against the units and aliases of ``data_dir``.
    """
    from ..config import DATA_DIR, SHARED_DIR
    from ..dataset import Dataset, load_dataset
    from .documents import import_document

    ds = load_dataset(data_dir or DATA_DIR)
    seeds_dir = seeds_dir or SHARED_DIR / "seeds"
    out = []
    for path in sorted(seeds_dir.glob("*.txt")):
        match = ds.sources.loc[ds.sources["origin"].str.endswith("/" + path.name)]
        if match.empty:
            continue
        sid = match.iloc[0]["source_id"]
        fresh = Dataset(data_dir=ds.data_dir, units=ds.units, unit_aliases=ds.unit_aliases,
                        periods=ds.periods, sources=ds.sources.loc[ds.sources["source_id"] != sid],
                        scores=ds.scores.iloc[0:0], indicators=ds.indicators.iloc[0:0])
        result = import_document(path, dataset=fresh)
        curated = {t: ds.table(t).loc[ds.table(t)["source_id"] == sid] for t in ("scores", "indicators")}
        text_only = {t: df.loc[~df["section"].str.contains(TABLE_SECTION)] for t, df in curated.items()}
        mine = {t: result.tables[t] for t in ("scores", "indicators")}
        mine_text = {t: df.loc[~df["section"].str.contains(TABLE_SECTION)] for t, df in mine.items()}
        out.append((sid, compare(mine, curated), compare(mine_text, text_only), result))
    return out
