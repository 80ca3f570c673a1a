"""The canonical dataset records: chat SFT and preference (DPO) examples, as plain JSON objects.

Chat SFT::

    {"messages": [{"role": "system"|"user"|"assistant"|"tool", "content": "...",
                   "weight": 0|1 (assistant only), "tool_calls": [...] (assistant),
                   "tool_call_id": "..." (tool), "name": "..."}],
     "tools": [{"type": "function", "function": {"name", "description", "parameters"}}],
     "parallel_tool_calls": bool}

Preference (DPO)::

    {"input": {"messages": [...], "tools": [...]},
     "preferred_output": [{"role": "assistant", "content": "..."}],
     "non_preferred_output": [{"role": "assistant", "content": "..."}]}

The full description with examples is the "Dataset formats" section of ``jobs/README.md``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

Kind = Literal["chat", "preference"]

ROLES = frozenset({"system", "user", "assistant", "tool"})
# Accepted with a warning: deprecated (function) or not confirmed for fine-tuning (developer).
SOFT_ROLES = frozenset({"function", "developer"})
MESSAGE_KEYS = frozenset({"role", "content", "name", "weight", "tool_calls", "tool_call_id",
                          "function_call", "refusal"})
CHAT_KEYS = frozenset({"messages", "tools", "parallel_tool_calls", "functions"})
PREFERENCE_KEYS = frozenset({"input", "preferred_output", "non_preferred_output"})
INPUT_KEYS = frozenset({"messages", "tools", "parallel_tool_calls"})
CONTENT_PART_TYPES = frozenset({"text", "image_url"})


def kind(record: Any) -> Kind | None:
    """Which canonical format a parsed line is in, or None."""
    if not isinstance(record, Mapping):
        return None
    if "messages" in record:
        return "chat"
    if "input" in record or "preferred_output" in record or "non_preferred_output" in record:
        return "preference"
    return None


METHOD_KIND: dict[str, Kind] = {"sft": "chat", "dpo": "preference"}


def text_of(content: Any) -> str | None:
    """The text of a message's content: the string itself, or the joined text parts; None otherwise."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        texts = [p.get("text") for p in content
                 if isinstance(p, Mapping) and p.get("type") == "text" and isinstance(p.get("text"), str)]
        return "\n".join(texts) if texts else None
    return None


def has_non_text_parts(content: Any) -> bool:
    """True when a content list carries parts other than text (images)."""
    return isinstance(content, list) and any(
        not (isinstance(p, Mapping) and p.get("type") == "text") for p in content)


def messages_of(record: Mapping[str, Any]) -> list[Any]:
    """Every message of a record in order (for preference: input, then both outputs)."""
    if "messages" in record:
        msgs = record.get("messages")
        return list(msgs) if isinstance(msgs, list) else []
    inp = record.get("input")
    out: list[Any] = []
    if isinstance(inp, Mapping) and isinstance(inp.get("messages"), list):
        out.extend(inp["messages"])
    for key in ("preferred_output", "non_preferred_output"):
        if isinstance(record.get(key), list):
            out.extend(record[key])
    return out
