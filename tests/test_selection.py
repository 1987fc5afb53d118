"""The source preference rule (analysis.selection): the value a report uses when several sources
give the same figure. ``preferred`` works on arrays for speed; here it is checked, row for row
and column for column, against the rule written plainly with pandas (rank_rows, then the first
row of each key), on every table and field of the project's data and on synthetic data."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analysis.config import DATA_DIR
from analysis.dataset import load_dataset
from analysis.selection import INDICATOR_KEY, SCORE_KEY, _conflicting, preferred, rank_rows


def reference(ds, table, rows, column="value", key=None):
    """The rule, step by step with pandas (the implementation before the array version)."""
    key = list(key or (SCORE_KEY if table == "scores" else INDICATOR_KEY))
    df = rows.loc[rows[column].notna()]
    if df.empty:
        return preferred(ds, table, df, column=column, key=key)  # the same empty frame
    ranked = rank_rows(df, ds.sources)
    filled = ranked[key].astype(object).where(ranked[key].notna(), "")
    codes = pd.MultiIndex.from_frame(filled).factorize()[0] if len(key) > 1 else pd.factorize(filled[key[0]])[0]
    ranked = ranked.assign(_k=codes)
    first = ranked.drop_duplicates("_k", keep="first")
    n = ranked.groupby("_k").size()
    conflict = _conflicting(ranked, column)
    alt = (ranked.loc[~ranked.index.isin(first.index)]
           .assign(_t=lambda d: d["source_id"].astype(str) + " – " + d["section"].astype(str) + ": "
                   + d[column].astype(str))
           .groupby("_k")["_t"].agg("; ".join))
    out = first.assign(n_sources=first["_k"].map(n).to_numpy(),
                       conflict=first["_k"].map(conflict).fillna(False).astype(bool).to_numpy(),
                       alternatives=first["_k"].map(alt).to_numpy())
    return out.drop(columns="_k").sort_index()


def cases(ds):
    s, i = ds.scores, ds.indicators
    yield "scores", s, "value", None
    yield "scores", s.loc[s["group"] == "TOTAL"], "rank", None
    yield "scores", s.loc[s["group"] == "TOTAL"], "change", None
    yield "scores", s.loc[s["group"] == "TOTAL"], "band", None
    yield "indicators", i, "value", None
    for period in sorted(set(s["period_id"]))[:6]:
        yield "scores", s.loc[(s["period_id"] == period) & (s["group"] != "TOTAL")], "value", None
        yield "scores", s.loc[(s["period_id"] == period) & (s["group"] == "TOTAL")], "value", ["unit_id"]
        yield "indicators", i.loc[i["period_id"] == period], "value", ["unit_id", "indicator"]


@pytest.fixture(scope="module")
def datasets():
    from analysis.synthetic import national

    return [load_dataset(DATA_DIR), national(seed=3, months=2)]  # real rows, then SYNTHETIC ones


def test_preferred_follows_the_rule_exactly(datasets):
    checked = 0
    for ds in datasets:
        for table, rows, column, key in cases(ds):
            got = preferred(ds, table, rows, column=column, key=key)
            want = reference(ds, table, rows, column=column, key=key)
            pd.testing.assert_frame_equal(got, want)
            checked += len(want)
    assert checked > 1000


def test_alternatives_and_conflicts_are_named():
    """Two sources print one figure with values that differ beyond printed precision: the first
    by the rule is chosen, the other is listed, and the conflict is flagged."""
    ds = load_dataset(DATA_DIR)
    s = ds.scores
    row = s.loc[s["group"] == "TOTAL"].iloc[[0]]
    other_source = ds.sources["source_id"].loc[ds.sources["source_id"] != row["source_id"].iloc[0]].iloc[0]
    twin = row.assign(source_id=other_source, value=row["value"] + 1.0)
    rows = pd.concat([row, twin]).reset_index(drop=True)
    got = preferred(ds, "scores", rows)
    want = reference(ds, "scores", rows)
    pd.testing.assert_frame_equal(got, want)
    assert len(got) == 1 and bool(got["conflict"].iloc[0]) and int(got["n_sources"].iloc[0]) == 2
    assert isinstance(got["alternatives"].iloc[0], str) and not np.isnan(got["value"].iloc[0])


def test_row_priority_is_the_first_matching_line_for_every_row(datasets):
    """Priorities are worked out once per (source, section) pair; each row still gets the first
    line of the preference table that matches its own source's kind and layout and its own
    section (a missing section included), and its own source's extraction date. The sources'
    kinds, layouts and the rows' sections are varied so that every line of the table is hit."""
    from analysis.selection import _match, row_priority, source_layout, source_preference

    rng = np.random.default_rng(7)
    kinds = ["report", "document", "portal", "portal", "portal", "synthetic", "other"]
    layouts = ["provinces", "unit-list", "detail", "raw", "catalog-communes", "catalog-provinces", ""]
    sections = ["provinces[]", "communes[]", "agencies[]", "overview", "II.1", None]
    lines = list(source_preference().itertuples())
    for ds in datasets:
        combos = [(k, lay) for k in kinds for lay in layouts]
        dates = list(ds.sources["data_as_of"]) * len(combos)
        src = pd.DataFrame({"source_id": [f"{ds.sources['source_id'].iloc[0]}-{i}" for i in range(len(combos))],
                            "kind": [k for k, _ in combos],
                            "note": [f"layout {lay}; x" if lay else None for _, lay in combos],
                            "data_as_of": [d if i % 3 else None for i, d in enumerate(dates[:len(combos)])]})
        rows = pd.DataFrame({"source_id": rng.choice(src["source_id"].to_numpy(), 800),
                             "section": rng.choice(np.array(sections, dtype=object), 800)},
                            index=rng.permutation(800))
        got = row_priority(rows, src)
        assert got.index.equals(rows.index)
        kind, layout = dict(zip(src["source_id"], src["kind"])), source_layout(src).astype(str).to_dict()
        as_of = dict(zip(src["source_id"], pd.to_datetime(src["data_as_of"])))
        seen = set()
        for (sid, section), (priority, reason, date) in zip(rows.itertuples(index=False), got.itertuples(index=False)):
            want = next(((r.priority, r.reason) for r in lines
                         if _match(r.kind, kind[sid]) and _match(r.layout, layout[sid])
                         and _match(r.section, str(section))),
                        (99, "no line of the source preference table matches"))
            assert (priority, reason) == want, (sid, section)
            assert (pd.isna(date) and pd.isna(as_of[sid])) or date == as_of[sid], sid
            seen.add(priority)
        assert len(seen) >= 8, seen
