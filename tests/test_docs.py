"""The documentation site stays true: it builds with no warning, every page the issue asks for
exists, every internal link and anchor resolves, and the examples in the pages run.

How examples are found (``docs/**/*.md``, generated pages aside):

- ```` ```python ```` blocks and ``analysis-figure`` directives are executed, in page order, in
  one Python session per page; ```` ```pycon ```` blocks are run as doctests in that session
  (their printed output must match);
- ```` ```bash ```` blocks are executed with ``bash -eu -o pipefail``;
- a ``code-block`` with ``:caption: path/to/file`` (TOML, CSV …) is written to that file first,
  as a reader would save it.

The examples run in a scratch workspace: a copy of ``data/`` and links to the code, the notebooks
and the virtual environment, so that ``--data data --out reports`` and ``make`` work as they do in
a clone, and nothing in the repository is touched. The pages share it (see ``clone``); each page's
examples are complete on their own, in page order.

A MyST comment just above a block says when it is not run:
``% docs-test: skip <reason>`` (e.g. it needs the network) or
``% docs-test: pending <feature>``, where ``<feature>`` is a key of ``PENDING`` below: a feature
built on another branch. Deleting a key from ``PENDING`` runs its examples.
"""
from __future__ import annotations

import html.parser
import json
import os
import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
SHARED = Path(os.environ.get("ANALYSIS_SHARED_DIR", ROOT.parent / "shared"))

# Features being built on other branches when these pages were written. Their examples are
# skipped, with this reason, until the entry is deleted (after the merge).
PENDING = {
}

# The pages the issue asks for (built HTML, relative to the site root).
REQUIRED_PAGES = [
    "index.html",
    "tutorial/index.html",
    "tutorial/first-report.html",
    "tutorial/first-analysis.html",
    "howto/index.html",
    "howto/fetch-and-import.html",
    "howto/transcribe.html",
    "howto/units.html",
    "howto/scheme.html",
    "howto/dask.html",
    "howto/audit.html",
    "howto/word-excel.html",
    "explanation/index.html",
    "explanation/index766.html",
    "explanation/data-model.html",
    "explanation/audit.html",
    "explanation/statistics.html",
    "reference/index.html",
    "reference/api.html",
    "_generated/cli.html",
    "_generated/make.html",
    "reference/codebook.html",
]

FENCE = re.compile(r"^(?P<fence>`{3,}|~{3,})\s*(?P<info>.*)$")
MARKER = re.compile(r"^%\s*docs-test:\s*(?P<kind>skip|pending)\s+(?P<what>.+?)\s*$")
CAPTION_PATH = re.compile(r"^[\w.\-/]+\.[A-Za-z0-9]+$")


# --------------------------------------------------------------------------- reading pages

def doc_pages() -> list[Path]:
    skip = {"_build", "_generated", "_ext", "_static"}
    return sorted(p for p in DOCS.rglob("*.md") if not skip & set(p.relative_to(DOCS).parts))


def blocks(path: Path) -> list[dict]:
    """Fenced blocks of a MyST page: line, kind (python/pycon/bash/file/other), code, marker."""
    lines = path.read_text(encoding="utf-8").splitlines()
    out, i = [], 0
    while i < len(lines):
        m = FENCE.match(lines[i])
        if not m:
            i += 1
            continue
        fence, info = m.group("fence"), m.group("info").strip()
        start = i
        j = i + 1
        while j < len(lines) and lines[j].strip() != fence:
            j += 1
        body = lines[i + 1:j]
        i = j + 1
        options = {}
        directive = re.match(r"^\{([\w-]+)\}\s*(.*)$", info)
        if directive:
            name, arg = directive.group(1), directive.group(2).strip()
            while body and re.match(r"^:[\w-]+:", body[0]):
                key, _, value = body.pop(0)[1:].partition(":")
                options[key] = value.strip()
            while body and not body[0].strip():   # MyST: a blank line may end the options
                body.pop(0)
            lang = {"analysis-figure": "python"}.get(name, arg if name == "code-block" else "")
        else:
            lang = info.split()[0] if info else ""
        caption = options.get("caption", "")
        if lang in ("python", "pycon", "bash"):
            kind = lang
        elif caption and CAPTION_PATH.match(caption):
            kind = "file"
        else:
            kind = "other"
        marker = None
        k = start - 1
        while k >= 0 and not lines[k].strip():
            k -= 1
        if k >= 0:
            mm = MARKER.match(lines[k].strip())
            if mm:
                marker = (mm.group("kind"), mm.group("what"))
        out.append({"line": start + 1, "kind": kind, "code": "\n".join(body) + "\n",
                    "caption": caption, "marker": marker})
    return out


def page_id(path: Path) -> str:
    return str(path.relative_to(DOCS).with_suffix(""))


# --------------------------------------------------------------------------- the docs build

@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("docs")
    html_dir = out / "html"
    proc = subprocess.run(
        [sys.executable, "-m", "sphinx", "-W", "--keep-going", "-b", "html", "-q",
         "-d", str(out / "doctrees"), str(DOCS), str(html_dir)],
        cwd=ROOT, capture_output=True, text=True, env={**os.environ, "MPLBACKEND": "Agg"})
    assert proc.returncode == 0, f"sphinx-build failed (warnings are errors):\n{proc.stderr}{proc.stdout}"
    return html_dir


def test_docs_build_with_every_page(site):
    missing = [p for p in REQUIRED_PAGES if not (site / p).is_file()]
    assert not missing, f"pages missing from the built site: {missing}"


class _Links(html.parser.HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.ids: set[str] = set()
        self.links: list[str] = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        for key in ("id", "name"):
            if attrs.get(key) and (key == "id" or tag == "a"):
                self.ids.add(attrs[key])
        for key in ("href", "src"):
            if attrs.get(key) and not (tag == "link" and attrs.get("rel") in ("canonical",)):
                self.links.append(attrs[key])


def _parse(path: Path) -> _Links:
    parser = _Links()
    parser.feed(path.read_text(encoding="utf-8"))
    return parser


def check_links(site: Path) -> tuple[list[str], set[str]]:
    """(broken internal links and anchors, external links) of a built HTML site; nothing fetched."""
    pages = {p.resolve(): _parse(p) for p in site.rglob("*.html")}
    broken, external = [], set()
    for page, parsed in pages.items():
        for link in parsed.links:
            parts = urlsplit(link)
            if parts.scheme in ("http", "https", "mailto", "ftp"):
                external.add(link)
                continue
            if parts.scheme in ("data", "javascript"):
                continue
            target = page if not parts.path else (page.parent / unquote(parts.path)).resolve()
            if parts.path.endswith("/") or target.is_dir():
                target = target / "index.html"
            if not target.exists():
                broken.append(f"{page.relative_to(site.resolve())}: {link} (no file {target})")
                continue
            if parts.fragment and target.suffix == ".html":
                ids = pages[target].ids if target in pages else _parse(target).ids
                if unquote(parts.fragment) not in ids:
                    broken.append(f"{page.relative_to(site.resolve())}: {link} (no anchor #{parts.fragment})")
    return broken, external


def test_every_internal_link_and_anchor_resolves(site):
    broken, external = check_links(site)
    assert not broken, "broken internal links:\n" + "\n".join(broken)
    (site.parent / "external-links.txt").write_text("\n".join(sorted(external)) + "\n", encoding="utf-8")
    print(f"{len(external)} external links (not fetched):", *sorted(external), sep="\n  ")


def test_link_check_finds_a_missing_page_and_a_missing_anchor(tmp_path):
    (tmp_path / "sub").mkdir()
    (tmp_path / "index.html").write_text(
        '<a href="sub/page.html#here">ok</a> <a href="sub/page.html#gone">bad anchor</a>'
        '<a href="missing.html">bad page</a> <a href="#top">ok</a> <p id="top"></p>'
        '<a href="https://example.org/x">external</a> <img src="sub/">', encoding="utf-8")
    (tmp_path / "sub" / "page.html").write_text('<h1 id="here">x</h1>', encoding="utf-8")
    (tmp_path / "sub" / "index.html").write_text("", encoding="utf-8")
    broken, external = check_links(tmp_path)
    assert len(broken) == 2 and "#gone" in broken[0] and "missing.html" in broken[1], broken
    assert external == {"https://example.org/x"}


def _text(path: Path) -> str:
    """The visible text of a built page (tags removed, entities decoded)."""
    import html as html_lib

    return html_lib.unescape(re.sub(r"<[^>]+>", "", path.read_text(encoding="utf-8")))


def test_generated_make_page_lists_every_target_of_make_help(site):
    proc = subprocess.run(["make", "-s", "--no-print-directory", "help"], cwd=ROOT,
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    targets = re.findall(r"^\s+(?:\x1b\[1m)?([a-zA-Z_.-]+)", proc.stdout, re.MULTILINE)
    assert targets, proc.stdout
    page = _text(site / "_generated" / "make.html")
    missing = [t for t in targets if f"make {t}" not in page]
    assert not missing, f"targets of `make help` missing from the Make page: {missing}"


def test_generated_cli_page_lists_every_subcommand_and_option(site):
    from analysis.cli import build_parser
    import argparse

    page = (site / "_generated" / "cli.html").read_text(encoding="utf-8")
    text = _text(site / "_generated" / "cli.html")
    for action in build_parser()._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                assert f'id="cli-{name}"' in page, name
                for opt in sub._actions:
                    for flag in opt.option_strings:
                        assert flag in text, f"{name} {flag}"


# --------------------------------------------------------------------------- examples

def test_every_marker_names_a_reason():
    for path in doc_pages():
        for b in blocks(path):
            if b["marker"] and b["marker"][0] == "skip":
                assert len(b["marker"][1]) > 10, f"{path}:{b['line']}: say why the example is skipped"


def test_pending_features_are_used():
    """A key of PENDING that no page uses is stale: delete it."""
    used = {b["marker"][1] for p in doc_pages() for b in blocks(p)
            if b["marker"] and b["marker"][0] == "pending"}
    assert set(PENDING) <= used, f"unused PENDING keys: {set(PENDING) - used}"
    unknown = {u for u in used if u not in PENDING}
    # a pending marker whose key was deleted from PENDING runs: that is the intended switch
    assert all(re.fullmatch(r"[a-z-]+", u) for u in unknown), unknown


_DRIVER = textwrap.dedent('''
    import doctest, json, os, subprocess, sys, traceback
    steps = json.load(open(sys.argv[1], encoding="utf-8"))
    ns = {"__name__": "__main__"}
    for step in steps:
        where = step["where"]
        print(f"--- {where} ({step['kind']})", flush=True)
        if step["kind"] == "file":
            os.makedirs(os.path.dirname(step["caption"]) or ".", exist_ok=True)
            with open(step["caption"], "w", encoding="utf-8") as fh:
                fh.write(step["code"])
        elif step["kind"] == "bash":
            proc = subprocess.run(["bash", "-eu", "-o", "pipefail", "-c", step["code"]])
            if proc.returncode:
                print(f"FAILED {where}: exit status {proc.returncode}", flush=True)
                sys.exit(1)
        elif step["kind"] == "python":
            try:
                exec(compile(step["code"], where, "exec"), ns)
            except Exception:
                traceback.print_exc()
                print(f"FAILED {where}", flush=True)
                sys.exit(1)
        elif step["kind"] == "pycon":
            test = doctest.DocTestParser().get_doctest(step["code"], ns, where, where, 0)
            runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
            result = runner.run(test, clear_globs=False)
            ns.update(test.globs)   # DocTest copies its globals: carry the session on
            if result.failed:
                print(f"FAILED {where}: {result.failed} doctest example(s)", flush=True)
                sys.exit(1)
    print("ALL OK", flush=True)
''')

LINKED = [".venv", "src", "notebooks", "tests", "tools", "Makefile", "pyproject.toml",
          "requirements.lock", "requirements.in", "README.md", "environment.yml"]


def _workspace(tmp_path: Path) -> Path:
    ws = tmp_path / "clone"
    ws.mkdir()
    shutil.copytree(ROOT / "data", ws / "data")
    for name in LINKED:
        if (ROOT / name).exists():
            (ws / name).symlink_to(ROOT / name)
    if SHARED.is_dir():   # pages refer to ../shared as a clone does
        (tmp_path / "shared").symlink_to(SHARED)
    return ws


def test_example_runner_reads_markers_and_fails_on_a_failing_example(tmp_path):
    page = tmp_path / "page.md"
    page.write_text(textwrap.dedent("""\
        ```bash
        echo one > one.txt
        ```

        % docs-test: skip needs something this test does not have
        ```bash
        exit 3
        ```

        ```{code-block} text
        :caption: out/two.txt

        two
        ```

        ```bash
        test "$(cat one.txt out/two.txt)" = "$(printf 'one\\ntwo')"
        ```

        ```bash
        false
        ```
        """), encoding="utf-8")
    found = blocks(page)
    assert [b["kind"] for b in found] == ["bash", "bash", "file", "bash", "bash"]
    assert found[1]["marker"] == ("skip", "needs something this test does not have")
    assert found[2]["code"] == "two\n" and found[2]["caption"] == "out/two.txt"
    steps = [{**b, "where": f"page.md:{b['line']}"} for b in found if not b["marker"]]
    (tmp_path / "steps.json").write_text(json.dumps(steps), encoding="utf-8")
    (tmp_path / "driver.py").write_text(_DRIVER, encoding="utf-8")
    proc = subprocess.run([sys.executable, str(tmp_path / "driver.py"), str(tmp_path / "steps.json")],
                          cwd=tmp_path, capture_output=True, text=True)
    assert proc.returncode == 1 and "FAILED page.md:20" in proc.stdout, proc.stdout + proc.stderr
    assert "page.md:16 (bash)" in proc.stdout   # the check before it ran and passed
    assert (tmp_path / "out" / "two.txt").read_text(encoding="utf-8") == "two\n"


def _pages_with_examples() -> list[str]:
    return [page_id(p) for p in doc_pages() if any(b["kind"] != "other" for b in blocks(p))]


@pytest.fixture(scope="module")
def clone(tmp_path_factory) -> tuple[Path, Path]:
    """(workspace, validation cache) shared by the pages of one test run.

    Every page's examples are complete on their own (they create what they read); sharing the
    workspace only lets a page find a report another page already built unchanged, which the
    build's content-hash cache then skips: the docs test stays cheap. The repository's own
    ``data/`` is never written: the workspace holds a copy.
    """
    base = tmp_path_factory.mktemp("docs-examples")
    return _workspace(base), base / "cache"


@pytest.mark.parametrize("page", _pages_with_examples())
def test_examples_run(page, tmp_path, clone):
    path = DOCS / f"{page}.md"
    steps, skipped = [], []
    for b in blocks(path):
        if b["kind"] == "other":
            continue
        where = f"docs/{page}.md:{b['line']}"
        if b["marker"]:
            kind, what = b["marker"]
            if kind == "skip":
                skipped.append(f"{where}: {what}")
                continue
            if what in PENDING:
                skipped.append(f"{where}: pending {PENDING[what]}")
                continue
        steps.append({**b, "where": where})
    if not any(s["kind"] != "file" for s in steps):
        pytest.skip("no runnable example" + (": " + "; ".join(skipped) if skipped else ""))
    uses_shared = any("../shared" in s["code"] for s in steps)
    if uses_shared and not SHARED.is_dir():
        pytest.skip(f"the examples read ../shared, which is absent ({SHARED})")
    for line in skipped:   # shown with `pytest -rA` or `-s`: what this page does not run, and why
        print("not run:", line)
    ws, cache = clone
    plan = tmp_path / "steps.json"
    plan.write_text(json.dumps(steps, ensure_ascii=False), encoding="utf-8")
    env = {**os.environ, "MPLBACKEND": "Agg", "ANALYSIS_CACHE_DIR": str(cache),
           "PATH": f"{ROOT / '.venv' / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}"}
    env.pop("ANALYSIS_DATA_DIR", None)
    driver = tmp_path / "driver.py"
    driver.write_text(_DRIVER, encoding="utf-8")
    proc = subprocess.run([sys.executable, str(driver), str(plan)], cwd=ws, env=env,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0 and "ALL OK" in proc.stdout, (
        f"an example of docs/{page}.md failed:\n{proc.stdout[-6000:]}\n{proc.stderr[-6000:]}")
