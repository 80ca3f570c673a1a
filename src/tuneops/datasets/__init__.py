"""Datasets: canonical records, streaming preflight, token counts, converters, split and snapshots."""

from __future__ import annotations

from typing import TYPE_CHECKING

from tuneops.lazy import exports

if TYPE_CHECKING:
    from tuneops.datasets.findings import Finding
    from tuneops.datasets.preflight import PreflightReport
    from tuneops.datasets.snapshot import DatasetSnapshot, PreparedFile, build_snapshot

__all__ = ["DatasetSnapshot", "Finding", "PreflightReport", "PreparedFile", "build_snapshot"]

# Loaded on first use: a submodule such as ``datasets.cache`` must not pull in preflight (and the spec
# models and pydantic) for a command that only needs a path. The preflight function is imported from
# ``tuneops.datasets.preflight``: here its name would be the submodule's once that is loaded.
_LAZY = {"Finding": "tuneops.datasets.findings", "PreflightReport": "tuneops.datasets.preflight",
         "DatasetSnapshot": "tuneops.datasets.snapshot",
         "PreparedFile": "tuneops.datasets.snapshot", "build_snapshot": "tuneops.datasets.snapshot"}


__getattr__ = exports(__name__, _LAZY)
