"""Transient bars on a terminal's stderr: the library's byte steps (``tuneops.progress``) and spinner phases.

One rich ``Progress`` holds every line; it is live only while a step or phase runs, so the run's
status line (``cli/watch.py``) and plain prints between steps never share the screen with it. Logs,
pipes, CI and ``-q`` get nothing from here: the library logs each step at ``-v`` instead.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from tuneops import progress
from tuneops.cli import state

if TYPE_CHECKING:
    from rich.console import Console


class TerminalBars:
    """A ``tuneops.progress`` reporter that draws each step as a bar (bytes done of the total, and the
    rate of an upload) on ``console``, and erases it when the step ends, however it ends."""

    def __init__(self, console: Console):
        self.console = console
        self._bar: Any = None
        self._tasks: dict[object, Any] = {}
        self._lock = threading.Lock()

    def _open(self) -> Any:
        if self._bar is None:
            from rich.progress import Progress

            self._bar = Progress(*_columns(), console=self.console, transient=True,
                                 redirect_stdout=False)  # stdout is results and --json: never drawn through
            self._bar.start()
            state.LIVE = self.console
        return self._bar

    def _close(self, key: object) -> None:
        bar = self._bar
        task = self._tasks.pop(key, None)
        if bar is None or task is None:
            return
        bar.remove_task(task)
        if not self._tasks:
            self.stop()

    def start(self, step: progress.Step) -> None:
        """Add a bar for ``step``."""
        with self._lock:
            bar = self._open()
            self._tasks[step] = bar.add_task(step.description, total=step.total, bytes=True, rate=bool(step.target))
            bar.refresh()  # drawn now: a step shorter than a refresh interval is still seen

    def advance(self, step: progress.Step, n: int) -> None:
        """Move ``step``'s bar."""
        task, bar = self._tasks.get(step), self._bar
        if task is not None and bar is not None:
            bar.advance(task, n)

    def end(self, step: progress.Step, error: BaseException | None) -> None:
        """Erase ``step``'s bar; a finished one is drawn full once first, so the end is seen."""
        with self._lock:
            task, bar = self._tasks.get(step), self._bar
            if error is None and task is not None and bar is not None:
                bar.update(task, completed=step.done)
                bar.refresh()
            self._close(step)

    @contextmanager
    def spinner(self, text: str) -> Iterator[Callable[[str], None]]:
        """A spinner with the elapsed time while a step without a byte count runs; yields a renamer."""
        key = object()
        with self._lock:
            self._tasks[key] = task = self._open().add_task(text, total=None, spin=True)
        bar = self._bar
        try:
            yield lambda new: bar.update(task, description=new)
        finally:
            with self._lock:
                self._close(key)

    def stop(self) -> None:
        """Erase every bar (also the ones of steps that never ended: an error unwound past them)."""
        bar, self._bar = self._bar, None
        self._tasks.clear()
        if bar is not None:
            bar.stop()
            state.LIVE = None


def _columns() -> list[Any]:
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        ProgressColumn,
        SpinnerColumn,
        TimeElapsedColumn,
        TransferSpeedColumn,
    )
    from rich.table import Column
    from rich.text import Text

    class Only(ProgressColumn):
        """``column`` for the tasks that have ``field`` set; an empty cell for the others."""

        def __init__(self, column: ProgressColumn, field: str):
            super().__init__()
            self.column, self.field = column, field

        def render(self, task: Any) -> Any:
            return self.column(task) if task.fields.get(self.field) else Text("")

    class Description(ProgressColumn):
        """What the step does, as written (no markup); on a narrow terminal it is cut short, not the numbers."""

        def __init__(self) -> None:
            super().__init__(table_column=Column(no_wrap=False))  # the column rich narrows first

        def render(self, task: Any) -> Text:
            return Text(task.description, no_wrap=True, overflow="ellipsis")

    # A bar of 24 leaves a 100-column terminal room for "uploading <file> to <provider>" and the numbers.
    return [Only(SpinnerColumn(), "spin"), Description(), TimeElapsedColumn(), Only(BarColumn(bar_width=24), "bytes"),
            Only(DownloadColumn(), "bytes"), Only(TransferSpeedColumn(), "rate")]


@contextmanager
def shown() -> Iterator[TerminalBars | None]:
    """Draw the steps run inside this block when stderr is a terminal and not ``-q``; yields the bars (or None).

    Nested blocks share the outer one's bars; on the way out, every bar left is erased.
    """
    current = progress.current()
    if isinstance(current, TerminalBars):
        yield current
        return
    err = state.err_console()
    if state.QUIET or not err.is_terminal:
        yield None
        return
    bars = TerminalBars(err)
    try:
        with progress.reporting(bars):
            yield bars
    finally:
        bars.stop()
