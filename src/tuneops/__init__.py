"""tuneops: hosted fine-tuning jobs as code, across providers.

The public API is small and stable; everything else is internal. Importing tuneops is cheap: the
provider contract, store, provider SDKs and tokenizers load only when used.

The functions ``validate``, ``estimate``, ``submit``, ``sync``, ``runs``, ``evaluate`` and ``compare`` are
the command line as a library (``tuneops.api``, with examples).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tuneops.errors import (
    BudgetExceeded,
    DatasetError,
    MissingCredential,
    PermanentProviderError,
    ProviderError,
    ProviderNotFound,
    SpecError,
    TransientProviderError,
    TuneopsError,
)

if TYPE_CHECKING:
    from tuneops.api import compare, estimate, evaluate, runs, submit, sync, validate
    from tuneops.provider import Capabilities, Provider, ProviderConfig, ProviderJob, RunStatus
    from tuneops.spec import JobSpec
    from tuneops.spec import load as load_spec
    from tuneops.store import open_store

__version__ = "0.1.0"

__all__ = [
    "BudgetExceeded",
    "Capabilities",
    "DatasetError",
    "JobSpec",
    "MissingCredential",
    "PermanentProviderError",
    "Provider",
    "ProviderConfig",
    "ProviderError",
    "ProviderJob",
    "ProviderNotFound",
    "RunStatus",
    "SpecError",
    "TransientProviderError",
    "TuneopsError",
    "__version__",
    "compare",
    "estimate",
    "evaluate",
    "load_spec",
    "open_store",
    "runs",
    "submit",
    "sync",
    "validate",
]

_LAZY = {**{name: ("tuneops.provider", name)
            for name in ("Capabilities", "Provider", "ProviderConfig", "ProviderJob", "RunStatus")},
         "JobSpec": ("tuneops.spec", "JobSpec"), "load_spec": ("tuneops.spec", "load"),
         "open_store": ("tuneops.store", "open_store"),
         **{name: ("tuneops.api", name) for name in ("compare", "estimate", "evaluate", "submit", "sync", "validate")}}


def __getattr__(name: str) -> Any:
    if name == "runs":  # the package tuneops.runs is callable: tuneops.runs(...) is tuneops.api.runs(...)
        import importlib

        return importlib.import_module("tuneops.runs")
    if name in _LAZY:
        import importlib

        module, attr = _LAZY[name]
        return getattr(importlib.import_module(module), attr)
    raise AttributeError(f"module 'tuneops' has no attribute {name!r}")
