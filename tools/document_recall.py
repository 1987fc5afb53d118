"""Print the recall and precision of the document importer on the five seed reports.

Each seed is read as a new document (its ``sources`` row removed, so the provenance is drafted
from the text) against the units of ``data/``, and the figures it yields are compared with the
curated ``data/`` tables (:mod:`analysis.importers.recall`): all figures, and those printed in
the running text only (curated sections that are not tables).

    .venv/bin/python tools/document_recall.py [-v]
"""
from __future__ import annotations

import sys

from analysis.config import SHARED_DIR
from analysis.importers.recall import seed_comparisons


def main(argv=None) -> int:
    verbose = "-v" in (sys.argv[1:] if argv is None else argv)
    rows = seed_comparisons()
    if not rows:
        print(f"no seed reports found under {SHARED_DIR / 'seeds'}")
        return 1
    totals = {"all": [0, 0], "text": [0, 0]}
    for sid, c, t, _ in rows:
        for name, comp in (("all", c), ("text", t)):
            totals[name][0] += len(comp.found)
            totals[name][1] += len(comp.curated)
        print(f"{sid:20s} recall {c.recall:6.1%} ({len(c.found)}/{len(c.curated)}), running text "
              f"{t.recall:6.1%} ({len(t.found)}/{len(t.curated)}); precision {c.precision:6.1%} "
              f"({len(c.wrong)} extracted figures equal no curated one)")
        if verbose:
            for k in c.missed:
                print(f"    missed: {k}")
            for k in c.wrong:
                print(f"    wrong:  {k}")
    for name, (found, total) in totals.items():
        label = "overall" if name == "all" else "overall, running text"
        print(f"{label:20s} recall {found / total:6.1%} ({found}/{total})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
