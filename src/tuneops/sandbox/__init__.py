"""A local service that speaks the OpenAI fine-tuning wire protocol, for offline use and tests.

The official ``openai`` SDK works against it unchanged. It is a stand-in, not an LLM:
"training" builds a deterministic nearest-neighbour learner over the training file,
and chat completions return the reply of the most similar training example.
"""

from __future__ import annotations

from .faults import FaultConfig
from .server import DEFAULT_PORT, SandboxServer, serve

__all__ = ["DEFAULT_PORT", "FaultConfig", "SandboxServer", "serve"]
