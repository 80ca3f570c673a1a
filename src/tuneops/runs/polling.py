"""Polling policy: when to look at a run again, and how to learn many runs' states in few calls."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from tuneops.provider import Provider, ProviderJob

# While a job waits in a queue, look less and less often; while it trains, look often.
WAITING_STATES = ("pending", "validating", "queued")
MIN_WAIT_S, MAX_WAIT_S = 30.0, 600.0
RUNNING_S = 15.0
PAUSED_S = 300.0
# Listing stops once it reaches jobs created this long before the oldest run it looks for.
LIST_SLACK = timedelta(hours=1)


def next_poll_at(state: str, now: datetime, state_changed_at: datetime | None) -> datetime | None:
    """When a run in ``state`` should next be polled; None when it never needs polling again."""
    if state in ("succeeded", "failed", "cancelled"):
        return None
    if state in WAITING_STATES:
        waited = (now - (state_changed_at or now)).total_seconds()
        delay = min(MAX_WAIT_S, max(MIN_WAIT_S, waited / 4))
    elif state == "paused":
        delay = PAUSED_S
    else:
        delay = RUNNING_S
    return now + timedelta(seconds=delay)


def batch_get(provider: Provider, wanted: Iterable[str], oldest: datetime | None,
              *, page_size: int = 100) -> tuple[dict[str, ProviderJob], int]:
    """Find the wanted job ids by listing jobs newest first; returns (found, list calls made).

    Stops as soon as every wanted id is found, the pages run out, or the listing reaches jobs
    created well before the oldest wanted run (anything older cannot be one of ours).
    """
    remaining = set(wanted)
    found: dict[str, ProviderJob] = {}
    calls = 0
    cutoff = oldest - LIST_SLACK if oldest else None
    for page in provider.list_jobs(limit=page_size):
        calls += 1
        for job in page:
            if job.provider_job_id in remaining:
                found[job.provider_job_id] = job
                remaining.discard(job.provider_job_id)
        if not remaining or not page:
            break
        last = page[-1].created_at
        if cutoff is not None and last is not None and last < cutoff:
            break
    return found, calls
