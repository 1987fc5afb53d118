"""Raw API responses of every period kind: the crawler's raw service-results files in
../shared/data/portal-extra (period and capture date from the file name), captures with a manifest
(year, quarter and month; running periods as snapshots to date), and the level filter of a capture.
Expected values are read here from the JSON with ``json.load``."""
from __future__ import annotations

import hashlib
import json
from datetime import date
from pathlib import Path

import pytest

import portal_replay as pr
from analysis.errors import DataError
from analysis.importers.capture import import_json
from analysis.importers.portal import import_portal, raw_name_period

needs_extra = pytest.mark.skipif(not pr.shared_available(), reason=pr.SKIP_REASON)
TDGQ_FILE = pr.QD766 / "dvc-progress-tree" / "month-all.json"


def load(path: Path) -> dict:
    return json.loads(path.read_bytes())


def by_group(result, unit: str) -> dict:
    s = result.tables["scores"]
    return s[s["unit_id"] == unit].set_index("group")["value"].to_dict()


@needs_extra
def test_national_year_from_the_file_name():
    r = import_portal(pr.NATIONAL_FILE)
    src = r.tables["sources"].iloc[0]
    assert src["period_id"] == "2026-ytd-09-27" and src["data_as_of"].date() == date(2026, 9, 27)
    assert src["area_unit_id"] == "viet-nam"
    recs = load(pr.NATIONAL_FILE)["data"]["evaluation"]
    units = r.tables["units"].set_index("code")
    assert len(recs) == 34
    for rec in recs:
        got = by_group(r, units.loc[rec["departmentCode"], "unit_id"])
        want = {("ONLINE" if k == "CLGQ" else k): v for k, v in rec["groupScores"].items()}
        assert got == {"TOTAL": rec["totalScore"], **want}
    assert any("CLGQ read as ONLINE" in n for n in r.notes)
    # the national overview and radar (means of the provinces) are the country unit's record
    data = load(pr.NATIONAL_FILE)["data"]
    radar = {x["code"]: x["score"] for x in data["radar"]}
    assert by_group(r, "viet-nam") == {"TOTAL": data["overview"]["totalScore"], "CKMB": radar["CKMB"],
                                       "TDGQ": radar["TDGQ"], "DVTT": radar["ONLINE_SERVICE"],
                                       "MDHL": radar["MDHL"], "MDSH": radar["MDSH"]}
    aliases = r.tables["unit_aliases"]
    assert "Cả nước" in set(aliases.loc[aliases["unit_id"] == "viet-nam", "alias"])


@needs_extra
@pytest.mark.parametrize("month", [2, 3])
def test_gia_lai_month_from_the_file_name(month):
    f = pr.GIA_LAI_FILES[month]
    data = load(f)["data"]
    r = import_portal(f)
    src = r.tables["sources"].iloc[0]
    assert src["period_id"] == f"2026-{month:02d}" and src["area_unit_id"] == "gia-lai"
    assert str(src["data_as_of"]) == "NaT"  # the capture date is not known
    assert any("capture date unknown" in n and "monthlyChart already has a value for 2026-09" in n
               for n in r.notes)
    prov = by_group(r, "gia-lai")
    radar = {x["code"]: x["score"] for x in data["radar"]}
    assert prov == {"TOTAL": data["overview"]["totalScore"], "CKMB": radar["CKMB"],
                    "TDGQ": radar["TDGQ"], "DVTT": radar["ONLINE_SERVICE"], "MDHL": radar["MDHL"],
                    "MDSH": radar["MDSH"]}
    units = r.tables["units"]
    assert (units["level"] == "commune").sum() == 135 and (units["level"] == "department").sum() == 14
    s = r.tables["scores"]
    below = s[s["unit_id"] != "gia-lai"]
    assert set(below["group"]) == {"TOTAL"}
    code_of = units.set_index("unit_id")["code"]
    assert dict(zip(below["unit_id"].map(code_of), below["value"])) == {
        e["departmentCode"]: e["totalScore"] for e in data["evaluation"]}
    # donuts: online dossiers of the month, with their denominator
    ind = r.tables["indicators"]
    online = ind[(ind["indicator"] == "online_submission_rate") & (ind["measure"] == "count")].iloc[0]
    items = {x["code"]: x["value"] for x in data["donuts"]["onlineDossier"]}
    assert online["value"] == items["ONLINE"] and online["denominator"] == sum(items.values())


@needs_extra
def test_a_file_name_without_capture_date_needs_proof_that_the_period_was_over(tmp_path):
    doc = load(pr.GIA_LAI_FILES[3])
    for item in doc["data"]["monthlyChart"]:
        if int(item["month"]) > 3:
            item["averageScore"] = None
    f = tmp_path / "service_results_month_2026_3.json"
    f.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    with pytest.raises(DataError, match="gives the period 2026-03 but no capture date"):
        import_portal(f)


def test_raw_name_period():
    assert raw_name_period("service_results_quarter_2026_3_01102026") == {
        "timeType": "quarter", "year": 2026, "number": 3, "run_date": date(2026, 10, 1)}
    assert raw_name_period("month-all") is None


def _capture(tmp_path: Path, payload: dict, captured: str, *, level=None) -> Path:
    """A capture folder holding the real Phú Thọ TDGQ response under a manifest entry."""
    body = TDGQ_FILE.read_bytes()
    folder = tmp_path / "cap"
    (folder / "dvc-progress-tree").mkdir(parents=True)
    f = folder / "dvc-progress-tree" / "x-H44.json"
    f.write_bytes(body)
    entry = {"file": "dvc-progress-tree/x-H44.json", "method": "POST",
             "url": "http://127.0.0.1/api/v1/reporting/evaluation/dvc-progress-tree",
             "payload": payload, "httpStatus": 201, "contentType": "application/json",
             "capturedAt": captured, "sha256": hashlib.sha256(body).hexdigest(), "bytes": len(body),
             "period": None, "scope": "H44"}
    if level:
        entry["level"] = level
    (folder / "manifest.json").write_text(json.dumps({"captures": [entry]}), encoding="utf-8")
    return f


@needs_extra
@pytest.mark.parametrize("payload, captured, period, kind", [
    ({"timeType": "year", "year": 2026}, "2026-09-26T11:20:53Z", "2026-ytd-09-26", "ytd"),
    ({"timeType": "year", "year": 2026}, "2027-01-05T01:00:00Z", "2026", "year"),
    ({"timeType": "quarter", "year": 2026, "quarter": 3}, "2026-09-26T11:20:58Z", "2026-qtd-09-26", "qtd"),
    ({"timeType": "quarter", "year": 2026, "quarter": 3}, "2026-10-01T02:00:00Z", "2026-Q3", "quarter"),
    ({"timeType": "month", "year": 2026, "month": 9}, "2026-09-26T18:14:41Z", "2026-mtd-09-27", "mtd"),
    ({"fromDate": "2026-07-01", "toDate": "2026-09-30"}, "2026-09-26T11:00:00Z", "2026-qtd-09-26", "qtd"),
    ({"fromDate": "2026-08-01", "toDate": "2026-08-31"}, "2026-09-26T11:00:00Z", "2026-08", "month"),
])
def test_every_period_kind_through_a_manifest(tmp_path, payload, captured, period, kind):
    f = _capture(tmp_path, {**payload, "rootDepartmentId": pr.PHU_THO_ROOT}, captured)
    r = import_json(f)
    p = r.tables["periods"].iloc[0]
    assert p["period_id"] == period and p["kind"] == kind
    assert (str(p["cutoff_date"]) == "NaT") == (kind not in ("ytd", "qtd", "mtd"))


@needs_extra
@pytest.mark.parametrize("level, levels", [
    ("province", {"province"}), ("communes", {"province", "commune"}),
    ("departments", {"province", "department"}), (None, {"province", "commune", "department"})])
def test_level_of_the_capture_is_kept_on_import(tmp_path, level, levels):
    f = _capture(tmp_path, {"timeType": "month", "year": 2026, "month": 8,
                            "rootDepartmentId": pr.PHU_THO_ROOT}, "2026-09-26T18:14:41Z", level=level)
    r = import_json(f)
    units = r.tables["units"].set_index("unit_id")["level"]
    assert set(units) == levels
    assert set(r.tables["scores"]["unit_id"]) <= set(units.index)


@needs_extra
def test_a_formality_capture_is_not_imported(tmp_path):
    f = _capture(tmp_path, {"timeType": "month", "year": 2026, "month": 8, "formalityId": "x",
                            "rootDepartmentId": pr.PHU_THO_ROOT}, "2026-09-26T18:14:41Z")
    r = import_json(f)
    assert r.skipped and "one procedure" in r.skipped
