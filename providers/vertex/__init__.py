"""Google Vertex AI (Gemini tuning) over REST; google-auth is optional (the ``vertex`` extra)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from tuneops.lazy import exports

if TYPE_CHECKING:
    from tuneops.providers.vertex.adapter import VertexProvider

__all__ = ["VertexProvider"]

# Loaded on first use: `providers list` imports only this package's capabilities module.
__getattr__ = exports(__name__, {"VertexProvider": f"{__name__}.adapter"})
