"""OpenAI wire-format helpers for the sandbox: error bodies, JSON bodies, cursor pages."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from starlette.requests import Request
from starlette.responses import JSONResponse

__all__ = [
    "ApiError",
    "bad_request",
    "cursor_page",
    "error_body",
    "int_param",
    "not_found",
    "read_json",
]

T = TypeVar("T")

_ERROR_TYPES = {
    400: "invalid_request_error",
    401: "invalid_request_error",
    404: "invalid_request_error",
    405: "invalid_request_error",
    409: "invalid_request_error",
    413: "invalid_request_error",
    429: "requests",  # OpenAI names the exhausted limit here; "requests" for request-rate limits
    500: "server_error",
    502: "server_error",
    503: "server_error",
}


class ApiError(Exception):
    """An error to send back as an OpenAI-shaped error body."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        param: str | None = None,
        code: str | None = None,
        type_: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.param = param
        self.code = code
        self.type = type_ or _ERROR_TYPES.get(status, "invalid_request_error")
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        """The JSON body OpenAI sends for this error."""
        return error_body(self.message, type_=self.type, param=self.param, code=self.code)

    def response(self) -> JSONResponse:
        """This error as a starlette response."""
        return JSONResponse(self.body(), status_code=self.status, headers=self.headers)


def error_body(message: str, *, type_: str, param: str | None = None, code: str | None = None) -> dict[str, Any]:
    """``{"error": {message, type, param, code}}`` as OpenAI returns it."""
    return {"error": {"message": message, "type": type_, "param": param, "code": code}}


def bad_request(message: str, *, param: str | None = None, code: str | None = None) -> ApiError:
    """A 400 invalid_request_error."""
    return ApiError(400, message, param=param, code=code)


def not_found(kind: str, object_id: str, *, param: str | None = None) -> ApiError:
    """A 404 for an object that does not exist."""
    return ApiError(404, f"No such {kind}: '{object_id}'.", param=param, code=None)


async def read_json(request: Request) -> dict[str, Any]:
    """The request body as a JSON object, or a 400 like OpenAI's."""
    raw = await request.body()
    try:
        body = json.loads(raw or b"{}")
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise bad_request(
            "We could not parse the JSON body of your request. The OpenAI API expects a JSON payload."
        ) from exc
    if not isinstance(body, dict):
        raise bad_request("The request body must be a JSON object.")
    return body


def int_param(request: Request, name: str, default: int, *, low: int, high: int) -> int:
    """An integer query parameter within ``[low, high]``."""
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError as exc:
        raise bad_request(f"Invalid '{name}': expected an integer, got {raw!r}.", param=name) from exc
    if not low <= value <= high:
        raise bad_request(
            f"Invalid '{name}': {value} is out of range; expected a value from {low} to {high}.",
            param=name,
            code="integer_out_of_range",
        )
    return value


def cursor_page(
    items: Sequence[T],
    *,
    after: str | None,
    limit: int,
    id_of: Callable[[T], str],
    render: Callable[[T], dict[str, Any]],
) -> dict[str, Any]:
    """One page of ``items`` (already in list order) after the item with id ``after``."""
    start = 0
    if after:
        ids = [id_of(item) for item in items]
        if after not in ids:
            raise bad_request(f"Invalid 'after': no object with id '{after}' in this list.", param="after")
        start = ids.index(after) + 1
    page = items[start : start + limit]
    data = [render(item) for item in page]
    return {
        "object": "list",
        "data": data,
        "has_more": start + limit < len(items),
        "first_id": data[0]["id"] if data else None,
        "last_id": data[-1]["id"] if data else None,
    }
