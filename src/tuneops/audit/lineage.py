"""Lineage of a model: model <- run <- dataset snapshot <- spec version <- actor, with what it cost,
how it scored, which aliases it held, and the audit events that recorded each step.

Evals and aliases come from the evals area (``tuneops.models``, ``tuneops.evals.ledger``); where
those are not installed the trail alone answers (``eval.completed`` and ``model.*`` events).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import String, cast, func, or_, select
from sqlmodel import Session

from tuneops.audit.query import event_dict
from tuneops.errors import TuneopsError
from tuneops.store.tables import AuditEventRow, ModelRow, RunRow, UploadRow


def detail_expr(session: Session, key: str) -> Any:
    """``details.<key>`` of an audit event as text, in the database's JSON dialect."""
    if session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import JSONB

        return cast(AuditEventRow.details, JSONB)[key].astext
    return cast(func.json_extract(AuditEventRow.details, f"$.{key}"), String)


class LineageNotFound(TuneopsError, LookupError):
    """Nothing in the ledger answers to the model or alias the user named."""

    exit_code = 2


@dataclass
class Lineage:
    """Everything the ledger knows about where one model came from."""

    ref: str
    model: ModelRow
    run: RunRow | None
    alias: str | None = None
    uploads: list[UploadRow] = field(default_factory=list)
    evals: list[dict[str, Any]] = field(default_factory=list)
    aliases: list[str] = field(default_factory=list)
    events: list[AuditEventRow] = field(default_factory=list)

    @property
    def spec(self) -> dict[str, Any]:
        """The exact job spec the run was admitted with."""
        return json.loads(self.run.spec_json) if self.run is not None else {}

    @property
    def total_cost_microusd(self) -> int:
        """Training plus eval cost, as far as known."""
        training = (self.run.cost_microusd or 0) if self.run is not None else 0
        return training + sum(e.get("cost_microusd") or 0 for e in self.evals)

    @property
    def admitted_by(self) -> AuditEventRow | None:
        """The audit event that admitted the run (who started it, when, with which spec and data)."""
        return next((e for e in self.events if e.action == "run.admitted"), None)

    def as_dict(self) -> dict[str, Any]:
        """JSON-able form (the shape of `tuneops lineage --json`)."""
        m, r = self.model, self.run
        spec = self.spec
        return {
            "ref": self.ref, "alias": self.alias, "aliases": self.aliases,
            "model": {"id": m.provider_model_id, "provider": m.provider, "job": m.job_name,
                      "base_model": m.base_model, "deployment": m.provider_deployment_id,
                      "created_at": m.created_at},
            "run": None if r is None else {
                "id": r.id, "state": r.state, "provider_job_id": r.provider_job_id, "trigger": r.trigger,
                "estimate_microusd": r.estimate_microusd, "cost_microusd": r.cost_microusd,
                "trained_tokens": r.trained_tokens, "created_at": r.created_at, "finished_at": r.finished_at},
            "dataset": None if r is None else {
                "train_sha256": r.train_sha256, "validation_sha256": r.validation_sha256,
                "examples": r.train_examples, "tokens": r.train_tokens,
                "uploads": [{"provider": u.provider, "provider_file_id": u.provider_file_id,
                             "sha256": u.sha256, "bytes": u.bytes} for u in self.uploads]},
            "spec": None if r is None else {
                "path": r.spec_path, "sha256": r.spec_sha256, "method": r.method, "base_model": r.base_model,
                "hyperparameters": spec.get("hyperparameters")},
            "actor": None if r is None else r.actor,
            "evals": self.evals,
            "total_cost_microusd": self.total_cost_microusd,
            "events": [event_dict(e) for e in self.events],
        }


def resolve(session: Session, ref: str, provider: str | None = None) -> tuple[ModelRow, str | None]:
    """The model ``ref`` names (model id, ``job@alias``, bare alias or run id) and the alias, if one."""
    try:
        from tuneops import models as modelsmod
    except ImportError:  # the evals area is not installed: models by id and run only
        modelsmod = None  # type: ignore[assignment]
    if modelsmod is not None:
        model = modelsmod.find_model(session, ref, provider)
        if model is not None:
            alias = None
            if model.provider_model_id != ref and not ref.startswith("run_"):
                found = modelsmod.find_alias(session, ref)
                alias = modelsmod.alias_name(found.job_name, found.name) if found else None
            return model, alias
    else:
        stmt = select(ModelRow).where(ModelRow.provider_model_id == ref)
        if provider:
            stmt = stmt.where(ModelRow.provider == provider)
        rows = list(session.execute(stmt).scalars())
        if len(rows) > 1:
            raise TuneopsError(f"model id {ref!r} exists at several providers; pass --provider")
        if rows:
            return rows[0], None
        if ref.startswith("run_"):
            row = session.execute(select(ModelRow).where(ModelRow.run_id == ref)).scalars().first()
            if row is not None:
                return row, None
    model = _from_trail(session, ref)
    if model is not None:
        return model, ref
    raise LineageNotFound(f"no model, alias or run {ref!r} in this ledger; `tuneops history` lists what "
                          "happened, `tuneops runs list` the runs and their model ids")


def _from_trail(session: Session, ref: str) -> ModelRow | None:
    """The model an alias was last moved to, according to the audit trail."""
    stmt = (select(AuditEventRow).where(AuditEventRow.subject_type == "alias", AuditEventRow.subject_id == ref,
                                        AuditEventRow.action.in_(("model.promoted", "model.rolled_back")))  # type: ignore
            .order_by(AuditEventRow.seq.desc()).limit(1))
    event = session.execute(stmt).scalars().first()
    if event is None:
        return None
    model_id = json.loads(event.details).get("model")
    return session.execute(select(ModelRow).where(ModelRow.provider_model_id == model_id)).scalars().first()


def trace(session: Session, ref: str, provider: str | None = None) -> Lineage:
    """The lineage of the model ``ref`` names."""
    model, alias = resolve(session, ref, provider)
    run = session.get(RunRow, model.run_id)
    lineage = Lineage(ref=ref, model=model, run=run, alias=alias)
    if run is not None:
        shas = [s for s in (run.train_sha256, run.validation_sha256) if s]
        lineage.uploads = list(session.execute(select(UploadRow).where(
            UploadRow.provider == run.provider, UploadRow.sha256.in_(shas))).scalars())  # type: ignore
    lineage.evals = _evals(session, model)
    lineage.aliases = _aliases(session, model)
    lineage.events = _events(session, model, run)
    return lineage


def _evals(session: Session, model: ModelRow) -> list[dict[str, Any]]:
    try:
        from tuneops.evals import ledger
    except ImportError:
        ledger = None  # type: ignore[assignment]
    if ledger is not None:
        rows = [r for r in ledger.list_evals(session, model=model.provider_model_id, limit=100)
                if r.provider == model.provider]
        return [{"eval_id": r.id, "eval_set": r.set_path, "set_sha256": r.set_sha256, "examples": r.examples,
                 "scores": ledger.scores(r), "cost_microusd": r.cost_microusd, "actor": r.actor,
                 "at": r.created_at} for r in rows]
    stmt = (select(AuditEventRow).where(AuditEventRow.action == "eval.completed",
                                        detail_expr(session, "model") == model.provider_model_id)
            .order_by(AuditEventRow.seq.desc()))
    out = []
    for e in session.execute(stmt).scalars():
        d = json.loads(e.details)
        out.append({"eval_id": e.subject_id, "eval_set": d.get("eval_set"), "set_sha256": d.get("dataset_sha256"),
                    "examples": d.get("examples_scored"), "scores": d.get("scores") or {},
                    "cost_microusd": d.get("cost_microusd"), "actor": e.actor, "at": e.at})
    return out


def _aliases(session: Session, model: ModelRow) -> list[str]:
    try:
        from tuneops.store.eval_tables import AliasRow
    except ImportError:
        return []
    rows = session.execute(select(AliasRow).where(AliasRow.model_pk == model.id)).scalars()
    return sorted(f"{a.job_name}@{a.name}" for a in rows)


def _events(session: Session, model: ModelRow, run: RunRow | None) -> list[AuditEventRow]:
    """Audit events of the run, its uploads, its model's evals and alias moves, in chain order."""
    about_model = detail_expr(session, "model") == model.provider_model_id
    conditions = [about_model, detail_expr(session, "provider_model_id") == model.provider_model_id]
    if run is not None:
        conditions += [AuditEventRow.subject_id == run.id, detail_expr(session, "run_id") == run.id]
    stmt = select(AuditEventRow).where(or_(*conditions)).order_by(AuditEventRow.seq)
    if model.job_name:
        # The job's index narrows the scan; every event of this lineage belongs to the model's job.
        stmt = stmt.where(AuditEventRow.job_name == model.job_name)
    return list(session.execute(stmt).scalars())
