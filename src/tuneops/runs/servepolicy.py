"""What serving a run's model may do, decided before any provider call: the mode (the spec's ``[serve]``,
a flag, or the provider's per-token mode), whether hourly hosting was asked for, its price, and the
budget it must fit.

Hosting billed by the hour (``provisioned``, ``dedicated``) is never started unless the spec's ``[serve]``
names that mode or the caller passes ``yes_hourly``; with a ``[budget]`` its price and its end
(``[serve] auto_undeploy_after``) must be known, and the hours it may run count against the budget.
"""

from __future__ import annotations

import math
from typing import Any

from tuneops.errors import BudgetExceeded, TuneopsError
from tuneops.provider import HOURLY_MODES, DeployRequest, Provider
from tuneops.spec import JobSpec
from tuneops.store.tables import RunRow


class HourlyHostingRefused(TuneopsError):
    """Hosting billed by the hour was not asked for by the spec or the caller; nothing was started."""

    exit_code = 2


def deployment_name(run_id: str) -> str:
    """The provider-side name of a run's deployment (lowercase letters, digits, '-'; valid everywhere)."""
    return "tuneops-" + run_id.lower().replace("_", "-")


def serve_mode(spec: JobSpec, adapter: Provider, mode: str | None = None) -> str | None:
    """How a run's model is served: ``mode``, else the spec's ``[serve] mode``, else the provider's
    per-token mode when it needs a deployment; None when the model answers without one."""
    caps = adapter.capabilities
    chosen = mode or (spec.serve.mode if spec.serve is not None else None)
    if chosen == "none":
        return None
    needs = needs_deployment(spec, adapter)
    if chosen is None or (chosen == "on_demand" and "on_demand" not in caps.serve_modes):
        if not needs:
            return None  # answers directly, billed per token (e.g. Together serverless LoRA)
        per_token = [m for m in caps.serve_modes if m not in HOURLY_MODES]
        if per_token:
            return per_token[0]
        offered = ", ".join(caps.serve_modes) or "none"
        raise HourlyHostingRefused(
            f"{adapter.name} serves fine-tuned models only from hosting billed by the hour ({offered}); "
            f"set [serve] mode in the job spec or pass --mode MODE --yes-hourly to start it")
    if chosen not in caps.serve_modes:
        offered = ", ".join(caps.serve_modes) or "none (it serves fine-tuned models directly)"
        raise TuneopsError(f"{adapter.name} cannot serve in mode {chosen!r}; it offers: {offered}. "
                           "Change [serve] mode (or --mode)")
    return chosen


def needs_deployment(spec: JobSpec, adapter: Provider) -> bool:
    """Whether the model a spec trains answers only through a deployment at this provider."""
    hook = getattr(adapter, "needs_deployment_for", None)  # e.g. a full fine-tune where LoRA serves directly
    if callable(hook):
        return bool(hook(spec.provider_options(), spec.model.base))
    return adapter.capabilities.needs_deployment


def hourly_price(spec: JobSpec, adapter: Any, request: DeployRequest) -> int | None:
    """The hourly hosting price in micro-dollars before anything starts: 0 on demand, else the spec's
    ``[serve] hourly_usd`` (per unit of capacity), else what the adapter knows; None when unknown."""
    if request.mode not in HOURLY_MODES:
        return 0
    if spec.serve is not None and spec.serve.hourly_usd is not None:
        return round(spec.serve.hourly_usd * 1_000_000) * request.capacity
    price = getattr(adapter, "hosting_price", None)
    return price(request) if callable(price) else None


def check_hosting_budget(spec: JobSpec, run: RunRow, hourly: int | None, hours: float | None,
                         spent: int) -> int | None:
    """Refuse hourly hosting over the spec's budget; returns the hosting committed (micro-dollars)."""
    committed = None if hourly is None or hours is None else math.ceil(hourly * hours)
    per_run, per_month = spec.budget.per_run_microusd, spec.budget.per_month_microusd
    if hourly == 0 or (per_run is None and per_month is None):
        return committed
    from tuneops.economics import format_usd

    where = f"job {spec.name}, run {run.id}"
    if committed is None:
        why = ("its hourly price is unknown: set [serve] hourly_usd from the provider's price page"
               if hourly is None else "it has no end: set [serve] auto_undeploy_after (hours)")
        raise BudgetExceeded(f"{where}: hosting billed by the hour cannot be checked against [budget] because "
                             f"{why}; nothing was deployed")
    run_total = (run.cost_microusd or run.estimate_microusd or 0) + committed
    if per_run is not None and run_total > per_run:
        raise BudgetExceeded(f"{where}: training plus {hours:g} h of hosting at {format_usd(hourly)}/h is "
                             f"{format_usd(run_total)}, over budget.per_run_usd {format_usd(per_run)}; "
                             "nothing was deployed")
    if per_month is not None and spent + committed > per_month:
        raise BudgetExceeded(f"{where}: {hours:g} h of hosting at {format_usd(hourly)}/h ({format_usd(committed)}) "
                             f"plus {format_usd(spent)} spent this month is over budget.per_month_usd "
                             f"{format_usd(per_month)}; nothing was deployed")
    return committed
