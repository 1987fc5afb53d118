"""The 766 scheme as data: versions, maxima in both views, rules, bands and user overrides."""
from __future__ import annotations

import math
from datetime import date

import pandas as pd
import pytest

from analysis.config import REFERENCE_DIR
from analysis.errors import ParameterError
from analysis.scheme import available_versions, load_scheme

# The domain document's numbers, written here independently of the TOML files.
MAXIMA = {"CKMB": 18, "TDGQ": 20, "ONLINE": 12, "TTTT": 10, "DVTT": 22, "MDHL": 18, "MDSH": 22, "TOTAL": 100}


@pytest.mark.parametrize("version", ["766-2022", "766-2025"])
def test_group_maxima_and_views(version):
    s = load_scheme(version)
    assert {g: s.max_points(g) for g in MAXIMA} == MAXIMA
    assert s.view("six") == ("CKMB", "TDGQ", "ONLINE", "TTTT", "MDHL", "MDSH")
    assert s.view("five") == ("CKMB", "TDGQ", "DVTT", "MDHL", "MDSH")
    assert sum(s.max_points(g) for g in s.view("six")) == 100
    assert sum(s.max_points(g) for g in s.view("five")) == 100
    assert s.groups["DVTT"].parts == ("ONLINE", "TTTT")


@pytest.mark.parametrize("version", ["766-2022", "766-2025"])
def test_maxima_agree_with_the_reference_table(version):
    # reference/groups.csv is what the loader validates clean files against
    ref = pd.read_csv(REFERENCE_DIR / "groups.csv").set_index("group")["max_points"]
    s = load_scheme(version)
    assert {g: float(ref[g]) for g in ref.index} == {g: s.max_points(g) for g in ref.index}


def test_band_cut_points_come_from_the_reference_table():
    ref = pd.read_csv(REFERENCE_DIR / "bands.csv")
    s = load_scheme()
    table = s.bands_table()
    assert dict(zip(table["band"], table["lower"])) == dict(zip(ref["band"], ref["lower"].astype(float)))
    assert s.band_lower == (0.0, 50.0, 70.0, 80.0, 90.0)
    assert s.band_top == 100.0


def test_sub_indicator_rules_from_the_domain_document():
    s = load_scheme("766-2025")
    subs = s.subindicator_table().set_index(["group", "sub"])
    # CKMB 6 + 4 + 2 + 6
    assert subs.loc["CKMB", "points"].tolist() == [6, 4, 2, 6]
    # TDGQ: 20 x on-time share
    assert subs.loc[("TDGQ", "on_time"), ["points", "target"]].tolist() == [20, 100]
    # TTTT = 6A + min(2, 2.5B) + 2.5C: B's 2 points are reached at 2 / 2.5 = 80%
    assert subs.loc["TTTT", "points"].tolist() == [6, 2, 2.5]
    assert subs.loc[("TTTT", "B_procedures_with_online_payment"), "target"] == 80
    assert s.groups["TTTT"].cap == 10
    # MDHL 6 + 6 + 6: dossier satisfaction full at 90% (domain note), complaint satisfaction at
    # 100% (the province details of 26/09/2026: 137/224 = 61.16% scores 3.67), full marks without complaints
    assert subs.loc["MDHL", "points"].tolist() == [6, 6, 6]
    assert subs.loc[("MDHL", "pakn_satisfaction"), "target"] == 100
    assert subs.loc[("MDHL", "dossier_satisfaction"), "target"] == 90
    assert subs.loc[("MDHL", "pakn_on_time"), "full_if_zero"] == "pakn_received"
    # MDSH: re-use full at 80%; e-certified copies 2 only since 2025; 22 points in both versions
    assert subs.loc[("MDSH", "reuse"), "target"] == 80
    assert subs.loc[("MDSH", "e_certified_copies"), "points"] == 2
    assert subs.loc["MDSH", "points"].sum() == 22
    old = load_scheme("766-2022").subindicator_table().set_index(["group", "sub"])
    assert "e_certified_copies" not in old.loc["MDSH"].index
    assert old.loc["MDSH", "points"].sum() == 22


def test_inferred_and_unknown_items_are_marked():
    new, old = load_scheme("766-2025"), load_scheme("766-2022")
    online = new.subindicator_table().query("group == 'ONLINE'")
    assert online["points"].isna().all() and set(online["status"]) == {"unknown"}
    assert set(online["target"]) == {80.0, 50.0}
    # the pre-2025 rules are the 2026 portal rules carried back: inferred (or unknown)
    assert set(old.subindicator_table()["status"]) <= {"inferred", "unknown"}
    assert new.raw["scheme"]["valid_from_status"] == "inferred"
    assert old.raw["scheme"]["valid_from_status"] == "verified"


def test_version_chosen_by_period():
    table = available_versions()
    assert table["valid_from"].tolist() == [date(2022, 6, 23), date(2025, 7, 1)]
    assert load_scheme(period="2022-11").version == "766-2022"
    assert load_scheme(period="2024-05-w1").version == "766-2022"
    assert load_scheme(period="2025-06").version == "766-2022"
    assert load_scheme(period="2025-07").version == "766-2025"
    assert load_scheme(period="2026").version == "766-2025"
    assert load_scheme().version == "766-2025"


@pytest.mark.parametrize("kwargs, words", [
    ({"version": "766-1999"}, "unknown scheme version"),
    ({"version": "766-2022", "period": "2024-07"}, "not both"),
    ({"period": "2021-01"}, "before the first scheme version"),
    ({"period": "2024-13"}, "month outside"),
])
def test_bad_choices(kwargs, words):
    with pytest.raises(ParameterError, match=words):
        load_scheme(**kwargs)


def write(tmp_path, text: str):
    path = tmp_path / "my-scheme.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_override_changes_values_without_code(tmp_path):
    path = write(tmp_path, """
[groups.MDHL.sub.dossier_satisfaction]
target = 85.0

[bands.lower]
"Khá" = 72.0

[groups.ONLINE.sub.online_submission]
points = 6.0
""")
    s = load_scheme("766-2025", override_path=path)
    subs = s.subindicator_table().set_index(["group", "sub"])
    assert subs.loc[("MDHL", "dossier_satisfaction"), "target"] == 85
    assert subs.loc[("MDHL", "pakn_satisfaction"), "target"] == 100   # untouched
    assert subs.loc[("ONLINE", "online_submission"), "points"] == 6
    assert dict(zip(s.band_names, s.band_lower))["Khá"] == 72
    assert s.version == "766-2025+override"
    assert s.files[-1] == str(path.resolve())
    assert load_scheme("766-2025").subindicator_table().set_index(["group", "sub"]).loc[
        ("MDHL", "dossier_satisfaction"), "target"] == 90   # the shipped version is unchanged


@pytest.mark.parametrize("text, words", [
    ("[groups.MDHL.sub.dossier_satisfaction]\ntargett = 85.0\n", "groups.MDHL.sub.dossier_satisfaction.targett"),
    ("[groups.XYZ]\nmax = 5.0\n", "groups.XYZ"),
    ("[audit]\nmissing_decimal = 1\n", "audit.missing_decimal"),
    ("[groups.MDHL.sub.dossier_satisfaction]\ntarget = \"high\"\n", "must be a number"),
    ("[groups.CKMB]\nmax = 20.0\n", "add up to 102"),
    ("[bands.lower]\n\"Khá\" = 80.0\n", "same cut point"),
    ("[groups.TDGQ.sub.on_time]\ntarget = 150.0\n", "within \\(0, 100\\]"),
    ("not toml = = 1\n", "not valid TOML"),
])
def test_override_errors_name_the_key(tmp_path, text, words):
    with pytest.raises(ParameterError, match=words):
        load_scheme("766-2025", override_path=write(tmp_path, text))


def test_missing_override_file(tmp_path):
    with pytest.raises(ParameterError, match="does not exist"):
        load_scheme(override_path=tmp_path / "nope.toml")


def test_every_sub_indicator_points_within_its_group():
    for version in available_versions()["version"]:
        s = load_scheme(version)
        for g in s.groups.values():
            known = sum(x.points for x in g.subs if not math.isnan(x.points))
            assert known <= g.max + 1e-9 or g.cap is not None   # TTTT: 10.5 capped at 10


def test_audit_command_takes_a_user_scheme(tmp_path, capsys):
    """`audit --scheme PATH`: a band cut point moved from 80 to 85 turns published "Tốt" bands
    between the two cut points into band findings; a missing file is a one-line error (exit 2)."""
    import csv
    import io

    from analysis.cli import main
    from analysis.config import DATA_DIR

    strict = tmp_path / "strict.toml"
    strict.write_text('[bands.lower]\n"Tốt" = 85.0\n', encoding="utf-8")

    def bands(*extra):
        assert main(["audit", "--data", str(DATA_DIR), "--format", "csv", *extra]) == 0
        rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
        return {(r["unit_id"], r["period_id"]) for r in rows if r["check"] == "band"}

    default, moved = bands(), bands("--scheme", str(strict))
    added = moved - default
    assert added, "moving the Tốt cut point to 85 must add band findings"
    from analysis.dataset import load_dataset

    sc = load_dataset(DATA_DIR).scores
    tot = sc.loc[(sc["group"] == "TOTAL") & (sc["band"] == "Tốt")]
    between = {(u, p) for u, p, v in zip(tot["unit_id"], tot["period_id"], tot["value"]) if 80 <= v < 85}
    assert added <= between and added
    assert main(["audit", "--scheme", str(tmp_path / "missing.toml")]) == 2
    assert "missing.toml" in capsys.readouterr().err
