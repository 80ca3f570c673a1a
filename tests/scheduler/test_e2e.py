"""End to end on the sandbox: new data arrives, the alias holder's eval score drops below the policy's
threshold, and `tuneops schedule run --once` alone re-scores it, retrains, evaluates and promotes the
new model, telling a webhook receiver at each step."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from tuneops import audit, models
from tuneops.cli import main
from tuneops.examples import RETRAIN, tickets
from tuneops.store import open_store
from tuneops.store.scheduler_tables import FireRow
from tuneops.store.tables import AuditEventRow, RunRow

POLICY = """
[retrain]
eval_below = 0.8
min_eval_examples = 50
new_examples = 20
cooldown_hours = 0
"""


@pytest.fixture
def receiver() -> Iterator[tuple[str, list[dict]]]:
    """A webhook receiver on loopback (starlette + uvicorn); yields its URL and what it got."""
    import uvicorn
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    got: list[dict] = []

    async def hook(request: Request) -> JSONResponse:
        got.append({**json.loads(await request.body()), "_delivery": request.headers["x-tuneops-delivery"]})
        return JSONResponse({"ok": True})

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(Starlette(routes=[Route("/hook", hook, methods=["POST"])]),
                                           log_config=None, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.01)
    yield f"http://127.0.0.1:{sock.getsockname()[1]}/hook", got
    server.should_exit = True
    thread.join(5)
    sock.close()


def _jsonl(path: Path, rows: list[dict]) -> None:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")


def _label(row: dict) -> str:
    return str(row["messages"][-1]["content"])


@pytest.mark.slow
def test_a_falling_eval_after_new_data_is_retrained_and_promoted_without_a_human(
        project: Path, sandbox_env: object, receiver, monkeypatch: pytest.MonkeyPatch,  # type: ignore[no-untyped-def]
        capsys: pytest.CaptureFixture[str]) -> None:
    url, got = receiver
    data = project.parent / "data"
    # Version 1 of the job knows two queues; its model is trained and promoted as usual.
    _jsonl(data / "support-triage.train.jsonl", [r for r in tickets(300, seed=1) if _label(r) != "account"])
    _jsonl(data / "support-triage.eval.jsonl", [r for r in tickets(90, seed=3, held_out=True)
                                               if _label(r) != "account"])
    project.write_text(project.read_text().replace(RETRAIN, "") + POLICY)
    assert main(["submit", str(project), "--watch", "--json"]) == 0
    first = json.loads(capsys.readouterr().out)["model_id"]
    assert main(["schedule", "tick", "--json"]) == 0  # nothing is due: the new model scores well
    assert json.loads(capsys.readouterr().out)["fired"] == []

    # New data arrives: tickets for a third queue, in the training data and in the eval set.
    with (data / "support-triage.train.jsonl").open("a") as f:
        f.writelines(json.dumps(r) + "\n" for r in tickets(300, seed=11) if _label(r) == "account")
    _jsonl(data / "support-triage.eval.jsonl", tickets(90, seed=3, held_out=True))
    monkeypatch.setenv("TUNEOPS_NOTIFY_URLS", url)
    monkeypatch.setenv("TUNEOPS_ALLOW_PRIVATE_WEBHOOKS", "1")  # the receiver is on loopback

    assert main(["schedule", "run", "--once", "--poll", "0.3"]) == 0
    out = capsys.readouterr().out
    assert "fired support-triage: eval: exact_match 0.6667" in out and "below 0.8000" in out

    store = open_store()
    with store.read() as s:
        [fire] = s.execute(select(FireRow)).scalars().all()
        [run] = s.execute(select(RunRow).where(RunRow.id == json.loads(fire.run_ids)[0])).scalars().all()
        now_holding = models.holder(s, "support-triage", "production")
        actions = [a for (a,) in s.execute(select(AuditEventRow.action).order_by(AuditEventRow.seq))]
    assert fire.rule == "eval" and fire.fire_key.startswith("eval:eval_") and "also data: 100 new" in fire.reason
    assert (fire.state, fire.outcome) == ("done", "promoted")
    assert run.state == "succeeded" and run.trigger.startswith(f"schedule {fire.id} eval:")
    assert now_holding is not None and now_holding.provider_model_id == run.model_id != first
    assert actions[-1] == "schedule.settled" and "schedule.fire" in actions and "model.promoted" in actions
    assert audit.verify(store).ok

    events = [g["event"] for g in got]
    assert events == ["fire", "success", "promotion"]
    promo = got[-1]
    assert promo["alias"] == "support-triage@production" and promo["model"] == run.model_id
    assert promo["previous_model"] == first and promo["scores"]["candidate"] > promo["scores"]["holder"]
    assert len({g["_delivery"] for g in got}) == 3
