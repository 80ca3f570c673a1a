"""Following runs at their providers: poll one or many (batched), record status, events, metrics,
checkpoints and, on success, the model and its cost. Mixed into the Orchestrator."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from tuneops import audit
from tuneops.errors import (
    PermanentProviderError,
    ProviderError,
    TransientProviderError,
    TuneopsError,
    UnsupportedOperation,
)
from tuneops.provider import Provider, ProviderJob, RunStatus
from tuneops.retry import call_with_retry
from tuneops.runs import crash, polling
from tuneops.runs.problems import explain, put_checkpoint, put_metric_point
from tuneops.store import queries
from tuneops.store.lifecycle_tables import MetricPointRow
from tuneops.store.tables import ModelRow, RunRow

if TYPE_CHECKING:
    from tuneops.runs.orchestrator import Orchestrator

# Below this many runs at one provider, one get per run is cheaper than listing.
BATCH_MIN_RUNS = 3


class RunTracking:
    """The polling half of the Orchestrator."""

    def get(self: Orchestrator, run_id: str) -> RunRow:
        """The run as the ledger has it now."""
        with self.store.read() as s:
            return queries.get_run(s, run_id)

    def sync(self: Orchestrator, run: RunRow) -> RunRow:
        """Poll the provider once for this run and record what changed."""
        adapter = self.pool.for_run(run)
        try:
            job = call_with_retry(lambda: adapter.get(run.provider_job_id or ""), policy=self.policy,
                                  on_retry=self._retry_logger(run.id, "get"))
        except PermanentProviderError as exc:
            if exc.status != 404:
                raise
            return self._job_missing(run, adapter, exc)
        return self.observe(run, job, adapter, follow=True)

    def _job_missing(self: Orchestrator, run: RunRow, adapter: Provider, exc: Exception) -> RunRow:
        """The provider no longer knows the run's job (deleted, or a sandbox that restarted): the run
        cannot finish, so it fails, saying so, instead of being polled for ever."""
        gone = PermanentProviderError(
            f"provider job {run.provider_job_id} no longer exists at {adapter.location() or run.provider} "
            f"({exc}); run {run.id} cannot finish. Submit the spec again with --again --reason TEXT",
            provider=run.provider, operation="get", code="provider_job_missing", status=404)
        return self._fail(run.id, gone)

    def sync_each(self: Orchestrator, *, force: bool = False) -> tuple[list[RunRow], dict[str, int], list[str]]:
        """``sync_all``, where a run that cannot be advanced (provider unreachable or without
        credentials, a ledger write refused) is reported and skipped: the others keep syncing.

        Returns the runs touched, the provider calls made and one message per run left behind.
        """
        self.problems = []
        done, calls = self.sync_all(force=force)
        return done, calls, list(self.problems)

    def sync_all(self: Orchestrator, *, force: bool = False) -> tuple[list[RunRow], dict[str, int]]:
        """Advance every unfinished run whose poll is due; one list call per page serves many runs.

        Returns the runs touched and the provider calls made, by kind ("list", "get").
        """
        now = self.clock()
        with self.store.read() as s:
            runs = list(queries.unfinished_runs(s))
        done: list[RunRow] = []
        calls = {"list": 0, "get": 0}
        groups: dict[str, list[RunRow]] = {}
        for run in runs:
            if not run.provider_job_id:
                # admitted / submitting / unknown: its own step
                self._guarded(run, lambda r=run: done.append(self.advance(r)))
            elif force or run.next_poll_at is None or run.next_poll_at <= now:
                groups.setdefault(f"{run.provider}\0{json.loads(run.spec_json).get('options')}", []).append(run)
        for group in groups.values():
            try:
                adapter = self.pool.for_run(group[0])
            except TuneopsError as exc:  # e.g. missing credentials: this provider's runs only
                for run in group:
                    self._problem(run, exc)
                continue
            found: dict[str, ProviderJob] = {}
            if adapter.capabilities.lists_jobs and len(group) >= BATCH_MIN_RUNS:
                oldest = min((r.submitted_at or r.created_at) for r in group)
                try:
                    found, n = call_with_retry(lambda a=adapter, g=group, o=oldest: polling.batch_get(
                        a, [r.provider_job_id for r in g], o), policy=self.policy)
                    calls["list"] += n
                except TransientProviderError:
                    found = {}
            for run in group:
                job = found.get(run.provider_job_id or "")
                if job is None:
                    calls["get"] += 1
                    try:
                        job = call_with_retry(lambda a=adapter, r=run: a.get(r.provider_job_id or ""),
                                              policy=self.policy, on_retry=self._retry_logger(run.id, "get"))
                    except TransientProviderError as exc:
                        self._guarded(run, lambda r=run, e=exc: self._event(r.id, "error",
                                                                             f"poll failed, will try again: {e}"))
                        self._problem(run, exc)
                        continue
                    except PermanentProviderError as exc:
                        if exc.status == 404:
                            self._guarded(run, lambda r=run, e=exc, a=adapter: done.append(self._job_missing(r, a, e)))
                        else:
                            self._problem(run, exc)
                        continue
                self._guarded(run, lambda r=run, j=job, a=adapter: done.append(self.observe(r, j, a)))
        return done, calls

    def _guarded(self: Orchestrator, run: RunRow, step: Callable[[], Any]) -> None:
        """Do one run's step; a failure is that run's problem (recorded in ``problems``), not the sync's."""
        from sqlalchemy.exc import SQLAlchemyError

        try:
            step()
        except (TuneopsError, SQLAlchemyError, OSError) as exc:
            self._problem(run, exc)

    def _problem(self: Orchestrator, run: RunRow, exc: BaseException) -> None:
        problems = getattr(self, "problems", None)
        if problems is None:  # sync_all called directly: the caller sees the error as before
            raise exc
        problems.append(explain(run, exc, self.pool))

    def observe(self: Orchestrator, run: RunRow, job: ProviderJob, adapter: Provider, *,
                follow: bool = False) -> RunRow:
        """Record one observation of a run's provider job.

        Events are fetched when the status changed, or on every poll when ``follow`` (someone is
        watching this run's progress); batched syncs skip them otherwise, to keep calls per cycle low.
        """
        crash.point("during-sync")
        changed = job.status.value != run.state
        if changed or (follow and job.status is RunStatus.RUNNING):
            self._store_events(run, adapter)
        if job.status is RunStatus.SUCCEEDED and run.state != "succeeded":
            self._store_results(run, adapter, job)
        return self._apply(run.id, job)

    def _store_events(self: Orchestrator, run: RunRow, adapter: Provider) -> None:
        try:
            events = call_with_retry(lambda: adapter.events(run.provider_job_id or ""), policy=self.policy)
        except TransientProviderError:
            return  # events are best-effort; the next poll fetches them
        if not events:
            return
        with self.store.write() as s:
            seen = {e.provider_event_id for e in queries.run_events(s, run.id, kinds=("provider",))}
            steps = {p.step for p in s.exec(_points(run.id)).scalars()}  # type: ignore[call-overload]
            for ev in events:
                if ev.provider_event_id in seen:
                    continue
                data = {"level": ev.level, **dict(ev.data)}
                queries.add_event(s, run.id, "provider", ev.message, at=ev.created_at,
                                  provider_event_id=ev.provider_event_id, data=data)
                step = ev.data.get("step") if ev.data else None
                if isinstance(step, int) and step not in steps:
                    steps.add(step)
                    put_metric_point(s, {"run_id": run.id, "step": step,
                                         "train_loss": _f(ev.data.get("train_loss")),
                                         "valid_loss": _f(ev.data.get("valid_loss")),
                                         "train_accuracy": _f(ev.data.get("train_mean_token_accuracy")),
                                         "valid_accuracy": _f(ev.data.get("valid_mean_token_accuracy"))},
                                     update=False)

    def _store_results(self: Orchestrator, run: RunRow, adapter: Provider, job: ProviderJob) -> None:
        """Final metrics (result file), checkpoints and model shutdown dates; each best-effort."""
        job_id = run.provider_job_id or ""
        metrics = _try(lambda: adapter.metrics(job_id)) or []
        checkpoints = _try(lambda: adapter.checkpoints(job_id)) or []
        with self.store.write() as s:
            for m in metrics:
                put_metric_point(s, {"run_id": run.id, "step": m.step, "train_loss": m.train_loss,
                                     "valid_loss": m.valid_loss, "train_accuracy": m.train_accuracy,
                                     "valid_accuracy": m.valid_accuracy}, update=True)
            for c in checkpoints:
                put_checkpoint(s, {"run_id": run.id, "provider_checkpoint_id": c.provider_checkpoint_id,
                                   "step": c.step, "provider_model_id": c.model_id,
                                   "metrics": json.dumps(dict(c.metrics)), "created_at": self.clock()})

    def _apply(self: Orchestrator, run_id: str, job: ProviderJob) -> RunRow:
        """Record a provider job's state on the run; audit every state change."""
        from tuneops import economics

        now = self.clock()
        with self.store.write() as s:
            run = queries.get_run(s, run_id)
            holder = (queries.model_by_provider_id(s, run.provider, job.model_id)
                      if job.status is RunStatus.SUCCEEDED and job.model_id else None)
            if holder is not None and holder.run_id != run.id:
                # The provider handed out a model id the ledger already gives another run (a sandbox
                # restarted without its state, an id reused): never record it as this run's model.
                job = _model_conflict(job, run, holder)
            prior = run.state
            new = job.status.value
            run.provider_status = job.raw_status
            run.raw_job = audit.redact(json.dumps(dict(job.raw), default=str))
            run.updated_at = now
            if job.trained_tokens is not None:
                run.trained_tokens = job.trained_tokens
            if new != prior:
                run.state_changed_at = now
            run.next_poll_at = polling.next_poll_at(new, now, run.state_changed_at)
            if new == prior:
                s.add(run)
                return run
            run.state = new
            queries.add_event(s, run.id, "state", f"{prior} -> {new} ({job.raw_status})")
            details: dict[str, Any] = {"from_state": prior, "to_state": new, "provider": run.provider,
                                       "provider_job_id": run.provider_job_id,
                                       "provider_status": job.raw_status}
            action = "run.status"
            if job.status is RunStatus.SUCCEEDED:
                run.model_id = job.model_id
                run.finished_at = job.finished_at or now
                run.cost_microusd = job.cost_microusd if job.cost_microusd is not None else \
                    economics.actual_cost(run.provider, run.base_model, run.method, run.trained_tokens)
                if job.model_id and queries.model_for_run(s, run.id) is None:
                    s.add(ModelRow(provider=run.provider, provider_model_id=job.model_id, run_id=run.id,
                                   job_name=run.job_name, base_model=run.base_model,
                                   train_sha256=run.train_sha256, created_at=now))
                action = "run.succeeded"
                details |= {"provider_model_id": job.model_id, "trained_tokens": run.trained_tokens,
                            "cost_microusd": run.cost_microusd, "estimate_microusd": run.estimate_microusd,
                            "dataset_sha256": run.train_sha256}
            elif job.status in (RunStatus.FAILED, RunStatus.CANCELLED):
                run.finished_at = job.finished_at or now
                run.error_code = job.error_code
                run.error_message = audit.redact(job.error_message) if job.error_message else None
                if job.status is RunStatus.FAILED:
                    action = "run.failed"
                    details |= {"error_code": job.error_code, "error_message": job.error_message}
                else:
                    action = "run.cancelled"
            s.add(run)
            audit.append(s, action, "run", run.id, job_name=run.job_name, actor=self.actor, details=details)
        if job.status is RunStatus.SUCCEEDED:
            self.refresh_model_facts(run)
        self._notify(run, new)
        return run

    def refresh_model_facts(self: Orchestrator, run: RunRow) -> None:
        """Record when the run's model and its base model stop serving, where the provider says."""
        from tuneops.basemodels import lookup

        if not run.model_id:
            return
        adapter = self.pool.for_run(run)
        lister = getattr(adapter, "list_models", None)
        models = _try(lister) if lister is not None else None
        dates = {model_id: _as_datetime(when) for model_id, when in models or ()}
        # Where the provider's API does not say, the adapter's base-model list may (published retirements).
        known = lookup(run.provider, run.base_model)
        if known is not None and known.retires and run.base_model not in dates:
            dates[run.base_model] = _as_datetime(known.retires)
        if not dates:
            return
        with self.store.write() as s:
            model = queries.model_for_run(s, run.id)
            shutdown, base_shutdown = dates.get(run.model_id), dates.get(run.base_model)
            if model is None or (model.shutdown_at, model.base_shutdown_at) == (shutdown, base_shutdown):
                return
            model.shutdown_at, model.base_shutdown_at = shutdown, base_shutdown
            s.add(model)
            # An event like every change to a job's models: the scheduler's shutdown rule depends on it.
            audit.append(s, "model.serving_dates", "model", run.model_id, job_name=run.job_name, actor=self.actor,
                         details={"provider": run.provider, "provider_model_id": run.model_id,
                                  "base_model": run.base_model,
                                  "shutdown_at": shutdown.isoformat() if shutdown else None,
                                  "base_shutdown_at": base_shutdown.isoformat() if base_shutdown else None})

    def watch(self: Orchestrator, run_id: str, *, interval: float = 2.0, timeout: float | None = None,
              sleep: Callable[[float], Any] | None = None) -> RunRow:
        """Advance a run until it is terminal (or ``timeout`` seconds pass); returns its last state."""
        sleep = sleep or time.sleep
        deadline = None if timeout is None else time.monotonic() + timeout
        run = self.get(run_id)
        while run.state not in queries.TERMINAL_STATES:
            run = self.advance(run)
            if run.state in queries.TERMINAL_STATES:
                break
            if deadline is not None and time.monotonic() >= deadline:
                break
            # Poll slowly while the provider queues the job, faster once it trains.
            sleep(interval * (2 if run.state in polling.WAITING_STATES else 1))
        return run


def _points(run_id: str) -> Any:
    from sqlalchemy import select

    return select(MetricPointRow).where(MetricPointRow.run_id == run_id)


def _as_datetime(value: Any) -> Any:
    """A shutdown date as a naive UTC datetime (providers announce dates)."""
    from datetime import date, datetime

    if isinstance(value, date) and not isinstance(value, datetime):
        return datetime(value.year, value.month, value.day)
    return value


def _f(value: Any) -> float | None:
    try:
        return None if value is None else float(value)
    except (TypeError, ValueError):
        return None


def _try(fn: Callable[[], Any]) -> Any:
    """Call fn; any provider failure yields None: these facts are optional and must never fail a
    run that succeeded."""
    try:
        return fn()
    except (ProviderError, UnsupportedOperation):
        return None


def _model_conflict(job: ProviderJob, run: RunRow, holder: Any) -> ProviderJob:
    """The job as a failure: its model id belongs to another run in the ledger."""
    from dataclasses import replace

    return replace(job, status=RunStatus.FAILED, model_id=None, error_code="model_id_conflict", error_message=(
        f"{run.provider} reported model {job.model_id} for job {run.provider_job_id}, but the ledger already "
        f"records that model for run {holder.run_id}; the provider reused an id (was the sandbox restarted?). "
        f"Run {run.id} is marked failed; check both runs with `tuneops runs show`, and submit again with "
        "--again --reason TEXT"))
