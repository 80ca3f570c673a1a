"""Base models Together fine-tunes, with their sizes (Together prices by size band: `tuneops pricing show together`).

Only models named in Together's docs are listed; others get a warning and an unknown price (the size
band cannot be told from the name), never a refusal.
"""

from __future__ import annotations

from tuneops.basemodels import TunableModel

_SOURCE = "https://docs.together.ai/docs/adapter-upload"
_SERVERLESS = "serverless LoRA inference offered for adapters on this base"
_BOTH = frozenset({"sft", "dpo"})


def _model(model_id: str, params_b: float, status: str) -> TunableModel:
    return TunableModel(model_id, params_b=params_b, methods=_BOTH, status=status, source=_SOURCE,
                        confidence="first-party")


MODELS: tuple[TunableModel, ...] = (
    _model("meta-llama/Meta-Llama-3.1-8B-Instruct-Reference", 8, _SERVERLESS),
    _model("meta-llama/Meta-Llama-3.1-70B-Instruct-Reference", 70, _SERVERLESS),
    _model("Qwen/Qwen2.5-72B-Instruct", 72, _SERVERLESS),
    _model("Qwen/Qwen3-235B-A22B-Instruct-2507", 235, _SERVERLESS),
)
