"""Models and aliases: model records, resolving what a user names, the promotion gate, and alias moves
(promote, rollback) with their history and audit events.

An alias is ``<job>@<name>`` (``support-triage@production``) and points at one model. Its history
is replayed as a stack: a promotion pushes the new holder, a rollback pops back to the one before.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlmodel import Session

from tuneops import audit
from tuneops.clock import actor as default_actor
from tuneops.clock import utcnow
from tuneops.errors import TuneopsError
from tuneops.evals.runner import ModelTarget
from tuneops.runs import retire
from tuneops.store import Store, listings, queries
from tuneops.store.eval_tables import AliasHistoryRow, AliasRow
from tuneops.store.listings import ModelRecord
from tuneops.store.tables import ModelRow, RunRow

# The same rule as [promote] alias in a job spec.
_ALIAS_NAME = re.compile(r"[A-Za-z0-9._-]+")


class ModelNotFound(TuneopsError, LookupError):
    """Nothing in the ledger answers to the model, alias or run the user named."""

    exit_code = 2


# -- naming and resolving --------------------------------------------------------------------------

def alias_name(job: str, name: str) -> str:
    """The full name of an alias: ``job@name``."""
    return f"{job}@{name}"


def split_alias(ref: str, job: str | None = None) -> tuple[str | None, str]:
    """``job@name`` -> (job, name); a bare ``name`` keeps the given job (None = find it)."""
    if "@" in ref:
        j, _, n = ref.partition("@")
        return j, n
    return job, ref


def find_alias(session: Session, ref: str, job: str | None = None) -> AliasRow | None:
    """The alias ``job@name``, or a bare name held by exactly one job (TuneopsError if several)."""
    j, name = split_alias(ref, job)
    stmt = select(AliasRow).where(AliasRow.name == name)
    if j:
        stmt = stmt.where(AliasRow.job_name == j)
    rows = session.exec(stmt).scalars().all()  # type: ignore[call-overload]
    if len(rows) > 1:
        options = ", ".join(alias_name(r.job_name, r.name) for r in rows)
        raise TuneopsError(f"alias {ref!r} exists for several jobs ({options}); name it as job@alias")
    return rows[0] if rows else None


def target_for(session: Session, model: ModelRow) -> ModelTarget:
    """How to reach a fine-tuned model: its provider, the provider options of its run's spec, and the
    endpoint of its deployment while one serves it."""
    from tuneops.runs.deploy import serving_endpoint
    from tuneops.runs.orchestrator import spec_of

    run = session.get(RunRow, model.run_id)
    options = spec_of(run).options.get(model.provider, {}) if run is not None else {}
    return ModelTarget(provider=model.provider, model=model.provider_model_id, kind="fine-tuned",
                       options=options, job_name=model.job_name, run_id=model.run_id,
                       price_model=model.base_model, serve_as=serving_endpoint(session, model.run_id))


def find_model(session: Session, ref: str, provider: str | None = None) -> ModelRow | None:
    """The model a user named: an alias (``job@name`` or a unique bare name), a run id, or a model id."""
    if ref.startswith("run_"):
        run = queries.get_run(session, ref)
        model = queries.model_for_run(session, run.id)
        if model is None:
            raise ModelNotFound(f"run {run.id} has no model (it is {run.state}); "
                                "only a succeeded run produces one")
        return model
    stmt = select(ModelRow).where(ModelRow.provider_model_id == ref)
    if provider:
        stmt = stmt.where(ModelRow.provider == provider)
    rows = session.exec(stmt).scalars().all()  # type: ignore[call-overload]
    if len(rows) > 1:
        raise TuneopsError(f"model id {ref!r} exists at several providers; pass --provider")
    if rows:
        return rows[0]
    alias = find_alias(session, ref)
    return session.get(ModelRow, alias.model_pk) if alias is not None else None


def require_model(session: Session, ref: str, provider: str | None = None) -> ModelRow:
    """Like ``find_model`` but raises ModelNotFound with what to do."""
    model = find_model(session, ref, provider)
    if model is None:
        raise ModelNotFound(f"no model, alias or run {ref!r} in this ledger; `tuneops models list` shows them")
    return model


# -- listing ---------------------------------------------------------------------------------------

def list_models(session: Session, *, job: str | None = None, limit: int | None = None) -> list[ModelRecord]:
    """Fine-tuned models newest first with scores and aliases (``tuneops.store.listings.list_models``)."""
    from tuneops.store.sql import of_session

    return listings.list_models(of_session(session), job=job, limit=limit)


# -- the gate --------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Score:
    """One model's score on the gate's metric, with the eval it came from."""

    model: str
    value: float
    examples: int
    eval_id: str | None = None


@dataclass(frozen=True)
class GateResult:
    """Whether a candidate may take the alias; the first failed rule and every failure, with numbers."""

    passed: bool
    rule: str | None
    failures: list[str] = field(default_factory=list)

    @property
    def message(self) -> str:
        """Every failed rule, one clause each; "all rules passed" otherwise."""
        return "; ".join(self.failures) if self.failures else "all rules passed"


def check_gate(rule: Any, candidate: Score, holder: Score | None, base: Score | None,
               lifts: dict[str, Any] | None = None) -> GateResult:
    """Apply a spec's [promote] rule: enough examples, at least ``margin`` over the alias holder and,
    with ``beat_base``, at least ``margin`` over the base model; with ``significant``, the paired interval
    of each lift (``lifts``: "holder"/"base" -> stats.Interval of candidate minus it) above zero."""
    failures: list[tuple[str, str]] = []
    metric, margin = rule.metric, rule.margin
    if candidate.examples < rule.min_examples:
        failures.append(("min_examples", f"min_examples: the eval has {candidate.examples} example(s), "
                                         f"fewer than the {rule.min_examples} required"))
    if holder is not None and candidate.value < holder.value + margin - 1e-12:
        failures.append(("margin", f"margin: candidate {metric} {candidate.value:.4f} is not at least holder "
                                   f"{holder.model} {holder.value:.4f} + margin {margin:.4f} "
                                   f"= {holder.value + margin:.4f}"))
    if rule.beat_base:
        if base is None:
            failures.append(("beat_base", "beat_base: the base model was not evaluated"))
        elif candidate.value < base.value + margin - 1e-12:
            failures.append(("beat_base", f"beat_base: candidate {metric} {candidate.value:.4f} is not at least "
                                          f"base {base.model} {base.value:.4f} + margin {margin:.4f} "
                                          f"= {base.value + margin:.4f}"))
    if getattr(rule, "significant", False):
        for role, other in (("holder", holder), ("base", base if rule.beat_base else None)):
            iv = (lifts or {}).get(role)
            if other is not None and (iv is None or iv.low <= 0):
                bounds = f"[{iv.low:+.4f}, {iv.high:+.4f}]" if iv is not None else "not computed"
                failures.append(("significant", f"significant: the {role} lift's 95% interval {bounds} "
                                                f"does not lie above 0 ({metric})"))
    return GateResult(not failures, failures[0][0] if failures else None, [text for _, text in failures])


# -- moving aliases --------------------------------------------------------------------------------

@dataclass(frozen=True)
class AliasMove:
    """An alias after a promotion or rollback: who holds it now and who held it before."""

    alias: str
    model: str
    previous_model: str | None
    action: str
    at: datetime
    notes: list[str] = field(default_factory=list)  # what the move did to deployments (see runs.retire)


def holder(session: Session, job: str, name: str) -> ModelRow | None:
    """The model ``job@name`` points at, if the alias exists."""
    alias = find_alias(session, name, job)
    return session.get(ModelRow, alias.model_pk) if alias is not None else None


def history(session: Session, alias: AliasRow) -> list[AliasHistoryRow]:
    """Every move of an alias, oldest first."""
    stmt = select(AliasHistoryRow).where(AliasHistoryRow.alias_id == alias.id).order_by(AliasHistoryRow.id)
    return list(session.exec(stmt).scalars().all())  # type: ignore[call-overload]


def alias_moves(session: Session, ref: str) -> list[dict[str, Any]]:
    """An alias's history as JSON-able rows with model ids, oldest first."""
    alias = find_alias(session, ref)
    if alias is None:
        raise ModelNotFound(f"no alias {ref!r}; `tuneops models list` shows the aliases models hold")
    return [{"at": m.at, "action": m.action, "model": _model_id(session, m.model_pk),
             "previous_model": _model_id(session, m.previous_model_pk), "eval_id": m.eval_id,
             "reason": m.reason, "actor": m.actor} for m in history(session, alias)]


def _stack(moves: list[AliasHistoryRow]) -> list[int]:
    stack: list[int] = []
    for move in moves:
        if move.action == "rollback":
            stack.pop()
        else:
            stack.append(move.model_pk)
    return stack


def _model_id(session: Session, pk: int | None) -> str | None:
    row = session.get(ModelRow, pk) if pk is not None else None
    return row.provider_model_id if row is not None else None


def promote(store: Store, model_pk: int, name: str, *, reason: str = "", eval_id: str | None = None,
            details: dict[str, Any] | None = None, actor: str | None = None) -> AliasMove:
    """Point ``<model's job>@name`` at a model, keeping history and writing a ``model.promoted`` event."""
    if not _ALIAS_NAME.fullmatch(name):
        raise TuneopsError(f"alias name {name!r} is not valid; use letters, digits, '.', '_' or '-' "
                           "(like production or canary)")
    who, now = actor or default_actor(), utcnow()
    with store.write() as s:
        model = s.get(ModelRow, model_pk)
        if model is None:
            raise ModelNotFound(f"no model with id {model_pk}")
        alias = find_alias(s, name, model.job_name)
        previous = alias.model_pk if alias is not None else None
        full = alias_name(model.job_name, name)
        if previous == model.id:
            return AliasMove(full, model.provider_model_id, model.provider_model_id, "unchanged", now)
        if alias is None:
            alias = AliasRow(job_name=model.job_name, name=name, model_pk=model_pk, updated_at=now)
        alias.model_pk, alias.updated_at = model_pk, now
        s.add(alias)
        s.flush()
        s.add(AliasHistoryRow(alias_id=alias.id, action="promote", model_pk=model_pk,  # type: ignore[arg-type]
                              previous_model_pk=previous, eval_id=eval_id, reason=reason, actor=who, at=now))
        prev_id = _model_id(s, previous)
        audit.append(s, "model.promoted", "alias", full, job_name=model.job_name, actor=who, at=now, details={
            "alias": full, "model": model.provider_model_id, "provider": model.provider,
            "previous_model": prev_id, "run_id": model.run_id, "eval_id": eval_id, "reason": reason or None,
            **(details or {})})
        notes = retire.after_alias_move(s, alias=full, holder=model, replaced_pk=previous, now=now, actor=who)
    return AliasMove(full, model.provider_model_id, prev_id, "promote", now, notes)


def refuse(store: Store, model: ModelRow, name: str, gate: GateResult, *, details: dict[str, Any],
           actor: str | None = None) -> None:
    """Record that a candidate was refused the alias, naming the failed rule and the numbers."""
    full = alias_name(model.job_name, name)
    with store.write() as s:
        audit.append(s, "model.promotion_refused", "alias", full, job_name=model.job_name,
                     actor=actor or default_actor(), details={
                         "alias": full, "model": model.provider_model_id, "provider": model.provider,
                         "run_id": model.run_id, "rule": gate.rule, "reason": gate.message, **details})


def rollback(store: Store, ref: str, *, actor: str | None = None, reason: str = "") -> AliasMove:
    """Move an alias back to the holder before the current one (repeatable down its history)."""
    who, now = actor or default_actor(), utcnow()
    with store.write() as s:
        alias = find_alias(s, ref)
        if alias is None:
            raise ModelNotFound(f"no alias {ref!r}; `tuneops models list` shows the aliases models hold")
        full = alias_name(alias.job_name, alias.name)
        stack = _stack(history(s, alias))
        if len(stack) < 2:
            moves = history(s, alias)
            if len({m.model_pk for m in moves}) > 1:  # it held others, and was already rolled back past them
                raise TuneopsError(f"alias {full} has no previous holder left to roll back to: it holds "
                                   f"{_model_id(s, alias.model_pk)}, its first holder, after {len(moves)} moves "
                                   f"(`tuneops models history {full}`); promote a model to move it")
            raise TuneopsError(f"alias {full} has no previous holder to roll back to; it was only ever "
                               f"{_model_id(s, alias.model_pk)}")
        current, target = stack[-1], stack[-2]
        alias.model_pk, alias.updated_at = target, now
        s.add(alias)
        s.add(AliasHistoryRow(alias_id=alias.id, action="rollback", model_pk=target,  # type: ignore[arg-type]
                              previous_model_pk=current, reason=reason, actor=who, at=now))
        model_id, prev_id = _model_id(s, target), _model_id(s, current)
        audit.append(s, "model.rolled_back", "alias", full, job_name=alias.job_name, actor=who, at=now,
                     details={"alias": full, "model": model_id, "previous_model": prev_id,
                              "reason": reason or None})
        held = s.get(ModelRow, target)
        notes = retire.after_alias_move(s, alias=full, holder=held, replaced_pk=current, now=now,
                                        actor=who) if held is not None else []
    return AliasMove(full, model_id or "", prev_id, "rollback", now, notes)
