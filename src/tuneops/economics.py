"""Economics: the pricing catalog, cost estimates per provider, budget checks and actual cost.

Money is integer micro-dollars everywhere; prices are parsed from decimal strings, never floats.
A price nobody could source is unknown (None) and shown as such; a spec with a budget and an
unknown price is refused rather than waved through. Every price says how sure it is: ``first-party``
(the provider's own page) or ``third-party`` (someone else's transcription; a budget check on it
passes with a warning). Together and Fireworks price by model size: the size comes from the
adapter's base-model list (tuneops.basemodels), and an unknown size leaves the price unknown.
"""

from __future__ import annotations

import fnmatch
import os
import tomllib
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tuneops.errors import BudgetExceeded, TuneopsError

if TYPE_CHECKING:  # annotations only: read commands price runs without building the spec models
    from tuneops.spec import JobSpec

BUILTIN = Path(__file__).parent / "data" / "pricing.toml"
MICRO = 1_000_000


CONFIDENCES = ("first-party", "third-party")
# Methods that price something other than training; a "*" entry never stands for them.
NON_TRAINING = ("infer_input", "infer_output", "hosting_hour")
# Providers that also bill the validation tokens of each evaluation during training (Together's n_evals).
BILLS_VALIDATION = {"together": "n_evals"}


@dataclass(frozen=True)
class Price:
    """One catalog entry: USD per 1M tokens (per hour for ``hosting_hour``), as integer micro-dollars
    (None = unknown), with its source, the date it was read and how sure it is."""

    provider: str
    model: str
    method: str
    microusd_per_mtok: int | None
    source: str
    checked: str
    note: str = ""
    origin: str = ""  # the catalog file it came from
    confidence: str = "first-party"
    min_params_b: float | None = None  # a size band (billions of parameters, inclusive)
    max_params_b: float | None = None
    training_type: str | None = None  # "lora" or "full" where the price depends on it

    @property
    def banded(self) -> bool:
        """True when this price applies to a model-size band only."""
        return self.min_params_b is not None or self.max_params_b is not None

    def matches(self, provider: str, model: str, method: str, *, params_b: float | None = None,
                training_type: str | None = None, names: tuple[str, ...] = ()) -> bool:
        """True when this entry applies to the provider, model (or one of its ``names``), method, size and type."""
        if self.provider not in ("*", provider):
            return False
        if self.method != method and not (self.method == "*" and method not in NON_TRAINING):
            return False
        if self.training_type is not None and self.training_type != (training_type or "lora"):
            return False
        if self.banded and (params_b is None or not ((self.min_params_b or 0) <= params_b
                                                      <= (self.max_params_b or float("inf")))):
            return False
        return any(fnmatch.fnmatchcase(n.lower(), self.model.lower()) for n in (model, *names))


@dataclass(frozen=True)
class Estimate:
    """What one run would cost at one provider, with the rule behind each number."""

    provider: str
    base_model: str
    method: str
    tokens: int
    epochs: int
    epochs_rule: str
    trained_tokens: int
    microusd: int | None  # None = price unknown
    price_source: str | None
    note: str = ""
    microusd_per_mtok: int | None = None
    time_s: int | None = None  # None = not known for this provider
    confidence: str | None = None  # of the price: first-party, third-party; None when unknown
    validation_tokens: int = 0  # validation tokens billed on top (Together: n_evals x validation set)
    hosting_microusd_per_hour: int | None = None  # serving the model, where it bills by the hour
    hosting_note: str = ""


def parse_usd(value: Any, where: str = "") -> int | None:
    """A decimal USD amount (string or TOML number) as integer micro-dollars; "unknown" is None."""
    if isinstance(value, str) and value.strip().lower() == "unknown":
        return None
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise TuneopsError(f"{where}: price must be a decimal string like \"3.00\" or \"unknown\"; got {value!r}")
    try:
        amount = Decimal(str(value).strip())
    except InvalidOperation:
        raise TuneopsError(f"{where}: price {value!r} is not a number; write it like \"3.00\" or \"unknown\"") from None
    if amount < 0 or not amount.is_finite():
        raise TuneopsError(f"{where}: price must be zero or more; got {value!r}")
    return int((amount * MICRO).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def _read(path: Path) -> list[Price]:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise TuneopsError(f"pricing file {path} does not exist; fix TUNEOPS_PRICING") from None
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise TuneopsError(f"pricing file {path} cannot be read: {exc}") from None
    prices = []
    for i, entry in enumerate(data.get("price", []), start=1):
        where = f"{path}: price #{i}"
        amount = entry.get("usd_per_mtok", entry.get("usd_per_hour")) if isinstance(entry, dict) else None
        if not isinstance(entry, dict) or "provider" not in entry or amount is None:
            raise TuneopsError(f"{where}: needs at least provider and usd_per_mtok (usd_per_hour for hosting)")
        confidence = str(entry.get("confidence", "first-party"))
        if confidence not in CONFIDENCES:
            raise TuneopsError(f"{where}: confidence must be one of {', '.join(CONFIDENCES)}; got {confidence!r}")
        prices.append(Price(
            provider=str(entry["provider"]), model=str(entry.get("model", "*")), method=str(entry.get("method", "*")),
            microusd_per_mtok=parse_usd(amount, where), source=str(entry.get("source", "")),
            checked=str(entry.get("checked", "")), note=str(entry.get("note", "")), origin=str(path),
            confidence=confidence, min_params_b=_float(entry.get("min_params_b"), where),
            max_params_b=_float(entry.get("max_params_b"), where),
            training_type=str(entry["training_type"]) if entry.get("training_type") else None))
    return prices


def _float(value: Any, where: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TuneopsError(f"{where}: a size bound must be a number of billions of parameters; got {value!r}")
    return float(value)


def override_path() -> Path | None:
    """The user's pricing file: ``$TUNEOPS_PRICING``, else ``pricing.toml`` in ``$TUNEOPS_HOME`` (``.tuneops``)."""
    env = os.environ.get("TUNEOPS_PRICING")
    if env:
        return Path(env)
    from tuneops.home import home

    candidate = home() / "pricing.toml"
    return candidate if candidate.is_file() else None


@lru_cache(maxsize=8)
def _catalog(override: str | None, mtime: float) -> tuple[Price, ...]:
    user = _read(Path(override)) if override else []
    return tuple(user + _read(BUILTIN))


def catalog() -> tuple[Price, ...]:
    """Every price entry, user overrides first, then the built-in catalog."""
    path = override_path()
    mtime = path.stat().st_mtime if path is not None and path.exists() else 0.0
    return _catalog(str(path) if path else None, mtime)


def price_for(provider: str, base_model: str, method: str, training_type: str | None = None) -> Price | None:
    """The first catalog entry that applies, or None when the catalog has nothing for it.

    The base model is also matched by its canonical id and aliases, and sized, through the provider's
    base-model list."""
    from tuneops.basemodels import lookup

    entry = lookup(provider, base_model) if provider != "*" else None
    names = entry.names() if entry else ()
    params_b = entry.params_b if entry else None
    for p in catalog():
        if p.matches(provider, base_model, method, params_b=params_b, training_type=training_type, names=names):
            return p
    return None


def training_type(spec: JobSpec, provider: str) -> str | None:
    """LoRA or full training, where the provider's price depends on it (its options say; LoRA by default)."""
    value = spec.options.get(provider, {}).get("training_type")
    return str(value).lower() if value else None


def validation_billed(spec: JobSpec, provider: str, validation_tokens: int) -> int:
    """Validation tokens the provider bills on top of training: Together's n_evals x the validation set."""
    if provider not in BILLS_VALIDATION or validation_tokens <= 0:
        return 0
    n_evals = spec.options.get(provider, {}).get(BILLS_VALIDATION[provider])
    return validation_tokens * (1 if n_evals is None else int(n_evals))


# -- epochs ------------------------------------------------------------------------------------------

_BEDROCK_EPOCHS = (("amazon.nova", 2), ("amazon.titan-text-premier", 2), ("amazon.titan-text", 5),
                   ("anthropic.claude-3-haiku", 2))


def openai_auto_epochs(examples: int) -> int:
    """The OpenAI cookbook's "auto" epochs: 3, raised for small sets, lowered for large ones (1-25)."""
    if examples <= 0:
        return 3
    if examples * 3 < 100:
        return min(25, 100 // examples)
    if examples * 3 > 25_000:
        return max(1, 25_000 // examples)
    return 3


def epochs_for(provider: str, base_model: str, examples: int, requested: int | str) -> tuple[int, str, bool]:
    """(epochs, the rule that gave them, whether the number is known rather than assumed)."""
    if isinstance(requested, int):
        return requested, "set in the spec", True
    if provider == "sandbox":
        return 3, "auto: the sandbox trains 3 epochs", True
    if provider in ("openai", "azure"):
        n = openai_auto_epochs(examples)
        return n, (f"auto: OpenAI cookbook rule for {examples:,} examples (3 epochs, more for small sets, fewer "
                   "for large; the server's own rule is unconfirmed)"), True
    if provider == "together":
        return 1, "auto: Together's default n_epochs is 1", True
    if provider == "local":
        return 3, "auto: the local provider trains 3 epochs", True
    if provider == "bedrock":
        m = base_model.lower()
        for prefix, n in _BEDROCK_EPOCHS:
            if m.startswith(prefix):
                return n, f"auto: Bedrock's default epochCount for {prefix} is {n}", True
    return 1, (f"auto: {provider}'s default epochs are not documented here; 1 epoch assumed (a lower bound); "
               "set hyperparameters.epochs for a firm estimate"), False


# -- estimates, budgets, actual cost -------------------------------------------------------------------

def cost_microusd(trained_tokens: int, microusd_per_mtok: int) -> int:
    """Cost of ``trained_tokens`` at a price per 1M tokens, rounded up to a whole micro-dollar."""
    return -(-trained_tokens * microusd_per_mtok // MICRO)


def estimate(spec: JobSpec, tokens: int, examples: int, provider: str, *, validation_tokens: int = 0) -> Estimate:
    """Tokens x epochs x price for ``spec`` at ``provider`` (tokens: training tokens per epoch), plus the
    validation tokens the provider bills (``validation_tokens``: the validation set's tokens)."""
    base = spec.model.base
    epochs, rule, known = epochs_for(provider, base, examples, spec.hyperparameters.epochs)
    val = validation_billed(spec, provider, validation_tokens)
    trained = tokens * epochs + val
    price = price_for(provider, base, spec.method, training_type(spec, provider))
    notes = []
    if not known:
        notes.append("epochs assumed")
    if val:
        notes.append(f"includes {val:,} validation tokens ({provider} bills each evaluation on the validation set)")
    confidence = None
    if price is None:
        notes.append(f"no catalog entry for {provider} {base} ({spec.method})")
        micro = per = None
        source = None
    else:
        per = price.microusd_per_mtok
        micro = None if per is None else cost_microusd(trained, per)
        source = f"{price.source} (checked {price.checked})" if price.checked else price.source
        if per is None:
            notes.append("price unknown" + (f": {price.note}" if price.note else ""))
        else:
            confidence = price.confidence
            if price.note:
                notes.append(price.note)
    if micro is None:
        from tuneops.basemodels import known, lookup

        if known(provider) and lookup(provider, base) is None:
            notes.insert(0, f"{base} is not a base model tuneops lists for {provider}")
    hosting = price_for(provider, base, "hosting_hour")
    return Estimate(provider=provider, base_model=base, method=spec.method, tokens=tokens, epochs=epochs,
                    epochs_rule=rule, trained_tokens=trained, microusd=micro, price_source=source,
                    note="; ".join(notes), microusd_per_mtok=per, time_s=None, confidence=confidence,
                    validation_tokens=val,
                    hosting_microusd_per_hour=hosting.microusd_per_mtok if hosting else None,
                    hosting_note=hosting.note if hosting else "")


def check_budget(spec: JobSpec, est: Estimate, month_spent_microusd: int) -> str | None:
    """Refuse (BudgetExceeded, with the numbers) a run over the spec's per-run or per-month budget.

    Returns a warning when the check passed on a third-party price (not the provider's own figure)."""
    per_run = spec.budget.per_run_microusd
    per_month = spec.budget.per_month_microusd
    if per_run is None and per_month is None:
        return None
    which = " and ".join(n for n, v in (("per_run_usd", per_run), ("per_month_usd", per_month)) if v is not None)
    if est.microusd is None:
        raise BudgetExceeded(
            f"job {spec.name}: the training price of {est.provider} {est.base_model} ({est.method}) is unknown, "
            f"so budget.{which} cannot be checked; nothing was submitted. Add a sourced price to "
            ".tuneops/pricing.toml (or the file in TUNEOPS_PRICING), or remove the budget from the spec")
    numbers = (f"{est.trained_tokens:,} trained tokens = {est.tokens:,} x {est.epochs} epoch(s) at "
               f"{format_usd(est.microusd_per_mtok)} per 1M")
    if per_run is not None and est.microusd > per_run:
        raise BudgetExceeded(
            f"job {spec.name}: estimated {format_usd(est.microusd)} at {est.provider} ({numbers}) is over "
            f"budget.per_run_usd {format_usd(per_run)}; nothing was submitted. Raise the budget, use fewer "
            "epochs or less data")
    if per_month is not None and month_spent_microusd + est.microusd > per_month:
        total = month_spent_microusd + est.microusd
        raise BudgetExceeded(
            f"job {spec.name}: estimated {format_usd(est.microusd)} at {est.provider} ({numbers}) plus "
            f"{format_usd(month_spent_microusd)} spent this month is {format_usd(total)}, "
            f"over budget.per_month_usd {format_usd(per_month)}; nothing was submitted")
    if est.confidence == "third-party":
        return (f"job {spec.name}: the budget check used a third-party price for {est.provider} {est.base_model} "
                f"({format_usd(est.microusd_per_mtok)} per 1M from {est.price_source}); the provider's own page "
                "may differ")
    return None


def actual_cost(provider: str, base_model: str, method: str, trained_tokens: int | None) -> int | None:
    """Cost in micro-dollars of a finished run from the provider's billed token count; None if unknown."""
    if trained_tokens is None:
        return None
    price = price_for(provider, base_model, method)
    if price is None or price.microusd_per_mtok is None:
        return None
    return cost_microusd(trained_tokens, price.microusd_per_mtok)


def format_usd(microusd: int | None) -> str:
    """``$1,234.50`` (cents when exact, up to six decimals otherwise); "unknown" for None."""
    if microusd is None:
        return "unknown"
    sign = "-" if microusd < 0 else ""
    dollars, micros = divmod(abs(microusd), MICRO)
    frac = f"{micros:06d}".rstrip("0")
    frac = frac.ljust(2, "0")
    return f"{sign}${dollars:,}.{frac}"
