"""Submitting an intent, and abandoning a run: the parts of the Orchestrator a user drives by name.

``submit_intent`` looks before it writes: an unfinished run of the same intent is resumed (or attached
to, when another process is at it), a succeeded one means "no changes" and nothing is written, one the
provider rejected is reported with its reason; only otherwise (or with ``again``) is a run admitted.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tuneops import audit
from tuneops.errors import ProviderError, TuneopsError
from tuneops.owners import takeable
from tuneops.retry import call_with_retry
from tuneops.runs.intent import ATTACHED, NEW, NO_CHANGES, REJECTED, RESUMED, Prepared, SubmitOutcome
from tuneops.store import queries
from tuneops.store.tables import RunRow

if TYPE_CHECKING:
    from tuneops.runs.orchestrator import Orchestrator


class IntentSubmission:
    """Intent-aware submission and the user's way out of a run (``abandon``)."""

    # The run this process is working on (the CLI names it when interrupted).
    current: RunRow | None = None

    def submit_intent(self: Orchestrator, prepared: Prepared, *, trigger: str = "manual",
                      again: str | None = None) -> SubmitOutcome:
        """Start, resume or find the run of this intent (see the module docstring); ``again`` is the
        reason to train a finished intent once more."""
        with self.store.read() as s:
            open_run = queries.open_run_for_intent(s, prepared.intent)
            last = None if open_run else queries.last_run_for_intent(s, prepared.intent)
        if open_run is not None:
            return self._continue(open_run, prepared, RESUMED)
        if last is not None and again is None:
            if last.state == "succeeded":
                return SubmitOutcome(last, NO_CHANGES, prepared)
            if last.state == "failed":
                return SubmitOutcome(last, REJECTED, prepared)
            # cancelled or abandoned: the user stopped it, so submitting again means a new run
        if again is not None:
            trigger = f"again: {again}"
        self.current = None
        run = self.admit(prepared.loaded, trigger=trigger, prepared=prepared, again=again)
        if self.current is None or self.current.id != run.id:  # another process admitted this intent first
            return self._continue(run, prepared, RESUMED)
        return SubmitOutcome(self.advance(run), NEW, prepared)

    def _continue(self: Orchestrator, run: RunRow, prepared: Prepared, how: str) -> SubmitOutcome:
        """Advance an unfinished run of this intent, or leave it to the live process driving it."""
        self.current = run
        if run.lease_owner and not takeable(run.lease_owner, run.lease_expires_at, self.clock(), self.identity):
            return SubmitOutcome(run, ATTACHED, prepared)
        if run.provider_job_id:
            how = ATTACHED
        return SubmitOutcome(self.advance(run), how, prepared)

    def abandon(self: Orchestrator, run: RunRow, reason: str) -> tuple[RunRow, str]:
        """Give up on a run: cancel its provider job where it still runs, then end it in the ledger
        (state cancelled, code ``abandoned``) with ``reason`` in the audit trail. Returns the run and a
        note on the provider job."""
        if run.state in queries.TERMINAL_STATES:
            raise TuneopsError(f"run {run.id} is already {run.state}; nothing to abandon")
        note = self._cancel_at_provider(run)
        now = self.clock()
        with self.store.write() as s:
            row = queries.get_run(s, run.id)
            prior = row.state
            row.state, row.error_code, row.error_message = "cancelled", "abandoned", audit.redact(reason)
            row.finished_at = row.updated_at = now
            row.lease_owner = row.lease_expires_at = row.next_poll_at = None
            s.add(row)
            queries.add_event(s, row.id, "state", f"{prior} -> cancelled: abandoned ({reason}); {note}")
            audit.append(s, "run.abandoned", "run", row.id, job_name=row.job_name, actor=self.actor, at=now,
                         details={"from_state": prior, "to_state": "cancelled", "reason": reason[:1000],
                                  "provider": row.provider, "provider_job_id": row.provider_job_id,
                                  "provider_note": note})
        self._notify(row, "cancelled")
        return row, note

    def _cancel_at_provider(self: Orchestrator, run: RunRow) -> str:
        """Cancel the run's provider job (or any job carrying its key); a note saying what happened."""
        try:
            adapter = self.pool.for_run(run)
            jobs = [run.provider_job_id] if run.provider_job_id else \
                [j.provider_job_id for j in call_with_retry(lambda: adapter.find(run.idempotency_key),
                                                            policy=self.policy) if not j.status.terminal]
            if not jobs:
                return "no provider job was running"
            if not adapter.capabilities.can_cancel:
                return f"{run.provider} cannot cancel jobs: stop {', '.join(jobs)} in its console"
            for job_id in jobs:
                call_with_retry(lambda j=job_id: adapter.cancel(j), policy=self.policy)
            return f"cancelled provider job {', '.join(jobs)}"
        except (ProviderError, TuneopsError) as exc:
            where = run.provider_job_id or f"any job tagged {run.idempotency_key}"
            return f"could not cancel {where} at {run.provider} ({exc}); cancel it there by hand"
