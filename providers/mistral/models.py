"""Base models Mistral fine-tunes; the whole fine-tuning API is deprecated."""

from __future__ import annotations

from tuneops.basemodels import TunableModel

_SOURCE = "https://docs.mistral.ai/resources/deprecated"
_STATUS = ("fine-tuning API deprecated (docs banner since 2026-04-17), no replacement and no shutdown date "
           "announced; $4 minimum per job, $2/month storage per fine-tuned model")


def _model(model_id: str) -> TunableModel:
    return TunableModel(model_id, status=_STATUS, source=_SOURCE, confidence="first-party")


MODELS: tuple[TunableModel, ...] = tuple(_model(m) for m in (
    "open-mistral-7b", "open-mistral-nemo", "mistral-small-latest", "mistral-large-latest",
    "ministral-3b-latest", "ministral-8b-latest", "codestral-latest", "pixtral-12b-latest"))
