"""The state store (the ledger): engine, tables, migrations and queries.

Names load on first use, so ``tuneops.store.reader`` and ``tuneops.store.urls`` come without SQLAlchemy.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tuneops.lazy import exports

if TYPE_CHECKING:
    from tuneops.store.engine import Store, open_store
    from tuneops.store.urls import resolve_url

__all__ = ["Store", "open_store", "resolve_url"]

_LAZY = {"Store": "tuneops.store.engine", "open_store": "tuneops.store.engine", "resolve_url": "tuneops.store.urls"}


__getattr__ = exports(__name__, _LAZY)
