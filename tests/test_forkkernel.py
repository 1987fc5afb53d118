"""Forked kernels: each report runs in its own process forked from a server with the libraries
imported; reports cannot see each other's state, and no kernel outlives its report."""
from __future__ import annotations

import os
from pathlib import Path

import nbformat
import pytest

from analysis import build
from analysis.forkkernel import ENV_SOCKET

pytestmark = pytest.mark.slow


def notebook(tmp_path: Path, name: str, *cells: str) -> Path:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": build.KERNEL_NAME, "display_name": "analysis-766", "language": "python"}
    params = nbformat.v4.new_code_cell('tag: str = ""')
    params.metadata["tags"] = ["parameters"]
    nb.cells = [params, *[nbformat.v4.new_code_cell(c) for c in cells]]
    path = tmp_path / f"{name}.ipynb"
    nbformat.write(nb, path)
    return path


def outputs(nb) -> list[str]:
    return ["".join(o.get("text", "")) for c in nb.cells for o in c.get("outputs", []) if o.get("name") == "stdout"]


def test_reports_cannot_see_each_others_state(tmp_path):
    writer = notebook(tmp_path, "writer",
                      "import os, sys, analysis.config as cfg\n"
                      "cfg.LEAKED = tag\nLEFT_BEHIND = 42\nimport pandas as pd\npd.options.display.max_rows = 3\n"
                      "print(os.getpid(), 'pandas' in sys.modules)")
    reader = notebook(tmp_path, "reader",
                      "import os, analysis.config as cfg, pandas as pd\n"
                      "print(os.getpid(), hasattr(cfg, 'LEAKED'), 'LEFT_BEHIND' in globals(), pd.options.display.max_rows)")
    first = outputs(build.execute_notebook(writer, {"tag": "first report"}))
    second = outputs(build.execute_notebook(reader, {"tag": "second report"}))
    pid1, preloaded = first[0].split()
    pid2, leaked, left, max_rows = second[0].split()
    assert preloaded == "True"  # the kernel started with pandas already imported (forked)
    assert pid1 != pid2  # a fresh process for every report
    assert (leaked, left) == ("False", "False")  # nothing set by the first report is visible
    assert max_rows == str(60)  # pandas options are back at their defaults


def test_kernels_are_forked_and_none_outlives_its_report(tmp_path):
    probe = notebook(tmp_path, "probe", "import os\nprint(os.getppid())")
    build.execute_notebook(probe, {})
    server = build._ZYGOTE
    assert server is not None and os.path.exists(os.environ[ENV_SOCKET])
    (parent,) = outputs(build.execute_notebook(probe, {}))
    assert int(parent) == server.pid  # the kernel's parent is the fork server
    children = Path(f"/proc/{server.pid}/task/{server.pid}/children").read_text().split()
    assert children == []


def test_a_build_kernel_loads_no_debugger(tmp_path):
    # nobody attaches a debugger to a build's kernel: the server never loads debugpy (pydevd),
    # and the kernel still runs its cells
    probe = notebook(tmp_path, "probe", "import sys\nprint(sys.modules.get('debugpy'), 'pydevd' in sys.modules)")
    assert outputs(build.execute_notebook(probe, {})) == ["None False\n"]


def test_a_forked_kernel_collects_cycles_with_report_thresholds(tmp_path):
    # the server runs with the collector off; its kernels collect, less often than the default
    probe = notebook(tmp_path, "probe", "import gc\nprint(gc.isenabled(), gc.get_threshold())")
    assert outputs(build.execute_notebook(probe, {})) == ["True (10000, 50, 100)\n"]


def test_without_a_server_the_launcher_is_a_plain_kernel(tmp_path, monkeypatch):
    """Outside a build (no server listening), the fork launcher simply becomes an ipykernel."""
    import subprocess

    monkeypatch.setenv(ENV_SOCKET, str(tmp_path / "no-such-socket"))
    from jupyter_client.manager import KernelManager

    class SyncForkKernelManager(KernelManager):  # the build's command, driven synchronously here
        format_kernel_cmd = build._kernel_manager_class(True).format_kernel_cmd

    km = SyncForkKernelManager(kernel_name=build.KERNEL_NAME)
    km.start_kernel(stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        kc = km.client()
        kc.start_channels()
        kc.wait_for_ready(timeout=60)
        seen = []
        kc.execute_interactive("import os, sys; print(os.getpid(), sys.argv[0])", timeout=60,
                               output_hook=lambda msg: seen.append(msg["content"].get("text", "")))
        pid, argv0 = "".join(seen).split()
        assert int(pid) == km.provisioner.process.pid  # the launcher became the kernel (exec)
        assert argv0.endswith("ipykernel_launcher.py")
        kc.stop_channels()
    finally:
        km.shutdown_kernel(now=True)


def test_an_inherited_server_address_is_not_used(tmp_path, monkeypatch):
    """A build started from a process that had its own fork server (say, a benchmark) must not
    fork its kernels from that server: it may hold other code."""
    monkeypatch.setattr(build, "_ZYGOTE", None)
    monkeypatch.setattr(build, "_SOCKET", None)
    foreign = tmp_path / "foreign.sock"
    foreign.write_text("")  # exists, as an inherited socket of another process would
    monkeypatch.setenv(ENV_SOCKET, str(foreign))
    build._start_zygote()
    try:
        assert build._SOCKET != str(foreign) and os.environ[ENV_SOCKET] == build._SOCKET
    finally:
        build.stop_zygote()


def test_a_forked_kernel_uses_the_data_its_server_holds(tmp_path, monkeypatch):
    """The fork server holds a data directory's hashes and core tables for the build that names
    it (ANALYSIS_HOLD_DATA); a kernel forked for that build loads the same dataset as a plain
    load, records the same hashes in its read log, and a changed file is held afresh."""
    import json
    import shutil

    from analysis.config import DATA_DIR
    from analysis.dataset import load_dataset
    from analysis.forkkernel import ENV_HOLD

    data = tmp_path / "data"
    shutil.copytree(DATA_DIR, data)
    probe = notebook(tmp_path, "probe",
                     "import json, analysis.dataset as d\n"
                     f"ds = d.load_dataset({str(data)!r}, province='bac-kan')\n"
                     "print(json.dumps([sorted(d._HELD_DATA), ds.file_hashes, len(ds.units), len(ds.scores), "
                     "float(ds.scores['value'].sum())]))")
    log = tmp_path / "reads.jsonl"
    monkeypatch.setenv(build.READ_LOG_ENV, str(log))

    def run(manifest):
        monkeypatch.setenv(ENV_HOLD, json.dumps({"data_dir": str(data), "manifest": manifest}))
        return json.loads(outputs(build.execute_notebook(probe, {}))[0])

    plain = load_dataset(data, province="bac-kan")
    plan, _ = build._data_manifest(data)
    held, hashes, n_units, n_scores, total = run(plan)
    assert held == [str(data.resolve())]  # the kernel found the held entry
    assert hashes == plain.file_hashes and (n_units, n_scores) == (len(plain.units), len(plain.scores))
    assert total == pytest.approx(float(plain.scores["value"].sum()))
    assert json.loads(log.read_text(encoding="utf-8").splitlines()[-1]) == plain.file_hashes
    units = (data / "units.csv").read_text(encoding="utf-8")
    (data / "units.csv").write_text(units + "\n", encoding="utf-8")
    _, changed, *_ = run(build._data_manifest(data)[0])  # the plan of the new contents: held again
    assert changed["units.csv"] != plain.file_hashes["units.csv"]
    assert changed == load_dataset(data).file_hashes


def test_a_server_holds_the_planned_version_without_hashing_the_files(tmp_path, monkeypatch):
    """Given the build's plan, the server holds the validated cache entry of exactly the planned
    file versions, without reading the files again: a file changed after the plan does not
    change what the build's reports use, and their read logs name the planned versions."""
    import shutil

    from analysis import dataset
    from analysis.config import DATA_DIR

    data = tmp_path / "data"
    shutil.copytree(DATA_DIR, data)
    plan, _ = build._data_manifest(data)
    before = dataset.load_dataset(data)  # validates the planned versions (their cache entry)
    (data / "units.csv").write_text((data / "units.csv").read_text(encoding="utf-8") + "\n", encoding="utf-8")

    def no_hashing(path):
        raise AssertionError(f"{path} hashed again")

    monkeypatch.setattr(dataset, "file_sha256", no_hashing)
    try:
        assert dataset.hold(data, plan)
        held = dataset._HELD_DATA[str(data.resolve())]
        assert held["hashes"] == before.file_hashes and held["manifest"] == plan
        assert len(held["core"]["units"]) == len(before.units)
    finally:
        dataset.held_only(None)


def test_a_build_asks_the_server_for_its_kernel_directly_and_signals_reach_it():
    """In a build no launcher process starts per report: the kernel manager asks the fork
    server itself and holds the forked kernel as its process (pid, exit status, signals)."""
    import asyncio

    from analysis.forkkernel import ForkedKernel

    async def run():
        km = build._kernel_manager_class(True)(kernel_name=build.KERNEL_NAME)
        await km.start_kernel()
        kc = km.client()
        kc.start_channels()
        try:
            await kc.wait_for_ready(timeout=60)
            kernel = km.provisioner.process
            assert isinstance(kernel, ForkedKernel) and kernel.poll() is None
            seen = []
            await kc.execute_interactive("import os; print(os.getpid(), os.getppid())", timeout=60,
                                         output_hook=lambda m: seen.append(m["content"].get("text", "")))
            assert "".join(seen).split() == [str(kernel.pid), str(build._ZYGOTE.pid)]
            msg_id = kc.execute("import time; time.sleep(60)")
            await asyncio.sleep(0.5)
            await km.interrupt_kernel()  # SIGINT, sent to the forked kernel
            while True:
                reply = await kc.get_shell_msg(timeout=20)
                if reply["parent_header"].get("msg_id") == msg_id:
                    break
            assert reply["content"]["ename"] == "KeyboardInterrupt"
        finally:
            kc.stop_channels()
            await km.shutdown_kernel(now=True)
        assert kernel.poll() is not None  # reaped by the server, its status passed on

    build._start_zygote()
    try:
        asyncio.run(run())
    finally:
        build.stop_zygote()
