"""Evals: eval sets, metrics, inference through each provider, per-example results, comparisons.

Import the submodules you need (``tuneops.evals.runner``, ``.compare``, ``.flow``); this package
imports nothing heavy so the CLI starts fast.
"""

from __future__ import annotations
