"""`tuneops schedule plan`: what a tick would decide for every job, why, what it would cost and what
the budget allows, without changing anything in the ledger (no fire, no decision, no eval, no run).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from tuneops.scheduler.context import SchedulerContext
from tuneops.scheduler.deciding import decisions_for
from tuneops.scheduler.facts import gather
from tuneops.scheduler.policy import JobPolicy, load_policies
from tuneops.scheduler.tick import estimate
from tuneops.scheduler.triggers import Decision, evaluate, with_budget
from tuneops.store.reader import of_store


@dataclass
class PlannedJob:
    """One job in the plan: its decision and each trigger's verdict, the cost of a retrain and the budget."""

    policy: JobPolicy
    decision: Decision
    estimate_microusd: int | None = None
    estimate_note: str = ""
    budget_month_microusd: int | None = None
    month_spent_microusd: int = 0
    remaining_microusd: int | None = None
    runs_allowed: int | None = None  # retrains at this estimate the rest of this month's budget pays for

    def as_dict(self) -> dict[str, Any]:
        """JSON-able form (the shape of `schedule plan --json`)."""
        d = self.decision
        return {
            "job": self.policy.name, "spec": self.policy.path, "decision": d.outcome, "rule": d.rule,
            "fire_key": d.fire_key, "reason": d.reason, "code": d.code, "gate": d.gate,
            "triggers": [{"rule": v.rule, "fire": v.fire, "reason": v.reason, "fire_key": v.fire_key}
                         for v in d.verdicts],
            "providers": list(self.policy.providers) if self.policy.error is None else [],
            "estimate_microusd": self.estimate_microusd, "estimate": self.estimate_note,
            "budget": {"per_month_microusd": self.budget_month_microusd,
                       "month_spent_microusd": self.month_spent_microusd,
                       "remaining_microusd": self.remaining_microusd, "runs_allowed": self.runs_allowed},
        }


@dataclass
class Plan:
    """The plan for every job spec in a directory."""

    jobs: list[PlannedJob] = field(default_factory=list)
    month_spent_microusd: int = 0

    @property
    def firing(self) -> list[PlannedJob]:
        """The jobs a tick would fire now."""
        return [j for j in self.jobs if j.decision.fire]


def plan(ctx: SchedulerContext, *, estimates: bool = True) -> Plan:
    """Decide for every job as a tick would, with cost estimates, but write nothing to the ledger."""
    now = ctx.clock()
    policies = load_policies(ctx.jobs_dir, ctx.cache, ctx.policy_memo)
    files, hashes = ctx.file_states()
    with of_store(ctx.store) as db:
        facts = gather(db, policies, now, ctx.cache, snapshot_dir=ctx.cache_dir, files=files, hashes=hashes)
        verdicts = {job: evaluate(f, now) for job, f in facts.jobs.items()}
        decisions = decisions_for(db, facts, verdicts)
    out = Plan(month_spent_microusd=facts.month_spent_microusd)
    spent = facts.month_spent_microusd  # grows with each job the plan fires, as a tick's admissions would
    for p in sorted(policies, key=lambda p: p.name):
        d = decisions[p.name]
        est, note = (None, "")
        if estimates and p.error is None and p.retrain is not None:
            est, note = estimate(p)
        d = with_budget(d, est, spent, p.budget_month_microusd, p.budget_run_microusd)
        remaining = None if p.budget_month_microusd is None else max(0, p.budget_month_microusd - spent)
        allowed = None
        if remaining is not None and est:
            allowed = remaining // est
        out.jobs.append(PlannedJob(p, d, est, note, p.budget_month_microusd, spent, remaining, allowed))
        if d.fire:
            spent += est or 0
    return out
