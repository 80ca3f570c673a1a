"""Google Vertex AI (Gemini tuning) over REST; google-auth is optional (the ``vertex`` extra)."""

from __future__ import annotations

from tuneops.providers.vertex.adapter import VertexProvider

__all__ = ["VertexProvider"]
