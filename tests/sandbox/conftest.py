"""Fixtures for the sandbox tests: servers on loopback port 0, SDK clients, generated datasets."""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable, Iterator
from types import SimpleNamespace
from typing import Any

import httpx
import openai
import pytest

from tuneops.sandbox import SandboxServer

# Fast enough that a few-hundred-example job finishes in about 0.15 s.
FAST = 25.0

_KEYWORDS = {
    "billing": "invoice refund charge payment card billed subscription price receipt overcharged discount plan",
    "technical": "error crash login bug slow timeout freeze install update broken loading screen",
    "account": "password email profile username delete locked verify address name signup settings two-factor",
}
_FILLER = (
    "please help my the today thanks urgent hi i have a problem with since yesterday again still "
    "cannot why is this happening need you could someone look at it asap hello team"
)
SYSTEM = "Classify the support ticket as billing, technical or account. Reply with the label only."


class ManualClock:
    """A clock that moves only when told to."""

    def __init__(self, start: float = 1_800_000_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        """Move time forward."""
        self.now += seconds


def ticket(label: str, rng: random.Random) -> str:
    """A synthetic support ticket: two or three words of its class among shared filler."""
    words = rng.sample(_KEYWORDS[label].split(), rng.randint(2, 3)) + rng.sample(_FILLER.split(), rng.randint(3, 6))
    rng.shuffle(words)
    return " ".join(words)


def classification_rows(n_per_class: int, seed: int) -> list[dict[str, Any]]:
    """Chat examples of a 3-class ticket-routing task."""
    rng = random.Random(seed)
    rows = []
    for _ in range(n_per_class):
        for label in _KEYWORDS:
            rows.append(
                {
                    "messages": [
                        {"role": "system", "content": SYSTEM},
                        {"role": "user", "content": ticket(label, rng)},
                        {"role": "assistant", "content": label},
                    ]
                }
            )
    rng.shuffle(rows)
    return rows


def jsonl(rows: list[dict[str, Any]]) -> bytes:
    """Rows as JSONL bytes."""
    return ("\n".join(json.dumps(r) for r in rows) + "\n").encode()


def wait_for(
    client: openai.OpenAI, job_id: str, until: Callable[[Any], bool] | None = None, timeout: float = 60.0
) -> Any:
    """Poll a job until ``until(job)`` (default: a terminal status) or fail after ``timeout``."""
    done = until or (lambda j: j.status in ("succeeded", "failed", "cancelled"))
    deadline = time.monotonic() + timeout
    while True:
        job = client.fine_tuning.jobs.retrieve(job_id)
        if done(job):
            return job
        if time.monotonic() > deadline:
            raise AssertionError(f"job {job_id} still {job.status} after {timeout}s")
        time.sleep(0.02)


def sdk_client(server: SandboxServer, **kwargs: Any) -> openai.OpenAI:
    """The official SDK pointed at ``server``, without retries unless asked."""
    kwargs.setdefault("max_retries", 0)
    return openai.OpenAI(base_url=server.url, api_key="sk-test", http_client=httpx.Client(), **kwargs)


@pytest.fixture(scope="module")
def server() -> Iterator[SandboxServer]:
    """A fast sandbox shared by one test module."""
    with SandboxServer(time_scale=FAST) as srv:
        yield srv


@pytest.fixture
def client(server: SandboxServer) -> Iterator[openai.OpenAI]:
    """An SDK client for the module's sandbox."""
    with sdk_client(server) as c:
        yield c


@pytest.fixture
def admin(server: SandboxServer) -> Iterator[httpx.Client]:
    """A plain HTTP client for the admin routes."""
    with httpx.Client(base_url=server.admin_url) as c:
        yield c


@pytest.fixture(scope="module")
def training_bytes() -> bytes:
    """300 examples of the 3-class task."""
    return jsonl(classification_rows(100, seed=1))


@pytest.fixture(scope="session")
def kit() -> SimpleNamespace:
    """Helpers for test modules (conftest modules cannot be imported under importlib mode)."""
    return SimpleNamespace(
        FAST=FAST,
        SYSTEM=SYSTEM,
        ManualClock=ManualClock,
        ticket=ticket,
        classification_rows=classification_rows,
        jsonl=jsonl,
        wait_for=wait_for,
        sdk_client=sdk_client,
    )
