"""Per-example checks: one JSONL line in, an ``ExampleResult`` out (findings, token counts, keys).

This is the hot path of preflight, so the clean case does as little as possible: one parse, one
walk over the messages, one tokenization per distinct string. Every check that needs other lines
(duplicates, overlap, class balance, system-prompt consistency, counts) lives in ``stats``.
Results are cached by line content, so nothing here may depend on the line number or on the spec
beyond the tokenizer and the target formats (both part of the cache key).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any, NamedTuple

import orjson
from xxhash import xxh3_128_digest

from tuneops.datasets import convert
from tuneops.datasets.records import (
    CHAT_KEYS,
    CONTENT_PART_TYPES,
    INPUT_KEYS,
    MESSAGE_KEYS,
    PREFERENCE_KEYS,
    ROLES,
    SOFT_ROLES,
)
from tuneops.datasets.tokens import TokenCounter

# Bump whenever a check changes, so cached results from older checks are not reused.
CHECK_VERSION = 1

CHAT, PREFERENCE, UNUSABLE = 1, 2, 0
LABEL_MAX_CHARS = 64

_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_SPECIAL = re.compile(r"<\|[A-Za-z0-9_]+\|>")

Item = tuple[str, str, "str | None", str]  # (severity, code, field, message)


class ExampleResult(NamedTuple):
    """What the checks learned about one example; line-independent, so it can be cached."""

    kind: int  # CHAT, PREFERENCE or UNUSABLE
    messages: int
    tokens: int
    trainable: int
    near: int  # signed 64-bit key of the case/space-normalized conversation (0 when unusable)
    label: str | None  # the final assistant reply when short (classification-style data)
    system: int | None  # signed 64-bit key of the system prompt; None when there is none
    has_error: bool
    findings: tuple[Item, ...]


def key64(data: bytes) -> int:
    """A signed 64-bit key of ``data`` (fits an SQLite INTEGER)."""
    return int.from_bytes(xxh3_128_digest(data)[:8], "big", signed=True)


def _dumps(value: Any) -> str:
    try:
        return orjson.dumps(value).decode()
    except (TypeError, orjson.JSONEncodeError):
        return str(value)


class ExampleChecker:
    """Checks lines for one tokenizer and one set of target formats."""

    def __init__(self, counter: TokenCounter, formats: Sequence[str] = ()):
        self.counter = counter
        self.role_tokens = {role: counter.count(role) for role in ROLES}
        self.formats = tuple(f for f in formats if f != "openai_chat" and f in convert.PROBLEMS)

    # -- entry point ---------------------------------------------------------------------------

    def check(self, raw: bytes) -> ExampleResult:
        """Check one non-blank line; never raises."""
        return self.check_batch([raw])[0]

    def check_batch(self, raws: Sequence[bytes]) -> list[ExampleResult]:
        """Check lines (results in the same order); never raises.

        All lines are parsed first and their message texts tokenized back to back: tiktoken is up
        to a quarter slower when other work runs between encodes (its tables fall out of the CPU
        caches), so batching keeps preflight close to the cost of tokenizing alone.
        """
        parsed: list[Any] = []
        texts: list[str] = []
        for raw in raws:
            try:
                record = orjson.loads(raw)
            except orjson.JSONDecodeError as exc:
                parsed.append(_ParseFailure(raw, exc))
                continue
            parsed.append(record)
            _collect_texts(record, texts)
        self.counter.prefill(texts)
        results = []
        for record in parsed:
            if type(record) is _ParseFailure:
                results.append(_unusable(_parse_problem(record.raw, record.exc)))
                continue
            try:
                results.append(self._check_record(record))
            except Exception as exc:  # a checker bug must not stop the scan; report it on the line
                results.append(_unusable(("error", "internal.error", None,
                                          f"preflight could not check this line ({type(exc).__name__}: {exc}); "
                                          "please report this")))
        self.counter.end_batch()
        return results

    def _check_record(self, record: Any) -> ExampleResult:
        if type(record) is not dict:
            return _unusable(("error", "json.not_object", None,
                              f"each line must be a JSON object; got {_jtype(record)}"))
        if "messages" in record:
            return self._chat(record)
        if "input" in record or "preferred_output" in record or "non_preferred_output" in record:
            return self._preference(record)
        keys = ", ".join(sorted(record)[:6]) or "none"
        hint = (' prompt/completion pairs are written as {"messages": [user, assistant]}'
                if "prompt" in record or "completion" in record else "")
        return _unusable(("error", "format.unknown", None,
                          f"not a chat example (needs messages) or a preference example (needs input, "
                          f"preferred_output, non_preferred_output); keys: {keys}.{hint}"))

    # -- chat ----------------------------------------------------------------------------------

    def _chat(self, record: dict[str, Any]) -> ExampleResult:
        out: list[Item] = []
        msgs = record["messages"]
        if type(msgs) is not list or not msgs:
            out.append(("error", "messages.type", "messages",
                        "messages must be a non-empty list" if type(msgs) is list
                        else f"messages must be a list of messages; got {_jtype(msgs)}"))
            return _unusable(*out)
        if len(record) > 1:
            self._top_level(record, CHAT_KEYS, "", out)
        tool_names = _tool_names(record.get("tools"))
        tokens, trainable, n_assistant, n_trained, system_text, parts = self._messages(
            msgs, "", out, tool_names, require_assistant=True)
        if record.get("tools") is not None:
            tokens += self.counter.count(_dumps(record["tools"]))
        if record.get("functions") is not None:
            tokens += self.counter.count(_dumps(record["functions"]))
        if n_assistant == 0:
            out.append(("error", "example.no_assistant", "messages",
                        "no assistant message: there is nothing to train on"))
        elif n_trained == 0:
            out.append(("error", "example.not_trainable", "messages",
                        "every assistant message has weight 0: there is nothing to train on"))
        label = None
        last = msgs[-1]
        if type(last) is dict and last.get("role") == "assistant":
            c = last.get("content")
            if type(c) is str and len(c) <= LABEL_MAX_CHARS * 2:
                c = c.strip()
                label = c if 0 < len(c) <= LABEL_MAX_CHARS else None
        return self._finish(record, CHAT, len(msgs), tokens + 3, trainable, system_text, parts, label, out)

    # -- preference ----------------------------------------------------------------------------

    def _preference(self, record: dict[str, Any]) -> ExampleResult:
        out: list[Item] = []
        self._top_level(record, PREFERENCE_KEYS, "", out)
        inp = record.get("input")
        tokens = 3
        n_msgs = 0
        system_text = None
        parts: list[str] = []
        if type(inp) is not dict:
            out.append(("error", "preference.input", "input",
                        f"input must be an object with messages; got {_jtype(inp)}"))
        else:
            self._top_level(inp, INPUT_KEYS, "input.", out)
            msgs = inp.get("messages")
            if type(msgs) is not list or not msgs:
                out.append(("error", "messages.type", "input.messages", "input.messages must be a non-empty list"))
            else:
                n_msgs += len(msgs)
                t, _, _, _, system_text, parts = self._messages(msgs, "input.", out, _tool_names(inp.get("tools")),
                                                               require_assistant=False)
                tokens += t
                last = msgs[-1]
                if type(last) is dict and last.get("role") not in ("user", "tool"):
                    out.append(("warning", "preference.input_last", f"input.messages[{len(msgs) - 1}].role",
                                "the input should end with a user turn that the outputs answer"))
            if inp.get("tools") is not None:
                tokens += self.counter.count(_dumps(inp["tools"]))
        trainable = 0
        outputs = []
        for key in ("preferred_output", "non_preferred_output"):
            val = record.get(key)
            if type(val) is not list or not val:
                out.append(("error", "preference.output", key,
                            f"{key} must be a non-empty list of assistant messages; got {_jtype(val)}"))
                continue
            if len(val) > 1:
                out.append(("warning", "preference.output_length", key,
                            f"{key} has {len(val)} messages; providers expect exactly one assistant message"))
            n_msgs += len(val)
            for i, m in enumerate(val):
                if type(m) is dict and m.get("role") != "assistant":
                    out.append(("error", "preference.output_role", f"{key}[{i}].role",
                                f"output messages must have role assistant; got {m.get('role')!r}"))
            t, tr, _, _, _, p = self._messages(val, key, out, None, require_assistant=False, output=True)
            tokens += t
            trainable += tr
            parts.append(key)
            parts.extend(p)
            outputs.append(_dumps(val))
        if len(outputs) == 2 and outputs[0] == outputs[1]:
            out.append(("error", "preference.identical", "non_preferred_output",
                        "preferred and non-preferred outputs are identical: nothing to learn"))
        return self._finish(record, PREFERENCE, n_msgs, tokens, trainable, system_text, parts, None, out)

    # -- shared ----------------------------------------------------------------------------------

    def _finish(self, record: dict[str, Any], kind: int, n_msgs: int, tokens: int, trainable: int,
                system_text: str | None, parts: list[str], label: str | None, out: list[Item]) -> ExampleResult:
        has_error = bool(out) and any(f[0] == "error" for f in out)
        if not has_error and self.formats:
            for fmt in self.formats:
                for field, message in convert.PROBLEMS[fmt](record, "chat" if kind == CHAT else "preference"):
                    out.append(("error", "convert." + fmt, field or None, message))
            has_error = any(f[0] == "error" for f in out)
        # Near-duplicate key: the conversation without its system prompt, case-folded, each turn stripped
        # (strip() returns the same object when there is nothing to strip, so this costs one pass).
        near = key64("\x1e".join(parts).lower().encode("utf-8", "surrogatepass"))
        system = None if system_text is None else key64(system_text.encode("utf-8", "surrogatepass"))
        return ExampleResult(kind, n_msgs, tokens, trainable, near, label, system, has_error, tuple(out))

    def _top_level(self, record: dict[str, Any], allowed: frozenset[str], prefix: str, out: list[Item]) -> None:
        extra = [k for k in record if k not in allowed]
        if extra:
            out.append(("warning", "example.unknown_key", prefix + extra[0] if len(extra) == 1 else prefix.rstrip("."),
                        f"unknown key{'s' if len(extra) > 1 else ''} {', '.join(map(repr, extra[:5]))}: "
                        "not sent to the provider"))
        tools = record.get("tools")
        if tools is not None:
            _check_tools(tools, prefix + "tools", out)
        if record.get("functions") is not None:
            out.append(("warning", "tools.deprecated", prefix + "functions",
                        "functions is deprecated; use tools"))
        ptc = record.get("parallel_tool_calls")
        if ptc is not None and type(ptc) is not bool:
            out.append(("error", "tools.parallel", prefix + "parallel_tool_calls",
                        f"parallel_tool_calls must be true or false; got {_jtype(ptc)}"))

    def _messages(self, msgs: list[Any], prefix: str, out: list[Item], tool_names: set[str] | None, *,
                  require_assistant: bool, output: bool = False) -> tuple[int, int, int, int, str | None, list[str]]:
        """Walk messages once: checks, token counts and the text used for the near-duplicate key."""
        count = self.counter.count
        cached = self.counter.cached
        tokens = trainable = n_assistant = n_trained = 0
        system_text = None
        parts: list[str] = []
        prev = None
        seen_other = False
        open_calls: dict[str, int] = {}
        role_tokens = self.role_tokens
        for i, m in enumerate(msgs):
            # Fast path for the usual turn: exactly role + non-empty plain-text content, user or assistant.
            if type(m) is dict and len(m) == 2:
                role = m.get("role")
                content = m.get("content")
                if (role == "user" or role == "assistant") and type(content) is str and content \
                        and not content.isspace() and "<|" not in content:
                    c = cached(content)
                    if c is None:
                        c = count(content)
                    tokens += 3 + c + role_tokens[role]
                    parts.append(role)
                    parts.append(content.strip())
                    if open_calls:
                        _unanswered(open_calls, _loc(prefix, i, output), out)
                    if role == "assistant":
                        if not seen_other and not output:
                            out.append(("warning", "order.first_not_user", _loc(prefix, i, output) + ".role",
                                        "the conversation starts with assistant, not user"))
                        n_assistant += 1
                        n_trained += 1
                        trainable += c
                    if prev == role and not output:
                        out.append(("warning", "order.consecutive", _loc(prefix, i, output) + ".role",
                                    f"two {role} turns in a row"))
                    seen_other = True
                    prev = role
                    continue
            if type(m) is not dict:
                out.append(("error", "message.type", _loc(prefix, i, output),
                            f"a message must be an object; got {_jtype(m)}"))
                continue
            role = m.get("role")
            content = m.get("content")
            if type(role) is not str or role not in ROLES:
                _role_problem(m, role, _loc(prefix, i, output), out)
            # Tokens: 3 per message plus every value, as in OpenAI's counting recipe (roles included).
            # The clean case (role + string content) stays on the fast path: two cache lookups.
            c = 0
            if type(content) is str:
                c = cached(content)
                if c is None:
                    c = count(content)
            elif content is not None:
                c = count(_part_text(content))
            n = 3 + c + (cached(role) or count(role) if type(role) is str else 0)
            if len(m) > 2:
                if not m.keys() <= MESSAGE_KEYS:
                    extra = [k for k in m if k not in MESSAGE_KEYS]
                    out.append(("warning", "message.unknown_key", f"{_loc(prefix, i, output)}.{extra[0]}",
                                f"unknown message key{'s' if len(extra) > 1 else ''} "
                                f"{', '.join(map(repr, extra[:5]))}: not sent to the provider"))
                for key, value in m.items():
                    if key == "role" or key == "content" or key == "weight" or value is None:
                        continue
                    n += count(value) + (key == "name") if type(value) is str else count(_dumps(value))
            elif type(role) is not str and role is not None:
                n += count(_dumps(role))
            tokens += n
            calls = m.get("tool_calls") if len(m) > 2 else None
            if type(content) is str:
                if not content or content.isspace():
                    if not (role == "assistant" and (calls or m.get("function_call"))):
                        out.append(("error", "message.content_empty", _loc(prefix, i, output) + ".content",
                                    f"{role if isinstance(role, str) else 'message'} content is empty"))
                elif "<|" in content and (special := _SPECIAL.search(content)):
                    out.append(("warning", "message.special_token", _loc(prefix, i, output) + ".content",
                                f"content contains special-token text {special.group(0)!r}; "
                                "it is trained as plain text"))
                text = content
            else:
                text = _content_problem(m, role, content, _loc(prefix, i, output), out)
            if role == "system":
                if system_text is None and not seen_other:
                    system_text = text or ""
                elif seen_other:
                    out.append(("warning", "order.system_late", _loc(prefix, i, output) + ".role",
                                "system message after the conversation started"))
                prev = role
                continue
            parts.append(role if type(role) is str else "?")
            parts.append(text.strip() if text else "")
            if not seen_other and role != "user" and not output and type(role) is str and role in ROLES:
                out.append(("warning", "order.first_not_user", _loc(prefix, i, output) + ".role",
                            f"the conversation starts with {role}, not user"))
            seen_other = True
            if role == "assistant":
                n_assistant += 1
                weight = m.get("weight", 1) if len(m) > 2 else 1
                if type(weight) is not int or (weight != 1 and weight != 0):
                    _check_weight(weight, _loc(prefix, i, output), out)
                if weight != 0:
                    n_trained += 1
                    trainable += c
                    if calls is not None:
                        trainable += count(_dumps(calls))
                if calls is not None:
                    _check_tool_calls(calls, _loc(prefix, i, output), tool_names, open_calls, out)
                elif open_calls:
                    _unanswered(open_calls, _loc(prefix, i, output), out)
                if prev == "assistant" and not output:
                    out.append(("warning", "order.consecutive", _loc(prefix, i, output) + ".role",
                                "two assistant turns in a row"))
            else:
                if len(m) > 2:
                    if "weight" in m:
                        out.append(("error", "weight.role", _loc(prefix, i, output) + ".weight",
                                    f"weight is only allowed on assistant messages; this is a {role} message"))
                    if calls is not None:
                        out.append(("error", "tool_calls.role", _loc(prefix, i, output) + ".tool_calls",
                                    f"tool_calls is only allowed on assistant messages; this is a {role} message"))
                if role == "tool":
                    _check_tool_message(m, _loc(prefix, i, output), open_calls, out)
                elif role == "user":
                    if open_calls:
                        _unanswered(open_calls, _loc(prefix, i, output), out)
                    if prev == "user":
                        out.append(("warning", "order.consecutive", _loc(prefix, i, output) + ".role",
                                    "two user turns in a row"))
            prev = role
        if require_assistant and prev is not None and prev != "assistant" and n_assistant:
            out.append(("warning", "order.last_not_assistant", f"{prefix}messages[{len(msgs) - 1}].role",
                        f"the conversation ends with {prev}: turns after the last assistant reply are not trained"))
        return tokens, trainable, n_assistant, n_trained, system_text, parts


# -- helpers (kept outside the class: they run only when something is off) ----------------------------

class _ParseFailure:
    __slots__ = ("exc", "raw")

    def __init__(self, raw: bytes, exc: Exception):
        self.raw = raw
        self.exc = exc


def _collect_texts(record: Any, texts: list[str]) -> None:
    """The string contents of a record's messages (what the batch tokenizes up front)."""
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
                        texts.append(c)


def _loc(prefix: str, i: int, output: bool) -> str:
    """Field path of message ``i`` (built only when there is something to report)."""
    return f"{prefix}[{i}]" if output else f"{prefix}messages[{i}]"


def _jtype(value: Any) -> str:
    return {dict: "an object", list: "a list", str: "a string", bool: "a boolean", int: "a number",
            float: "a number", type(None): "null"}.get(type(value), type(value).__name__)


def _unusable(*items: Item) -> ExampleResult:
    return ExampleResult(UNUSABLE, 0, 0, 0, 0, None, None, True, tuple(items))


def _parse_problem(raw: bytes, exc: Exception) -> Item:
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError as uexc:
        return ("error", "encoding.utf8", None,
                f"not valid UTF-8 at byte {uexc.start + 1} ({raw[uexc.start:uexc.start + 4]!r}); "
                "save the file as UTF-8")
    if b"\x00" in raw:
        return ("error", "encoding.nul", None, "line contains NUL bytes (UTF-16 or binary data?)")
    msg = getattr(exc, "msg", str(exc))
    col = getattr(exc, "colno", None)
    at = f" at column {col}" if col else ""
    return ("error", "json.invalid", None, f"not valid JSON: {msg}{at}")


def _part_text(value: Any) -> str:
    """The text parts of non-string content; images are not counted."""
    if type(value) is list:
        return "\n".join(p["text"] for p in value
                         if type(p) is dict and p.get("type") == "text" and type(p.get("text")) is str)
    return _dumps(value)


def _role_problem(m: dict[str, Any], role: Any, where: str, out: list[Item]) -> None:
    if "role" not in m:
        out.append(("error", "message.role_missing", where, "message has no role"))
    elif type(role) is str and role in SOFT_ROLES:
        why = "deprecated; use tool" if role == "function" else "not confirmed for fine-tuning; use system"
        out.append(("warning", "message.role_soft", f"{where}.role", f"role {role!r} is {why}"))
    else:
        out.append(("error", "message.role_unknown", f"{where}.role",
                    f"unknown role {role!r}; use system, user, assistant or tool"))


def _content_problem(m: dict[str, Any], role: Any, content: Any, where: str, out: list[Item]) -> str | None:
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
                f"content must be a string (or a list of content parts); got {_jtype(content)}"))
    return None


def _check_weight(weight: Any, where: str, out: list[Item]) -> None:
    if type(weight) is not int or weight not in (0, 1):
        out.append(("error", "weight.value", f"{where}.weight", f"weight must be 0 or 1; got {weight!r}"))


def _tool_names(tools: Any) -> set[str] | None:
    if type(tools) is not list:
        return None
    return {t["function"]["name"] for t in tools if type(t) is dict and type(t.get("function")) is dict
            and type(t["function"].get("name")) is str}


def _check_tools(tools: Any, where: str, out: list[Item]) -> None:
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


def _check_tool_calls(calls: Any, where: str, tool_names: set[str] | None, open_calls: dict[str, int],
                      out: list[Item]) -> None:
    if type(calls) is not list or not calls:
        out.append(("error", "tool_calls.shape", f"{where}.tool_calls", "tool_calls must be a non-empty list"))
        return
    if open_calls:
        _unanswered(open_calls, where, out)
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
        if c.get("type", "function") != "function":
            out.append(("error", "tool_calls.type", f"{w}.type",
                        f"tool call type must be 'function'; got {c.get('type')!r}"))
        name = fn.get("name")
        if type(name) is not str or not name:
            out.append(("error", "tool_calls.name", f"{w}.function.name", "function name must be a non-empty string"))
        elif tool_names is not None and name not in tool_names:
            out.append(("warning", "tool_calls.undeclared", f"{w}.function.name",
                        f"calls {name!r}, which is not among the example's tools"))
        args = fn.get("arguments")
        if type(args) is not str:
            out.append(("error", "tool_calls.arguments", f"{w}.function.arguments",
                        f"arguments must be a JSON-encoded string; got {_jtype(args)}"))
        else:
            try:
                parsed = orjson.loads(args)
            except orjson.JSONDecodeError:
                out.append(("error", "tool_calls.arguments", f"{w}.function.arguments",
                            "arguments is not valid JSON"))
            else:
                if type(parsed) is not dict:
                    out.append(("warning", "tool_calls.arguments", f"{w}.function.arguments",
                                f"arguments should encode a JSON object; got {_jtype(parsed)}"))


def _check_tool_message(m: dict[str, Any], where: str, open_calls: dict[str, int], out: list[Item]) -> None:
    cid = m.get("tool_call_id")
    if type(cid) is not str or not cid:
        out.append(("error", "tool.call_id", f"{where}.tool_call_id", "tool message needs a tool_call_id"))
    elif cid not in open_calls:
        out.append(("error", "tool.call_id", f"{where}.tool_call_id",
                    f"tool_call_id {cid!r} does not answer a pending tool call of an earlier assistant turn"))
    else:
        del open_calls[cid]


def _unanswered(open_calls: dict[str, int], where: str, out: list[Item]) -> None:
    out.append(("warning", "tool_calls.unanswered", where,
                f"tool call{'s' if len(open_calls) > 1 else ''} {', '.join(map(repr, open_calls))} "
                "got no tool message before this turn"))
    open_calls.clear()
