"""Fireworks AI fine-tuning over plain httpx (no SDK at run time)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from tuneops.lazy import exports

if TYPE_CHECKING:
    from tuneops.providers.fireworks.adapter import FireworksDeployment, FireworksProvider

__all__ = ["FireworksDeployment", "FireworksProvider"]

# Loaded on first use: `providers list` imports only this package's capabilities module.
__getattr__ = exports(__name__, {"FireworksDeployment": f"{__name__}.adapter",
                                 "FireworksProvider": f"{__name__}.adapter"})
