"""The local provider: LoRA / QLoRA fine-tuning on your own hardware (optional extra ``tuneops[local]``).

Importing this package imports no torch; training runs in a separate process and serving loads
models only when asked.
"""

from __future__ import annotations

from tuneops.providers.local.adapter import LocalProvider

__all__ = ["LocalProvider"]
