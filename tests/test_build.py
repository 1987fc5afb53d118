"""The report build: every province-period of the shipped data becomes a self-contained HTML
report; unchanged inputs are skipped; one failing report does not stop the others and leaves
nothing stale; bad parameters are refused before any kernel starts; interrupts are safe."""
from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time

import pytest

from analysis import build
from analysis.build import plan_jobs, run_batch, stale_jobs, write_index
from analysis.config import DATA_DIR, NOTEBOOKS_DIR, PROJECT_DIR
from analysis.errors import ParameterError

pytestmark = pytest.mark.slow
SEED_REPORTS = {"an-giang/2024-05-w1", "bac-kan/2024-07", "dong-thap/2022-11", "tuyen-quang/2024-07",
                "compare/2024-06", "compare/2024-07"}


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """All seed reports built once into a scratch directory (two workers)."""
    out = tmp_path_factory.mktemp("reports")
    jobs = plan_jobs(DATA_DIR, out_dir=out)
    results = run_batch(jobs, out_dir=out, workers=2, progress=False)
    return out, jobs, results


def test_every_province_period_is_built(built):
    out, jobs, results = built
    assert {j.key for j in jobs} == SEED_REPORTS
    assert {r.key: r.status for r in results} == {k: "built" for k in SEED_REPORTS}, results
    index = (out / "index.html").read_text(encoding="utf-8")
    for key in SEED_REPORTS:
        assert f'href="{key}.html"' in index
        for suffix in (".html", ".ipynb", ".xlsx"):
            assert (out / f"{key}{suffix}").is_file()
        assert any((out / f"{key}_tables").glob("*.csv"))


def test_html_is_self_contained_vietnamese_and_shows_no_code(built):
    out, _, _ = built
    html = (out / "bac-kan/2024-07.html").read_text(encoding="utf-8")
    assert "<title>Báo cáo Chỉ số 766 – tỉnh Bắc Kạn – Tháng 7/2024</title>" in html
    assert "ProvinceReport" not in html and "report.headline()" not in html
    assert "province: str" not in html  # no parameter cell
    assert len(re.findall(r'<svg [^>]*role="img"', html)) >= 3  # figures inline as vector SVG
    assert 'src="http' not in html.replace('src="https://cdnjs', "")  # images are embedded
    assert "82,88/100" in html


def test_html_export_is_nbconvert_html_without_its_second_parse(built):
    """The page is the one nbconvert's HTMLExporter makes (focusable outputs, alt on every image),
    element for element, without its BeautifulSoup pass over the rendered page."""
    import nbformat
    from bs4 import BeautifulSoup
    from nbconvert import HTMLExporter

    out, _, _ = built
    nb = nbformat.read(out / "bac-kan/2024-07.ipynb", as_version=4)
    ours = build._exporter()
    theirs = HTMLExporter(config=ours.config, extra_loaders=ours.extra_loaders)
    assert type(ours) is not HTMLExporter and isinstance(ours, HTMLExporter)

    def elements(html):
        return [(e.name, sorted((k, " ".join(v) if isinstance(v, list) else v) for k, v in e.attrs.items()),
                 e.string) for e in BeautifulSoup(html, "html.parser").find_all(True)]

    mine, nbconvert = (e.from_notebook_node(nb, resources={"metadata": {"name": "t"}})[0] for e in (ours, theirs))
    assert elements(mine) == elements(nbconvert)
    assert 'tabindex="0"' in mine
    # report figures are inline SVG; an image output without alt text (a PNG a researcher adds)
    # gets nbconvert's alt text too
    png = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=="
    nb.cells.append(nbformat.v4.new_code_cell("1", outputs=[nbformat.v4.new_output(
        "display_data", data={"image/png": png, "text/plain": "<Figure>"})]))
    mine, nbconvert = (e.from_notebook_node(nb, resources={"metadata": {"name": "t"}})[0] for e in (ours, theirs))
    assert elements(mine) == elements(nbconvert)
    assert "<img" in mine and 'alt="No description has been provided for this image"' in mine


def test_executed_notebook_is_kept_as_the_record(built):
    out, _, _ = built
    nb = json.loads((out / "bac-kan/2024-07.ipynb").read_text(encoding="utf-8"))
    injected = [c for c in nb["cells"] if "injected-parameters" in c.get("metadata", {}).get("tags", [])]
    assert injected and 'province = "bac-kan"' in "".join(injected[0]["source"])


def test_second_run_executes_nothing(built, monkeypatch):
    """Speed is measured by benchmarks/bench_reports.py (--noop), not here: this checks that an
    unchanged build starts no kernel at all."""
    out, _, _ = built

    def no_kernel(*args, **kwargs):
        raise AssertionError("a kernel was started for an unchanged report")

    monkeypatch.setattr(build, "execute_notebook", no_kernel)
    monkeypatch.setattr(build, "_start_zygote", no_kernel)
    results = run_batch(plan_jobs(DATA_DIR, out_dir=out), out_dir=out, progress=False)
    assert {r.status for r in results} == {"skipped"}


def test_noop_command_line_build_loads_no_dataframe_library(built):
    """A build with nothing to do reads its arguments, the plan cache, the stamps and the index
    key without importing pandas (what made a no-op cost a second); the page is kept as it was."""
    out, _, _ = built
    index = out / "index.html"
    before = index.read_bytes()
    probe = ("import sys; from analysis.cli import main; code = main(['build', '--out', sys.argv[1], '--quiet']); "
             "print(code, sorted(m for m in ('pandas', 'pandera', 'jinja2', 'nbconvert') if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", probe, str(out)], capture_output=True, text=True, check=True)
    assert done.stdout.splitlines()[-1] == "0 []", done.stdout + done.stderr
    assert "0 built, 6 unchanged, 0 failed" in done.stdout
    assert index.read_bytes() == before


def test_index_edited_by_hand_is_rendered_again(built):
    out, _, _ = built
    index = out / "index.html"
    before = index.read_bytes()
    index.write_text("edited", encoding="utf-8")
    write_index(out)
    assert index.read_bytes() == before


def test_plan_rehashes_a_data_file_only_when_it_changed(tmp_path, monkeypatch):
    data = tmp_path / "data"
    shutil.copytree(DATA_DIR, data)
    monkeypatch.setattr(build, "RACY_NS", 50_000_000)  # not 2 s: the copy was just written
    time.sleep(0.1)
    first = plan_jobs(data, out_dir=tmp_path / "out")
    reads = []
    digest = build.hashlib.file_digest
    monkeypatch.setattr(build.hashlib, "file_digest", lambda fh, name: reads.append(fh.name) or digest(fh, name))
    assert plan_jobs(data, out_dir=tmp_path / "out") == first and reads == []
    # the same size and modification time, other bytes: its status-change time still moves
    path = data / "indicators.csv"
    st = path.stat()
    text = path.read_text(encoding="utf-8")
    text = text.replace(",online_payment_rate,percent,,,93.75,", ",online_payment_rate,percent,,,93.76,", 1)
    path.write_text(text, encoding="utf-8")
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert path.stat().st_size == st.st_size and path.stat().st_mtime_ns == st.st_mtime_ns
    after = {j.key: j.data_hash for j in plan_jobs(data, out_dir=tmp_path / "out")}
    assert [r for r in reads if r.endswith("indicators.csv")]
    assert after["bac-kan/2024-07"] != {j.key: j.data_hash for j in first}["bac-kan/2024-07"]


def test_interrupted_import_names_match_the_dataset():
    from analysis import cli, dataset, report

    assert cli._INTERRUPTED_IMPORT == (dataset.STAGING_PREFIX, dataset.JOURNAL)
    assert build.READ_LOG_ENV == dataset.READ_LOG_ENV
    assert build.CODE_VERSION_ENV == report.CODE_VERSION_ENV


def test_touching_one_province_rebuilds_only_its_reports(built, tmp_path):
    out, _, _ = built
    data = tmp_path / "data"
    shutil.copytree(DATA_DIR, data)
    jobs = plan_jobs(data, out_dir=tmp_path / "plan")
    # same notebook, parameters (data_dir differs, so compare hashes with the original plan)
    before = {j.key: j.data_hash for j in jobs}
    text = (data / "indicators.csv").read_text(encoding="utf-8")
    text = text.replace(",online_payment_rate,percent,,,93.75,", ",online_payment_rate,percent,,,93.7,", 1)
    (data / "indicators.csv").write_text(text, encoding="utf-8")
    after = {j.key: j.data_hash for j in plan_jobs(data, out_dir=tmp_path / "plan")}
    changed = {k for k in before if before[k] != after[k]}
    assert changed == {"bac-kan/2024-07"}


def test_changing_the_package_rebuilds_everything(built, monkeypatch):
    out, jobs, _ = built
    assert stale_jobs(jobs, out_dir=out) == []
    monkeypatch.setattr(build, "package_hash", lambda: "a different package")
    assert {j.key for j, _ in stale_jobs(jobs, out_dir=out)} == SEED_REPORTS


def test_a_failing_report_is_isolated(built, tmp_path):
    out, jobs, _ = built
    notebooks = tmp_path / "notebooks"
    shutil.copytree(NOTEBOOKS_DIR, notebooks)
    nb = json.loads((notebooks / "province_report.ipynb").read_text(encoding="utf-8"))
    fail = {"cell_type": "code", "execution_count": None, "metadata": {}, "outputs": [],
            "source": "if province == 'an-giang':\n    raise RuntimeError('deliberate failure for the test')"}
    nb["cells"].insert(3, fail)
    (notebooks / "province_report.ipynb").write_text(json.dumps(nb), encoding="utf-8")
    target = tmp_path / "out"
    shutil.copytree(out, target)  # an-giang has an older, now stale, HTML here
    selected = [j for j in jobs if j.key in ("an-giang/2024-05-w1", "tuyen-quang/2024-07")]
    results = {r.key: r for r in run_batch(selected, out_dir=target, notebooks_dir=notebooks, workers=2,
                                           progress=False)}
    assert results["tuyen-quang/2024-07"].status == "built"
    assert results["an-giang/2024-05-w1"].status == "failed"
    assert "deliberate failure" in results["an-giang/2024-05-w1"].error
    assert not (target / "an-giang/2024-05-w1.html").exists()
    assert not (target / "an-giang/2024-05-w1.ipynb").exists()
    assert 'href="an-giang/2024-05-w1.html"' not in (target / "index.html").read_text(encoding="utf-8")


def test_cli_exit_status_is_non_zero_on_failure(tmp_path):
    env = dict(os.environ)
    data = tmp_path / "data"  # its own data dir: no wait (and its message) behind another test's build
    shutil.copytree(DATA_DIR, data)
    result = subprocess.run([sys.executable, "-m", "analysis", "build", "--data", str(data), "--province", "ha-noi",
                             "--period", "2024-07", "--out", str(tmp_path / "out")], capture_output=True, text=True,
                            env=env)
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0  # one line
    assert "unknown province 'ha-noi'" in result.stderr and "bac-kan" in result.stderr
    assert not (tmp_path / "out").exists()  # nothing written, no kernel started


def test_bad_parameters_refused_before_planning():
    with pytest.raises(ParameterError, match="periods with data: 2024-07"):
        plan_jobs(DATA_DIR, out_dir=PROJECT_DIR / "build" / "never", province="bac-kan", period="2024-08")
    with pytest.raises(ParameterError, match="go together"):
        plan_jobs(DATA_DIR, out_dir=PROJECT_DIR / "build" / "never", province="bac-kan")


def test_interrupted_batch_completes_on_rerun(tmp_path):
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "analysis", "build", "--out", str(out), "--executor", "serial", "--quiet"]
    proc = subprocess.Popen(cmd, cwd=PROJECT_DIR, start_new_session=True, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    deadline = time.time() + 240
    while time.time() < deadline and not list((out / ".build").glob("*__*.json")):
        time.sleep(0.2)
    time.sleep(1.0)  # let the next report get under way
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    first = subprocess.run(cmd, cwd=PROJECT_DIR, capture_output=True, text=True)
    assert first.returncode == 0, first.stderr
    assert not [p for p in out.rglob("*") if p.name.endswith(".tmp") or p.name.startswith(".run-")]
    stamps = [json.loads(p.read_text()) for p in (out / ".build").glob("*__*.json")]
    assert {s["key"] for s in stamps} == SEED_REPORTS
    for s in stamps:
        html = (out / f"{s['key']}.html").read_text(encoding="utf-8")
        assert html.rstrip().endswith("</html>")
    second = subprocess.run(cmd, cwd=PROJECT_DIR, capture_output=True, text=True)
    assert "0 built, 6 unchanged, 0 failed" in second.stdout


def test_index_lists_only_reports_that_exist(tmp_path):
    (tmp_path / ".build").mkdir()
    (tmp_path / ".build" / "x__2024-07.json").write_text(json.dumps(
        {"key": "x/2024-07", "kind": "province", "params": {"province": "x", "period": "2024-07", "lang": "vi"}}))
    assert "x/2024-07" not in write_index(tmp_path).read_text(encoding="utf-8")


def test_dask_executor_keeps_caching_and_failure_semantics(built, tmp_path):
    pytest.importorskip("dask.distributed")
    out, jobs, _ = built
    notebooks = tmp_path / "notebooks"
    shutil.copytree(NOTEBOOKS_DIR, notebooks)
    nb = json.loads((notebooks / "province_report.ipynb").read_text(encoding="utf-8"))
    nb["cells"].insert(3, {"cell_type": "code", "execution_count": None, "metadata": {}, "outputs": [],
                           "source": "if province == 'an-giang':\n    raise RuntimeError('deliberate failure')"})
    (notebooks / "province_report.ipynb").write_text(json.dumps(nb), encoding="utf-8")
    selected = [j for j in jobs if j.key in ("an-giang/2024-05-w1", "tuyen-quang/2024-07")]
    target = tmp_path / "out"
    results = {r.key: r for r in run_batch(selected, out_dir=target, notebooks_dir=notebooks, executor="dask",
                                           workers=2, progress=False)}
    assert results["tuyen-quang/2024-07"].status == "built"
    assert results["an-giang/2024-05-w1"].status == "failed" and "deliberate failure" in results["an-giang/2024-05-w1"].error
    assert not (target / "an-giang/2024-05-w1.html").exists()
    again = {r.key: r.status for r in run_batch(selected, out_dir=target, notebooks_dir=notebooks, executor="dask",
                                                workers=2, progress=False)}
    assert again["tuyen-quang/2024-07"] == "skipped"  # the same cache as the other executors


def test_one_command_line_build_at_a_time_per_data_dir(tmp_path, monkeypatch, capsys):
    """A second build from the same data directory queues behind the first, says so in one
    line, and gives up with a one-line BusyError when its wait runs out."""
    import subprocess
    import sys
    import time

    from analysis.build import build_lock
    from analysis.errors import BusyError

    data, ready = tmp_path / "data", tmp_path / "ready"
    data.mkdir()
    code = ("import pathlib, time\nfrom analysis.build import build_lock\n"
            f"with build_lock({str(data)!r}, None, one_build_per_data=True):\n"
            f"    pathlib.Path({str(ready)!r}).touch()\n    time.sleep(60)\n")
    holder = subprocess.Popen([sys.executable, "-c", code])
    try:
        deadline = time.monotonic() + 60
        while not ready.exists():
            assert holder.poll() is None and time.monotonic() < deadline, "the first build did not start"
            time.sleep(0.05)
        monkeypatch.setenv("ANALYSIS_BUILD_WAIT", "0.3")
        with pytest.raises(BusyError, match="in use by another build"):
            with build_lock(data, None, one_build_per_data=True):
                pass
        assert "waiting for another build" in capsys.readouterr().err
    finally:
        holder.kill()
        holder.wait()
    with build_lock(data, None, one_build_per_data=True):  # free again once the first build ends
        pass


def test_a_kernel_that_dies_before_its_first_reply_is_started_again(monkeypatch):
    """The kernel died before running any cell: one new kernel is started; a second death, or
    any other error, is the report's failure."""
    import nbclient

    from analysis import build

    calls = []
    real = nbclient.NotebookClient.execute

    def flaky(self, **kw):
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError(build.KERNEL_DIED_AT_START)
        return real(self, **kw)

    monkeypatch.setattr(nbclient.NotebookClient, "execute", flaky)
    nb = build.execute_notebook(build.NOTEBOOKS_DIR / "province_report.ipynb",
                                {"province": "bac-kan", "period": "2024-07"}, fork=False)
    assert len(calls) == 2 and any(c.get("outputs") for c in nb.cells)

    def dead(self, **kw):
        calls.append(1)
        raise RuntimeError(build.KERNEL_DIED_AT_START)

    calls.clear()
    monkeypatch.setattr(nbclient.NotebookClient, "execute", dead)
    with pytest.raises(RuntimeError, match="died before replying"):
        build.execute_notebook(build.NOTEBOOKS_DIR / "province_report.ipynb",
                               {"province": "bac-kan", "period": "2024-07"}, fork=False)
    assert len(calls) == 1 + build.KERNEL_START_RETRIES


def test_a_build_worker_skips_the_iri_grammar_and_still_validates_notebooks():
    # jsonschema's optional IRI checks build an Earley parser of RFC 3987 on import (seconds of
    # CPU per worker); a build worker marks that module absent, and nbformat still rejects an
    # invalid notebook and an invalid output
    probe = """
import sys
from analysis import build
build._prepare_worker()
import nbformat
from nbformat.v4 import new_code_cell, new_notebook, new_output
print("iri grammar imported:", sys.modules.get("rfc3987_syntax") is not None)
nb = new_notebook(cells=[new_code_cell("1")])
nbformat.validate(nb)
nb.cells[0]["outputs"] = [{"output_type": "stream", "name": "stdout"}]  # no text
try:
    nbformat.validate(nb)
    print("invalid notebook accepted")
except nbformat.ValidationError:
    print("invalid notebook rejected")
for bad in ({"output_type": "display_data", "data": {"text/plain": 5}},
            {"output_type": "stream", "name": "stdout", "text": "a", "extra": 1}):
    try:
        new_output(**bad)
        print("invalid output accepted")
    except nbformat.ValidationError:
        print("invalid output rejected")
print(new_output("display_data", data={"text/plain": "x"}).data["text/plain"])
"""
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True,
                          cwd=PROJECT_DIR)
    assert done.stdout.split("\n")[:5] == ["iri grammar imported: False", "invalid notebook rejected",
                                           "invalid output rejected", "invalid output rejected", "x"]


def test_build_workers_are_forked_prepared_from_the_pool_server(tmp_path):
    """The pool's fork server prepares a worker once (``analysis._buildworker``); what it did
    is what a worker would otherwise do first, and a prepared worker does not do it again."""
    import multiprocessing.forkserver as mpfs

    probe = """
import sys
import analysis._buildworker
from analysis import build
import nbformat.v4.nbbase as nbbase
print(build._PREPARED, getattr(nbbase.validate, "compiled_outputs", False), "nbclient" in sys.modules,
      sys.modules.get("rfc3987_syntax") is None, "IPython" in sys.modules, "pandas" in sys.modules)
"""
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True,
                          cwd=PROJECT_DIR)
    # prepared: the kernel specs' IPython loaded; the report's libraries are the kernels' business
    assert done.stdout.split() == ["True", "True", "True", "True", "True", "False"]
    jobs = [j for j in plan_jobs(DATA_DIR, out_dir=tmp_path) if j.key == "bac-kan/2024-07"]
    (result,) = run_batch(jobs, out_dir=tmp_path, workers=2, progress=False)
    assert result.status == "built", result.error
    assert "analysis._buildworker" in mpfs._forkserver._preload_modules


def test_compiled_output_schemas_agree_with_nbformat():
    import nbformat
    import nbformat.v4.nbbase as nbbase

    build._fast_output_validation()
    original = nbformat.validate
    cases = [("stream", {"output_type": "stream", "name": "stdout", "text": "a"}),
             ("stream", {"output_type": "stream", "name": "stdout"}),
             ("display_data", {"output_type": "display_data", "data": {"text/html": "<b>x</b>"}, "metadata": {}}),
             ("display_data", {"output_type": "display_data", "data": {"text/html": 1}, "metadata": {}}),
             ("execute_result", {"output_type": "execute_result", "data": {}, "metadata": {},
                                 "execution_count": 3}),
             ("execute_result", {"output_type": "execute_result", "data": {}, "metadata": {}}),
             ("error", {"output_type": "error", "ename": "E", "evalue": "v", "traceback": ["t"]}),
             ("error", {"output_type": "error", "ename": "E", "evalue": "v"})]
    seen = []
    for ref, node in cases:
        verdicts = []
        for check in (lambda: nbbase.validate(node, ref), lambda: original(node, ref=ref, version=4)):
            try:
                check()
                verdicts.append(True)
            except nbformat.ValidationError:
                verdicts.append(False)
        assert verdicts[0] == verdicts[1], (ref, node, verdicts)
        seen.append(verdicts[0])
    assert seen == [True, False] * 4  # each valid output accepted, each broken one refused
    assert nbbase.validate.compiled_outputs


def test_reports_state_the_code_version_their_build_found(tmp_path, monkeypatch):
    """The build finds the code version once and its kernels state that one (no git per report)."""
    from analysis import report

    monkeypatch.setattr(report, "code_version", lambda: "0123abcd-found-by-the-build")
    jobs = [j for j in plan_jobs(DATA_DIR, out_dir=tmp_path) if j.key == "bac-kan/2024-07"]
    (result,) = run_batch(jobs, out_dir=tmp_path, workers=1, progress=False)
    assert result.status == "built", result.error
    html = (tmp_path / "bac-kan/2024-07.html").read_text(encoding="utf-8")
    assert "0123abcd-found-by-the-build" in html
    assert report.CODE_VERSION_ENV not in os.environ  # set for the report's kernel only
