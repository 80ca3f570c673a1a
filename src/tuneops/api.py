"""The Python API: what the command line does, as functions for a notebook or a script.

Every function takes keyword options named as the CLI's flags, raises a ``TuneopsError`` a person can act
on (the CLI prints the same message), and, where it touches the ledger, takes ``db`` like ``--db`` (a
SQLite path or a database URL; default: TUNEOPS_DATABASE_URL, else ``.tuneops/tuneops.db`` in the
project found from the working directory). ``import tuneops`` loads none of this until it is used.

A whole flow against the local sandbox (``tuneops sandbox serve``; here the tests start one)::

    >>> import tuneops
    >>> tuneops.validate("jobs/support-triage.toml").ok
    True
    >>> run = tuneops.submit("jobs/support-triage.toml", wait=True, interval=0.2)
    >>> run.state, run.model_id.startswith("ft:sandbox-mini")
    ('succeeded', True)
    >>> [r.id for r in tuneops.runs(job="support-triage")] == [run.id]
    True
    >>> tuned = tuneops.evaluate(run.model_id)
    >>> base = tuneops.evaluate("sandbox-mini", spec="jobs/support-triage.toml")
    >>> tuneops.compare(base.id, tuned.id).delta > 0
    True
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tuneops.datasets.preflight import PreflightReport
    from tuneops.economics import Estimate
    from tuneops.evals.compare import Comparison
    from tuneops.runs.orchestrator import Orchestrator
    from tuneops.store.eval_tables import EvalRunRow
    from tuneops.store.listings import Record
    from tuneops.store.tables import RunRow

__all__ = ["compare", "estimate", "evaluate", "runs", "submit", "sync", "validate"]


def validate(spec: str | Path, *, providers: Sequence[str] | None = None, cache: bool = True) -> PreflightReport:
    """Preflight a job spec's data for its provider (or ``providers``): findings, statistics, token counts.

    Nothing is written but the local preflight cache. ``report.ok`` is False when the data has errors;
    ``report.findings`` names each with file:line.

    >>> report = validate("jobs/support-triage.toml")
    >>> report.ok, report.examples, report.counts["error"]
    (True, 300, 0)
    """
    from tuneops import spec as specmod
    from tuneops.datasets.preflight import preflight

    loaded = specmod.load(spec, check_provider=False, check_options=False)
    return preflight(loaded, list(providers) if providers else None, use_cache=cache)


def estimate(spec: str | Path, *, providers: Sequence[str] | None = None, cache: bool = True,
             report: PreflightReport | None = None) -> list[Estimate]:
    """What one run of ``spec`` would cost at its provider (or at each of ``providers``), in micro-dollars.

    ``report``: a ``validate`` result for the same spec and providers, to count its tokens only once.

    A price tuneops does not know is None, never a guess (OpenAI has no price for the sandbox's base model):

    >>> [(e.provider, e.microusd is None) for e in estimate("jobs/support-triage.toml",
    ...                                                     providers=["sandbox", "openai"])]
    [('sandbox', False), ('openai', True)]
    """
    from tuneops import economics
    from tuneops import spec as specmod

    report = report or validate(spec, providers=providers, cache=cache)
    job = specmod.load(spec, check_provider=False, check_options=False).spec
    return [economics.estimate(job.with_provider(p), report.tokens, report.examples, p,
                               validation_tokens=report.validation_tokens) for p in report.providers]


def _orchestrator(db: str | None) -> Orchestrator:
    from tuneops.runs.orchestrator import Orchestrator
    from tuneops.store import open_store

    return Orchestrator(open_store(db))


def submit(spec: str | Path, *, provider: str | None = None, wait: bool = False, interval: float = 2.0,
           db: str | None = None) -> RunRow:
    """Validate, estimate, admit and submit ``spec`` (as `tuneops submit`); with ``wait``, follow the run
    until it finishes. Returns the run; its ``state`` says where it is.

    Refused specs (bad data, unknown provider, missing key, over budget) raise before anything is written.

    >>> submit("jobs/support-triage.toml", provider="sandbox", wait=True, interval=0.2).state
    'succeeded'
    """
    from tuneops import spec as specmod

    loaded = specmod.load(spec)
    orch = _orchestrator(db)
    try:
        run = orch.submit(loaded, provider=provider)
        return orch.watch(run.id, interval=interval) if wait else run
    finally:
        orch.pool.close()
        orch.store.close()


def sync(*, due: bool = False, db: str | None = None) -> list[RunRow]:
    """Advance every unfinished run once (as `tuneops sync --no-promote`); returns the runs it looked at.

    >>> sync()
    []
    """
    orch = _orchestrator(db)
    try:
        done, _calls = orch.sync_all(force=not due)
        return done
    finally:
        orch.pool.close()
        orch.store.close()


def runs(*, job: str | None = None, provider: str | None = None, state: str | None = None, active: bool = False,
         limit: int = 50, db: str | None = None) -> list[Record]:
    """Runs newest first, as `tuneops runs list` shows them (read-only: a missing ledger is LedgerNotFound).

    >>> runs(job="no-such-job")
    []
    """
    from tuneops.store import listings
    from tuneops.store.reader import open_reader

    with open_reader(db, create=False) as reader:
        return listings.list_runs(reader, job=job, provider=provider, state=state, active=active, limit=limit)


def evaluate(model: str, *, eval_set: str | Path | None = None, spec: str | Path | None = None,
             provider: str | None = None, metrics: Sequence[str] = (), concurrency: int | None = None,
             db: str | None = None, progress: Callable[[int, int], None] | None = None) -> EvalRunRow:
    """Score ``model`` (a model id, alias, run id, or base model with ``spec``/``provider``) on an eval set
    (default: its spec's [eval] set), as `tuneops eval`. Answers are cached: a repeat makes no calls.
    ``progress(done, total)`` is called as examples are scored.

    >>> ev = evaluate("sandbox-mini", spec="jobs/support-triage.toml")
    >>> ev.examples, ev.model_kind
    (90, 'base')
    """
    from tuneops import spec as specmod
    from tuneops.evals import targets
    from tuneops.evals.flow import evaluate as run_eval

    loaded = specmod.load(spec, check_provider=False) if spec is not None else None
    orch = _orchestrator(db)
    try:
        with orch.store.read() as s:
            target, job_spec, base_dir = targets.resolve_target(s, model, loaded=loaded, provider=provider)
        config = targets.eval_config(job_spec, base_dir, set_path=Path(eval_set) if eval_set else None,
                                     metrics=list(metrics), concurrency=concurrency)
        return run_eval(orch, target, config, progress=progress)
    finally:
        orch.pool.close()
        orch.store.close()


def compare(a: str, b: str, *, metric: str | None = None, method: str = "auto", db: str | None = None) -> Comparison:
    """B against A example by example (eval ids, or models/aliases/runs meaning their newest eval), as
    `tuneops eval compare`: ``delta`` with a confidence ``interval`` and the flipped examples.

    >>> ev = evaluate("sandbox-mini", spec="jobs/support-triage.toml")
    >>> same = compare(ev.id, ev.id)
    >>> same.delta, len(same.to_fail), len(same.to_pass)
    (0.0, 0, 0)
    """
    from tuneops.errors import TuneopsError
    from tuneops.evals import targets
    from tuneops.evals.compare import compare as compare_evals
    from tuneops.store import open_store
    from tuneops.store.urls import require_ledger, resolve_url

    if method not in ("auto", "binomial", "bootstrap"):
        raise TuneopsError(f"method {method!r}: use auto, binomial or bootstrap")
    require_ledger(resolve_url(db, create=False))
    store = open_store(db)
    try:
        with store.read() as s:
            id_a, id_b = targets.resolve_pair(s, a, b)
            return compare_evals(s, id_a, id_b, metric=metric, method=method)  # type: ignore[arg-type]
    finally:
        store.close()
