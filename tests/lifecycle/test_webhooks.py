"""Webhooks: a signed delivery syncs the right run once; bad, old and replayed deliveries do nothing."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import secrets
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from starlette.testclient import TestClient

from tuneops.clock import utcnow
from tuneops.errors import MissingCredential, TransientProviderError
from tuneops.runs.webhooks import WEBHOOK_PATH, WebhookReceiver, create_app
from tuneops.store import Store, open_store, queries
from tuneops.store.tables import RunEventRow, RunRow

SECRET = "whsec_" + base64.b64encode(b"tuneops-test-signing-secret-0123").decode()


def sign(body: bytes, *, webhook_id: str, secret: str = SECRET, timestamp: int | None = None) -> dict[str, str]:
    """Standard Webhooks headers, computed here independently of the SDK that verifies them."""
    ts = str(int(time.time()) if timestamp is None else timestamp)
    key = base64.b64decode(secret.removeprefix("whsec_"))
    mac = hmac.new(key, f"{webhook_id}.{ts}.".encode() + body, hashlib.sha256).digest()
    return {"webhook-id": webhook_id, "webhook-timestamp": ts,
            "webhook-signature": f"v1,{base64.b64encode(mac).decode()}",
            "content-type": "application/json"}


def event(job_id: str, kind: str = "succeeded") -> bytes:
    return json.dumps({"id": f"evt_{secrets.token_hex(6)}", "object": "event",
                       "type": f"fine_tuning.job.{kind}", "created_at": int(time.time()),
                       "data": {"id": job_id}}).encode()


def add_run(store: Store, run_id: str, provider: str, job_id: str, state: str = "running") -> None:
    now = utcnow()
    with store.write() as s:
        s.add(RunRow(id=run_id, idempotency_key=f"tuneops-{run_id}", job_name="support-triage",
                     spec_sha256="0" * 64, spec_json="{}", provider=provider, base_model="gpt-4.1-mini",
                     method="sft", state=state, provider_job_id=job_id, train_sha256="1" * 64,
                     created_at=now, updated_at=now))


def event_count(store: Store) -> int:
    with store.read() as s:
        return s.exec(select(func.count()).select_from(RunEventRow)).scalar_one()  # type: ignore[call-overload]


class FakeSync:
    """Records which runs it was asked to sync; fails the first ``fail`` times."""

    def __init__(self, fail: int = 0):
        self.calls: list[str] = []
        self.fail = fail

    def __call__(self, run: RunRow) -> RunRow:
        self.calls.append(run.id)
        if self.fail:
            self.fail -= 1
            raise TransientProviderError("503 from the provider", provider=run.provider, operation="get")
        run.state = "succeeded"
        return run


@pytest.fixture
def ledger() -> Store:
    store = open_store()
    add_run(store, "run_alpha", "openai", "ftjob-alpha")
    add_run(store, "run_beta", "openai", "ftjob-beta")
    add_run(store, "run_sandbox", "sandbox", "ftjob-alpha")  # same job id at another provider
    return store


@pytest.fixture
def sync() -> FakeSync:
    return FakeSync()


@pytest.fixture
def client(ledger: Store, sync: FakeSync) -> TestClient:
    return TestClient(create_app(WebhookReceiver(ledger, secret=SECRET, sync=sync)))


def post(client: TestClient, body: bytes, headers: dict[str, str]) -> httpx.Response:
    return client.post(WEBHOOK_PATH, content=body, headers=headers)


def test_a_signed_delivery_syncs_the_run_of_that_job_and_is_recorded(
        client: TestClient, ledger: Store, sync: FakeSync) -> None:
    body = event("ftjob-alpha")
    r = post(client, body, sign(body, webhook_id="wh_1"))
    assert r.status_code == 200
    assert r.json() == {"outcome": "synced", "run_id": "run_alpha", "state": "succeeded"}
    assert sync.calls == ["run_alpha"]  # not run_sandbox, whose job id is the same at another provider
    with ledger.read() as s:
        events = queries.run_events(s, "run_alpha")
    assert [e.provider_event_id for e in events] == ["webhook:wh_1"]
    assert "fine_tuning.job.succeeded" in events[0].message
    assert SECRET not in (events[0].data or "")


@pytest.mark.parametrize("tamper", ["wrong secret", "edited body", "old timestamp", "future timestamp",
                                    "no signature", "garbage signature"])
def test_a_bad_or_stale_signature_is_refused_and_records_nothing(
        client: TestClient, ledger: Store, sync: FakeSync, tamper: str) -> None:
    body = event("ftjob-alpha")
    other = "whsec_" + base64.b64encode(b"someone-else-entirely-0123456789").decode()
    headers = {
        "wrong secret": lambda: sign(body, webhook_id="wh_bad", secret=other),
        "edited body": lambda: sign(event("ftjob-beta"), webhook_id="wh_bad"),
        "old timestamp": lambda: sign(body, webhook_id="wh_bad", timestamp=int(time.time()) - 600),
        "future timestamp": lambda: sign(body, webhook_id="wh_bad", timestamp=int(time.time()) + 600),
        "no signature": lambda: {k: v for k, v in sign(body, webhook_id="wh_bad").items()
                                 if k != "webhook-signature"},
        "garbage signature": lambda: {**sign(body, webhook_id="wh_bad"), "webhook-signature": "v1,AAAA"},
    }[tamper]()
    before = event_count(ledger)
    r = post(client, body, headers)
    assert r.status_code == 400 and r.json()["outcome"] == "rejected"
    assert sync.calls == []
    assert event_count(ledger) == before


def test_a_redelivered_message_is_processed_once(client: TestClient, ledger: Store, sync: FakeSync) -> None:
    body = event("ftjob-beta", "failed")
    first = post(client, body, sign(body, webhook_id="wh_dup"))
    # The sender retries with the same webhook-id (and a fresh timestamp and signature).
    again = post(client, body, sign(body, webhook_id="wh_dup", timestamp=int(time.time()) + 1))
    assert first.json()["outcome"] == "synced"
    assert again.status_code == 200 and again.json()["outcome"] == "duplicate"
    assert sync.calls == ["run_beta"]
    other = post(client, body, sign(body, webhook_id="wh_new"))  # a new message about the same job
    assert other.json()["outcome"] == "synced" and sync.calls == ["run_beta", "run_beta"]


def test_an_unknown_job_is_acknowledged_and_nothing_is_synced(
        client: TestClient, ledger: Store, sync: FakeSync, caplog: pytest.LogCaptureFixture) -> None:
    body = event("ftjob-not-ours")
    before = event_count(ledger)
    with caplog.at_level("INFO", logger="tuneops.runs.webhooks"):
        r = post(client, body, sign(body, webhook_id="wh_unknown"))
    assert r.status_code == 200 and r.json()["outcome"] == "unknown_job"
    assert sync.calls == [] and event_count(ledger) == before
    assert "ftjob-not-ours" in caplog.text


def test_other_event_types_are_acknowledged_and_ignored(client: TestClient, sync: FakeSync) -> None:
    body = json.dumps({"id": "evt_1", "object": "event", "type": "batch.completed",
                       "created_at": int(time.time()), "data": {"id": "batch_1"}}).encode()
    r = post(client, body, sign(body, webhook_id="wh_batch"))
    assert r.status_code == 200 and r.json() == {"outcome": "ignored", "detail": "batch.completed"}
    assert sync.calls == []


def test_a_failed_sync_asks_for_redelivery_and_the_redelivery_is_processed(ledger: Store) -> None:
    sync = FakeSync(fail=1)
    client = TestClient(create_app(WebhookReceiver(ledger, secret=SECRET, sync=sync)))
    body = event("ftjob-alpha")
    failed = post(client, body, sign(body, webhook_id="wh_retry"))
    assert failed.status_code == 503 and failed.json()["outcome"] == "failed"
    retried = post(client, body, sign(body, webhook_id="wh_retry"))
    assert retried.status_code == 200 and retried.json()["outcome"] == "synced"
    assert sync.calls == ["run_alpha", "run_alpha"]
    with ledger.read() as s:
        kinds = [e.kind for e in queries.run_events(s, "run_alpha")]
    assert kinds == ["error", "provider"]


def test_the_default_receiver_advances_runs_with_the_orchestrator(ledger: Store) -> None:
    # A finished run: advance() returns it untouched, so no provider is called.
    add_run(ledger, "run_done", "openai", "ftjob-done", state="succeeded")
    client = TestClient(create_app(WebhookReceiver(ledger, secret=SECRET)))
    body = event("ftjob-done")
    r = post(client, body, sign(body, webhook_id="wh_done"))
    assert r.json() == {"outcome": "synced", "run_id": "run_done", "state": "succeeded"}


def test_a_webhook_for_a_finished_sandbox_job_completes_the_run_with_its_loss_curves(
        project: Path, sandbox_env: Any, capsys: pytest.CaptureFixture[str]) -> None:
    from tuneops.cli import main

    assert main(["submit", str(project), "--json", "--no-promote"]) == 0
    run = json.loads(capsys.readouterr().out)
    job_url = f"{sandbox_env.url}/fine_tuning/jobs/{run['provider_job_id']}"
    deadline = time.monotonic() + 60
    while httpx.get(job_url, headers={"Authorization": "Bearer sandbox"}).json()["status"] != "succeeded":
        assert time.monotonic() < deadline, "the sandbox job did not finish"
        time.sleep(0.2)

    receiver = WebhookReceiver(open_store(), secret=SECRET, providers=("sandbox",))
    client = TestClient(create_app(receiver))
    body = event(run["provider_job_id"])
    r = post(client, body, sign(body, webhook_id="wh_sandbox"))
    receiver.close()
    assert r.json() == {"outcome": "synced", "run_id": run["id"], "state": "succeeded"}

    assert main(["runs", "metrics", run["id"], "--json"]) == 0
    series = json.loads(capsys.readouterr().out)["series"]
    assert series["train_loss"] and series["valid_loss"]


def test_without_a_secret_the_receiver_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_WEBHOOK_SECRET", raising=False)
    with pytest.raises(MissingCredential, match="OPENAI_WEBHOOK_SECRET"):
        WebhookReceiver(open_store(), sync=FakeSync())


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_tuneops_webhooks_serve_answers_over_http(tmp_path: Path) -> None:
    port = _free_port()
    env = {**os.environ, "OPENAI_WEBHOOK_SECRET": SECRET}
    server = subprocess.Popen([sys.executable, "-m", "tuneops", "webhooks", "serve", "--port", str(port)],
                              env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert server.poll() is None, server.stdout.read().decode()  # type: ignore[union-attr]
            assert time.monotonic() < deadline, "the webhook server did not start"
            time.sleep(0.2)
        body = event("ftjob-nobody")
        ok = httpx.post(f"{base}{WEBHOOK_PATH}", content=body, headers=sign(body, webhook_id="wh_live"))
        bad = httpx.post(f"{base}{WEBHOOK_PATH}", content=body,
                         headers={**sign(body, webhook_id="wh_live"), "webhook-signature": "v1,AAAA"})
        assert (ok.status_code, ok.json()["outcome"]) == (200, "unknown_job")
        assert bad.status_code == 400
    finally:
        server.terminate()
        out: Any = server.communicate(timeout=30)[0].decode()
    assert "ftjob-nobody" in out and SECRET not in out
