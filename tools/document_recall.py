"""Print the recall and precision of the document importer on the five seed reports.

Each seed is read as a new document (its ``sources`` row removed, so the provenance is drafted
from the text) against the units of ``data/``, and the figures it yields are compared with the
curated ``data/`` tables (:mod:`analysis.importers.recall`).

    .venv/bin/python tools/document_recall.py [-v]
"""
from __future__ import annotations

import sys

from analysis.config import DATA_DIR, SHARED_DIR
from analysis.dataset import Dataset, load_dataset
from analysis.importers.documents import import_document
from analysis.importers.recall import compare


def seed_comparisons(data_dir=DATA_DIR, seeds_dir=None):
    """(source_id, Comparison, DocumentResult) for every seed found."""
    ds = load_dataset(data_dir)
    seeds_dir = seeds_dir or SHARED_DIR / "seeds"
    out = []
    for path in sorted(seeds_dir.glob("*.txt")):
        match = ds.sources.loc[ds.sources["origin"].str.endswith(path.name)]
        if match.empty:
            continue
        sid = match.iloc[0]["source_id"]
        fresh = Dataset(data_dir=ds.data_dir, units=ds.units, unit_aliases=ds.unit_aliases,
                        periods=ds.periods, sources=ds.sources.loc[ds.sources["source_id"] != sid],
                        scores=ds.scores.iloc[0:0], indicators=ds.indicators.iloc[0:0])
        result = import_document(path, dataset=fresh)
        curated = {t: ds.table(t).loc[ds.table(t)["source_id"] == sid] for t in ("scores", "indicators")}
        out.append((sid, compare(result.tables, curated), result))
    return out


def main(argv=None) -> int:
    verbose = "-v" in (argv or sys.argv[1:])
    rows = seed_comparisons()
    if not rows:
        print(f"no seed reports found under {SHARED_DIR / 'seeds'}")
        return 1
    found = total = 0
    for sid, c, _ in rows:
        found, total = found + len(c.found), total + len(c.curated)
        print(f"{sid:22s} recall {c.recall:6.1%} ({len(c.found)}/{len(c.curated)})  "
              f"precision {c.precision:6.1%} ({len(c.wrong)} extracted figures equal no curated one)")
        if verbose:
            for k in c.missed:
                print(f"    missed: {k}")
            for k in c.wrong:
                print(f"    wrong:  {k}")
    print(f"{'overall':22s} recall {found / total:6.1%} ({found}/{total})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
