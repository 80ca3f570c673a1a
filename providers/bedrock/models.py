"""Base models Bedrock customizes (fine-tuning), and how each one serves (prices: `tuneops pricing show bedrock`)."""

from __future__ import annotations

from tuneops.basemodels import TunableModel

_SOURCE = "https://docs.aws.amazon.com/bedrock/latest/userguide/custom-models-hp.html"
_ON_DEMAND = ("on-demand (per-token) serving through a custom model deployment in us-east-1/us-west-2 for models "
              "customized on or after 2025-07-16; else provisioned throughput")
_PROVISIONED = "serves only through provisioned throughput (billed per model-unit hour)"


def _model(model_id: str, status: str, params_b: float | None = None) -> TunableModel:
    return TunableModel(model_id, params_b=params_b, aliases=(model_id.rsplit(":", 1)[0],), status=status,
                        source=_SOURCE, confidence="first-party")


MODELS: tuple[TunableModel, ...] = (
    _model("amazon.nova-micro-v1:0:128k", _ON_DEMAND),
    _model("amazon.nova-lite-v1:0:300k", _ON_DEMAND),
    _model("amazon.nova-pro-v1:0:300k", _ON_DEMAND),
    _model("amazon.titan-text-express-v1:0:8k", _PROVISIONED),
    _model("amazon.titan-text-lite-v1:0:4k", _PROVISIONED),
    _model("anthropic.claude-3-haiku-20240307-v1:0:200k", _PROVISIONED + "; us-west-2 only"),
    _model("meta.llama3-1-8b-instruct-v1:0:128k", _PROVISIONED, 8),
    _model("meta.llama3-1-70b-instruct-v1:0:128k", _PROVISIONED, 70),
    _model("meta.llama3-2-1b-instruct-v1:0:128k", _PROVISIONED, 1),
)
