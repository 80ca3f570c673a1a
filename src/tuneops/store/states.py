"""Run and fire states as plain names (no SQLAlchemy here: light read paths use them too)."""

from __future__ import annotations

from tuneops.provider import RunStatus

# A run's phases before its provider knows it, and the states it ends in.
LOCAL_STATES = ("admitted", "submitting")
TERMINAL_STATES = ("succeeded", "failed", "cancelled")
# Every run state that may still change: the local phases, then the provider's non-terminal ones.
ACTIVE_RUN_STATES = (*LOCAL_STATES, *(s.value for s in RunStatus if not s.terminal))

# A scheduler fire is claimed (being submitted) or submitted (its runs in flight) until it is settled.
FIRE_ACTIVE_STATES = ("claimed", "submitted")
FIRE_FINAL_STATES = ("done", "refused", "failed")
