"""The promotion gate, alias moves with history and rollback, and comparisons of stored evals."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from tuneops import models
from tuneops.clock import utcnow
from tuneops.errors import TuneopsError
from tuneops.evals.compare import compare_rows
from tuneops.spec import JobSpec, PromoteSection, canonical_json
from tuneops.store import Store, open_store
from tuneops.store.eval_tables import EvalResultRow, EvalRunRow
from tuneops.store.tables import AuditEventRow, ModelRow, RunRow

RULE = PromoteSection(alias="production", metric="exact_match", margin=0.02, beat_base=True, min_examples=50)


def _gate(candidate: float, holder: float | None, base: float | None, examples: int = 90):  # type: ignore[no-untyped-def]
    return models.check_gate(
        RULE, models.Score("ft:new", candidate, examples),
        models.Score("ft:old", holder, examples) if holder is not None else None,
        models.Score("base-1", base, examples) if base is not None else None)


def test_a_candidate_that_beats_holder_and_base_by_the_margin_passes() -> None:
    gate = _gate(0.90, 0.87, 0.10)
    assert gate.passed and gate.rule is None and gate.message == "all rules passed"


def test_a_candidate_short_of_the_margin_is_refused_naming_the_rule_and_both_scores() -> None:
    gate = _gate(0.88, 0.87, 0.10)
    assert not gate.passed and gate.rule == "margin"
    assert "0.8800" in gate.message and "ft:old 0.8700" in gate.message and "margin 0.0200" in gate.message


def test_beat_base_and_min_examples_are_rules_too() -> None:
    assert _gate(0.50, None, 0.49).rule == "beat_base"
    gate = _gate(0.95, None, 0.10, examples=20)
    assert gate.rule == "min_examples" and "20 example(s), fewer than the 50 required" in gate.message
    assert _gate(0.95, None, None).rule == "beat_base"  # the base must be scored when the rule asks


def test_significant_refuses_a_lift_whose_paired_interval_reaches_zero() -> None:
    from tuneops.evals import stats

    rule = RULE.model_copy(update={"significant": True, "beat_base": False})
    cand, held = models.Score("ft:new", 0.56, 50), models.Score("ft:old", 0.50, 50)
    # 4 fixes and 1 regression in 50 pairs: the point lift 0.06 passes the margin, its interval spans 0.
    weak = stats.paired_binary([False] * 4 + [True] + [True] * 24 + [False] * 21,
                               [True] * 4 + [False] + [True] * 24 + [False] * 21)
    assert weak.low < 0 < weak.delta
    gate = models.check_gate(rule, cand, held, None, {"holder": weak})
    assert gate.rule == "significant" and f"[{weak.low:+.4f}, {weak.high:+.4f}]" in gate.message
    strong = stats.paired_binary([False] * 50, [True] * 31 + [False] * 19)
    assert models.check_gate(rule, models.Score("ft:new", 0.62, 50), models.Score("ft:old", 0.0, 50), None,
                             {"holder": strong}).passed


def _model(store: Store, n: int, job: str = "triage") -> ModelRow:
    spec = JobSpec.model_validate({"name": job, "model": {"provider": "sandbox", "base": "sandbox-mini"},
                                   "data": {"train": "t.jsonl"}})
    now = utcnow()
    with store.write() as s:
        s.add(RunRow(id=f"run_{n}", idempotency_key=f"k{n}", job_name=job, spec_sha256="0" * 64,
                     spec_json=canonical_json(spec), provider="sandbox", base_model="sandbox-mini", method="sft",
                     state="succeeded", train_sha256="1" * 64, created_at=now, updated_at=now))
        s.flush()
        model = ModelRow(provider="sandbox", provider_model_id=f"ft:m{n}", run_id=f"run_{n}", job_name=job,
                         base_model="sandbox-mini", train_sha256="1" * 64, created_at=now)
        s.add(model)
    return model


def test_rollback_walks_back_through_the_alias_history() -> None:
    store = open_store()
    a, b, c = (_model(store, i) for i in (1, 2, 3))
    for m in (a, b, c):
        models.promote(store, m.id or 0, "production", reason="test")
    assert models.promote(store, c.id or 0, "production").action == "unchanged"
    move = models.rollback(store, "triage@production")
    assert (move.model, move.previous_model) == ("ft:m2", "ft:m3")
    assert models.rollback(store, "production").model == "ft:m1"  # a bare name held by one job
    with pytest.raises(TuneopsError, match="no previous holder"):
        models.rollback(store, "production")
    with store.read() as s:
        assert models.holder(s, "triage", "production").provider_model_id == "ft:m1"  # type: ignore[union-attr]
        moves = models.alias_moves(s, "triage@production")
        actions = [e.action for e in s.exec(select(AuditEventRow).order_by(AuditEventRow.seq)).scalars()]
    assert [(m["action"], m["model"]) for m in moves] == [
        ("promote", "ft:m1"), ("promote", "ft:m2"), ("promote", "ft:m3"), ("rollback", "ft:m2"), ("rollback", "ft:m1")]
    assert actions == ["model.promoted"] * 3 + ["model.rolled_back"] * 2
    # After a rollback, a new promotion pushes on top of the current holder.
    d = _model(store, 4)
    models.promote(store, d.id or 0, "production")
    assert models.rollback(store, "production").model == "ft:m1"


def test_models_list_shows_aliases_and_latest_scores() -> None:
    store = open_store()
    a = _model(store, 1)
    models.promote(store, a.id or 0, "production")
    with store.write() as s:
        s.add(_eval_row("eval_x1", "ft:m1", {"exact_match": 0.5}))
    with store.read() as s:
        [record] = models.list_models(s)
    data = record.as_dict()
    assert data["aliases"] == ["triage@production"] and data["scores"] == {"exact_match": 0.5}
    assert data["run_id"] == "run_1" and data["base_model"] == "sandbox-mini"


def _eval_row(eval_id: str, model: str, scores: dict[str, float]) -> EvalRunRow:
    now = utcnow()
    return EvalRunRow(id=eval_id, provider="sandbox", model=model, model_kind="fine-tuned", set_path="e.jsonl",
                      set_sha256="2" * 64, examples=4, metrics=json.dumps({k: 0.5 for k in scores}),
                      scores=json.dumps(scores), params="{}", created_at=now, finished_at=now)


def _results(eval_id: str, passes: list[int], shas: list[str]) -> list[EvalResultRow]:
    return [EvalResultRow(eval_id=eval_id, position=i, line=i + 1, example_sha256=sha, reference=f"ref{i}",
                          output=f"{eval_id}-{i}", scores=json.dumps({"exact_match": float(p)}))
            for i, (p, sha) in enumerate(zip(passes, shas, strict=True))]


def test_compare_pairs_examples_and_lists_flips_each_way() -> None:
    shas = ["s0", "s1", "s2", "s2", "s3"]  # a repeated example pairs copy with copy
    a = _eval_row("eval_a", "base", {"exact_match": 0.4})
    b = _eval_row("eval_b", "ft", {"exact_match": 0.6})
    cmp = compare_rows(a, b, _results("eval_a", [1, 0, 0, 1, 0], shas), _results("eval_b", [0, 1, 1, 1, 0], shas))
    assert cmp.paired == 5 and cmp.metric == "exact_match"
    assert (cmp.score_a, cmp.score_b, cmp.delta) == pytest.approx((0.4, 0.6, 0.2))
    assert [f.line for f in cmp.to_fail] == [1] and [f.line for f in cmp.to_pass] == [2, 3]
    assert cmp.to_pass[0].output_a == "eval_a-1" and cmp.to_pass[0].output_b == "eval_b-1"
    assert cmp.interval.p_value == pytest.approx(1.0)  # 1 vs 2 discordant: 2 * P(X <= 1 | Bin(3, .5)) = 1
    data = cmp.as_dict()
    assert len(data["fail_to_pass"]) == 2 and data["ci"]["low"] <= data["delta"] <= data["ci"]["high"]


def test_compare_refuses_evals_with_nothing_in_common() -> None:
    a, b = _eval_row("eval_a", "x", {"exact_match": 1}), _eval_row("eval_b", "y", {"exact_match": 1})
    with pytest.raises(TuneopsError, match="no example in common"):
        compare_rows(a, b, _results("eval_a", [1], ["s0"]), _results("eval_b", [1], ["other"]))
    with pytest.raises(TuneopsError, match="not in both evals"):
        compare_rows(a, b, [], [], metric="contains")


def test_evals_cache_and_alias_moves_work_on_sqlite_and_postgresql(any_db_url: str, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from tuneops.evals.runner import EvalConfig, ModelTarget, run_eval
    from tuneops.provider import Completion

    class Echo:
        name = "echo"
        calls = 0

        def infer(self, model, messages, **params):  # type: ignore[no-untyped-def]
            self.calls += 1
            return Completion(messages[-1]["content"], 3, 1)

    path = tmp_path / "e.jsonl"
    path.write_text("".join(json.dumps({"messages": [{"role": "user", "content": w},
                                                      {"role": "assistant", "content": "a"}]}) + "\n"
                            for w in ("a", "b", "A", "c")))
    store = open_store(any_db_url)
    a, b = _model(store, 1), _model(store, 2)
    bot = Echo()
    target = ModelTarget(provider="echo", model="ft:m1", kind="fine-tuned", job_name="triage", run_id="run_1")
    first = run_eval(store, bot, target, EvalConfig(path, metrics=("exact_match", "normalized_match")))  # type: ignore[arg-type]
    again = run_eval(store, bot, target, EvalConfig(path, metrics=("exact_match", "normalized_match")))  # type: ignore[arg-type]
    assert bot.calls == 4 and again.id == first.id
    assert json.loads(first.scores) == {"exact_match": 0.25, "normalized_match": 0.5}
    models.promote(store, a.id or 0, "production", eval_id=first.id)
    models.promote(store, b.id or 0, "production")
    assert models.rollback(store, "triage@production").model == "ft:m1"
    with store.read() as s:
        assert [r["eval_id"] for r in models.alias_moves(s, "production")] == [first.id, None, None]


def test_a_promote_metric_missing_from_eval_metrics_is_refused_before_any_inference(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from tuneops.evals.flow import gate_and_move
    from tuneops.evals.metrics import MetricError
    from tuneops.runs.orchestrator import Orchestrator

    store = open_store()
    model = _model(store, 1)
    spec = JobSpec.model_validate({
        "name": "triage", "model": {"provider": "sandbox", "base": "sandbox-mini"}, "data": {"train": "t.jsonl"},
        "eval": {"set": "e.jsonl", "metrics": ["exact_match"]},
        "promote": {"alias": "production", "metric": "label_accuracy"}})
    with pytest.raises(MetricError, match=r"\[promote\] metric 'label_accuracy' is not among \[eval\] metrics"):
        gate_and_move(Orchestrator(store), spec, tmp_path, model)


def test_eval_compare_of_base_0_of_50_and_fine_tuned_31_of_50_prints_an_upper_bound_above_the_estimate(
        capsys: pytest.CaptureFixture[str]) -> None:
    from tuneops.cli import main

    store = open_store()
    shas = [f"s{i}" for i in range(50)]
    with store.write() as s:
        s.add(_eval_row("eval_base00", "base", {"exact_match": 0.0}))
        s.add(_eval_row("eval_tuned0", "ft", {"exact_match": 0.62}))
        s.flush()
        s.add_all(_results("eval_base00", [0] * 50, shas) + _results("eval_tuned0", [1] * 31 + [0] * 19, shas))
    assert main(["eval", "compare", "eval_base00", "eval_tuned0"]) == 0
    out = capsys.readouterr().out
    assert "delta +0.6200" in out and "95% CI [+0.4815, +0.7414]" in out
