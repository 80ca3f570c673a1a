"""Mistral fine-tuning over plain httpx (mistralai>=2.6 no longer has fine-tuning jobs)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from tuneops.lazy import exports

if TYPE_CHECKING:
    from tuneops.providers.mistral.adapter import MistralProvider

__all__ = ["MistralProvider"]

# Loaded on first use: `providers list` imports only this package's capabilities module.
__getattr__ = exports(__name__, {"MistralProvider": f"{__name__}.adapter"})
