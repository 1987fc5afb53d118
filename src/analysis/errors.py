"""Exception hierarchy: every error says what to fix and where."""
from __future__ import annotations

__all__ = ["AnalysisError", "BusyError", "DataError", "ParameterError", "UnknownUnitError", "location"]


def location(file=None, row=None, column=None, unit=None) -> str:
    """Format a place in the data as ``file, row 12, column 'value', unit 'x'``."""
    parts = []
    if file is not None:
        parts.append(str(file))
    if row is not None:
        parts.append(f"row {row}")
    if column is not None:
        parts.append(f"column '{column}'")
    if unit is not None:
        parts.append(f"unit '{unit}'")
    return ", ".join(parts)


class AnalysisError(Exception):
    """Base class of the toolkit's errors."""


class DataError(AnalysisError, ValueError):
    """A data file or table is malformed; the message names where and what is allowed.

    Parameters
    ----------
    message : str
        What is wrong and what is allowed.
    file, row, column, unit : optional
        Where. ``row`` is the 1-based line number in the file (header = line 1).
    """

    def __init__(self, message: str, *, file=None, row=None, column=None, unit=None, problems=None):
        self.file, self.row, self.column, self.unit = file, row, column, unit
        self.problems = list(problems or [])
        where = location(file, row, column, unit)
        super().__init__(f"{where}: {message}" if where else message)


class UnknownUnitError(DataError):
    """A unit name or code matches no unit (or more than one) in the units table."""


class ParameterError(AnalysisError, ValueError):
    """A parameter (command line, notebook, function) has a value that is not allowed."""


class BusyError(AnalysisError):
    """Another build or import holds a directory this command needs (try again when it ends)."""
