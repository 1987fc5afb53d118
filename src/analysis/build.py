"""Batch report builds: plan jobs, skip what is unchanged, run the rest in parallel, publish.

Each report is a papermill run of a notebook in a fresh kernel, then an HTML export with an
exporter reused across reports. A report is rebuilt only when the hash of its inputs changes:
the notebook, its parameters, the slice of data it reads, the analysis package and the lock
file. Outputs are written atomically, a failed report leaves no HTML behind, and the batch
goes on; failures are listed at the end and make the exit status non-zero.
"""
from __future__ import annotations

import hashlib
import html
import json
import os
import shutil
import sys
import tempfile
import time
import traceback
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from dataclasses import asdict, dataclass, field
from pathlib import Path

import pandas as pd

from .config import DATA_DIR, NOTEBOOKS_DIR, PACKAGE_DIR, PROJECT_DIR, REPORTS_DIR
from .errors import ParameterError

__all__ = ["Job", "JobResult", "plan_jobs", "input_hash", "stale_jobs", "run_batch", "write_index", "run_job",
           "KERNEL_NAME", "PROVINCE_NOTEBOOK", "COMPARE_NOTEBOOK"]

KERNEL_NAME = "analysis-766"
PROVINCE_NOTEBOOK = NOTEBOOKS_DIR / "province_report.ipynb"
COMPARE_NOTEBOOK = NOTEBOOKS_DIR / "compare_provinces.ipynb"
STATE_DIR = ".build"  # inside the output directory: stamps and failed notebooks
LOCK_FILE = PROJECT_DIR / "requirements.lock"


@dataclass(frozen=True)
class Job:
    """One report to build: which notebook, with which parameters, written where."""

    kind: str            # "province" or "compare"
    key: str             # "bac-kan/2024-07", "compare/2024-07" (+ ".en")
    notebook: str
    params: tuple        # sorted (name, value) pairs, so the job is hashable
    data_hash: str = ""  # hash of the data slice this report reads

    @property
    def parameters(self) -> dict:
        return dict(self.params)

    def outputs(self, out_dir: Path) -> dict[str, Path]:
        base = out_dir / self.key
        return {"html": base.with_name(base.name + ".html"), "ipynb": base.with_name(base.name + ".ipynb"),
                "xlsx": base.with_name(base.name + ".xlsx"), "csv": base.with_name(base.name + "_tables")}

    def stamp(self, out_dir: Path) -> Path:
        return out_dir / STATE_DIR / (self.key.replace("/", "__") + ".json")


@dataclass
class JobResult:
    key: str
    status: str          # "built", "skipped", "failed"
    seconds: float = 0.0
    error: str = ""
    outputs: dict = field(default_factory=dict)


# --- hashing -----------------------------------------------------------------------------
def _sha(*parts: bytes) -> str:
    h = hashlib.sha256()
    for part in parts:
        h.update(hashlib.sha256(part).digest())
    return h.hexdigest()


def _frame_bytes(df: pd.DataFrame) -> bytes:
    if df.empty:
        return b"empty:" + ",".join(df.columns).encode()
    return pd.util.hash_pandas_object(df.astype(str), index=False).to_numpy().tobytes()


def package_hash() -> str:
    """Hash of every source and data file of the analysis package."""
    files = sorted(p for p in PACKAGE_DIR.rglob("*") if p.is_file() and p.suffix in {".py", ".csv", ".toml"}
                   and "__pycache__" not in p.parts)
    return _sha(*[str(p.relative_to(PACKAGE_DIR)).encode() + b"\0" + p.read_bytes() for p in files])


def province_slice_hash(ds, province: str) -> str:
    """Hash of the rows a province report reads: its units, the sources about it and their rows."""
    from .views import descendants

    inside = set(descendants(ds.units, province, include_self=True)["unit_id"])
    scores = ds.scores.loc[ds.scores["unit_id"].isin(inside)]
    indicators = ds.indicators.loc[ds.indicators["unit_id"].isin(inside)]
    ids = set(scores["source_id"]) | set(indicators["source_id"])
    sources = ds.sources.loc[ds.sources["area_unit_id"].isin(inside) | ds.sources["source_id"].isin(ids)]
    used = set(scores["period_id"]) | set(indicators["period_id"]) | set(sources["period_id"])
    return _sha(_frame_bytes(ds.units.loc[ds.units["unit_id"].isin(inside)]), _frame_bytes(sources),
                _frame_bytes(scores), _frame_bytes(indicators),
                _frame_bytes(ds.periods.loc[ds.periods["period_id"].isin(used)]))


def compare_slice_hash(ds) -> str:
    """Hash of what comparison reports read: province rows, commune totals, units, periods, sources."""
    prov = set(ds.units.loc[ds.units["level"] == "province", "unit_id"])
    communes = set(ds.units.loc[ds.units["level"] == "commune", "unit_id"])
    s = ds.scores
    rows = s.loc[s["unit_id"].isin(prov) | (s["unit_id"].isin(communes) & (s["group"] == "TOTAL"))]
    return _sha(_frame_bytes(rows), _frame_bytes(ds.units), _frame_bytes(ds.periods), _frame_bytes(ds.sources))


def input_hash(job: Job, *, notebook_bytes: bytes, package: str, lock: bytes) -> str:
    """Hash over the notebook code, the parameters, the report's data slice, the package and the lock."""
    return _sha(notebook_bytes, json.dumps(job.params).encode(), job.data_hash.encode(), package.encode(), lock)


# --- planning ----------------------------------------------------------------------------
def _data_manifest(data_dir: Path) -> dict[str, str]:
    from .dataset import LOAD_ORDER, file_sha256

    return {t: file_sha256(data_dir / f"{t}.csv") for t in LOAD_ORDER if (data_dir / f"{t}.csv").exists()}


def plan_jobs(data_dir: Path = DATA_DIR, *, out_dir: Path = REPORTS_DIR, month: str | None = None,
              province: str | None = None, period: str | None = None, langs=("vi",),
              comparisons: bool = True) -> list[Job]:
    """Every report the data allows (or the one asked for), with its data-slice hash.

    Loading and validating the data is skipped when its files are byte-identical to the last
    planned build (the slice hashes are then read from the build state), so a no-op rebuild
    costs a few file hashes.

    Raises
    ------
    ParameterError
        For an unknown province, a period not in the data, or a malformed month, before any
        kernel starts, listing the valid choices.
    """
    data_dir, out_dir = Path(data_dir).resolve(), Path(out_dir)
    if month is not None and (len(month) != 7 or month[4] != "-" or not month.replace("-", "").isdigit()):
        raise ParameterError(f"parameter 'MONTH': '{month}' is not YYYY-MM")
    manifest = _data_manifest(data_dir)
    cache_file = out_dir / STATE_DIR / "plan.json"
    cached = None
    if cache_file.exists():
        try:
            cached = json.loads(cache_file.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            cached = None
    request = {"data_dir": str(data_dir), "month": month, "province": province, "period": period,
               "langs": list(langs), "comparisons": comparisons, "manifest": manifest}
    if cached and cached.get("request") == request:
        return [Job(j["kind"], j["key"], j["notebook"], tuple(tuple(p) for p in j["params"]), j["data_hash"])
                for j in cached["jobs"]]

    from .dataset import load_dataset
    from .report import comparison_periods, validate_parameters
    from .views import report_periods

    ds = load_dataset(data_dir)
    pairs = report_periods(ds)
    if province is not None or period is not None:
        if province is None or period is None:
            raise ParameterError("parameters 'PROVINCE' and 'PERIOD' go together; give both")
        for lang in langs:
            validate_parameters(ds, province, period, lang)
        pairs = pairs.loc[(pairs["province_id"] == province) & (pairs["period_id"] == period)]
        comparisons = False
    if month is not None:
        pairs = pairs.loc[pairs["period_id"].str.startswith(month)]
        if pairs.empty:
            months = sorted({p[:7] for p in report_periods(ds)["period_id"]})
            raise ParameterError(f"parameter 'MONTH': no report period in {month}; months with data: "
                                 f"{', '.join(months)}")
    jobs = []
    data_arg = "" if data_dir == DATA_DIR.resolve() else str(data_dir)
    hashes = {p: province_slice_hash(ds, p) for p in sorted(set(pairs["province_id"]))}
    for lang in langs:
        suffix = "" if lang == "vi" else f".{lang}"
        for prov, per in pairs.itertuples(index=False):
            params = (("data_dir", data_arg), ("lang", lang), ("period", per), ("province", prov))
            jobs.append(Job("province", f"{prov}/{per}{suffix}", PROVINCE_NOTEBOOK.name, params, hashes[prov]))
        if comparisons:
            periods = comparison_periods(ds)
            if month is not None:
                periods = [p for p in periods if p.startswith(month)]
            compare_hash = compare_slice_hash(ds) if periods else ""
            for per in periods:
                params = (("data_dir", data_arg), ("lang", lang), ("period", per))
                jobs.append(Job("compare", f"compare/{per}{suffix}", COMPARE_NOTEBOOK.name, params, compare_hash))
    _atomic_write_text(cache_file, json.dumps({"request": request, "jobs": [asdict(j) for j in jobs]}, indent=1))
    return jobs


# --- running one job (in a worker process) ------------------------------------------------
_EXPORTER = None


def _exporter():
    """One HTML exporter per worker process, reused for every report it renders."""
    global _EXPORTER
    if _EXPORTER is None:
        from nbconvert import HTMLExporter
        from traitlets.config import Config

        c = Config()
        c.TagRemovePreprocessor.enabled = True
        c.TagRemovePreprocessor.remove_cell_tags = {"parameters", "injected-parameters", "remove"}
        c.HTMLExporter.exclude_input = True
        c.HTMLExporter.exclude_input_prompt = True
        c.HTMLExporter.exclude_output_prompt = True
        _EXPORTER = HTMLExporter(config=c)
    return _EXPORTER


_UMASK = os.umask(0)
os.umask(_UMASK)


def _atomic_write_bytes(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp makes 0600; published files are world-readable
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _atomic_write_text(path: Path, text: str) -> None:
    _atomic_write_bytes(path, text.encode("utf-8"))


def _remove_outputs(job: Job, out_dir: Path) -> None:
    """Delete a report's outputs and stamp, so a failed report leaves nothing that looks current."""
    for path in job.outputs(out_dir).values():
        if path.is_dir():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)
    job.stamp(out_dir).unlink(missing_ok=True)


def _report_title(job: Job) -> str:
    """The report's title for the HTML <title>, with the province's name and the period label."""
    from .dataset import read_table
    from .periods import parse_period
    from .report import T

    p = job.parameters
    data_dir = Path(p["data_dir"]) if p["data_dir"] else DATA_DIR
    units = read_table(data_dir / "units.csv", "units").set_index("unit_id")["name"]
    period = parse_period(p["period"])
    label = period.label_vi() if p["lang"] == "vi" else period.label_en()
    return T[p["lang"]]["compare_title" if job.kind == "compare" else "title"].format(
        area=units.get(p.get("province", ""), p.get("province", "")), period=label)


def _export_tables(job: Job, out_dir: Path) -> None:
    """Write the report's tables as one Excel workbook and a folder of CSV files."""
    from .report import ComparisonReport, ProvinceReport

    p = job.parameters
    if job.kind == "province":
        rep = ProvinceReport.load(p["province"], p["period"], p["lang"], p["data_dir"])
    else:
        rep = ComparisonReport.load(p["period"], p["lang"], p["data_dir"])
    tables = {k: v for k, v in rep.tables().items() if isinstance(v, pd.DataFrame)}
    outs = job.outputs(out_dir)
    csv_dir = outs["csv"]
    tmp_dir = Path(tempfile.mkdtemp(prefix=f".{csv_dir.name}.", suffix=".tmp", dir=csv_dir.parent))
    try:
        for name, df in tables.items():
            df.to_csv(tmp_dir / f"{name.replace('/', '__')}.csv", index=False, encoding="utf-8", lineterminator="\n")
        shutil.rmtree(csv_dir, ignore_errors=True)
        os.replace(tmp_dir, csv_dir)
    finally:
        shutil.rmtree(tmp_dir, ignore_errors=True)
    import io

    buf = io.BytesIO()
    with pd.ExcelWriter(buf, engine="openpyxl") as writer:
        for name, df in tables.items():
            sheet = name.replace("/", "_")[-31:]
            df.to_excel(writer, sheet_name=sheet, index=False)
        props = writer.book.properties
        props.creator = "analysis-766"
        fixed = pd.Timestamp("2000-01-01").to_pydatetime()
        props.created = props.modified = fixed
    _atomic_write_bytes(outs["xlsx"], buf.getvalue())


def run_job(job: Job, out_dir: str, notebooks_dir: str, state: str) -> JobResult:
    """Execute one report in a fresh kernel and publish its HTML, notebook and tables.

    Returns a JobResult; never raises for a failing notebook (the error is in the result).
    """
    import nbformat
    import papermill as pm

    out_dir = Path(out_dir)
    start = time.perf_counter()
    outs = job.outputs(out_dir)
    outs["html"].parent.mkdir(parents=True, exist_ok=True)
    try:
        with tempfile.TemporaryDirectory(prefix=".run-", dir=out_dir) as tmp:
            executed = Path(tmp) / "executed.ipynb"
            pm.execute_notebook(str(Path(notebooks_dir) / job.notebook), str(executed), parameters=job.parameters,
                                kernel_name=KERNEL_NAME, progress_bar=False, log_output=False,
                                cwd=str(PROJECT_DIR), request_save_on_cell_execute=False)
            nb = nbformat.read(executed, as_version=4)
            nb.metadata["title"] = _report_title(job)
            body, _ = _exporter().from_notebook_node(nb, resources={"metadata": {"name": _report_title(job)}})
            _export_tables(job, out_dir)
            _atomic_write_bytes(outs["ipynb"], executed.read_bytes())
            _atomic_write_text(outs["html"], body)
        _atomic_write_text(job.stamp(out_dir), json.dumps({"key": job.key, "input_hash": state,
                                                           "params": job.parameters, "kind": job.kind}, indent=1))
        return JobResult(job.key, "built", time.perf_counter() - start,
                         outputs={k: str(v) for k, v in outs.items()})
    except BaseException as exc:  # a failing report must not stop the batch
        _remove_outputs(job, out_dir)
        failed_nb = getattr(exc, "nb", None)
        message = f"{type(exc).__name__}: {exc}".strip()
        if hasattr(exc, "ename"):
            message = f"{exc.ename}: {exc.evalue}"
        if failed_nb is None and not hasattr(exc, "ename"):
            message += "\n" + "".join(traceback.format_exception_only(type(exc), exc)).strip()
        if isinstance(exc, KeyboardInterrupt):
            raise
        return JobResult(job.key, "failed", time.perf_counter() - start, error=message.splitlines()[0][:500])


# --- the batch ----------------------------------------------------------------------------
def _clean_temporaries(out_dir: Path) -> None:
    """Remove temporary files an interrupted earlier run may have left."""
    if not out_dir.exists():
        return
    for path in sorted(out_dir.rglob(".*"), reverse=True):
        if path.name.endswith(".tmp") or path.name.startswith(".run-"):
            if path.is_dir():
                shutil.rmtree(path, ignore_errors=True)
            else:
                path.unlink(missing_ok=True)


def stale_jobs(jobs: list[Job], *, out_dir: Path = REPORTS_DIR, force: bool = False,
               notebooks_dir: Path = NOTEBOOKS_DIR) -> list[tuple[Job, str]]:
    """The jobs whose input hash differs from their stamp (or whose outputs are missing),
    each with its current input hash."""
    out_dir = Path(out_dir)
    package = package_hash()
    lock = LOCK_FILE.read_bytes() if LOCK_FILE.exists() else b""
    notebooks = {name: (Path(notebooks_dir) / name).read_bytes() for name in {j.notebook for j in jobs}}
    todo = []
    for job in jobs:
        state = input_hash(job, notebook_bytes=notebooks[job.notebook], package=package, lock=lock)
        current = False
        stamp = job.stamp(out_dir)
        if not force and stamp.exists():
            try:
                current = json.loads(stamp.read_text(encoding="utf-8")).get("input_hash") == state
            except (OSError, ValueError):
                current = False
            outs = job.outputs(out_dir)
            current = current and outs["html"].exists() and outs["ipynb"].exists()
        if not current:
            todo.append((job, state))
    return todo


def run_batch(jobs: list[Job], *, out_dir: Path = REPORTS_DIR, workers: int | None = None,
              executor: str = "process", force: bool = False, progress: bool = True,
              notebooks_dir: Path = NOTEBOOKS_DIR) -> list[JobResult]:
    """Build the jobs whose inputs changed; return a result per job (built, skipped, failed).

    Parameters
    ----------
    executor : {"process", "serial", "dask"}
        ``process``: a pool of worker processes sized to the CPU count; ``dask``: a Dask
        distributed LocalCluster (or the cluster of an existing ``dask.distributed`` client);
        ``serial``: in this process, one after the other.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    _clean_temporaries(out_dir)
    todo = stale_jobs(jobs, out_dir=out_dir, force=force, notebooks_dir=notebooks_dir)
    stale = {job.key for job, _ in todo}
    results = [JobResult(job.key, "skipped") for job in jobs if job.key not in stale]
    if todo:
        results.extend(_execute(todo, out_dir, workers or os.cpu_count() or 1, executor, progress, notebooks_dir))
    write_index(out_dir)
    order = {j.key: i for i, j in enumerate(jobs)}
    return sorted(results, key=lambda r: order[r.key])


def _bar(total: int, progress: bool):
    from tqdm import tqdm

    return tqdm(total=total, unit="report", disable=not progress, file=sys.stderr, dynamic_ncols=True,
                bar_format="{l_bar}{bar}| {n_fmt}/{total_fmt} [{elapsed}<{remaining}, {rate_fmt}]")


def _execute(todo, out_dir: Path, workers: int, executor: str, progress: bool, notebooks_dir: Path):
    results = []
    bar = _bar(len(todo), progress)
    args = [(job, str(out_dir), str(notebooks_dir), state) for job, state in todo]
    try:
        if executor == "serial" or (executor == "process" and workers == 1):
            for a in args:
                results.append(run_job(*a))
                bar.update(1)
        elif executor == "process":
            import multiprocessing as mp

            with ProcessPoolExecutor(max_workers=min(workers, len(args)),
                                     mp_context=mp.get_context("forkserver")) as pool:
                pending = {pool.submit(run_job, *a): a[0] for a in args}
                while pending:
                    done, _ = wait(pending, return_when=FIRST_COMPLETED)
                    for fut in done:
                        job = pending.pop(fut)
                        try:
                            results.append(fut.result())
                        except BaseException as exc:  # a crashed worker fails its job only
                            _remove_outputs(job, out_dir)
                            results.append(JobResult(job.key, "failed", error=f"{type(exc).__name__}: {exc}"))
                        bar.update(1)
        elif executor == "dask":
            results.extend(_execute_dask(args, out_dir, workers, bar))
        else:
            raise ParameterError(f"parameter 'executor': '{executor}' is not allowed; choose process, serial or dask")
    finally:
        bar.close()
    return results


def _execute_dask(args, out_dir: Path, workers: int, bar):
    from dask.distributed import Client, LocalCluster, as_completed

    try:
        client = Client.current()
        own = None
    except ValueError:
        own = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None)
        client = Client(own)
    results = []
    try:
        futures = {client.submit(run_job, *a, pure=False, key=f"report-{a[0].key}-{a[3][:12]}"): a[0] for a in args}
        for fut in as_completed(futures):
            job = futures[fut]
            try:
                results.append(fut.result())
            except BaseException as exc:
                _remove_outputs(job, out_dir)
                results.append(JobResult(job.key, "failed", error=f"{type(exc).__name__}: {exc}"))
            bar.update(1)
    finally:
        if own is not None:
            client.close()
            own.close()
    return results


def write_index(out_dir: Path = REPORTS_DIR) -> Path:
    """Write ``index.html`` linking every report that has a current stamp."""
    from .report import T

    out_dir = Path(out_dir)
    entries = []
    for stamp in sorted((out_dir / STATE_DIR).glob("*.json")):
        if stamp.name == "plan.json":
            continue
        try:
            info = json.loads(stamp.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if (out_dir / f"{info['key']}.html").exists():
            entries.append(info)
    rows = []
    for info in sorted(entries, key=lambda i: (i["kind"] != "compare", i["key"])):
        key, p = info["key"], info["params"]
        title = T[p["lang"]]["compare_title" if info["kind"] == "compare" else "title"].format(
            area=p.get("province", ""), period=p["period"])
        links = " · ".join(f'<a href="{html.escape(key)}{ext}">{label}</a>'
                           for ext, label in ((".html", "HTML"), (".ipynb", "notebook"), (".xlsx", "Excel")))
        rows.append(f"<tr><td>{html.escape(title)}</td><td>{html.escape(p.get('province', '–'))}</td>"
                    f"<td>{html.escape(p['period'])}</td><td>{links}</td></tr>")
    page = ("<!DOCTYPE html>\n<html lang=\"vi\"><head><meta charset=\"utf-8\"><title>Báo cáo Chỉ số 766</title>"
            "<style>body{font-family:sans-serif;margin:2em}td,th{padding:4px 10px;border-bottom:1px solid #ddd}"
            "</style></head><body><h1>Báo cáo Chỉ số 766</h1>"
            f"<p>{len(rows)} báo cáo.</p><table><thead><tr><th>Báo cáo</th><th>Tỉnh</th><th>Kỳ</th>"
            "<th>Tệp</th></tr></thead><tbody>" + "".join(rows) + "</tbody></table></body></html>\n")
    path = out_dir / "index.html"
    _atomic_write_text(path, page)
    return path
