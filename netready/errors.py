"""Errors that cross layers: what the command line turns into an exit code, raised wherever the input is read."""

from __future__ import annotations


class UsageError(ValueError):
    """Bad command-line input (a missing file, a malformed option value): exit code 3."""
