"""Notifications: a JSON payload POSTed to webhook URLs when a retrain fires, a run succeeds or fails,
and a promotion is made or refused.

URLs come from a spec's ``[notify] urls`` (for that job's events) and from ``TUNEOPS_NOTIFY_URLS``
(comma- or space-separated, for every job; the place for URLs that embed a token, since specs are
committed and stored with each run). Deliveries run on background threads with a timeout and
bounded retries; a failure is logged and counted, never raised: the scheduler does not stop for a
receiver that is down. Each delivery carries an id (``X-Tuneops-Delivery``) that stays the same
across retries, so a receiver can drop duplicates.
"""

from __future__ import annotations

import json
import logging
import os
import re
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from typing import Any

from tuneops.clock import new_id, utcnow
from tuneops.netsafe import Resolver, TargetRefused, check_target, scrub_urls
from tuneops.retry import retry_after_seconds
from tuneops.scheduler.policy import JobPolicy

ENV_URLS = "TUNEOPS_NOTIFY_URLS"
EVENTS = ("fire", "success", "failure", "promotion", "refusal")
_GIVE_UP = frozenset({400, 401, 403, 404, 405, 410, 413, 422})  # retrying cannot help
_MAX_BACKOFF_S = 10.0

log = logging.getLogger("tuneops.scheduler.notify")


def env_urls(environ: Mapping[str, str] | None = None) -> tuple[str, ...]:
    """The URLs in ``TUNEOPS_NOTIFY_URLS``."""
    raw = (environ if environ is not None else os.environ).get(ENV_URLS, "")
    return tuple(u for u in re.split(r"[,\s]+", raw) if u)


def where(url: str) -> str:
    """A URL without credentials, path and query, which may hold a token (for logs and reports)."""
    m = re.match(r"^(https?://)(?:[^/?#@]*@)?([^/?#@]+)", url)
    return (m.group(1) + m.group(2) if m else "<url>") + "/..."


@dataclass(frozen=True)
class Delivery:
    """What became of one payload at one URL."""

    url: str  # scheme and host only
    event: str
    delivery_id: str
    ok: bool
    attempts: int
    status: int | None = None
    error: str | None = None


class Notifier:
    """Posts payloads to webhooks on a small thread pool; never raises into the scheduler."""

    def __init__(self, *, transport: Any = None, environ: Mapping[str, str] | None = None, workers: int = 4,
                 sleep: Callable[[float], Any] = time.sleep, resolve: Resolver | None = None):
        self._transport = transport
        self._environ = environ
        self._resolve = resolve  # host -> addresses; None: the system's DNS
        self._client: Any = None  # built on the first delivery: most ticks notify nobody
        self._env_urls = env_urls(environ)
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="tuneops-notify")
        self._sleep = sleep
        self._pending: list[Future[Delivery]] = []
        self._lock = threading.Lock()
        self.deliveries: list[Delivery] = []

    def _http(self) -> Any:
        with self._lock:
            if self._client is None:
                import httpx

                self._client = httpx.Client(transport=self._transport, follow_redirects=False, headers={
                    "User-Agent": "tuneops-scheduler", "Content-Type": "application/json"})
            return self._client

    def urls_for(self, policy: JobPolicy | None, event: str) -> list[str]:
        """Where this job's ``event`` goes: its spec's URLs (if it subscribes to the event) and the env's."""
        urls = list(self._env_urls)
        if policy is not None and (not policy.notify_events or event in policy.notify_events):
            urls = list(policy.notify_urls) + urls
        return list(dict.fromkeys(urls))

    def notify(self, policy: JobPolicy | None, event: str, payload: Mapping[str, Any]) -> int:
        """Queue ``payload`` for every URL that wants ``event``; returns how many deliveries were queued."""
        urls = self.urls_for(policy, event)
        if not urls:
            return 0
        delivery_id = new_id("ntf")
        body = json.dumps({"event": event, "delivery_id": delivery_id, "at": utcnow().isoformat() + "Z",
                           **payload}, default=str).encode()
        timeout = policy.notify_timeout_s if policy is not None else 5.0
        retries = policy.notify_retries if policy is not None else 3
        with self._lock:
            for url in urls:
                self._pending.append(self._pool.submit(self._deliver, url, event, delivery_id, body, timeout, retries))
        return len(urls)

    def _deliver(self, url: str, event: str, delivery_id: str, body: bytes, timeout: float, retries: int) -> Delivery:
        import httpx

        status: int | None = None
        error: str | None = None
        attempt = 0
        try:  # every delivery, not only at spec load: a name can come to resolve into the local network
            check_target(url, environ=self._environ, resolve=self._resolve)
        except TargetRefused as exc:
            log.warning("notification %s to %s refused: %s", event, where(url), exc)
            return self._done(Delivery(where(url), event, delivery_id, False, 0, None, str(exc)))
        for attempt in range(1, retries + 2):
            delay = min(_MAX_BACKOFF_S, 0.5 * 2 ** (attempt - 1))
            try:
                resp = self._http().post(url, content=body, timeout=timeout,
                                         headers={"X-Tuneops-Event": event, "X-Tuneops-Delivery": delivery_id})
                status, error = resp.status_code, None
                if resp.is_success:
                    return self._done(Delivery(where(url), event, delivery_id, True, attempt, status))
                error = f"HTTP {status}"
                if status in _GIVE_UP:
                    break
                after = retry_after_seconds(resp.headers)
                if after is not None:
                    delay = min(_MAX_BACKOFF_S, after)
            except httpx.HTTPError as exc:
                error = scrub_urls(f"{type(exc).__name__}: {exc}")[:300]
            except Exception as exc:  # a receiver must never take the scheduler down
                error = scrub_urls(f"{type(exc).__name__}: {exc}")[:300]
                break
            if attempt <= retries:
                self._sleep(delay)
        log.warning("notification %s to %s failed after %d attempt(s): %s", event, where(url), attempt, error)
        return self._done(Delivery(where(url), event, delivery_id, False, attempt, status, error))

    def _done(self, delivery: Delivery) -> Delivery:
        with self._lock:
            self.deliveries.append(delivery)
        return delivery

    @property
    def failures(self) -> int:
        """Deliveries that failed for good so far."""
        with self._lock:
            return sum(not d.ok for d in self.deliveries)

    def flush(self, timeout: float = 60.0) -> None:
        """Wait (up to ``timeout`` seconds) for queued deliveries to finish."""
        with self._lock:
            pending, self._pending = self._pending, []
        if pending:
            wait(pending, timeout=timeout)

    def close(self, timeout: float = 30.0) -> None:
        """Finish queued deliveries (briefly) and release the HTTP client."""
        self.flush(timeout)
        self._pool.shutdown(wait=False, cancel_futures=True)
        if self._client is not None:
            self._client.close()
