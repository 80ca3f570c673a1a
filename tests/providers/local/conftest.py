"""Fixtures for the local provider: the `local` extra check, a tiny model built from a config, ticket data.

Tests marked ``local`` need torch, transformers and peft: they skip without them, except under
TUNEOPS_REQUIRE_LOCAL=1 (set by .ci/run), where a missing extra is a failure. Nothing is downloaded:
HF_HUB_OFFLINE=1 holds for the whole session and the socket guard blocks everything but loopback.
"""

from __future__ import annotations

import importlib.util
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["HF_HUB_DISABLE_TELEMETRY"] = "1"
REQUIRE_ENV = "TUNEOPS_REQUIRE_LOCAL"


@pytest.fixture(autouse=True)
def _local_extra(request: pytest.FixtureRequest) -> None:
    """Skip (or, in CI, fail) a ``local`` test when the extra is not installed."""
    gpu = request.node.get_closest_marker("gpu") is not None
    if request.node.get_closest_marker("local") is None and not gpu:
        return
    missing = [m for m in ("torch", "transformers", "peft", "accelerate") if importlib.util.find_spec(m) is None]
    if missing:
        message = f"the local extra is not installed (missing {', '.join(missing)}): pip install 'tuneops[local]'"
        if os.environ.get(REQUIRE_ENV) == "1":
            pytest.fail(f"{message} ({REQUIRE_ENV}=1, so this is a failure)", pytrace=False)
        pytest.skip(message)
    if gpu:
        import torch

        if not torch.cuda.is_available():
            pytest.skip("needs a CUDA GPU (QLoRA)")


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny random Llama with a byte-level chat tokenizer, saved with save_pretrained (once per worker)."""
    if importlib.util.find_spec("torch") is None:
        pytest.skip("torch is not installed")
    from tuneops.providers.local.tiny import build_tiny_model

    return build_tiny_model(tmp_path_factory.mktemp("tiny") / "tiny-chat")


def tickets(n: int, *, seed: int, held_out: bool = False, seen: set[str] | None = None) -> list[dict[str, Any]]:
    """``n`` "ticket -> label" chats (the example project's tickets, without its long system prompt)."""
    from tuneops.examples import tickets as example_tickets

    return [{"messages": t["messages"][1:]} for t in example_tickets(n, seed=seed, held_out=held_out, seen=seen)]


def write_jsonl(path: Path, rows: list[dict[str, Any]]) -> Path:
    """Write rows as JSON lines."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


SPEC = """\
name = "triage"
method = "sft"

[model]
provider = "local"
base = "tiny-chat"

[options.local]
base_model_dir = "{base}"
modules_to_save = ["lm_head", "embed_tokens"]
lora_r = 8
lora_alpha = 16
lora_dropout = 0.0
threads = 1
max_steps = {steps}
eval_every = {every}

[data]
train = "data/train.jsonl"
validation = "data/valid.jsonl"

[hyperparameters]
batch_size = 8
learning_rate = 0.003
seed = 0

[eval]
set = "data/eval.jsonl"
metrics = ["exact_match", "label_accuracy"]
max_tokens = 12
concurrency = 2

[promote]
alias = "production"
metric = "exact_match"
beat_base = true
min_examples = 30
"""


def write_project(root: Path, base: Path, *, steps: int = 300, every: int = 25, train: int = 200) -> Path:
    """A job spec on the tiny model with 200 training tickets, 30 validation and 60 held-out eval tickets."""
    seen: set[str] = set()
    write_jsonl(root / "jobs" / "data" / "train.jsonl", tickets(train, seed=1, seen=seen))
    write_jsonl(root / "jobs" / "data" / "valid.jsonl", tickets(30, seed=2, seen=seen))
    write_jsonl(root / "jobs" / "data" / "eval.jsonl", tickets(60, seed=3, held_out=True, seen=seen))
    spec = root / "jobs" / "triage.toml"
    spec.write_text(SPEC.format(base=base, steps=steps, every=every), encoding="utf-8")
    return spec


@pytest.fixture
def cleanup_jobs() -> Iterator[list[Path]]:
    """Job roots whose training processes are stopped when the test ends (no stray process survives it)."""
    roots: list[Path] = []
    yield roots
    import signal

    from tuneops.providers.local.jobs import JobDir

    for root in roots:
        for path in sorted((root / "jobs").glob("*/job.json")):
            job = JobDir(path.parent)
            pid = (job.launched() or {}).get("pid")
            if pid and job.alive():  # whatever status a test pinned, its process goes
                os.killpg(int(pid), signal.SIGKILL)


@pytest.fixture
def tiny_project(tmp_path: Path, tiny_model: Path, cleanup_jobs: list[Path]):  # type: ignore[no-untyped-def]
    """``tiny_project(steps=..., every=..., train=...)`` writes a project on the tiny model; returns its spec."""
    cleanup_jobs.append(tmp_path / ".tuneops" / "local")

    def make(**kwargs: int) -> Path:
        return write_project(tmp_path, tiny_model, **kwargs)

    return make
