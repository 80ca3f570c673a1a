"""Billed training tokens of a whole file, counted exactly as preflight counts them.

The sandbox reports ``trained_tokens`` with this (it stands in for a provider that reports them),
so an estimate and the "actual" figure of a sandbox run differ only by the epochs, never by a
second way of counting.
"""

from __future__ import annotations

from typing import Any

from tuneops.datasets.checks import UNUSABLE, ExampleChecker
from tuneops.datasets.tokens import TokenCounter, for_model

_BATCH = 1024


def billed_tokens(data: bytes, model: str) -> int:
    """Tokens one epoch over ``data`` (JSONL) is billed for: each usable example counted with the
    model's tokenizer and OpenAI's recipe, capped at the model's per-example limit."""
    tokenizer = for_model(model)
    checker = ExampleChecker(TokenCounter(tokenizer))
    limit = tokenizer.limit
    lines = [line for line in data.splitlines() if line.strip()]
    total = 0
    for start in range(0, len(lines), _BATCH):
        for r in checker.check_batch(lines[start:start + _BATCH]):
            if r.kind != UNUSABLE:
                total += r.tokens if limit is None else min(r.tokens, limit)
    return total


def estimate_vs_actual(run: Any) -> dict[str, Any]:
    """A run's estimated and actual trained tokens and dollars (actuals None until the provider says).

    The estimate is what admission computed: tokens per epoch (from preflight) x the epochs the spec
    asks for or the provider's "auto" rule gives."""
    import json

    from tuneops.economics import epochs_for

    try:
        requested = json.loads(run.spec_json).get("hyperparameters", {}).get("epochs", "auto")
    except (ValueError, AttributeError):
        requested = "auto"
    epochs, _, _ = epochs_for(run.provider, run.base_model, run.train_examples, requested)
    estimated = run.train_tokens * epochs
    actual = run.trained_tokens

    def off(a: int | None, e: int | None) -> float | None:
        return None if a is None or not e else round((a - e) / e, 4)

    return {"tokens": {"estimated": estimated, "actual": actual, "difference": off(actual, estimated)},
            "microusd": {"estimated": run.estimate_microusd, "actual": run.cost_microusd,
                         "difference": off(run.cost_microusd, run.estimate_microusd)}}
