"""The scheme option (issue 17): ``build --scheme PATH``, ``make … SCHEME=`` and the notebooks'
``scheme`` parameter. A user scheme file is checked before any kernel starts (one line, exit 2,
naming the file), its content is part of each report's cache key, and a report built with it
bands, audits and states it.

The acceptance case moves the lower bound of the band "Tốt" from 80 to 85: the communes of
Na Rì (Bắc Kạn, 2024-07) printed as "Tốt" with totals between 80 and 85 (e.g. Xuân Dương, 84.04)
are "Khá" under that scheme."""
from __future__ import annotations

import hashlib
import html
import os
import re
import subprocess
import sys

import pandas as pd
import pytest

from analysis.build import input_hash, plan_jobs, run_batch, stale_jobs
from analysis.config import DATA_DIR, PROJECT_DIR
from analysis.errors import ParameterError
from analysis.report import ProvinceReport
from analysis.render import resolve
from analysis.scheme import load_scheme, user_scheme

UNIT = "bac-kan/huyen-na-ri/xa-xuan-duong"  # printed TOTAL 84.04, band "Tốt", in data/scores.csv
STRICT = '[bands.lower]\n"Tốt" = 85.0\n'


@pytest.fixture
def strict(tmp_path):
    path = tmp_path / "strict.toml"
    path.write_text(STRICT, encoding="utf-8")
    return path


def _printed_total(unit: str) -> float:
    scores = pd.read_csv(DATA_DIR / "scores.csv")
    row = scores.loc[(scores["unit_id"] == unit) & (scores["group"] == "TOTAL") & (scores["period_id"] == "2024-07")]
    return float(row["value"].iloc[0])


# --- the shared check: path -> scheme or ParameterError ------------------------------------
BAD_FILES = {
    "missing": (None, "does not exist"),
    "folder": ("<dir>", "is not a file"),
    "not-toml": ("[bands\n", "is not valid TOML"),
    "not-utf8": (b"[bands.lower]\n\"T\xf4t\" = 85.0\n", "is not UTF-8"),
    "unknown-key": ("[bands.lowr]\n", "unknown key 'bands.lowr'"),
    "wrong-type": ('[bands.lower]\n"Tốt" = "85"\n', "must be a number"),
    "inconsistent": ('[bands.lower]\n"Tốt" = 70.0\n', "same cut point"),
}


@pytest.mark.parametrize("case", sorted(BAD_FILES))
def test_a_bad_scheme_file_is_one_line_naming_the_file(tmp_path, case):
    content, expected = BAD_FILES[case]
    path = tmp_path / f"{case}.toml"
    if content == "<dir>":
        path.mkdir()
    elif isinstance(content, bytes):
        path.write_bytes(content)
    elif content is not None:
        path.write_text(content, encoding="utf-8")
    with pytest.raises(ParameterError) as info:
        user_scheme(path, periods=["2024-07"])
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith("parameter '--scheme/SCHEME': ")
    assert f"{case}.toml" in message and expected in message


def test_the_file_is_applied_to_the_version_of_each_period(strict):
    assert user_scheme(strict, periods=["2024-07"]).version == "766-2022+override"
    assert user_scheme(strict, periods=["2024-07", "2026-01"]).version == "766-2025+override"
    assert user_scheme(strict).bands_table().set_index("band").at["Tốt", "lower"] == 85.0


# --- the command line and make: refused before any kernel ------------------------------------
def _cli(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "analysis", *args], capture_output=True, text=True, cwd=cwd,
                          env=dict(os.environ))


@pytest.mark.parametrize("content,expected", [(None, "does not exist"), ("[bands.lowr]\n", "unknown key")])
def test_build_refuses_a_bad_scheme_before_any_kernel(tmp_path, content, expected):
    path = tmp_path / "user.toml"
    if content is not None:
        path.write_text(content, encoding="utf-8")
    out = tmp_path / "out"
    result = _cli("build", "--province", "bac-kan", "--period", "2024-07", "--out", str(out), "--scheme", str(path))
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and "user.toml" in result.stderr and expected in result.stderr
    assert not out.exists()  # no lock, no plan, no kernel


def test_make_passes_scheme_as_one_argument(tmp_path):
    """SCHEME follows the Makefile's quoting rule: shell syntax in it is a file name, not a command."""
    canary = tmp_path / "pwned"
    value = f"x.toml; touch {canary}"
    result = subprocess.run(["make", "-s", "report", "PROVINCE=bac-kan", "PERIOD=2024-07", f"OUT={tmp_path / 'out'}",
                             f"SCHEME={value}"], cwd=PROJECT_DIR, capture_output=True, text=True)
    assert result.returncode != 0
    assert f"scheme file '{value}' does not exist" in result.stderr
    assert not canary.exists() and not (tmp_path / "out").exists()


def test_an_empty_scheme_means_none(tmp_path):
    result = _cli("build", "--province", "bac-kan", "--period", "2024-07", "--out", str(tmp_path / "o"),
                  "--scheme", "", "--list")
    assert result.returncode == 0 and result.stdout.split() == ["bac-kan/2024-07"]


# --- the cache key -------------------------------------------------------------------------------
def test_scheme_content_is_part_of_the_cache_key(tmp_path, strict):
    plan = tmp_path / "plan"
    plain = plan_jobs(DATA_DIR, out_dir=plan, province="bac-kan", period="2024-07")[0]
    job = plan_jobs(DATA_DIR, out_dir=plan, province="bac-kan", period="2024-07", scheme=strict)[0]
    assert job.parameters["scheme"] == str(strict.resolve())
    assert job.scheme_hash == hashlib.sha256(STRICT.encode()).hexdigest()
    assert "scheme" not in plain.parameters and plain.scheme_hash == ""

    def key(j):
        return input_hash(j, notebook_bytes=b"nb", package="pkg", lock=b"lock")

    assert key(job) != key(plain)
    os.utime(strict, ns=(1, 1))  # the same content, touched: the same key
    same = plan_jobs(DATA_DIR, out_dir=plan, province="bac-kan", period="2024-07", scheme=strict)[0]
    assert key(same) == key(job)
    strict.write_text('[bands.lower]\n"Tốt" = 86.0\n', encoding="utf-8")  # edited: a new key
    edited = plan_jobs(DATA_DIR, out_dir=plan, province="bac-kan", period="2024-07", scheme=strict)[0]
    assert edited.scheme_hash != job.scheme_hash and key(edited) != key(job)
    strict.write_text('[bands.lowr]\n', encoding="utf-8")  # the plan cache never hides a broken file
    with pytest.raises(ParameterError, match="unknown key"):
        plan_jobs(DATA_DIR, out_dir=plan, province="bac-kan", period="2024-07", scheme=strict)


# --- the report: bands, audit and the statement, in both languages ------------------------------
@pytest.mark.parametrize("lang", ["vi", "en"])
def test_report_bands_and_audits_with_the_user_scheme(strict, lang):
    total = _printed_total(UNIT)
    assert 80 <= total < 85  # the case the test is about
    official = ProvinceReport.load("bac-kan", "2024-07", lang, "", "")
    user = ProvinceReport.load("bac-kan", "2024-07", lang, "", str(strict))

    def band(report):
        table = next(iter(report.unit_tables().values())).set_index("unit_id")
        return table.at[UNIT, "band"], table.at[UNIT, "band_calc"]

    assert band(official) == ("Tốt", "Tốt") and band(user) == ("Tốt", "Khá")
    head = {r: r.headline_table().set_index("unit_id").at["bac-kan", "band_calc"] for r in (official, user)}
    assert head[official] == "Tốt" and head[user] == "Khá"  # the province's 82.88
    found = {r: set(r.findings.loc[r.findings["check"] == "band", "unit_id"]) for r in (official, user)}
    assert UNIT in found[user] and UNIT not in found[official]
    stated = resolve(user.title().parts[-1].text, lang)
    assert "strict.toml" in stated and user.scheme.sha256[:12] in stated and "766-2022+override" in stated
    assert "strict.toml" not in resolve(official.title().parts[-1].text, lang)
    sha = hashlib.sha256(strict.read_bytes()).hexdigest()
    assert sha in user.provenance().tables["data_files"]["sha256"].tolist()


def _cells(page: str, name: str) -> list[str]:
    """The text of the table row that names ``name``."""
    for row in re.findall(r"<tr>(.*?)</tr>", page, flags=re.S):
        cells = [html.unescape(re.sub(r"<[^>]+>", "", c)).strip() for c in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)]
        if any(name in c for c in cells):
            return cells
    raise AssertionError(f"no table row names {name}")


@pytest.mark.slow
def test_acceptance_a_report_built_with_a_user_scheme_shows_the_changed_band(tmp_path, strict):
    """Build the Bắc Kạn report of 2024-07 with "Tốt" starting at 85: Xuân Dương (84.04, printed
    "Tốt", "Tốt" under the shipped cut point of 80) is computed "Khá"; the report states the file;
    the same file does not rebuild, an edited one does."""
    assert load_scheme(period="2024-07").bands_table().set_index("band").at["Tốt", "lower"] == 80.0
    out = tmp_path / "reports"
    jobs = plan_jobs(DATA_DIR, out_dir=out, province="bac-kan", period="2024-07", scheme=strict)
    results = run_batch(jobs, out_dir=out, workers=1, progress=False)
    assert [r.status for r in results] == ["built"], results
    page = (out / "bac-kan" / "2024-07.html").read_text(encoding="utf-8")
    row = _cells(page, "Xuân Dương")
    assert "84,04" in row
    assert row[row.index("84,04") + 1:row.index("84,04") + 3] == ["Tốt", "Khá"]  # printed, computed
    text = html.unescape(re.sub(r"<[^>]+>", " ", page))
    assert "Phương pháp tính: 766-2022+override + strict.toml" in text
    assert hashlib.sha256(strict.read_bytes()).hexdigest() in text
    assert not stale_jobs(plan_jobs(DATA_DIR, out_dir=out, province="bac-kan", period="2024-07", scheme=strict),
                          out_dir=out)
    strict.write_text('[bands.lower]\n"Tốt" = 86.0\n', encoding="utf-8")
    again = plan_jobs(DATA_DIR, out_dir=out, province="bac-kan", period="2024-07", scheme=strict)
    assert [j.key for j, _ in stale_jobs(again, out_dir=out)] == ["bac-kan/2024-07"]
