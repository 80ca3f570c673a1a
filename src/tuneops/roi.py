"""Does a fine-tune pay for itself, and when? Monthly cost with and without it, savings per request,
the break-even request count and date, and the quality delta with its interval.

Every input carries its source (the ledger, the pricing catalog, the spec's [economics], a
measurement on the eval set). Money is integer micro-dollars; per-request amounts are kept exact
(fractions) until they are shown. An input nobody knows (an unsourced price, an unmeasured token
count) makes everything that depends on it unknown, never zero.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from fractions import Fraction
from typing import Any

from sqlalchemy import select
from sqlmodel import Session

from tuneops.errors import TuneopsError
from tuneops.evals import pricing
from tuneops.spec import EconomicsSection, JobSpec
from tuneops.store.eval_tables import EvalRunRow
from tuneops.store.tables import ModelRow, RunRow

MICRO = 1_000_000


class MissingEconomics(TuneopsError):
    """The job spec says nothing about traffic, so there is nothing to weigh the fine-tune against."""

    exit_code = 2

DAYS_PER_MONTH = Fraction(36525, 1200)  # 30.4375: a mean calendar month


@dataclass(frozen=True)
class Input:
    """One number the verdict rests on, with where it came from (value None = unknown)."""

    name: str
    value: Any
    source: str


@dataclass(frozen=True)
class Economics:
    """Everything ``compute`` needs, each a known number or None (unknown)."""

    requests_per_month: int
    training_microusd: int | None
    eval_microusd: int | None
    base_tokens_in: Fraction | None  # per request, measured, before the replaced prompt is added
    base_tokens_out: Fraction | None
    ft_tokens_in: Fraction | None
    ft_tokens_out: Fraction | None
    replaced_prompt_tokens: int
    base_price_in: int | None  # micro-dollars per 1M tokens
    base_price_out: int | None
    ft_price_in: int | None
    ft_price_out: int | None
    hosting_microusd_per_hour: int | None
    hosting_hours_per_month: Fraction
    delta: float | None = None  # quality: fine-tuned minus base pass rate
    value_per_correct_microusd: int | None = None  # None: quality is not given a price


@dataclass
class Verdict:
    """The answer: costs per month, savings, break-even, quality; None where an input is unknown."""

    per_request_base: Fraction | None
    per_request_ft: Fraction | None
    value_per_request: Fraction | None
    savings_per_request: Fraction | None
    hosting_per_month: Fraction | None
    monthly_without: int | None
    monthly_with: int | None
    monthly_savings: int | None
    upfront_microusd: int | None
    break_even_requests: int | None
    break_even_months: Fraction | None
    pays_off: bool | None  # None: unknown; False: never at this traffic


def usd(micro: Any) -> str:
    """Micro-dollars as dollars, to the micro-dollar below a cent; None is "unknown", never $0."""
    if micro is None:
        return "unknown"
    return f"${micro / MICRO:,.2f}" if abs(micro) >= 10_000 or micro == 0 else f"${micro / MICRO:,.6f}"


def _mul(*xs: Any) -> Any:
    out: Any = Fraction(1)
    for x in xs:
        if x is None:
            return None
        out *= x
    return out


def _add(*xs: Any) -> Any:
    return None if any(x is None for x in xs) else sum(xs, Fraction(0))


def _round(x: Fraction | None) -> int | None:
    return None if x is None else int(x.__round__())


def compute(e: Economics) -> Verdict:
    """The arithmetic of ROI, pure: unknown inputs make their results unknown."""
    per_mtok = Fraction(1, MICRO)
    base_in = _add(e.base_tokens_in, e.replaced_prompt_tokens) if e.base_tokens_in is not None else None
    per_base = _add(_mul(base_in, e.base_price_in, per_mtok), _mul(e.base_tokens_out, e.base_price_out, per_mtok))
    per_ft = _add(_mul(e.ft_tokens_in, e.ft_price_in, per_mtok), _mul(e.ft_tokens_out, e.ft_price_out, per_mtok))
    if e.value_per_correct_microusd is None:
        value = Fraction(0)
    else:
        delta = Fraction(e.delta).limit_denominator(10**9) if e.delta is not None else None  # k/n, exactly
        value = _mul(delta, e.value_per_correct_microusd)
    savings = _add(per_base, -per_ft if per_ft is not None else None, value)
    hosting = _mul(e.hosting_microusd_per_hour, e.hosting_hours_per_month)
    r = e.requests_per_month
    without = _mul(per_base, r)
    with_ft = _add(_mul(per_ft, r), hosting)
    monthly = _add(_mul(savings, r), -hosting if hosting is not None else None)
    upfront = _add(e.training_microusd, e.eval_microusd)
    requests = months = None
    pays: bool | None = None
    if monthly is not None and upfront is not None and savings is not None:
        pays = upfront == 0 or monthly > 0
        if upfront == 0:
            requests, months = 0, Fraction(0)
        elif monthly > 0:
            net = savings - (hosting or 0) / r  # monthly > 0 implies r > 0
            requests, months = math.ceil(upfront / net), upfront / monthly
    return Verdict(per_base, per_ft, value if e.value_per_correct_microusd is not None else None, savings,
                   hosting, _round(without), _round(with_ft), _round(monthly), _round(upfront), requests,
                   months, pays)


@dataclass
class Report:
    """ROI of one model: the inputs with sources, the verdict, the quality delta and the break-even date."""

    job: str
    model: str
    alias: str | None
    inputs: list[Input]
    verdict: Verdict
    delta: float | None
    interval: tuple[float, float] | None
    metric: str | None
    break_even_at: datetime | None
    notes: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        """JSON-able form (the shape of `tuneops roi --json`); money in micro-dollars, None = unknown."""
        v = self.verdict

        def micro(x: Fraction | None) -> float | None:
            return None if x is None else round(float(x), 6)

        return {"job": self.job, "model": self.model, "alias": self.alias,
                "inputs": [{"name": i.name, "value": i.value, "source": i.source} for i in self.inputs],
                "cost_per_request_base_microusd": micro(v.per_request_base),
                "cost_per_request_fine_tuned_microusd": micro(v.per_request_ft),
                "value_per_request_microusd": micro(v.value_per_request),
                "savings_per_request_microusd": micro(v.savings_per_request),
                "hosting_per_month_microusd": _round(v.hosting_per_month),
                "monthly_cost_without_microusd": v.monthly_without, "monthly_cost_with_microusd": v.monthly_with,
                "monthly_savings_microusd": v.monthly_savings, "upfront_microusd": v.upfront_microusd,
                "break_even_requests": v.break_even_requests,
                "break_even_months": micro(v.break_even_months),
                "break_even_at": self.break_even_at, "pays_off": v.pays_off,
                "quality": {"metric": self.metric, "delta": self.delta,
                            "ci": list(self.interval) if self.interval else None},
                "notes": self.notes}


# -- gathering inputs from the ledger --------------------------------------------------------------

def resolve(session: Session, ref: str) -> tuple[ModelRow, str | None]:
    """The model ``ref`` names (an alias, model or run, or a job: its promoted model, else its newest)."""
    from tuneops import models
    from tuneops.runs.orchestrator import spec_of

    model = models.find_model(session, ref)
    if model is not None:
        alias = models.find_alias(session, ref) if "@" in ref else None
        return model, models.alias_name(alias.job_name, alias.name) if alias else None
    newest = session.exec(select(ModelRow).where(ModelRow.job_name == ref)  # type: ignore[call-overload]
                          .order_by(ModelRow.created_at.desc())).scalars().first()  # type: ignore[attr-defined]
    if newest is None:
        raise models.ModelNotFound(f"no job, alias or model {ref!r} with a fine-tuned model in this ledger; "
                                   "`tuneops models list` shows them")
    run = session.get(RunRow, newest.run_id)
    rule = spec_of(run).promote if run is not None else None
    if rule is not None and (held := models.holder(session, ref, rule.alias)) is not None:
        return held, models.alias_name(ref, rule.alias)
    return newest, None


def _measured(session: Session, provider: str, model: str, set_sha256: str | None) -> EvalRunRow | None:
    """The eval of ``model`` that asked the model (not the cache), so its tokens are per-request numbers."""
    stmt = (select(EvalRunRow).where(EvalRunRow.provider == provider, EvalRunRow.model == model,
                                     EvalRunRow.inference_calls > 0)
            .order_by(EvalRunRow.created_at.desc()))  # type: ignore[attr-defined]
    if set_sha256 is not None:
        stmt = stmt.where(EvalRunRow.set_sha256 == set_sha256)
    return session.exec(stmt.limit(1)).scalars().first()  # type: ignore[call-overload]


def _latest(session: Session, provider: str, model: str, set_sha256: str | None = None) -> EvalRunRow | None:
    stmt = (select(EvalRunRow).where(EvalRunRow.provider == provider, EvalRunRow.model == model)
            .order_by(EvalRunRow.created_at.desc()))  # type: ignore[attr-defined]
    if set_sha256 is not None:
        stmt = stmt.where(EvalRunRow.set_sha256 == set_sha256)
    return session.exec(stmt.limit(1)).scalars().first()  # type: ignore[call-overload]


def _tokens(row: EvalRunRow | None, who: str, inputs: list[Input]) -> tuple[Fraction | None, Fraction | None]:
    if row is None:
        inputs.append(Input(f"{who} tokens per request", None, f"unknown: {who} model never asked on the eval set"))
        return None, None
    tin, tout = Fraction(row.input_tokens, row.inference_calls), Fraction(row.output_tokens, row.inference_calls)
    where = f"measured: eval {row.id} ({row.inference_calls} calls on {row.set_path})"
    inputs.append(Input(f"{who} tokens per request (in / out)", [round(float(tin), 1), round(float(tout), 1)], where))
    return tin, tout


def _price(provider: str, model: str, method: str, label: str, inputs: list[Input]) -> int | None:
    entry = pricing.price(provider, model, method)
    if entry is None:
        inputs.append(Input(label, None, f"unknown: no {method} price for {provider} {model} in the catalog"))
        return None
    source = f"catalog: {entry.source} (checked {entry.checked})"
    inputs.append(Input(label, entry.microusd_per_mtok, source if entry.microusd_per_mtok is not None
                        else f"unknown: {source}"))
    return entry.microusd_per_mtok


@functools.lru_cache(maxsize=64)
def _needs_deployment(provider: str) -> bool:
    from tuneops import registry

    try:
        caps = registry.capabilities(provider)
    except Exception:
        return True
    return bool(getattr(caps, "needs_deployment", True))


def _economics(spec: JobSpec, where: str) -> EconomicsSection:
    if spec.economics is None:
        raise MissingEconomics(f"{where} has no [economics] section; add `[economics]` with `requests_per_month = N` "
                           "(and `replaced_prompt_tokens`, `value_per_correct_usd`) to weigh the fine-tune")
    return spec.economics


def report(session: Session, ref: str) -> Report:
    """ROI of the model ``ref`` names, from the ledger, the catalog and its run's spec [economics]."""
    model, alias = resolve(session, ref)
    return for_model(session, model, alias)


def for_model(session: Session, model: ModelRow, alias: str | None = None) -> Report:
    """ROI of one model (``alias``: the alias it is shown under, if any)."""
    from tuneops.evals.compare import compare
    from tuneops.runs.orchestrator import spec_of

    run = session.get(RunRow, model.run_id)
    if run is None:
        raise TuneopsError(f"model {model.provider_model_id} has no run in this ledger; ROI needs its costs")
    spec = spec_of(run)
    econ = _economics(spec, f"the spec of run {run.id} ({run.spec_path})")
    where = f"spec: {run.spec_path} [economics]"
    inputs = [Input("requests per month", econ.requests_per_month, where)]
    notes: list[str] = []
    inputs.append(Input("training cost (USD micro)", run.cost_microusd,
                        f"ledger: run {run.id}" if run.cost_microusd is not None
                        else f"unknown: run {run.id} has no priced cost"))
    cand = _latest(session, model.provider, model.provider_model_id)
    base = _latest(session, model.provider, model.base_model, cand.set_sha256) if cand is not None else None
    evals = [r for r in (cand, base) if r is not None]
    eval_cost = None if any(r.cost_microusd is None for r in evals) else sum(r.cost_microusd or 0 for r in evals)
    inputs.append(Input("eval cost (USD micro)", eval_cost, "ledger: evals " + ", ".join(r.id for r in evals)
                        if evals else "ledger: no evals"))
    delta = interval = metric = None
    if cand is not None and base is not None:
        metric = spec.promote.metric if spec.promote is not None else None
        cmp = compare(session, base.id, cand.id, metric=metric)
        delta, interval, metric = cmp.delta, (cmp.interval.low, cmp.interval.high), cmp.metric
        inputs.append(Input(f"quality delta ({metric})", round(delta, 4),
                            f"ledger: eval compare {base.id} {cand.id} ({cmp.interval.method})"))
    else:
        notes.append("no eval of both the base and the fine-tuned model on one set: quality delta unknown")
    set_sha = cand.set_sha256 if cand is not None else None
    base_in, base_out = _tokens(_measured(session, model.provider, model.base_model, set_sha), "base", inputs)
    ft_in, ft_out = _tokens(_measured(session, model.provider, model.provider_model_id, set_sha), "fine-tuned",
                            inputs)
    inputs.append(Input("replaced prompt tokens", econ.replaced_prompt_tokens, where))
    prices = [_price(model.provider, m, method, f"{who} price {kind} (USD micro / 1M tokens)", inputs)
              for who, m in (("base", model.base_model), ("fine-tuned", model.base_model))
              for kind, method in (("in", pricing.INPUT), ("out", pricing.OUTPUT))]
    if _needs_deployment(model.provider):
        hosting = _price(model.provider, model.base_model, pricing.HOSTING, "hosting (USD micro / hour)", inputs)
    else:
        hosting = 0
        inputs.append(Input("hosting (USD micro / hour)", 0, f"provider: {model.provider} serves fine-tuned "
                                                             "models without a deployment"))
    value = None
    if econ.value_per_correct_usd is not None:
        value = round(econ.value_per_correct_usd * MICRO)
        inputs.append(Input("value per correct answer (USD micro)", value, where))
    else:
        notes.append("quality is not priced: set [economics] value_per_correct_usd to count it")
    e = Economics(econ.requests_per_month, run.cost_microusd, eval_cost, base_in, base_out, ft_in, ft_out,
                  econ.replaced_prompt_tokens, *prices, hosting,
                  Fraction(econ.hosting_hours_per_month).limit_denominator(1000), delta, value)
    verdict = compute(e)
    at = None
    if verdict.break_even_months is not None:
        at = model.created_at + timedelta(days=float(verdict.break_even_months * DAYS_PER_MONTH))
    return Report(model.job_name, model.provider_model_id, alias, inputs, verdict, delta, interval, metric, at,
                  notes)
