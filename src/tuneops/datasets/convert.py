"""Converters: canonical records -> each provider's JSONL format, as pure functions.

A feature the target format cannot express (tool calls for Bedrock, weight 0 for Gemini, a system
prompt for prompt/completion, ...) is a ``ConversionError``, and preflight reports the same problems
as errors before anything is written: nothing is silently dropped. Keys outside the canonical
schema (an ``id`` or ``metadata`` you keep for yourself) are not sent; preflight warns about them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

import orjson

from tuneops.datasets.records import (
    CHAT_KEYS,
    INPUT_KEYS,
    MESSAGE_KEYS,
    METHOD_KIND,
    has_non_text_parts,
    kind,
    text_of,
)
from tuneops.errors import DatasetError

FORMATS = ("openai_chat", "mistral_chat", "gemini", "bedrock_conversation", "bedrock_prompt_completion")

Problem = tuple[str, str]  # (field path, message)


class ConversionError(DatasetError):
    """A record uses a feature the target format cannot express; names the record and the field."""

    def __init__(self, index: int | None, message: str, field: str | None = None, fmt: str = ""):
        self.index = index
        self.field = field
        self.fmt = fmt
        self.reason = message
        where = f"record {index}" if index is not None else "record"
        fld = f" {field}:" if field else ""
        super().__init__(f"{where}:{fld} {message}")


def _msgs(record: Mapping[str, Any]) -> list[Any]:
    m = record.get("messages")
    return m if isinstance(m, list) else []


def _tool_problems(record: Mapping[str, Any], fmt: str, prefix: str = "") -> list[Problem]:
    out: list[Problem] = []
    for key in ("tools", "functions", "parallel_tool_calls"):
        # parallel_tool_calls = false asks for what a format without tools does anyway.
        if record.get(key) is not None and not (key == "parallel_tool_calls" and record[key] is False):
            out.append((prefix + key, f"{fmt} cannot express tool definitions ({key})"))
    for i, m in enumerate(_msgs(record)):
        if not isinstance(m, Mapping):
            continue
        for key in ("tool_calls", "function_call", "tool_call_id"):
            if m.get(key) is not None:
                out.append((f"{prefix}messages[{i}].{key}", f"{fmt} cannot express tool calls"))
        if m.get("role") in ("tool", "function"):
            out.append((f"{prefix}messages[{i}].role", f"{fmt} cannot express {m.get('role')} messages"))
    return out


def _common_problems(record: Mapping[str, Any], fmt: str, prefix: str = "",
                     *, weight: bool = False, name: bool = False, images: bool = False) -> list[Problem]:
    out: list[Problem] = []
    for i, m in enumerate(_msgs(record)):
        if not isinstance(m, Mapping):
            continue
        if not weight and m.get("weight") == 0:
            out.append((f"{prefix}messages[{i}].weight", f"{fmt} cannot express weight 0 (untrained turns)"))
        if not name and m.get("name") is not None:
            out.append((f"{prefix}messages[{i}].name", f"{fmt} cannot express a message name"))
        if not images and has_non_text_parts(m.get("content")):
            out.append((f"{prefix}messages[{i}].content", f"{fmt} cannot express image content parts"))
        if m.get("role") in ("developer",):
            out.append((f"{prefix}messages[{i}].role", f"{fmt} cannot express developer messages"))
    return out


def _leading_system(msgs: list[Any], fmt: str, prefix: str = "") -> tuple[str | None, list[Any], list[Problem]]:
    """Split off one leading system message; later or repeated ones are problems."""
    system = None
    rest = list(msgs)
    out: list[Problem] = []
    if rest and isinstance(rest[0], Mapping) and rest[0].get("role") == "system":
        system = text_of(rest[0].get("content"))
        rest = rest[1:]
    for i, m in enumerate(rest, start=1 if system is not None else 0):
        if isinstance(m, Mapping) and m.get("role") == "system":
            out.append((f"{prefix}messages[{i}].role",
                        f"{fmt} has one system instruction at the start; cannot express this system message"))
    return system, rest, out


def _alternation(msgs: list[Any], fmt: str, offset: int, *, end_with: str | None, prefix: str = "") -> list[Problem]:
    out: list[Problem] = []
    expected = "user"
    for i, m in enumerate(msgs, start=offset):
        role = m.get("role") if isinstance(m, Mapping) else None
        if role in ("user", "assistant"):
            if role != expected:
                out.append((f"{prefix}messages[{i}].role",
                            f"{fmt} needs turns that alternate user/assistant starting with user; got {role}"))
            expected = "assistant" if role == "user" else "user"
    last = msgs[-1].get("role") if msgs and isinstance(msgs[-1], Mapping) else None
    if end_with and last != end_with:
        out.append((f"{prefix}messages", f"{fmt} needs the conversation to end with a {end_with} turn"))
    return out


# -- per-format problem finders --------------------------------------------------------------------

def _openai_problems(record: Mapping[str, Any], k: str) -> list[Problem]:
    return []


def _mistral_problems(record: Mapping[str, Any], k: str) -> list[Problem]:
    if k == "preference":
        return [("input", "mistral_chat has no preference (DPO) format; use method sft")]
    out = _common_problems(record, "mistral_chat", weight=True)
    for key in ("functions", "parallel_tool_calls"):
        if record.get(key) is not None:
            out.append((key, f"mistral_chat cannot express {key}"))
    for i, m in enumerate(_msgs(record)):
        if isinstance(m, Mapping) and (m.get("function_call") is not None or m.get("role") == "function"):
            out.append((f"messages[{i}]", "mistral_chat cannot express deprecated function calls; use tool_calls"))
    return out


def _gemini_problems(record: Mapping[str, Any], k: str) -> list[Problem]:
    fmt = "gemini"
    if k == "chat":
        out = _common_problems(record, fmt) + _tool_problems(record, fmt)
        _, _, sys_problems = _leading_system(_msgs(record), fmt)
        return out + sys_problems
    inp = record.get("input") if isinstance(record.get("input"), Mapping) else {}
    out = _common_problems(inp, fmt, "input.") + _tool_problems(inp, fmt, "input.")
    _system, rest, sys_problems = _leading_system(_msgs(inp), fmt, "input.")
    out += sys_problems
    last = rest[-1] if rest else None
    if not (isinstance(last, Mapping) and last.get("role") == "user"):
        out.append(("input.messages", "gemini preference data needs the input to end with a user turn"))
    for key in ("preferred_output", "non_preferred_output"):
        msgs = record.get(key)
        if not (isinstance(msgs, list) and len(msgs) == 1 and isinstance(msgs[0], Mapping)
                and isinstance(msgs[0].get("content"), str)):
            out.append((key, "gemini preference data needs exactly one text assistant message"))
        else:
            out += _common_problems({"messages": msgs}, fmt, key + ".") + _tool_problems({"messages": msgs}, fmt,
                                                                                          key + ".")
    return out


def _bedrock_conv_problems(record: Mapping[str, Any], k: str) -> list[Problem]:
    fmt = "bedrock_conversation"
    if k == "preference":
        return [("input", f"{fmt} has no preference (DPO) format; use method sft")]
    out = _common_problems(record, fmt) + _tool_problems(record, fmt)
    system, rest, sys_problems = _leading_system(_msgs(record), fmt)
    return out + sys_problems + _alternation(rest, fmt, 1 if system is not None else 0, end_with="assistant")


def _bedrock_pc_problems(record: Mapping[str, Any], k: str) -> list[Problem]:
    fmt = "bedrock_prompt_completion"
    if k == "preference":
        return [("input", f"{fmt} has no preference (DPO) format; use method sft")]
    out = _common_problems(record, fmt) + _tool_problems(record, fmt)
    roles = [m.get("role") if isinstance(m, Mapping) else None for m in _msgs(record)]
    if roles != ["user", "assistant"]:
        if "system" in roles:
            out.append(("messages", f"{fmt} cannot express a system prompt; fold it into the user turn "
                                    "or pick a conversational model"))
        out.append(("messages", f"{fmt} needs exactly one user turn then one assistant turn; "
                                f"got {len(roles)} messages ({', '.join(map(str, roles))})"))
    return out


PROBLEMS: dict[str, Callable[[Mapping[str, Any], str], list[Problem]]] = {
    "openai_chat": _openai_problems,
    "mistral_chat": _mistral_problems,
    "gemini": _gemini_problems,
    "bedrock_conversation": _bedrock_conv_problems,
    "bedrock_prompt_completion": _bedrock_pc_problems,
}


def problems(record: Mapping[str, Any], fmt: str) -> list[Problem]:
    """What in ``record`` the format ``fmt`` cannot express; empty when it converts losslessly."""
    k = kind(record)
    if k is None:
        return [("", "not a canonical chat or preference record")]
    return PROBLEMS[fmt](record, k)


# -- converters --------------------------------------------------------------------------------------

def _clean_message(m: Mapping[str, Any]) -> dict[str, Any]:
    return {key: m[key] for key in m if key in MESSAGE_KEYS}


def _openai(record: Mapping[str, Any], k: str) -> dict[str, Any]:
    if k == "chat":
        out: dict[str, Any] = {"messages": [_clean_message(m) for m in record["messages"]]}
        out.update({key: record[key] for key in record if key in CHAT_KEYS and key != "messages"})
        return out
    inp = record["input"]
    return {"input": {"messages": [_clean_message(m) for m in inp["messages"]],
                      **{key: inp[key] for key in inp if key in INPUT_KEYS and key != "messages"}},
            "preferred_output": [_clean_message(m) for m in record["preferred_output"]],
            "non_preferred_output": [_clean_message(m) for m in record["non_preferred_output"]]}


def _mistral(record: Mapping[str, Any], k: str) -> dict[str, Any]:
    msgs = []
    for m in record["messages"]:
        out = {"role": m["role"], "content": m.get("content")}
        for key in ("tool_calls", "tool_call_id"):
            if m.get(key) is not None:
                out[key] = m[key]
        if "weight" in m:
            out["weight"] = m["weight"]
        msgs.append(out)
    result: dict[str, Any] = {"messages": msgs}
    if record.get("tools") is not None:
        result["tools"] = record["tools"]
    return result


def _parts(content: Any) -> list[dict[str, str]]:
    return [{"text": text_of(content) or ""}]


def _gemini_contents(msgs: list[Mapping[str, Any]]) -> list[dict[str, Any]]:
    return [{"role": "model" if m["role"] == "assistant" else "user", "parts": _parts(m.get("content"))}
            for m in msgs]


def _gemini(record: Mapping[str, Any], k: str) -> dict[str, Any]:
    if k == "chat":
        system, rest, _ = _leading_system(record["messages"], "gemini")
        out: dict[str, Any] = {}
        if system is not None:
            out["systemInstruction"] = {"role": "system", "parts": [{"text": system}]}
        out["contents"] = _gemini_contents(rest)
        return out
    system, rest, _ = _leading_system(record["input"]["messages"], "gemini")
    out = {}
    if system is not None:
        out["system_instruction"] = {"parts": [{"text": system}]}
    out["contents"] = _gemini_contents(rest)
    out["completions"] = [
        {"score": 1, "completion": {"role": "model", "parts": _parts(record["preferred_output"][0]["content"])}},
        {"score": 0, "completion": {"role": "model",
                                    "parts": _parts(record["non_preferred_output"][0]["content"])}},
    ]
    return out


def _bedrock_conv(record: Mapping[str, Any], k: str) -> dict[str, Any]:
    system, rest, _ = _leading_system(record["messages"], "bedrock_conversation")
    out: dict[str, Any] = {"schemaVersion": "bedrock-conversation-2024"}
    if system is not None:
        out["system"] = [{"text": system}]
    out["messages"] = [{"role": m["role"], "content": [{"text": text_of(m.get("content")) or ""}]} for m in rest]
    return out


def _bedrock_pc(record: Mapping[str, Any], k: str) -> dict[str, Any]:
    user, assistant = record["messages"]
    return {"prompt": text_of(user.get("content")) or "", "completion": text_of(assistant.get("content")) or ""}


CONVERTERS: dict[str, Callable[[Mapping[str, Any], str], dict[str, Any]]] = {
    "openai_chat": _openai,
    "mistral_chat": _mistral,
    "gemini": _gemini,
    "bedrock_conversation": _bedrock_conv,
    "bedrock_prompt_completion": _bedrock_pc,
}


def convert_record(record: Mapping[str, Any], fmt: str, method: str, index: int | None = None) -> dict[str, Any]:
    """One canonical record as a JSON object in format ``fmt``; raises ConversionError."""
    if fmt not in CONVERTERS:
        raise ConversionError(index, f"unknown data format {fmt!r}; known: {', '.join(FORMATS)}", fmt=fmt)
    k = kind(record)
    want = METHOD_KIND.get(method)
    if want is None:
        raise ConversionError(index, f"unknown method {method!r}; use sft or dpo", fmt=fmt)
    if k != want:
        got = "not a canonical record" if k is None else f"a {k} record"
        raise ConversionError(index, f"method {method} needs {want} records; this is {got}", fmt=fmt)
    found = PROBLEMS[fmt](record, k)
    if found:
        field, message = found[0]
        more = f" (and {len(found) - 1} more problems)" if len(found) > 1 else ""
        raise ConversionError(index, message + more, field or None, fmt)
    try:
        return CONVERTERS[fmt](record, k)
    except (KeyError, TypeError, ValueError, AttributeError, IndexError) as exc:
        raise ConversionError(index, f"record does not follow the canonical schema ({type(exc).__name__}: "
                                     f"{exc}); run `tuneops validate`", fmt=fmt) from None


def convert(records: Iterable[Mapping[str, Any]], fmt: str, method: str) -> Iterator[bytes]:
    """Canonical records -> encoded JSONL lines (each ending in a newline) in format ``fmt``."""
    for index, record in enumerate(records, start=1):
        yield orjson.dumps(convert_record(record, fmt, method, index)) + b"\n"
