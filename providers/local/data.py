"""Chat examples to token ids for training: the base tokenizer's chat template, loss on assistant tokens only."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

IGNORE = -100  # the label value torch's cross-entropy skips


class TemplateError(ValueError):
    """The base tokenizer's chat template cannot separate prompt from answer for these messages."""


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    """The records of a prepared JSONL file."""
    with path.open(encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def _render(tokenizer: Any, messages: Sequence[Mapping[str, Any]], *, prompt: bool) -> str:
    return tokenizer.apply_chat_template(list(messages), tokenize=False, add_generation_prompt=prompt)


def encode_example(tokenizer: Any, messages: Sequence[Mapping[str, Any]], max_length: int) -> dict[str, list[int]]:
    """input_ids and labels where only assistant turns (and what closes them) carry a label.

    The conversation is rendered turn by turn; each render must extend the previous one, so the text
    an assistant turn adds is known exactly, whatever the template looks like.
    """
    if not getattr(tokenizer, "chat_template", None):
        raise TemplateError("the base model's tokenizer has no chat template; use an instruct/chat base model "
                            "or add a chat_template to its tokenizer_config.json")
    ids: list[int] = []
    labels: list[int] = []
    done = ""
    for i, message in enumerate(messages):
        if message.get("role") != "assistant":
            continue
        before = _render(tokenizer, messages[:i], prompt=True)
        after = _render(tokenizer, messages[: i + 1], prompt=False)
        if not before.startswith(done) or not after.startswith(before):
            raise TemplateError("the chat template renders a conversation differently as it grows (e.g. it drops "
                                "earlier reasoning), so assistant tokens cannot be located; use another base model")
        for text, learn in ((before[len(done):], False), (after[len(before):], True)):
            piece = tokenizer.encode(text, add_special_tokens=False) if text else []
            ids += piece
            labels += piece if learn else [IGNORE] * len(piece)
        done = after
    if not any(label != IGNORE for label in labels):
        raise TemplateError("an example has no assistant turn to learn from")
    return {"input_ids": ids[:max_length], "labels": labels[:max_length]}


def encode_records(tokenizer: Any, records: Iterable[Mapping[str, Any]], max_length: int) -> list[dict[str, list[int]]]:
    """Every record's messages encoded; records whose answer is cut away entirely by max_length are dropped."""
    out = []
    for record in records:
        row = encode_example(tokenizer, record["messages"], max_length)
        if any(label != IGNORE for label in row["labels"]):
            out.append(row)
    return out


def prompt_ids(tokenizer: Any, messages: Sequence[Mapping[str, Any]]) -> list[int]:
    """The token ids that ask the model for the next assistant turn."""
    return tokenizer.encode(_render(tokenizer, messages, prompt=True), add_special_tokens=False)
