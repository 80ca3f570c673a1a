"""Helpers for dataset tests: write JSONL files and job specs into the test's project directory."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import pytest

from tuneops.spec import LoadedSpec, load


@pytest.fixture(autouse=True)
def _offline_tokenizers(monkeypatch: pytest.MonkeyPatch) -> None:
    """Encodings that are not bundled are unavailable at once (no download attempt)."""
    monkeypatch.setenv("TUNEOPS_OFFLINE", "1")


def line(obj: Any) -> bytes:
    """One JSONL line for ``obj``."""
    return json.dumps(obj).encode() + b"\n"


def chat(user: str, assistant: str, system: str | None = "You sort support tickets.") -> dict[str, Any]:
    """A small valid chat example."""
    msgs = [{"role": "system", "content": system}] if system is not None else []
    return {"messages": [*msgs, {"role": "user", "content": user}, {"role": "assistant", "content": assistant}]}


def good_examples(n: int, start: int = 0) -> list[bytes]:
    """``n`` distinct valid chat lines."""
    return [line(chat(f"ticket number {i}: my invoice {i * 7} looks wrong", f"Answer number {i}."))
            for i in range(start, start + n)]


@pytest.fixture
def write_spec(tmp_path: Path) -> Callable[..., LoadedSpec]:
    """``write_spec(train_lines, validation_lines=None, **spec_fields)`` -> a loaded spec in tmp_path."""

    def make(train: Iterable[bytes] | bytes, validation: Iterable[bytes] | bytes | None = None, *,
             provider: str = "sandbox", base: str = "gpt-3.5-turbo-0125", method: str = "sft",
             data: dict[str, Any] | None = None, extra: str = "", name: str = "job") -> LoadedSpec:
        (tmp_path / "data").mkdir(exist_ok=True)
        (tmp_path / "data" / "train.jsonl").write_bytes(train if isinstance(train, bytes) else b"".join(train))
        lines = [f'name = "{name}"', f'method = "{method}"', "[model]", f'provider = "{provider}"',
                 f'base = "{base}"', "[data]", 'train = "data/train.jsonl"']
        if validation is not None:
            (tmp_path / "data" / "valid.jsonl").write_bytes(
                validation if isinstance(validation, bytes) else b"".join(validation))
            lines.append('validation = "data/valid.jsonl"')
        for key, value in (data or {}).items():
            lines.append(f"{key} = {json.dumps(value)}")
        spec = tmp_path / f"{name}.toml"
        spec.write_text("\n".join(lines) + "\n" + extra)
        return load(spec, check_provider=False)

    return make


class Helpers:
    """Line builders shared by the dataset tests (conftest modules are not importable by name)."""

    line = staticmethod(line)
    chat = staticmethod(chat)
    good = staticmethod(good_examples)


@pytest.fixture
def ds() -> type[Helpers]:
    """The line builders: ``ds.line(obj)``, ``ds.chat(user, assistant)``, ``ds.good(n)``."""
    return Helpers
