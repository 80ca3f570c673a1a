"""Fixtures for the CLI tests: stderr as a terminal that keeps every screen it showed."""

from __future__ import annotations

import sys
import threading
from typing import Any

import pytest


class Terminal:
    """A VT100 (pyte) that is stderr inside ``with terminal:``: what rich draws there is drawn, and each
    screen shown is kept. (pytest puts its own capture on stderr as a test starts, so a fixture cannot.)"""

    def __init__(self, columns: int, lines: int):
        import pyte

        self.screen = pyte.Screen(columns, lines)
        self.screen.set_mode(pyte.modes.LNM)  # a tty's ONLCR: a line feed also returns the carriage
        self.stream = pyte.Stream(self.screen)
        self.screens: list[list[str]] = []
        self._lock = threading.Lock()  # rich's refresh thread writes too
        self._stderr: Any = None

    def __enter__(self) -> Terminal:
        self._stderr, sys.stderr = sys.stderr, self  # type: ignore[assignment]
        return self

    def __exit__(self, *exc: object) -> None:
        sys.stderr = self._stderr

    def write(self, text: str) -> int:
        """Draw ``text`` and keep the screen it leaves."""
        with self._lock:
            self.stream.feed(text)
            self.screens.append(self.lines())
        return len(text)

    def flush(self) -> None:
        """Nothing is buffered."""

    def isatty(self) -> bool:
        """A terminal, as far as anyone asks."""
        return True

    def lines(self) -> list[str]:
        """The non-blank lines on the screen now."""
        return [line.rstrip() for line in self.screen.display if line.strip()]

    def shown(self, text: str) -> list[str]:
        """Every line ever on screen that contains ``text``, in the order shown (without repeats)."""
        seen: dict[str, None] = {}
        for screen in self.screens:
            for line in screen:
                if text in line:
                    seen.setdefault(line)
        return list(seen)


@pytest.fixture
def terminal(monkeypatch: pytest.MonkeyPatch) -> Terminal:
    """A 120x40 terminal to run commands with as stderr (``with terminal: main([...])``)."""
    from tuneops.cli import state

    monkeypatch.setenv("COLUMNS", "120")
    monkeypatch.setenv("LINES", "40")
    monkeypatch.setattr(state, "QUIET", False)
    return Terminal(120, 40)
