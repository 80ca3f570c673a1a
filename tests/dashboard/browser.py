"""Headless Chromium for the report tests: the DOM after load, console messages, and a screenshot."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from html.parser import HTMLParser
from pathlib import Path

import pytest

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]
_CONSOLE = re.compile(r":CONSOLE[:(\]]")
_VOID = {"meta", "br", "img", "input", "link", "hr", "col", "area", "base", "wbr", "source"}


def chromium() -> str:
    """The chromium binary; in CI (CI=true) its absence fails the test instead of skipping it."""
    found = next((p for p in map(shutil.which, ("chromium", "chromium-browser")) if p), None)
    if found is None:
        if os.environ.get("CI") == "true":
            pytest.fail("chromium is not installed; .ci/run installs it (apt-get install -y chromium)")
        pytest.skip("chromium is not installed (apt-get install -y chromium)")
    return found


def _run(url: str, *extra: str) -> subprocess.CompletedProcess[str]:
    with tempfile.TemporaryDirectory(prefix="tuneops-chromium-") as profile:
        return subprocess.run([chromium(), *FLAGS, f"--user-data-dir={profile}", "--enable-logging=stderr",
                               "--v=0", *extra, url], capture_output=True, text=True, timeout=120, check=False)


def load(url: str) -> tuple[str, list[str]]:
    """The DOM after the page loaded, and every message the page wrote to the console."""
    done = _run(url, "--dump-dom")
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout, [line for line in done.stderr.splitlines() if _CONSOLE.search(line)]


def screenshot(url: str, path: Path, size: str = "1280,2400") -> Path:
    """A PNG of the page."""
    path.parent.mkdir(parents=True, exist_ok=True)
    done = _run(url, f"--screenshot={path}", f"--window-size={size}", "--hide-scrollbars")
    assert done.returncode == 0 and path.stat().st_size > 10_000, done.stderr[-2000:]
    return path


class Dom(HTMLParser):
    """Counts of elements by tag and class, and the text of elements by class."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.tags: dict[str, int] = {}
        self.classes: dict[str, int] = {}
        self.text: dict[str, list[str]] = {}
        self._open: list[list[str]] = []
        self._table: list[str] = []
        self.rows: dict[str, int] = {}  # table class -> rows in its tbody
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        cls = dict(attrs).get("class") or ""
        self.tags[tag] = self.tags.get(tag, 0) + 1
        for c in cls.split():
            self.classes[c] = self.classes.get(c, 0) + 1
        if tag == "table":
            self._table.append(cls)
        if tag == "tr" and self._table and any("<tbody>" in o for o in self._open):
            self.rows[self._table[-1]] = self.rows.get(self._table[-1], 0) + 1
        if tag not in _VOID:
            self._open.append([f"<{tag}>", *cls.split()])

    def handle_endtag(self, tag: str) -> None:
        if tag == "table" and self._table:
            self._table.pop()
        if self._open:
            self._open.pop()

    def handle_data(self, data: str) -> None:
        for c in self._open[-1][1:] if self._open else ():
            self.text.setdefault(c, []).append(data)
