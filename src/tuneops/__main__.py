"""``python -m tuneops``."""

from tuneops.cli import entry

entry()
