"""Where the ``ledger`` command writes: stdout for results, stderr for progress and errors."""

from __future__ import annotations

import os
import sys

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn

# Piped output is read by people too (CI logs, files): give tables room instead of 80 columns.
out = Console(width=None if sys.stdout.isatty() or "COLUMNS" in os.environ else 132)
err = Console(stderr=True)


def progress_bar(transient: bool = False) -> Progress:
    """A progress bar on stderr, shown only on a terminal (descriptions are plain text)."""
    return Progress(
        TextColumn("{task.description}", markup=False),
        BarColumn(),
        MofNCompleteColumn(),
        TaskProgressColumn(),
        TextColumn("{task.fields[rate]}", markup=False),
        TimeElapsedColumn(),
        console=err,
        disable=not err.is_terminal,
        transient=transient,
    )
