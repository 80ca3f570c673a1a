"""The read side of the ledger in plain SQL: runs, their events and checkpoints, models, aliases, evals.

Read-only commands (`runs list`, `runs show`, `models list`, `eval list`) answer through a bare DB-API
connection (``tuneops.store.reader``) so they never import SQLAlchemy; code inside an ORM transaction
runs the same statements through ``tuneops.store.sql.of_session``. Rows come back as ``Record``: the
columns as attributes, like the ORM rows, with times as naive UTC datetimes on either database.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from tuneops.errors import RunNotFound, TuneopsError
from tuneops.store.sql import Sql, marks
from tuneops.store.states import TERMINAL_STATES


class Record:
    """One row: its columns as attributes and ``model_dump()`` (what the ORM rows offer a reader)."""

    __slots__ = ("_data",)

    def __init__(self, data: dict[str, Any]):
        self._data = data

    def __getattr__(self, name: str) -> Any:
        try:
            return self._data[name]
        except KeyError:
            raise AttributeError(name) from None

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Record) and other._data == self._data

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"Record({self._data!r})"

    def model_dump(self, *, exclude: Sequence[str] | set[str] = (), **_: Any) -> dict[str, Any]:
        """The columns as a dict, without ``exclude``."""
        return {k: v for k, v in self._data.items() if k not in exclude}


# SQLite keeps times as text and booleans as integers; these declared types say which columns to convert.
_TIME_TYPES = ("DATETIME", "TIMESTAMP", "DATE")
_types: dict[tuple[int, str], dict[str, str]] = {}


def _converters(db: Sql, table: str) -> dict[str, str]:
    """Column -> "time" | "bool" for a SQLite table (PostgreSQL's driver returns typed values already)."""
    key = (id(db.connection), table)
    if key not in _types:
        found: dict[str, str] = {}
        for _, name, declared, *_rest in db.rows(f"PRAGMA table_info({table})"):
            kind = str(declared).upper()
            if kind.startswith(_TIME_TYPES):
                found[name] = "time"
            elif kind == "BOOLEAN":
                found[name] = "bool"
        _types[key] = found
    return _types[key]


def select(db: Sql, table: str, where: str = "", params: Sequence[Any] = (), tail: str = "") -> list[Record]:
    """``SELECT * FROM table [WHERE where] tail`` as Records (``table`` and SQL text are ours, never input)."""
    sql = f"SELECT * FROM {table}" + (f" WHERE {where}" if where else "") + (f" {tail}" if tail else "")
    cursor = db.connection.cursor()
    try:
        cursor.execute(db._text(sql), tuple(params))
        names = [d[0] for d in cursor.description]
        rows = cursor.fetchall()
    finally:
        cursor.close()
    convert = _converters(db, table) if db.dialect == "sqlite" else {}
    out = []
    for row in rows:
        data = dict(zip(names, row, strict=True))
        for name, kind in convert.items():
            value = data.get(name)
            if value is not None:
                data[name] = Sql.time(value) if kind == "time" else bool(value)
        out.append(Record(data))
    return out


def _prefixed(db: Sql, table: str, ident: str, what: str) -> Record | None:
    """The row with this id, or the one row whose id starts with it (6+ characters); None if nothing matches."""
    found = select(db, table, "id = ?", (ident,))
    if found:
        return found[0]
    if len(ident) >= 6:
        pattern = ident.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        found = select(db, table, "id LIKE ? ESCAPE '\\'", (pattern,), "LIMIT 2")
        if len(found) > 1:
            raise TuneopsError(f"{what} id prefix {ident!r} is ambiguous; give more characters")
        if found:
            return found[0]
    return None


# -- runs --------------------------------------------------------------------------------------------

def get_run(db: Sql, run_id: str) -> Record:
    """The run with this id or unique id prefix (6+ characters); RunNotFound / TuneopsError otherwise."""
    run = _prefixed(db, "run", run_id, "run")
    if run is None:
        raise RunNotFound(run_id)
    return run


def list_runs(db: Sql, *, job: str | None = None, provider: str | None = None, state: str | None = None,
              active: bool = False, limit: int = 50) -> list[Record]:
    """Runs newest first, filtered by job, provider, state, or only the unfinished ones."""
    conds, params = _conditions(job_name=job, provider=provider, state=state)
    if active:
        conds.append(f"state NOT IN ({marks(TERMINAL_STATES)})")
        params.extend(sorted(TERMINAL_STATES))
    tail = "ORDER BY created_at DESC, id DESC"
    if limit:
        tail += " LIMIT ?"
        params.append(limit)
    return select(db, "run", " AND ".join(conds), params, tail)

def _conditions(**equal: str | None) -> tuple[list[str], list[Any]]:
    """``column = ?`` for every filter given."""
    conds = [f"{column} = ?" for column, value in equal.items() if value]
    return conds, [value for value in equal.values() if value]


def run_events(db: Sql, run_id: str, *, kinds: Sequence[str] | None = None,
               limit: int | None = None) -> list[Record]:
    """A run's events, oldest first (the last ``limit`` when given)."""
    where, params = "run_id = ?", [run_id]
    if kinds:
        where += f" AND kind IN ({marks(kinds)})"
        params.extend(kinds)
    if limit:
        return list(reversed(select(db, "run_event", where, [*params, limit], "ORDER BY id DESC LIMIT ?")))
    return select(db, "run_event", where, params, "ORDER BY id")


def checkpoints(db: Sql, run_id: str) -> list[Record]:
    """A run's checkpoints by step."""
    return select(db, "checkpoint", "run_id = ?", (run_id,), "ORDER BY step")


# -- models --------------------------------------------------------------------------------------------

def model_for_run(db: Sql, run_id: str) -> Record | None:
    """The model a run produced, if any."""
    found = select(db, "model", "run_id = ?", (run_id,), "LIMIT 1")
    return found[0] if found else None


def serving_deadlines(db: Sql, *, within_days: int = 30,
                      now: datetime | None = None) -> list[tuple[Record, str, datetime]]:
    """Models that (or whose base model) stop serving within ``within_days``: (model, which, when)."""
    from tuneops.clock import utcnow

    horizon = (now or utcnow()) + timedelta(days=within_days)
    out = []
    for model in select(db, "model", "shutdown_at <= ? OR base_shutdown_at <= ?", [db.time_param(horizon)] * 2):
        if model.shutdown_at and model.shutdown_at <= horizon:
            out.append((model, "the model", model.shutdown_at))
        if model.base_shutdown_at and model.base_shutdown_at <= horizon:
            out.append((model, f"base model {model.base_model}", model.base_shutdown_at))
    return out


@dataclass(frozen=True)
class ModelRecord:
    """A model with what a person asks about it: where it came from, its scores, cost and aliases."""

    model: Any
    run: Any
    aliases: list[str]
    scores: dict[str, float]
    eval_id: str | None
    deployment_state: str | None = None  # the run's deployment: deploying, deployed, undeployed, ...
    endpoint: str | None = None  # while deployed

    def as_dict(self) -> dict[str, Any]:
        """JSON-able form (the shape of `tuneops models list --json`)."""
        m = self.model
        return {"model": m.provider_model_id, "provider": m.provider, "job": m.job_name, "run_id": m.run_id,
                "base_model": m.base_model, "dataset_sha256": m.train_sha256, "aliases": self.aliases,
                "scores": self.scores, "eval_id": self.eval_id,
                "cost_microusd": self.run.cost_microusd if self.run else None,
                "created_at": m.created_at, "shutdown_at": m.shutdown_at,
                "deployment": m.provider_deployment_id, "deployment_state": self.deployment_state,
                "endpoint": self.endpoint}


def list_models(db: Sql, *, job: str | None = None, limit: int | None = None) -> list[ModelRecord]:
    """Fine-tuned models newest first (at most ``limit``), with their latest eval scores and aliases."""
    import json

    conds, params = _conditions(job_name=job)
    models = select(db, "model", " AND ".join(conds), [*params, *([limit] if limit else [])],
                    "ORDER BY created_at DESC, id DESC" + (" LIMIT ?" if limit else ""))
    if not models:
        return []
    holders: dict[int, list[str]] = {}
    runs: dict[str, Record] = {}
    served: dict[str, Record] = {}
    for chunk in _chunks(models):
        pks = [m.id for m in chunk]
        for a in select(db, "alias", f"model_pk IN ({marks(pks)})", pks):
            holders.setdefault(a.model_pk, []).append(f"{a.job_name}@{a.name}")
        ids = [m.run_id for m in chunk]
        runs.update((r.id, r) for r in select(db, "run", f"id IN ({marks(ids)})", ids))
        served.update((d.run_id, d) for d in select(db, "deployment", f"run_id IN ({marks(ids)})", ids))
    latest: dict[tuple[str, str], Record] = {}
    for provider in {m.provider for m in models}:
        ids = [m.provider_model_id for m in models if m.provider == provider]
        latest.update(((provider, k), v) for k, v in latest_evals(db, provider, ids).items())
    out = []
    for m in models:
        ev = latest.get((m.provider, m.provider_model_id))
        dep = served.get(m.run_id)
        out.append(ModelRecord(m, runs.get(m.run_id), sorted(holders.get(m.id, [])),
                               dict(json.loads(ev.scores)) if ev else {}, ev.id if ev else None,
                               dep.state if dep else None, dep.endpoint if dep and dep.state == "deployed" else None))
    return out


def deployment_for_run(db: Sql, run_id: str) -> Record | None:
    """A run's deployment (tuneops.runs.deploy), if it has one."""
    rows = select(db, "deployment", "run_id = ?", (run_id,))
    return rows[0] if rows else None


def _chunks(items: Sequence[Any], size: int = 500) -> Iterator[Sequence[Any]]:
    """``items`` in slices small enough for an IN list on either database."""
    for i in range(0, len(items), size):
        yield items[i:i + size]


# -- evals ---------------------------------------------------------------------------------------------

def list_evals(db: Sql, *, job: str | None = None, model: str | None = None, limit: int = 50) -> list[Record]:
    """Evals newest first, optionally only one job's or one model's."""
    conds, params = _conditions(job_name=job, model=model)
    return select(db, "eval_run", " AND ".join(conds), [*params, limit],
                  "ORDER BY created_at DESC, id DESC LIMIT ?")


def latest_evals(db: Sql, provider: str, models: Sequence[str]) -> dict[str, Record]:
    """The newest eval of each of ``models`` at ``provider`` (models never evaluated are absent)."""
    out: dict[str, Record] = {}
    for chunk in _chunks(models):
        for row in select(db, "eval_run", f"provider = ? AND model IN ({marks(chunk)})", [provider, *chunk],
                          "ORDER BY created_at, id"):
            out[row.model] = row
    return out
