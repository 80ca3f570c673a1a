"""What a full run leaves in the audit trail: every state change and every spend, with who, when and
the details a reviewer needs (spec and dataset hashes, hyperparameters, provider ids, estimate and
actual cost, eval scores, the promotion decision)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from sqlalchemy import select

from tuneops import audit
from tuneops.cli import main
from tuneops.store import open_store
from tuneops.store.tables import AuditEventRow, RunEventRow


def test_a_run_from_spec_to_alias_is_fully_on_the_record(project: Path, sandbox_env: object,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["submit", str(project), "--watch", "--json"]) == 0
    run = json.loads(capsys.readouterr().out)
    store = open_store()
    with store.read() as s:
        events = list(s.execute(select(AuditEventRow).order_by(AuditEventRow.seq)).scalars())
        changes = [e.message for e in s.execute(select(RunEventRow).where(
            RunEventRow.run_id == run["id"], RunEventRow.kind == "state").order_by(RunEventRow.id)).scalars()]
    by_action: dict[str, list[dict]] = {}
    for e in events:
        assert e.actor == "tester@tuneops" and e.at is not None
        by_action.setdefault(e.action, []).append(json.loads(e.details))

    # Every state change of the run is an audit event naming both states.
    moves = {(d.get("from_state"), d.get("to_state")) for e in events if e.subject_id == run["id"]
             for d in [json.loads(e.details)]}
    for change in changes:
        if "->" in change:
            before, after = re.match(r"(\w+) -> (\w+)", change).groups()  # type: ignore[union-attr]
            assert (before, after) in moves, f"state change {change!r} has no audit event"
    assert changes[0] == "admitted" and "run.admitted" in by_action

    admitted = by_action["run.admitted"][0]
    assert admitted["spec_sha256"] == run["spec_sha256"] and admitted["dataset_sha256"] == run["train_sha256"]
    assert admitted["hyperparameters"]["epochs"] == 3 and admitted["estimate_microusd"] is not None
    assert by_action["run.submitted"][0]["provider_job_id"] == run["provider_job_id"]
    assert {u["provider"] for u in by_action["upload.created"]} == {"sandbox"}
    done = by_action["run.succeeded"][0]
    assert done["provider_model_id"] == run["model_id"]
    assert "cost_microusd" in done and "estimate_microusd" in done  # the spend, next to its estimate
    assert all("cost_microusd" in d and "scores" in d for d in by_action["eval.completed"])
    promoted = by_action["model.promoted"][0]
    assert promoted["model"] == run["model_id"] and "candidate_score" in promoted and "margin" in promoted
    assert audit.verify(store).ok
