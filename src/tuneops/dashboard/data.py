"""What the HTML report shows, read from the ledger in a few column queries (no ORM objects per row,
so 10,000 runs read fast on SQLite and PostgreSQL alike)."""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from tuneops.store import Store
from tuneops.store.eval_tables import AliasHistoryRow, AliasRow, EvalRunRow
from tuneops.store.scheduler_tables import DecisionRow
from tuneops.store.tables import ModelRow, RunRow

# Loss curves are drawn for the newest runs of each job only: each is a chart of its own.
CURVE_JOBS = 12


@dataclass
class Dashboard:
    """Everything on the page, as plain data."""

    generated_at: datetime
    runs: list[dict[str, Any]] = field(default_factory=list)
    spend: dict[str, dict[str, int]] = field(default_factory=dict)  # month -> provider -> micro-dollars
    budgets: list[dict[str, Any]] = field(default_factory=list)  # job, per month, spent this month
    evals: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # job -> scored evals, oldest first
    moves: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # job -> promotions and rollbacks
    curves: list[dict[str, Any]] = field(default_factory=list)
    decisions: list[dict[str, Any]] = field(default_factory=list)
    plan: list[dict[str, Any]] | None = None  # next due triggers, when a jobs folder is there
    plan_error: str | None = None
    audit: dict[str, Any] = field(default_factory=dict)
    roi: list[dict[str, Any]] = field(default_factory=list)


def _runs(conn: Any) -> list[dict[str, Any]]:
    r = RunRow.__table__.c  # type: ignore[attr-defined]
    stmt = select(r.id, r.job_name, r.provider, r.state, r.created_at, r.submitted_at, r.finished_at,
                  r.estimate_microusd, r.cost_microusd, r.model_id, r.trigger).order_by(r.created_at.desc(), r.id)
    out = []
    for row in conn.execute(stmt):
        start = row.submitted_at or row.created_at
        seconds = (row.finished_at - start).total_seconds() if row.finished_at and start else None
        out.append({"id": row.id, "job": row.job_name, "provider": row.provider, "state": row.state,
                    "created_at": row.created_at, "duration_s": seconds, "estimate": row.estimate_microusd,
                    "cost": row.cost_microusd, "model": row.model_id, "trigger": row.trigger})
    return out


def _spend(runs: list[dict[str, Any]]) -> dict[str, dict[str, int]]:
    spend: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for run in runs:
        if run["cost"] is not None:
            spend[f"{run['created_at']:%Y-%m}"][run["provider"]] += run["cost"]
    return {m: dict(p) for m, p in sorted(spend.items())}


def _budgets(conn: Any, runs: list[dict[str, Any]], now: datetime) -> list[dict[str, Any]]:
    """Each job's monthly budget (from its newest run's spec) against what it spent this month."""
    r = RunRow.__table__.c  # type: ignore[attr-defined]
    newest = select(r.job_name, func.max(r.created_at).label("at")).group_by(r.job_name).subquery()
    stmt = select(r.job_name, r.spec_json).join(
        newest, (r.job_name == newest.c.job_name) & (r.created_at == newest.c.at))
    month = f"{now:%Y-%m}"
    spent: dict[str, int] = defaultdict(int)
    for run in runs:
        if run["cost"] is not None and f"{run['created_at']:%Y-%m}" == month:
            spent[run["job"]] += run["cost"]
    out, seen = [], set()
    for job, spec_json in conn.execute(stmt):
        if job in seen:
            continue
        seen.add(job)
        budget = (json.loads(spec_json).get("budget") or {}).get("per_month_usd")
        out.append({"job": job, "per_month": None if budget is None else round(budget * 1_000_000),
                    "spent": spent.get(job, 0)})
    return sorted(out, key=lambda b: b["job"])


def _evals(conn: Any) -> dict[str, list[dict[str, Any]]]:
    e = EvalRunRow.__table__.c  # type: ignore[attr-defined]
    stmt = select(e.id, e.job_name, e.model, e.model_kind, e.scores, e.created_at).order_by(e.created_at)
    out: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in conn.execute(stmt):
        out[row.job_name or "(no job)"].append({"id": row.id, "model": row.model, "kind": row.model_kind,
                                                "scores": json.loads(row.scores), "at": row.created_at})
    return dict(out)


def _moves(conn: Any) -> dict[str, list[dict[str, Any]]]:
    ht, at, mt = (t.__table__ for t in (AliasHistoryRow, AliasRow, ModelRow))  # type: ignore[attr-defined]
    h, a, m = ht.c, at.c, mt.c
    stmt = (select(a.job_name, a.name, h.action, h.at, m.provider_model_id, h.reason).select_from(ht)
            .join(at, a.id == h.alias_id).join(mt, m.id == h.model_pk).order_by(h.id))
    out: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in conn.execute(stmt):
        out[row.job_name].append({"alias": f"{row.job_name}@{row.name}", "action": row.action, "at": row.at,
                                  "model": row.provider_model_id, "reason": row.reason})
    return dict(out)


def _curves(store: Store, runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    from tuneops.runs.curves import detect_overfitting, series
    from tuneops.store.lifecycle_tables import MetricPointRow

    p = MetricPointRow.__table__.c  # type: ignore[attr-defined]

    newest: dict[str, str] = {}
    for run in runs:  # newest first
        if run["state"] == "succeeded" and run["job"] not in newest and len(newest) < CURVE_JOBS:
            newest[run["job"]] = run["id"]
    out = []
    with store.engine.connect() as conn:
        for job, run_id in newest.items():
            # Plain rows, not ORM objects: a long run has tens of thousands of points.
            points = conn.execute(select(p.step, p.train_loss, p.valid_loss).where(p.run_id == run_id)
                                  .order_by(p.step)).all()
            if not points:
                continue
            out.append({"job": job, "run": run_id, "train": series(points, "train_loss"),
                        "valid": series(points, "valid_loss"), "verdict": detect_overfitting(points)})
    return out


def _decisions(conn: Any) -> list[dict[str, Any]]:
    d = DecisionRow.__table__.c  # type: ignore[attr-defined]
    stmt = select(d.job_name, d.outcome, d.rule, d.reason, d.recorded_at, d.last_fired_at).order_by(d.job_name)
    return [dict(row._mapping) for row in conn.execute(stmt)]


def _plan(store: Store, jobs_dir: Path) -> list[dict[str, Any]]:
    from datetime import timedelta

    from tuneops.scheduler.context import SchedulerContext
    from tuneops.scheduler.plan import plan

    ctx = SchedulerContext(store=store, jobs_dir=jobs_dir, ttl=timedelta(seconds=300))
    try:
        return [j.as_dict() for j in plan(ctx, estimates=False).jobs]
    finally:
        ctx.close()


def _audit(store: Store) -> dict[str, Any]:
    from tuneops.audit.verification import verify

    report = verify(store, workers=1)
    return {"ok": report.ok, "events": report.events, "head_seq": report.head_seq, "head_hash": report.head_hash,
            "first_bad_seq": report.first_bad_seq, "problem": report.problem}


def _roi(store: Store) -> list[dict[str, Any]]:
    from tuneops import roi
    from tuneops.errors import TuneopsError

    out = []
    with store.read() as s:
        aliases = sorted(s.exec(select(AliasRow)).scalars(),  # type: ignore[call-overload]
                         key=lambda a: (a.job_name, a.name))
        for a in aliases:
            alias = f"{a.job_name}@{a.name}"
            try:
                out.append(roi.for_model(s, s.get(ModelRow, a.model_pk), alias).as_dict())
            except TuneopsError as exc:  # no [economics]: say so on the page rather than leave it out
                out.append({"alias": alias, "error": str(exc)})
    return out


def gather(store: Store, *, jobs_dir: Path | None = None, now: datetime | None = None) -> Dashboard:
    """Read everything the report shows; ``jobs_dir`` adds the scheduler's next due triggers."""
    from tuneops.clock import utcnow
    from tuneops.errors import TuneopsError

    board = Dashboard(generated_at=now or utcnow())
    with store.engine.connect() as conn:
        board.runs = _runs(conn)
        board.spend = _spend(board.runs)
        board.budgets = _budgets(conn, board.runs, board.generated_at)
        board.evals = _evals(conn)
        board.moves = _moves(conn)
        board.decisions = _decisions(conn)
    board.curves = _curves(store, board.runs)
    if jobs_dir is not None and jobs_dir.is_dir():
        try:
            board.plan = _plan(store, jobs_dir)
        except TuneopsError as exc:
            board.plan_error = str(exc)
    board.audit = _audit(store)
    board.roi = _roi(store)
    return board
