"""Triggers: pure functions of a job's facts and the time, each saying fire or skip, why, and the fire key.

A fire key names the condition that fired (``eval:<eval id>``, ``data:<examples digest>``,
``cron:<slot>``, ``age:<model id>``, ``shutdown:<base model>``); the ledger holds each key once per
job, so the same condition never starts two retrains. ``decide`` combines a job's verdicts with the
gates every retrain passes (runs in flight, cooldown); ``with_budget`` adds the month's budget.
Nothing here reads a clock, a file or the database.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any, Protocol

from tuneops.scheduler.facts import JobFacts
from tuneops.scheduler.policy import RetrainRules

MAX_MISSED = 1000  # counting missed cron slots stops here (a per-minute cron after a long outage)


@dataclass(frozen=True, slots=True)
class Verdict:
    """One trigger's conclusion: fire or skip, the reason in words, a stable code, and the fire key."""

    rule: str
    fire: bool
    reason: str
    code: str
    fire_key: str | None = None
    needs_eval: bool = False  # the eval trigger waits for the alias holder to be scored again
    slot: datetime | None = None  # the cron slot a cron verdict is about
    # When this (skip) verdict could change with nothing else changing: the next cron slot, the day a
    # model reaches its age limit. None: not by the passing of time alone.
    recheck_at: datetime | None = None


@dataclass(frozen=True)
class Decision:
    """What the scheduler concludes for one job on one tick."""

    job: str
    fire: bool
    why: str  # the reason in words; empty for a plain skip, whose reason is its verdicts' (see reason)
    code: str  # stable summary (no numbers): a skip is recorded again only when this changes
    rule: str | None = None
    fire_key: str | None = None
    verdicts: tuple[Verdict, ...] = ()
    gate: str | None = None  # what held a firing trigger back: in-flight, cooldown, budget
    estimate_microusd: int | None = None
    already: frozenset[str] = frozenset()  # fire keys of these verdicts that fired before
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def reason(self) -> str:
        """Why, in words (a skip's is put together only when someone reads it: most never are)."""
        if self.why:
            return self.why
        return "; ".join(f"{v.reason} (already fired as {v.fire_key})" if v.fire and v.fire_key in self.already
                         else v.reason for v in self.verdicts)

    @property
    def outcome(self) -> str:
        """"fire" or "skip"."""
        return "fire" if self.fire else "skip"


class Trigger(Protocol):
    """A retrain rule: a pure function of a job's facts and the time."""

    rule: str

    def evaluate(self, facts: JobFacts, now: datetime) -> Verdict:
        """Fire or skip, with the reason and (when firing) the fire key."""
        ...


def _ago(delta: timedelta) -> str:
    s = int(delta.total_seconds())
    if s >= 2 * 86400:
        return f"{s / 86400:.1f} days"
    if s >= 2 * 3600:
        return f"{s / 3600:.1f} h"
    return f"{s // 60} min"


def _at(t: datetime) -> str:
    return t.strftime("%Y-%m-%d %H:%M")


@lru_cache(maxsize=4096)
def _slots(expr: str, minute: datetime) -> tuple[datetime, datetime]:
    # Jobs share a handful of cron expressions, so a tick over thousands computes each pair once.
    from croniter import croniter

    latest = croniter(expr, minute + timedelta(minutes=1)).get_prev(datetime)
    return latest, croniter(expr, minute).get_next(datetime)


def latest_slot(expr: str, now: datetime) -> datetime:
    """The latest slot of a cron expression at or before ``now`` (minute resolution, UTC)."""
    return _slots(expr, now.replace(second=0, microsecond=0))[0]


def next_slot(expr: str, now: datetime) -> datetime:
    """The first slot after ``now``."""
    return _slots(expr, now.replace(second=0, microsecond=0))[1]


def slots_between(expr: str, after: datetime, until: datetime, cap: int = MAX_MISSED) -> int:
    """How many slots fall in ``(after, until]`` (counting stops at ``cap``)."""
    from croniter import croniter

    it = croniter(expr, after)
    n = 0
    while n < cap and it.get_next(datetime) <= until:
        n += 1
    return n


@lru_cache(maxsize=4096)
def _waiting(expr: str, minute: datetime) -> Verdict:
    # The verdict most cron jobs get most minutes: the same object for every job on this schedule.
    latest, upcoming = _slots(expr, minute)
    return Verdict("cron", False, f"cron {expr}: next slot {_at(upcoming)}", "cron:wait", slot=latest,
                   recheck_at=upcoming)


@dataclass(frozen=True)
class CronTrigger:
    """Fire at every slot of a cron schedule unless a retrain already started since that slot.

    After downtime the missed slots coalesce into one catch-up fire (``misfire = "coalesce"``), or
    a slot missed by more than the grace period is dropped (``misfire = "skip"``).
    """

    expr: str
    misfire: str = "coalesce"
    grace: timedelta = timedelta(hours=1)
    rule: str = "cron"

    def evaluate(self, facts: JobFacts, now: datetime) -> Verdict:
        """Fire for the latest slot at or before ``now`` that no retrain has covered."""
        slot = latest_slot(self.expr, now)
        mem = facts.memory
        anchors = [now] if mem is None else [t for t in (mem.first_seen_at, mem.last_fired_at,
                                                         mem.last_cron_slot) if t is not None]
        anchor = max(anchors)
        if slot <= anchor:
            return _waiting(self.expr, now.replace(second=0, microsecond=0))
        late = now - slot
        missed = slots_between(self.expr, anchor, slot) if mem is not None else 1
        if late > self.grace and self.misfire == "skip":
            return Verdict(self.rule, False, f"cron {self.expr}: slot {_at(slot)} missed by {_ago(late)} (more than "
                           f"the {_ago(self.grace)} grace; misfire = \"skip\"); next slot "
                           f"{_at(next_slot(self.expr, now))}", "cron:missed", slot=slot,
                           recheck_at=next_slot(self.expr, now))
        reason = f"cron {self.expr}: slot {_at(slot)}"
        if missed > 1 or late > self.grace:
            more = "+" if missed >= MAX_MISSED else ""
            reason += f" (one catch-up run for {missed}{more} missed slot(s) since {_at(anchor)})"
        return Verdict(self.rule, True, reason, "cron:due", f"cron:{slot:%Y-%m-%dT%H:%M}Z", slot=slot)


@dataclass(frozen=True)
class EvalScoreTrigger:
    """Fire when the current model's latest eval (with enough examples) scores below a threshold."""

    threshold: float
    metric: str
    min_examples: int = 1
    reeval: bool = True
    rule: str = "eval"

    def evaluate(self, facts: JobFacts, now: datetime) -> Verdict:
        """Fire on an eval below the threshold; ask for a fresh eval when the eval set changed."""
        model, ev = facts.model, facts.eval
        if model is None:
            return Verdict(self.rule, False, "eval: no model to score yet", "eval:no-model")
        if ev is None:
            return Verdict(self.rule, False, f"eval: {model.provider_model_id} has no eval yet", "eval:none",
                           needs_eval=self.reeval and facts.eval_set_sha256 is not None)
        if facts.eval_stale and self.reeval:
            return Verdict(self.rule, False, f"eval: the eval set changed since eval {ev.id}; the model is "
                           "scored again first", "eval:stale", needs_eval=True)
        if ev.examples < self.min_examples:
            return Verdict(self.rule, False, f"eval: eval {ev.id} has {ev.examples} examples, fewer than the "
                           f"{self.min_examples} retrain.min_eval_examples asks for", "eval:small")
        score = ev.scores.get(self.metric)
        if score is None:
            return Verdict(self.rule, False, f"eval: eval {ev.id} has no {self.metric} score "
                           f"(it has {', '.join(ev.scores) or 'none'})", "eval:metric")
        what = f"{self.metric} {score:.4f} on eval {ev.id} ({ev.examples} examples)"
        if score < self.threshold:
            return Verdict(self.rule, True, f"eval: {what} is below {self.threshold:.4f}", "eval:below",
                           f"eval:{ev.id}")
        return Verdict(self.rule, False, f"eval: {what} is at or above {self.threshold:.4f}", "eval:ok")


@dataclass(frozen=True)
class DataFreshnessTrigger:
    """Fire when enough examples are new, or enough changed, since the current model's data snapshot."""

    new_examples: int | None = None
    changed_fraction: float | None = None
    rule: str = "data"

    def evaluate(self, facts: JobFacts, now: datetime) -> Verdict:
        """Compare the training file now with the snapshot of the current model."""
        data = facts.data
        if data is None:
            return Verdict(self.rule, False, f"data: {facts.data_problem or 'not checked'}", "data:unreadable")
        key = f"data:{data.digest}"
        if data.baseline == "none":
            if self.new_examples is not None and data.examples >= self.new_examples:
                return Verdict(self.rule, True, f"data: no model yet and {data.examples} examples (at least "
                               f"{self.new_examples})", "data:initial", key)
            if self.changed_fraction is not None and data.examples:
                return Verdict(self.rule, True, f"data: no model yet and {data.examples} examples", "data:initial",
                               key)
            return Verdict(self.rule, False, f"data: no model yet and only {data.examples} examples",
                           "data:too-few")
        how = "" if data.baseline == "snapshot" else " (by example count: the model's snapshot manifest is " \
            "not in this machine's snapshot cache)"
        parts = []
        fired = False
        if self.new_examples is not None and data.added is not None:
            hit = data.added >= self.new_examples
            fired |= hit
            parts.append(f"{data.added} new examples {'≥' if hit else '<'} {self.new_examples}")
        frac = data.changed_fraction
        if self.changed_fraction is not None:
            if frac is None:
                parts.append("changed fraction unknown")
            else:
                hit = frac >= self.changed_fraction
                fired |= hit
                parts.append(f"{frac:.1%} changed {'≥' if hit else '<'} {self.changed_fraction:.1%}")
        reason = f"data: {', '.join(parts)} since the model's snapshot{how}"
        if fired:
            return Verdict(self.rule, True, reason, "data:fresh", key)
        return Verdict(self.rule, False, reason, "data:below")


@dataclass(frozen=True)
class ModelAgeTrigger:
    """Fire when the current model is older than a maximum age."""

    max_age: timedelta
    rule: str = "age"

    def evaluate(self, facts: JobFacts, now: datetime) -> Verdict:
        """Fire once per model that outlived the maximum age."""
        model = facts.model
        if model is None:
            return Verdict(self.rule, False, "age: no model yet", "age:no-model")
        age = now - model.created_at
        what = f"age: {model.provider_model_id} is {_ago(age)} old"
        if age >= self.max_age:
            return Verdict(self.rule, True, f"{what}, at least the {_ago(self.max_age)} retrain.max_age_days allows",
                           "age:old", f"age:{model.id}")
        return Verdict(self.rule, False, f"{what} (limit {_ago(self.max_age)})", "age:young",
                       recheck_at=model.created_at + self.max_age)


@dataclass(frozen=True)
class BaseShutdownTrigger:
    """Fire when the current model's base model stops serving within a number of days."""

    within: timedelta
    rule: str = "shutdown"

    def evaluate(self, facts: JobFacts, now: datetime) -> Verdict:
        """Fire once per base model whose announced shutdown is near."""
        model = facts.model
        if model is None:
            return Verdict(self.rule, False, "shutdown: no model yet", "shutdown:no-model")
        when = model.base_shutdown_at
        if when is None:
            return Verdict(self.rule, False, f"shutdown: no shutdown date known for {model.base_model}",
                           "shutdown:none")
        left = when - now
        if left <= self.within:
            return Verdict(self.rule, True, f"shutdown: base model {model.base_model} stops serving on "
                           f"{when:%Y-%m-%d} (in {_ago(max(left, timedelta(0)))}); change model.base if the "
                           "retrain should move off it", "shutdown:near", f"shutdown:{model.base_model}")
        return Verdict(self.rule, False, f"shutdown: {model.base_model} serves until {when:%Y-%m-%d}",
                       "shutdown:far", recheck_at=when - self.within)


@lru_cache(maxsize=4096)
def triggers_for(rules: RetrainRules, metric: str | None) -> tuple[Trigger, ...]:
    """The triggers a [retrain] section configures, in priority order (the first that fires names the run)."""
    out: list[Trigger] = []
    if rules.shutdown_within_days is not None:
        out.append(BaseShutdownTrigger(timedelta(days=rules.shutdown_within_days)))
    if rules.eval_below is not None:
        out.append(EvalScoreTrigger(rules.eval_below, metric or "exact_match", rules.min_eval_examples, rules.reeval))
    if rules.new_examples is not None or rules.changed_fraction is not None:
        out.append(DataFreshnessTrigger(rules.new_examples, rules.changed_fraction))
    if rules.max_age_days is not None:
        out.append(ModelAgeTrigger(timedelta(days=rules.max_age_days)))
    if rules.cron is not None:
        out.append(CronTrigger(rules.cron, rules.misfire, timedelta(minutes=rules.misfire_grace_minutes)))
    return tuple(out)


def evaluate(facts: JobFacts, now: datetime) -> tuple[Verdict, ...]:
    """Every configured trigger's verdict for one job."""
    p = facts.policy
    if p.error is not None or p.retrain is None:
        return ()
    return tuple(t.evaluate(facts, now) for t in triggers_for(p.retrain, p.metric))


@lru_cache(maxsize=4096)
def _codes(codes: tuple[str, ...]) -> str:
    return "|".join(codes)


def decide(facts: JobFacts, verdicts: Sequence[Verdict], now: datetime, fired: Collection[str] = ()) -> Decision:
    """Combine a job's verdicts with the gates: a key that already fired, runs in flight, the cooldown."""
    p = facts.policy
    if p.error is not None:
        return Decision(p.name, False, f"the spec does not load: {p.error}", "spec:invalid")
    if p.retrain is None:
        return Decision(p.name, False, "no [retrain] section; the scheduler leaves this job alone", "no-policy")
    if p.problems:
        return Decision(p.name, False, "; ".join(p.problems), "spec:problem", verdicts=tuple(verdicts))
    if not verdicts:
        return Decision(p.name, False, "the [retrain] section sets no rule", "no-rule")
    verdicts = tuple(verdicts)
    if not any(v.fire for v in verdicts):  # the common case, every minute for most jobs: keep it cheap
        return Decision(p.name, False, "", _codes(tuple(v.code for v in verdicts)), verdicts=verdicts)
    firing = [v for v in verdicts if v.fire and v.fire_key not in fired]
    if not firing:
        codes = "|".join(f"{v.code}{'/fired' if v.fire else ''}" for v in verdicts)
        return Decision(p.name, False, "", codes, verdicts=verdicts, already=frozenset(fired))
    first = firing[0]
    rules = "+".join(v.rule for v in firing)
    if facts.in_flight:
        shown = ", ".join(facts.in_flight[:3]) + (" ..." if len(facts.in_flight) > 3 else "")
        return Decision(p.name, False, f"{first.reason}; waiting: {shown} not finished", f"in-flight:{rules}",
                        rule=first.rule, verdicts=tuple(verdicts), gate="in-flight")
    mem = facts.memory
    cooldown = timedelta(hours=p.retrain.cooldown_hours)
    if mem is not None and mem.last_fired_at is not None and now < mem.last_fired_at + cooldown:
        return Decision(p.name, False, f"{first.reason}; cooling down until {_at(mem.last_fired_at + cooldown)} "
                        f"(a retrain fired at {_at(mem.last_fired_at)}; retrain.cooldown_hours = "
                        f"{p.retrain.cooldown_hours:g})", f"cooldown:{rules}", rule=first.rule,
                        verdicts=tuple(verdicts), gate="cooldown")
    also = [v.reason for v in firing[1:]]
    reason = first.reason + (f"; also {'; '.join(also)}" if also else "")
    return Decision(p.name, True, reason, f"fire:{rules}", rule=first.rule, fire_key=first.fire_key,
                    verdicts=tuple(verdicts))


def with_budget(decision: Decision, estimate_microusd: int | None, spent_microusd: int,
                per_month_microusd: int | None, per_run_microusd: int | None) -> Decision:
    """Hold back a firing decision the budget cannot pay for (the same rule admission applies)."""
    from tuneops.economics import format_usd

    if not decision.fire:
        return decision
    decision = replace(decision, estimate_microusd=estimate_microusd)
    if per_month_microusd is None and per_run_microusd is None:
        return decision
    rules = decision.code.removeprefix("fire:")
    if estimate_microusd is None:
        return replace(decision, fire=False, gate="budget", code=f"budget:unknown-price:{rules}",
                       why=f"{decision.reason}; held back: the price is unknown, so the budget cannot be checked")
    if per_run_microusd is not None and estimate_microusd > per_run_microusd:
        return replace(decision, fire=False, gate="budget", code=f"budget:run:{rules}",
                       why=f"{decision.reason}; held back: estimated {format_usd(estimate_microusd)} is over "
                              f"budget.per_run_usd {format_usd(per_run_microusd)}")
    if per_month_microusd is not None and spent_microusd + estimate_microusd > per_month_microusd:
        return replace(decision, fire=False, gate="budget", code=f"budget:month:{rules}",
                       why=f"{decision.reason}; held back: {format_usd(spent_microusd)} spent this month + "
                              f"estimated {format_usd(estimate_microusd)} is over budget.per_month_usd "
                              f"{format_usd(per_month_microusd)}")
    return decision
