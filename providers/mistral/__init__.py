"""Mistral fine-tuning over plain httpx (mistralai>=2.6 no longer has fine-tuning jobs)."""

from __future__ import annotations

from tuneops.providers.mistral.adapter import MistralProvider

__all__ = ["MistralProvider"]
