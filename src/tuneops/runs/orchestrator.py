"""A run's lifecycle as small idempotent steps: admit -> upload -> create -> sync -> finish.

Each step reads the run's state from the ledger, does one thing, and records it (with an audit event
for every state change) before the next step; any step can be re-run after a crash. The run row and
its idempotency key are committed before any provider call, the create call is never retried
blindly, and an ambiguous create is settled by ``reconcile`` (find the job by its key).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from tuneops import audit, retry
from tuneops.clock import actor as default_actor
from tuneops.clock import new_id, utcnow
from tuneops.errors import (
    AmbiguousCreate,
    PermanentProviderError,
    TransientProviderError,
    TuneopsError,
)
from tuneops.owners import identity, takeable
from tuneops.provider import (
    CreateRequest,
    Hyperparameters,
    Provider,
    ProviderConfig,
    ProviderJob,
    Upload,
)
from tuneops.retry import RetryPolicy, call_with_retry
from tuneops.runs import crash
from tuneops.runs.intent import Prepared, intent_key
from tuneops.runs.problems import location_of, reach_hint, unreachable
from tuneops.runs.submission import IntentSubmission
from tuneops.runs.tracking import RunTracking
from tuneops.runs.uploads import VerifiedUploads
from tuneops.spec import JobSpec, LoadedSpec, canonical_json
from tuneops.store import Store, queries
from tuneops.store.tables import RunRow

# How long a process may hold a run while creating its provider job before others may reconcile it.
CREATE_LEASE = timedelta(minutes=5)


def staging_dir() -> Path:
    """Where prepared dataset files wait for upload (content-addressed, safe to delete)."""
    from tuneops.home import home

    return home() / "staging"


def hyperparameters(spec: JobSpec) -> Hyperparameters:
    """The spec's portable hyperparameters with "auto" as None."""
    hp = spec.hyperparameters

    def auto(v: Any) -> Any:
        return None if v == "auto" else v

    return Hyperparameters(epochs=auto(hp.epochs), batch_size=auto(hp.batch_size),
                           learning_rate_multiplier=auto(hp.learning_rate_multiplier),
                           learning_rate=hp.learning_rate, beta=auto(hp.beta), seed=hp.seed)


def spec_of(run: RunRow) -> JobSpec:
    """The exact spec a run was admitted with."""
    return JobSpec.model_validate(json.loads(run.spec_json))


@dataclass
class ProviderPool:
    """Provider adapters by (name, options), built once per process and closed together."""

    env: dict[str, str] | None = None
    http_client: Any = None
    timeout: float | None = None  # seconds per provider call (the CLI's --timeout); else TUNEOPS_HTTP_TIMEOUT
    _cache: dict[str, Provider] = field(default_factory=dict)

    def get(self, name: str, options: dict[str, Any] | None = None, where: str = "") -> Provider:
        """The adapter for ``name`` with ``options`` (credentials are checked on first use)."""
        from tuneops import registry
        from tuneops.userconfig import connection

        env = self.env or dict(os.environ)
        # Hosts come from the user's own config file (or the environment), never from a spec.
        options = {**connection(name, env), **(options or {})}
        key = f"{name}:{json.dumps(options, sort_keys=True, default=str)}"
        if key not in self._cache:
            seconds = str(self.timeout) if self.timeout is not None else env.get(HTTP_TIMEOUT_ENV)
            if self.http_client is None and seconds:
                self.http_client = self._owned_client = timeout_client(seconds)
            config = ProviderConfig(options=options, env=env, http_client=self.http_client)
            self._cache[key] = registry.create(name, config, where=where)
        return self._cache[key]

    def for_run(self, run: RunRow) -> Provider:
        """The adapter a run was admitted for."""
        spec = spec_of(run)
        return self.get(run.provider, spec.options.get(run.provider, {}))

    def close(self) -> None:
        """Close every adapter."""
        for provider in self._cache.values():
            provider.close()
        self._cache.clear()
        owned = getattr(self, "_owned_client", None)
        if owned is not None:
            owned.close()
            self.http_client = self._owned_client = None


Listener = Callable[[RunRow, str], Any]

# Seconds an HTTP request to a provider may take (connecting: at most 10 of them); `--timeout` sets it.
HTTP_TIMEOUT_ENV = "TUNEOPS_HTTP_TIMEOUT"


def timeout_client(value: str) -> Any:
    """One HTTP client with this timeout (seconds) for every adapter of a pool."""
    import httpx

    try:
        seconds = float(value)
        if seconds <= 0:
            raise ValueError
    except ValueError:
        raise TuneopsError(f"{HTTP_TIMEOUT_ENV}={value!r}: give the HTTP timeout as a positive number of "
                           "seconds, e.g. 30") from None
    return httpx.Client(timeout=httpx.Timeout(seconds, connect=min(seconds, 10.0)))


class Orchestrator(IntentSubmission, VerifiedUploads, RunTracking):
    """Drives runs through their lifecycle against providers, recording every step in the ledger."""

    def __init__(self, store: Store, pool: ProviderPool | None = None, *,
                 policy: RetryPolicy | None = None, clock: Callable[[], datetime] = utcnow,
                 actor: str | None = None, listener: Listener | None = None):
        self.store = store
        self.pool = pool or ProviderPool()
        self.policy = policy or retry.DEFAULT_POLICY  # looked up now, so tests can make it fast
        self.clock = clock
        self.actor = actor or default_actor()
        self.identity = identity()
        self.listener = listener
        self.notice: Callable[[str], Any] | None = None  # told about each retry (the CLI prints to stderr)
        self.warnings: list[str] = []  # said to the user, not refused: e.g. a budget checked on a third-party price

    # -- admit -----------------------------------------------------------------------------------

    def prepare(self, loaded: LoadedSpec, *, provider: str | None = None, check_budget: bool = True) -> Prepared:
        """Preflight, prepare the data and estimate, and name the intent; writes nothing, calls no provider.

        Anything wrong (credentials, data, settings, the per-run budget) raises here.
        """
        from tuneops import economics
        from tuneops.datasets import build_snapshot

        spec = loaded.spec.with_provider(provider) if provider else loaded.spec
        where = "--provider" if provider else f"{loaded.path}: model.provider"
        adapter = self.pool.get(spec.model.provider, spec.provider_options(), where=where)
        if spec.method not in adapter.capabilities.methods:
            raise TuneopsError(f"{loaded.path}: method: {adapter.name} does not support {spec.method!r}; "
                               f"it supports {', '.join(sorted(adapter.capabilities.methods))}")
        if loaded.spec is not spec:
            loaded = loaded.model_copy(update={"spec": spec})
        snapshot = build_snapshot(loaded, adapter, staging_dir())
        self._check_request(adapter, spec, snapshot)
        est = economics.estimate(spec, snapshot.tokens, snapshot.examples, adapter.name,
                                 validation_tokens=snapshot.validation_tokens)
        if check_budget:  # the per-run limit needs no ledger; the month is checked on admit
            economics.check_budget(spec, est, 0)
        key = intent_key(spec, adapter.name, adapter.location(), snapshot.train.sha256,
                         snapshot.validation.sha256 if snapshot.validation else None)
        return Prepared(loaded, spec, adapter, snapshot, est, key)

    def admit(self, loaded: LoadedSpec, *, provider: str | None = None, trigger: str = "manual",
              prepared: Prepared | None = None, again: str | None = None) -> RunRow:
        """Check the month's budget, then commit the run row; no provider call yet.

        Anything wrong (credentials, data, budget) raises before a row is written. When an unfinished
        run of the same intent exists (or wins the race to be written), that run is returned instead.
        """
        from sqlalchemy.exc import IntegrityError

        from tuneops import economics

        prepared = prepared or self.prepare(loaded, provider=provider)
        loaded, spec, adapter, snapshot, est = (prepared.loaded, prepared.spec, prepared.adapter,
                                                prepared.snapshot, prepared.estimate)
        now = self.clock()
        run_id = new_id("run")
        try:
            with self.store.write() as s:
                existing = queries.open_run_for_intent(s, prepared.intent)
                if existing is not None:
                    return existing
                month_start = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
                spent = queries.month_spend_microusd(s, month_start)
                budget_warning = economics.check_budget(spec, est, spent)
                run = RunRow(
                    id=run_id, idempotency_key=f"tuneops-{run_id}", job_name=spec.name,
                    spec_path=str(loaded.path), spec_sha256=loaded.sha256, spec_json=canonical_json(spec),
                    provider=adapter.name, base_model=spec.model.base, method=spec.method, state="admitted",
                    train_sha256=snapshot.train.sha256,
                    validation_sha256=snapshot.validation.sha256 if snapshot.validation else None,
                    train_examples=snapshot.examples, train_tokens=snapshot.tokens, trigger=trigger,
                    actor=self.actor, estimate_microusd=est.microusd, created_at=now, updated_at=now,
                    intent_key=prepared.intent,
                )
                s.add(run)
                s.flush()
                queries.add_event(s, run_id, "state", "admitted", at=now, data={
                    "examples": snapshot.examples, "tokens": snapshot.tokens,
                    "estimate_microusd": est.microusd, "trained_tokens": est.trained_tokens,
                    **({"budget_warning": budget_warning} if budget_warning else {})})
                audit.append(s, "run.admitted", "run", run_id, job_name=spec.name, actor=self.actor, at=now,
                             details={"spec_path": str(loaded.path), "spec_sha256": loaded.sha256,
                                      "dataset_sha256": snapshot.train.sha256,
                                      "validation_sha256": run.validation_sha256,
                                      "examples": snapshot.examples, "tokens": snapshot.tokens,
                                      "provider": adapter.name, "base_model": spec.model.base,
                                      "method": spec.method, "trigger": trigger,
                                      "hyperparameters": spec.hyperparameters.model_dump(mode="json"),
                                      "estimate_microusd": est.microusd, "intent_key": prepared.intent,
                                      **({"again_reason": again} if again is not None else {})})
        except IntegrityError:
            # Another process claimed this intent between our look and our write: its run is ours too.
            with self.store.read() as s:
                winner = queries.open_run_for_intent(s, prepared.intent)
            if winner is None:
                raise
            return winner
        if budget_warning:
            self.warnings.append(budget_warning)
        self.current = run
        self._notify(run, "admitted")
        crash.point("after-admit")
        return run

    def submit(self, loaded: LoadedSpec, *, provider: str | None = None, trigger: str = "manual") -> RunRow:
        """Submit the spec's intent (see ``submit_intent``) and return its run."""
        outcome = self.submit_intent(self.prepare(loaded, provider=provider), trigger=trigger)
        assert outcome.run is not None
        return outcome.run

    def _check_request(self, adapter: Provider, spec: JobSpec, snapshot: Any) -> None:
        """Let the adapter refuse settings it cannot express, before anything is written."""
        build = getattr(adapter, "create_body", None)
        if build is None:
            return
        fake = Upload(adapter.name, snapshot.train.sha256, "file-preflight", snapshot.train.bytes)
        build(CreateRequest(job_name=spec.name, base_model=spec.model.base, method=spec.method,
                            training=fake, validation=fake if snapshot.validation else None,
                            hyperparameters=hyperparameters(spec), idempotency_key="tuneops-preflight",
                            suffix=spec.model.suffix, options=spec.provider_options()))

    # -- upload ----------------------------------------------------------------------------------

    def _restage(self, run: RunRow, adapter: Provider, sha256: str) -> Path:
        """Rebuild a staged file that was cleaned away; the data must not have changed since admission."""
        from tuneops import spec as specmod
        from tuneops.datasets import build_snapshot

        loaded = specmod.load(run.spec_path, check_provider=False)
        loaded = loaded.model_copy(update={"spec": spec_of(run)})
        snap = build_snapshot(loaded, adapter, staging_dir())
        for prepared in (snap.train, snap.validation):
            if prepared is not None and prepared.sha256 == sha256:
                return prepared.path
        raise TuneopsError(f"run {run.id}: the data in {run.spec_path} changed since the run was admitted "
                           f"(sha256 {sha256[:12]} is gone); cancel it with `tuneops runs cancel {run.id}` "
                           "and submit again")

    # -- create ----------------------------------------------------------------------------------

    def _claim_for_create(self, run_id: str, from_states: tuple[str, ...]) -> RunRow | None:
        """Move the run to `submitting` under this process's lease; None if someone else has it."""
        now = self.clock()
        with self.store.write() as s:
            run = queries.get_run(s, run_id)
            # PostgreSQL runs this at READ COMMITTED: without the row lock two processes (a submit
            # and a concurrent sync) could both see `admitted`, both claim, and create twice.
            s.refresh(run, with_for_update=True)
            if run.state not in from_states or run.provider_job_id:
                return None
            if not takeable(run.lease_owner, run.lease_expires_at, now, self.identity):
                return None
            prior = run.state
            run.state = "submitting"
            run.lease_owner = self.identity
            run.lease_expires_at = now + CREATE_LEASE
            run.updated_at = now
            s.add(run)
            queries.add_event(s, run.id, "state", f"{prior} -> submitting")
            audit.append(s, "run.status", "run", run.id, job_name=run.job_name, actor=self.actor, at=now,
                         details={"from_state": prior, "to_state": "submitting", "provider": run.provider})
        return run

    def create(self, run: RunRow, uploads: tuple[Upload, Upload | None] | None = None) -> RunRow:
        """Create the provider job exactly once for an admitted run."""
        adapter = self.pool.for_run(run)
        # Claim before uploading: concurrent submits and syncs of one run upload its data once.
        claimed = self._claim_for_create(run.id, ("admitted",))
        if claimed is None:
            return self.get(run.id)
        return self._submit(claimed, adapter, uploads or self._upload_claimed(claimed))

    def _upload_claimed(self, run: RunRow) -> tuple[Upload, Upload | None]:
        """Upload for a claimed run; if that fails, nothing was created: the run goes back to admitted
        (lease released) for the next ``submit`` or ``sync`` to retry under the same run id."""
        try:
            return self.upload(run)
        except BaseException as exc:
            self._set_state(run.id, "admitted", f"upload failed ({exc}); `tuneops submit` or `tuneops sync` "
                            "tries again under the same run id", release=True)
            raise

    def _submit(self, run: RunRow, adapter: Provider, uploads: tuple[Upload, Upload | None]) -> RunRow:
        spec = spec_of(run)
        request = CreateRequest(job_name=run.job_name, base_model=run.base_model, method=run.method,  # type: ignore[arg-type]
                                training=uploads[0], validation=uploads[1],
                                hyperparameters=hyperparameters(spec), idempotency_key=run.idempotency_key,
                                suffix=spec.model.suffix, options=spec.provider_options())
        try:
            # Only failures that prove nothing was created (a 429, a refused connection) are retried.
            job = call_with_retry(lambda: adapter.create(request), policy=self.policy,
                                  on_retry=self._retry_logger(run.id, "create"))
        except AmbiguousCreate as exc:
            return self._set_state(run.id, "unknown", f"create outcome unknown ({exc}); "
                                   "`tuneops sync` will look the job up by its key", release=True)
        except TransientProviderError as exc:  # refused (e.g. 429) every time: nothing was created
            return self._set_state(run.id, "admitted", f"create refused ({exc}); will try again",
                                   release=True)
        except (PermanentProviderError, TuneopsError) as exc:
            return self._fail(run.id, exc)
        crash.point("after-create")
        return self._adopt(run.id, job, "run.submitted")

    # -- reconcile -------------------------------------------------------------------------------

    def reconcile(self, run: RunRow) -> RunRow:
        """Settle a run whose create may or may not have happened: adopt one match, resubmit if none,
        cancel and record extras if several."""
        adapter = self.pool.for_run(run)
        claimed = self._claim_for_create(run.id, ("submitting", "unknown"))
        if claimed is None:
            return self.get(run.id)
        matches = call_with_retry(lambda: adapter.find(run.idempotency_key), policy=self.policy,
                                  on_retry=self._retry_logger(run.id, "find"))
        if not matches:
            self._event(run.id, "note", "reconcile: no provider job carries this run's key; submitting")
            return self._submit(claimed, adapter, self._upload_claimed(claimed))
        matches.sort(key=lambda j: (j.created_at or datetime.min, j.provider_job_id))
        keep, extras = matches[0], matches[1:]
        for extra in extras:
            call_with_retry(lambda e=extra: adapter.cancel(e.provider_job_id), policy=self.policy)
            self._event(run.id, "note", f"reconcile: cancelled duplicate job {extra.provider_job_id}")
        return self._adopt(run.id, keep, "run.reconciled", extra={
            "matches": len(matches), "cancelled": [e.provider_job_id for e in extras]})

    # -- advance -------------------------------------------------------------------------------

    def advance(self, run: RunRow) -> RunRow:
        """Do whatever the run needs next (upload+create, reconcile, or poll); idempotent."""
        if run.state == "admitted":
            return self.create(run)
        if run.state in ("submitting", "unknown") and not run.provider_job_id:
            now = self.clock()
            if not takeable(run.lease_owner, run.lease_expires_at, now, self.identity):
                return run  # its creator is still at work
            return self.reconcile(run)
        if run.state in queries.TERMINAL_STATES:
            return run
        return self.sync(run)


    def _adopt(self, run_id: str, job: ProviderJob, action: str, extra: dict[str, Any] | None = None) -> RunRow:
        now = self.clock()
        with self.store.write() as s:
            run = queries.get_run(s, run_id)
            run.provider_job_id = job.provider_job_id
            run.submitted_at = run.submitted_at or now
            run.lease_owner = run.lease_expires_at = None
            prior, run.state = run.state, "pending"  # _apply below moves it to the provider's status
            run.updated_at = now
            s.add(run)
            if prior != "pending":  # the status history shows every step, this one too
                queries.add_event(s, run.id, "state", f"{prior} -> pending (provider job created)")
            queries.add_event(s, run.id, "call", f"provider job {job.provider_job_id} "
                              f"({'created' if action == 'run.submitted' else 'found by key'})")
            audit.append(s, action, "run", run.id, job_name=run.job_name, actor=self.actor,
                         details={"provider": run.provider, "provider_job_id": job.provider_job_id,
                                  "idempotency_key": run.idempotency_key, "from_state": prior, "to_state": "pending",
                                  **(extra or {})})
        return self._apply(run_id, job)


    # -- control ---------------------------------------------------------------------------------

    def control(self, run: RunRow, action: str) -> RunRow:
        """Cancel, pause or resume a run at its provider (UnsupportedOperation where it cannot)."""
        from tuneops.errors import UnsupportedOperation

        if action == "cancel" and not run.provider_job_id and run.state in ("admitted", "unknown",
                                                                             "submitting"):
            if run.state != "admitted":
                run = self.reconcile(run)
            if not run.provider_job_id:
                return self._set_state(run.id, "cancelled", "cancelled before submission", audit_action="run.cancelled")
        if run.state in queries.TERMINAL_STATES:
            raise TuneopsError(f"run {run.id} is already {run.state}; nothing to {action}")
        adapter = self.pool.for_run(run)
        caps = adapter.capabilities
        allowed = {"cancel": caps.can_cancel, "pause": caps.can_pause, "resume": caps.can_resume}
        if not allowed[action]:
            raise UnsupportedOperation(f"{adapter.name} does not support {action}; run {run.id} is unchanged")
        fn = getattr(adapter, action)
        job = call_with_retry(lambda: fn(run.provider_job_id), policy=self.policy)
        self._event(run.id, "call", f"{action} requested")
        with self.store.write() as s:
            audit.append(s, f"run.{action}_requested", "run", run.id, job_name=run.job_name, actor=self.actor,
                         details={"provider": run.provider, "provider_job_id": run.provider_job_id})
        return self._apply(run.id, job)

    # -- helpers ---------------------------------------------------------------------------------

    def _set_state(self, run_id: str, state: str, message: str, *, release: bool = False,
                   audit_action: str | None = None) -> RunRow:
        with self.store.write() as s:
            run = queries.get_run(s, run_id)
            prior = run.state
            run.state = state
            run.updated_at = self.clock()
            if release:
                run.lease_owner = run.lease_expires_at = None
            if state in queries.TERMINAL_STATES:
                run.finished_at = self.clock()
            s.add(run)
            queries.add_event(s, run.id, "state", f"{prior} -> {state}: {message}")
            audit.append(s, audit_action or "run.status", "run", run.id, job_name=run.job_name,
                         actor=self.actor, details={"from_state": prior, "to_state": state,
                                                    "reason": message[:500]})
        self._notify(run, state)
        return run

    def _fail(self, run_id: str, exc: Exception) -> RunRow:
        with self.store.write() as s:
            run = queries.get_run(s, run_id)
            prior = run.state
            run.state = "failed"
            run.error_code = getattr(exc, "code", None)
            run.error_message = audit.redact(str(exc))
            run.finished_at = run.updated_at = self.clock()
            run.lease_owner = run.lease_expires_at = None
            s.add(run)
            queries.add_event(s, run.id, "error", str(exc))
            audit.append(s, "run.failed", "run", run.id, job_name=run.job_name, actor=self.actor,
                         details={"from_state": prior, "to_state": "failed", "error_code": run.error_code,
                                  "error_message": str(exc)[:1000]})
        self._notify(run, "failed")
        return run

    def _event(self, run_id: str, kind: str, message: str, data: Any = None) -> None:
        with self.store.write() as s:
            queries.add_event(s, run_id, kind, message, data=data)

    def _retry_logger(self, run_id: str, operation: str) -> Callable[[int, float, TransientProviderError], None]:
        def log(attempt: int, delay: float, exc: TransientProviderError) -> None:
            self._event(run_id, "retry", f"{operation} attempt {attempt} failed ({exc}); retrying in "
                        f"{delay:.1f}s", data={"status": exc.status, "code": exc.code})
            if self.notice is not None and attempt < self.policy.attempts:  # one line per retry: no silent wait
                hint = ""
                if unreachable(exc):
                    run = self.get(run_id)
                    hint = f" ({reach_hint(run.provider, location_of(self.pool, run))})"
                self.notice(f"run {run_id}: {operation} failed: {exc}{hint}; retrying in {delay:.1f}s "
                            f"(attempt {attempt + 1} of {self.policy.attempts})")
        return log

    def _notify(self, run: RunRow, what: str) -> None:
        if self.listener is not None:
            self.listener(run, what)

