"""Progress bars and logs go to stderr, so stdout carries only results."""

from __future__ import annotations

import logging

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

stderr = Console(stderr=True)
log = logging.getLogger("mmaudit")


def bar(transient: bool = False) -> Progress:
    """A rich progress bar with counts, rate and time left, drawn on stderr."""
    return Progress(
        TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
        TextColumn("{task.fields[rate]}"), TimeElapsedColumn(), TimeRemainingColumn(),
        console=stderr, transient=transient, disable=not stderr.is_terminal,
    )
