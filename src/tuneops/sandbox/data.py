"""Parse and validate fine-tuning JSONL for the sandbox (a local stand-in, not an LLM).

Validation happens on the job, not on the file, as on OpenAI: a bad line makes the
job end ``failed`` with an error that names the line.

Token counts are an approximation, documented here once: every run of word
characters and every single punctuation mark counts as one token, and each message
adds ``MESSAGE_OVERHEAD_TOKENS`` for its role and framing. No tokenizer is bundled.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = [
    "MESSAGE_OVERHEAD_TOKENS",
    "MIN_EXAMPLES",
    "TOKEN_RE",
    "DataError",
    "Message",
    "Pair",
    "ParsedFile",
    "count_tokens",
    "message_text",
    "parse_jsonl",
]

MIN_EXAMPLES = 10
MESSAGE_OVERHEAD_TOKENS = 3
TOKEN_RE = re.compile(r"\w+|[^\w\s]")
_ROLES = frozenset({"system", "developer", "user", "assistant", "tool", "function"})


@dataclass(frozen=True)
class Message:
    """One chat message reduced to its role and plain text."""

    role: str
    text: str


@dataclass(frozen=True)
class Pair:
    """One thing to learn: the messages before a target reply, and that reply."""

    line: int
    context: tuple[Message, ...]
    reply: str


@dataclass(frozen=True)
class ParsedFile:
    """A validated training or validation file."""

    pairs: tuple[Pair, ...]
    n_examples: int
    n_tokens: int


class DataError(ValueError):
    """A training or validation file the sandbox cannot train on."""

    def __init__(self, message: str, *, line: int | None = None, code: str = "") -> None:
        super().__init__(message)
        self.line = line
        self.code = code


def count_tokens(text: str) -> int:
    """Approximate token count: words and punctuation marks count one each."""
    return len(TOKEN_RE.findall(text))


def message_text(content: object) -> str | None:
    """Plain text of a message ``content`` (a string or a list of parts), or None if malformed."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        texts: list[str] = []
        for part in content:
            if not isinstance(part, dict):
                return None
            # Non-text parts (images, audio) carry nothing the learner can use.
            if part.get("type") == "text":
                if not isinstance(part.get("text"), str):
                    return None
                texts.append(part["text"])
        return "\n".join(texts)
    return None


def parse_jsonl(raw: bytes, *, method: str, purpose_label: str = "training") -> ParsedFile:
    """Validate a JSONL file for ``method`` ("supervised" or "dpo") and extract what to learn.

    Raises DataError naming the first bad line.
    """
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise DataError(f"The {purpose_label} file is not valid UTF-8 (byte {exc.start}).") from exc
    pairs: list[Pair] = []
    n_examples = 0
    n_tokens = 0
    for lineno, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue  # blank lines (e.g. a trailing newline) are harmless
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            raise _line_error(lineno, f"not valid JSON ({exc.msg} at column {exc.colno})") from exc
        if not isinstance(record, dict):
            raise _line_error(lineno, "expected a JSON object")
        if method == "dpo":
            example_pairs, tokens = _parse_dpo(record, lineno)
        else:
            example_pairs, tokens = _parse_supervised(record, lineno)
        pairs.extend(example_pairs)
        n_examples += 1
        n_tokens += tokens
    if n_examples < MIN_EXAMPLES:
        raise DataError(
            f"The {purpose_label} file has {n_examples} example(s); at least {MIN_EXAMPLES} are required.",
            code="invalid_n_examples",
        )
    return ParsedFile(pairs=tuple(pairs), n_examples=n_examples, n_tokens=n_tokens)


def _line_error(lineno: int, problem: str) -> DataError:
    return DataError(f"Invalid file format: line {lineno}: {problem}.", line=lineno)


def _parse_messages(raw: object, lineno: int, field: str) -> list[tuple[Message, dict[str, object]]]:
    if not isinstance(raw, list) or not raw:
        raise _line_error(lineno, f"'{field}' must be a non-empty list of messages")
    out: list[tuple[Message, dict[str, object]]] = []
    for idx, item in enumerate(raw):
        if not isinstance(item, dict):
            raise _line_error(lineno, f"{field}[{idx}] is not an object")
        role = item.get("role")
        if role not in _ROLES:
            raise _line_error(lineno, f"{field}[{idx}] has an invalid role {role!r}")
        text = message_text(item.get("content"))
        if text is None:
            raise _line_error(lineno, f"{field}[{idx}] has malformed content")
        out.append((Message(str(role), text), item))
    return out


def _tokens(messages: Sequence[Message]) -> int:
    return sum(count_tokens(m.text) + MESSAGE_OVERHEAD_TOKENS for m in messages)


def _parse_supervised(record: dict[str, object], lineno: int) -> tuple[list[Pair], int]:
    if "messages" not in record and "prompt" in record and "completion" in record:
        # Legacy prompt/completion examples are treated as a single user/assistant turn.
        prompt, completion = record["prompt"], record["completion"]
        if not isinstance(prompt, str) or not isinstance(completion, str):
            raise _line_error(lineno, "'prompt' and 'completion' must be strings")
        context = (Message("user", prompt),)
        return [Pair(lineno, context, completion)], _tokens([*context, Message("assistant", completion)])
    if "messages" not in record:
        raise _line_error(lineno, "missing 'messages'")
    parsed = _parse_messages(record["messages"], lineno, "messages")
    messages = [m for m, _ in parsed]
    if not any(m.role == "assistant" for m in messages):
        raise _line_error(lineno, "no assistant message")
    pairs: list[Pair] = []
    for idx, (msg, raw) in enumerate(parsed):
        # Every assistant turn is a target; weight 0 marks turns OpenAI does not train on.
        if msg.role == "assistant" and raw.get("weight", 1) != 0:
            pairs.append(Pair(lineno, tuple(messages[:idx]), msg.text))
    if not pairs:
        raise _line_error(lineno, "every assistant message has weight 0")
    return pairs, _tokens(messages)


def _parse_dpo(record: dict[str, object], lineno: int) -> tuple[list[Pair], int]:
    inp = record.get("input")
    if not isinstance(inp, dict):
        raise _line_error(lineno, "missing 'input' object")
    context = [m for m, _ in _parse_messages(inp.get("messages"), lineno, "input.messages")]
    outputs: dict[str, str] = {}
    for field in ("preferred_output", "non_preferred_output"):
        if field not in record:
            raise _line_error(lineno, f"missing '{field}'")
        replies = [m for m, _ in _parse_messages(record[field], lineno, field) if m.role == "assistant"]
        if not replies:
            raise _line_error(lineno, f"'{field}' has no assistant message")
        outputs[field] = replies[0].text
    preferred = Message("assistant", outputs["preferred_output"])
    rejected = Message("assistant", outputs["non_preferred_output"])
    return [Pair(lineno, tuple(context), preferred.text)], _tokens([*context, preferred, rejected])
