"""Importers: portal API JSON and report documents into the six tidy tables.

``import_portal`` reads one portal JSON file, ``import_document`` the per-unit tables of one
report, and ``run_import`` (the ``python -m analysis import`` command) adds many files to a data
directory, all or nothing.
"""
from __future__ import annotations

from .command import ImportReport, add_parser, run_import
from .documents import import_document
from .portal import ImportResult, import_portal

__all__ = ["ImportResult", "ImportReport", "import_portal", "import_document", "run_import", "add_parser"]
