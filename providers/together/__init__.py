"""Together AI fine-tuning over plain httpx (no SDK at run time)."""

from __future__ import annotations

from tuneops.providers.together.adapter import TogetherProvider

__all__ = ["TogetherProvider"]
