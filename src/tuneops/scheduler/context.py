"""What one scheduler process works with: the ledger, its identity and leases, providers, notifications."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tuneops.clock import actor as default_actor
from tuneops.clock import utcnow
from tuneops.scheduler.leases import DEFAULT_TTL, LeaseKeeper, identity
from tuneops.scheduler.localcache import LocalCache, default_dir
from tuneops.store import Store

if TYPE_CHECKING:
    from tuneops.runs.orchestrator import Orchestrator, ProviderPool
    from tuneops.scheduler.notify import Notifier

# A fire whose work failed this many times is given up (recorded as failed) instead of retried forever.
MAX_ATTEMPTS = 6


@dataclass
class SchedulerContext:
    """One scheduler process: it owns leases as ``owner`` and acts (in the audit trail) as ``actor``."""

    store: Store
    jobs_dir: Path
    clock: Callable[[], datetime] = utcnow
    ttl: timedelta = DEFAULT_TTL
    owner: str = field(default_factory=identity)
    actor: str = field(default_factory=default_actor)
    cache_dir: Path | None = None
    pool: ProviderPool | None = None
    notifier: Notifier | None = None
    # Set on SIGTERM/SIGINT: a tick in progress finishes the fire it is on and starts no other.
    stopping: threading.Event = field(default_factory=threading.Event)
    _orch: Orchestrator | None = None
    _keeper: LeaseKeeper | None = None
    _cache: LocalCache | None = None
    # What a long-running process keeps between ticks: parsed policies by spec file.
    policy_memo: dict[str, Any] = field(default_factory=dict)
    _files: Any = None
    _hashes: Any = None
    # Skip jobs whose remembered decision still holds (see ``quiet``); False works out every job.
    skip_quiet: bool = True
    # What a light tick (``scheduler.light``) decided before it found work that needs the ORM: its report
    # so far and its ``deciding.Pass``. The next ``tick`` goes on from there (once).
    begun: Any = None

    @property
    def orch(self) -> Orchestrator:
        """The orchestrator (built on first use, so a tick with nothing to do builds no provider)."""
        if self._orch is None:
            from tuneops.runs.orchestrator import Orchestrator, ProviderPool

            self.pool = self.pool or ProviderPool()
            self._orch = Orchestrator(self.store, self.pool, clock=self.clock, actor=self.actor)
        return self._orch

    @property
    def keeper(self) -> LeaseKeeper:
        """The thread that extends this process's leases while it works."""
        if self._keeper is None:
            self._keeper = LeaseKeeper(self.store, self.owner, self.ttl).start()
        return self._keeper

    @property
    def cache(self) -> LocalCache:
        """The local cache of policies and file states."""
        if self._cache is None:
            self._cache = LocalCache(self.cache_dir or default_dir())
        return self._cache

    def file_states(self) -> tuple[Any, Any]:
        """The data-file and eval-set states this process keeps between ticks."""
        from tuneops.scheduler.datafiles import DataFiles, FileHashes

        if self._files is None:
            self._files = DataFiles(self.cache, self.cache_dir)
            self._hashes = FileHashes(self.cache)
        return self._files, self._hashes

    def notify(self, policy: Any, event: str, payload: dict[str, Any]) -> None:
        """Send a notification if a notifier is configured (never raises)."""
        if self.notifier is not None:
            with contextlib.suppress(Exception):  # notifications must never stop the scheduler
                self.notifier.notify(policy, event, payload)

    def close(self) -> None:
        """Stop the lease keeper, flush notifications, close providers and the cache."""
        if self._keeper is not None:
            self._keeper.stop()
            self._keeper = None
        if self.notifier is not None:
            self.notifier.close()
        if self.pool is not None:
            self.pool.close()
        if self._cache is not None:
            self._cache.close()
            self._cache = self._files = self._hashes = None
