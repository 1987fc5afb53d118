"""Paths and named constants, anchored on the package location."""
from __future__ import annotations

import os
from pathlib import Path

__all__ = [
    "PACKAGE_DIR", "PROJECT_DIR", "REFERENCE_DIR", "SCHEMES_DIR", "DATA_DIR", "REPORTS_DIR", "CACHE_DIR",
    "NOTEBOOKS_DIR", "SHARED_DIR", "TABLES", "ALPHA", "RECOMMENDATION_SHARE", "EXPORT_META",
]

PACKAGE_DIR = Path(__file__).resolve().parent
REFERENCE_DIR = PACKAGE_DIR / "reference"
SCHEMES_DIR = PACKAGE_DIR / "schemes"
# src/analysis -> src -> project root (an editable install keeps this layout)
PROJECT_DIR = PACKAGE_DIR.parents[1]
DATA_DIR = Path(os.environ.get("ANALYSIS_DATA_DIR", PROJECT_DIR / "data"))
REPORTS_DIR = PROJECT_DIR / "reports"
# Validated datasets are cached here, keyed by the hashes of their files (safe to delete).
CACHE_DIR = Path(os.environ.get("ANALYSIS_CACHE_DIR", PROJECT_DIR / "build" / "cache"))
NOTEBOOKS_DIR = PROJECT_DIR / "notebooks"
# Third-party portal mirrors and the seed reports live beside the clone, never inside it.
SHARED_DIR = Path(os.environ.get("ANALYSIS_SHARED_DIR", PROJECT_DIR.parent / "shared"))

# The six tables of a data directory, in load order.
TABLES = ("sources", "units", "unit_aliases", "periods", "scores", "indicators")

# Significance level used for the intervals shown in reports.
ALPHA = 0.05
# A unit is named in a recommendation when a group stands below this share of its maximum.
RECOMMENDATION_SHARE = 0.8

# What a report's kernel writes beside its exports in a build (analysis.report.build_exports):
# the report's title, area and files (JSON), read by the build worker that publishes them.
EXPORT_META = "exports.json"
