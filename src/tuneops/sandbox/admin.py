"""``/_sandbox`` admin routes: health, stats, fault settings, reset. No auth, never faulted."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from .faults import FaultConfig, FaultInjector
from .state import SandboxState
from .wire import bad_request, read_json

__all__ = ["routes"]


def _state(request: Request) -> SandboxState:
    return request.app.state.sandbox


def _faults(request: Request) -> FaultInjector:
    return request.app.state.faults


async def health(request: Request) -> JSONResponse:
    """Liveness check."""
    del request
    return JSONResponse({"status": "ok", "service": "tuneops sandbox (local stand-in, not an LLM)"})


async def stats(request: Request) -> JSONResponse:
    """Request counts per ``"METHOD /route/template"``, injected faults, and jobs by status."""
    return JSONResponse(_state(request).stats())


async def reset_stats(request: Request) -> JSONResponse:
    """Zero the request and fault counters; files and jobs stay."""
    state = _state(request)
    state.reset_stats()
    return JSONResponse(state.stats())


async def reset(request: Request) -> JSONResponse:
    """Forget everything: files, uploads, jobs, models and counters."""
    state = _state(request)
    state.reset()
    return JSONResponse(state.stats())


async def get_faults(request: Request) -> JSONResponse:
    """The fault-injection settings in force."""
    return JSONResponse(_faults(request).config.to_dict())


async def set_faults(request: Request) -> JSONResponse:
    """Replace the fault-injection settings; omitted fields take their defaults (``{}`` turns faults off)."""
    body = await read_json(request)
    try:
        config = FaultConfig.from_dict(body)
    except ValueError as exc:
        raise bad_request(f"Invalid fault settings: {exc}.") from exc
    _faults(request).configure(config)
    return JSONResponse(config.to_dict())


routes = [
    Route("/_sandbox/health", health, methods=["GET"]),
    Route("/_sandbox/stats", stats, methods=["GET"]),
    Route("/_sandbox/reset-stats", reset_stats, methods=["POST"]),
    Route("/_sandbox/reset", reset, methods=["POST"]),
    Route("/_sandbox/faults", get_faults, methods=["GET"]),
    Route("/_sandbox/faults", set_faults, methods=["POST"]),
]
