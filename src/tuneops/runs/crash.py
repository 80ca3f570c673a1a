"""Named crash points for crash-safety tests: with TUNEOPS_CRASH_AT=<name> the process kills itself
(SIGKILL, no clean-up) when it reaches that point, exactly as a power cut or OOM kill would."""

from __future__ import annotations

import os
import signal

POINTS = ("after-admit", "after-upload", "after-create", "during-sync")


def point(name: str) -> None:
    """Die here if TUNEOPS_CRASH_AT names this point; otherwise do nothing (one dict lookup)."""
    if os.environ.get("TUNEOPS_CRASH_AT") == name:
        os.kill(os.getpid(), signal.SIGKILL)
