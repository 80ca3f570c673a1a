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
from xxhash import xxh3_64_intdigest

from tuneops.datasets import convert
from tuneops.datasets.records import (
    CHAT_KEYS,
    INPUT_KEYS,
    MESSAGE_KEYS,
    PREFERENCE_KEYS,
    ROLES,
)
from tuneops.datasets.shapes import (
    ParseFailure,
    check_tool_calls,
    check_tool_message,
    check_tools,
    check_weight,
    collect_texts,
    content_problem,
    declared_tool_names,
    dumps_text,
    duplicate_keys,
    jtype,
    loc,
    parse_problem,
    part_text,
    repeated_phrase,
    role_problem,
    unanswered,
)
from tuneops.datasets.tokens import TokenCounter
from tuneops.datasets.tooltokens import constants_for, tool_tokens

# Bump whenever a check changes, so cached results from older checks are not reused.
CHECK_VERSION = 4

CHAT, PREFERENCE, UNUSABLE = 1, 2, 0
LABEL_MAX_CHARS = 64

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
    v = xxh3_64_intdigest(data)
    return v - _TWO64 if v >= _TWO63 else v


_TWO63, _TWO64 = 1 << 63, 1 << 64


class ExampleChecker:
    """Checks lines for one tokenizer and one set of target formats."""

    def __init__(self, counter: TokenCounter, formats: Sequence[str] = ()):
        self.counter = counter
        self.role_tokens = {role: counter.count(role) for role in ROLES}
        self.formats = tuple(f for f in formats if f != "openai_chat" and f in convert.PROBLEMS)
        self.tool_constants = constants_for(counter.tokenizer.wanted or counter.tokenizer.used)

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
        repeatable: list[str] = []
        for raw in raws:
            try:
                record = orjson.loads(raw)
            except orjson.JSONDecodeError as exc:
                parsed.append(ParseFailure(raw, exc))
                continue
            parsed.append(record)
            collect_texts(record, texts, repeatable)
        self.counter.prefill(texts, repeatable)
        results = []
        for record in parsed:
            if type(record) is ParseFailure:
                results.append(_unusable(parse_problem(record.raw, record.exc)))
                continue
            try:
                results.append(self._check_record(record, raws[len(results)]))
            except Exception as exc:  # a checker bug must not stop the scan; report it on the line
                results.append(_unusable(("error", "internal.error", None,
                                          f"preflight could not check this line ({type(exc).__name__}: {exc}); "
                                          "please report this")))
        self.counter.end_batch()
        return results

    def _check_record(self, record: Any, raw: bytes = b"") -> ExampleResult:
        if type(record) is not dict:
            return _unusable(("error", "json.not_object", None,
                              f"each line must be a JSON object; got {jtype(record)}"))
        if "messages" in record:
            result = self._chat(record)
            msgs = record["messages"]
            keys = len(record)
            if type(msgs) is list:
                for m in msgs:
                    if type(m) is dict:
                        keys += len(m)
            # A repeated key is silently collapsed by every JSON parser. Every key ends in `":`, so more of
            # those than parsed keys says when to look (nested objects and quotes in text look too: rare).
            if raw.count(b'":') > keys:
                dups = duplicate_keys(raw)
                if dups:
                    item = ("warning", "json.duplicate_key", None,
                            f"duplicate key{'s' if len(dups) > 1 else ''} {', '.join(map(repr, dups[:5]))} in one "
                            "object: only the last value is kept")
                    result = result._replace(findings=(*result.findings, item))
            return result
        if "input" in record or "preferred_output" in record or "non_preferred_output" in record:
            return self._preference(record)
        keys = ", ".join(sorted(record)[:6]) or "none"
        hint = (" this is prompt/completion data: `tuneops data convert FILE -o chat.jsonl` turns it into chat "
                "examples" if "prompt" in record or "completion" in record else "")
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
                        else f"messages must be a list of messages; got {jtype(msgs)}"))
            return _unusable(*out)
        extra = len(record) > 1  # anything besides messages (tools, functions, unknown keys)
        if extra:
            self._top_level(record, CHAT_KEYS, "", out)
        tool_names = declared_tool_names(record.get("tools"), record.get("functions")) if extra else None
        tokens, trainable, n_assistant, n_trained, system_text, parts = self._messages(
            msgs, "", out, tool_names, require_assistant=True,
            parallel=record.get("parallel_tool_calls") if extra else None)
        if extra:
            # Definitions are counted as the model sees them (OpenAI's recipe), not as JSON text.
            tokens += tool_tokens(record.get("tools"), self.counter.count, self.tool_constants)
            tokens += tool_tokens(record.get("functions"), self.counter.count, self.tool_constants)
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
                        f"input must be an object with messages; got {jtype(inp)}"))
        else:
            self._top_level(inp, INPUT_KEYS, "input.", out)
            msgs = inp.get("messages")
            if type(msgs) is not list or not msgs:
                out.append(("error", "messages.type", "input.messages", "input.messages must be a non-empty list"))
            else:
                n_msgs += len(msgs)
                input_tools = declared_tool_names(inp.get("tools"), inp.get("functions"))
                t, _, _, _, system_text, parts = self._messages(
                    msgs, "input.", out, input_tools, require_assistant=False,
                    parallel=inp.get("parallel_tool_calls"))
                tokens += t
                last = msgs[-1]
                if type(last) is dict and last.get("role") not in ("user", "tool"):
                    out.append(("warning", "preference.input_last", f"input.messages[{len(msgs) - 1}].role",
                                "the input should end with a user turn that the outputs answer"))
            tokens += tool_tokens(inp.get("tools"), self.counter.count, self.tool_constants)
            tokens += tool_tokens(inp.get("functions"), self.counter.count, self.tool_constants)
        trainable = 0
        outputs = []
        if type(inp) is not dict:
            input_tools = None
        for key in ("preferred_output", "non_preferred_output"):
            val = record.get(key)
            if type(val) is not list or not val:
                out.append(("error", "preference.output", key,
                            f"{key} must be a non-empty list of assistant messages; got {jtype(val)}"))
                continue
            if len(val) > 1:
                out.append(("warning", "preference.output_length", key,
                            f"{key} has {len(val)} messages; providers expect exactly one assistant message"))
            n_msgs += len(val)
            for i, m in enumerate(val):
                if type(m) is dict and m.get("role") != "assistant":
                    out.append(("error", "preference.output_role", f"{key}[{i}].role",
                                f"output messages must have role assistant; got {m.get('role')!r}"))
            t, tr, _, _, _, p = self._messages(val, key, out, input_tools, require_assistant=False, output=True)
            tokens += t
            trainable += tr
            parts.append(key)
            parts.extend(p)
            outputs.append(dumps_text(val))
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
            check_tools(tools, prefix + "tools", out)
        if record.get("functions") is not None:
            out.append(("warning", "tools.deprecated", prefix + "functions",
                        "functions is deprecated; use tools"))
        ptc = record.get("parallel_tool_calls")
        if ptc is not None and type(ptc) is not bool:
            out.append(("error", "tools.parallel", prefix + "parallel_tool_calls",
                        f"parallel_tool_calls must be true or false; got {jtype(ptc)}"))

    def _messages(self, msgs: list[Any], prefix: str, out: list[Item], tool_names: dict[str, Any] | None, *,
                  require_assistant: bool, output: bool = False,
                  parallel: Any = None) -> tuple[int, int, int, int, str | None, list[str]]:
        """Walk messages once: checks, token counts and the text used for the near-duplicate key."""
        count = self.counter.count
        cached = self.counter.cached
        by_id = self.counter.by_id.get
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
                if role == "system" and type(content) is str and content and not content.isspace() \
                        and "<|" not in content:
                    c = by_id(id(content))
                    if c is None:
                        c = cached(content)
                        if c is None:
                            c = count(content)
                    tokens += 3 + c + role_tokens[role]
                    if not seen_other:
                        if system_text is None:
                            system_text = content
                    else:
                        out.append(("warning", "order.system_late", loc(prefix, i, output) + ".role",
                                    "system message after the conversation started"))
                    prev = role
                    continue
                if (role == "user" or role == "assistant") and type(content) is str and content \
                        and not content.isspace() and "<|" not in content:
                    c = by_id(id(content))
                    if c is None:
                        c = cached(content)
                        if c is None:
                            c = count(content)
                    tokens += 3 + c + role_tokens[role]
                    parts.append(role)
                    parts.append(content.strip())
                    if open_calls:
                        unanswered(open_calls, loc(prefix, i, output), out)
                    if role == "assistant":
                        if len(content) > 400 and (rep := repeated_phrase(content)):
                            out.append(("warning", "content.repetition", loc(prefix, i, output) + ".content",
                                        f"the reply repeats {rep[0]!r} {rep[1]:,} times (degenerate output?)"))
                        if not seen_other and not output:
                            out.append(("warning", "order.first_not_user", loc(prefix, i, output) + ".role",
                                        "the conversation starts with assistant, not user"))
                        n_assistant += 1
                        n_trained += 1
                        trainable += c
                    if prev == role and not output:
                        out.append(("warning", "order.consecutive", loc(prefix, i, output) + ".role",
                                    f"two {role} turns in a row"))
                    seen_other = True
                    prev = role
                    continue
            if type(m) is not dict:
                out.append(("error", "message.type", loc(prefix, i, output),
                            f"a message must be an object; got {jtype(m)}"))
                continue
            role = m.get("role")
            content = m.get("content")
            if type(role) is not str or role not in ROLES:
                role_problem(m, role, loc(prefix, i, output), out)
            # Tokens: 3 per message plus every value, as in OpenAI's counting recipe (roles included).
            # The clean case (role + string content) stays on the fast path: two cache lookups.
            c = 0
            if type(content) is str:
                c = by_id(id(content))
                if c is None:
                    c = cached(content)
                    if c is None:
                        c = count(content)
            elif content is not None:
                c = count(part_text(content))
            n = 3 + c + (cached(role) or count(role) if type(role) is str else 0)
            # More than role and content: tool calls, names, weights. An assistant turn with only
            # role and tool_calls (no content key, as OpenAI documents it) is one of these.
            rich = len(m) > 2 or (len(m) == 2 and "content" not in m)
            if rich:
                if not m.keys() <= MESSAGE_KEYS:
                    extra = [k for k in m if k not in MESSAGE_KEYS]
                    out.append(("warning", "message.unknown_key", f"{loc(prefix, i, output)}.{extra[0]}",
                                f"unknown message key{'s' if len(extra) > 1 else ''} "
                                f"{', '.join(map(repr, extra[:5]))}: not sent to the provider"))
                for key, value in m.items():
                    if key == "role" or key == "content" or key == "weight" or value is None:
                        continue
                    n += count(value) + (key == "name") if type(value) is str else count(dumps_text(value))
            elif type(role) is not str and role is not None:
                n += count(dumps_text(role))
            tokens += n
            calls = m.get("tool_calls") if rich else None
            if type(content) is str:
                if not content or content.isspace():
                    if not (role == "assistant" and (calls or m.get("function_call"))):
                        out.append(("error", "message.content_empty", loc(prefix, i, output) + ".content",
                                    f"{role if isinstance(role, str) else 'message'} content is empty"))
                elif "<|" in content and (special := _SPECIAL.search(content)):
                    out.append(("warning", "message.special_token", loc(prefix, i, output) + ".content",
                                f"content contains special-token text {special.group(0)!r}; "
                                "it is trained as plain text"))
                if role == "assistant" and len(content) > 400 and (rep := repeated_phrase(content)):
                    out.append(("warning", "content.repetition", loc(prefix, i, output) + ".content",
                                f"the reply repeats {rep[0]!r} {rep[1]:,} times (degenerate output?)"))
                text = content
            else:
                text = content_problem(m, role, content, loc(prefix, i, output), out)
            if role == "system":
                if system_text is None and not seen_other:
                    system_text = text or ""
                elif seen_other:
                    out.append(("warning", "order.system_late", loc(prefix, i, output) + ".role",
                                "system message after the conversation started"))
                prev = role
                continue
            parts.append(role if type(role) is str else "?")
            parts.append(text.strip() if text else "")
            if not seen_other and role != "user" and not output and type(role) is str and role in ROLES:
                out.append(("warning", "order.first_not_user", loc(prefix, i, output) + ".role",
                            f"the conversation starts with {role}, not user"))
            seen_other = True
            if role == "assistant":
                n_assistant += 1
                weight = m.get("weight", 1) if rich else 1
                if type(weight) is not int or (weight != 1 and weight != 0):
                    check_weight(weight, loc(prefix, i, output), out)
                if weight != 0:
                    n_trained += 1
                    trainable += c
                    if calls is not None:
                        trainable += count(dumps_text(calls))
                if calls is not None:
                    check_tool_calls(calls, loc(prefix, i, output), tool_names, open_calls, out, parallel=parallel)
                elif open_calls:
                    unanswered(open_calls, loc(prefix, i, output), out)
                if prev == "assistant" and not output:
                    out.append(("warning", "order.consecutive", loc(prefix, i, output) + ".role",
                                "two assistant turns in a row"))
            else:
                if rich:
                    if "weight" in m:
                        out.append(("error", "weight.role", loc(prefix, i, output) + ".weight",
                                    f"weight is only allowed on assistant messages; this is a {role} message"))
                    if calls is not None:
                        out.append(("error", "tool_calls.role", loc(prefix, i, output) + ".tool_calls",
                                    f"tool_calls is only allowed on assistant messages; this is a {role} message"))
                if role == "tool":
                    check_tool_message(m, loc(prefix, i, output), open_calls, out)
                elif role == "user":
                    if open_calls:
                        unanswered(open_calls, loc(prefix, i, output), out)
                    if prev == "user":
                        out.append(("warning", "order.consecutive", loc(prefix, i, output) + ".role",
                                    "two user turns in a row"))
            prev = role
        if require_assistant and prev is not None and prev != "assistant" and n_assistant:
            out.append(("warning", "order.last_not_assistant", f"{prefix}messages[{len(msgs) - 1}].role",
                        f"the conversation ends with {prev}: turns after the last assistant reply are not trained"))
        return tokens, trainable, n_assistant, n_trained, system_text, parts


def _unusable(*items: Item) -> ExampleResult:
    return ExampleResult(UNUSABLE, 0, 0, 0, 0, None, None, True, tuple(items))
