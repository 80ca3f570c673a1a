"""Economics: the pricing catalog, cost estimates per provider, budget checks and actual cost.

Money is integer micro-dollars everywhere; prices are parsed from decimal strings, never floats.
A price nobody could source is unknown (None) and shown as such; a spec with a budget and an
unknown price is refused rather than waved through.
"""

from __future__ import annotations

import fnmatch
import os
import tomllib
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from functools import lru_cache
from pathlib import Path
from typing import Any

from tuneops.errors import BudgetExceeded, TuneopsError
from tuneops.spec import JobSpec

BUILTIN = Path(__file__).parent / "data" / "pricing.toml"
MICRO = 1_000_000


@dataclass(frozen=True)
class Price:
    """One catalog entry: USD per 1M trained tokens, as integer micro-dollars (None = unknown)."""

    provider: str
    model: str
    method: str
    microusd_per_mtok: int | None
    source: str
    checked: str
    note: str = ""
    origin: str = ""  # the catalog file it came from

    def matches(self, provider: str, model: str, method: str) -> bool:
        """True when this entry applies to the provider, model and method."""
        return (self.provider in ("*", provider) and self.method in ("*", method)
                and fnmatch.fnmatchcase(model.lower(), self.model.lower()))


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
        if not isinstance(entry, dict) or "provider" not in entry or "usd_per_mtok" not in entry:
            raise TuneopsError(f"{where}: needs at least provider and usd_per_mtok")
        prices.append(Price(
            provider=str(entry["provider"]), model=str(entry.get("model", "*")), method=str(entry.get("method", "*")),
            microusd_per_mtok=parse_usd(entry["usd_per_mtok"], where), source=str(entry.get("source", "")),
            checked=str(entry.get("checked", "")), note=str(entry.get("note", "")), origin=str(path)))
    return prices


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


def price_for(provider: str, base_model: str, method: str) -> Price | None:
    """The first catalog entry that applies, or None when the catalog has nothing for it."""
    for p in catalog():
        if p.matches(provider, base_model, method):
            return p
    return None


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


def estimate(spec: JobSpec, tokens: int, examples: int, provider: str) -> Estimate:
    """Tokens x epochs x price for ``spec`` at ``provider`` (tokens: training tokens per epoch)."""
    base = spec.model.base
    epochs, rule, known = epochs_for(provider, base, examples, spec.hyperparameters.epochs)
    trained = tokens * epochs
    price = price_for(provider, base, spec.method)
    notes = []
    if not known:
        notes.append("epochs assumed")
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
    return Estimate(provider=provider, base_model=base, method=spec.method, tokens=tokens, epochs=epochs,
                    epochs_rule=rule, trained_tokens=trained, microusd=micro, price_source=source,
                    note="; ".join(notes), microusd_per_mtok=per, time_s=None)


def check_budget(spec: JobSpec, est: Estimate, month_spent_microusd: int) -> None:
    """Refuse (BudgetExceeded, with the numbers) a run over the spec's per-run or per-month budget."""
    per_run = spec.budget.per_run_microusd
    per_month = spec.budget.per_month_microusd
    if per_run is None and per_month is None:
        return
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
