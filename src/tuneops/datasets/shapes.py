"""Message and tool-call shape checks: the slow paths of ``checks``, taken only when a line is unusual.

Each function appends ``(severity, code, field, message)`` items to ``out``; none raises on any input.
"""

from __future__ import annotations

import functools
import re
from typing import Any

import orjson

from tuneops.datasets.records import CONTENT_PART_TYPES, SOFT_ROLES

Item = tuple[str, str, "str | None", str]  # (severity, code, field, message)

_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


def dumps_text(value: Any) -> str:
    """Compact JSON text of a value (what tool schemas and calls are counted as)."""
    try:
        return orjson.dumps(value).decode()
    except (TypeError, orjson.JSONEncodeError):
        return str(value)


class ParseFailure:
    """A line that is not JSON, kept with its parse error until its result is built."""

    __slots__ = ("exc", "raw")

    def __init__(self, raw: bytes, exc: Exception):
        self.raw = raw
        self.exc = exc


def collect_texts(record: Any, texts: list[str], repeatable: list[str]) -> None:
    """The string contents of a record's messages (what the batch tokenizes up front); system
    prompts go to ``repeatable`` (they are the strings most likely to repeat across examples)."""
    if type(record) is not dict:
        return
    groups = [record.get("messages")]
    inp = record.get("input")
    if type(inp) is dict:
        groups.append(inp.get("messages"))
    groups.append(record.get("preferred_output"))
    groups.append(record.get("non_preferred_output"))
    for msgs in groups:
        if type(msgs) is list:
            for m in msgs:
                if type(m) is dict:
                    c = m.get("content")
                    if type(c) is str:
                        (repeatable if m.get("role") == "system" else texts).append(c)


def loc(prefix: str, i: int, output: bool) -> str:
    """Field path of message ``i`` (built only when there is something to report)."""
    return f"{prefix}[{i}]" if output else f"{prefix}messages[{i}]"


def jtype(value: Any) -> str:
    """How a JSON value's type reads in a message ("an object", "a list", ...)."""
    return {dict: "an object", list: "a list", str: "a string", bool: "a boolean", int: "a number",
            float: "a number", type(None): "null"}.get(type(value), type(value).__name__)


def parse_problem(raw: bytes, exc: Exception) -> Item:
    """Why a line did not parse: bad UTF-8, NUL bytes (UTF-16?) or invalid JSON with its column."""
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError as uexc:
        return ("error", "encoding.utf8", None,
                f"not valid UTF-8 at byte {uexc.start + 1} ({raw[uexc.start:uexc.start + 4]!r}); "
                "save the file as UTF-8")
    if b"\x00" in raw:
        return ("error", "encoding.nul", None, "line contains NUL bytes (UTF-16 or binary data?)")
    msg = getattr(exc, "msg", str(exc))
    pos = getattr(exc, "pos", None)
    if pos is None:
        return ("error", "json.invalid", None, f"not valid JSON: {msg}")
    # The parser counts the line ending as a new line: a line cut short would read "line 2, column 1".
    text = raw.decode("utf-8", "replace").rstrip("\r\n")
    if pos >= len(text):
        return ("error", "json.invalid", None,
                f"not valid JSON: the line ends at column {len(text) + 1} before the JSON value does (truncated?)")
    return ("error", "json.invalid", None, f"not valid JSON: {msg} at column {pos + 1}")


def repeated_phrase(text: str) -> tuple[str, int] | None:
    """A phrase that one long reply repeats many times, and how often (None for ordinary text).

    In a text that is one phrase over and over, a window from the middle recurs one phrase length
    later; in prose it does not recur at all. ``str.find`` and ``str.count`` run at memory speed.
    """
    n = len(text)
    mid = n // 2
    window = text[mid:mid + 16]
    j = text.find(window, mid + 1)
    if j < 0 or j - mid > 400:
        return None
    phrase = text[mid:j]
    count = text.count(phrase)
    if count >= 50 and count * len(phrase) >= n // 4:
        return phrase, count
    return None


def duplicate_keys(raw: bytes) -> list[str]:
    """Keys that appear twice in one JSON object of the line (JSON parsers keep only the last value)."""
    import json

    found: list[str] = []

    def hook(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        seen: set[str] = set()
        for k, _ in pairs:
            if k in seen and k not in found:
                found.append(k)
            seen.add(k)
        return dict(pairs)

    try:
        json.loads(raw, object_pairs_hook=hook)
    except (ValueError, RecursionError):
        return []
    return found


def part_text(value: Any) -> str:
    """The text parts of non-string content; images are not counted."""
    if type(value) is list:
        return "\n".join(p["text"] for p in value
                         if type(p) is dict and p.get("type") == "text" and type(p.get("text")) is str)
    return dumps_text(value)


def role_problem(m: dict[str, Any], role: Any, where: str, out: list[Item]) -> None:
    """A missing, unknown, deprecated or unconfirmed role."""
    if "role" not in m:
        out.append(("error", "message.role_missing", where, "message has no role"))
    elif type(role) is str and role in SOFT_ROLES:
        why = "deprecated; use tool" if role == "function" else "not confirmed for fine-tuning; use system"
        out.append(("warning", "message.role_soft", f"{where}.role", f"role {role!r} is {why}"))
    else:
        out.append(("error", "message.role_unknown", f"{where}.role",
                    f"unknown role {role!r}; use system, user, assistant or tool"))


def content_problem(m: dict[str, Any], role: Any, content: Any, where: str, out: list[Item]) -> str | None:
    """Check non-string content (null, parts, other types); returns the text it holds."""
    if content is None:
        if role == "assistant" and (m.get("tool_calls") or m.get("function_call")):
            return None
        what = "missing" if "content" not in m else "null"
        out.append(("error", "message.content_missing", f"{where}.content",
                    f"content is {what}" + ("; only assistant turns with tool_calls may omit it"
                                            if role == "assistant" else "")))
        return None
    if type(content) is list:
        texts = []
        if not content:
            out.append(("error", "message.content_empty", f"{where}.content", "content is an empty list"))
        for j, p in enumerate(content):
            ptype = p.get("type") if type(p) is dict else None
            if ptype not in CONTENT_PART_TYPES:
                out.append(("error", "message.content_part", f"{where}.content[{j}]",
                            "a content part must be {\"type\": \"text\", \"text\": ...} or an image_url part"))
            elif ptype == "text":
                if type(p.get("text")) is not str or not p["text"].strip():
                    out.append(("error", "message.content_empty", f"{where}.content[{j}].text",
                                "text part is empty or not a string"))
                else:
                    texts.append(p["text"])
            else:
                url = p.get("image_url")
                if not (type(url) is dict and type(url.get("url")) is str):
                    out.append(("error", "message.content_part", f"{where}.content[{j}].image_url",
                                "image_url part needs {\"url\": \"...\"}"))
                else:
                    out.append(("info", "message.image", f"{where}.content[{j}]",
                                "image part: not counted in token totals"))
        return "\n".join(texts)
    out.append(("error", "message.content_type", f"{where}.content",
                f"content must be a string (or a list of content parts); got {jtype(content)}"))
    return None


def check_weight(weight: Any, where: str, out: list[Item]) -> None:
    """``weight`` must be the integer 0 or 1."""
    if type(weight) is not int or weight not in (0, 1):
        out.append(("error", "weight.value", f"{where}.weight", f"weight must be 0 or 1; got {weight!r}"))


def declared_tool_names(tools: Any, functions: Any = None) -> dict[str, Any] | None:
    """Declared functions by name, with their parameter schemas (None when nothing is declared)."""
    if type(tools) is not list and type(functions) is not list:
        return None
    out: dict[str, Any] = {}
    for t in tools if type(tools) is list else ():
        if type(t) is dict and type(t.get("function")) is dict and type(t["function"].get("name")) is str:
            out[t["function"]["name"]] = t["function"].get("parameters")
    for f in functions if type(functions) is list else ():
        if type(f) is dict and type(f.get("name")) is str:
            out[f["name"]] = f.get("parameters")
    return out


def check_tools(tools: Any, where: str, out: list[Item]) -> None:
    """Tool definitions: a non-empty list of uniquely named functions with object parameters."""
    if type(tools) is not list or not tools:
        out.append(("error", "tools.shape", where, "tools must be a non-empty list of tool definitions"))
        return
    seen: set[str] = set()
    for i, t in enumerate(tools):
        fn = t.get("function") if type(t) is dict else None
        if type(t) is not dict or t.get("type") != "function" or type(fn) is not dict:
            out.append(("error", "tools.shape", f"{where}[{i}]",
                        'a tool must be {"type": "function", "function": {"name": ..., "parameters": {...}}}'))
            continue
        name = fn.get("name")
        if type(name) is not str or not _NAME.match(name):
            out.append(("error", "tools.name", f"{where}[{i}].function.name",
                        f"function name must match [A-Za-z0-9_-]{{1,64}}; got {name!r}"))
        elif name in seen:
            out.append(("error", "tools.duplicate", f"{where}[{i}].function.name", f"function {name!r} defined twice"))
        else:
            seen.add(name)
        params = fn.get("parameters")
        if params is not None and type(params) is not dict:
            out.append(("error", "tools.parameters", f"{where}[{i}].function.parameters",
                        "parameters must be a JSON Schema object"))
        elif params is not None and _validator(orjson.dumps(params, option=orjson.OPT_SORT_KEYS)) is None:
            out.append(("error", "tools.parameters", f"{where}[{i}].function.parameters",
                        "parameters is not a valid JSON Schema"))


def check_tool_calls(calls: Any, where: str, tool_names: dict[str, Any] | None, open_calls: dict[str, int],
                     out: list[Item], *, parallel: Any = None) -> None:
    """Tool calls: type, ids, declared function names and arguments (a JSON object that fits the
    declared parameters); records the pending ids."""
    if type(calls) is not list or not calls:
        out.append(("error", "tool_calls.shape", f"{where}.tool_calls",
                    f"tool_calls must be a non-empty list of tool calls; got {jtype(calls)}"))
        return
    if open_calls:
        unanswered(open_calls, where, out)
    if parallel is False and len(calls) > 1:
        out.append(("error", "tool_calls.parallel", f"{where}.tool_calls",
                    f"{len(calls)} tool calls in one turn, but the example sets parallel_tool_calls = false"))
    for j, c in enumerate(calls):
        w = f"{where}.tool_calls[{j}]"
        fn = c.get("function") if type(c) is dict else None
        if type(c) is not dict or type(fn) is not dict:
            out.append(("error", "tool_calls.shape", w,
                        'a tool call must be {"id": ..., "type": "function", "function": {"name", "arguments"}}'))
            continue
        cid = c.get("id")
        if type(cid) is not str or not cid:
            out.append(("error", "tool_calls.id", f"{w}.id", "tool call id must be a non-empty string"))
        elif cid in open_calls:
            out.append(("error", "tool_calls.id", f"{w}.id", f"tool call id {cid!r} used twice"))
        else:
            open_calls[cid] = j
        if "type" not in c:
            out.append(("warning", "tool_calls.type", f"{w}.type", "tool call has no type; add \"type\": \"function\""))
        elif c["type"] != "function":
            out.append(("error", "tool_calls.type", f"{w}.type",
                        f"tool call type must be 'function'; got {c.get('type')!r}"))
        name = fn.get("name")
        schema = None
        if type(name) is not str or not name:
            out.append(("error", "tool_calls.name", f"{w}.function.name", "function name must be a non-empty string"))
        elif tool_names is None:
            out.append(("error", "tool_calls.undeclared", f"{w}.function.name",
                        f"calls {name!r}, but the example declares no tools; add a tools list with its definition"))
        elif name not in tool_names:
            declared = ", ".join(map(repr, sorted(tool_names)[:8])) or "none"
            out.append(("error", "tool_calls.undeclared", f"{w}.function.name",
                        f"calls {name!r}, which is not among the example's tools ({declared})"))
        else:
            schema = tool_names[name]
        _check_arguments(fn.get("arguments"), schema, f"{w}.function.arguments", out)


def _check_arguments(args: Any, schema: Any, where: str, out: list[Item]) -> None:
    if type(args) is not str:
        out.append(("error", "tool_calls.arguments", where,
                    f"arguments must be a JSON-encoded string; got {jtype(args)}"))
        return
    try:
        parsed = orjson.loads(args)
    except orjson.JSONDecodeError as exc:
        col = getattr(exc, "colno", None)
        out.append(("error", "tool_calls.arguments", where,
                    f"arguments is not valid JSON ({getattr(exc, 'msg', exc)}{f' at column {col}' if col else ''})"))
        return
    if type(parsed) is str:
        try:
            inner = orjson.loads(parsed)
        except orjson.JSONDecodeError:
            inner = None
        if type(inner) is dict:
            out.append(("error", "tool_calls.arguments", where,
                        "arguments is JSON-encoded twice (a string holding JSON); encode the object once"))
            return
    if type(parsed) is not dict:
        out.append(("error", "tool_calls.arguments", where,
                    f"arguments must encode a JSON object; got {jtype(parsed)}"))
        return
    if type(schema) is dict:
        problem = schema_problem(parsed, schema)
        if problem:
            out.append(("error", "tool_calls.arguments", where,
                        f"arguments do not match the declared parameters: {problem}"))


def schema_problem(value: Any, schema: dict[str, Any]) -> str | None:
    """The first way ``value`` breaks a JSON Schema (None when it fits or the schema is unusable)."""
    import jsonschema

    try:
        validator = _validator(orjson.dumps(schema, option=orjson.OPT_SORT_KEYS))
    except Exception:  # a malformed schema is reported where the tool is defined
        return None
    if validator is None:
        return None
    try:
        err = jsonschema.exceptions.best_match(validator.iter_errors(value))
    except Exception:  # a schema jsonschema cannot evaluate (bad regex, ...) checks nothing
        return None
    if err is None:
        return None
    at = "/".join(str(p) for p in err.absolute_path)
    return f"{at + ': ' if at else ''}{err.message}"


@functools.lru_cache(maxsize=256)
def _validator(schema_json: bytes) -> Any:
    import jsonschema

    schema = orjson.loads(schema_json)
    cls = jsonschema.validators.validator_for(schema, default=jsonschema.Draft202012Validator)
    try:
        cls.check_schema(schema)
    except jsonschema.exceptions.SchemaError:
        return None
    return cls(schema)


def check_tool_message(m: dict[str, Any], where: str, open_calls: dict[str, int], out: list[Item]) -> None:
    """A tool message answers a pending call of an earlier assistant turn, by id."""
    cid = m.get("tool_call_id")
    if type(cid) is not str or not cid:
        out.append(("error", "tool.call_id", f"{where}.tool_call_id", "tool message needs a tool_call_id"))
    elif cid not in open_calls:
        out.append(("error", "tool.call_id", f"{where}.tool_call_id",
                    f"tool_call_id {cid!r} does not answer a pending tool call of an earlier assistant turn"))
    else:
        del open_calls[cid]


def unanswered(open_calls: dict[str, int], where: str, out: list[Item]) -> None:
    """Report tool calls that got no tool message before the next turn (and forget them)."""
    out.append(("warning", "tool_calls.unanswered", where,
                f"tool call{'s' if len(open_calls) > 1 else ''} {', '.join(map(repr, open_calls))} "
                "got no tool message before this turn"))
    open_calls.clear()
