"""Facts: everything the triggers look at, gathered for every job at once with a few set-based queries.

One pass reads the scheduler's memory of each job, the alias holders and newest models, their latest
evals, the runs and fires in flight and this month's spend (a handful of queries whatever the number
of jobs), then the data and eval files through the local caches. Facts are immutable; triggers are
pure functions of them and the time.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import func, select, tuple_

from tuneops.scheduler.datafiles import DataChange, DataFiles, FileHashes
from tuneops.scheduler.localcache import LocalCache
from tuneops.scheduler.policy import JobPolicy
from tuneops.store import Store, queries
from tuneops.store.eval_tables import AliasRow, EvalRunRow
from tuneops.store.scheduler_tables import DecisionRow, FireRow
from tuneops.store.states import ACTIVE_RUN_STATES, FIRE_ACTIVE_STATES
from tuneops.store.tables import ModelRow, RunRow

_CHUNK = 2000  # names per IN (...) list, well under every driver's limit on bound parameters
# Up to this many jobs, facts are looked up by job name; beyond it, whole tables are joined once (an IN
# list of thousands of names costs PostgreSQL a scan per chunk). A tick that skips quiet jobs usually
# works out a few dozen.
_FEW = 500


@dataclass(frozen=True, slots=True)
class Memory:
    """What the scheduler remembers about a job (its ``decision`` row)."""

    first_seen_at: datetime
    code: str = ""
    outcome: str | None = None
    recorded_at: datetime | None = None
    last_fired_at: datetime | None = None
    last_fire_key: str | None = None
    last_cron_slot: datetime | None = None


@dataclass(frozen=True, slots=True)
class ModelFact:
    """The job's current model: the alias holder, else its newest model."""

    id: int
    provider: str
    provider_model_id: str
    run_id: str
    base_model: str
    train_sha256: str
    train_examples: int
    created_at: datetime
    base_shutdown_at: datetime | None
    source: str  # "alias" | "latest"


@dataclass(frozen=True, slots=True)
class EvalFact:
    """The newest eval of the current model (on the current eval set when there is one)."""

    id: str
    set_sha256: str
    examples: int
    scores: dict[str, float]
    created_at: datetime


@dataclass(frozen=True, slots=True)
class JobFacts:
    """The immutable inputs of one job's triggers."""

    policy: JobPolicy
    memory: Memory | None = None
    model: ModelFact | None = None
    eval: EvalFact | None = None
    eval_set_sha256: str | None = None  # of the eval set file now (None: unreadable or no [eval])
    data: DataChange | None = None
    data_problem: str | None = None
    in_flight: tuple[str, ...] = ()  # runs and fires of this job not finished yet
    month_spent_microusd: int = 0

    @property
    def job(self) -> str:
        """The job's name."""
        return self.policy.name

    @property
    def eval_stale(self) -> bool:
        """True when the eval set changed since the current model's newest eval."""
        return (self.eval is not None and self.eval_set_sha256 is not None
                and self.eval.set_sha256 != self.eval_set_sha256)


@dataclass(frozen=True)
class Facts:
    """Facts of every job at one time."""

    now: datetime
    jobs: dict[str, JobFacts]
    month_spent_microusd: int
    timings: dict[str, float] = field(default_factory=dict)


def month_start(now: datetime) -> datetime:
    """Midnight UTC on the first of ``now``'s month (the budget period)."""
    return now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def _chunks(items: Sequence[Any]) -> Iterable[Sequence[Any]]:
    for i in range(0, len(items), _CHUNK):
        yield items[i:i + _CHUNK]


_MODEL_COLUMNS = ("id", "provider", "provider_model_id", "run_id", "base_model", "train_sha256")


def _model_select(*extra: Any) -> Any:
    """Model facts joined with their run (for its example count)."""
    m, r = ModelRow.__table__.c, RunRow.__table__.c  # type: ignore[attr-defined]
    return (select(*(m[c] for c in _MODEL_COLUMNS), r.train_examples, m.created_at, m.base_shutdown_at, *extra)
            .join_from(ModelRow.__table__, RunRow.__table__, r.id == m.run_id))


def current_models(session: Any, policies: Sequence[JobPolicy]) -> dict[str, ModelFact]:
    """Each job's alias holder (when its spec names an alias and it is held), else its newest model.

    Alias holders of many jobs come from one join over every alias (no IN list of thousands of ids:
    PostgreSQL answers that with a scan per chunk); only jobs without a held alias need a second query.
    """
    wanted = {p.name: p.alias for p in policies}
    a, m = AliasRow.__table__.c, ModelRow.__table__.c  # type: ignore[attr-defined]
    out: dict[str, ModelFact] = {}
    stmt = _model_select(a.job_name, a.name).join(AliasRow.__table__, a.model_pk == m.id)  # type: ignore[attr-defined]
    if len(wanted) <= _FEW:
        stmt = stmt.where(a.job_name.in_(sorted(n for n, alias in wanted.items() if alias)))
    for row in session.execute(stmt).all():
        if wanted.get(row[9]) == row[10]:
            out[row[9]] = ModelFact(*row[:9], source="alias")  # type: ignore[misc]
    rest = [n for n in wanted if n not in out]
    newest: dict[int, str] = {}
    for chunk in _chunks(rest):
        stmt = select(m.job_name, func.max(m.id)).where(m.job_name.in_(chunk)).group_by(m.job_name)
        newest.update({pk: job for job, pk in session.execute(stmt).all()})
    ids = sorted(newest)
    for chunk in _chunks(ids):
        for row in session.execute(_model_select().where(m.id.in_(chunk))).all():
            out[newest[row[0]]] = ModelFact(*row, source="latest")  # type: ignore[misc]
    return out


def latest_evals(session: Any, models: dict[str, ModelFact],
                 current_sets: dict[str, str | None]) -> dict[int, EvalFact]:
    """The newest eval of each job's model, preferring one on the job's current eval set.

    Evals of many alias holders come from one join through ``alias``; other models' by their ids.
    """
    e, m, a = EvalRunRow.__table__.c, ModelRow.__table__.c, AliasRow.__table__.c  # type: ignore[attr-defined]
    by_key = {(mf.provider, mf.provider_model_id): (job, mf) for job, mf in models.items()}
    cols = (e.id, e.provider, e.model, e.set_sha256, e.examples, e.scores, e.created_at)
    stmts = []
    held = [job for job, mf in models.items() if mf.source == "alias"]
    if len(held) > _FEW:
        stmts.append(select(*cols).join_from(EvalRunRow.__table__, ModelRow.__table__,  # type: ignore[attr-defined]
                                             (m.provider == e.provider) & (m.provider_model_id == e.model))
                     .join(AliasRow.__table__, a.model_pk == m.id))  # type: ignore[attr-defined]
        held = []
    # By (provider, model): the pair leads the eval_run index.
    others = sorted({(mf.provider, mf.provider_model_id) for job, mf in models.items()
                     if mf.source != "alias" or job in held})
    stmts += [select(*cols).where(tuple_(e.provider, e.model).in_(chunk)) for chunk in _chunks(others)]
    best: dict[int, tuple[Any, ...]] = {}
    for stmt in stmts:
        for row in session.execute(stmt).all():
            hit = by_key.get((row[1], row[2]))
            if hit is None:
                continue
            job, mf = hit
            rank = (row[3] == current_sets.get(job), row[6], row[0])
            prior = best.get(mf.id)
            if prior is None or rank > prior[0]:
                best[mf.id] = (rank, row)
    return {pk: EvalFact(row[0], row[3], row[4], orjson.loads(row[5]), row[6]) for pk, (_, row) in best.items()}


def memories(session: Any, names: Sequence[str] | None = None) -> dict[str, Memory]:
    """The scheduler's memory of these jobs (None: of every job it has seen)."""
    d = DecisionRow.__table__.c  # type: ignore[attr-defined]
    stmt = select(d.job_name, d.first_seen_at, d.code, d.outcome, d.recorded_at, d.last_fired_at,
                  d.last_fire_key, d.last_cron_slot)
    if names is None or len(names) > _FEW:
        return {row[0]: Memory(*row[1:]) for row in session.execute(stmt).all()}
    out: dict[str, Memory] = {}
    for chunk in _chunks(sorted(names)):
        out.update({row[0]: Memory(*row[1:]) for row in session.execute(stmt.where(d.job_name.in_(chunk))).all()})
    return out


def in_flight(session: Any) -> dict[str, list[str]]:
    """Unfinished runs and active fires, by job."""
    out: dict[str, list[str]] = {}
    r, f = RunRow.__table__.c, FireRow.__table__.c  # type: ignore[attr-defined]
    for job, run_id in session.execute(select(r.job_name, r.id).where(r.state.in_(ACTIVE_RUN_STATES))):
        out.setdefault(job, []).append(run_id)
    for job, fire_id in session.execute(select(f.job_name, f.id).where(f.state.in_(FIRE_ACTIVE_STATES))):
        out.setdefault(job, []).append(fire_id)
    return out


def gather(store: Store, policies: Sequence[JobPolicy], now: datetime, cache: LocalCache, *,
           snapshot_dir: Path | None = None, files: DataFiles | None = None,
           hashes: FileHashes | None = None) -> Facts:
    """Facts of every job with a [retrain] policy (and of broken specs, to report them).

    ``files`` and ``hashes`` may be kept by a long-running process so file states stay in memory.
    """
    import time

    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    scheduled = [p for p in policies if p.error is None and p.retrain is not None]
    with store.read() as s:
        memory = memories(s, [p.name for p in policies])
        models = current_models(s, scheduled)
        flight = in_flight(s)
        spent = queries.month_spend_microusd(s, month_start(now))
        timings["ledger"] = time.perf_counter() - t0
        t1 = time.perf_counter()
        hashes = hashes or FileHashes(cache)
        sets = {p.name: hashes.sha256(p.eval_set) for p in scheduled
                if p.eval_set and p.retrain and p.retrain.eval_below is not None}
        timings["eval_sets"] = time.perf_counter() - t1
        t1 = time.perf_counter()
        evals = latest_evals(s, {n: models[n] for n in sets if n in models}, sets)
        timings["evals"] = time.perf_counter() - t1
    t1 = time.perf_counter()
    files = files or DataFiles(cache, snapshot_dir)
    jobs: dict[str, JobFacts] = {}
    for p in policies:
        if p.error is not None or p.retrain is None:
            jobs[p.name] = JobFacts(policy=p, memory=memory.get(p.name), month_spent_microusd=spent)
            continue
        model = models.get(p.name)
        data = problem = None
        if p.retrain.new_examples is not None or p.retrain.changed_fraction is not None:
            data = files.change(p.train, model.train_sha256 if model else None,
                                model.train_examples if model else 0)
            if data is None:
                problem = f"cannot read the training file {p.train}"
        jobs[p.name] = JobFacts(
            policy=p, memory=memory.get(p.name), model=model,
            eval=evals.get(model.id) if model is not None else None, eval_set_sha256=sets.get(p.name),
            data=data, data_problem=problem, in_flight=tuple(flight.get(p.name, ())),
            month_spent_microusd=spent)
    files.flush()
    hashes.flush()
    timings["data"] = time.perf_counter() - t1
    return Facts(now=now, jobs=jobs, month_spent_microusd=spent, timings=timings)
