"""Acceptance on the sandbox with the example job: the fine-tuned model beats its base model, the
numbers are stored, compare lists the flipped examples, re-runs are free, and the gate refuses a
candidate that does not beat the alias holder by the margin."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import func, select

from tuneops import spec as specmod
from tuneops.cli import main
from tuneops.evals.flow import after_success
from tuneops.runs.orchestrator import Orchestrator, ProviderPool
from tuneops.store import open_store
from tuneops.store.eval_tables import EvalResultRow, EvalRunRow
from tuneops.store.tables import AuditEventRow

CHAT = "POST /v1/chat/completions"


def _json(capsys: pytest.CaptureFixture[str]):  # type: ignore[no-untyped-def]
    return json.loads(capsys.readouterr().out)


def test_submit_watch_evaluates_promotes_and_compare_lists_flips(
        project: Path, sandbox_env: object, requests_at, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["submit", str(project), "--watch", "--json"]) == 0
    model_id = _json(capsys)["model_id"]

    store = open_store()
    with store.read() as s:
        evals = {e.model_kind: e for e in s.exec(select(EvalRunRow)).scalars()}
        stored = s.exec(select(func.count()).select_from(EvalResultRow)).scalar_one()
        actions = [a.action for a in s.exec(select(AuditEventRow)).scalars()]
    cand, base = evals["fine-tuned"], evals["base"]
    assert cand.model == model_id and base.model == "sandbox-mini"
    assert cand.examples == base.examples == 90 and stored == 180
    cand_scores, base_scores = json.loads(cand.scores), json.loads(base.scores)
    assert cand_scores["label_accuracy"] >= base_scores["label_accuracy"] + 0.5
    assert cand_scores["exact_match"] >= base_scores["exact_match"] + 0.5
    assert actions.count("eval.completed") == 2 and "model.promoted" in actions

    assert main(["models", "list", "--json"]) == 0
    [listed] = _json(capsys)
    assert listed["aliases"] == ["support-triage@production"] and listed["scores"] == cand_scores

    assert main(["eval", "compare", "sandbox-mini", "support-triage@production", "--json"]) == 0
    cmp = _json(capsys)
    assert cmp["paired"] == 90 and cmp["delta"] > 0.5 and cmp["ci"]["low"] > 0
    assert len(cmp["fail_to_pass"]) >= 45 and cmp["fail_to_pass"][0]["output_b"] == cmp["fail_to_pass"][0]["reference"]
    assert main(["eval", "compare", base.id, cand.id, "--limit", "2"]) == 0
    text = capsys.readouterr().out
    assert "fail -> pass" in text and "pass -> fail: none" in text and "CI [" in text

    before = requests_at(CHAT)
    assert main(["eval", "support-triage@production", "--json"]) == 0
    again = _json(capsys)
    assert requests_at(CHAT) == before
    assert (again["id"], again["reused"], again["scores"]) == (cand.id, True, cand_scores)
    assert cand.set_path == "jobs/data/support-triage.eval.jsonl"  # relative to the project


def test_rerunning_an_eval_makes_no_inference_calls(
        project: Path, sandbox_env: object, requests_at, capsys: pytest.CaptureFixture[str]) -> None:
    before = requests_at(CHAT)
    assert main(["eval", "sandbox-mini", "--spec", str(project), "--json"]) == 0
    first = _json(capsys)
    middle = requests_at(CHAT)
    # The same set named another way (as the scheduler does: absolute, through the jobs folder).
    assert main(["eval", "sandbox-mini", "--spec", str(project.resolve()), "--json"]) == 0
    second = _json(capsys)
    # 90 examples, some asked twice in the set: each distinct prompt is paid for once, then never again.
    assert 0 < middle - before == first["inference_calls"] <= 90
    assert requests_at(CHAT) == middle
    assert first["set_path"] == second["set_path"] == "jobs/data/support-triage.eval.jsonl"
    assert second["id"] == first["id"] and second["reused"] and not first["reused"]
    assert main(["eval", "list", "--json"]) == 0
    assert len(_json(capsys)) == 1


def test_a_candidate_short_of_the_margin_is_not_promoted(project: Path, sandbox_env: object) -> None:
    loaded = specmod.load(project)
    store = open_store()
    orch = Orchestrator(store, ProviderPool())
    try:
        first_run = orch.watch(orch.submit(loaded).id, interval=0.05)
        first = after_success(orch, loaded, first_run)
        # The same spec and data trained again on purpose (`submit --again --reason`).
        again = orch.submit_intent(orch.prepare(loaded), again="a second candidate").run
        second_run = orch.watch(again.id, interval=0.05)
        # Without a loaded spec (as `sync` calls it) the spec the run was admitted with decides.
        second = after_success(orch, None, second_run)
    finally:
        orch.pool.close()
    assert first.status == "promoted" and first.model == first_run.model_id
    # Same data, same learner: the candidate ties the holder, which is short of the 0.02 margin.
    assert second.status == "refused" and second.rule == "margin"
    cand, held = second.scores["candidate"], second.scores["holder"]
    assert f"candidate exact_match {cand:.4f}" in second.message
    assert f"holder {first_run.model_id} {held:.4f} + margin 0.0200" in second.message
    with store.read() as s:
        refusal = s.exec(select(AuditEventRow).where(AuditEventRow.action == "model.promotion_refused")).scalar_one()
        from tuneops import models

        holder = models.holder(s, "support-triage", "production")
    details = json.loads(refusal.details)
    assert details["rule"] == "margin" and details["candidate_score"] == cand and details["holder_score"] == held
    assert holder is not None and holder.provider_model_id == first_run.model_id


def test_submit_no_promote_leaves_evals_and_aliases_alone(
        project: Path, sandbox_env: object, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["submit", str(project), "--watch", "--json", "--no-promote"]) == 0
    capsys.readouterr()
    with open_store().read() as s:
        assert s.exec(select(func.count()).select_from(EvalRunRow)).scalar_one() == 0
    assert main(["models", "list", "--json"]) == 0
    assert _json(capsys)[0]["aliases"] == []
