"""The sandbox ASGI application: OpenAI-compatible ``/v1`` routes plus ``/_sandbox`` admin.

It speaks enough of the OpenAI fine-tuning wire protocol for the official ``openai``
SDK to work against it unchanged. It is a local stand-in, not an LLM.
"""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import BaseRoute, Match
from starlette.types import Receive, Scope, Send

from . import admin, routes_deployments, routes_files, routes_inference, routes_jobs
from .faults import FaultInjector
from .state import SandboxState
from .wire import ApiError, error_body

__all__ = ["ApiGate", "build_app"]


def route_template(routes: list[BaseRoute], scope: Scope) -> str:
    """The route template (``/v1/files/{file_id}``) a request falls under, or its raw path."""
    partial = None
    for route in routes:
        match, _ = route.matches(scope)
        if match == Match.FULL:
            return getattr(route, "path", scope["path"])
        if match == Match.PARTIAL and partial is None:
            partial = getattr(route, "path", None)  # right path, wrong method
    return partial or scope["path"]


def _has_bearer(scope: Scope) -> bool:
    return any(name == b"authorization" and value[:7].lower() == b"bearer " for name, value in scope["headers"])


class ApiGate:
    """Counts ``/v1`` requests, checks for a bearer token, and applies fault injection."""

    def __init__(self, app: Starlette, state: SandboxState, faults: FaultInjector) -> None:
        self.app, self.state, self.faults = app, state, faults

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """ASGI entry point."""
        path = scope.get("path", "")
        if scope["type"] != "http" or not (path == "/v1" or path.startswith("/v1/")):
            await self.app(scope, receive, send)
            return
        key = f"{scope['method']} {route_template(self.app.routes, scope)}"
        self.state.count_request(key)
        if not _has_bearer(scope):
            error = ApiError(
                401,
                "You didn't provide an API key. Send 'Authorization: Bearer <any key>'; the sandbox accepts any key.",
            )
            await error.response()(scope, receive, send)
            return
        await self.faults.handle(key, self.app, scope, receive, send)


async def _api_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ApiError)
    return exc.response()


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HTTPException)
    if exc.status_code == 404:
        message = f"Invalid URL ({request.method} {request.url.path})"
    elif exc.status_code == 405:
        message = f"Method not allowed: {request.method} {request.url.path}"
    else:
        message = str(exc.detail)
    body = error_body(message, type_="invalid_request_error")
    return JSONResponse(body, status_code=exc.status_code, headers=exc.headers)


async def _server_error(request: Request, exc: Exception) -> JSONResponse:
    del request
    body = error_body(f"The sandbox failed while handling the request: {exc!r}", type_="server_error")
    return JSONResponse(body, status_code=500)


def build_app(state: SandboxState, faults: FaultInjector | None = None) -> ApiGate:
    """The complete ASGI app over ``state``."""
    injector = faults or FaultInjector(on_fault=state.count_fault)
    app = Starlette(
        routes=[*routes_files.routes, *routes_jobs.routes, *routes_inference.routes, *routes_deployments.routes,
                *admin.routes],
        exception_handlers={ApiError: _api_error, HTTPException: _http_error, Exception: _server_error},
    )
    app.state.sandbox = state
    app.state.faults = injector
    return ApiGate(app, state, injector)
