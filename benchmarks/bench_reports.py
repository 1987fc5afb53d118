"""Benchmark: building N reports on SYNTHETIC national data, three ways, in one run.

(a) the naive loop: the papermill CLI, then the jupyter nbconvert CLI, for each report in turn;
(b) the batch runner (``analysis.build``: worker pool, forked kernels, reused exporter);
(c) the plain-Python floor: the same report sections computed in one process, no notebook;
(d) with ``--dask``: the batch runner sending the reports to an existing Dask cluster (a
    ``dask scheduler`` and ``--workers`` single-thread ``dask worker`` processes that the
    benchmark starts on 127.0.0.1 before timing), to compare with (b).

After the table, two profiles at the largest N, so the next hot spot is visible:

* (c) per section: seconds per report for loading the data, each section's computation, the
  rendering of its figures (whatever format the notebook display draws: PNG or SVG, timed apart
  by wrapping ``analysis.figures.to_png``/``to_svg``), the display (what a notebook cell shows:
  ``render.display_bundles`` when the package has it, else ``render.section_html``) and the
  exports a build writes (``report.build_exports``: Excel, CSV);
* (b) per phase, from a few of the same reports run one at a time through ``build.run_job``
  (the real path, fork server already warm): kernel start, each notebook cell (load, each
  section computed and displayed), the export statement run in the kernel after the notebook,
  kernel stop, and the worker's nbconvert HTML export and publishing.

Prints wall seconds per report, the ratios between the three, and the peak memory of the whole
process tree (runner, workers, fork servers, kernels; proportional set size), sampled from
/proc every 0.1 s. With
``--noop`` it also builds every report of the synthetic year (408 province-months plus the
comparisons) and times a no-op rebuild through the command line, as a user would run it.

Run: ``.venv/bin/python benchmarks/bench_reports.py [--sizes 8 34 100] [--noop]``.
The data are synthetic (``python -m analysis synthetic``), written under build/bench/.
"""
from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from analysis.build import KERNEL_NAME, PROVINCE_NOTEBOOK, plan_jobs, run_batch, stop_zygote  # noqa: E402

VENV_BIN = Path(sys.executable).parent


class TreeMemory:
    """Peak memory of this process and all its descendants, sampled from /proc.

    Each process counts its proportional set size (Pss in /proc/PID/smaps_rollup): pages shared
    by several processes (forked kernels share their parent's libraries copy-on-write) are split
    among them, so the sum is the memory the tree really occupies. Summing RSS would count the
    shared pages once per process.
    """

    def __init__(self, interval: float = 0.1):
        self.interval, self.peak, self._stop = interval, 0, threading.Event()

    @staticmethod
    def _tree_rss(root: int) -> int:
        children: dict[int, list[int]] = {}
        rss: dict[int, int] = {}  # pids seen
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                with open(f"/proc/{entry}/stat") as fh:
                    ppid = int(fh.read().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry))
            rss[int(entry)] = int(entry)
        total, stack = 0, [root]
        while stack:
            pid = stack.pop()
            total += TreeMemory._pss(pid)
            stack.extend(children.get(pid, []))
        return total

    @staticmethod
    def _pss(pid: int) -> int:
        try:
            with open(f"/proc/{pid}/smaps_rollup") as fh:
                for line in fh:
                    if line.startswith("Pss:"):
                        return int(line.split()[1]) * 1024
        except OSError:
            pass
        return 0

    def _run(self):
        while not self._stop.is_set():
            self.peak = max(self.peak, self._tree_rss(os.getpid()))
            time.sleep(self.interval)

    def __enter__(self):
        self.peak = 0
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self._stop.clear()


def naive(jobs, out: Path) -> None:
    """(a) what offices do today: one papermill CLI run and one nbconvert CLI run per report."""
    for job in jobs:
        p = job.parameters
        target = out / f"{p['province']}_{p['period']}.ipynb"
        cmd = [str(VENV_BIN / "papermill"), str(PROVINCE_NOTEBOOK), str(target), "-k", KERNEL_NAME,
               "--no-progress-bar", "--log-level", "ERROR", "--cwd", str(ROOT)]
        for name, value in sorted(p.items()):
            cmd += ["-r", name, str(value)]
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        subprocess.run([str(VENV_BIN / "jupyter"), "nbconvert", "--to", "html", "--no-input", str(target),
                        "--log-level", "ERROR"], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


SECTIONS = ("title", "headline", "groups", "units", "indicators", "audit", "correlations", "recommendations",
            "provenance")


class _FigureClock:
    """Time spent in ``analysis.figures.to_png`` / ``to_svg`` (what drawing a figure costs),
    whoever calls them, under ``figures (PNG)`` / ``figures (SVG)``."""

    def __init__(self, profile: dict):
        self.profile, self.saved, self.inside = profile, {}, 0.0

    def __enter__(self):
        from analysis import figures

        for name, label in (("to_png", "figures (PNG)"), ("to_svg", "figures (SVG)")):
            fn = getattr(figures, name, None)
            if fn is None:
                continue
            self.saved[name] = fn

            def timed(*a, _fn=fn, _label=label, **kw):
                start = time.perf_counter()
                try:
                    return _fn(*a, **kw)
                finally:
                    spent = time.perf_counter() - start
                    self.profile[_label] = self.profile.get(_label, 0.0) + spent
                    self.inside += spent

            setattr(figures, name, timed)
        return self

    def __exit__(self, *exc):
        from analysis import figures

        for name, fn in self.saved.items():
            setattr(figures, name, fn)


def floor(jobs, out: Path, profile: dict | None = None) -> None:
    """(c) the same sections computed, displayed and exported in this process, with no notebook
    or kernel.

    With ``profile``, add the seconds of each step to it: loading the data, each section's
    computation (figures built, not drawn), drawing the figures (timed apart), the rest of the
    display, and the exports a build writes (Excel, CSV).
    """
    from analysis import render
    from analysis.build import DEFAULT_FORMATS
    from analysis.report import ProvinceReport, build_exports

    profile = {} if profile is None else profile
    show = getattr(render, "display_bundles", None) or render.section_html

    def clock(name, fn, *a, **kw):
        start = time.perf_counter()
        value = fn(*a, **kw)
        profile[name] = profile.get(name, 0.0) + time.perf_counter() - start
        return value

    with _FigureClock(profile) as figures:
        for job in jobs:
            p = job.parameters
            r = clock("load", ProvinceReport.load, p["province"], p["period"], p["lang"], p["data_dir"])
            shown = []
            for name in SECTIONS:
                content = clock(name, getattr(r, name))
                before = figures.inside
                start = time.perf_counter()
                shown.append(show(content))
                profile["display"] = (profile.get("display", 0.0) + time.perf_counter() - start
                                      - (figures.inside - before))
            before = figures.inside
            start = time.perf_counter()
            build_exports(r, out / f"{p['province']}_{p['period']}", [f for f in DEFAULT_FORMATS if f != "html"])
            profile["exports"] = profile.get("exports", 0.0) + time.perf_counter() - start - (figures.inside - before)
            (out / f"{p['province']}_{p['period']}.txt").write_text(repr(shown)[:100000], encoding="utf-8")


def phases(jobs, out: Path) -> dict:
    """(b)'s real path, one report at a time in this process (``build.run_job``, fork server
    warm): seconds per phase, summed over ``jobs``."""
    import re

    import nbclient.client as ncc

    from analysis import build

    profile: dict = {}

    def add(name, seconds):
        profile[name] = profile.get(name, 0.0) + seconds

    def wrap_async(owner, attr, label):
        fn = getattr(owner, attr)

        async def timed(self, *a, **kw):
            start = time.perf_counter()
            try:
                return await fn(self, *a, **kw)
            finally:
                add(label(self, *a) if callable(label) else label, time.perf_counter() - start)

        setattr(owner, attr, timed)
        return fn

    def cell_label(client, cell, *_):
        src = "".join(cell.get("source", ""))
        if "build_exports" in src:
            return "kernel: exports (xlsx, csv)"
        found = re.search(r"report\.(\w+)\(\)", src)
        if found:
            return f"kernel: {found.group(1)}"
        return "kernel: load" if ".load(" in src else "kernel: other cells"

    saved = {("start", "async_start_new_kernel"): "kernel start", ("client", "async_start_new_kernel_client"):
             "kernel start", ("cell", "async_execute_cell"): cell_label, ("stop", "_async_cleanup_kernel"):
             "kernel stop"}
    originals = {attr: wrap_async(ncc.NotebookClient, attr, label) for (_, attr), label in saved.items()}
    exporter = build._exporter()
    convert = type(exporter).from_notebook_node

    def timed_convert(self, *a, **kw):
        start = time.perf_counter()
        try:
            return convert(self, *a, **kw)
        finally:
            add("worker: nbconvert HTML", time.perf_counter() - start)

    type(exporter).from_notebook_node = timed_convert
    try:
        build._start_zygote()
        from analysis.report import code_version

        code = code_version()  # as a build finds it, once
        with build.build_lock(build._data_dirs(jobs), out):
            build.run_job(jobs[0], str(out), str(build.NOTEBOOKS_DIR), "warm-up", True, dict(jobs[0].inputs), code)
            profile.clear()
            for job in jobs:
                start = time.perf_counter()
                result = build.run_job(job, str(out), str(build.NOTEBOOKS_DIR), "profile", True, dict(job.inputs),
                                       code)
                add("total", time.perf_counter() - start)
                if result.status != "built":
                    raise SystemExit(f"profile run failed: {result.error}")
    finally:
        type(exporter).from_notebook_node = convert
        for attr, fn in originals.items():
            setattr(ncc.NotebookClient, attr, fn)
        stop_zygote()
    inside = sum(v for k, v in profile.items() if k.startswith("kernel") or k.startswith("worker"))
    profile["worker: rest (papermill, checks, publishing)"] = profile.pop("total") - inside
    return profile


def _print_profile(profile: dict, n: int, width: int = 18) -> None:
    total = sum(profile.values())
    for name, secs in sorted(profile.items(), key=lambda kv: -kv[1]):
        print(f"  {name:<{width}} {secs / n:6.3f}  {100 * secs / total:5.1f} %")
    print(f"  {'total':<{width}} {total / n:6.3f}")


def timed(fn, *args):
    with TreeMemory() as mem:
        start = time.perf_counter()
        fn(*args)
        seconds = time.perf_counter() - start
    return seconds, mem.peak / 2**20


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[8, 34, 100])
    parser.add_argument("--workers", type=int, default=os.cpu_count())
    parser.add_argument("--work", type=Path, default=ROOT / "build" / "bench")
    parser.add_argument("--skip-naive", action="store_true", help="skip (a), the slowest")
    parser.add_argument("--noop", action="store_true", help="also build all reports and time a no-op rebuild")
    parser.add_argument("--dask", action="store_true", help="also (d): the batch through an external Dask "
                                                            "cluster on 127.0.0.1")
    parser.add_argument("--phases", type=int, default=4, help="reports in the per-phase profile of (b) "
                                                              "(0: none)")
    args = parser.parse_args(argv)

    data = args.work / "synthetic-data"
    if not (data / "scores.csv").exists():
        print("generating SYNTHETIC national data …", flush=True)
        subprocess.run([sys.executable, "-m", "analysis", "synthetic", "--out", str(data)], check=True,
                       stdout=subprocess.DEVNULL)
    start = time.perf_counter()
    jobs = [j for j in plan_jobs(data, out_dir=args.work / "plan") if j.kind == "province"]
    print(f"SYNTHETIC data: {len(jobs)} province-month reports available; planning (validation, cached "
          f"after the first run) took {time.perf_counter() - start:.1f} s")
    print(f"machine: {os.cpu_count()} CPUs; batch runner with {args.workers} workers, forked kernels\n")

    rows, profile = [], {}
    cluster = _Cluster(args.workers) if args.dask else None
    ways = ("a", "b", "c", "d") if cluster else ("a", "b", "c")
    for n in args.sizes:
        # spread the reports over provinces and months, the same set for the three ways
        step = max(1, len(jobs) // n)
        subset = jobs[::step][:n]
        result = {"n": n}
        for way in ways:
            if way == "a" and args.skip_naive:
                continue
            out = args.work / f"{way}-{n}"
            shutil.rmtree(out, ignore_errors=True)
            out.mkdir(parents=True)
            if way == "a":
                secs, mb = timed(naive, subset, out)
            elif way == "b":
                secs, mb = timed(lambda: _batch(subset, out, args.workers))
            elif way == "c":
                profile = {}
                secs, mb = timed(floor, subset, out, profile)
            else:
                secs, mb = timed(lambda: _batch(subset, out, args.workers, scheduler=cluster.address))
            result[way] = (secs, mb)
            print(f"  N={n:>3} ({way}) {secs:8.1f} s  {secs / n:6.2f} s/report  peak {mb:7.0f} MB", flush=True)
        rows.append(result)

    print("\n  N   (a) naive s/rep  (b) batch s/rep  (c) floor s/rep   a/b    b/c   peak MB a / b / c")
    for r in rows:
        def per(way):
            return r[way][0] / r["n"] if way in r else float("nan")
        mem = " / ".join(f"{r[w][1]:.0f}" if w in r else "–" for w in "abc")
        print(f"{r['n']:>4} {per('a'):16.2f} {per('b'):16.2f} {per('c'):16.2f} {per('a') / per('b'):6.1f} "
              f"{per('b') / per('c'):6.1f}   {mem}")
    if cluster:
        cluster.stop()
        print("\n  N   (d) Dask cluster s/rep  (b) local batch s/rep   d/b   peak MB d")
        for r in rows:
            print(f"{r['n']:>4} {r['d'][0] / r['n']:22.2f} {r['b'][0] / r['n']:22.2f} "
                  f"{r['d'][0] / r['b'][0]:5.2f}   {r['d'][1]:.0f}")
    if profile:
        n = rows[-1]["n"]
        print(f"\nprofile of (c), N={n}: seconds per report (figures = drawing them, apart from the "
              f"section that builds them and from the display)")
        _print_profile(profile, n)
    if args.phases and rows:
        n = rows[-1]["n"]
        step = max(1, len(jobs) // n)
        sample = jobs[::step][:n][:args.phases]
        out = args.work / "phases"
        shutil.rmtree(out, ignore_errors=True)
        out.mkdir(parents=True)
        prof = phases(sample, out)
        print(f"\nprofile of (b), {len(sample)} of the reports one at a time through build.run_job: seconds "
              f"per report (kernel: in the report's kernel; worker: in the build's worker)")
        _print_profile(prof, len(sample), width=46)

    if args.noop:
        out = args.work / "all"
        cmd = [sys.executable, "-m", "analysis", "build", "--data", str(data), "--out", str(out), "--quiet",
               "--workers", str(args.workers)]
        start = time.perf_counter()
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        full = time.perf_counter() - start
        n_all = len(plan_jobs(data, out_dir=out))
        start = time.perf_counter()
        done = subprocess.run(cmd, check=True, capture_output=True, text=True)
        noop = time.perf_counter() - start
        print(f"\nall {n_all} reports built in {full:.0f} s ({full / n_all:.2f} s/report); "
              f"no-op rebuild through the CLI: {noop:.2f} s ({done.stdout.strip()})")
    return 0


class _Cluster:
    """A ``dask scheduler`` and ``n`` single-thread ``dask worker`` processes on 127.0.0.1."""

    def __init__(self, n: int):
        import socket

        from dask.distributed import Client

        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        self.address = f"tcp://127.0.0.1:{port}"
        self.procs = []
        dask = str(VENV_BIN / "dask")
        argvs = [["scheduler", "--host", "127.0.0.1", "--port", str(port), "--no-dashboard"]]
        argvs += [["worker", self.address, "--host", "127.0.0.1", "--nthreads", "1", "--no-dashboard",
                   "--no-nanny"]] * n
        for argv in argvs:
            self.procs.append(subprocess.Popen([dask, *argv], cwd=ROOT, start_new_session=True,
                                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        with Client(self.address, timeout=60, set_as_default=False) as client:
            client.wait_for_workers(n, timeout=120)

    def stop(self):
        import signal

        for proc in self.procs:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            proc.wait()


def _batch(jobs, out, workers, scheduler=None):
    try:
        results = run_batch(jobs, out_dir=out, workers=workers, force=True, progress=False,
                            executor="dask" if scheduler else "process", scheduler=scheduler)
    finally:
        stop_zygote()  # its start-up is part of (b); it must not count towards (a) or (c) after
    failed = [r for r in results if r.status != "built"]
    if failed:
        raise SystemExit(f"batch failed: {failed[:3]}")


if __name__ == "__main__":
    sys.exit(main())
