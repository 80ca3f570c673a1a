"""Together AI fine-tuning over plain httpx (no SDK at run time)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from tuneops.lazy import exports

if TYPE_CHECKING:
    from tuneops.providers.together.adapter import TogetherProvider

__all__ = ["TogetherProvider"]

# Loaded on first use: `providers list` imports only this package's capabilities module.
__getattr__ = exports(__name__, {"TogetherProvider": f"{__name__}.adapter"})
