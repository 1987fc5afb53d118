"""Loading and validation of data directories: good data loads, every kind of bad input is
rejected with an error naming the file, row and column, and writes are atomic."""
from __future__ import annotations

import os
import shutil
from pathlib import Path

import pandas as pd
import pytest

from analysis.dataset import load_dataset, read_table, write_table, write_tables
from analysis.errors import DataError, UnknownUnitError
from analysis.units import UnitIndex

FIXTURE = Path(__file__).parent / "fixtures" / "minimal"


@pytest.fixture
def data_dir(tmp_path) -> Path:
    target = tmp_path / "data"
    shutil.copytree(FIXTURE, target)
    return target


def replace_in(path: Path, old: str, new: str, count: int = 1) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, f"fixture text {old!r} not found in {path.name}"
    path.write_text(text.replace(old, new, count), encoding="utf-8")


def test_fixture_loads(data_dir):
    ds = load_dataset(data_dir)
    assert len(ds.units) == 4
    assert ds.indicators.loc[ds.indicators.indicator == "overdue_dossiers", "value"].item() == 1001
    assert set(ds.file_hashes) == {f"{t}.csv" for t in ds.tables()}


# Each case: (file, corruption, expected row, expected column, words the message must contain)
BAD_INPUTS = {
    "bom": ("scores.csv", lambda p: p.write_bytes(b"\xef\xbb\xbf" + p.read_bytes()), 1, None, "byte-order mark"),
    "wrong_encoding": ("units.csv", lambda p: p.write_bytes(p.read_text(encoding="utf-8").replace(
        "tỉnh Mẫu", "tinh Mau").encode("utf-8").replace(b"An Ho", b"An Ho\xe0", 1)), 4, None, "not valid UTF-8"),
    "utf16": ("periods.csv", lambda p: p.write_bytes(p.read_text(encoding="utf-8").encode("utf-16")), 1, None, "UTF-16"),
    "missing_column": ("scores.csv", lambda p: replace_in(p, ",max_stated,", ",max,"), 1, "max_stated", "missing column"),
    "semicolon_separated": ("periods.csv", lambda p: p.write_text(
        p.read_text(encoding="utf-8").replace(",", ";"), encoding="utf-8"), 1, "period_id", "use commas"),
    "ragged_row": ("indicators.csv", lambda p: replace_in(p, "87.1,,1,false,", "87.1,,1,false,,extra"), 2, None, "fields"),
    "duplicate_key": ("scores.csv", lambda p: p.write_text(
        p.read_text(encoding="utf-8") + p.read_text(encoding="utf-8").splitlines()[2] + "\n", encoding="utf-8"),
        7, None, "duplicate key"),
    "percent_above_100": ("indicators.csv", lambda p: replace_in(p, "87.1,", "187.1,"), 2, None, "percentage must be within 0–100"),
    "negative_count": ("indicators.csv", lambda p: replace_in(p, ",1001,", ",-5,"), 4, "value", "cannot be negative"),
    "score_above_max_in_clean_file": ("scores.csv", lambda p: replace_in(p, "TDGQ,17.3,", "TDGQ,21.3,"), 5, None,
                                      "claims to be clean"),
    "unknown_unit_id": ("scores.csv", lambda p: replace_in(p, "tinh-mau/huyen-thu/xa-an-hoa,2024-07,TOTAL",
                                                           "tinh-mau/huyen-thu/xa-an-binh,2024-07,TOTAL"),
                        3, "unit_id", "must be a unit_id of units.csv"),
    "malformed_period": ("periods.csv", lambda p: replace_in(p, "2024-07,month", "2024-13,month"), 3, "period_id",
                         "month outside 01–12"),
    "period_disagrees_with_dates": ("periods.csv", lambda p: replace_in(p, "2024-06-30", "2024-06-29"), 2, "end_date",
                                    "disagrees with period id"),
    "ambiguous_thousands_dot": ("indicators.csv", lambda p: replace_in(p, "87.1,", "1.001,"), 2, "value", "ambiguous"),
    "not_a_number": ("scores.csv", lambda p: replace_in(p, "89.49", "89.49đ"), 3, "value", "not a number"),
    "fractional_count": ("indicators.csv", lambda p: replace_in(p, ",1001,", ",2.5,"), 4, "value", "whole number"),
    "unknown_group": ("scores.csv", lambda p: replace_in(p, ",MDHL,", ",HL,"), 2, "group", "unknown group code"),
    "unknown_band": ("scores.csv", lambda p: replace_in(p, ",Tốt,,", ",Giỏi,,"), 3, "band", "canonical band"),
    "unknown_indicator": ("indicators.csv", lambda p: replace_in(p, "overdue_dossiers", "overdue"), 4, "indicator",
                          "unknown indicator code"),
    "measure_not_allowed": ("indicators.csv", lambda p: replace_in(p, "overdue_dossiers,count", "overdue_dossiers,percent"),
                            4, None, "measure not allowed"),
    "rank_above_rank_of": ("scores.csv", lambda p: replace_in(p, ",1,2,commune", ",3,2,commune"), 3, None,
                           "rank must not exceed rank_of"),
    "empty_required_cell": ("units.csv", lambda p: replace_in(p, ",xã Liêm Thủy,", ",,"), 5, "name", "required"),
    "not_nfc": ("units.csv", lambda p: replace_in(p, "xã Liêm Thủy", "xã Lie\u0302m Thủy"), 5, "name", "NFC"),
    "bad_boolean": ("sources.csv", lambda p: replace_in(p, ",true,", ",yes,"), 2, "as_published", "not a boolean"),
    "bad_date": ("sources.csv", lambda p: replace_in(p, "2024-08-05", "05/08/2024"), 2, "issued_date", "YYYY-MM-DD"),
    "unknown_source": ("indicators.csv", lambda p: replace_in(p, "fixture-2024-07,I.2", "nari-2024-07,I.2"), 4,
                       "source_id", "source_id of sources.csv"),
    "empty_file": ("unit_aliases.csv", lambda p: p.write_text("", encoding="utf-8"), 1, None, "empty"),
    "missing_file": ("periods.csv", lambda p: p.unlink(), None, None, "missing file"),
    "bad_unit_code": ("units.csv", lambda p: replace_in(p, "000.02.01.H99", "H99-02"), 5, "code", "official code"),
    "orphan_parent": ("units.csv", lambda p: replace_in(p, "commune,tinh-mau/huyen-thu,", "commune,tinh-mau/huyen-x,"),
                      4, None, "parent_id"),
}


@pytest.mark.parametrize("case", sorted(BAD_INPUTS))
def test_bad_input_is_rejected_with_location(data_dir, case):
    file, corrupt, row, column, words = BAD_INPUTS[case]
    corrupt(data_dir / file)
    with pytest.raises(DataError) as info:
        load_dataset(data_dir)
    err = info.value
    message = str(err)
    assert file in message, message
    assert words in message, message
    if row is not None:
        assert err.row == row, message
        assert f"row {row}" in message
    if column is not None:
        assert f"'{column}'" in message, message


def test_at_least_fifteen_kinds_of_bad_input():
    assert len(BAD_INPUTS) >= 15


def test_all_problems_are_listed(data_dir):
    replace_in(data_dir / "indicators.csv", "87.1,", "187.1,")
    replace_in(data_dir / "indicators.csv", "84.1,", "184.1,")
    with pytest.raises(DataError) as info:
        load_dataset(data_dir)
    rows = {p[0] for p in info.value.problems}
    assert {2, 3} <= rows


def test_unknown_unit_name_lists_close_matches(data_dir):
    index = UnitIndex.from_dataset(load_dataset(data_dir))
    with pytest.raises(UnknownUnitError) as info:
        index.resolve_names(["UBND xã An Hoà", "UBND xã Liêm Thuỵ", "UBND xã Kim Hỷ"],
                            province="tinh-mau", file="table.txt", column="Tên cơ quan/đơn vị")
    message = str(info.value)
    assert "table.txt" in message and "Tên cơ quan/đơn vị" in message
    assert "'UBND xã Kim Hỷ'" in message
    assert "An Hoà" not in message.split("unknown")[1].split("Kim")[0]


def test_spelling_variants_resolve_to_one_unit(data_dir):
    index = UnitIndex.from_dataset(load_dataset(data_dir))
    ids = index.resolve_names(["UBND xã Liên Thủy", "xã Liêm Thủy", "UBND xã Liêm Thuỷ - tỉnh Mẫu",
                               "UBND Xã An Hòa - Tỉnh Mẫu", "An Hoà"], province="tinh-mau")
    assert ids == ["tinh-mau/huyen-thu/xa-liem-thuy"] * 3 + ["tinh-mau/huyen-thu/xa-an-hoa"] * 2


def test_ambiguous_alias_is_rejected(data_dir):
    with open(data_dir / "unit_aliases.csv", "a", encoding="utf-8") as fh:
        fh.write("xã An Hòa,tinh-mau/huyen-thu/xa-liem-thuy,fixture-2024-07,typo,\n")
    with pytest.raises(UnknownUnitError, match="also matches"):
        load_dataset(data_dir)


def test_round_trip_is_byte_identical(data_dir, tmp_path):
    for table in ("scores", "indicators", "units"):
        df = read_table(data_dir / f"{table}.csv", table)
        out = tmp_path / f"{table}.csv"
        write_table(df, out, table)
        again = read_table(out, table)
        pd.testing.assert_frame_equal(df.reset_index(drop=True), again.reset_index(drop=True))
        write_table(again, tmp_path / "second.csv", table)
        assert (tmp_path / "second.csv").read_bytes() == out.read_bytes()


@pytest.mark.parametrize("failing_call", [1, 2, 3])
def test_write_tables_is_all_or_nothing(data_dir, monkeypatch, failing_call):
    """A failed rename before the commit leaves the old tables; one after it (while applying the
    journal) is finished by the next reader: never a mix, never a leftover."""
    from analysis.dataset import recover

    before = {p.name: p.read_bytes() for p in data_dir.iterdir()}
    ds = load_dataset(data_dir)
    calls = {"n": 0}
    real_replace = os.replace

    def failing_replace(src, dst):
        calls["n"] += 1
        if calls["n"] == failing_call:
            raise OSError(5, "Input/output error (simulated)")
        return real_replace(src, dst)

    monkeypatch.setattr(os, "replace", failing_replace)
    changed = {"scores": ds.scores.iloc[:1], "indicators": ds.indicators.iloc[:1]}
    with pytest.raises(OSError, match="simulated"):
        write_tables(changed, data_dir)
    monkeypatch.setattr(os, "replace", real_replace)
    recover(data_dir)
    after = {p.name: p.read_bytes() for p in data_dir.iterdir()}
    assert sorted(after) == sorted(before)
    if failing_call == 1:  # the commit itself failed: nothing happened
        assert after == before
    else:  # committed: the next command rolled it forward, both tables are new
        for table in ("scores", "indicators"):
            assert len((data_dir / f"{table}.csv").read_text(encoding="utf-8").splitlines()) == 2


def test_cache_never_hides_a_changed_file(data_dir, tmp_path, monkeypatch):
    monkeypatch.setattr("analysis.config.CACHE_DIR", tmp_path / "cache")
    first = load_dataset(data_dir)
    assert any((tmp_path / "cache").iterdir())  # the validated tables were cached
    again = load_dataset(data_dir)
    pd.testing.assert_frame_equal(first.scores, again.scores)
    replace_in(data_dir / "indicators.csv", "87.1,", "187.1,")
    with pytest.raises(DataError, match="percentage must be within 0–100"):
        load_dataset(data_dir)


def test_province_load_keeps_whole_sources(data_dir, tmp_path, monkeypatch):
    monkeypatch.setattr("analysis.config.CACHE_DIR", tmp_path / "cache")
    full = load_dataset(data_dir)
    for _ in range(2):  # fresh, then from the cache
        part = load_dataset(data_dir, province="tinh-mau")
        assert len(part.scores) == len(full.scores) and len(part.units) == len(full.units)
    assert load_dataset(data_dir, province="tinh-khac").scores.empty
