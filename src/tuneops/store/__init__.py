"""The state store (the ledger): engine, tables, migrations and queries."""

from __future__ import annotations

from tuneops.store.engine import Store, open_store, resolve_url

__all__ = ["Store", "open_store", "resolve_url"]
