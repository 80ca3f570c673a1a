"""Deterministic train/validation split by seed.

Each example gets a score from its near-duplicate key mixed with the seed; the ``round(n * fraction)``
lowest scores form the validation set. So the split depends only on content and seed (not on
line order), near-duplicates always land on the same side (no train/validation leakage through
copies), and appending examples moves few existing ones across.
"""

from __future__ import annotations

import heapq
from collections.abc import Sequence

_MASK = (1 << 64) - 1


def _mix(x: int) -> int:
    """splitmix64 finalizer: spreads keys uniformly over 64 bits."""
    x = (x + 0x9E3779B97F4A7C15) & _MASK
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & _MASK
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & _MASK
    return x ^ (x >> 31)


def validation_size(n: int, fraction: float) -> int:
    """How many of ``n`` examples go to validation: at least 1 when n >= 2, never all."""
    if n < 2 or fraction <= 0:
        return 0
    return min(n - 1, max(1, round(n * fraction)))


def split_indexes(near_keys: Sequence[int], fraction: float, seed: int) -> set[int]:
    """Indexes (into ``near_keys``) of the examples that go to validation."""
    k = validation_size(len(near_keys), fraction)
    if not k:
        return set()
    salt = _mix(seed & _MASK)
    scores = [(_mix((key & _MASK) ^ salt), i) for i, key in enumerate(near_keys)]
    chosen = {i for _, i in heapq.nsmallest(k, scores)}
    # Keep near-duplicate groups together: a group straddling the cut goes to validation whole
    # only if that does not empty the training side.
    keys_in = {near_keys[i] for i in chosen}
    extra = [i for i, key in enumerate(near_keys) if key in keys_in and i not in chosen]
    if extra and len(chosen) + len(extra) < len(near_keys):
        chosen.update(extra)
    return chosen
