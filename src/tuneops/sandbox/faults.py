"""Fault injection for the sandbox's ``/v1`` API (never for ``/_sandbox`` admin routes).

Each API request draws one number from a seeded RNG and may get, in this order of
precedence: a 429 with ``Retry-After``; a 500/502/503; a *timeout* (the request is
handled at once but its answer is held back for ``timeout_delay`` seconds, so a
client with a shorter timeout gives up on a request that took effect); a *dropped
response* (the request takes effect, then the client gets a 500 or a connection
closed mid-response, so it cannot tell); or a *slow* answer (held back for
``slow_delay`` seconds).
"""

from __future__ import annotations

import asyncio
import contextvars
import json
import logging
import random
import threading
from collections.abc import Callable
from dataclasses import asdict, dataclass, fields
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .wire import error_body

__all__ = ["FaultConfig", "FaultInjector", "install_abort_log_filter"]

_DROP_MODES = ("error", "abort", "mixed")
_RATES = ("rate_429", "rate_5xx", "rate_timeout", "rate_drop", "rate_slow")
# Set while a response is aborted on purpose, so uvicorn's complaint about the
# incomplete response is not logged as if it were a bug.
_ABORTING: contextvars.ContextVar[bool] = contextvars.ContextVar("tuneops_sandbox_aborting", default=False)


@dataclass(frozen=True)
class FaultConfig:
    """What to inject and how often; rates are probabilities from 0 to 1, delays are seconds."""

    rate_429: float = 0.0
    retry_after: float = 1.0
    rate_5xx: float = 0.0
    rate_timeout: float = 0.0
    timeout_delay: float = 30.0
    rate_drop: float = 0.0
    drop_mode: str = "error"
    rate_slow: float = 0.0
    slow_delay: float = 0.5
    routes: tuple[str, ...] = ()
    max_faults: int | None = None
    seed: int = 0

    def __post_init__(self) -> None:
        for name in _RATES:
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name} must be between 0 and 1")
        for name in ("retry_after", "timeout_delay", "slow_delay"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must not be negative")
        if self.drop_mode not in _DROP_MODES:
            raise ValueError(f"drop_mode must be one of {', '.join(_DROP_MODES)}")
        if self.max_faults is not None and self.max_faults < 0:
            raise ValueError("max_faults must not be negative")
        object.__setattr__(self, "routes", tuple(self.routes))

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> FaultConfig:
        """Build from JSON; unknown keys and bad values raise ValueError."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(raw) - known)
        if unknown:
            raise ValueError(f"unknown fault setting(s): {', '.join(unknown)}")
        try:
            return cls(**raw)
        except TypeError as exc:
            raise ValueError(str(exc)) from exc

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready settings."""
        out = asdict(self)
        out["routes"] = list(self.routes)
        return out

    def applies_to(self, route_key: str) -> bool:
        """Whether ``"METHOD /v1/template"`` is covered; a route without a method matches any method."""
        if not self.routes:
            return True
        path = route_key.split(" ", 1)[-1]
        return any(r in (route_key, path) for r in self.routes)


class FaultInjector:
    """Decides per request whether to inject a fault, and performs it at the ASGI level."""

    def __init__(
        self,
        config: FaultConfig | None = None,
        on_fault: Callable[[str], None] | None = None,
        *,
        base_seed: int = 0,
    ) -> None:
        self._lock = threading.Lock()
        self._base_seed = base_seed
        self._on_fault = on_fault or (lambda kind: None)
        self.configure(config or FaultConfig())

    @property
    def config(self) -> FaultConfig:
        """The settings in force."""
        return self._config

    def configure(self, config: FaultConfig) -> None:
        """Replace the settings; the RNG restarts from the seeds and the fault budget refills."""
        with self._lock:
            self._config = config
            # The server's seed and the config's seed both count, so either one varies the pattern.
            self._rng = random.Random(f"{self._base_seed}:{config.seed}")
            self._injected = 0

    def decide(self, route_key: str) -> str | None:
        """The fault to inject for this request, if any."""
        with self._lock:
            cfg = self._config
            if not cfg.applies_to(route_key):
                return None
            if cfg.max_faults is not None and self._injected >= cfg.max_faults:
                return None
            draw, edge = self._rng.random(), 0.0
            for kind, rate in (("429", cfg.rate_429), ("5xx", cfg.rate_5xx), ("timeout", cfg.rate_timeout),
                               ("drop", cfg.rate_drop), ("slow", cfg.rate_slow)):  # fmt: skip
                edge += rate
                if draw < edge:
                    self._injected += 1
                    return kind
            return None

    async def handle(self, route_key: str, app: ASGIApp, scope: Scope, receive: Receive, send: Send) -> None:
        """Run ``app`` for one API request, with a fault if the dice say so."""
        kind = self.decide(route_key)
        if kind is None:
            await app(scope, receive, send)
            return
        cfg = self._config
        self._on_fault(kind)
        if kind == "429":
            retry = f"{cfg.retry_after:g}"
            body = error_body(
                f"Rate limit reached for requests (tuneops sandbox fault injection). Please try again in {retry}s.",
                type_="requests",
                code="rate_limit_exceeded",
            )
            await _send_json(send, 429, body, [(b"retry-after", retry.encode())])
        elif kind == "5xx":
            with self._lock:
                status = self._rng.choice((500, 502, 503))
            await _send_json(send, status, _server_error(status))
        elif kind in ("timeout", "slow"):
            held: list[Message] = []

            async def hold(message: Message) -> None:
                held.append(message)

            await app(scope, receive, hold)
            await asyncio.sleep(cfg.timeout_delay if kind == "timeout" else cfg.slow_delay)
            for message in held:
                await send(message)  # uvicorn ignores sends after the client has gone
        else:
            await self._drop(app, scope, receive, send)

    async def _drop(self, app: ASGIApp, scope: Scope, receive: Receive, send: Send) -> None:
        async def swallow(message: Message) -> None:
            del message  # the request takes effect; only its answer is lost

        await app(scope, receive, swallow)
        mode = self._config.drop_mode
        if mode == "mixed":
            with self._lock:
                mode = self._rng.choice(("error", "abort"))
        if mode == "error":
            await _send_json(send, 500, _server_error(500))
            return
        # Promise a body, send part of it and return: uvicorn then closes the connection,
        # which the client sees as a broken response rather than an HTTP error.
        _ABORTING.set(True)
        headers = [(b"content-type", b"application/json"), (b"content-length", b"4096")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": b'{"id": "', "more_body": True})


def _server_error(status: int) -> dict[str, Any]:
    messages = {
        500: "The server had an error while processing your request (tuneops sandbox fault injection).",
        502: "Bad gateway (tuneops sandbox fault injection).",
        503: "The engine is currently overloaded, please try again later (tuneops sandbox fault injection).",
    }
    return error_body(messages[status], type_="server_error")


async def _send_json(
    send: Send, status: int, body: dict[str, Any], extra: list[tuple[bytes, bytes]] | None = None
) -> None:
    payload = json.dumps(body).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(payload)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers + (extra or [])})
    await send({"type": "http.response.body", "body": payload})


class _AbortLogFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return not _ABORTING.get()


def install_abort_log_filter() -> None:
    """Keep uvicorn from logging deliberately aborted responses as application errors."""
    logger = logging.getLogger("uvicorn.error")
    if not any(isinstance(f, _AbortLogFilter) for f in logger.filters):
        logger.addFilter(_AbortLogFilter())
