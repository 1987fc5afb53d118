"""Importers: portal API JSON and report documents into the six tidy tables.

``import_portal`` reads one portal JSON file, ``import_document`` the per-unit tables of one
report, and ``run_import`` (the ``python -m analysis import`` command) adds many files to a data
directory, all or nothing. The submodules (pandas, pandera) load on first use of a name.
"""
from __future__ import annotations

import importlib

__all__ = ["ImportResult", "ImportReport", "import_portal", "import_document", "run_import", "add_parser"]

_WHERE = {"ImportResult": "portal", "import_portal": "portal", "import_document": "documents",
          "ImportReport": "command", "run_import": "command", "add_parser": "command"}


def __getattr__(name: str):
    if name in _WHERE:
        value = getattr(importlib.import_module(f".{_WHERE[name]}", __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(__all__))
