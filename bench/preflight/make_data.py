"""Synthetic chat datasets for the preflight benchmark, built from the standard library's docstrings.

Two shapes of the same size:
- ``unique``: every example has its own system prompt (a persona plus per-customer context);
- ``shared``: one long policy system prompt repeated in every example (the common production case).
Turns are random windows of real English/technical text, so no two messages repeat by accident.
Assistant replies are longer than user turns, as in most support and instruction data.
"""

from __future__ import annotations

import ast
import json
import random
import sysconfig
from pathlib import Path


def corpus_words(limit_files: int = 1500) -> list[str]:
    """Words of the docstrings in the standard library (deterministic order)."""
    root = Path(sysconfig.get_paths()["stdlib"])
    words: list[str] = []
    for path in sorted(root.rglob("*.py"))[:limit_files]:
        try:
            tree = ast.parse(path.read_text(encoding="utf-8"))
        except (SyntaxError, UnicodeDecodeError, ValueError):
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef | ast.ClassDef | ast.Module | ast.AsyncFunctionDef):
                doc = ast.get_docstring(node)
                if doc:
                    words.extend(doc.split())
    return words


class TextSource:
    """Random windows of corpus words."""

    def __init__(self, seed: int):
        self.words = corpus_words()
        self.rng = random.Random(seed)

    def text(self, n_words: int) -> str:
        """A window of about ``n_words`` words starting at a random place."""
        n = max(1, int(self.rng.gauss(n_words, n_words / 4)))
        start = self.rng.randrange(0, len(self.words) - n - 1)
        return " ".join(self.words[start:start + n])


def policy_prompt(src: TextSource) -> str:
    """One long system prompt: the house policy every example shares."""
    rules = [f"{i}. {src.text(45)}" for i in range(1, 16)]
    return "You are the support assistant of Acme Cloud. Follow these rules:\n" + "\n".join(rules)


def example(src: TextSource, system: str | None, turns: int) -> dict:
    """One chat example: optional system prompt, then user/assistant turns."""
    msgs = []
    if system is None:
        system = (f"You are a support assistant for customer #{src.rng.randrange(10**6)}. "
                  f"Customer notes: {src.text(70)}")
    msgs.append({"role": "system", "content": system})
    for _ in range(turns):
        msgs.append({"role": "user", "content": src.text(80)})
        msgs.append({"role": "assistant", "content": src.text(190)})
    return {"messages": msgs}


def write(path: Path, target_mb: float, shape: str, seed: int = 1) -> dict[str, float]:
    """Write a dataset of at least ``target_mb`` MB; returns its size and example count."""
    src = TextSource(seed)
    shared = policy_prompt(src) if shape == "shared" else None
    target = int(target_mb * 1_000_000)
    size = n = 0
    with open(path, "w", encoding="utf-8") as f:
        while size < target:
            line = json.dumps(example(src, shared, 1 + (src.rng.random() < 0.35)), ensure_ascii=False) + "\n"
            f.write(line)
            size += len(line.encode("utf-8"))
            n += 1
    return {"bytes": size, "examples": n}


def append_new(path: Path, fraction: float, shape: str, seed: int = 99) -> int:
    """Append ``fraction`` more (new) examples to a dataset; returns how many were added."""
    with open(path, "rb") as f:
        n = sum(1 for _ in f)
    add = max(1, int(n * fraction))
    src = TextSource(seed)
    shared = None
    if shape == "shared":
        with open(path, encoding="utf-8") as f:
            shared = json.loads(f.readline())["messages"][0]["content"]
    with open(path, "a", encoding="utf-8") as f:
        for _ in range(add):
            f.write(json.dumps(example(src, shared, 1), ensure_ascii=False) + "\n")
    return add
