"""Fireworks AI fine-tuning over plain httpx (no SDK at run time)."""

from __future__ import annotations

from tuneops.providers.fireworks.adapter import FireworksDeployment, FireworksProvider

__all__ = ["FireworksDeployment", "FireworksProvider"]
