"""Gemini models Vertex AI tunes, with retirement dates where published.

A tuned model is discontinued with its base model (first-party: Vertex model-versioning page).
"""

from __future__ import annotations

from datetime import date

from tuneops.basemodels import TunableModel

_BOTH = frozenset({"sft", "dpo"})
_RETIRE_25 = "third-party retirement notices for Gemini 2.5 on Vertex"
_MODEL_20 = "Gemini 2.0 Flash model page (read through a mirror)"


def _prefixed(name: str) -> tuple[str, ...]:
    return (f"publishers/google/models/{name}",)


MODELS: tuple[TunableModel, ...] = (
    TunableModel("gemini-2.5-pro", methods=frozenset({"sft"}), aliases=_prefixed("gemini-2.5-pro"),
                 retires=date(2026, 10, 20), source=_RETIRE_25, confidence="third-party"),
    TunableModel("gemini-2.5-flash", methods=_BOTH, aliases=_prefixed("gemini-2.5-flash"),
                 retires=date(2026, 10, 20), source=_RETIRE_25, confidence="third-party"),
    TunableModel("gemini-2.5-flash-lite", methods=_BOTH, aliases=_prefixed("gemini-2.5-flash-lite"),
                 retires=date(2026, 10, 20), source=_RETIRE_25, confidence="third-party"),
    TunableModel("gemini-2.0-flash-001", aliases=("gemini-2.0-flash", *_prefixed("gemini-2.0-flash-001")),
                 retires=date(2026, 2, 5), source=_MODEL_20, confidence="first-party"),
    TunableModel("gemini-2.0-flash-lite-001", aliases=("gemini-2.0-flash-lite",
                                                       *_prefixed("gemini-2.0-flash-lite-001")),
                 status="retirement date not found; the Gemini API page gives Feb 2026 as the earliest for 2.0",
                 source="https://ai.google.dev/gemini-api/docs/deprecations", confidence="first-party"),
)
