"""What eval inference costs, from the pricing catalog's inference entries (integer micro-dollars)."""

from __future__ import annotations

from typing import Any

INPUT = "infer_input"
OUTPUT = "infer_output"
HOSTING = "hosting_hour"  # USD per hour a deployment of the model is up (usd_per_mtok holds the hourly rate)


def price(provider: str, model: str, method: str) -> Any:
    """The catalog entry (economics.Price) for inference or hosting of ``model``, or None when there is none."""
    from tuneops import economics

    # A catalog entry for "*" describes training and never prices inference (economics.NON_TRAINING).
    return economics.price_for(provider, model, method)


def _per_mtok(provider: str, model: str, method: str) -> int | None:
    entry = price(provider, model, method)
    return entry.microusd_per_mtok if entry is not None else None


def inference_cost(provider: str, model: str, input_tokens: int, output_tokens: int) -> int | None:
    """Cost of the tokens of new inference calls to ``model`` (a fine-tuned model is priced by its
    base model); None when the catalog has no sourced price. No tokens cost nothing."""
    if input_tokens == 0 and output_tokens == 0:
        return 0
    from tuneops.economics import cost_microusd

    per_in, per_out = _per_mtok(provider, model, INPUT), _per_mtok(provider, model, OUTPUT)
    if per_in is None or per_out is None:
        return None
    return cost_microusd(input_tokens, per_in) + cost_microusd(output_tokens, per_out)
