"""Fault injection and hostile input (issue 12): every attack ends in a one-line error or a
correct result, never a traceback, a leftover or a silently wrong value.

* ``ATTACKS``: the attack list (hostile values through Make, bad data, bad JSON, bad documents,
  bad parameters, a full disk, a read-only directory, EIO, a busy directory …), each run
  through the command line and classified.
* SIGKILL at every step of an import (every file-system call it makes) and of a build's
  publishing (main process), plus a killed worker, a killed kernel and a killed main process
  (no orphans left publishing).
* Concurrent builds, a data file changed during a build, a code edit reaching the caches,
  two builds byte-identical, HTML that loads nothing from the network.

Faults are real where the machine allows it: SIGKILL is a real signal; a read-only directory is
an immutable one (``chattr +i``: the tests run as root, for whom ``chmod`` is no barrier, and a
read-only bind mount needs privileges a container lacks); ENOSPC and EIO, which a test cannot
make a disk produce, are raised by the very system calls the code makes (``os.fsync``,
``os.replace``) through monkeypatching, so the code's own error paths run.

``python tests/test_faults.py`` runs the attack list and prints the counts.
"""
from __future__ import annotations

import contextlib
import errno
import io
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pytest

from analysis.config import DATA_DIR, NOTEBOOKS_DIR, PROJECT_DIR

FIXTURES = Path(__file__).parent / "fixtures"
PORTAL = FIXTURES / "portal"
DOCS = FIXTURES / "documents"
PY = sys.executable


# --- helpers -----------------------------------------------------------------------------------
def snapshot(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` (hidden ones too) with its bytes."""
    if not folder.exists():
        return {}
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def run_cli(argv, env: dict | None = None) -> tuple[int, str, str]:
    """``python -m analysis ARGV`` in this process (fast): exit status, stdout, stderr."""
    from analysis.cli import main

    out, err = io.StringIO(), io.StringIO()
    old = {k: os.environ.get(k) for k in (env or {})}
    os.environ.update(env or {})
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                code = main([str(a) for a in argv])
            except SystemExit as exc:  # argparse
                code = exc.code if isinstance(exc.code, int) else 1
            except BaseException:  # a traceback: recorded as such, never hidden
                import traceback

                traceback.print_exc()
                code = 99
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    return code, out.getvalue(), err.getvalue()


def one_line_error(code: int, err: str) -> bool:
    """A failure whose last stderr line is the error (``error: …``), with no traceback."""
    lines = [ln for ln in err.strip().splitlines() if ln.strip()]
    return code not in (0, 99) and bool(lines) and lines[-1].startswith("error: ") and "Traceback" not in err


@contextlib.contextmanager
def immutable(path: Path):
    """Make a directory truly unwritable, even for root (``chattr +i``)."""
    if shutil.which("chattr") is None or subprocess.run(["chattr", "+i", str(path)],
                                                         capture_output=True).returncode != 0:
        pytest.skip("chattr +i is not available here: no way to make a directory read-only for root")
    try:
        yield
    finally:
        subprocess.run(["chattr", "-i", str(path)], check=False)


def failing(name: str, err: int, *, when=lambda *a: True, nth: int = 1):
    """A replacement for ``os.<name>`` that raises OSError(err) on its nth matching call."""
    real = getattr(os, name)
    seen = {"n": 0}

    def fake(*args, **kwargs):
        if when(*args):
            seen["n"] += 1
            if seen["n"] == nth:
                path = args[-1] if args and isinstance(args[-1], (str, Path)) else None
                raise OSError(err, os.strerror(err), None if path is None else str(path))
        return real(*args, **kwargs)

    return fake


def data_copy(tmp: Path, name: str = "data") -> Path:
    target = tmp / name
    shutil.copytree(DATA_DIR, target, ignore=shutil.ignore_patterns("README.md"))
    return target


def edit(path: Path, old: str, new: str, count: int = 1) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, (path, old)
    path.write_text(text.replace(old, new, count), encoding="utf-8")


def portal_variant(tmp: Path, name: str, raw: bytes) -> Path:
    f = tmp / name
    f.write_bytes(raw)
    return f


# --- the attack list ---------------------------------------------------------------------------
@dataclass
class Outcome:
    code: int
    err: str
    leftovers: list
    wrong: str | None = None


@dataclass
class Attack:
    name: str
    expect: int          # exit status wanted: 2 bad input/parameters, 1 environment, 0 handled
    run: object          # run(tmp: Path, monkeypatch) -> Outcome
    words: str = ""      # regex the error must contain


def _validate_after(mutate):
    """Attack: a data directory edited by ``mutate(dir)``, then ``validate``; nothing may change."""
    def run(tmp, mp):
        data = data_copy(tmp)
        mutate(data)
        before = snapshot(data)
        code, _, err = run_cli(["validate", "--data", data])
        return Outcome(code, err, [] if snapshot(data) == before else ["data dir changed"])
    return run


def _import_of(make_file, *, fault=None):
    """Attack: import a crafted file into a copy of data/; the data dir must stay as it was."""
    def run(tmp, mp):
        data = data_copy(tmp)
        before = snapshot(data)
        path = make_file(tmp)
        if fault:
            fault(mp, data)
        code, _, err = run_cli(["import", "--data", data, path])
        mp.undo()
        from analysis.dataset import recover

        recover(data)
        return Outcome(code, err, [] if snapshot(data) == before else sorted(set(snapshot(data)) ^ set(before))
                       or ["a table changed"])
    return run


def _cli(argv_of, *, setup=None, fault=None, check=None):
    """Attack: any command; ``check(tmp)`` returns a list of leftovers."""
    def run(tmp, mp):
        if setup:
            setup(tmp)
        if fault:
            fault(mp, tmp)
        code, _, err = run_cli(argv_of(tmp))
        mp.undo()
        return Outcome(code, err, check(tmp) if check else [])
    return run


def _make(var_args):
    """Attack: a hostile Make variable; no command may run but the toolkit's, which refuses it."""
    def run(tmp, mp):
        marker = tmp / "pwned"
        args = [a.replace("PWNED", str(marker)) for a in var_args]
        done = subprocess.run(["make", "-s", "--no-print-directory", "-C", str(PROJECT_DIR), *args],
                              capture_output=True, text=True, timeout=300,
                              env={k: v for k, v in os.environ.items() if not k.startswith("MAKE")})
        err = done.stderr.replace(f"make: *** [Makefile", "\nmake: *** [Makefile")
        err_lines = [ln for ln in err.splitlines() if ln.strip() and not ln.startswith("make: ***")]
        return Outcome(done.returncode and 2, "\n".join(err_lines), [str(marker)] if marker.exists() else [],
                       "injected command ran" if marker.exists() else None)
    return run


def _huge_json(tmp):
    return portal_variant(tmp, "huge.json", b'{"metadata": {"year": ' + b"9" * 5000 + b"}}")


def _deep_json(tmp):
    return portal_variant(tmp, "deep.json", b"[" * 200_000 + b"]" * 200_000)


def _dup_json(tmp):
    text = (PORTAL / "new_api_agencies.json").read_text(encoding="utf-8")
    return portal_variant(tmp, "dup.json", text.replace('{', '{"count": 0, ', 1).encode("utf-8"))


def _nan_json(tmp):
    return portal_variant(tmp, "nan.json", b'{"agencies": [{"totalScore": NaN}]}')


def _big_float_json(tmp):
    return portal_variant(tmp, "inf.json", b'{"agencies": [{"totalScore": 1e400}]}')


def _nul_json(tmp):
    doc = json.loads((PORTAL / "new_api_agencies.json").read_text(encoding="utf-8"))
    text = json.dumps(doc, ensure_ascii=False)
    name = doc["agencies"][0].get("agencyName") or doc["agencies"][0].get("name")
    return portal_variant(tmp, "nul.json", text.replace(json.dumps(name, ensure_ascii=False)[1:-1],
                                                        "Sở\\u0000 Tư pháp", 1).encode("utf-8"))


def _zip_bomb(tmp):
    """A .docx whose entries inflate to 2 GiB (2 MB on disk), with a valid sidecar."""
    path = tmp / "bomb.docx"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as z:
        z.writestr("[Content_Types].xml", "<Types/>")
        with z.open("word/document.xml", "w", force_zip64=True) as fh:
            block = b"\0" * (1 << 24)
            for _ in range(128):
                fh.write(block)
    shutil.copy(DOCS / "thu-2024-07.md.source.json", tmp / "bomb.docx.source.json")
    return path


def _bad_sidecar_date(tmp):
    shutil.copy(DOCS / "thu-2024-07.md", tmp / "doc.md")
    meta = json.loads((DOCS / "thu-2024-07.md.source.json").read_text(encoding="utf-8"))
    meta["issued_date"] = "2024-13-45"
    (tmp / "doc.md.source.json").write_text(json.dumps(meta, ensure_ascii=False), encoding="utf-8")
    return tmp / "doc.md"


def _new_agencies(tmp):
    return PORTAL / "new_api_agencies.json"


def _in_data(mp, data):
    return lambda *a: str(a[0]).startswith(str(data)) or str(a[-1]).startswith(str(data))


def _enospc_fsync(mp, data):
    mp.setattr(os, "fsync", failing("fsync", errno.ENOSPC))


def _eio_commit(mp, data):
    mp.setattr(os, "replace", failing("replace", errno.EIO, when=_in_data(mp, data)))


def _ro_data(tmp):
    return tmp / "data"


def _user_files(tmp):
    out = tmp / "out"
    for rel in (".notes.tmp", "sub/.run-mine/keep.txt", "bac-kan/.draft.html.tmp", ".build-notes/x.tmp"):
        (out / rel).parent.mkdir(parents=True, exist_ok=True)
        (out / rel).write_text("user file", encoding="utf-8")


def _user_files_kept(tmp):
    out = tmp / "out"
    return [rel for rel in (".notes.tmp", "sub/.run-mine/keep.txt", "bac-kan/.draft.html.tmp", ".build-notes/x.tmp")
            if not (out / rel).exists()]


def _holding_lock(which):
    def fault(mp, tmp):
        target = tmp / "out" if which == "out" else DATA_DIR
        target.mkdir(exist_ok=True)
        # the lock is held by another process, as by a second build
        proc = subprocess.Popen([PY, "-c", "import fcntl,os,sys,time; fd=os.open(sys.argv[1], os.O_RDONLY);"
                                 "fcntl.flock(fd, fcntl.LOCK_EX); print('held', flush=True); time.sleep(60)",
                                 str(target)], stdout=subprocess.PIPE, text=True)
        proc.stdout.readline()
        orig_undo = mp.undo

        def undo():
            proc.kill()
            proc.wait()
            orig_undo()
        mp.undo = undo
    return fault


ATTACKS = [
    # 1. shell injection through Make (issue item 1)
    Attack("make: lang with ';'", 2, _make(["report", "PROVINCE=bac-kan", "PERIOD=2024-07",
                                           "lang=vi; touch PWNED"]), "lang"),
    Attack("make: backticks in PROVINCE", 2, _make(["report", "PROVINCE=`touch PWNED`", "PERIOD=2024-07"]),
           "PROVINCE"),
    Attack("make: quote in PROVINCE", 2, _make(["report", 'PROVINCE=x" ; touch PWNED ; echo "', "PERIOD=2024-07"]),
           "PROVINCE"),
    Attack("make: $(shell) in MONTH", 2, _make(["reports", "MONTH=$(shell touch PWNED)"]), "MONTH"),
    Attack("make: ; in MONTH", 2, _make(["reports", "MONTH=2024-07; touch PWNED"]), "MONTH"),
    Attack("make: || in FILES", 2, _make(["import", "DATA=PWNED.d", "FILES=a.json || touch PWNED #"]), "failed"),
    Attack("make: $() in DATA", 2, _make(["validate", "DATA=$$(touch PWNED)"]), "does not exist|DATA"),
    Attack("make: option in FILES", 2, _make(["import", "DATA=PWNED.d", "FILES=--dry-run"]), "failed|no such"),
    # 12. tracebacks the issue found, 13. silent wrong values, 15. header-only table
    Attack("400 nines in a count", 2, _validate_after(lambda d: edit(d / "indicators.csv", ",915,", f",{'9' * 400},")),
           "finite number"),
    Attack("400 nines in a float", 2, _validate_after(lambda d: edit(d / "scores.csv", ",87.15,", f",{'9' * 400},")),
           "finite number"),
    Attack("digits split by a space (1 5)", 2, _validate_after(lambda d: edit(d / "scores.csv", ",14.6,", ',"1 5",')),
           "blanks between digits"),
    Attack("digits split by a space (8 9.49)", 2,
           _validate_after(lambda d: edit(d / "scores.csv", ",87.15,", ',"8 9.49",')), "blanks between digits"),
    Attack("NUL in a unit name", 2, _validate_after(lambda d: edit(d / "units.csv", "tỉnh Bắc Kạn", "tỉnh Bắc\0 Kạn")),
           "control character U\\+0000"),
    Attack("escape sequence in a unit name", 2,
           _validate_after(lambda d: edit(d / "units.csv", "tỉnh Bắc Kạn", "tỉnh \x1b[31mBắc Kạn")),
           "control character U\\+001B"),
    Attack("unit is its own parent", 2, _validate_after(lambda d: edit(
        d / "units.csv", "bac-kan/huyen-na-ri,", "bac-kan/huyen-na-ri,", 1) or _reparent(d, "bac-kan/huyen-na-ri",
                                                                                      "bac-kan/huyen-na-ri")),
           "own parent"),
    Attack("district under its own commune", 2, _validate_after(lambda d: _reparent_to_child(d)), "cycle of parents"),
    Attack("header-only scores.csv and indicators.csv", 2, _validate_after(lambda d: _header_only(d)), "no rows"),
    Attack("non-finite 'inf' in a score", 2, _validate_after(lambda d: edit(d / "scores.csv", ",87.15,", ",inf,")),
           "not a number"),
    Attack("--data is a file", 2, _cli(lambda t: ["validate", "--data", DATA_DIR / "units.csv"]), "is a file"),
    Attack("build --data is a file", 2, _cli(lambda t: ["build", "--data", DATA_DIR / "units.csv", "--out", t / "o"]),
           "is a file"),
    Attack("--workers -3", 2, _cli(lambda t: ["build", "--workers", "-3", "--out", t / "o"]), "WORKERS"),
    Attack("--workers abc", 2, _cli(lambda t: ["build", "--workers", "abc", "--out", t / "o"]), "WORKERS"),
    Attack("--month 2024-13", 2, _cli(lambda t: ["build", "--month", "2024-13", "--out", t / "o"]), "MONTH"),
    Attack("--period with newline", 2, _cli(lambda t: ["build", "--province", "bac-kan", "--period", "2024-07\nx",
                                                     "--out", t / "o"]), "PERIOD"),
    Attack("unknown province", 2, _cli(lambda t: ["build", "--province", "ha-noi", "--period", "2024-07",
                                                "--out", t / "o"]), "unknown province"),
    Attack("--out with control characters", 2, _cli(lambda t: ["build", "--out", f"{t}/o\x07"]), "control"),
    # JSON at the boundary
    Attack("5000-digit JSON integer", 2, _import_of(_huge_json), "5000 digits"),
    Attack("JSON nested 200k deep", 2, _import_of(_deep_json), "nested more than 64"),
    Attack("duplicate JSON key", 2, _import_of(_dup_json), "duplicate key 'count'"),
    Attack("NaN in JSON", 2, _import_of(_nan_json), "NaN"),
    Attack("1e400 in JSON", 2, _import_of(_big_float_json), "overflows"),
    Attack("NUL in a portal unit name", 2, _import_of(_nul_json), "control character|failed"),
    Attack("zip bomb .docx (2 GiB inflated)", 2, _import_of(_zip_bomb), "256 MiB"),
    Attack("sidecar date 2024-13-45", 2, _import_of(_bad_sidecar_date), "failed"),
    Attack("import of a missing file", 2, _import_of(lambda t: t / "absent.json"), "no such file"),
    # the environment: exit 1, nothing half-written
    Attack("full disk during an import (ENOSPC on fsync)", 1, _import_of(_new_agencies, fault=_enospc_fsync),
           "No space left"),
    Attack("EIO on the commit rename", 1, _import_of(_new_agencies, fault=_eio_commit), "Input/output"),
    Attack("read-only data dir (import)", 1, None, "not permitted|Read-only|Permission"),  # see _attack_in
    Attack("read-only out dir (build)", 1, None, "not permitted|Read-only|Permission"),
    Attack("another build holds the out dir", 1, _cli(lambda t: ["build", "--month", "2024-07", "--out", t / "out"],
                                                      fault=_holding_lock("out")), "in use by another build"),
    Attack("user files under --out survive a build", 0,
           _cli(lambda t: ["build", "--province", "bac-kan", "--period", "2024-07", "--out", t / "out",
                           "--executor", "serial", "--quiet"], setup=_user_files, check=_user_files_kept)),
]


def _reparent(data: Path, unit: str, parent: str) -> None:
    path = data / "units.csv"
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    for i, line in enumerate(lines):
        if line.startswith(unit + ","):
            cells = line.split(",")
            cells[5] = parent
            lines[i] = ",".join(cells)
    path.write_text("".join(lines), encoding="utf-8")


def _reparent_to_child(data: Path) -> None:
    child = next(line.split(",")[0] for line in (data / "units.csv").read_text(encoding="utf-8").splitlines()
                 if line.split(",")[5:6] == ["bac-kan/huyen-na-ri"])
    _reparent(data, "bac-kan/huyen-na-ri", child)


def _header_only(data: Path) -> None:
    for table in ("scores", "indicators"):
        path = data / f"{table}.csv"
        path.write_text(path.read_text(encoding="utf-8").splitlines()[0] + "\n", encoding="utf-8")


def run_attack(attack: Attack, tmp: Path, mp) -> dict:
    """Run one attack and classify it: one-line error, traceback, leftover, silent wrong result."""
    outcome = attack.run(tmp, mp)
    traceback_seen = "Traceback" in outcome.err or outcome.code == 99
    wrong = outcome.wrong
    if not wrong and outcome.code != attack.expect:
        wrong = f"exit status {outcome.code}, expected {attack.expect}"
    if not wrong and attack.words and not re.search(attack.words, outcome.err, re.I):
        wrong = f"error does not say /{attack.words}/"
    return {"name": attack.name, "code": outcome.code, "err": outcome.err.strip().splitlines()[-1:] or [""],
            "one_line": attack.expect == 0 or one_line_error(outcome.code, outcome.err),
            "traceback": traceback_seen, "leftovers": outcome.leftovers, "wrong": wrong}


class _Patch:
    """A minimal monkeypatch usable outside pytest (for ``python tests/test_faults.py``)."""

    def __init__(self):
        self._undo = []

    def setattr(self, target, name, value=None):
        if isinstance(target, str):
            module, _, attr = target.rpartition(".")
            import importlib

            target = importlib.import_module(module)
            name, value = attr, name
        self._undo.append((target, name, getattr(target, name)))
        setattr(target, name, value)

    def undo(self):
        while self._undo:
            target, name, value = self._undo.pop()
            setattr(target, name, value)


@pytest.mark.parametrize("attack", ATTACKS, ids=[a.name for a in ATTACKS])
def test_attack(attack, tmp_path, monkeypatch):
    result = _attack_in(attack, tmp_path, monkeypatch)
    assert not result["traceback"], result
    assert result["one_line"], result
    assert not result["leftovers"], result
    assert not result["wrong"], result


def _attack_in(attack, tmp, mp) -> dict:
    """Run an attack; those that name a read-only directory get it made immutable after set-up."""
    ro_names = ("read-only data dir (import)", "read-only out dir (build)")
    if attack.name in ro_names:
        target = tmp / ("data" if "data" in attack.name else "out")
        if target.name == "data":
            data_copy(tmp)
        else:
            target.mkdir()
        before = snapshot(target)
        argv = (["import", "--data", target, PORTAL / "new_api_agencies.json"] if target.name == "data"
                else ["build", "--month", "2024-07", "--out", target])
        with immutable(target):
            code, _, err = run_cli(argv)
        outcome = Outcome(code, err, [] if snapshot(target) == before else ["directory changed"])
        return run_attack(Attack(attack.name, attack.expect, lambda t, m: outcome, attack.words), tmp, mp)
    return run_attack(attack, tmp, mp)


# --- SIGKILL at every step of an import ---------------------------------------------------------
MUTATORS = ("mkdir", "rmdir", "replace", "rename", "unlink", "fsync", "chmod", "link")


def _kill_at(k: int, under: str | None = None) -> None:
    """In a child: SIGKILL this process just before its k-th file-system change (under ``under``)."""
    count = [0]
    for name in MUTATORS:
        real = getattr(os, name)

        def wrapper(*args, _real=real, **kwargs):
            if under is None or any(str(a).startswith(under) for a in args if isinstance(a, (str, Path))):
                count[0] += 1
                if count[0] == k:
                    os.kill(os.getpid(), signal.SIGKILL)
            return _real(*args, **kwargs)

        setattr(os, name, wrapper)


def _forked(fn) -> int:
    """Run ``fn`` in a forked child; return its wait status (signal or exit code)."""
    pid = os.fork()
    if pid == 0:
        try:
            with open(os.devnull, "w") as null, contextlib.redirect_stdout(null), contextlib.redirect_stderr(null):
                fn()
            os._exit(0)
        except BaseException:
            os._exit(3)
    deadline = time.monotonic() + 300
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return status
        if time.monotonic() > deadline:  # a hung child fails the test instead of hanging it
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            raise AssertionError("a forked build or import hung")
        time.sleep(0.05)


def test_sigkill_at_every_step_of_an_import(tmp_path, monkeypatch):
    """Kill an import before each of its file-system changes in turn: afterwards (once the next
    command has recovered) the data dir is byte for byte the old one or the new one, with no other
    file, and re-running the import completes it ("already imported" only when it was)."""
    from analysis.dataset import load_dataset
    from analysis.importers.command import run_import

    monkeypatch.setattr("analysis.config.CACHE_DIR", tmp_path / "cache")
    new = PORTAL / "new_api_agencies.json"
    base = tmp_path / "base"
    run_import([PORTAL / "new_api_communes.json"], base)
    before = snapshot(base)
    done = tmp_path / "done"
    shutil.copytree(base, done)
    run_import([new], done)
    after = snapshot(done)
    assert after != before
    steps, k = [], 0
    while True:
        k += 1
        data = tmp_path / f"k{k}"
        shutil.copytree(base, data)
        status = _forked(lambda: (_kill_at(k, str(data)), run_import([new], data)))
        killed = os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL
        load_dataset(data)  # the next command: recovers, then reads
        state = snapshot(data)
        assert state in (before, after), (k, sorted(set(state) ^ set(before) ^ set(after)))
        steps.append("after" if state == after else "before")
        report = run_import([new], data)  # the user re-runs the import
        assert snapshot(data) == after, k
        if steps[-1] == "after":
            assert report.results[0].skipped and "already imported" in report.results[0].skipped
        else:
            assert report.written
        shutil.rmtree(data)
        if not killed:
            assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0
            break
    assert len(steps) > 10 and "before" in steps and steps.count("after") >= 2, steps
    _KILL_CASES.extend(f"import step {i + 1}" for i in range(len(steps) - 1))


_KILL_CASES: list[str] = []


# --- builds: a trivial notebook so that each killed build costs little ---------------------------
def _notebooks(tmp: Path, extra: str | None = None) -> Path:
    """A copy of the notebooks; ``extra`` code is inserted after the parameters cell."""
    target = tmp / "notebooks"
    shutil.copytree(NOTEBOOKS_DIR, target)
    if extra:
        path = target / "province_report.ipynb"
        nb = json.loads(path.read_text(encoding="utf-8"))
        at = next(i for i, c in enumerate(nb["cells"]) if "parameters" in c.get("metadata", {}).get("tags", [])) + 1
        nb["cells"].insert(at, {"cell_type": "code", "execution_count": None, "metadata": {}, "outputs": [],
                                "source": extra})
        path.write_text(json.dumps(nb), encoding="utf-8")
    return target


def _no_leftovers(out: Path) -> list[str]:
    """Files a build may leave: its reports, the index and its state folder (no temporary work)."""
    bad = []
    for p in out.rglob("*"):
        rel = p.relative_to(out)
        if rel.parts[0] == ".build":
            if len(rel.parts) > 1 and rel.parts[1] == "work" and p.is_file():
                bad.append(str(rel))
            continue
        if p.is_file() and not (p.name == "index.html" or p.suffix in (".html", ".ipynb", ".xlsx", ".csv")):
            bad.append(str(rel))
        if p.name.startswith("."):
            bad.append(str(rel))
    return bad


def _consistent(out: Path) -> list[str]:
    """Every stamped report has its HTML and notebook, complete."""
    bad = []
    for stamp in (out / ".build").glob("*__*.json"):
        key = json.loads(stamp.read_text(encoding="utf-8"))["key"]
        html = out / f"{key}.html"
        if not html.exists() or not (out / f"{key}.ipynb").exists():
            bad.append(f"{key}: stamp without outputs")
        elif not html.read_text(encoding="utf-8").rstrip().endswith("</html>"):
            bad.append(f"{key}: truncated HTML")
    return bad


def _publishing_step(out: Path):
    """Which calls count as a build's steps: every change a reader of the output directory can see
    (a file or folder renamed into place, moved away or removed), outside the build's work folder.
    Creating empty folders and fsyncs are left out: a kill there is the same as before the next
    step, and each killed build costs a kernel run."""
    work = str(out / ".build" / "work")

    def step(*args, name="") -> bool:
        if name not in ("replace", "rename", "unlink", "rmdir"):
            return False
        paths = [str(a) for a in args if isinstance(a, (str, Path))]
        return any(p.startswith(str(out)) for p in paths) and not all(p.startswith(work) for p in paths)
    return step


def _kill_at_step(k: int, step) -> None:
    """In a child: SIGKILL this process just before its k-th step (see :func:`_publishing_step`)."""
    count = [0]
    for name in MUTATORS:
        real = getattr(os, name)

        def wrapper(*args, _real=real, _name=name, **kwargs):
            if step(*args, name=_name):
                count[0] += 1
                if count[0] == k:
                    os.kill(os.getpid(), signal.SIGKILL)
            return _real(*args, **kwargs)

        setattr(os, name, wrapper)


def test_sigkill_at_every_publishing_step_of_a_build(tmp_path, monkeypatch):
    """Kill the build (main process, serial executor) before each change it makes in the output
    directory: no stamp ever names missing or partial outputs, a stale report never keeps a stamp
    that looks current, nothing is left outside the build's work folder, and the next build
    completes with the same bytes as an uninterrupted one.

    Builds run in forked children (cheap: the libraries are already imported), so this process
    never starts a kernel client itself (a ZeroMQ context does not survive a fork).
    """
    from analysis.build import _clear_work, plan_jobs, run_batch

    import analysis.report  # noqa: F401 - imported before forking, as a worker would have it

    ref = tmp_path / "ref"
    jobs = plan_jobs(DATA_DIR, out_dir=ref, province="bac-kan", period="2024-07")
    build = lambda out: run_batch(jobs, out_dir=out, executor="serial", progress=False, fork=False)  # noqa: E731
    assert _forked(lambda: build(ref)) == 0
    assert _stamp_hash(ref)

    def published(out):  # .xlsx bytes are not deterministic yet (#14): compared by name only
        return {k: (v if not k.endswith(".xlsx") else b"xlsx") for k, v in snapshot(out).items()
                if not k.startswith(".build")}

    reference = published(ref)
    k, kills = 0, 0
    while True:
        k += 1
        out = tmp_path / f"k{k}"
        shutil.copytree(ref, out)  # an older build is there: its files must never look current if stale
        stamp = out / ".build" / "bac-kan__2024-07.json"
        stamp.write_text(stamp.read_text(encoding="utf-8").replace(_stamp_hash(ref), "older-inputs"),
                         encoding="utf-8")
        step = _publishing_step(out)
        status = _forked(lambda: (_kill_at_step(k, step), build(out)))
        assert not _consistent(out), (k, _consistent(out))
        if stamp.exists():  # a stamp is the old one (outputs untouched) or the new one (all published)
            now = json.loads(stamp.read_text(encoding="utf-8"))["input_hash"]
            assert now in ("older-inputs", _stamp_hash(ref)), k
            if now == _stamp_hash(ref):
                assert published(out) == reference, k
        _clear_work(out)  # what the next build does first
        assert not _no_leftovers(out), (k, _no_leftovers(out))
        if not os.WIFSIGNALED(status):
            assert os.WEXITSTATUS(status) == 0
            break
        kills += 1
        last = out
    assert _forked(lambda: build(last)) == 0  # the next build completes the last killed one
    assert published(last) == reference and not _no_leftovers(last)
    assert kills >= 6, kills
    _KILL_CASES.extend(f"build main step {i + 1}" for i in range(kills))


def _stamp_hash(out: Path) -> str:
    return json.loads((out / ".build" / "bac-kan__2024-07.json").read_text(encoding="utf-8"))["input_hash"]


def test_killed_worker_and_killed_kernel_fail_their_own_job_only(tmp_path):
    """One report kills its worker process, another its kernel: those two fail with a one-line
    reason, the pool is rebuilt and every other report is built."""
    from analysis.build import plan_jobs, run_batch

    notebooks = _notebooks(tmp_path, extra=(
        "import os, signal\n"
        "if province == 'an-giang':\n    os.kill(int(os.environ['JPY_PARENT_PID']), signal.SIGKILL)\n"
        "if province == 'dong-thap':\n    os.kill(os.getpid(), signal.SIGKILL)\n"))
    jobs = [j for j in plan_jobs(DATA_DIR, out_dir=tmp_path / "out") if j.kind == "province"]
    results = {r.key: r for r in run_batch(jobs, out_dir=tmp_path / "out", workers=2, notebooks_dir=notebooks,
                                           progress=False)}
    assert results["an-giang/2024-05-w1"].status == "failed"
    assert "worker process building this report died (killed by SIGKILL)" in results["an-giang/2024-05-w1"].error
    assert results["dong-thap/2022-11"].status == "failed"
    assert "DeadKernelError" in results["dong-thap/2022-11"].error or "died" in results["dong-thap/2022-11"].error
    assert {k for k, r in results.items() if r.status == "built"} == {"bac-kan/2024-07", "tuyen-quang/2024-07"}
    assert all("\n" not in r.error for r in results.values())
    assert not (tmp_path / "out" / "an-giang" / "2024-05-w1.html").exists()
    assert not _no_leftovers(tmp_path / "out")
    _KILL_CASES.extend(["build worker", "build kernel"])


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()[:160]
    except OSError:
        return "?"


def _session_processes(sid: int) -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[3]) == sid and fields[0] != "Z":
                pids.append(int(entry.name))
    return pids


def test_killing_the_main_process_leaves_no_orphans(tmp_path):
    """SIGKILL the build's main process only (not its group) while reports run: its workers, fork
    servers and kernels exit within seconds and publish nothing more; the next build completes."""
    out = tmp_path / "out"
    cmd = [PY, "-m", "analysis", "build", "--month", "2024-07", "--out", str(out), "--workers", "2", "--quiet"]
    proc = subprocess.Popen(cmd, cwd=PROJECT_DIR, start_new_session=True, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    deadline = time.time() + 240
    while time.time() < deadline and not list((out / ".build" / "work").rglob("run-*")):
        time.sleep(0.1)
    time.sleep(0.5)  # kernels are running
    assert len(_session_processes(proc.pid)) > 2  # main, workers, fork servers, kernels
    proc.kill()
    proc.wait()
    deadline = time.time() + 60  # seconds when idle; a loaded 2-core machine may take longer
    while time.time() < deadline and _session_processes(proc.pid):
        time.sleep(0.2)
    left = {pid: _cmdline(pid) for pid in _session_processes(proc.pid)}
    assert left == {}
    published = snapshot(out)
    time.sleep(2)
    assert snapshot(out) == published  # nobody is still publishing
    assert not _consistent(out)
    again = subprocess.run(cmd, cwd=PROJECT_DIR, capture_output=True, text=True)
    assert again.returncode == 0, again.stderr
    assert not _no_leftovers(out)
    _KILL_CASES.append("build main (orphans)")


# --- concurrency, a data change during a build, code reaching the caches ------------------------
def test_concurrent_builds_one_waits_out_with_a_clear_message(tmp_path):
    """While a build runs: another build into the same out dir (from other data) stops at once
    with a one-line error; another build from the same data dir (into another out dir) queues,
    says so in one line, and then runs."""
    out, other_out, other_data = tmp_path / "out", tmp_path / "out2", tmp_path / "data"
    shutil.copytree(DATA_DIR, other_data)
    base = [PY, "-m", "analysis", "build", "--province", "bac-kan", "--period", "2024-07",
            "--executor", "serial", "--quiet"]
    first = subprocess.Popen(base + ["--out", str(out)], cwd=PROJECT_DIR, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 120
    while time.time() < deadline and not (out / ".build" / "work").exists():
        time.sleep(0.05)
    same_out = subprocess.run(base + ["--out", str(out), "--data", str(other_data)], cwd=PROJECT_DIR,
                              capture_output=True, text=True)
    same_data = subprocess.run(base + ["--out", str(other_out)], cwd=PROJECT_DIR, capture_output=True, text=True)
    _, err = first.communicate(timeout=300)
    assert first.returncode == 0, err
    assert same_out.returncode == 1
    assert same_out.stderr.strip().count("\n") == 0 and "in use by another build" in same_out.stderr
    assert same_data.returncode == 0, same_data.stderr
    assert "waiting for another build" in same_data.stderr
    assert not _no_leftovers(out) and not _consistent(out)


def _scores_changed_by_the_kernel(tmp_path):
    """A data copy, its scores.csv bytes, and notebooks whose kernel changes that file (Na Rì's
    87.15 becomes 17.15) just before the report reads it."""
    data = data_copy(tmp_path)
    original = (data / "scores.csv").read_bytes()
    notebooks = _notebooks(tmp_path, extra=(
        "import pathlib\np = pathlib.Path(data_dir) / 'scores.csv'\n"
        "p.write_text(p.read_text(encoding='utf-8').replace(',87.15,', ',17.15,', 1), encoding='utf-8')"))
    return data, original, notebooks


def test_a_data_change_during_a_build_is_seen_by_the_next_build(tmp_path):
    """The kernel finds a data file changed after the plan (here it changes it itself, at the
    worst moment: just before reading). The report fails and is not stamped; once the file is put
    back, the next build makes the report from the planned data."""
    from analysis.build import plan_jobs, run_batch

    data, original, notebooks = _scores_changed_by_the_kernel(tmp_path)
    out = tmp_path / "out"
    jobs = plan_jobs(data, out_dir=out, province="bac-kan", period="2024-07")
    # a kernel that is not forked (fork=False) reads the files: it sees the change
    (res,) = run_batch(jobs, out_dir=out, notebooks_dir=notebooks, executor="serial", progress=False,
                       fork=False)
    assert res.status == "failed" and "scores.csv changed while this report was built" in res.error
    assert not (out / "bac-kan" / "2024-07.html").exists()
    (data / "scores.csv").write_bytes(original)  # put back
    (res,) = run_batch(plan_jobs(data, out_dir=out, province="bac-kan", period="2024-07"), out_dir=out,
                       executor="serial", progress=False)
    assert res.status == "built"
    stamp = json.loads((out / ".build" / "bac-kan__2024-07.json").read_text(encoding="utf-8"))
    import hashlib

    assert stamp["inputs_read"]["scores.csv"] == hashlib.sha256(original).hexdigest()
    assert "87,15" in (out / "bac-kan" / "2024-07.html").read_text(encoding="utf-8")


def test_a_forked_kernel_builds_from_the_data_its_build_planned(tmp_path):
    """A forked kernel uses the data its fork server holds for the build (read when the build
    started, with the hashes the plan names), so a file changed under it during the build does
    not reach the report: it is built from the planned contents, its stamp names their hashes,
    and the next build (planned from the changed file) makes it again."""
    import hashlib

    from analysis.build import plan_jobs, run_batch, stale_jobs, stop_zygote

    data, original, notebooks = _scores_changed_by_the_kernel(tmp_path)
    out = tmp_path / "out"
    jobs = plan_jobs(data, out_dir=out, province="bac-kan", period="2024-07")
    try:
        (res,) = run_batch(jobs, out_dir=out, notebooks_dir=notebooks, executor="serial", progress=False)
    finally:
        stop_zygote()
    assert res.status == "built", res.error
    assert (data / "scores.csv").read_bytes() != original  # the kernel did change the file
    stamp = json.loads((out / ".build" / "bac-kan__2024-07.json").read_text(encoding="utf-8"))
    assert stamp["inputs_read"]["scores.csv"] == hashlib.sha256(original).hexdigest()
    assert "87,15" in (out / "bac-kan" / "2024-07.html").read_text(encoding="utf-8")
    again = plan_jobs(data, out_dir=out, province="bac-kan", period="2024-07")
    assert [j.key for j, _ in stale_jobs(again, out_dir=out, notebooks_dir=notebooks)] == ["bac-kan/2024-07"]


def test_a_code_edit_reaches_the_caches(tmp_path):
    """Edit ``views.report_periods`` in a copy of the project: the next build plans with it
    (validation cache and plan cache are keyed on all the package's code)."""
    project = tmp_path / "project"
    for part in ("src", "notebooks", "data"):
        shutil.copytree(PROJECT_DIR / part, project / part, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(PROJECT_DIR / "requirements.lock", project)
    env = {**os.environ, "PYTHONPATH": str(project / "src"), "ANALYSIS_CACHE_DIR": str(project / "build" / "cache")}
    env.pop("ANALYSIS_LOCKED_DIRS", None)
    cmd = [PY, "-m", "analysis", "build", "--list", "--out", str(project / "reports")]
    first = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=project)
    assert "bac-kan/2024-07" in first.stdout, first.stderr
    edit(project / "src" / "analysis" / "views.py", "    return out.sort_values([\"province_id\", \"period_id\"])",
         "    out = out.loc[out[\"province_id\"] != \"bac-kan\"]\n    return out.sort_values([\"province_id\", \"period_id\"])")
    second = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=project)
    assert second.returncode == 0, second.stderr
    assert "bac-kan/2024-07" not in second.stdout and "tuyen-quang/2024-07" in second.stdout


# --- determinism and offline HTML ----------------------------------------------------------------
@pytest.fixture(scope="module")
def two_builds(tmp_path_factory):
    from analysis.build import plan_jobs, run_batch

    outs = []
    for name in ("a", "b"):
        out = tmp_path_factory.mktemp(f"build-{name}")
        jobs = plan_jobs(DATA_DIR, out_dir=out, month="2024-07")
        results = run_batch(jobs, out_dir=out, workers=2, progress=False, force=True)
        assert all(r.status == "built" for r in results), results
        outs.append(out)
    return outs


@pytest.mark.parametrize("suffix", [".html", ".csv", ".ipynb"])
def test_two_builds_are_byte_identical(two_builds, suffix):
    a, b = (snapshot(o) for o in two_builds)
    files = [f for f in a if f.endswith(suffix) and not f.startswith(".build")]
    assert files
    assert [f for f in files if a[f] != b.get(f)] == []


def test_two_builds_give_identical_xlsx(two_builds):
    a, b = (snapshot(o) for o in two_builds)
    files = [f for f in a if f.endswith(".xlsx")]
    assert files and [f for f in files if a[f] != b.get(f)] == []


NETWORK = re.compile(r"""<(?:script|link|img|iframe|source|video|audio)\b[^>]*\b(?:src|href)\s*=\s*["']?\s*(?:https?:)?//"""
                     r"""|@import\s+(?:url\()?["']?\s*(?:https?:)?//|url\(\s*["']?\s*(?:https?:)?//""", re.I)


def test_every_built_html_is_self_contained(two_builds):
    pages = list(two_builds[0].rglob("*.html"))
    assert len(pages) >= 4
    for page in pages:
        text = page.read_text(encoding="utf-8")
        assert not NETWORK.search(text), (page, NETWORK.search(text).group(0))
        assert "require.min.js" not in text and "mathjax" not in text.lower(), page


def test_html_loads_with_the_network_disabled(two_builds):
    """Headless Chromium, offline: the page loads completely and requests nothing but its file."""
    chromium, driver_bin = "/usr/bin/chromium", "/usr/bin/chromedriver"
    if not (os.path.exists(chromium) and os.path.exists(driver_bin)):
        pytest.skip("chromium is not installed (tests/test_browser.py installs it when it runs as root)")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    opts.binary_location = chromium
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--disable-background-networking", "--disable-component-update", "--no-first-run"):
        opts.add_argument(arg)
    opts.set_capability("goog:loggingPrefs", {"performance": "ALL"})
    driver = webdriver.Chrome(service=Service(driver_bin), options=opts)
    try:
        driver.set_network_conditions(offline=True, latency=0, download_throughput=0, upload_throughput=0)
        page = two_builds[0] / "bac-kan" / "2024-07.html"
        start = time.monotonic()
        driver.get(page.as_uri())
        assert driver.execute_script("return document.readyState") == "complete"
        assert time.monotonic() - start < 20
        images = driver.execute_script("return Array.from(document.images).map(i => i.complete && i.naturalWidth > 0)")
        assert all(images)  # figures are inline SVG, not images
        assert driver.execute_script("return document.querySelectorAll('figure svg[role=img]').length") >= 3
        requests = [json.loads(e["message"])["message"] for e in driver.get_log("performance")]
        urls = {m["params"]["request"]["url"] for m in requests if m["method"] == "Network.requestWillBeSent"}
        assert {u for u in urls if not u.startswith(("file:", "data:"))} == set()
    finally:
        driver.quit()


# --- the counts ----------------------------------------------------------------------------------
def main() -> int:
    """Run the attack list and print the counts (and each case that is not clean)."""
    import tempfile

    rows = []
    for attack in ATTACKS:
        with tempfile.TemporaryDirectory() as tmp:
            mp = _Patch()
            try:
                rows.append(_attack_in(attack, Path(tmp), mp))
            except BaseException as exc:  # noqa: BLE001 - pytest.skip and the like
                rows.append({"name": attack.name, "code": None, "err": [repr(exc)], "one_line": False,
                             "traceback": False, "leftovers": [], "wrong": f"not run: {exc!r}"})
            finally:
                mp.undo()
    for r in rows:
        flag = "ok " if r["one_line"] and not (r["traceback"] or r["leftovers"] or r["wrong"]) else "BAD"
        print(f"{flag} exit {r['code']}  {r['name']:<48} {r['err'][0][:110]}")
    errors = [r for r in rows if r["code"] not in (0, None)]
    print(f"\ncases tried: {len(rows)}; one-line errors: {sum(r['one_line'] for r in errors)} of {len(errors)} "
          f"errors; tracebacks: {sum(r['traceback'] for r in rows)}; leftovers: "
          f"{sum(bool(r['leftovers']) for r in rows)}; silent wrong results: {sum(bool(r['wrong']) for r in rows)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
