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

from tuneops.scheduler.datafiles import DataChange, DataFiles, FileHashes
from tuneops.scheduler.localcache import LocalCache
from tuneops.scheduler.policy import JobPolicy
from tuneops.store.spend import month_spend_microusd
from tuneops.store.sql import Sql, marks
from tuneops.store.states import ACTIVE_RUN_STATES, FIRE_ACTIVE_STATES

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


# A model's facts joined with its run (for its example count).
_MODEL_SELECT = ("SELECT m.id, m.provider, m.provider_model_id, m.run_id, m.base_model, m.train_sha256, "
                 "r.train_examples, m.created_at, m.base_shutdown_at{extra} FROM model m JOIN run r ON r.id = m.run_id")


def _model_fact(db: Sql, row: Sequence[Any], source: str) -> ModelFact:
    return ModelFact(*row[:7], created_at=db.time(row[7]), base_shutdown_at=db.time(row[8]),  # type: ignore[misc]
                     source=source)


def current_models(db: Sql, policies: Sequence[JobPolicy]) -> dict[str, ModelFact]:
    """Each job's alias holder (when its spec names an alias and it is held), else its newest model.

    Alias holders of many jobs come from one join over every alias (no IN list of thousands of ids:
    PostgreSQL answers that with a scan per chunk); only jobs without a held alias need a second query.
    """
    wanted = {p.name: p.alias for p in policies}
    out: dict[str, ModelFact] = {}
    sql = _MODEL_SELECT.format(extra=", a.job_name, a.name") + " JOIN alias a ON a.model_pk = m.id"
    params: list[str] = []
    if len(wanted) <= _FEW:
        params = sorted(n for n, alias in wanted.items() if alias)
        sql += f" WHERE a.job_name IN ({marks(params)})"
    for row in db.rows(sql, params) if params or len(wanted) > _FEW else ():
        if wanted.get(row[9]) == row[10]:
            out[row[9]] = _model_fact(db, row, "alias")
    rest = [n for n in wanted if n not in out]
    newest: dict[int, str] = {}
    for chunk in _chunks(rest):
        newest.update({pk: job for job, pk in db.rows(
            f"SELECT job_name, MAX(id) FROM model WHERE job_name IN ({marks(chunk)}) GROUP BY job_name", chunk)})
    for chunk in _chunks(sorted(newest)):
        for row in db.rows(_MODEL_SELECT.format(extra="") + f" WHERE m.id IN ({marks(chunk)})", chunk):
            out[newest[row[0]]] = _model_fact(db, row, "latest")
    return out


def latest_evals(db: Sql, models: dict[str, ModelFact], current_sets: dict[str, str | None]) -> dict[int, EvalFact]:
    """The newest eval of each job's model, preferring one on the job's current eval set.

    Evals of many alias holders come from one join through ``alias``; other models' by their ids.
    """
    by_key = {(mf.provider, mf.provider_model_id): (job, mf) for job, mf in models.items()}
    cols = "SELECT e.id, e.provider, e.model, e.set_sha256, e.examples, e.scores, e.created_at FROM eval_run e"
    queries: list[tuple[str, Sequence[Any]]] = []
    held = [job for job, mf in models.items() if mf.source == "alias"]
    if len(held) > _FEW:
        queries.append((cols + " JOIN model m ON m.provider = e.provider AND m.provider_model_id = e.model "
                        "JOIN alias a ON a.model_pk = m.id", ()))
        held = []
    # By (provider, model): the pair leads the eval_run index.
    others = sorted({(mf.provider, mf.provider_model_id) for job, mf in models.items()
                     if mf.source != "alias" or job in held})
    queries += [(cols + f" WHERE (e.provider, e.model) IN ({', '.join(['(?, ?)'] * len(chunk))})",
                 [v for pair in chunk for v in pair]) for chunk in _chunks(others)]
    best: dict[int, tuple[Any, ...]] = {}
    for sql, params in queries:
        for row in db.rows(sql, params):
            hit = by_key.get((row[1], row[2]))
            if hit is None:
                continue
            job, mf = hit
            rank = (row[3] == current_sets.get(job), db.time(row[6]), row[0])
            prior = best.get(mf.id)
            if prior is None or rank > prior[0]:
                best[mf.id] = (rank, row)
    return {pk: EvalFact(row[0], row[3], row[4], orjson.loads(row[5]), rank[1])
            for pk, (rank, row) in best.items()}


_MEMORY_SELECT = ("SELECT job_name, first_seen_at, code, outcome, recorded_at, last_fired_at, last_fire_key, "
                  "last_cron_slot FROM decision")


def memory_of(row: Sequence[Any]) -> Memory:
    """A job's memory from a row of ``_MEMORY_SELECT`` (job name first)."""
    t = Sql.time
    return Memory(t(row[1]), row[2], row[3], t(row[4]), t(row[5]), row[6], t(row[7]))


def memories(db: Sql, names: Sequence[str] | None = None, *, lock: bool = False) -> dict[str, Memory]:
    """The scheduler's memory of these jobs (None: of every job it has seen); ``lock``: the rows are
    locked until the caller's write transaction ends (rows another process holds are left out)."""
    suffix = db.skip_locked if lock else ""
    if names is None or (len(names) > _FEW and not lock):
        return {row[0]: memory_of(row) for row in db.rows(_MEMORY_SELECT + suffix)}
    out: dict[str, Memory] = {}
    for chunk in _chunks(sorted(names)):
        rows = db.rows(f"{_MEMORY_SELECT} WHERE job_name IN ({marks(chunk)}){suffix}", chunk)
        out.update({row[0]: memory_of(row) for row in rows})
    return out


def in_flight(db: Sql) -> dict[str, list[str]]:
    """Unfinished runs and active fires, by job."""
    out: dict[str, list[str]] = {}
    for job, run_id in db.rows(f"SELECT job_name, id FROM run WHERE state IN ({marks(ACTIVE_RUN_STATES)})",
                               ACTIVE_RUN_STATES):
        out.setdefault(job, []).append(run_id)
    for job, fire_id in db.rows(f"SELECT job_name, id FROM fire WHERE state IN ({marks(FIRE_ACTIVE_STATES)})",
                                FIRE_ACTIVE_STATES):
        out.setdefault(job, []).append(fire_id)
    return out


def poll_due(db: Sql, now: datetime) -> bool:
    """Whether an unfinished run is due for a poll (or still awaits its provider job)."""
    return bool(db.rows(f"SELECT 1 FROM run WHERE state IN ({marks(ACTIVE_RUN_STATES)}) AND "
                        "(next_poll_at IS NULL OR next_poll_at <= ?) LIMIT 1",
                        (*ACTIVE_RUN_STATES, db.time_param(now))))


def deployments_due(db: Sql, now: datetime) -> bool:
    """Whether a deployment is coming up or going away, or has reached its ``undeploy_after`` (hourly
    hosting keeps billing until someone deletes it, so the scheduler does when `tuneops sync` is not run)."""
    return bool(db.rows("SELECT 1 FROM deployment WHERE state IN ('deploying', 'undeploying') OR "
                        "(state = 'deployed' AND undeploy_after <= ?) LIMIT 1", (db.time_param(now),)))


def runs_in_flight(db: Sql) -> int:
    """How many runs are unfinished."""
    return int(db.rows(f"SELECT COUNT(*) FROM run WHERE state IN ({marks(ACTIVE_RUN_STATES)})",
                       ACTIVE_RUN_STATES)[0][0])


def gather(db: Sql, policies: Sequence[JobPolicy], now: datetime, cache: LocalCache, *,
           snapshot_dir: Path | None = None, files: DataFiles | None = None,
           hashes: FileHashes | None = None) -> Facts:
    """Facts of every job with a [retrain] policy (and of broken specs, to report them).

    ``files`` and ``hashes`` may be kept by a long-running process so file states stay in memory.
    """
    import time

    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    scheduled = [p for p in policies if p.error is None and p.retrain is not None]
    memory = memories(db, [p.name for p in policies])
    models = current_models(db, scheduled)
    flight = in_flight(db)
    spent = month_spend_microusd(db, month_start(now))
    timings["ledger"] = time.perf_counter() - t0
    t1 = time.perf_counter()
    hashes = hashes or FileHashes(cache)
    sets = {p.name: hashes.sha256(p.eval_set) for p in scheduled
            if p.eval_set and p.retrain and p.retrain.eval_below is not None}
    timings["eval_sets"] = time.perf_counter() - t1
    t1 = time.perf_counter()
    evals = latest_evals(db, {n: models[n] for n in sets if n in models}, sets)
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
