"""``/v1/models`` and ``/v1/chat/completions`` routes of the sandbox.

Chat answers come from the retrieval learner (fine-tuned models) or a fixed reply
(base models): a deterministic local stand-in, not an LLM, so ``temperature`` and
similar sampling settings change nothing.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from .data import MESSAGE_OVERHEAD_TOKENS, TOKEN_RE, Message, count_tokens, message_text
from .state import SandboxState
from .wire import bad_request, read_json

__all__ = ["routes"]

_SYSTEM_FINGERPRINT = "fp_tuneops_sandbox"


def _state(request: Request) -> SandboxState:
    return request.app.state.sandbox


async def list_models(request: Request) -> JSONResponse:
    """Base models and every fine-tuned model the sandbox has produced."""
    return JSONResponse({"object": "list", "data": _state(request).list_models()})


async def get_model(request: Request) -> JSONResponse:
    """One model."""
    return JSONResponse(_state(request).get_model(request.path_params["model_id"]))


async def delete_model(request: Request) -> JSONResponse:
    """Delete a fine-tuned model."""
    return JSONResponse(_state(request).delete_model(request.path_params["model_id"]))


def _messages(raw: object) -> list[Message]:
    if not isinstance(raw, list) or not raw:
        raise bad_request("Invalid 'messages': expected a non-empty array.", param="messages")
    out = []
    for idx, item in enumerate(raw):
        if not isinstance(item, dict) or not isinstance(item.get("role"), str):
            raise bad_request(f"Invalid 'messages[{idx}]': expected an object with a 'role'.", param=f"messages[{idx}]")
        text = message_text(item.get("content"))
        if text is None:
            raise bad_request(f"Invalid 'messages[{idx}].content'.", param=f"messages[{idx}].content")
        out.append(Message(item["role"], text))
    return out


def _truncate(text: str, limit: int | None) -> tuple[str, str]:
    """Cut ``text`` after ``limit`` approximate tokens; returns (text, finish_reason)."""
    if limit is None:
        return text, "stop"
    matches = list(TOKEN_RE.finditer(text))
    if len(matches) <= limit:
        return text, "stop"
    return (text[: matches[limit - 1].end()] if limit else ""), "length"


def _int_setting(body: dict[str, object], name: str, low: int, high: int) -> int | None:
    value = body.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise bad_request(f"Invalid '{name}': expected an integer from {low} to {high}.", param=name)
    return value


async def chat_completion(request: Request) -> JSONResponse:
    """A non-streaming chat completion."""
    body = await read_json(request)
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise bad_request("Missing required parameter: 'model'.", param="model", code="missing_required_parameter")
    if "messages" not in body:
        raise bad_request(
            "Missing required parameter: 'messages'.", param="messages", code="missing_required_parameter"
        )
    messages = _messages(body["messages"])
    if body.get("stream"):
        raise bad_request("The tuneops sandbox does not support streaming; set stream=false.", param="stream")
    n = _int_setting(body, "n", 1, 128) or 1
    limit = _int_setting(body, "max_completion_tokens", 0, 1_000_000)
    if limit is None:
        limit = _int_setting(body, "max_tokens", 0, 1_000_000)
    state = _state(request)
    from .routes_deployments import served_model

    responder = state.responder(served_model(request, model))
    reply, finish = _truncate(responder.answer(messages), limit)
    prompt_tokens = sum(count_tokens(m.text) + MESSAGE_OVERHEAD_TOKENS for m in messages) + MESSAGE_OVERHEAD_TOKENS
    completion_tokens = count_tokens(reply) * n
    choice = {"message": {"role": "assistant", "content": reply, "refusal": None, "annotations": []}}
    return JSONResponse(
        {
            "id": state.new_id("chatcmpl-", 29),
            "object": "chat.completion",
            "created": int(state.now()),
            "model": model,
            "choices": [{"index": i, "finish_reason": finish, "logprobs": None, **choice} for i in range(n)],
            "usage": {
                "prompt_tokens": prompt_tokens,
                "completion_tokens": completion_tokens,
                "total_tokens": prompt_tokens + completion_tokens,
            },
            "service_tier": "default",
            "system_fingerprint": _SYSTEM_FINGERPRINT,
        }
    )


routes = [
    Route("/v1/models", list_models, methods=["GET"]),
    Route("/v1/models/{model_id}", get_model, methods=["GET"]),
    Route("/v1/models/{model_id}", delete_model, methods=["DELETE"]),
    Route("/v1/chat/completions", chat_completion, methods=["POST"]),
]
