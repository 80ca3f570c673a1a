"""Running evals against an in-memory provider: scores stored per example, answers cached, errors kept."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from tuneops.errors import PermanentProviderError, TransientProviderError, TuneopsError
from tuneops.evals import ledger
from tuneops.evals.runner import EvalConfig, ModelTarget, run_eval
from tuneops.evals.sets import EvalSetError, load_set
from tuneops.provider import Completion
from tuneops.retry import RetryPolicy
from tuneops.store import open_store
from tuneops.store.tables import AuditEventRow

FAST = RetryPolicy(attempts=3, base_seconds=0.0, max_backoff_seconds=0.0)


class LabelBot:
    """Answers with the label its table gives the question; counts calls and concurrency."""

    name = "labelbot"

    def __init__(self, answers: Mapping[str, str], fail: Mapping[str, Exception] | None = None):
        self.answers = dict(answers)
        self.fail = dict(fail or {})
        self.calls = 0
        self.params: list[dict[str, Any]] = []
        self.active = self.peak = 0
        self._lock = threading.Lock()

    def infer(self, model: str, messages: list[Mapping[str, Any]], **params: Any) -> Completion:
        question = messages[-1]["content"]
        with self._lock:
            self.calls += 1
            self.active += 1
            self.peak = max(self.peak, self.active)
            self.params.append(params)
        try:
            time.sleep(0.005)  # let other workers overlap, so the concurrency bound is exercised
            err = self.fail.get(question)
            if err is not None:
                raise err
            return Completion(self.answers.get(question, "no idea"), input_tokens=10, output_tokens=2)
        finally:
            with self._lock:
                self.active -= 1


def _write_set(path: Path, rows: list[tuple[str, str]]) -> Path:
    lines = [json.dumps({"messages": [{"role": "system", "content": "triage"}, {"role": "user", "content": q},
                                      {"role": "assistant", "content": a}]}) for q, a in rows]
    path.write_text("\n".join(lines) + "\n")
    return path


ROWS = [(f"question {i}", ("billing", "technical", "account")[i % 3]) for i in range(12)]


@pytest.fixture
def eval_set(tmp_path: Path) -> Path:
    return _write_set(tmp_path / "eval.jsonl", ROWS)


def _target() -> ModelTarget:
    return ModelTarget(provider="labelbot", model="bot-1", kind="fine-tuned", job_name="triage")


def test_scores_are_stored_per_example_with_a_classification_report(eval_set: Path) -> None:
    answers = {q: a for q, a in ROWS}
    answers["question 0"] = "technical"  # one wrong answer out of 12
    bot = LabelBot(answers)
    store = open_store()
    config = EvalConfig(eval_set, metrics=("exact_match", "label_accuracy"), concurrency=3)
    row = run_eval(store, bot, _target(), config, policy=FAST)  # type: ignore[arg-type]
    assert ledger.scores(row) == pytest.approx({"exact_match": 11 / 12, "label_accuracy": 11 / 12})
    assert (row.examples, row.inference_calls, row.cached, row.input_tokens, row.output_tokens) == (12, 12, 0, 120, 24)
    with store.read() as s:
        results = ledger.results(s, row.id)
        events = s.exec(select(AuditEventRow).where(AuditEventRow.action == "eval.completed")).scalars().all()
    assert [r.position for r in results] == list(range(12))
    assert results[0].output == "technical" and json.loads(results[0].scores)["exact_match"] == 0.0
    report = ledger.report(row)
    assert report is not None and report["per_class"]["billing"]["recall"] == pytest.approx(3 / 4)
    assert len(events) == 1 and json.loads(events[0].details)["inference_calls"] == 12
    assert bot.params[0] == {"max_tokens": 256, "temperature": 0.0}


def test_inference_runs_at_most_concurrency_calls_at_once(eval_set: Path) -> None:
    bot = LabelBot(dict(ROWS))
    run_eval(open_store(), bot, _target(), EvalConfig(eval_set, concurrency=2), policy=FAST)  # type: ignore[arg-type]
    assert bot.calls == 12
    assert 1 <= bot.peak <= 2


def test_rerunning_the_same_eval_makes_no_calls_and_costs_nothing(eval_set: Path) -> None:
    bot = LabelBot(dict(ROWS))
    store = open_store()
    first = run_eval(store, bot, _target(), EvalConfig(eval_set), policy=FAST)  # type: ignore[arg-type]
    again = run_eval(store, bot, _target(), EvalConfig(eval_set), policy=FAST)  # type: ignore[arg-type]
    assert bot.calls == 12
    assert again.id == first.id  # the recorded eval is reused, not recorded twice
    # Recording a new one anyway (reuse=False) asks the cache, not the model.
    second = run_eval(store, bot, _target(), EvalConfig(eval_set), policy=FAST, reuse=False)  # type: ignore[arg-type]
    assert bot.calls == 12 and second.id != first.id
    assert (second.inference_calls, second.cached, second.cost_microusd) == (0, 12, 0)
    assert ledger.scores(second) == ledger.scores(first)
    with store.read() as s:
        assert len(ledger.list_evals(s)) == 2
    # Other parameters are other answers: the cache key includes them.
    run_eval(store, bot, _target(), EvalConfig(eval_set, max_tokens=5), policy=FAST)  # type: ignore[arg-type]
    assert bot.calls == 24


def test_transient_failures_are_retried_and_permanent_ones_fail_only_their_example(eval_set: Path) -> None:
    flaky = TransientProviderError("rate limited", provider="labelbot", operation="infer", status=429,
                                   retry_after=0)

    class Flaky(LabelBot):
        def infer(self, model: str, messages: list[Mapping[str, Any]], **params: Any) -> Completion:
            if messages[-1]["content"] == "question 1" and not getattr(self, "_tripped", False):
                self._tripped = True
                raise flaky
            return super().infer(model, messages, **params)

    refused = PermanentProviderError("content filter", provider="labelbot", operation="infer", status=400)
    bot = Flaky(dict(ROWS), fail={"question 2": refused})
    store = open_store()
    row = run_eval(store, bot, _target(), EvalConfig(eval_set), policy=FAST)  # type: ignore[arg-type]
    assert row.errors == 1
    assert ledger.scores(row)["exact_match"] == pytest.approx(11 / 12)
    with store.read() as s:
        results = ledger.results(s, row.id)
    assert results[1].error is None and results[1].output == ROWS[1][1]
    assert "content filter" in (results[2].error or "")
    # The failed example is not cached: the next run asks again, and only that.
    calls = bot.calls
    run_eval(store, bot, _target(), EvalConfig(eval_set), policy=FAST)  # type: ignore[arg-type]
    assert bot.calls == calls + 1


def test_a_missing_model_stops_the_eval_with_what_to_do(eval_set: Path) -> None:
    missing = PermanentProviderError("model not found", provider="labelbot", operation="infer", status=404)
    bot = LabelBot({}, fail={q: missing for q, _ in ROWS})
    store = open_store()
    with pytest.raises(TuneopsError, match=r"stopped: .*model not found.*tuneops models list"):
        run_eval(store, bot, _target(), EvalConfig(eval_set), policy=FAST)  # type: ignore[arg-type]
    with store.read() as s:
        assert s.exec(select(func.count()).select_from(AuditEventRow)).scalar_one() == 0


def test_a_malformed_eval_set_names_every_bad_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text('{"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo"}]}\n'
                    "not json\n"
                    '{"messages": [{"role": "user", "content": "no reference"}]}\n'
                    '{"messages": [{"role": "assistant", "content": "x"}, {"role": "user", "content": "y"}]}\n')
    with pytest.raises(EvalSetError) as err:
        load_set(path)
    text = str(err.value)
    assert "line 2: not valid JSON" in text and "line 3:" in text and "line 4: the last message" in text
    assert "line 1" not in text


def test_weights_are_not_sent_to_the_model_and_duplicates_are_asked_once(tmp_path: Path) -> None:
    path = tmp_path / "dup.jsonl"
    row = {"messages": [{"role": "user", "content": "question 0", "weight": 1},
                        {"role": "assistant", "content": "billing"}]}
    path.write_text((json.dumps(row) + "\n") * 3)
    evalset = load_set(path)
    assert "weight" not in evalset.examples[0].prompt[0]
    bot = LabelBot(dict(ROWS))
    result = run_eval(open_store(), bot, _target(), EvalConfig(path), policy=FAST)  # type: ignore[arg-type]
    assert bot.calls == 1 and result.examples == 3 and ledger.scores(result)["exact_match"] == 1.0
