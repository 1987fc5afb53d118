"""``python -m analysis import``: each file all or nothing, idempotent, fresh directories
initialised; a bad file is reported and leaves the data directory as if it had not been named."""
from __future__ import annotations

import argparse
import json
import os
import shutil
from pathlib import Path

import pytest

from analysis.config import DATA_DIR, TABLES
from analysis.dataset import load_dataset
from analysis.errors import DataError
from analysis.importers.command import add_parser, collect_files, run_import

PORTAL = Path(__file__).parent / "fixtures" / "portal"
DOCS = Path(__file__).parent / "fixtures" / "documents"
MINIMAL = Path(__file__).parent / "fixtures" / "minimal"


def snapshot(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())} if folder.exists() else {}


@pytest.fixture
def populated(tmp_path) -> Path:
    """A data directory holding one imported portal fixture."""
    target = tmp_path / "data"
    run_import([PORTAL / "new_api_communes.json"], target)
    return target


def test_add_parser_wires_the_import_subcommand(capsys, tmp_path):
    parser = argparse.ArgumentParser(prog="python -m analysis")
    sub = parser.add_subparsers(dest="command", required=True)
    add_parser(sub)
    args = parser.parse_args(["import", str(PORTAL / "new_api_communes.json")])
    assert args.data == DATA_DIR and args.dry_run is False
    args = parser.parse_args(["import", str(PORTAL / "new_api_communes.json"), str(PORTAL / "raw"),
                              "--data", str(tmp_path / "d"), "--dry-run"])
    assert len(args.paths) == 2
    assert args.func(args) == 0
    out = capsys.readouterr().out
    assert "dry run" in out and "new_api_communes.json" in out
    assert not (tmp_path / "d").exists()


def test_fresh_directory_is_initialised_with_empty_tables(tmp_path):
    target = tmp_path / "scratch"
    report = run_import([PORTAL / "documentation_metrics.json"], target)
    assert report.written and sum(report.added.values()) == 0
    ds = load_dataset(target)
    assert all(len(ds.table(t)) == 0 for t in TABLES)


def test_import_then_reimport_changes_nothing(populated):
    ds = load_dataset(populated)
    assert len(ds.units) == 4 and len(ds.sources) == 1
    before = snapshot(populated)
    report = run_import([PORTAL / "new_api_communes.json"], populated)
    assert not report.written and "already imported" in report.results[0].skipped
    assert snapshot(populated) == before


def test_the_same_file_twice_in_one_run_is_read_once(tmp_path):
    copy = tmp_path / "copy.json"
    shutil.copy(PORTAL / "new_api_communes.json", copy)
    report = run_import([PORTAL / "new_api_communes.json", copy], tmp_path / "d")
    assert report.added["sources"] == 1 and "already imported" in report.results[1].skipped


def failures(report) -> dict[str, str]:
    return {Path(p).name: why for p, why in report.failed}


def test_directory_import_and_merge(populated):
    report = run_import([PORTAL], populated)  # the directory holds the swapped fixture: it fails alone
    assert list(failures(report)) == ["swapped_online_payment.json"]
    assert "swap" in failures(report)["swapped_online_payment.json"]
    ds = load_dataset(populated)
    assert report.written and len(ds.sources) == 5
    assert set(ds.units["code"].dropna()) == {"H99", "H98", "H99.05", "H99.101", "H99.102", "H99.103", "H99.104"}
    # a file covering several provinces has the whole country as its area
    assert ds.units.set_index("unit_id").at["viet-nam", "level"] == "country"
    skipped = {r.path.name: r.skipped for r in report.results if r.skipped}
    assert set(skipped) == {"new_api_communes.json", "documentation_metrics.json", "manifest.m0.json"}


def test_dry_run_validates_but_writes_nothing(populated):
    before = snapshot(populated)
    report = run_import([PORTAL / "new_api_agencies.json"], populated, dry_run=True)
    assert report.added["units"] == 1 and not report.written
    assert snapshot(populated) == before


def _malformed(tmp: Path) -> Path:
    f = tmp / "malformed.json"
    f.write_text('{"metadata": {"year": 2024,}}', encoding="utf-8")
    return f


def _schema(tmp: Path) -> Path:
    doc = json.loads((PORTAL / "new_api_agencies.json").read_text(encoding="utf-8"))
    doc["agencies"][0]["groupScores"]["TDGQ"] = "18,0"
    f = tmp / "schema.json"
    f.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    return f


def _duplicate(tmp: Path) -> Path:
    doc = json.loads((PORTAL / "new_api_agencies.json").read_text(encoding="utf-8"))
    doc["agencies"].append(dict(doc["agencies"][0]))
    doc["count"] = 2
    f = tmp / "duplicate.json"
    f.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    return f


def _text(tmp: Path) -> Path:
    f = tmp / "notes.csv"
    f.write_text("unit,score\nxã A,80\n", encoding="utf-8")
    return f


@pytest.mark.parametrize("make, words", [
    (_malformed, "malformed JSON at line 1, column 28"),
    (_schema, r"agencies\[0\]\.groupScores\.TDGQ: expected a number"),
    (_duplicate, r"duplicate unit: code H99.05"),
    (_text, "cannot import a '.csv' file"),
    (lambda tmp: PORTAL / "swapped_online_payment.json", "exceeds 10"),
])
def test_a_bad_file_fails_alone(populated, tmp_path, make, words):
    import re

    bad = make(tmp_path)
    alone = tmp_path / "alone"
    shutil.copytree(populated, alone)
    run_import([PORTAL / "old_api_provinces.json"], alone)
    # a good file first: it lands exactly as if imported alone; the bad one is named with its reason
    report = run_import([PORTAL / "old_api_provinces.json", bad], populated)
    assert list(failures(report)) == [bad.name] and re.search(words, failures(report)[bad.name])
    assert snapshot(populated) == snapshot(alone)


def test_invalid_merge_is_refused_before_writing(tmp_path):
    """A 2024 commune 'xã An Hoà' (district level, no code) and the portal's 'xã An Hòa' (H99.101,
    under the province) are two units whose names collide inside the province: the merged
    aliases are ambiguous, the loader refuses them, and nothing is written."""
    target = tmp_path / "data"
    shutil.copytree(MINIMAL, target)
    before = snapshot(target)
    report = run_import([PORTAL / "new_api_communes.json"], target)
    assert "would make the data directory invalid" in failures(report)["new_api_communes.json"]
    assert "also matches" in failures(report)["new_api_communes.json"]
    assert snapshot(target) == before


def test_failure_while_renaming_files_is_rolled_back(populated, monkeypatch):
    import analysis.dataset as dataset

    real, calls = os.replace, []

    def flaky(src, dst):
        calls.append(dst)
        if str(dst).startswith(str(populated)) and len([c for c in calls if str(c).startswith(str(populated))]) == 1:
            raise OSError("disk full")  # the commit (staging folder -> journal) fails
        return real(src, dst)

    before = snapshot(populated)
    monkeypatch.setattr(dataset.os, "replace", flaky)
    with pytest.raises(OSError, match="disk full"):
        run_import([PORTAL / "new_api_agencies.json"], populated)
    monkeypatch.undo()
    assert snapshot(populated) == before


def test_documents_need_provenance_in_directories(tmp_path):
    docs = tmp_path / "docs"
    docs.mkdir()
    shutil.copy(DOCS / "thu-2024-07.md", docs / "with-sidecar.md")
    shutil.copy(DOCS / "thu-2024-07.md.source.json", docs / "with-sidecar.md.source.json")
    (docs / "without.md").write_text("| Đơn vị | Tổng điểm |\n|---|---|\n| xã A | 80 |\n", encoding="utf-8")
    target = tmp_path / "data"
    shutil.copytree(MINIMAL, target)
    report = run_import([docs], target)
    skipped = {r.path.name: r.skipped for r in report.results if r.skipped}
    assert "cannot tell which unit this document reports on" in skipped["without.md"]
    assert "with-sidecar.md.source.json" in skipped
    read = next(r for r in report.results if r.path.name == "with-sidecar.md")
    assert len(read.uninterpreted) == 5
    ds = load_dataset(target)
    assert "thu-2024-07-md" in set(ds.sources["source_id"])
    assert (ds.scores["source_id"] == "thu-2024-07-md").sum() == 5  # 4 table rows + the headline
    report = run_import([docs / "without.md"], target)  # named explicitly: an error
    assert "cannot tell which unit" in failures(report)["without.md"]


def test_missing_path_is_an_error(tmp_path):
    report = run_import([tmp_path / "absent.json"], tmp_path / "d")
    assert failures(report) == {"absent.json": "no such file or directory"}
    assert not (tmp_path / "d").exists()


def test_incomplete_directory_is_an_error(tmp_path):
    target = tmp_path / "d"
    target.mkdir()
    (target / "units.csv").write_text("unit_id\n", encoding="utf-8")
    with pytest.raises(DataError, match="incomplete"):
        run_import([PORTAL / "new_api_communes.json"], target)
