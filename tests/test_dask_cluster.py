"""Builds on an existing Dask cluster: a real ``dask scheduler`` and two ``dask worker``
processes on 127.0.0.1 build the same reports byte for byte as a local build, with the same
cache; a bad or unreachable scheduler address ends in one line."""
from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from analysis import build, cli
from analysis.build import plan_jobs, run_batch
from analysis.config import DATA_DIR, PROJECT_DIR

pytestmark = pytest.mark.slow
KEYS = ("bac-kan/2024-07", "tuyen-quang/2024-07")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def cluster():
    """A scheduler and two single-thread workers, each in its own session (killed at the end)."""
    pytest.importorskip("dask.distributed")
    dask = Path(sys.executable).with_name("dask")
    if not dask.exists():
        pytest.skip("the 'dask' command is not installed beside this Python")
    port = _free_port()
    address = f"tcp://127.0.0.1:{port}"
    procs = []

    def start(*argv):
        procs.append(subprocess.Popen([str(dask), *argv], cwd=PROJECT_DIR, start_new_session=True,
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))

    try:
        start("scheduler", "--host", "127.0.0.1", "--port", str(port), "--no-dashboard")
        for _ in range(2):
            start("worker", address, "--host", "127.0.0.1", "--nthreads", "1", "--nworkers", "1",
                  "--no-dashboard", "--no-nanny")
        from dask.distributed import Client

        with Client(address, timeout=60, set_as_default=False) as client:
            client.wait_for_workers(2, timeout=60)
        yield address
    finally:
        for proc in procs:
            try:
                os.killpg(proc.pid, signal.SIGKILL)  # the worker's fork server and kernels too
            except ProcessLookupError:
                pass
            proc.wait(timeout=30)


def _files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file() and ".build/work" not in str(p) and p.name != "plan.json"}  # plan cache: planning only


def test_cluster_build_is_byte_identical_to_a_local_build(cluster, tmp_path):
    local, remote = tmp_path / "local", tmp_path / "remote"
    jobs = [j for j in plan_jobs(DATA_DIR, out_dir=local) if j.key in KEYS]
    assert {j.key for j in jobs} == set(KEYS)
    assert {r.status for r in run_batch(jobs, out_dir=local, executor="serial", progress=False)} == {"built"}
    results = run_batch(jobs, out_dir=remote, executor="dask", scheduler=cluster, progress=False)
    assert {r.key: r.status for r in results} == {k: "built" for k in KEYS}, results
    a, b = _files(local), _files(remote)
    assert sorted(a) == sorted(b)
    assert {Path(name).suffix for name in a} >= {".html", ".ipynb", ".xlsx", ".csv", ".json"}
    assert [name for name in a if a[name] != b[name]] == []
    again = run_batch(jobs, out_dir=remote, executor="dask", scheduler=cluster, progress=False)
    assert {r.status for r in again} == {"skipped"}  # the stamps a local build would read


def test_unreachable_scheduler_is_one_line(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(build, "CONNECT_TIMEOUT", 2)
    port = _free_port()  # nothing listens there
    data = tmp_path / "data"  # its own data dir: no wait behind another test's build from data/
    shutil.copytree(DATA_DIR, data)
    code = cli.main(["build", "--executor", "dask", "--scheduler", f"tcp://127.0.0.1:{port}", "--quiet",
                     "--data", str(data), "--province", "bac-kan", "--period", "2024-07",
                     "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err.strip()
    assert code == 1 and err.count("\n") == 0, err
    assert err.startswith("error: cannot reach the Dask scheduler at") and str(port) in err
    assert not list((tmp_path / "out").rglob("*.html"))


@pytest.mark.parametrize("argv, env", [
    (["--executor", "dask", "--scheduler", "tcp://host;rm -rf x"], None),
    (["--executor", "dask", "--scheduler", "tcp://127.0.0.1:99999"], None),
    (["--scheduler", "tcp://127.0.0.1:8786"], None),  # only with the dask executor
    (["--executor", "dask"], "$(reboot)"),
])
def test_bad_scheduler_address_is_refused_before_planning(tmp_path, monkeypatch, capsys, argv, env):
    if env:
        monkeypatch.setenv("DASK_SCHEDULER_ADDRESS", env)
    try:
        code = cli.main(["build", *argv, "--out", str(tmp_path / "out")])
    except SystemExit as exc:  # argparse refuses the value itself
        code = exc.code
    err = capsys.readouterr().err
    assert code == 2, err
    assert err.count("\n") == 1 and err.startswith("error: ")
    assert "SCHEDULER" in err and "Traceback" not in err
    assert not (tmp_path / "out").exists()
