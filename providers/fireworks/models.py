"""Base models Fireworks fine-tunes, with their sizes (prices go by size band: `tuneops pricing show fireworks`)."""

from __future__ import annotations

from tuneops.basemodels import TunableModel

_SOURCE = "https://docs.fireworks.ai/fine-tuning/fine-tuning-models"
_SERVE = "LoRA fine-tunes serve from an on-demand (dedicated) deployment, billed per GPU-second"
_BOTH = frozenset({"sft", "dpo"})


def _model(name: str, params_b: float) -> TunableModel:
    return TunableModel(f"accounts/fireworks/models/{name}", params_b=params_b, methods=_BOTH, aliases=(name,),
                        status=_SERVE, source=_SOURCE, confidence="first-party")


MODELS: tuple[TunableModel, ...] = (
    _model("llama-v3p1-8b-instruct", 8),
    _model("qwen2p5-7b-instruct", 7),
)
