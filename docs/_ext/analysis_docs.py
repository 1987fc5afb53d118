"""Sphinx extension: the pages and figures of the documentation that are generated at build time.

Nothing generated here is committed (it goes to ``docs/_generated/``, ignored by git), so these
pages cannot go stale:

- ``_generated/cli.md``: the command line, from the argparse parser of ``analysis.cli``;
- ``_generated/make.md``: the Make targets and variables, from the Makefile's ``## `` comments
  (the same lines ``make help`` prints);
- ``_generated/api/<module>.md``: one autodoc page per public module of the package;
- ``_generated/notebooks/*.ipynb``: copies of the golden executed notebooks in ``tests/golden``,
  rendered by myst-nb without executing them;
- ``_generated/index766.md``: the groups, maxima, bands and audit checks, read from the package's
  reference data and scheme files.

It also adds the ``analysis-figure`` directive: its content is Python whose last expression is a
matplotlib figure; the directive shows the code and the figure, rendered when the docs are built
from the shipped data through the package (no image of data is committed).
"""
from __future__ import annotations

import argparse
import ast
import contextlib
import os
import pkgutil
import re
import shutil
from pathlib import Path

from docutils import nodes
from docutils.parsers.rst import directives
from sphinx.util.docutils import SphinxDirective

DOCS = Path(__file__).resolve().parents[1]
ROOT = DOCS.parent
GENERATED = DOCS / "_generated"

# The same pattern `make help` uses (awk in the Makefile): "target: deps ## help text".
MAKE_TARGET = re.compile(r"^([a-zA-Z_.-]+):.*?## (.*)$")
MAKE_VARIABLE = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)\s*\?=\s*(.*?)\s*$")


def _write(path: Path, data: bytes | str) -> None:
    """Write only when the content changed (Sphinx then rebuilds only what changed); atomic."""
    from analysis.files import atomic_write_bytes

    data = data.encode("utf-8") if isinstance(data, str) else data
    if path.is_file() and path.read_bytes() == data:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(path, data)


def _code(text: str) -> str:
    """Inline code that survives backticks in the text."""
    fence = "``" if "`" in text else "`"
    pad = " " if fence == "``" else ""
    return f"{fence}{pad}{text}{pad}{fence}"


# --------------------------------------------------------------------------- command line

def _subcommands(parser: argparse.ArgumentParser):
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            helps = {a.dest: a.help for a in action._choices_actions}
            for name, sub in action.choices.items():
                yield name, helps.get(name) or "", sub


@contextlib.contextmanager
def _columns(width: int):
    """argparse wraps help to the terminal width; a fixed width keeps the page reproducible."""
    old = os.environ.get("COLUMNS")
    os.environ["COLUMNS"] = str(width)
    try:
        yield
    finally:
        if old is None:
            os.environ.pop("COLUMNS", None)
        else:
            os.environ["COLUMNS"] = old


def cli_page() -> str:
    from analysis.cli import build_parser

    with _columns(96):
        parser = build_parser()
        lines = [
            "(cli-reference)=",
            "# Command line",
            "",
            "Generated when the documentation is built, from the argparse parser of "
            "`analysis.cli` (`python -m analysis SUBCOMMAND --help` prints the same text). "
            "Every subcommand exits 0 when it ran, 2 on a bad parameter or bad input (a one-line "
            "`error:` message, nothing written) and 1 when some of its work failed.",
            "",
            "```text",
            parser.format_help().rstrip(),
            "```",
            "",
        ]
        for name, help_text, sub in _subcommands(parser):
            lines += [f"(cli-{name})=", f"## `{name}`", ""]
            if help_text:
                lines += [help_text[:1].upper() + help_text[1:] + ".", ""]
            lines += ["```text", sub.format_help().rstrip(), "```", ""]
            rows = []
            for action in sub._actions:
                if isinstance(action, argparse._HelpAction):
                    continue
                flags = ", ".join(action.option_strings) or action.dest
                default = action.default
                shown = "" if default in (None, False, argparse.SUPPRESS) else str(default)
                if isinstance(default, Path):
                    try:
                        shown = str(default.relative_to(ROOT))
                    except ValueError:
                        shown = str(default)
                choices = ", ".join(map(str, action.choices)) if action.choices else ""
                rows.append((flags, action.help or "", shown, choices))
            if rows:
                lines += ["| option | meaning | default | allowed |", "|---|---|---|---|"]
                for flags, meaning, shown, choices in rows:
                    cells = [_code(flags), meaning, _code(shown) if shown else "",
                             _code(choices) if choices else ""]
                    lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
                lines.append("")
    # defaults printed as absolute paths of this clone: shown relative to the clone's root
    return "\n".join(lines).replace(str(ROOT) + "/", "")


# --------------------------------------------------------------------------- Make targets

def make_targets(makefile: Path = ROOT / "Makefile") -> list[tuple[str, str]]:
    """(target, help) for every target with a ``## `` comment, in file order (= ``make help``)."""
    out = []
    for line in makefile.read_text(encoding="utf-8").splitlines():
        m = MAKE_TARGET.match(line)
        if m:
            out.append((m.group(1), m.group(2).strip()))
    return out


def make_variables(makefile: Path = ROOT / "Makefile") -> list[tuple[str, str]]:
    """(name, default) of every variable a user may set on the command line (``NAME ?= …``)."""
    out = []
    for line in makefile.read_text(encoding="utf-8").splitlines():
        m = MAKE_VARIABLE.match(line)
        if m:
            out.append((m.group(1), m.group(2)))
    return out


def make_page() -> str:
    lines = [
        "(make-reference)=",
        "# Make targets",
        "",
        "Generated when the documentation is built, from the `## ` comments of the Makefile: "
        "the list `make help` prints. Every target creates or refreshes the virtual environment "
        "first when `requirements.lock` or `pyproject.toml` changed.",
        "",
        "| target | what it does |",
        "|---|---|",
    ]
    for target, text in make_targets():
        lines.append(f"| `make {target}` | {text.replace('|', chr(92) + '|')} |")
    lines += [
        "",
        "## Variables",
        "",
        "Set on the command line (`make report PROVINCE=bac-kan PERIOD=2024-07 lang=en`); the "
        "defaults below are those of the Makefile (`NAME ?= default`). Targets also read "
        "variables without a default, named in their help text above (`PROVINCE`, `PERIOD`, "
        "`MONTH`, `FILES` …).",
        "",
    ]
    for name, default in make_variables():
        lines.append(f"- `{name}`: default {_code(default) if default else '(empty)'}")
    lines.append("")
    return "\n".join(lines)


# --------------------------------------------------------------------------- API stubs

def public_modules() -> list[str]:
    """Every importable module of the package, except ``__main__`` and private ones."""
    import analysis

    names = ["analysis"]
    for info in pkgutil.walk_packages(analysis.__path__, "analysis."):
        last = info.name.rsplit(".", 1)[-1]
        if last.startswith("_"):
            continue
        names.append(info.name)
    return sorted(names)


def own_members(name: str) -> tuple[list[str], list[str]]:
    """Names of ``__all__`` defined in module ``name`` itself, and those it re-exports.

    A re-exported name is documented once, on the page of the module that defines it (autodoc
    would otherwise describe the same object twice).
    """
    import importlib
    import inspect

    module = importlib.import_module(name)
    names = list(getattr(module, "__all__", []))
    try:
        source = inspect.getsource(module)
    except (OSError, TypeError):
        source = ""
    own, reexported = [], []
    for member in names:
        obj = getattr(module, member, None)
        home = getattr(obj, "__module__", None) if (inspect.isclass(obj) or inspect.isroutine(obj)) else None
        if home is None:
            assigned = re.search(rf"^{re.escape(member)}\s*(:[^=]*)?=", source, re.MULTILINE)
            (own if assigned else reexported).append(member)
        elif home == name:
            own.append(member)
        else:
            reexported.append(member)
    return own, reexported


def api_pages() -> dict[str, str]:
    import importlib

    pages = {}
    for name in public_modules():
        own, reexported = own_members(name)
        lines = [f"# `{name}`", "", "```{eval-rst}", f".. automodule:: {name}"]
        if own:
            lines.append("   :members: " + ", ".join(own))
        lines += ["   :show-inheritance:", "```", ""]
        if reexported:
            module = importlib.import_module(name)
            refs = []
            for member in reexported:
                home = getattr(getattr(module, member), "__module__", None)
                refs.append(f"{{py:obj}}`{member} <{home}.{member}>`" if home else f"`{member}`")
            lines += ["Also available from this module (documented where they are defined): "
                      + ", ".join(refs) + ".", ""]
        pages[f"{name}.md"] = "\n".join(lines)
    return pages


# --------------------------------------------------------------------------- the index as data

def _table(df, columns: dict[str, str], missing: dict[str, str] | None = None) -> list[str]:
    """A MyST table; ``missing`` says what an empty cell of a column means (default: blank)."""
    missing = missing or {}
    lines = ["| " + " | ".join(columns.values()) + " |", "|" + "---|" * len(columns)]
    for row in df.itertuples(index=False):
        cells = []
        for col in columns:
            value = getattr(row, col)
            if value is None or (isinstance(value, float) and value != value):
                text = missing.get(col, "")
            elif isinstance(value, float) and value == int(value):
                text = str(int(value))
            else:
                text = str(value)
            cells.append(text.replace("|", "\\|"))
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def index766_page() -> str:
    import pandas as pd

    from analysis.audit import CHECKS
    from analysis.scheme import available_versions, load_scheme

    versions = available_versions()
    lines = ["(index766-tables)=", "# The index as data: groups, bands and checks", "",
             "Generated when the documentation is built, from the scheme files in "
             "`src/analysis/schemes/` and the vocabularies in `src/analysis/reference/`: the "
             "toolkit reads these facts from data, and so does this page.", ""]
    lines += ["## Scheme versions", ""]
    lines += _table(versions, {"version": "version", "valid_from": "valid from", "file": "file"})
    for version in versions["version"]:
        s = load_scheme(version)
        lines += ["", f"## Groups of `{version}`", ""]
        lines += _table(s.groups_table(), {"group": "code", "name_en": "name", "max_points": "max",
                                           "views": "views", "parts": "parts", "cap": "cap",
                                           "status": "status"})
        subs = s.subindicator_table()
        lines += ["", f"### Sub-indicators of `{version}`", "",
                  "Each scores `points × min(1, rate / target)`; an empty list of indicator codes: "
                  "no code for that rate in `reference/indicators.csv` yet.", ""]
        lines += _table(subs, {"group": "group", "sub": "sub-indicator", "indicators": "indicator codes",
                               "points": "points", "target": "target (%)", "status": "status",
                               "full_if_zero": "full marks when this count is 0"},
                  missing={"points": "not established"})
    bands = load_scheme().bands_table()
    lines += ["", "## Bands (xếp loại)", "", "Lower bound inclusive, upper bound exclusive (the "
              "top band includes 100).", ""]
    lines += _table(bands, {"band": "band", "lower": "from", "upper": "below"})
    checks = pd.DataFrame({"check": [f"`{c}`" for c in CHECKS], "meaning": list(CHECKS.values())})
    lines += ["", "## Audit checks", ""]
    lines += _table(checks, {"check": "check", "meaning": "what it finds"})
    lines.append("")
    return "\n".join(lines)


# --------------------------------------------------------------------------- notebooks

def notebooks() -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted((ROOT / "tests" / "golden").glob("*.ipynb"))}


# --------------------------------------------------------------------------- build hooks

def generate(app=None) -> None:
    """Write every generated page; remove generated files that no longer have a source."""
    wanted: dict[Path, bytes | str] = {
        GENERATED / "cli.md": cli_page(),
        GENERATED / "make.md": make_page(),
        GENERATED / "index766.md": index766_page(),
    }
    for name, text in api_pages().items():
        wanted[GENERATED / "api" / name] = text
    for name, data in notebooks().items():
        wanted[GENERATED / "notebooks" / name] = data
    for path, data in wanted.items():
        _write(path, data)
    for sub in ("api", "notebooks"):
        folder = GENERATED / sub
        for path in folder.glob("*"):
            if path not in wanted:
                path.unlink()


class AnalysisFigure(SphinxDirective):
    """Show Python code and the matplotlib figure its last expression returns.

    The figure is rendered while the docs build, from the shipped data, and written to
    ``_generated/figures/<name>.png``; the code is shown above it exactly as it ran.
    """

    has_content = True
    required_arguments = 0
    option_spec = {"name": directives.unchanged_required, "alt": directives.unchanged,
                   "width": directives.unchanged}

    def run(self):
        from analysis.figures import to_png
        import matplotlib

        matplotlib.use("Agg")
        code = "\n".join(self.content)
        name = self.options.get("name")
        if not name or not re.fullmatch(r"[a-z0-9-]+", name):
            raise self.error("analysis-figure needs :name: made of [a-z0-9-]")
        tree = ast.parse(code)
        if not tree.body or not isinstance(tree.body[-1], ast.Expr):
            raise self.error("analysis-figure: the last statement must be an expression giving a Figure")
        last = ast.Expression(tree.body.pop().value)
        namespace: dict = {"__name__": f"docs:{self.env.docname}:{name}"}
        where = f"{self.env.docname}.md (analysis-figure {name})"
        try:
            exec(compile(tree, where, "exec"), namespace)
            fig = eval(compile(last, where, "eval"), namespace)
            png = to_png(fig)
        except Exception as exc:  # a broken example must fail the docs build, with its place
            raise self.error(f"analysis-figure {name}: {type(exc).__name__}: {exc}") from exc
        finally:
            import matplotlib.pyplot as plt

            plt.close("all")
        path = GENERATED / "figures" / f"{name}.png"
        _write(path, png)
        literal = nodes.literal_block(code, code, language="python")
        self.set_source_info(literal)
        image = nodes.image(uri=f"/_generated/figures/{name}.png", alt=self.options.get("alt", name))
        if "width" in self.options:
            image["width"] = self.options["width"]
        figure = nodes.figure("", image)
        figure["ids"].append(f"figure-{name}")
        return [literal, figure]


def setup(app):
    app.connect("builder-inited", generate)
    app.add_directive("analysis-figure", AnalysisFigure)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
