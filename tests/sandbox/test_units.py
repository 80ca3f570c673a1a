"""Unit tests of the sandbox's parts, without HTTP: data, learner, curves, timeline, state."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest

from tuneops.sandbox.curves import Hyperparameters, build_curve, metrics_csv
from tuneops.sandbox.data import DataError, Message, count_tokens, parse_jsonl
from tuneops.sandbox.jobspec import JobRequest, parse_job_request
from tuneops.sandbox.learner import BaseModelResponder, RetrievalLearner
from tuneops.sandbox.state import SandboxState
from tuneops.sandbox.timeline import Timeline
from tuneops.sandbox.wire import ApiError


def _chat(user: str, reply: str, system: str = "Route the ticket.") -> dict[str, object]:
    return {
        "messages": [
            {"role": "system", "content": system},
            {"role": "user", "content": user},
            {"role": "assistant", "content": reply},
        ]
    }


def test_parse_jsonl_names_the_bad_line() -> None:
    good = json.dumps(_chat("hello", "hi"))
    with pytest.raises(DataError, match="line 3") as exc:
        parse_jsonl("\n".join([good, good, "{oops", good]).encode(), method="supervised")
    assert exc.value.line == 3
    no_reply = json.dumps({"messages": [{"role": "user", "content": "hi"}]})
    with pytest.raises(DataError, match="line 2: no assistant message"):
        parse_jsonl("\n".join([good, no_reply]).encode(), method="supervised")
    with pytest.raises(DataError, match="at least 10") as few:
        parse_jsonl(("\n".join([good] * 3)).encode(), method="supervised")
    assert few.value.code == "invalid_n_examples"
    with pytest.raises(DataError, match="line 1: missing 'input'"):
        parse_jsonl("\n".join([good] * 10).encode(), method="dpo")


def test_parse_counts_examples_pairs_and_tokens() -> None:
    multi_turn = {
        "messages": [
            {"role": "user", "content": "a b"},
            {"role": "assistant", "content": "c", "weight": 0},
            {"role": "user", "content": "d"},
            {"role": "assistant", "content": [{"type": "text", "text": "e f"}]},
        ]
    }
    parsed = parse_jsonl(("\n".join([json.dumps(multi_turn)] * 10) + "\n\n").encode(), method="supervised")
    assert parsed.n_examples == 10
    assert len(parsed.pairs) == 10  # the weight-0 turn is not a target
    assert parsed.pairs[0].reply == "e f" and len(parsed.pairs[0].context) == 3
    assert count_tokens("Hello, world!") == 4
    assert parsed.n_tokens == 10 * (2 + 1 + 1 + 2 + 4 * 3)


def test_learner_retrieves_the_nearest_reply_and_base_model_does_not(kit: SimpleNamespace) -> None:
    pairs = parse_jsonl(kit.jsonl(kit.classification_rows(30, seed=1)), method="supervised").pairs
    learner = RetrievalLearner(pairs)
    held_out = parse_jsonl(kit.jsonl(kit.classification_rows(10, seed=2)), method="supervised").pairs
    assert learner.accuracy_on(held_out) >= 0.9
    reply, similarity = learner.predict([Message("user", "refund my invoice")])
    assert reply == "billing" and 0 < similarity <= 1
    assert learner.predict([Message("user", "zzz qqq")]) == (learner.majority_reply, 0.0)
    base = BaseModelResponder("sandbox-mini")
    assert base.answer([Message("user", "refund")]) == base.answer([Message("user", "crash")])
    assert "not a language model" in base.answer([])


def test_loss_curve_is_deterministic_and_falls(kit: SimpleNamespace) -> None:
    pairs = parse_jsonl(kit.jsonl(kit.classification_rows(20, seed=1)), method="supervised").pairs
    valid = parse_jsonl(kit.jsonl(kit.classification_rows(4, seed=9)), method="supervised").pairs
    learner = RetrievalLearner(pairs)
    hp = Hyperparameters(batch_size=8, n_epochs=3, learning_rate_multiplier=2.0)
    args = {"seed": 5, "n_examples": 60, "train_indices": range(60), "validation": valid}
    curve = build_curve(learner, hp, **args)
    assert curve == build_curve(learner, hp, **args)
    assert len(curve) == 8 * 3  # ceil(60 / 8) x 3
    assert curve[-1].train_loss < curve[0].train_loss / 4
    assert curve[-1].valid_loss is not None and curve[0].valid_loss is not None
    assert curve[-1].valid_loss < curve[0].valid_loss
    assert curve[-1].train_mean_token_accuracy > curve[0].train_mean_token_accuracy
    assert (
        metrics_csv(curve).decode().splitlines()[0]
        == "step,train_loss,train_accuracy,valid_loss,valid_mean_token_accuracy"
    )


def test_timeline_pauses_stop_the_clock() -> None:
    tl = Timeline(created=100.0, time_scale=2.0, total_steps=100)
    assert tl.status(100.1) == "validating_files"
    assert tl.status(100.3) == "queued"
    assert tl.status(101.0) == "running"
    done_before = tl.steps_done(101.0)
    tl.pause(101.0)
    assert tl.status(500.0) == "paused" and tl.steps_done(500.0) == done_before
    tl.resume(500.0)
    finish = tl.wall_at(tl.finished_at)
    assert finish == pytest.approx(100.0 + tl.finished_at / 2.0 + 399.0)
    assert tl.status(finish - 0.01) == "running" and tl.status(finish) == "succeeded"
    assert tl.steps_done(finish) == 100
    tl2 = Timeline(created=0.0, time_scale=1.0, total_steps=10)
    tl2.cancel(0.5)
    assert tl2.status(100.0) == "cancelled" and tl2.progress(100.0) == pytest.approx(0.5)


def test_state_jobs_follow_an_injected_clock(kit: SimpleNamespace) -> None:
    clock = kit.ManualClock()
    state = SandboxState(clock=clock, time_scale=1.0)
    data = kit.jsonl(kit.classification_rows(10, seed=1))
    file = state.files.create(data, "t.jsonl", "fine-tune")
    job = state.create_job(JobRequest(model="sandbox-mini", training_file=file.id, suffix="x"))
    assert job.status(clock()) == "validating_files"
    assert job.to_api(clock())["hyperparameters"] == {
        "batch_size": "auto",
        "learning_rate_multiplier": "auto",
        "n_epochs": "auto",
    }
    clock.advance(60)
    api = job.to_api(clock())
    assert api["status"] == "succeeded" and api["hyperparameters"]["batch_size"] == 3  # 30 examples -> batch 3
    assert api["fine_tuned_model"] == f"ft:sandbox-mini:tuneops-sandbox:x:{job.id[-16:]}"
    state.refresh()
    assert state.files.get(api["result_files"][0]).purpose == "fine-tune-results"
    assert state.responder(api["fine_tuned_model"]).answer([Message("user", "invoice refund")]) == "billing"
    assert state.stats()["jobs_by_status"] == {"succeeded": 1}
    # A restarted sandbox (same seed, same requests) never hands out an id the last one did.
    again = SandboxState(clock=kit.ManualClock(), time_scale=1.0)
    assert again.files.create(data, "t.jsonl", "fine-tune").id != file.id
    again.reset()
    assert again.files.create(data, "t.jsonl", "fine-tune").id != file.id


def test_job_request_validation() -> None:
    ok = parse_job_request(
        {"model": "m", "training_file": "f", "hyperparameters": {"n_epochs": 2}, "metadata": {"a": "b"}}
    )
    assert ok.method_type == "supervised" and ok.hyperparameters == {"n_epochs": 2}
    for body, param in [
        ({"training_file": "f"}, "model"),
        ({"model": "m", "training_file": "f", "suffix": "a:b"}, "suffix"),
        ({"model": "m", "training_file": "f", "nope": 1}, "nope"),
        ({"model": "m", "training_file": "f", "method": {"type": "reinforcement"}}, "method.type"),
        ({"model": "m", "training_file": "f", "metadata": {"k": 1}}, "metadata.k"),
        (
            {
                "model": "m",
                "training_file": "f",
                "method": {"type": "supervised", "supervised": {"hyperparameters": {"beta": 1}}},
            },
            "method.supervised.hyperparameters.beta",
        ),
    ]:
        with pytest.raises(ApiError) as exc:
            parse_job_request(body)
        assert exc.value.status == 400 and exc.value.param == param
