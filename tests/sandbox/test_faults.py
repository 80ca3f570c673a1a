"""Fault injection seen through the official openai SDK: 429s, 5xx, dropped creates, timeouts."""

from __future__ import annotations

import time
from collections.abc import Iterator
from types import SimpleNamespace

import httpx
import openai
import pytest

from tuneops.sandbox import FaultConfig, SandboxServer

CREATE = "POST /v1/fine_tuning/jobs"


@pytest.fixture(autouse=True)
def _clean(server: SandboxServer) -> Iterator[None]:
    """Each test starts with no faults and an empty sandbox (restarting servers is slower)."""
    server.configure_faults(FaultConfig())
    server.state.reset()
    yield
    server.configure_faults(FaultConfig())


@pytest.fixture
def training_file(client: openai.OpenAI, training_bytes: bytes) -> str:
    """An uploaded training file (uploaded before any fault is switched on)."""
    return client.files.create(file=("train.jsonl", training_bytes), purpose="fine-tune").id


def _jobs(client: openai.OpenAI) -> list[str]:
    return [j.id for j in client.fine_tuning.jobs.list(limit=100)]


def test_429_carries_retry_after_and_changes_nothing(
    server: SandboxServer, client: openai.OpenAI, admin: httpx.Client, training_file: str
) -> None:
    server.configure_faults(FaultConfig(rate_429=1.0, retry_after=7, routes=(CREATE,)))
    with pytest.raises(openai.RateLimitError) as exc:
        client.fine_tuning.jobs.create(model="sandbox-mini", training_file=training_file)
    assert exc.value.response.headers["retry-after"] == "7"
    assert exc.value.code == "rate_limit_exceeded"
    assert _jobs(client) == []  # other routes are untouched, and nothing was created
    assert admin.get("/stats").json()["faults_injected"] == {"429": 1}


def test_sdk_retries_after_a_short_retry_after(
    server: SandboxServer, kit: SimpleNamespace, admin: httpx.Client, training_file: str
) -> None:
    admin.post("/faults", json={"rate_429": 1.0, "retry_after": 0.05, "max_faults": 1, "routes": [CREATE]})
    with kit.sdk_client(server, max_retries=2) as retrying:
        job = retrying.fine_tuning.jobs.create(model="sandbox-mini", training_file=training_file)
    assert job.id
    stats = admin.get("/stats").json()
    assert stats["requests"][CREATE] == 2 and stats["faults_injected"] == {"429": 1}


@pytest.mark.parametrize(
    ("mode", "error"), [("error", openai.InternalServerError), ("abort", openai.APIConnectionError)]
)
def test_dropped_create_takes_effect_though_the_client_sees_an_error(
    server: SandboxServer,
    client: openai.OpenAI,
    admin: httpx.Client,
    training_file: str,
    mode: str,
    error: type[Exception],
) -> None:
    admin.post("/faults", json={"rate_drop": 1.0, "drop_mode": mode, "routes": [CREATE]}).raise_for_status()
    with pytest.raises(error):
        client.fine_tuning.jobs.create(
            model="sandbox-mini", training_file=training_file, metadata={"client_request": "r-1"}
        )
    admin.post("/faults", json={}).raise_for_status()  # faults off
    found = client.fine_tuning.jobs.list(metadata={"client_request": "r-1"}).data
    assert len(found) == 1  # the job exists: the create took effect before the answer was lost


def test_timeout_leaves_an_ambiguous_but_effective_request(
    server: SandboxServer, kit: SimpleNamespace, training_file: str
) -> None:
    server.configure_faults(FaultConfig(rate_timeout=1.0, timeout_delay=0.6, routes=(CREATE,)))
    with kit.sdk_client(server, timeout=0.15) as impatient, pytest.raises(openai.APITimeoutError):
        impatient.fine_tuning.jobs.create(model="sandbox-mini", training_file=training_file)
    server.configure_faults(FaultConfig())
    with kit.sdk_client(server) as c:
        deadline = time.monotonic() + 5
        while not _jobs(c) and time.monotonic() < deadline:
            time.sleep(0.02)  # the server may still be "training" when the client gives up
        assert len(_jobs(c)) == 1


def test_server_errors_and_slow_answers(server: SandboxServer, client: openai.OpenAI, admin: httpx.Client) -> None:
    server.configure_faults(FaultConfig(rate_5xx=1.0, routes=("/v1/models",), max_faults=3))
    statuses = set()
    for _ in range(3):
        with pytest.raises(openai.InternalServerError) as exc:
            client.models.list()
        statuses.add(exc.value.status_code)
        assert exc.value.body["type"] == "server_error"  # type: ignore[index]
    assert statuses <= {500, 502, 503}
    assert client.models.list().data  # the budget of 3 faults is spent

    server.configure_faults(FaultConfig(rate_slow=1.0, slow_delay=0.2))
    started = time.monotonic()
    client.models.list()
    assert time.monotonic() - started >= 0.2


def test_admin_routes_are_never_faulted(server: SandboxServer, client: openai.OpenAI, admin: httpx.Client) -> None:
    admin.post("/faults", json={"rate_5xx": 1.0}).raise_for_status()
    assert admin.get("/faults").json()["rate_5xx"] == 1.0
    assert admin.get("/health").status_code == 200
    assert admin.get("/stats").status_code == 200
    with pytest.raises(openai.InternalServerError):
        client.models.list()
    bad = admin.post("/faults", json={"rate_5xx": 2.0})
    assert bad.status_code == 400 and "rate_5xx" in bad.json()["error"]["message"]
    assert admin.post("/faults", json={"no_such": 1}).status_code == 400


def test_same_seed_same_fault_pattern(kit: SimpleNamespace) -> None:
    def pattern() -> list[int]:
        config = FaultConfig(rate_5xx=0.5, seed=3)
        with SandboxServer(faults=config, seed=1) as srv, httpx.Client() as http:
            headers = {"Authorization": "Bearer x"}
            return [http.get(f"{srv.url}/models", headers=headers).status_code for _ in range(12)]

    first = pattern()
    assert first == pattern()
    assert 200 in first and any(code >= 500 for code in first)
