"""Portal client against a real HTTP server on 127.0.0.1 replaying the recorded real responses of
../shared/data/portal and ../shared/data/portal-extra (tests/portal_replay.py), with injected
faults. Expected values are read here from the recorded JSON with ``json.load``, independently
of the client and the importer."""
from __future__ import annotations

import hashlib
import json
import subprocess
from datetime import date, datetime, timezone
from pathlib import Path

import pytest

import portal_replay as pr
from analysis.cli import main
from analysis.config import PROJECT_DIR
from analysis.dataset import load_dataset
from analysis.errors import ParameterError
from analysis.fetch import (USER_AGENT, FetchError, FetchOptions, RateLimiter, plan_period,
                            resolve_groups)
from analysis.fetch import fetch as client_fetch
from analysis.importers.command import run_import

pytestmark = pytest.mark.skipif(not pr.shared_available(), reason=pr.SKIP_REASON)

THREE = "TDGQ,ONLINE,TTTT"  # the groups recorded for Phú Thọ, month 8/2026
# The recorded captures were made on 26 Sep 2026 (qd766) and 27 Sep 2026 (crawler, national).
SEP_27 = datetime(2026, 9, 27, 3, 0, tzinfo=timezone.utc)
MANIFEST_M0 = json.loads((pr.QD766 / "manifest.m0.json").read_text(encoding="utf-8"))
# The command-line tests run on the machine's clock: month 8/2026 must be over.
after_august = pytest.mark.skipif(date.today() < date(2026, 9, 1), reason="the machine's clock is "
                                  "before September 2026, so month 2026-08 had not ended yet")


def fetch(*args, **kw):
    """The client on a fixed clock (27 Sep 2026, when the recorded responses were captured)."""
    kw.setdefault("now", SEP_27)
    return client_fetch(*args, **kw)


@pytest.fixture
def replay():
    server, state = pr.start()
    state.base_url = pr.base_url(server)
    yield state
    server.clear()
    server.stop()


def options(replay, **kw) -> FetchOptions:
    base = dict(base_url=replay.base_url, rate=0, progress=False, backoff=0.01, backoff_max=0.05,
                retries=3, read_timeout=5.0)
    return FetchOptions(**{**base, **kw})


def recorded(endpoint: str) -> dict:
    return json.loads((pr.QD766 / endpoint / "month-all.json").read_bytes())


def json_files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file() and not p.name.startswith(".fetch"))


def assert_nothing_left(root: Path):
    """No capture file, manifest or temporary file: a failed list leaves nothing behind."""
    assert json_files(root) == [], [str(p) for p in json_files(root)]


# --- fetch -> import -> build on replayed real data (acceptance) ---------------------------------

@pytest.mark.slow
def test_fetch_import_build_end_to_end(replay, tmp_path):
    raw, data, out = tmp_path / "raw", tmp_path / "data", tmp_path / "reports"
    # Phú Thọ, month 8/2026, the three recorded groups (by root department id)
    phu_tho = fetch(pr.PHU_THO_ROOT, "2026-08", raw, groups=THREE, options=options(replay))
    assert sorted(phu_tho.fetched) == [f"{e}/2026-08-H44.json" for e in
                                       ("dvc-progress-tree", "formality-online-payment-tree",
                                        "provide-online-tree")]
    # the national service results of the year 2026, replayed as read on 27 Sep 2026
    national = fetch("national", "2026", raw, options=options(replay), now=SEP_27)
    assert national.fetched == ["service-results/2026-ytd-09-27-national.json"]
    # Gia Lai's monthly service results (months 2 and 3 of 2026)
    gia_lai_root = pr.recorded_responses()[-1].payload["rootDepartmentId"]
    for month in ("2026-02", "2026-03"):
        r = fetch(gia_lai_root, month, raw, groups="units", options=options(replay), now=SEP_27)
        assert r.fetched == [f"service-results/{month}-H21.json"]
    # the raw files are the recorded bytes, byte for byte
    sha = {Path(c["file"]).parent.name: c["sha256"] for c in MANIFEST_M0["captures"]
           if c["file"].endswith("month-all.json")}
    for f in phu_tho.fetched:
        body = (phu_tho.capture_dir / f).read_bytes()
        assert hashlib.sha256(body).hexdigest() == sha[f.split("/")[0]]
    assert (national.capture_dir / national.fetched[0]).read_bytes() == pr.NATIONAL_FILE.read_bytes()

    report = run_import([raw], data)
    assert report.written
    ds = load_dataset(data)
    s = ds.scores
    # Phú Thọ: group points of the province and of every unit, as in the recorded responses
    tdgq = recorded("dvc-progress-tree")["data"]
    row = s[(s["unit_id"] == "phu-tho") & (s["period_id"] == "2026-08") & (s["group"] == "TDGQ")]
    assert row["value"].tolist() == [tdgq["parent"]["totalScore"]]
    units = ds.units.set_index("code")
    for child in tdgq["children"][:20]:
        uid = units.loc[child["departmentCode"], "unit_id"]
        got = s[(s["unit_id"] == uid) & (s["group"] == "TDGQ") & (s["period_id"] == "2026-08")]["value"]
        assert got.tolist() == [child["score"]]
    pay = recorded("formality-online-payment-tree")["data"]["parent"]
    row = s[(s["unit_id"] == "phu-tho") & (s["period_id"] == "2026-08") & (s["group"] == "TTTT")]
    assert row["value"].tolist() == [pay["totalScore"]]
    # national: 34 provinces with their total and six groups (CLGQ read as ONLINE)
    nat = json.loads(pr.NATIONAL_FILE.read_bytes())["data"]["evaluation"]
    ytd = s[s["period_id"] == "2026-ytd-09-27"]
    provinces = set(ds.units.loc[ds.units["level"] == "province", "unit_id"])
    assert len(ytd[(ytd["group"] == "TOTAL") & ytd["unit_id"].isin(provinces)]) == 34
    country = ytd[ytd["unit_id"] == "viet-nam"].set_index("group")["value"]
    assert country["TOTAL"] == json.loads(pr.NATIONAL_FILE.read_bytes())["data"]["overview"]["totalScore"]
    for rec in nat:
        uid = units.loc[rec["departmentCode"], "unit_id"]
        mine = ytd[ytd["unit_id"] == uid].set_index("group")["value"]
        assert mine["TOTAL"] == rec["totalScore"]
        assert mine["ONLINE"] == rec["groupScores"]["CLGQ"] and mine["TTTT"] == rec["groupScores"]["TTTT"]
    period = ds.periods.set_index("period_id").loc["2026-ytd-09-27"]
    assert period["kind"] == "ytd" and period["cutoff_date"].date() == date(2026, 9, 27)
    # Gia Lai months: the province's total and five radar groups, 149 unit totals, no unit groups
    for month in (2, 3):
        rec = json.loads(pr.GIA_LAI_FILES[month].read_bytes())["data"]
        pid = f"2026-{month:02d}"
        prov = s[(s["unit_id"] == "gia-lai") & (s["period_id"] == pid)].set_index("group")
        assert prov.loc["TOTAL", "value"] == rec["overview"]["totalScore"]
        radar = {r["code"]: r["score"] for r in rec["radar"]}
        assert prov.loc["DVTT", "value"] == radar["ONLINE_SERVICE"] and prov.loc["DVTT", "max_stated"] == 22
        below = s[(s["period_id"] == pid) & (s["unit_id"] != "gia-lai")]
        assert set(below["group"]) == {"TOTAL"} and len(below) == len(rec["evaluation"]) == 149
        src = ds.sources[ds.sources["period_id"] == pid]
        assert len(src) == 1 and src["data_as_of"].iloc[0].date() == date(2026, 9, 27)

    from analysis.build import plan_jobs, run_batch

    jobs = [j for j in plan_jobs(data, out_dir=out)
            if j.key in ("gia-lai/2026-03", "compare/2026-ytd-09-27")]
    assert len(jobs) == 2, [j.key for j in plan_jobs(data, out_dir=out)]
    results = run_batch(jobs, out_dir=out, workers=2, progress=False)
    assert [r.status for r in results] == ["built", "built"], [r.error for r in results]
    assert (out / "gia-lai" / "2026-03.html").stat().st_size > 10_000
    from analysis.report import ComparisonReport

    table = ComparisonReport(ds, "2026-ytd-09-27").province_table()
    assert len(table) == 34 and "viet-nam" not in set(table.get("unit_id", []))


def test_manifest_has_the_shape_of_the_recorded_one(replay, tmp_path):
    r = fetch(pr.PHU_THO_ROOT, "2026-08", tmp_path, groups="TDGQ", options=options(replay))
    doc = json.loads((r.capture_dir / "manifest.json").read_text(encoding="utf-8"))
    (entry,) = doc["captures"]
    assert set(MANIFEST_M0["captures"][0]) <= set(entry)
    body = (r.capture_dir / entry["file"]).read_bytes()
    assert entry["sha256"] == hashlib.sha256(body).hexdigest() and entry["bytes"] == len(body)
    assert entry["url"] == replay.base_url + "/api/v1/reporting/evaluation/dvc-progress-tree"
    assert entry["payload"] == {"rootDepartmentId": pr.PHU_THO_ROOT, "timeType": "month", "year": 2026,
                                "month": 8, "currentPage": 1, "pageSize": 200}
    assert entry["httpStatus"] == 201 and entry["contentType"].startswith("application/json")
    assert entry["period"] == "2026-08" and entry["scope"] == "H44"
    # the capture folder is named by the capture date (Vietnam local time of capturedAt)
    captured = datetime.fromisoformat(entry["capturedAt"])
    from analysis.importers.portal import vietnam_date

    assert r.capture_dir.name == vietnam_date(captured.isoformat()).isoformat()


def test_the_province_code_is_resolved_from_the_national_service_results(replay, tmp_path):
    # H44 is looked up in the national list (the year 2026, the one recorded); the group list is
    # then asked with Phú Thọ's root department id. The replay has no year-2026 group list for
    # Phú Thọ, so that request gets a 404: the point here is the payload it carried.
    with pytest.raises(FetchError, match="HTTP 404"):
        fetch("H44", "2026", tmp_path, groups="TDGQ", options=options(replay), now=SEP_27)
    (first, _, _), (second, payload, _) = replay.log[:2]
    assert first == "service-results"
    assert second == "dvc-progress-tree" and payload["rootDepartmentId"] == pr.PHU_THO_ROOT
    assert_nothing_left(tmp_path)


def test_a_running_month_is_a_snapshot_to_date(replay, tmp_path):
    r = fetch(pr.PHU_THO_ROOT, "2026-08", tmp_path / "raw", groups="TDGQ", options=options(replay),
              now=datetime(2026, 8, 20, 4, 0, tzinfo=timezone.utc))
    assert r.period == "2026-mtd-08-20"
    assert r.fetched == ["dvc-progress-tree/2026-mtd-08-20-H44.json"]
    run_import([tmp_path / "raw"], tmp_path / "data")
    ds = load_dataset(tmp_path / "data")
    p = ds.periods.set_index("period_id").loc["2026-mtd-08-20"]
    assert p["kind"] == "mtd" and p["cutoff_date"].date() == date(2026, 8, 20)


# --- resume, refresh, never overwrite ------------------------------------------------------------

def test_rerun_skips_complete_captures_and_refresh_goes_to_a_new_folder(replay, tmp_path):
    first = fetch(pr.PHU_THO_ROOT, "2026-08", tmp_path, groups=THREE, options=options(replay))
    stamp = {f: (first.capture_dir / f).stat().st_mtime_ns for f in first.fetched}
    n = len(replay.log)
    again = fetch(pr.PHU_THO_ROOT, "2026-08", tmp_path, groups=THREE, options=options(replay))
    assert again.fetched == [] and sorted(again.skipped) == sorted(first.fetched)
    assert len(replay.log) == n  # no request at all
    fresh = fetch(pr.PHU_THO_ROOT, "2026-08", tmp_path, groups=THREE, options=options(replay),
                  refresh=True)
    assert fresh.capture_dir.name == first.capture_dir.name + ".2"
    assert sorted(fresh.fetched) == sorted(first.fetched)
    assert {f: (first.capture_dir / f).stat().st_mtime_ns for f in first.fetched} == stamp


def test_a_failed_run_resumes_with_only_the_missing_lists(replay, tmp_path):
    replay.faults.append(pr.Fault("html", when=lambda e, p: e == "formality-online-payment-tree"))
    with pytest.raises(FetchError, match="formality-online-payment-tree"):
        fetch(pr.PHU_THO_ROOT, "2026-08", tmp_path, groups=THREE, options=options(replay, concurrency=1))
    kept = [p.relative_to(tmp_path).as_posix() for p in json_files(tmp_path)]
    assert not any("formality-online-payment-tree" in k for k in kept)
    n = len(replay.log)
    r = fetch(pr.PHU_THO_ROOT, "2026-08", tmp_path, groups=THREE, options=options(replay))
    assert r.fetched == ["formality-online-payment-tree/2026-08-H44.json"]
    assert [e for e, _, _ in replay.log[n:]] == ["formality-online-payment-tree"]


def test_a_capture_file_edited_after_the_fact_is_refused(replay, tmp_path):
    r = fetch(pr.PHU_THO_ROOT, "2026-08", tmp_path, groups="TDGQ", options=options(replay))
    f = r.capture_dir / r.fetched[0]
    assert f.stat().st_mode & 0o222 == 0  # written read-only
    f.chmod(0o644)
    f.write_bytes(f.read_bytes().replace(b'"H44.01"', b'"H44.99"'))
    with pytest.raises(FetchError, match="bytes changed.*never edited"):
        fetch(pr.PHU_THO_ROOT, "2026-08", tmp_path, groups="TDGQ", options=options(replay))


# --- faults --------------------------------------------------------------------------------------

def _tdgq(replay, tmp_path, **kw):
    return fetch(pr.PHU_THO_ROOT, "2026-08", tmp_path, groups="TDGQ", options=options(replay, **kw))


def test_500_then_success_is_retried(replay, tmp_path):
    replay.faults.append(pr.Fault("500", times=2))
    r = _tdgq(replay, tmp_path)
    assert [k for _, _, k in replay.log] == ["500", "500", "ok"]
    assert r.fetched == ["dvc-progress-tree/2026-08-H44.json"]


def test_429_honours_retry_after(replay, tmp_path):
    replay.faults.append(pr.Fault("429", retry_after="2"))
    slept = []
    r = fetch(pr.PHU_THO_ROOT, "2026-08", tmp_path, groups="TDGQ", options=options(replay),
              sleep=slept.append)
    assert [k for _, _, k in replay.log] == ["429", "ok"] and slept == [2.0]
    assert r.fetched


def test_retry_after_beyond_the_limit_is_an_error(replay, tmp_path):
    replay.faults.append(pr.Fault("429", retry_after="3600"))
    with pytest.raises(FetchError, match=r"asks to wait 3600 s \(Retry-After\)"):
        _tdgq(replay, tmp_path)
    assert_nothing_left(tmp_path)


def test_timeout_is_retried(replay, tmp_path):
    replay.faults.append(pr.Fault("timeout", delay=1.5))
    r = _tdgq(replay, tmp_path, read_timeout=0.5)
    assert [k for _, _, k in replay.log] == ["timeout", "ok"] and r.fetched


def test_connection_reset_is_retried(replay, tmp_path):
    replay.faults.append(pr.Fault("reset"))
    r = _tdgq(replay, tmp_path)
    assert [k for _, _, k in replay.log] == ["reset", "ok"] and r.fetched


def test_retries_run_out_with_a_one_line_error(replay, tmp_path):
    replay.faults.append(pr.Fault("reset", times=99))
    with pytest.raises(FetchError) as err:
        _tdgq(replay, tmp_path, retries=2)
    msg = str(err.value)
    assert "\n" not in msg and msg.startswith('dvc-progress-tree {"rootDepartmentId":')
    assert "gave up after 3 attempts; last: connection error" in msg
    assert len(replay.log) == 3
    assert_nothing_left(tmp_path)


def test_other_4xx_is_not_retried(replay, tmp_path):
    replay.faults.append(pr.Fault("404"))
    with pytest.raises(FetchError, match=r"HTTP 404 .*\(not retried\)"):
        _tdgq(replay, tmp_path)
    assert len(replay.log) == 1
    assert_nothing_left(tmp_path)


@pytest.mark.parametrize("kind, words", [
    ("truncated", r"a truncated body \(JSON ends early\); got HTTP 201 application/json"),
    ("html", r"expected JSON, got HTTP 200 text/html; charset=utf-8, \d+ bytes: HTML page titled "
             r"'Hệ thống đang bảo trì'"),
    ("ctype", r"expected JSON, got HTTP 201 text/plain; charset=utf-8"),
])
def test_bad_bodies_are_one_line_errors_and_nothing_is_written(replay, tmp_path, kind, words):
    replay.faults.append(pr.Fault(kind, times=99))
    with pytest.raises(FetchError, match=words) as err:
        _tdgq(replay, tmp_path)
    msg = str(err.value)
    assert "\n" not in msg
    assert msg.startswith('dvc-progress-tree {"rootDepartmentId":"019d2be3-6a88-732b-8b17-b68020c8553a",'
                          '"timeType":"month","year":2026,"month":8,"currentPage":1,"pageSize":200}: ')
    assert len(replay.log) == 1  # a body that fails a check is not retried
    assert_nothing_left(tmp_path)


def test_an_empty_list_for_a_province_is_an_error(replay, tmp_path):
    replay.faults.append(pr.Fault("empty-page"))
    with pytest.raises(FetchError, match="data.children is empty although the province has units"):
        _tdgq(replay, tmp_path)
    assert_nothing_left(tmp_path)


def test_paged_list_is_fetched_until_every_unit_is_in(replay, tmp_path):
    r = _tdgq(replay, tmp_path / "raw", page_size=50)
    # 163 units: pages of 50, 50, 50, 13
    assert [p["currentPage"] for e, p, _ in replay.log] == [1, 2, 3, 4]
    assert len(r.fetched) == 4
    run_import([tmp_path / "raw"], tmp_path / "data")
    s = load_dataset(tmp_path / "data").scores
    assert len(s[s["group"] == "TDGQ"]) == 1 + len(recorded("dvc-progress-tree")["data"]["children"])


def test_a_page_missing_from_a_multi_page_list_is_an_error(replay, tmp_path):
    replay.faults.append(pr.Fault("empty-page", when=lambda e, p: p.get("currentPage") == 2))
    with pytest.raises(FetchError, match="page 2 came back empty but page 3 holds 50 units: a page "
                                         "of the list is missing"):
        _tdgq(replay, tmp_path, page_size=50)
    assert_nothing_left(tmp_path)


def test_a_lost_page_after_retries_leaves_no_partial_capture(replay, tmp_path):
    replay.faults.append(pr.Fault("500", times=99, when=lambda e, p: p.get("currentPage") == 3))
    with pytest.raises(FetchError, match='"currentPage":3.*gave up after 4 attempts'):
        _tdgq(replay, tmp_path, page_size=50)
    assert_nothing_left(tmp_path)


# --- the client's manners ------------------------------------------------------------------------

def test_user_agent_names_the_toolkit(replay, tmp_path):
    _tdgq(replay, tmp_path)
    assert replay.agents == [USER_AGENT]
    assert USER_AGENT.startswith("analysis-766/") and "Chi so 766" in USER_AGENT


def test_rate_limiter_spaces_requests():
    clock = [0.0]
    slept = []

    def sleep(seconds):
        slept.append(round(seconds, 6))
        clock[0] += seconds

    limiter = RateLimiter(2.0, clock=lambda: clock[0], sleep=sleep)
    for _ in range(5):
        limiter.wait()
    assert slept == [0.5, 0.5, 0.5, 0.5]  # five starts at 0, 0.5, 1.0, 1.5, 2.0 s: 2 per second


def test_default_rate_is_polite():
    assert FetchOptions().rate == 2.0 and FetchOptions().base_url == "https://dichvucong.gov.vn"


@pytest.mark.parametrize("period, today, expected", [
    ("2026-08", date(2026, 9, 26), "2026-08"),
    ("2026-Q3", date(2026, 9, 26), "2026-qtd-09-26"),
    ("2026", date(2027, 1, 2), "2026"),
])
def test_plan_period(period, today, expected):
    assert plan_period(period, today)[0] == expected


@pytest.mark.parametrize("call, words", [
    (lambda: plan_period("2026-09", date(2026, 8, 1)), "before the period"),
    (lambda: plan_period("2026-ytd-09-01", date(2026, 9, 26)), "is a ytd period"),
    (lambda: resolve_groups("TDGQ,XYZ"), "'XYZ' is not a group"),
])
def test_bad_parameters(call, words):
    with pytest.raises(ParameterError, match=words):
        call()


# --- command line and make ---------------------------------------------------------------------

@after_august
def test_cli_fetches_and_imports(replay, tmp_path, capsys):
    code = main(["fetch", "--province", pr.PHU_THO_ROOT, "--period", "2026-08", "--raw",
                 str(tmp_path / "raw"), "--groups", THREE, "--base-url", replay.base_url, "--rate", "0",
                 "--data", str(tmp_path / "data"), "--quiet"])
    out = capsys.readouterr().out
    assert code == 0 and "3 file(s) written" in out and "wrote " in out
    assert len(load_dataset(tmp_path / "data").sources) == 3


@after_august
@pytest.mark.parametrize("argv, words", [
    (["--province", "Phú Thọ"], "parameter '--province'"),
    (["--period", "2026-13"], "parameter '--period'"),
    (["--rate", "fast"], "parameter '--rate'"),
    (["--base-url", "ftp://x"], "parameter '--base-url'"),
])
def test_cli_bad_parameter_is_one_line(tmp_path, capsys, argv, words):
    args = {"--province": "H44", "--period": "2026-08", "--raw": str(tmp_path), "--rate": "0",
            "--base-url": "http://127.0.0.1:9"}
    args.update(dict(zip(argv[::2], argv[1::2])))
    code = main(["fetch", *[x for kv in args.items() for x in kv], "--quiet"])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and words in err


@after_august
def test_make_fetch_passes_values_as_data_not_code(replay, tmp_path):
    marker = tmp_path / "pwned"
    env_province = f"$(shell touch {marker})`touch {marker}`; touch {marker}"
    proc = subprocess.run(
        ["make", "--no-print-directory", "fetch", f"PROVINCE={env_province}", "PERIOD=2026-08",
         f"RAW={tmp_path / 'raw'}", f"DATA={tmp_path / 'data'}", f"BASE_URL={replay.base_url}", "RATE=0"],
        cwd=PROJECT_DIR, capture_output=True, text=True, timeout=120)
    assert proc.returncode != 0 and "parameter '--province'" in proc.stderr
    assert not marker.exists()
    proc = subprocess.run(
        ["make", "--no-print-directory", "fetch", f"PROVINCE={pr.PHU_THO_ROOT}", "PERIOD=2026-08",
         f"GROUPS={THREE}", f"RAW={tmp_path / 'raw'}", f"DATA={tmp_path / 'data'}",
         f"BASE_URL={replay.base_url}", "RATE=0"],
        cwd=PROJECT_DIR, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert len(load_dataset(tmp_path / "data").sources) == 3


# --- the real qd766 captures in ../shared, read through their manifest -----------------------------

def test_import_reads_the_recorded_capture_folder_through_its_manifest(tmp_path):
    report = run_import([pr.QD766], tmp_path)
    lines = "\n".join(report.lines())
    assert ("a capture manifest, not a data file: 37 captures listed, 3 present (hashes checked), "
            "34 not in this folder") in lines
    read = [r for r in report.results if not r.skipped]
    assert sorted(r.kind for r in read) == ["raw:ONLINE", "raw:TDGQ", "raw:TTTT"]
    ds = load_dataset(tmp_path)
    assert set(ds.periods["period_id"]) == {"2026-08"}


def test_payloads_are_those_recorded_in_the_manifest(replay, tmp_path):
    # Three of the six month lists are in ../shared; the other three get a 404 from the replay,
    # but every request is made (six lists in flight) and carries the recorded payload. The 404s
    # wait a little, so no list is still unstarted (and so cancelled) when the first one fails.
    replay.not_found_delay = 0.5
    with pytest.raises(FetchError, match="HTTP 404"):
        fetch(pr.PHU_THO_ROOT, "2026-08", tmp_path, groups="CKMB,TDGQ,ONLINE,TTTT,MDHL,MDSH",
              options=options(replay, concurrency=6))
    sent = {e: {k: v for k, v in p.items() if k not in pr.PAGING} for e, p, _ in replay.log}
    want = {c["url"].rsplit("/", 1)[1]: {k: v for k, v in c["payload"].items() if k not in pr.PAGING}
            for c in MANIFEST_M0["captures"] if c["file"].endswith("/month-all.json")}
    assert sent == want
    assert sent["handling-satisfaction"] == {"rootDepartmentId": pr.PHU_THO_ROOT,
                                             "fromDate": "2026-08-01", "toDate": "2026-08-31"}
    # the three recorded lists were complete and are kept; the three others left nothing
    kept = sorted(p.relative_to(tmp_path).parts[1] for p in json_files(tmp_path) if p.name != "manifest.json")
    assert kept == ["dvc-progress-tree", "formality-online-payment-tree", "provide-online-tree"]


def test_province_argument_forms(tmp_path):
    from analysis.config import DATA_DIR
    from analysis.fetch import _province_argument

    assert _province_argument(pr.PHU_THO_ROOT.upper(), None) == (pr.PHU_THO_ROOT, None)
    assert _province_argument("h44", None) == (None, "H44")
    assert _province_argument("bac-kan", DATA_DIR) == (None, "H03")  # a province id of units.csv
    with pytest.raises(ParameterError, match="has no portal code"):
        _province_argument("an-giang", DATA_DIR)
