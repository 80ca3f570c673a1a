"""Eval sets: JSONL files of canonical chat examples whose last assistant message is the reference."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tuneops.datasets.records import text_of
from tuneops.errors import TuneopsError

# Problems listed in one error before the rest are summarized.
_MAX_PROBLEMS = 10


class EvalSetError(TuneopsError):
    """An eval set cannot be read or has malformed examples: names the file, lines and the fix."""

    exit_code = 2


@dataclass(frozen=True)
class EvalExample:
    """One example: the prompt (every message before the reference) and the reference answer."""

    position: int
    line: int
    prompt: tuple[Mapping[str, Any], ...]
    reference: str
    tools: tuple[Mapping[str, Any], ...] = ()

    @property
    def sha256(self) -> str:
        """Identity of the example (prompt and reference) for pairing results across evals."""
        return _digest({"prompt": self.prompt, "tools": self.tools, "reference": self.reference})

    @property
    def prompt_sha256(self) -> str:
        """Identity of what the model is asked (the reference is not part of it)."""
        return _digest({"prompt": self.prompt, "tools": self.tools})

    @property
    def question(self) -> str:
        """The last user turn, for listings."""
        for msg in reversed(self.prompt):
            if msg.get("role") == "user":
                return text_of(msg.get("content")) or ""
        return ""


@dataclass(frozen=True)
class EvalSet:
    """A loaded eval set with the hash of its bytes."""

    path: Path
    sha256: str
    examples: tuple[EvalExample, ...]

    @property
    def references(self) -> list[str]:
        """Every reference answer, in order."""
        return [e.reference for e in self.examples]


def _digest(value: Any) -> str:
    data = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.sha256(data.encode()).hexdigest()


def _example(position: int, lineno: int, record: Any) -> EvalExample | str:
    """The example on one line, or what is wrong with it."""
    if not isinstance(record, Mapping) or not isinstance(record.get("messages"), list):
        return 'expected an object with a "messages" list (chat format)'
    messages = record["messages"]
    if len(messages) < 2:
        return "needs at least a user message and an assistant reference"
    last = messages[-1]
    if not isinstance(last, Mapping) or last.get("role") != "assistant":
        return "the last message must be the assistant's reference answer"
    reference = text_of(last.get("content"))
    if reference is None:
        return "the reference (last assistant message) has no text content"
    prompt = []
    for idx, msg in enumerate(messages[:-1]):
        if not isinstance(msg, Mapping) or not isinstance(msg.get("role"), str):
            return f"messages[{idx}] is not an object with a role"
        # Training-only keys mean nothing to inference APIs, and some refuse them.
        prompt.append({k: v for k, v in msg.items() if k != "weight"})
    if not any(m["role"] == "user" for m in prompt):
        return "no user message before the reference"
    tools = record.get("tools") or []
    return EvalExample(position, lineno, tuple(prompt), reference, tuple(tools))


def example_problem(record: Any) -> str | None:
    """What makes one parsed eval-set line unusable (None when it is a usable example)."""
    result = _example(0, 0, record)
    return result if isinstance(result, str) else None


def load_set(path: Path | str) -> EvalSet:
    """Read an eval set; every malformed line is reported with its number, and nothing is returned."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise EvalSetError(f"eval set {path}: cannot read it ({exc.strerror or exc}); "
                           "check [eval] set in the job spec or the --set path") from None
    examples: list[EvalExample] = []
    problems: list[str] = []
    for lineno, line in enumerate(raw.decode("utf-8-sig", errors="replace").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            problems.append(f"line {lineno}: not valid JSON ({exc.msg})")
            continue
        result = _example(len(examples), lineno, record)
        if isinstance(result, str):
            problems.append(f"line {lineno}: {result}")
        else:
            examples.append(result)
    if problems:
        more = f" (and {len(problems) - _MAX_PROBLEMS} more)" if len(problems) > _MAX_PROBLEMS else ""
        listed = "; ".join(problems[:_MAX_PROBLEMS])
        raise EvalSetError(f"eval set {path}: {listed}{more}. Each line must be a chat example whose "
                           "last message is the assistant's reference answer")
    if not examples:
        raise EvalSetError(f"eval set {path} has no examples; add chat examples, one JSON object a line")
    return EvalSet(path, hashlib.sha256(raw).hexdigest(), tuple(examples))
