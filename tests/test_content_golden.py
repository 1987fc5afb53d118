"""Golden snapshots of the report content: every table a section returns, as CSV, for three
reports on the seed data. A change in what a reader is told shows here as a diff of tidy tables
(not of HTML). Regenerate with ``make golden`` (which runs this file as a script)."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

from analysis.config import DATA_DIR
from analysis.dataset import load_dataset
from analysis.report import ComparisonReport, ProvinceReport

GOLDEN = Path(__file__).parent / "golden" / "content"
CASES = {"bac-kan_2024-07": ("province", "bac-kan", "2024-07"),
         "an-giang_2024-05-w1": ("province", "an-giang", "2024-05-w1"),
         "compare_2024-07": ("compare", None, "2024-07")}
SKIP_SECTIONS = ("title", "provenance")  # package versions and paths differ between machines


def snapshot(case: str) -> dict[str, str]:
    """File name -> CSV text of every content table of one report (Vietnamese)."""
    ds = load_dataset(DATA_DIR)
    kind, province, period = CASES[case]
    report = ProvinceReport(ds, province, period) if kind == "province" else ComparisonReport(ds, period)
    out = {}
    for section in report.sections():
        if section.key in SKIP_SECTIONS:
            continue
        for name, table in section.tables.items():
            if name.endswith("_shown"):
                continue
            body = table.to_csv(index=False, lineterminator="\n", float_format="%.10g")
            out[f"{section.key}__{name.replace('/', '__').replace('#', '_')}.csv"] = body
    return out


@pytest.mark.parametrize("case", sorted(CASES))
def test_content_tables_match_the_snapshots(case):
    got = snapshot(case)
    folder = GOLDEN / case
    want = {p.name: p.read_text(encoding="utf-8") for p in sorted(folder.glob("*.csv"))}
    assert sorted(got) == sorted(want), "tables added or removed: run `make golden` and review the diff"
    for name in sorted(got):
        assert got[name] == want[name], f"{case}/{name} differs from its snapshot (run `make golden`, review the diff)"


if __name__ == "__main__":  # make golden
    for case in (sys.argv[1:] or sorted(CASES)):
        folder = GOLDEN / case
        folder.mkdir(parents=True, exist_ok=True)
        for old in folder.glob("*.csv"):
            old.unlink()
        for name, body in snapshot(case).items():
            (folder / name).write_text(body, encoding="utf-8")
        print(f"golden content {case}: {len(list(folder.glob('*.csv')))} tables")
