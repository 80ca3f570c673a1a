"""Base models OpenAI and Azure OpenAI fine-tune, with the wind-down and shutdown dates.

OpenAI's self-serve fine-tuning closes to every customer on 2027-01-06 (first-party: the deprecations
page, entry of 2026-05-07). The base-model shutdowns below are third-party readings of the same page
(several agree); a fine-tune stops serving when its base model does.
"""

from __future__ import annotations

from datetime import date

from tuneops.basemodels import TunableModel

DEPRECATIONS = "https://developers.openai.com/api/docs/deprecations"
WIND_DOWN = date(2027, 1, 6)
_SFT_DPO = frozenset({"sft", "dpo"})
_WIND = ("self-serve fine-tuning: closed to new organizations since 2026-05-07, to organizations without recent "
         "fine-tuned inference since 2026-07-02, to everyone on 2027-01-06 (first-party)")


def _openai(model_id: str, alias: str, retires: date, methods: frozenset[str] = _SFT_DPO) -> TunableModel:
    return TunableModel(model_id, methods=methods, aliases=(alias,), retires=retires, training_ends=WIND_DOWN,
                        status=_WIND, source=f"{DEPRECATIONS} (shutdown date: third-party readings, Oct 2026)",
                        confidence="third-party")


OPENAI_MODELS: tuple[TunableModel, ...] = (
    _openai("gpt-4.1-2025-04-14", "gpt-4.1", date(2027, 1, 14)),
    _openai("gpt-4.1-mini-2025-04-14", "gpt-4.1-mini", date(2027, 1, 14)),
    _openai("gpt-4.1-nano-2025-04-14", "gpt-4.1-nano", date(2026, 10, 23)),
    _openai("gpt-4o-2024-08-06", "gpt-4o", date(2027, 1, 14)),
    _openai("gpt-4o-mini-2024-07-18", "gpt-4o-mini", date(2027, 1, 14)),
    _openai("gpt-3.5-turbo-0125", "gpt-3.5-turbo", date(2026, 10, 23), frozenset({"sft"})),
)

_AZURE_NOTE = ("Azure retires fine-tunable models on its own schedule (not captured here); a deployed fine-tune "
               "unused for 15 days is deleted")


def _azure(model_id: str, alias: str, methods: frozenset[str] = _SFT_DPO) -> TunableModel:
    return TunableModel(model_id, methods=methods, aliases=(alias,), status=_AZURE_NOTE,
                        source="https://learn.microsoft.com/azure/foundry/openai/how-to/fine-tuning-cost-management",
                        confidence="first-party")


AZURE_MODELS: tuple[TunableModel, ...] = (
    _azure("gpt-4.1-2025-04-14", "gpt-4.1"),
    _azure("gpt-4.1-mini-2025-04-14", "gpt-4.1-mini"),
    _azure("gpt-4.1-nano-2025-04-14", "gpt-4.1-nano"),
    _azure("gpt-4o-2024-08-06", "gpt-4o"),
    _azure("gpt-4o-mini-2024-07-18", "gpt-4o-mini"),
    _azure("gpt-35-turbo-0125", "gpt-3.5-turbo-0125", frozenset({"sft"})),
)

SANDBOX_MODELS: tuple[TunableModel, ...] = (
    TunableModel("sandbox-mini", methods=_SFT_DPO, status="the local sandbox's model", source="tuneops sandbox",
                 confidence="first-party"),
    TunableModel("sandbox-legacy", methods=_SFT_DPO, status="reports a shutdown date 20 days ahead (for tests)",
                 source="tuneops sandbox", confidence="first-party"),
)
