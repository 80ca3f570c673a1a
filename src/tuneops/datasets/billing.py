"""Billed training tokens of a whole file, counted exactly as preflight counts them.

The sandbox reports ``trained_tokens`` with this (it stands in for a provider that reports them),
so an estimate and the "actual" figure of a sandbox run differ only by the epochs, never by a
second way of counting.
"""

from __future__ import annotations

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
