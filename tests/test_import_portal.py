"""Portal JSON importer: hand-made fixtures in the portal format (old and new API field names,
raw responses with their manifest, bad files), and every real file under shared/data/portal
checked against the raw JSON read here with ``json.load``, independently of the importer."""
from __future__ import annotations

import json
import shutil
from datetime import date
from pathlib import Path

import pandas as pd
import pytest

from analysis.config import SHARED_DIR
from analysis.dataset import Dataset, LOAD_ORDER, empty_table, load_dataset
from analysis.errors import DataError
from analysis.importers.command import run_import
from analysis.importers.portal import (OLD_API_FIELDS, detect_layout, import_portal, load_json,
                                       normalise_field_names, parse_portal, portal_period)

FIXTURES = Path(__file__).parent / "fixtures" / "portal"
PORTAL = SHARED_DIR / "data" / "portal"
CRAWLER = PORTAL / "crawler-766" / "data"
QD766 = PORTAL / "qd766" / "tests" / "fixtures"
SIX = ("CKMB", "TDGQ", "ONLINE", "TTTT", "MDHL", "MDSH")

needs_portal = pytest.mark.skipif(not PORTAL.is_dir(), reason=f"portal samples not found at {PORTAL} "
                                  "(../shared is beside the clone; set ANALYSIS_SHARED_DIR)")


def empty_dataset() -> Dataset:
    return Dataset(data_dir=Path("."), **{t: empty_table(t) for t in LOAD_ORDER})


def scores_of(result, *, group=None, unit=None) -> pd.DataFrame:
    s = result.tables["scores"]
    if group is not None:
        s = s[s["group"] == group]
    if unit is not None:
        s = s[s["unit_id"] == unit]
    return s


# --- pure helpers ----------------------------------------------------------------------------

@pytest.mark.parametrize("args, expected", [
    (("year", 2026, {"as_of": date(2026, 9, 24)}), ("2026-ytd-09-24", date(2026, 9, 24))),
    (("year", 2026, {"as_of": date(2027, 1, 2)}), ("2026", None)),
    (("month", 2026, {"as_of": date(2026, 9, 26), "month": 8}), ("2026-08", None)),
    (("month", 2026, {"as_of": date(2026, 9, 10), "month": 9}), ("2026-mtd-09-10", date(2026, 9, 10))),
    (("quarter", 2026, {"as_of": date(2026, 9, 26), "quarter": 3}), ("2026-qtd-09-26", date(2026, 9, 26))),
    (("quarter", 2026, {"as_of": date(2026, 10, 1), "quarter": 3}), ("2026-Q3", None)),
])
def test_portal_period(args, expected):
    time_type, year, kw = args
    assert portal_period(time_type, year, **kw) == expected


@pytest.mark.parametrize("args, words", [
    (("month", 2026, {"as_of": date(2026, 7, 1), "month": 8}), "before the period"),
    (("week", 2026, {"as_of": date(2026, 7, 1)}), "unknown timeType"),
])
def test_portal_period_rejects(args, words):
    time_type, year, kw = args
    with pytest.raises(ValueError, match=words):
        portal_period(time_type, year, **kw)


def test_old_api_field_table_maps_to_fields_the_importer_reads():
    new_fields = {"metadata", "overview", "provinces", "communes", "agencies", "agenciesDetail", "count",
                  "province", "provinceCode", "provinceName", "timeType", "year", "month", "quarter",
                  "period", "periodLabel", "runDateStr", "extractedAt", "departmentId", "departmentName",
                  "departmentCode", "shortName", "childGroup", "totalScore", "totalMaxScore", "ratio",
                  "scoreDelta", "groupScores", "rank", "groupRank"}
    assert set(OLD_API_FIELDS.values()) <= new_fields
    assert normalise_field_names({"thongTin": {"loaiThoiGian": "NAM"}}) == {"metadata": {"timeType": "year"}}


def test_old_and_new_name_for_one_field_is_an_error():
    with pytest.raises(DataError, match=r"communes\[0\]\.totalScore: fields 'tongDiem' and 'totalScore' both give"):
        normalise_field_names({"communes": [{"tongDiem": 1, "totalScore": 1}]})


# --- hand-made fixtures ----------------------------------------------------------------------

def test_old_api_unit_list_gives_the_same_rows_as_the_new_api():
    """The old-API fixture holds the same figures as the two new-API fixtures."""
    old = import_portal(FIXTURES / "old_api_unit_list.json", existing=empty_dataset())
    new_c = import_portal(FIXTURES / "new_api_communes.json", existing=empty_dataset())
    new_a = import_portal(FIXTURES / "new_api_agencies.json", existing=empty_dataset())
    key = ["unit_id", "period_id", "group", "value", "rank", "rank_of", "rank_block"]

    def rows(*results):
        frames = [r.tables["scores"][r.tables["scores"]["section"] != "overview"] for r in results]
        return sorted(map(tuple, pd.concat(frames)[key].astype(str).values.tolist()))
    assert rows(old) == rows(new_c, new_a)
    assert len(old.tables["units"]) == 5  # province, 3 communes, 1 agency
    assert any("old API field names read" in n and "tenDonVi" in n for n in old.notes)
    # values by hand from the fixture: xã An Hòa, MDHL 18.28 (above 18, kept as published)
    an_hoa = scores_of(old, unit="mau/xa-an-hoa").set_index("group")
    assert an_hoa.loc["MDHL", "value"] == 18.28 and an_hoa.loc["ONLINE", "value"] == 9.0
    assert an_hoa.loc["TOTAL", ["rank", "rank_of", "rank_block"]].tolist() == [1, 3, "commune"]
    assert "portal rank 1" in an_hoa.loc["TOTAL", "note"]
    assert old.tables["sources"].loc[0, "as_published"]
    assert old.tables["periods"]["period_id"].tolist() == ["2024-07"]


def test_old_api_provinces_fixture():
    r = import_portal(FIXTURES / "old_api_provinces.json", existing=empty_dataset())
    units = r.tables["units"].set_index("unit_id")
    assert units.loc["mau", ["code", "name", "level"]].tolist() == ["H99", "tỉnh Mẫu", "province"]
    assert units.loc["thu", ["code", "name", "unit_type"]].tolist() == ["H98", "thành phố Thử", "thành phố"]
    thu = scores_of(r, unit="thu").set_index("group")
    assert thu.loc["TOTAL", ["value", "max_stated", "rank", "rank_of", "change"]].tolist() == [58.4, 100, 2, 2, -1.25]
    assert thu.loc["ONLINE", "value"] == 6.0  # CLGQ in the file
    assert r.tables["periods"]["period_id"].tolist() == ["2026-ytd-09-24"]
    assert any("1 of 2 provinces: totalScore differs" in n for n in r.notes)
    # the national overview is now the country unit's record (issue 11)
    assert (r.tables["scores"]["unit_id"] == "viet-nam").any()
    assert {"Mẫu", "UBND tỉnh Mẫu", "UBND Thành phố Thử"} <= set(r.tables["unit_aliases"]["alias"])


def test_nfd_name_is_stored_in_nfc_and_its_spelling_noted():
    r = import_portal(FIXTURES / "new_api_communes.json", existing=empty_dataset())
    unit = r.tables["units"].set_index("code").loc["H99.102"]
    assert unit["name"] == "phường Long Phú" and unit["unit_id"] == "mau/phuong-long-phu"
    alias = r.tables["unit_aliases"].set_index("unit_id").loc["mau/phuong-long-phu"]
    assert alias["alias"] == "UBND phường Long Phú - tỉnh Mẫu" and "NFD" in alias["note"]
    assert r.tables["units"].set_index("code").loc["H99.103", "name"] == "xã Ia Mơ"  # 'UBND Xã Ia Mơ'


def test_swapped_online_payment_is_detected_not_silently_swapped():
    with pytest.raises(DataError, match=r"communes\[0\]\.groupScores\.TTTT: 11.5 exceeds 10.*swap"):
        import_portal(FIXTURES / "swapped_online_payment.json", existing=empty_dataset())
    r = import_portal(FIXTURES / "swapped_online_payment.json", existing=empty_dataset(),
                      swap_online_payment=True)
    g = scores_of(r, unit="mau/xa-an-hoa").set_index("group")["value"]
    assert (g["ONLINE"], g["TTTT"]) == (11.5, 7.5)
    assert "exchanged" in r.tables["sources"].loc[0, "note"]


def test_raw_response_takes_its_period_from_the_manifest():
    r = import_portal(FIXTURES / "raw" / "dvc-progress-tree" / "month-all.json", existing=empty_dataset())
    assert r.kind == "raw:TDGQ"
    src = r.tables["sources"].iloc[0]
    assert src["period_id"] == "2024-07"
    assert src["data_as_of"].date() == date(2024, 8, 5)  # captured 18:00 UTC = 01:00 next day in Vietnam
    tdgq = scores_of(r, group="TDGQ").set_index("unit_id")
    assert tdgq.loc["mau", "value"] == 18.0 and tdgq.loc["mau/so-tu-phap", "change"] == 1.0
    ind = r.tables["indicators"].set_index(["unit_id", "indicator", "measure"])
    assert ind.loc[("mau/phuong-viet-tri", "on_time_rate", "count"), ["value", "denominator"]].tolist() == [750, 800]
    assert ind.loc[("mau/so-tu-phap", "overdue_rate", "count"), "value"] == 50
    # the catalogue has a code for the (unscored) average handling time, so it is mapped
    assert not any("avgProcessingDays" in u for u in r.unmapped)
    assert ("mau/so-tu-phap", "avg_processing_days", "days") in ind.index
    assert any("monthlyChart" in u for u in r.unmapped)


def test_raw_response_without_manifest_needs_a_period(tmp_path):
    lone = tmp_path / "month-all.json"
    shutil.copy(FIXTURES / "raw" / "dvc-progress-tree" / "month-all.json", lone)
    with pytest.raises(DataError, match="carries no period"):
        import_portal(lone, existing=empty_dataset())
    r = import_portal(lone, existing=empty_dataset(), period="2024-07", as_of=date(2024, 8, 5))
    assert r.tables["sources"].loc[0, "period_id"] == "2024-07"


def test_raw_response_whose_manifest_hash_disagrees_is_rejected(tmp_path):
    shutil.copytree(FIXTURES / "raw", tmp_path / "raw")
    f = tmp_path / "raw" / "dvc-progress-tree" / "month-all.json"
    f.write_text(f.read_text(encoding="utf-8").replace('"score": 15.0', '"score": 15.5'), encoding="utf-8")
    with pytest.raises(DataError, match="not the capture it describes"):
        import_portal(f, existing=empty_dataset())


def test_documentation_json_is_skipped_not_an_error():
    r = import_portal(FIXTURES / "documentation_metrics.json", existing=empty_dataset())
    assert r.skipped and "not a data file" in r.skipped and r.source_id is None


def test_units_matched_by_code_across_files():
    first = import_portal(FIXTURES / "new_api_communes.json", existing=empty_dataset())
    ds = Dataset(data_dir=Path("."), **{t: first.tables.get(t, empty_table(t)) for t in LOAD_ORDER})
    second = import_portal(FIXTURES / "raw" / "dvc-progress-tree" / "month-all.json", existing=ds)
    assert second.tables["units"]["unit_id"].tolist() == ["mau/so-tu-phap", "mau/phuong-viet-tri"]
    assert "UBND xã An Hòa - Tỉnh Mẫu" in set(second.tables["unit_aliases"]["alias"])


# --- bad files: clear errors ------------------------------------------------------------------

def fixture_obj() -> dict:
    return json.loads((FIXTURES / "new_api_communes.json").read_text(encoding="utf-8"))


def test_malformed_json_names_line_and_column(tmp_path):
    f = tmp_path / "broken.json"
    f.write_text('{\n  "metadata": {\n    "year": 2026,,\n  }\n}\n', encoding="utf-8")
    with pytest.raises(DataError, match=r"broken.json.*line 3, column 18") as exc:
        import_portal(f)
    assert exc.value.row == 3


@pytest.mark.parametrize("edit, words", [
    (lambda d: d["communes"][1]["groupScores"].update(TDGQ="15,0"),
     r"communes\[1\]\.groupScores\.TDGQ: expected a number \(points\), found str"),
    (lambda d: d["communes"][2]["groupScores"].pop("MDSH"), r"communes\[2\]\.groupScores: missing group\(s\) MDSH"),
    (lambda d: d["communes"][0]["groupScores"].update(XYZ=1.0), r"communes\[0\]\.groupScores\.XYZ: unknown group code"),
    (lambda d: d["communes"][0].pop("departmentCode"), r"communes\[0\]\.departmentCode: missing; expected string"),
    (lambda d: d["communes"][0].update(departmentCode="21.227"), r"communes\[0\]\.departmentCode: '21.227' is not a unit code"),
    (lambda d: d["communes"][0].update(childGroup="DISTRICT"), r"communes\[0\]\.childGroup: 'DISTRICT' is not AGENCY or COMMUNE"),
    (lambda d: d["communes"].__setitem__(1, "H99.102"), r"communes\[1\]: expected an object"),
    (lambda d: d["metadata"].update(runDateStr="2026-09-24"), r"metadata\.runDateStr: '2026-09-24' is not a date DDMMYYYY"),
    (lambda d: d.update(count=4), r"count: says 4 units but communes\[\] has 3 records"),
    (lambda d: d["communes"][2].update(departmentCode="H98.103"), r"communes\[2\]\.departmentCode: 'H98.103' is not a code of province"),
])
def test_unexpected_schema_names_the_json_path(edit, words):
    doc = fixture_obj()
    edit(doc)
    with pytest.raises(DataError, match=words):
        parse_portal(doc, file="x.json", name="x", existing=empty_dataset())


def test_duplicate_unit_in_one_file():
    doc = fixture_obj()
    doc["communes"].append(dict(doc["communes"][0], departmentName="UBND xã An Hòa (bản sao)"))
    doc["count"] = 4
    with pytest.raises(DataError, match=r"communes\[3\]: duplicate unit: code H99.101 also at communes\[0\]"):
        parse_portal(doc, file="x.json", name="x", existing=empty_dataset())


@pytest.mark.parametrize("name, content, words", [
    ("report.txt", "Báo cáo", "not a portal JSON file"),
    ("scores.csv", "a,b\n1,2\n", "not a portal JSON file"),
    ("table.json", "a,b\n1,2\n", "malformed JSON at line 1"),
    ("list.json", "[1, 2]", "top level is a JSON list"),
    ("other.json", '{"hello": 1}', "not a portal data file"),
    ("latin1.json", b'{"a": "Ho\xe0"}', "not UTF-8"),
])
def test_wrong_kind_of_file(tmp_path, name, content, words):
    f = tmp_path / name
    if isinstance(content, bytes):
        f.write_bytes(content)
    else:
        f.write_text(content, encoding="utf-8")
    with pytest.raises(DataError, match=words):
        import_portal(f)


def test_load_json_reads_a_bom():
    assert load_json(b'\xef\xbb\xbf{"a": 1}') == {"a": 1}


def test_detect_layout_of_documentation():
    assert detect_layout({"captures": [], "province": {}}) == "manifest"


# --- the real portal samples --------------------------------------------------------------------

@pytest.fixture(scope="module")
def imported(tmp_path_factory):
    """Every file under shared/data/portal imported into a scratch data directory, then loaded."""
    if not PORTAL.is_dir():
        pytest.skip(f"portal samples not found at {PORTAL}")
    target = tmp_path_factory.mktemp("portal-data")
    report = run_import([PORTAL], target)
    return report, load_dataset(target)


def raw(rel: str):
    with open(PORTAL / rel, encoding="utf-8") as fh:
        return json.load(fh)


def source_of(ds, filename: str) -> str:
    rows = ds.sources[ds.sources["origin"].str.endswith(filename)]
    assert len(rows) == 1, filename
    return rows["source_id"].iloc[0]


def score_table(ds, source_id) -> dict:
    """(unit code, group) -> row, for one source."""
    s = ds.scores[ds.scores["source_id"] == source_id].merge(ds.units[["unit_id", "code"]], on="unit_id")
    return {(r["code"], r["group"]): r for r in s.to_dict("records")}


@needs_portal
def test_every_file_read_or_recognised(imported):
    report, ds = imported
    skipped = {r.path.name: r.skipped for r in report.results if r.skipped}
    assert set(skipped) == {"README.md", "metrics.m0.json", "manifest.m0.json"}
    assert all("not a data file" in skipped[n] for n in ("metrics.m0.json", "manifest.m0.json"))
    assert len(ds.sources) == 12
    assert set(ds.periods["period_id"]) == {"2026-ytd-09-24", "2026-ytd-09-26", "2026-ytd-09-30",
                                           "2026-ytd-10-02", "2026-08"}


@needs_portal
def test_unit_counts(imported):
    _, ds = imported
    units = ds.units.set_index("unit_id")
    assert (units["level"] == "province").sum() == 34
    for name, key, n in [("scores_Provinces_26092026.json", "provinces[]", 34),
                         ("scores_Provinces_30092026.json", "provinces[]", 34),
                         ("communes_GiaLai_24092026.json", "communes[]", 135),
                         ("communes_GiaLai_02102026.json", "communes[]", 135),
                         ("agencies_GiaLai_24092026.json", "agencies[]", 14),
                         ("agencies_GiaLai_02102026.json", "agencies[]", 14),
                         ("agencies_detail_GiaLai_24092026.json", "agenciesDetail[]", 14),
                         ("catalog/2026/communes.json", "communes[]", 237),
                         ("dvc-progress-tree/month-all.json", "data.children[]", 163)]:
        sid = source_of(ds, name)
        s = ds.scores[(ds.scores["source_id"] == sid) & (ds.scores["section"] == key)]
        assert s["unit_id"].nunique() == n, name
    gia_lai = units[units["province_id"] == "gia-lai"]
    assert gia_lai["level"].value_counts().to_dict() == {"commune": 135, "department": 14, "province": 1}
    phu_tho = units[units["province_id"] == "phu-tho"]
    assert phu_tho["level"].value_counts().to_dict() == {"commune": 148, "department": 15, "province": 1}
    assert (units[units["province_id"] == "an-giang"]["level"] == "commune").sum() == 102


@needs_portal
def test_sample_of_values_against_the_raw_json(imported):
    _, ds = imported
    # Gia Lai communes: every 9th record, all six groups, total and within-block rank
    doc = raw("crawler-766/data/gia_lai/communes_GiaLai_24092026.json")
    table = score_table(ds, source_of(ds, "communes_GiaLai_24092026.json"))
    for rec in doc["communes"][::9]:
        code = rec["departmentCode"]
        assert table[(code, "TOTAL")]["value"] == rec["totalScore"]
        assert table[(code, "TOTAL")]["rank"] == rec["groupRank"]
        for group in SIX:
            assert table[(code, group)]["value"] == rec["groupScores"][group], (code, group)
    overview = doc["overview"]
    assert table[("H21", "ONLINE")]["value"] == overview["groupScores"]["CLGQ"]
    assert table[("H21", "TOTAL")]["value"] == overview["totalScore"]
    # provinces, 30 September: totals, ranks and changes
    doc = raw("crawler-766/data/provinces/scores_Provinces_30092026.json")
    table = score_table(ds, source_of(ds, "scores_Provinces_30092026.json"))
    for rec in doc["provinces"][::5]:
        row = table[(rec["departmentCode"], "TOTAL")]
        assert (row["value"], row["rank"], row["rank_of"], row["change"]) == \
               (rec["totalScore"], rec["rank"], 34, rec["scoreDelta"])
        assert table[(rec["departmentCode"], "MDHL")]["value"] == rec["groupScores"]["MDHL"]
    # agency detail: sub-indicators
    doc = raw("crawler-766/data/gia_lai/agencies_detail_GiaLai_24092026.json")
    sid = source_of(ds, "agencies_detail_GiaLai_24092026.json")
    ind = ds.indicators[ds.indicators["source_id"] == sid].merge(ds.units[["unit_id", "code"]], on="unit_id")
    ind = ind.set_index(["code", "indicator", "measure"])
    for rec in doc["agenciesDetail"][::4]:
        code, comp = rec["departmentCode"], rec["componentIndicators"]
        assert ind.loc[(code, "on_time_rate", "percent"), "value"] == comp["TDGQ_TienDoGiaiQuyet"]["ratio"]
        assert ind.loc[(code, "on_time_rate", "count"), ["value", "denominator"]].tolist() == \
               [comp["TDGQ_TienDoGiaiQuyet"]["totalOnTime"], comp["TDGQ_TienDoGiaiQuyet"]["totalReceived"]]
        pay = comp["TTTT_ThanhToanTrucTuyen"]
        assert ind.loc[(code, "payment_dossiers_online", "count"), ["value", "denominator"]].tolist() == \
               [pay["totalDossierOnlinePaymentSuccess"], pay["totalDossierFinancialObligation"]]
        metric = {m["code"]: m for m in comp["CKMB_CongKhaiMinhBach"]["metrics"]}["PUBLISH_ON_TIME"]
        assert ind.loc[(code, "procedures_published_on_time", "percent"), "value"] == metric["ratio"]
    # raw API, online payment: counts of every 20th child
    doc = raw("qd766/tests/fixtures/formality-online-payment-tree/month-all.json")
    sid = source_of(ds, "formality-online-payment-tree/month-all.json")
    ind = ds.indicators[ds.indicators["source_id"] == sid].merge(ds.units[["unit_id", "code"]], on="unit_id")
    ind = ind.set_index(["code", "indicator", "measure"])
    table = score_table(ds, sid)
    for rec in doc["data"]["children"][::20]:
        code = rec["departmentCode"]
        assert table[(code, "TTTT")]["value"] == rec["totalScore"]
        assert ind.loc[(code, "payment_procedures_online", "count"), ["value", "denominator"]].tolist() == \
               [rec["totalDossierOnlineFormalityPaymentSuccess"], rec["totalFeeFormality"]]
    assert table[("H44", "TTTT")]["value"] == doc["data"]["parent"]["totalScore"]
    # the NFD name of the catalog is stored in NFC
    h01_113 = ds.units.set_index("code").loc["H01.113"]
    assert h01_113["name"] == "phường Long Phú"


def group_sums(ds, source_id) -> dict:
    s = ds.scores[ds.scores["source_id"] == source_id]
    wide = s.pivot_table(index=["section", "unit_id"], columns="group", values="value")
    return {k: (row["TOTAL"], sum(row[g] for g in SIX)) for k, row in wide.iterrows()}


@needs_portal
def test_group_scores_sum_to_totals_in_gia_lai(imported):
    _, ds = imported
    for name in ("communes_GiaLai_24092026.json", "communes_GiaLai_02102026.json",
                 "agencies_GiaLai_24092026.json", "agencies_GiaLai_02102026.json",
                 "agencies_detail_GiaLai_24092026.json"):
        sums = group_sums(ds, source_of(ds, name))
        assert len(sums) >= 14
        bad = {k: v for k, v in sums.items() if abs(v[0] - v[1]) > 0.02}
        assert not bad, (name, bad)
    # and in the raw JSON, read independently
    doc = raw("crawler-766/data/gia_lai/communes_GiaLai_24092026.json")
    for rec in doc["communes"] + [doc["overview"]]:
        assert abs(rec["totalScore"] - sum(rec["groupScores"].values())) <= 0.02


@needs_portal
def test_province_files_known_mismatches_are_reported_not_failed(imported):
    """The provinces files' totals often differ from the sum of their group scores (README:
    up to about 1.8 points). The import keeps them as published and says so."""
    report, ds = imported
    for name in ("scores_Provinces_26092026.json", "scores_Provinces_30092026.json"):
        doc = raw(f"crawler-766/data/provinces/{name}")
        expected = {p["departmentCode"] for p in doc["provinces"]
                    if abs(p["totalScore"] - sum(p["groupScores"].values())) > 0.02}
        sums = group_sums(ds, source_of(ds, name))
        codes = ds.units.set_index("unit_id")["code"]
        found = {codes[unit] for (_, unit), (t, s) in sums.items() if abs(t - s) > 0.02}
        assert found == expected, name
        result = next(r for r in report.results if r.path.name == name)
        if expected:
            assert any(f"{len(expected)} of 34 provinces: totalScore differs" in n for n in result.notes)
        else:
            assert not any("totalScore differs" in n for n in result.notes)
        print(f"{name}: {len(expected)} provinces whose total is not the sum of their groups")


@needs_portal
def test_ranks_blocks_and_provenance(imported):
    _, ds = imported
    s = ds.scores[ds.scores["group"] == "TOTAL"]
    prov = s[s["section"] == "provinces[]"]
    assert set(prov["rank_block"]) == {"province"} and prov["rank"].between(1, 34).all()
    communes = s[s["section"] == "communes[]"].dropna(subset=["rank"])
    assert set(communes["rank_block"]) == {"commune"} and (communes["rank_of"] == 135).all()
    src = ds.sources.set_index("source_id")
    assert src["kind"].eq("portal").all() and src["as_published"].all()
    assert src["origin"].str.startswith("shared/data/portal/").all()
    row = src.loc[source_of(ds, "communes_GiaLai_24092026.json")]
    assert row["data_as_of"].date() == date(2026, 9, 24) and row["period_id"] == "2026-ytd-09-24"
    assert row["area_unit_id"] == "gia-lai"
    mdhl = ds.scores[(ds.scores["group"] == "MDHL") & (ds.scores["value"] > 18)]
    assert len(mdhl) > 0  # e.g. 18.28: kept as published


@needs_portal
def test_reimport_is_idempotent(imported, tmp_path):
    _, ds = imported
    target = ds.data_dir
    before = {p.name: p.read_bytes() for p in sorted(target.glob("*.csv"))}
    report = run_import([PORTAL], target)
    assert not report.written and sum(report.added.values()) == 0
    assert all(r.skipped for r in report.results)
    assert {p.name: p.read_bytes() for p in sorted(target.glob("*.csv"))} == before
