"""Batch report builds: plan jobs, skip what is unchanged, run the rest in parallel, publish.

Each report is a papermill run of a notebook in a fresh kernel; the same kernel then writes the
report's Word, Excel and CSV files from the sections the notebook computed (:data:`EXPORT_CODE`,
not saved in the notebook), and the worker exports the HTML with an exporter reused across
reports. Kernels are forked from a server that has the libraries imported and holds the build's
data directory in memory (:mod:`analysis.forkkernel`). A report is rebuilt only when the hash of its inputs changes:
the notebook, its parameters, the slice of data it reads, the analysis package and the lock
file. Outputs are written atomically, a failed report leaves no HTML behind, and the batch
goes on; failures are listed at the end and make the exit status non-zero.

Crash safety (what a SIGKILL, a full disk or a second build at the same time can do):

* One build at a time per output directory and per data directory (:func:`build_lock`, a
  ``flock`` on each directory; a second build stops with a one-line "in use" error).
* A build writes only inside ``<out>/.build/`` (its state folder, marked by
  ``.build/OWNER``) and the report files it publishes. Every temporary file lives in
  ``<out>/.build/work/<pid>/`` and reaches its final name by an atomic rename, so a killed
  build leaves nothing beside the reports; the next build deletes ``.build/work/`` (it holds
  the lock, so no other build is using it). Nothing else under ``--out`` is ever deleted.
* The data files are hashed when the build is planned, and every kernel records the hashes of
  the file contents it actually loaded (``ANALYSIS_READ_LOG``). A report whose kernel read
  other contents (a file changed during the build) fails with a one-line reason and gets no
  stamp, so the next build makes it again; a stamp lists the hashes its report read.
* Reports run in a small pool of worker processes (:func:`_run_pool`); a worker that dies
  (SIGKILL, out of memory) fails the report it was running, and a new worker takes its place.
  Workers, fork servers and kernels die with their parent (``PR_SET_PDEATHSIG`` on Linux, a
  parent watchdog elsewhere), so a killed build leaves no process publishing reports.
* On an existing Dask cluster (``run_batch(..., executor="dask", scheduler=ADDRESS)``) this
  process still plans, locks, skips and indexes; the workers only run :func:`run_job` on
  absolute paths they must reach (a file system shared at the same paths). Before any report
  is sent, every worker is checked: the same package and lock file as this build (the stamps
  name that code), and the output, notebook and data directories visible. One report at a
  time runs per worker process, whatever its thread count.
"""
from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import os
import re
import shutil
import sys
import tempfile
import threading
import time
import traceback
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path

from .config import DATA_DIR, EXPORT_META, NOTEBOOKS_DIR, PACKAGE_DIR, PROJECT_DIR, REPORTS_DIR, TABLES
from .errors import BusyError, ParameterError
from .files import LOCKED_ENV, atomic_write_text, dir_lock
from .fingerprint import sha as _sha

__all__ = ["Job", "JobResult", "plan_jobs", "input_hash", "stale_jobs", "run_batch", "stop_zygote", "write_index", "run_job",
           "build_lock", "clean", "ClusterError", "KERNEL_NAME", "PROVINCE_NOTEBOOK", "COMPARE_NOTEBOOK"]

KERNEL_NAME = "analysis-766"
DEFAULT_FORMATS = ("html", "xlsx", "csv")  # what a build writes besides the executed notebook
PROVINCE_NOTEBOOK = NOTEBOOKS_DIR / "province_report.ipynb"
COMPARE_NOTEBOOK = NOTEBOOKS_DIR / "compare_provinces.ipynb"
STATE_DIR = ".build"  # inside the output directory: stamps, plan cache, temporary work
OWNER_FILE = "OWNER"  # marks STATE_DIR as made by a build (clean-up touches only marked folders)
WORK_DIR = "work"     # STATE_DIR/work/<pid>/: every temporary file of one build
READ_LOG_ENV = "ANALYSIS_READ_LOG"  # same name as analysis.dataset.READ_LOG_ENV (not imported: pandas)
HOLD_ENV = "ANALYSIS_HOLD_DATA"  # same name as analysis.forkkernel.ENV_HOLD
CODE_VERSION_ENV = "ANALYSIS_CODE_VERSION"  # same name as analysis.report.CODE_VERSION_ENV
SHARED_RESULTS_ENV = "ANALYSIS_SHARED_RESULTS"  # same name as analysis.report.SHARED_RESULTS_ENV
SHARED_DIR = "shared"  # STATE_DIR/work/shared/: results the reports of one build share (report.shared_result)
LOCK_FILE = PROJECT_DIR / "requirements.lock"
BUILD_WAIT = 1800.0  # seconds a command-line build queues behind another build from the same data dir


@dataclass(frozen=True)
class Job:
    """One report to build: which notebook, with which parameters, written where."""

    kind: str            # "province" or "compare"
    key: str             # "bac-kan/2024-07", "compare/2024-07" (+ ".en")
    notebook: str
    params: tuple        # sorted (name, value) pairs, so the job is hashable
    data_hash: str = ""  # hash of the data slice this report reads
    formats: tuple = DEFAULT_FORMATS  # outputs besides the notebook: html, xlsx, csv, docx
    inputs: tuple = ()   # sorted (table, SHA-256) pairs: the data files the plan was made from
    scheme_hash: str = ""  # SHA-256 of the user scheme file (parameter ``scheme``), "" for none

    @property
    def parameters(self) -> dict:
        return dict(self.params)

    def outputs(self, out_dir: Path) -> dict[str, Path]:
        base = out_dir / self.key
        return {"html": base.with_name(base.name + ".html"), "ipynb": base.with_name(base.name + ".ipynb"),
                "xlsx": base.with_name(base.name + ".xlsx"), "csv": base.with_name(base.name + "_tables"),
                "docx": base.with_name(base.name + ".docx")}

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
def package_hash() -> str:
    """Hash of every source and data file of the analysis package."""
    files = sorted(p for p in PACKAGE_DIR.rglob("*") if p.is_file()
                   and p.suffix in {".py", ".csv", ".toml", ".po", ".j2", ".css"}
                   and "__pycache__" not in p.parts)
    return _sha(*[str(p.relative_to(PACKAGE_DIR)).encode() + b"\0" + p.read_bytes() for p in files])


def input_hash(job: Job, *, notebook_bytes: bytes, package: str, lock: bytes) -> str:
    """Hash over the notebook code, the parameters, the report's data slice, the package and the lock."""
    parts = [notebook_bytes, json.dumps([job.params, list(job.formats)]).encode(), job.data_hash.encode(),
             package.encode(), lock]
    if job.scheme_hash:  # the user scheme file's content: an edited file rebuilds its reports
        parts.append(b"scheme\0" + job.scheme_hash.encode())
    return _sha(*parts)


# --- planning ----------------------------------------------------------------------------
RACY_NS = 2_000_000_000  # a file changed this close to the hashing of it is hashed again next time


def _file_stat(path: Path) -> list[int] | None:
    try:
        st = path.stat()
    except FileNotFoundError:
        return None
    return [st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns]


def _data_manifest(data_dir: Path, known: dict | None = None) -> tuple[dict[str, str], dict]:
    """SHA-256 of each table file present (the same digests as :func:`analysis.dataset.file_sha256`,
    without importing pandas: a no-op rebuild never needs it), and what to pass as ``known`` next
    time.

    ``known`` (kept in the plan cache) lets a file keep its last digest without being read again
    when its device, inode, size, modification and status-change times are all unchanged, and its
    status-change time was at least :data:`RACY_NS` older than that hashing (so a write in the
    same clock tick as the hashing is never missed; as git does with its index). Any write,
    rename or ``touch`` of a file changes its status-change time, which nothing but the clock
    sets.
    """
    started = time.time_ns()
    manifest, stats = {}, {}
    known = known or {}
    for table in TABLES:
        path = data_dir / f"{table}.csv"
        stat = _file_stat(path)
        if stat is None:
            continue
        old = known.get("stats", {}).get(table)
        if (old == stat and table in known.get("manifest", {})
                and stat[4] < known.get("hashed_at", 0) - RACY_NS):
            manifest[table] = known["manifest"][table]
            continue
        with open(path, "rb") as fh:
            manifest[table] = hashlib.file_digest(fh, "sha256").hexdigest()
        if _file_stat(path) != stat:  # changed while being read: never reused
            stat = None
        stats[table] = stat
    return manifest, {"manifest": manifest, "stats": stats, "hashed_at": started}


def plan_jobs(data_dir: Path = DATA_DIR, *, out_dir: Path = REPORTS_DIR, month: str | None = None,
              province: str | None = None, period: str | None = None, langs=("vi",),
              comparisons: bool = True, formats=DEFAULT_FORMATS, scheme=None) -> list[Job]:
    """Every report the data allows (or the one asked for), with its data-slice hash.

    ``scheme`` names a user scheme TOML file (an override, see :func:`analysis.scheme.user_scheme`):
    it is checked against the scheme version of every planned period, passed to the notebooks
    as their ``scheme`` parameter, and its content is part of each report's input hash.

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
    scheme_path, scheme_hash = "", ""
    if scheme is not None and str(scheme) != "":
        from .scheme import user_scheme

        user_scheme(scheme)  # a bad path or file stops here, before the data is read
        scheme_path = str(Path(scheme).resolve())
        scheme_hash = hashlib.sha256(Path(scheme_path).read_bytes()).hexdigest()
    cache_file = out_dir / STATE_DIR / "plan.json"
    cached = None
    if cache_file.exists():
        try:
            cached = json.loads(cache_file.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            cached = None
    known = cached.get("files") if isinstance(cached, dict) else None
    manifest, files = _data_manifest(data_dir, known if known and known.get("data_dir") == str(data_dir) else None)
    files["data_dir"] = str(data_dir)
    request = {"data_dir": str(data_dir), "month": month, "province": province, "period": period,
               "langs": list(langs), "comparisons": comparisons, "manifest": manifest, "formats": list(formats),
               "code": package_hash(), "scheme": [scheme_path, scheme_hash]}
    if cached and cached.get("request") == request:
        return [Job(j["kind"], j["key"], j["notebook"], tuple(tuple(p) for p in j["params"]), j["data_hash"],
                    formats=tuple(j.get("formats", DEFAULT_FORMATS)),
                    inputs=tuple(tuple(p) for p in j.get("inputs", ())), scheme_hash=j.get("scheme_hash", ""))
                for j in cached["jobs"]]

    from .dataset import data_facts
    from .report import FORMATS, validate_parameters

    formats = tuple(dict.fromkeys(formats))
    unknown = [f for f in formats if f not in FORMATS]
    if unknown:
        raise ParameterError(f"parameter 'FORMAT': {', '.join(unknown)} not allowed; choose from {', '.join(FORMATS)}")

    facts = data_facts(data_dir)
    if _data_manifest(data_dir)[0] != manifest:
        raise BusyError(f"'{data_dir}' changed while the build was being planned; run the build again")
    pairs = [tuple(p) for p in facts["report_periods"]]
    if province is not None or period is not None:
        if province is None or period is None:
            raise ParameterError("parameters 'PROVINCE' and 'PERIOD' go together; give both")
        for lang in langs:
            validate_parameters(pairs, province, period, lang)
        pairs = [(province, period)]
        comparisons = False
    if month is not None:
        months = sorted({per[:7] for _, per in pairs})
        pairs = [(prov, per) for prov, per in pairs if per.startswith(month)]
        if not pairs:
            raise ParameterError(f"parameter 'MONTH': no report period in {month}; months with data: "
                                 f"{', '.join(months)}")
    if scheme_path:
        from .scheme import user_scheme

        planned = sorted({per for _, per in pairs} | set(facts["comparison_periods"] if comparisons else ()))
        user_scheme(scheme_path, periods=planned)  # every version the reports will use takes the file
    extra = (("scheme", scheme_path),) if scheme_path else ()
    jobs = []
    inputs = tuple(sorted(manifest.items()))
    data_arg = "" if data_dir == DATA_DIR.resolve() else str(data_dir)
    for lang in langs:
        suffix = "" if lang == "vi" else f".{lang}"
        for prov, per in pairs:
            params = (("data_dir", data_arg), ("lang", lang), ("period", per), ("province", prov)) + extra
            jobs.append(Job("province", f"{prov}/{per}{suffix}", PROVINCE_NOTEBOOK.name, params,
                            facts["province_hashes"][prov], formats=formats, inputs=inputs,
                            scheme_hash=scheme_hash))
        if comparisons:
            periods = [p for p in facts["comparison_periods"] if month is None or p.startswith(month)]
            for per in periods:
                params = (("data_dir", data_arg), ("lang", lang), ("period", per)) + extra
                jobs.append(Job("compare", f"compare/{per}{suffix}", COMPARE_NOTEBOOK.name, params,
                                facts["compare_hash"], formats=formats, inputs=inputs,
                                scheme_hash=scheme_hash))
    try:  # the plan cache is an optimisation: skipped when another build holds the directory
        out_dir.mkdir(parents=True, exist_ok=True)
        with dir_lock(out_dir, "build (writing this output directory)"):
            atomic_write_text(cache_file, json.dumps({"request": request, "jobs": [asdict(j) for j in jobs],
                                                      "files": files}, indent=1), tmp_dir=_work_dir(out_dir))
    except (BusyError, OSError):
        pass
    return jobs


# --- the output directory: lock, state folder, work folder ---------------------------------
def _state_dir(out_dir: Path) -> Path:
    """``<out>/.build``, created (and marked as the build's own) when missing."""
    state = Path(out_dir) / STATE_DIR
    if not (state / OWNER_FILE).exists():
        state.mkdir(parents=True, exist_ok=True)
        (state / OWNER_FILE).write_text("Made by `python -m analysis build`: stamps, plan cache and the "
                                        "temporary work of builds. Safe to delete.\n", encoding="utf-8")
    return state


def _work_dir(out_dir: Path) -> Path:
    """This process's temporary folder ``<out>/.build/work/<pid>`` (same file system as the
    outputs, so a finished file is renamed into place)."""
    work = _state_dir(out_dir) / WORK_DIR / str(os.getpid())
    work.mkdir(parents=True, exist_ok=True)
    return work


def _clear_work(out_dir: Path) -> None:
    """Delete the temporary work of earlier (killed) builds. Only called with the out dir's lock
    held, so no live build owns any of it; only the marked state folder is touched."""
    state = Path(out_dir) / STATE_DIR
    if (state / OWNER_FILE).exists():
        shutil.rmtree(state / WORK_DIR, ignore_errors=True)


def _data_dirs(jobs) -> list[Path]:
    return sorted({Path(dict(j.params).get("data_dir") or DATA_DIR).resolve() for j in jobs})


@contextlib.contextmanager
def build_lock(data_dirs, out_dir: Path | None, *, one_build_per_data: bool = False):
    """Hold the locks of the output directory and of the data directories for one build.

    * The output directory: exclusive. A second build into it stops at once with a one-line
      :class:`~analysis.errors.BusyError`.
    * Each data directory: shared (``flock`` on the directory), so no import can change it while
      reports read it, while readers (``validate``, kernels) go on.
    * With ``one_build_per_data`` (the command line), also one build at a time per data
      directory: a ``filelock`` lock file under the cache folder (never in the user's data
      folder), keyed by the directory's real path. Library callers (tests, benchmarks) may run
      builds from one data directory into separate output directories side by side: they only
      read it, and the cache they share is content-addressed and written atomically.

    Child processes (validation, workers, kernels) are told through the environment that the
    data directories are locked by their build, so their reads do not wait on it.
    """
    if isinstance(data_dirs, (str, Path)):
        data_dirs = [data_dirs]
    with contextlib.ExitStack() as stack:
        if out_dir is not None:
            Path(out_dir).mkdir(parents=True, exist_ok=True)
            stack.enter_context(dir_lock(out_dir, "build (writing this output directory)"))
        for data in data_dirs:
            if Path(data).is_dir():
                if one_build_per_data:
                    stack.enter_context(_data_build_lock(Path(data)))
                stack.enter_context(dir_lock(data, "import (writing this data directory)", shared=True))
        before = os.environ.get(LOCKED_ENV)
        held = [os.path.realpath(d) for d in data_dirs]
        os.environ[LOCKED_ENV] = os.pathsep.join(held + ([before] if before else []))
        try:
            yield
        finally:
            if before is None:
                os.environ.pop(LOCKED_ENV, None)
            else:
                os.environ[LOCKED_ENV] = before


@contextlib.contextmanager
def _data_build_lock(data: Path):
    """One build at a time from a data directory (a lock file under the cache folder)."""
    import hashlib

    from filelock import FileLock, Timeout

    from .config import CACHE_DIR

    key = hashlib.sha256(os.path.realpath(data).encode()).hexdigest()[:16]
    path = CACHE_DIR / "locks" / f"build-{key}.lock"
    path.parent.mkdir(parents=True, exist_ok=True)
    lock = FileLock(str(path))
    try:
        lock.acquire(timeout=0)
    except Timeout:  # queue behind the other build (said once), up to BUILD_WAIT seconds
        wait = float(os.environ.get("ANALYSIS_BUILD_WAIT", BUILD_WAIT))
        print(f"waiting for another build from '{data}' to finish (at most {wait:.0f} s)", file=sys.stderr)
        try:
            lock.acquire(timeout=wait)
        except Timeout:
            raise BusyError(f"'{data}' is in use by another build; wait for it to finish") from None
    try:
        yield
    finally:
        lock.release()


def clean(out_dir: Path) -> int:
    """Delete what builds wrote under ``out_dir`` (the reports their stamps list, the index and
    the state folder), and nothing else. Returns the number of paths removed."""
    out_dir = Path(out_dir)
    state = out_dir / STATE_DIR
    if not (state / OWNER_FILE).exists():
        return 0
    removed = 0
    with build_lock([], out_dir):
        for stamp in state.glob("*.json"):
            try:
                info = json.loads(stamp.read_text(encoding="utf-8"))
                job = Job(info["kind"], info["key"], "", ())
            except (OSError, ValueError, KeyError):
                continue
            for path in job.outputs(out_dir).values():
                if path.is_dir():
                    shutil.rmtree(path)
                    removed += 1
                elif path.exists():
                    path.unlink()
                    removed += 1
            for folder in job.outputs(out_dir)["html"].parents:
                if folder == out_dir or not folder.is_dir() or any(folder.iterdir()):
                    break
                folder.rmdir()
        if (out_dir / "index.html").exists():
            (out_dir / "index.html").unlink()
            removed += 1
        shutil.rmtree(state)
        removed += 1
    return removed


# --- running one job (in a worker process) ------------------------------------------------
_EXPORTER = None


def _exporter():
    """One HTML exporter per worker process, reused for every report it renders."""
    global _EXPORTER
    if _EXPORTER is None:
        from traitlets.config import Config

        from jinja2 import DictLoader

        c = Config()
        c.HTMLExporter.template_file = "offline.html.j2"
        c.TagRemovePreprocessor.enabled = True
        c.TagRemovePreprocessor.remove_cell_tags = {"parameters", "injected-parameters", "remove"}
        c.HTMLExporter.exclude_input = True
        c.HTMLExporter.exclude_input_prompt = True
        c.HTMLExporter.exclude_output_prompt = True
        # the notebook is validated once after its preprocessors, not once after each of them
        c.HTMLExporter.optimistic_validation = True
        _EXPORTER = _html_exporter_class()(config=c, extra_loaders=[DictLoader({"offline.html.j2": OFFLINE_TEMPLATE})])
    return _EXPORTER


# what nbconvert's HTMLExporter adds to the page it rendered, by parsing it again with
# BeautifulSoup: keyboard focus on each cell's input and output, an alt text on an image without one
_FOCUSABLE = re.compile(r'(<div class="(?:[^"]*\s)?jp-(?:Cell-inputWrapper|OutputArea-output)(?:\s[^"]*)?")')
_IMG_WITHOUT_ALT = re.compile(r"<img(?![^>]*\salt=)")
_NO_ALT = '<img alt="No description has been provided for this image"'


def _html_exporter_class():
    """nbconvert's HTMLExporter, less its second pass over the page it rendered.

    ``HTMLExporter.from_notebook_node`` renders the template, then parses the whole page
    (about 1 MB: tables, inlined styles and images) with BeautifulSoup and prints it again, only
    to add ``tabindex="0"`` to the cells' input and output areas and an alt text to images
    that have none; that pass was about 80 % of the time of an HTML export. Here the same two
    attributes are added to the tags nbconvert's own template wrote (``_FOCUSABLE``,
    ``_IMG_WITHOUT_ALT``), and the rendered page is otherwise kept as the template wrote it.
    """
    from nbconvert import HTMLExporter
    from nbconvert.exporters.templateexporter import TemplateExporter
    from nbconvert.filters.highlight import Highlight2HTML
    from nbconvert.filters.widgetsdatatypefilter import WidgetsDataTypeFilter

    class ReportHTMLExporter(HTMLExporter):
        def from_notebook_node(self, nb, resources=None, **kw):
            # as HTMLExporter.from_notebook_node (nbconvert 7) up to the template, then no re-parse
            langinfo = nb.metadata.get("language_info", {})
            lexer = langinfo.get("pygments_lexer", langinfo.get("name", None))
            self.register_filter("highlight_code",
                                 self.filters.get("highlight_code", Highlight2HTML(pygments_lexer=lexer, parent=self)))
            resources = self._init_resources(resources)
            self.register_filter("filter_data_type", WidgetsDataTypeFilter(notebook_metadata=self._nb_metadata,
                                                                           parent=self, resources=resources))
            html, resources = TemplateExporter.from_notebook_node(self, nb, resources, **kw)
            html = _IMG_WITHOUT_ALT.sub(_NO_ALT, html)
            return _FOCUSABLE.sub(r'\1 tabindex="0"', html), resources

    return ReportHTMLExporter


# The lab template without anything fetched from the network: no require.js (nothing in a
# report uses it), no MathJax or Mermaid from a CDN, no widget manager. Styles are inlined by
# the lab template itself. A report opened offline renders at once, exactly as online.
OFFLINE_TEMPLATE = """{%- extends 'index.html.j2' -%}
{%- block html_head_js -%}{%- endblock html_head_js -%}
{%- block html_head_js_mathjax -%}{%- endblock html_head_js_mathjax -%}
{%- block html_head_js_mermaidjs -%}{%- endblock html_head_js_mermaidjs -%}
{%- block jupyter_widgets -%}{%- endblock jupyter_widgets -%}
"""


def _remove_outputs(job: Job, out_dir: Path) -> None:
    """Delete a report's outputs and stamp, so a failed report leaves nothing that looks current."""
    for path in job.outputs(out_dir).values():
        if path.is_dir():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)
    job.stamp(out_dir).unlink(missing_ok=True)


# Run in the report's kernel after the notebook's last cell (not saved in the notebook): the
# notebook's ``report`` writes its Word, Excel and CSV files from the sections the notebook has
# already computed (see analysis.report.build_exports), so a report is computed once.
EXPORT_CODE = "__import__('analysis.report').report.build_exports(report, {directory!r}, {formats!r})"


def _export_code(job: Job, handed: Path) -> str:
    formats = [f for f in job.formats if f != "html"]
    return EXPORT_CODE.format(directory=str(handed.absolute()), formats=formats)


def _publish_exports(job: Job, out_dir: Path, handed: Path, work: Path) -> tuple[str, str]:
    """Move the report's Word, Excel and CSV outputs (written by its kernel into ``handed``,
    see :data:`EXPORT_CODE`) into place atomically; return the report's title and the name of
    its area (empty for a comparison)."""
    try:
        meta = json.loads((handed / EXPORT_META).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        raise RuntimeError("the notebook's kernel wrote no exports (the notebook must define "
                           "'report')") from None
    written = {fmt: handed / name for fmt, name in meta["files"].items()}
    outs = job.outputs(out_dir)
    if "csv" in written:
        os.chmod(written["csv"], 0o755)  # mkdtemp makes it private; published tables are world-readable
        if outs["csv"].is_dir():  # move the old folder into the work folder, then the new one in
            os.replace(outs["csv"], Path(tempfile.mkdtemp(dir=work)) / "old")
        os.replace(written["csv"], outs["csv"])
    for fmt in ("xlsx", "docx"):
        if fmt in written:  # written whole and synced by the kernel, on the same file system
            outs[fmt].parent.mkdir(parents=True, exist_ok=True)
            os.replace(written[fmt], outs[fmt])
    return meta["title"], meta["area"]


_ZYGOTE = None
_SOCKET = None  # the fork server this process uses: its own, or the one its batch handed it
_PENDING = None  # the socket path of a fork server launched but not yet awaited


def _use_server(path: str) -> None:
    """Use the fork server at ``path`` (started by this batch's parent process)."""
    global _SOCKET
    from .forkkernel import ENV_SOCKET

    _SOCKET = path
    os.environ[ENV_SOCKET] = path  # read by the kernel launchers this process starts


def _start_zygote(wait: bool = True) -> None:
    """Start this process's fork server once; kernels are then forked from it (see forkkernel).

    With ``wait=False`` the server is only launched: it imports the libraries while the caller
    goes on (a build starts its workers meanwhile), and :func:`_await_zygote` waits for it.
    A server address inherited through the environment is ignored: that server was started by
    another process, possibly with other code loaded, and a report must run the code its hash
    names.
    """
    global _ZYGOTE, _PENDING
    if _SOCKET is not None and os.path.exists(_SOCKET):
        return
    if _PENDING is None:
        import atexit
        import subprocess

        path = os.path.join(tempfile.mkdtemp(prefix="analysis-zygote-"), "kernel.sock")
        proc = subprocess.Popen([sys.executable, "-m", "analysis.forkkernel", "--serve", path],
                                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                cwd=str(PROJECT_DIR))
        _ZYGOTE, _PENDING = proc, path

        def stop():
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
            shutil.rmtree(os.path.dirname(path), ignore_errors=True)

        atexit.register(stop)
    if wait:
        _await_zygote()


def _await_zygote() -> str | None:
    """Wait until the fork server launched by :func:`_start_zygote` is ready; its socket's path,
    or None when it could not start (kernels then start as plain ipykernels)."""
    global _PENDING
    from .forkkernel import ENV_SOCKET

    if _PENDING is not None:
        path, proc = _PENDING, _ZYGOTE
        deadline = time.monotonic() + 120
        while not os.path.exists(path) and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.01)
        _PENDING = None
        if os.path.exists(path):
            _use_server(path)
        else:
            os.environ.pop(ENV_SOCKET, None)  # no server: kernels start as plain ipykernels
    return _SOCKET if _SOCKET is not None and os.path.exists(_SOCKET) else None


def stop_zygote() -> None:
    """Stop this process's fork server now (it otherwise stops when the process exits)."""
    global _ZYGOTE, _SOCKET, _PENDING
    from .forkkernel import ENV_SOCKET

    if _ZYGOTE is not None:
        _ZYGOTE.terminate()
        try:
            _ZYGOTE.wait(timeout=10)
        except Exception:  # noqa: BLE001 - a server that will not stop is killed
            _ZYGOTE.kill()
        _ZYGOTE = _SOCKET = _PENDING = None
        os.environ.pop(ENV_SOCKET, None)


KERNEL_DIED_AT_START = "Kernel died before replying to kernel_info"
# How many times a report's kernel is started again when it died before running any cell.
KERNEL_START_RETRIES = 1


@functools.lru_cache(maxsize=None)
def _kernel_manager_class(fork: bool):
    """The kernel manager class: kernels forked from the fork server, or plain ipykernels.

    Asynchronous managers (so asynchronous clients): a blocking client would wait on the
    kernel's output socket inside nbclient's event loop, and a kernel that dies mid-cell would
    never be noticed (nbclient's liveness check could not run).
    """
    from queue import Empty

    from jupyter_client.asynchronous import AsyncKernelClient
    from jupyter_client.manager import AsyncKernelManager

    class QuickClient(AsyncKernelClient):
        """jupyter_client's client, minus a fixed wait: once the kernel has answered on the shell
        and IOPub channels, it drains the IOPub messages already there instead of waiting 0.2 s
        for more (nbclient ignores IOPub messages that answer no request of its own)."""

        def start_channels(self, *args, **kwargs):
            # The channels connect before the new kernel has bound its ports, and ZeroMQ tries a
            # refused connection again only after 100 ms (RECONNECT_IVL): every report waited
            # for that. 5 ms, for the sockets of this client's context.
            import zmq

            self.context.setsockopt(zmq.RECONNECT_IVL, 5)
            return super().start_channels(*args, **kwargs)

        async def wait_for_ready(self, timeout=None):
            deadline = time.monotonic() + (float("inf") if timeout is None else timeout)
            while True:
                self.kernel_info()
                try:
                    msg = await self.shell_channel.get_msg(timeout=1)
                except Empty:
                    pass
                else:
                    if msg["msg_type"] == "kernel_info_reply":
                        try:  # IOPub is connected when the kernel's status message arrives
                            await self.iopub_channel.get_msg(timeout=0.2)
                        except Empty:
                            pass
                        else:
                            self._handle_kernel_info_reply(msg)
                            break
                if not await self._async_is_alive():
                    raise RuntimeError(KERNEL_DIED_AT_START)
                if time.monotonic() > deadline:
                    raise RuntimeError(f"Kernel didn't respond in {timeout:.0f} seconds")
            while True:
                try:
                    await self.iopub_channel.get_msg(timeout=0)
                except Empty:
                    break

    class QuickKernelManager(AsyncKernelManager):
        client_factory = QuickClient

        async def _async_wait(self, pollinterval: float = 0.1) -> None:
            # a killed kernel is gone within milliseconds: polling it every 100 ms (jupyter_client's
            # default) made every report wait about 0.1 s for its kernel to stop
            await super()._async_wait(pollinterval=min(pollinterval, 0.005))

    if not fork:
        return QuickKernelManager

    class ForkKernelManager(QuickKernelManager):
        def format_kernel_cmd(self, extra_arguments=None):
            return [sys.executable, "-m", "analysis.forkkernel", "-f", self.connection_file]

        async def _async_launch_kernel(self, kernel_cmd, **kw):
            # ask the fork server directly: no launcher process to start per report (a Python
            # start-up); without a server, the launcher command falls back to a plain ipykernel
            from .forkkernel import ENV_SOCKET, request_kernel

            env = dict(kw.get("env") or os.environ)
            env["JPY_PARENT_PID"] = str(os.getpid())  # as jupyter_client's launcher sets it
            cwd = str(kw.get("cwd") or os.getcwd())
            kernel = request_kernel(env[ENV_SOCKET], self.connection_file, cwd, env) if env.get(ENV_SOCKET) else None
            if kernel is None:
                return await super()._async_launch_kernel(kernel_cmd, **kw)
            provisioner = self.provisioner
            provisioner.process, provisioner.pid, provisioner.pgid, provisioner.cwd = kernel, kernel.pid, None, cwd
            self._reconcile_connection_info(provisioner.connection_info)

    return ForkKernelManager


def execute_notebook(path: Path, parameters: dict, *, fork: bool = True, timeout: int = 900,
                     after: str | None = None):
    """Inject the parameters (papermill) and run every cell in a new kernel (nbclient).

    With ``fork``, the kernel is forked from this process's fork server, started on first use.
    ``after`` is code run in the same kernel after the last cell; it is not part of the
    returned notebook (nor are its outputs). Returns the executed notebook; raises nbclient's
    CellExecutionError when a cell (or ``after``) fails.
    """
    import subprocess

    _without_iri_grammar()
    from nbclient import NotebookClient
    from nbformat.v4 import new_code_cell
    from papermill.iorw import load_notebook_node
    from papermill.parameterize import parameterize_notebook

    if fork:
        _start_zygote()
    _fast_output_validation()
    nb = load_notebook_node(str(path))  # nbformat.read plus the cell metadata papermill expects
    nb = parameterize_notebook(nb, parameters, kernel_name=KERNEL_NAME)
    if after is not None:
        nb.cells.append(new_code_cell(after, id="analysis-build-after"))
    try:
        for attempt in range(1 + KERNEL_START_RETRIES):
            # The client creates (and so owns and shuts down) the kernel manager: a manager passed
            # in would be left running after the notebook, with its kernel.
            client = NotebookClient(nb, kernel_manager_class=_kernel_manager_class(fork), timeout=timeout,
                                    kernel_name=KERNEL_NAME, resources={"metadata": {"path": str(PROJECT_DIR)}},
                                    record_timing=False,  # timestamps would make every .ipynb differ
                                    # every output is in once the last cell has finished: stop the
                                    # kernel at once instead of asking it to shut down and polling
                                    shutdown_kernel="immediate")
            try:
                client.execute(stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                break
            except RuntimeError as exc:
                # a kernel that died before its first reply ran no cell: a new one may start
                # cleanly (seen once in 420 reports on a machine overloaded by other jobs)
                if not str(exc).startswith(KERNEL_DIED_AT_START) or attempt == KERNEL_START_RETRIES:
                    raise
    finally:
        if after is not None:
            nb.cells.pop()
    return nb


def _make_deterministic(nb) -> None:
    """Drop what differs between two runs of the same inputs: random cell ids (papermill's
    injected cell), execution timings, kernel-reported versions that are not inputs."""
    for i, cell in enumerate(nb.cells):
        if "injected-parameters" in cell.get("metadata", {}).get("tags", []):
            cell["id"] = "injected-parameters"
        elif "id" in cell and not cell["id"]:
            cell["id"] = f"cell-{i}"
        cell.get("metadata", {}).pop("execution", None)
        cell.get("metadata", {}).pop("papermill", None)
    nb.metadata.pop("papermill", None)
    nb.metadata.get("widgets", None)


def _check_reads(log: Path, manifest: dict | None) -> dict:
    """The data file contents the kernel used (file -> SHA-256), checked against the plan.

    Raises
    ------
    RuntimeError
        A file the report read differs from the one the build planned with (it changed during
        the build): the report is not stamped, so the next build makes it again.
    """
    reads: dict = {}
    if log.exists():
        for line in log.read_text(encoding="utf-8").splitlines():
            for name, digest in json.loads(line).items():
                if reads.get(name, digest) != digest:
                    raise RuntimeError(f"data file {name} changed while this report was built; "
                                       f"run the build again")
                reads[name] = digest
    for name, digest in reads.items():
        planned = (manifest or {}).get(name.removesuffix(".csv"))
        if manifest is not None and planned != digest:
            raise RuntimeError(f"data file {name} changed while this report was built (planned with "
                               f"{str(planned)[:12]}, read {digest[:12]}); run the build again")
    return dict(sorted(reads.items()))


def run_job(job: Job, out_dir: str, notebooks_dir: str, state: str, fork: bool | str = True,
            manifest: dict | None = None, code: str | None = None) -> JobResult:
    """Execute one report in a fresh kernel and publish its HTML, notebook and tables.

    ``fork`` may be the socket of a running fork server (shared by a batch's workers). ``code``
    is the code version the report states (found once by the build that planned it); None: the
    kernel asks git.
    Returns a JobResult; never raises for a failing notebook (the error is in the result).
    """
    _without_iri_grammar()
    import nbformat

    out_dir = Path(out_dir)
    start = time.perf_counter()
    outs = job.outputs(out_dir)
    handed = None
    try:
        work = _work_dir(out_dir)
        handed = Path(tempfile.mkdtemp(prefix="run-", dir=work))
        if isinstance(fork, str):
            if not os.path.exists(fork):  # the build's server is gone: its build is ending
                raise RuntimeError("the build's fork server has stopped; the build is being shut down")
            _use_server(fork)
        outs["html"].parent.mkdir(parents=True, exist_ok=True)
        os.environ[READ_LOG_ENV] = str((handed / "reads.jsonl").absolute())  # read by the kernel started next (another cwd)
        os.environ[SHARED_RESULTS_ENV] = str((work.parent / SHARED_DIR).absolute())
        if code:
            os.environ[CODE_VERSION_ENV] = code
        if manifest is not None:  # the fork server holds this data in memory for the kernels it forks
            data_dir = job.parameters.get("data_dir") or str(DATA_DIR)
            os.environ[HOLD_ENV] = json.dumps({"data_dir": str(Path(data_dir).resolve()), "manifest": manifest})
        # the notebook, then its exports from the same kernel (the report is computed once)
        nb = execute_notebook(Path(notebooks_dir) / job.notebook, job.parameters, fork=bool(fork),
                              after=_export_code(job, handed))
        _make_deterministic(nb)
        reads = _check_reads(handed / "reads.jsonl", manifest)  # what the notebook and exports read
        job.stamp(out_dir).unlink(missing_ok=True)  # half-published, the report is never "current"
        title, area = _publish_exports(job, out_dir, handed, work)
        nb.metadata["title"] = title
        body, _ = _exporter().from_notebook_node(nb, resources={"metadata": {"name": title}})
        atomic_write_text(outs["ipynb"], nbformat.writes(nb) + "\n", tmp_dir=work)
        atomic_write_text(outs["html"], body, tmp_dir=work)
        atomic_write_text(job.stamp(out_dir), json.dumps({"key": job.key, "input_hash": state,
                                                           "params": job.parameters, "kind": job.kind,
                                                           "title": title, "area": area,
                                                           "formats": list(job.formats),
                                                           "inputs_read": reads}, indent=1), tmp_dir=work)
        return JobResult(job.key, "built", time.perf_counter() - start,
                         outputs={k: str(v) for k, v in outs.items()})
    except BaseException as exc:  # a failing report must not stop the batch
        _remove_outputs(job, out_dir)
        if isinstance(exc, KeyboardInterrupt):
            raise
        if hasattr(exc, "ename"):  # a cell raised: name the error the notebook raised
            message = f"{exc.ename}: {exc.evalue}"
        else:
            message = "".join(traceback.format_exception_only(type(exc), exc)).strip()
        return JobResult(job.key, "failed", time.perf_counter() - start, error=message.splitlines()[0][:500])
    finally:
        os.environ.pop(READ_LOG_ENV, None)
        os.environ.pop(SHARED_RESULTS_ENV, None)
        os.environ.pop(CODE_VERSION_ENV, None)
        os.environ.pop(HOLD_ENV, None)
        if handed is not None:
            shutil.rmtree(handed, ignore_errors=True)


# --- the batch ----------------------------------------------------------------------------
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
              notebooks_dir: Path = NOTEBOOKS_DIR, fork: bool = True,
              scheduler: str | None = None) -> list[JobResult]:
    """Build the jobs whose inputs changed; return a result per job (built, skipped, failed).

    Parameters
    ----------
    executor : {"process", "serial", "dask"}
        ``process``: a pool of worker processes sized to the CPU count; ``dask``: a Dask
        distributed LocalCluster (or the cluster of an existing ``dask.distributed`` client);
        ``serial``: in this process, one after the other.
    scheduler : str, optional
        With ``executor="dask"``: the address of an existing Dask scheduler (``tcp://host:8786``)
        to send the reports to instead of starting a LocalCluster. Its workers must reach the
        output, notebook and data directories at the same absolute paths and run the same
        package and lock file (checked before any report is sent; otherwise a one-line
        :class:`ClusterError`). ``workers`` is then ignored: the cluster has its own size.
    fork : bool
        Fork each report's kernel from a per-worker server that has the libraries imported
        (fresh process per report, no shared state); False starts every kernel from scratch.
    """
    out_dir = Path(out_dir)
    if workers is not None and workers < 1:
        raise ParameterError(f"parameter 'workers': {workers} is not allowed; give 1 or more")
    if scheduler and executor != "dask":
        raise ParameterError(f"parameter 'scheduler': a Dask scheduler is used only with executor 'dask', "
                             f"not '{executor}'")
    with build_lock(_data_dirs(jobs), out_dir):
        _clear_work(out_dir)
        _work_dir(out_dir)  # an unwritable output directory stops the build here, before any kernel
        try:
            todo = stale_jobs(jobs, out_dir=out_dir, force=force, notebooks_dir=notebooks_dir)
            stale = {job.key for job, _ in todo}
            results = [JobResult(job.key, "skipped") for job in jobs if job.key not in stale]
            if todo:
                if fork and executor in ("process", "serial"):
                    # one fork server for all workers (they are handed its address); it imports
                    # the libraries while the workers start and import theirs
                    _start_zygote(wait=False)
                results.extend(_execute(todo, out_dir, workers or os.cpu_count() or 1, executor, progress,
                                        notebooks_dir, fork, scheduler))
            write_index(out_dir)
        finally:
            _clear_work(out_dir)
    order = {j.key: i for i, j in enumerate(jobs)}
    return sorted(results, key=lambda r: order[r.key])


def _bar(total: int, progress: bool):
    from tqdm import tqdm

    return tqdm(total=total, unit="report", disable=not progress, file=sys.stderr, dynamic_ncols=True,
                bar_format="{l_bar}{bar}| {n_fmt}/{total_fmt} [{elapsed}<{remaining}, {rate_fmt}]")


def _execute(todo, out_dir: Path, workers: int, executor: str, progress: bool, notebooks_dir: Path, fork: bool,
             scheduler: str | None = None):
    results = []
    bar = _bar(len(todo), progress)
    # The longest reports (the comparisons) first, so that no worker is left running one while
    # the others have finished; then period by period, so that the reports of one province (which
    # share its audit, see report.shared_result) do not all start at the same time.
    todo = sorted(todo, key=lambda t: (t[0].kind != "compare", str(t[0].parameters.get("period", ""))))

    def job_args():
        from .report import code_version

        code = code_version()  # once for the build, not twice per report (git) in every kernel
        # the workers share this process's server, once it is ready
        shared = _await_zygote() if fork and executor in ("process", "serial") else None
        how = shared or fork
        return [(job, str(out_dir), str(notebooks_dir), state, how, dict(job.inputs) if job.inputs else None, code)
                for job, state in todo]

    try:
        if executor == "serial" or (executor == "process" and workers == 1):
            for a in job_args():
                results.append(run_job(*a))
                bar.update(1)
        elif executor == "process":
            for result in _run_pool(job_args, out_dir, min(workers, len(todo)), str(notebooks_dir)):
                results.append(result)
                bar.update(1)
        elif executor == "dask":
            results.extend(_execute_dask(job_args(), out_dir, workers, bar, scheduler))
        else:
            raise ParameterError(f"parameter 'executor': '{executor}' is not allowed; choose process, serial or dask")
    finally:
        bar.close()
    return results


# --- the worker pool -------------------------------------------------------------------------
def _pool_worker(conn, out_dir: str, notebooks_dir: str) -> None:
    """A pool worker: run the jobs the parent sends, one at a time, until told to stop."""
    from .forkkernel import die_with_parent

    die_with_parent()  # its parent is multiprocessing's fork server, which exits with the build
    _prepare_worker()
    while True:
        try:
            args = conn.recv()
        except (EOFError, OSError):
            return
        if args is None:
            return
        conn.send(run_job(*args))


def _without_iri_grammar() -> None:
    """Keep jsonschema from building its IRI grammar in this process.

    nbformat (read and written by every report) imports jsonschema, whose optional format
    checks import ``rfc3987_syntax`` when it is installed (it is, for Jupyter's event schemas):
    that module builds three Earley parsers of the RFC 3987 grammar when imported, about 1.8 s
    of CPU in each build worker. Those parsers check only the ``iri`` and ``iri-reference``
    formats, which nbformat's schemas do not use and which jsonschema checks only when asked
    for a format checker (nbformat never asks). Marking the module absent before jsonschema is
    first imported leaves every validation a build runs unchanged. A process that has already
    imported jsonschema is left as it is.
    """
    if "jsonschema" not in sys.modules:
        sys.modules.setdefault("rfc3987_syntax", None)  # None in sys.modules: "import" raises ImportError


_OUTPUT_TYPES = ("execute_result", "display_data", "stream", "error")


@functools.lru_cache(maxsize=None)
def _output_validator(output_type: str):
    """nbformat's schema of one kind of output, compiled with fastjsonschema (as nbformat
    compiles the whole notebook's schema)."""
    import fastjsonschema
    import nbformat.v4 as v4

    schema = json.loads((Path(v4.__file__).parent / v4.nbformat_schema[(4, v4.nbformat_minor)])
                        .read_text(encoding="utf-8"))
    return fastjsonschema.compile({"$schema": schema.get("$schema"), "$ref": f"#/definitions/{output_type}",
                                   "definitions": schema["definitions"]})


def _fast_output_validation() -> None:
    """Validate each output a kernel sends with the compiled schema.

    nbclient makes every output with nbformat's ``new_output``, which validates it against
    its part of the notebook schema; nbformat does that through jsonschema, uncompiled (its
    compiled validator covers whole notebooks only), which was about a third of a build
    worker's time per report. The same schema, compiled once, gives the same verdicts; the
    whole notebook is validated again when it is written.
    """
    import fastjsonschema
    import nbformat
    import nbformat.v4.nbbase as nbbase

    if getattr(nbbase.validate, "compiled_outputs", False):
        return
    original = nbbase.validate

    def validate(node, ref=None):
        if ref not in _OUTPUT_TYPES:
            return original(node, ref=ref)
        try:
            _output_validator(ref)(node)
        except fastjsonschema.JsonSchemaException as exc:
            raise nbformat.ValidationError(str(exc)) from exc
        return None

    validate.compiled_outputs = True
    nbbase.validate = validate


_PREPARED = False


def _prepare_worker() -> None:
    """Import and load what running a report needs (papermill, nbclient, nbconvert's exporter,
    jupyter_client's kernel specs and the machine's interfaces) before the first job; nothing a
    worker does later imports pandas or the report code (that runs in the kernels). The pool's fork server does it once (:mod:`analysis._buildworker`), so a worker
    forked from it finds it done; a worker started otherwise does it itself."""
    global _PREPARED
    if _PREPARED:
        return
    _without_iri_grammar()
    import nbclient  # noqa: F401
    import papermill.parameterize  # noqa: F401
    from nbformat.v4 import new_notebook

    from jupyter_client.kernelspec import KernelSpecManager
    from jupyter_client.localinterfaces import localhost

    _kernel_manager_class(True)
    KernelSpecManager().kernel_dirs  # noqa: B018 (its default imports IPython, which finds the kernel specs)
    localhost()  # the machine's interfaces, which each kernel's connection info asks for, listed once
    _fast_output_validation()
    for kind in _OUTPUT_TYPES:
        _output_validator(kind)
    _exporter().from_notebook_node(new_notebook())  # loads and compiles the page's templates
    _PREPARED = True


def _run_pool(make_args, out_dir: Path, size: int, notebooks_dir: str):
    """Run the jobs on ``size`` worker processes; yield each JobResult as it arrives.
    ``make_args()`` gives the jobs' arguments; it is called once the workers are starting.

    Unlike ``concurrent.futures.ProcessPoolExecutor`` (which fails every pending job with
    ``BrokenProcessPool`` once any worker dies, without saying which job killed it), each
    worker here has its own pipe and runs one job at a time, so the parent knows which job a
    dead worker was running: that job fails, a new worker replaces the dead one, and the other
    jobs finish.
    """
    import multiprocessing as mp
    import signal
    from collections import deque
    from multiprocessing.connection import wait as wait_any

    ctx = mp.get_context("forkserver")
    # The server imports and prepares what a worker needs once, and every worker is forked
    # prepared (taking effect when this process starts its server, i.e. at its first pool).
    ctx.set_forkserver_preload(["__main__", "analysis._buildworker"])
    workers: dict = {}  # conn -> [process, args of the running job or None]

    def start():
        parent_end, child_end = ctx.Pipe()
        proc = ctx.Process(target=_pool_worker, args=(child_end, str(out_dir), notebooks_dir), daemon=True,
                           name="analysis-build-worker")
        proc.start()
        child_end.close()
        workers[parent_end] = [proc, None]

    for _ in range(size):
        start()
    queue = deque(make_args())  # the workers start (and import) while the fork server gets ready
    try:
        while queue or any(w[1] is not None for w in workers.values()):
            for conn, w in list(workers.items()):
                if w[1] is None and queue:
                    try:
                        conn.send(queue[0])
                    except OSError:  # this idle worker died: replace it, the job waits
                        w[0].join(timeout=5)
                        conn.close()
                        del workers[conn]
                        start()
                        continue
                    w[1] = queue.popleft()
            busy = {conn: w for conn, w in workers.items() if w[1] is not None}
            ready = wait_any([*busy, *(w[0].sentinel for w in busy.values())])
            for conn, (proc, job_args) in list(busy.items()):
                if conn in ready or proc.sentinel in ready:
                    try:
                        result = conn.recv() if conn.poll() else None
                    except (EOFError, OSError):
                        result = None
                    if result is not None:
                        workers[conn][1] = None
                        yield result
                    elif not proc.is_alive() or conn in ready:  # died while running this job
                        proc.join(timeout=5)
                        code = proc.exitcode
                        why = (f"killed by {signal.Signals(-code).name}" if code is not None and code < 0
                               else f"exit status {code}")
                        job = job_args[0]
                        _remove_outputs(job, out_dir)
                        conn.close()
                        del workers[conn]
                        yield JobResult(job.key, "failed", error=f"the worker process building this report "
                                                                  f"died ({why}); the other reports went on")
                        if queue:
                            start()
    finally:
        for conn, (proc, _) in workers.items():
            try:
                conn.send(None)
            except OSError:
                pass
        for conn, (proc, _) in workers.items():
            proc.join(timeout=10)
            if proc.is_alive():
                proc.kill()
                proc.join()
            conn.close()


class ClusterError(OSError):
    """The Dask cluster cannot take this build (unreachable, no workers, other code, paths it
    cannot reach). An ``OSError``: the command line reports it in one line, exit status 1."""

    def __init__(self, message: str):
        super().__init__(None, message)

    def __str__(self):
        return self.strerror


CONNECT_TIMEOUT = 15   # seconds to reach the scheduler
WORKERS_TIMEOUT = 60   # seconds to wait for the scheduler's first worker
_JOB_LOCK = threading.Lock()  # one report at a time per worker process (run_job sets os.environ)


def _run_job_alone(*args) -> JobResult:
    """:func:`run_job` on a Dask worker, never two at once in one process (a worker with more
    than one thread would otherwise mix the read logs of two kernels)."""
    with _JOB_LOCK:
        return run_job(*args)


def _lock_hash() -> str:
    return _sha(LOCK_FILE.read_bytes()) if LOCK_FILE.exists() else ""


def _worker_view(paths: list[str]) -> dict:
    """What a worker sees: its code, its lock file and which of ``paths`` are directories."""
    return {"package": package_hash(), "lock": _lock_hash(),
            "missing": [p for p in paths if not os.path.isdir(p)],
            "unwritable": [p for p in paths[:1] if os.path.isdir(p) and not os.access(p, os.W_OK)]}


def _connect(address: str):
    """A client of the scheduler at ``address`` whose workers can build these reports."""
    from dask.distributed import Client

    try:
        client = Client(address, timeout=CONNECT_TIMEOUT, set_as_default=False)
    except Exception as exc:  # noqa: BLE001 - OSError, TimeoutError, ValueError (bad protocol) …
        reason = _one_line(f"{type(exc).__name__}: {exc}" if not str(exc) else str(exc))
        raise ClusterError(f"cannot reach the Dask scheduler at '{address}' ({reason}); check the address "
                           f"(--scheduler / DASK_SCHEDULER_ADDRESS) and that the scheduler is running") from None
    try:
        client.wait_for_workers(1, timeout=WORKERS_TIMEOUT)
    except Exception:  # noqa: BLE001 - dask raises TimeoutError
        client.close()
        raise ClusterError(f"the Dask scheduler at '{address}' has no workers (waited {WORKERS_TIMEOUT} s); "
                           f"start 'dask worker {address} --nthreads 1' on the machines that build") from None
    return client


def _check_workers(client, address: str, paths: list[str]) -> None:
    """Refuse a cluster whose workers would build with other code or cannot reach the paths."""
    try:
        views = client.run(_worker_view, paths)
    except Exception as exc:  # noqa: BLE001 - e.g. the package is not installed on a worker
        raise ClusterError(f"the workers of the Dask scheduler at '{address}' cannot run the analysis "
                           f"package ({_one_line(f'{type(exc).__name__}: {exc}')}); install it on every "
                           f"worker") from None
    package, lock = package_hash(), _lock_hash()
    for worker, view in sorted(views.items()):
        if view["package"] != package or view["lock"] != lock:
            what = "analysis package" if view["package"] != package else "requirements.lock"
            raise ClusterError(f"Dask worker {worker} runs another {what} than this build; install the same "
                               f"version on every worker (the stamps name the code that built a report)")
        if view["missing"]:
            raise ClusterError(f"Dask worker {worker} cannot reach directory '{view['missing'][0]}'; give "
                               f"directories on a file system every worker mounts at the same absolute path")
        if view["unwritable"]:
            raise ClusterError(f"Dask worker {worker} cannot write to '{view['unwritable'][0]}'; give an "
                               f"output directory the workers may write")


def _one_line(text: str) -> str:
    return str(text).strip().splitlines()[0][:300] if str(text).strip() else ""


def _execute_dask(args, out_dir: Path, workers: int, bar, scheduler: str | None = None):
    from dask.distributed import Client, LocalCluster, as_completed

    own = client = None
    if scheduler:
        # The workers may run anywhere: every path they get is absolute (as the plan made the
        # data directories), and they are checked before the first report is sent.
        out_abs, nb_abs = str(Path(out_dir).resolve()), str(Path(args[0][2]).resolve())
        args = [(a[0], out_abs, nb_abs, *a[3:]) for a in args]
        data = sorted({d for a in args if (d := dict(a[0].params).get("data_dir"))})
        client = _connect(scheduler)
        try:
            _check_workers(client, scheduler, [out_abs, nb_abs, *data])
        except BaseException:
            client.close()
            raise
    else:
        try:
            client = Client.current()
        except ValueError:
            own = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None)
            client = Client(own)
    results = []
    batch = uuid.uuid4().hex[:8]  # two builds of one report (other --out) on one cluster never share a task
    try:
        futures = {client.submit(_run_job_alone, *a, pure=False, key=f"report-{a[0].key}-{a[3][:12]}-{batch}"): a[0]
                   for a in args}
        with client.as_current():
            for fut in as_completed(futures):
                job = futures[fut]
                try:
                    results.append(fut.result())
                except BaseException as exc:
                    _remove_outputs(job, out_dir)
                    results.append(JobResult(job.key, "failed", error=_one_line(f"{type(exc).__name__}: {exc}")))
                bar.update(1)
    finally:
        if own is not None:
            client.close()
            own.close()
        elif scheduler:
            client.close()
    return results


INDEX_KEY = "index.sha256"  # in STATE_DIR: what index.html was rendered from, and its own hash


def write_index(out_dir: Path = REPORTS_DIR, lang: str = "vi") -> Path:
    """Write ``index.html`` linking every report that has a current stamp (page rendered by
    :func:`analysis.render.index_html`: names of provinces and periods, not ids).

    The page is left as it is when it was rendered from the same entries, language and package
    and has not been changed since (``.build/index.sha256``), so a no-op rebuild does not load
    the renderer.
    """
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
            files = {ext[1:]: f"{info['key']}{ext}" for ext in (".html", ".docx", ".xlsx", ".ipynb")
                     if (out_dir / f"{info['key']}{ext}").exists()}
            entries.append({**info, "files": files, "province_name": info.get("area")})
    entries.sort(key=lambda i: (i["kind"] != "compare", i["key"]))
    path = out_dir / "index.html"
    key_file = out_dir / STATE_DIR / INDEX_KEY
    key = _sha(json.dumps([lang, entries], sort_keys=True, ensure_ascii=False).encode(), package_hash().encode())
    try:
        if key_file.read_text(encoding="ascii").split() == [key, _sha(path.read_bytes())]:
            return path
    except (OSError, ValueError):
        pass
    from .render import index_html

    page = index_html(entries, lang)
    atomic_write_text(path, page, tmp_dir=_work_dir(out_dir))
    atomic_write_text(key_file, f"{key} {_sha(page.encode('utf-8'))}\n", tmp_dir=_work_dir(out_dir))
    return path
