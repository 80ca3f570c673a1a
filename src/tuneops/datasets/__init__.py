"""Datasets: canonical records, streaming preflight, token counts, converters, split and snapshots."""

from __future__ import annotations

from tuneops.datasets.findings import Finding
from tuneops.datasets.preflight import PreflightReport, preflight
from tuneops.datasets.snapshot import DatasetSnapshot, PreparedFile, build_snapshot

__all__ = ["DatasetSnapshot", "Finding", "PreflightReport", "PreparedFile", "build_snapshot", "preflight"]
