"""The local provider: LoRA / QLoRA fine-tuning on your own hardware (optional extra ``tuneops[local]``).

Importing this package imports no torch; training runs in a separate process and serving loads
models only when asked.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tuneops.lazy import exports

if TYPE_CHECKING:
    from tuneops.providers.local.adapter import LocalProvider

__all__ = ["LocalProvider"]

# Loaded on first use: `providers list` imports only this package's capabilities module.
__getattr__ = exports(__name__, {"LocalProvider": f"{__name__}.adapter"})
