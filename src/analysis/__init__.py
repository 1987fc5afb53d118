"""Reproducible research toolkit for the 766 index (Decision 766/QĐ-TTg)."""

__version__ = "0.1.0"
