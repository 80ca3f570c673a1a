"""`tuneops eval` and `tuneops models` from the command line: listings, manual moves, clear errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tuneops.cli import main


@pytest.mark.parametrize("argv, expected", [
    (["eval", "nosuch-model"], "not a model, alias or run in this ledger; to evaluate a provider's model"),
    (["eval", "sandbox-mini", "--provider", "sandbox"], "no eval set"),
    (["eval", "compare", "eval_000000", "eval_111111"], "no eval with id 'eval_111111'"),
    (["eval", "show", "eval_nope00"], "no eval with id"),
    (["models", "rollback", "triage@production"], "no alias 'triage@production'"),
    (["models", "promote", "ft:nothing", "--alias", "production"], "no model, alias or run 'ft:nothing'"),
    (["eval", "compare", "a", "b", "--method", "magic"], "--method 'magic'"),
])
def test_bad_requests_are_one_clear_line_and_a_non_zero_exit(
        argv: list[str], expected: str, capsys: pytest.CaptureFixture[str]) -> None:
    from tuneops.store import open_store

    open_store().close()  # a ledger without them (with no ledger, read commands say only that)
    assert main(argv) != 0
    err = capsys.readouterr().err
    assert expected in " ".join(err.split())
    assert "Traceback" not in err


def test_a_malformed_eval_set_names_the_file_and_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "e.jsonl"
    bad.write_text('{"messages": [{"role": "user", "content": "hi"}]}\n')
    assert main(["eval", "sandbox-mini", "--provider", "sandbox", "--set", str(bad)]) == 2
    err = " ".join(capsys.readouterr().err.split())
    assert f"eval set {bad}: line 1: needs at least a user message and an assistant reference" in err


def test_eval_by_hand_then_list_show_and_promote_with_force(
        project: Path, sandbox_env: object, capsys: pytest.CaptureFixture[str]) -> None:
    eval_set = project.parent / "data" / "support-triage.eval.jsonl"
    assert main(["eval", "sandbox-mini", "--provider", "sandbox", "--set", str(eval_set),
                 "--metric", "contains", "--metric", "normalized_match", "--json"]) == 0
    ran = json.loads(capsys.readouterr().out)
    assert set(ran["scores"]) == {"contains", "normalized_match"} and ran["model_kind"] == "base"

    assert main(["eval", "list", "--json"]) == 0
    assert [e["id"] for e in json.loads(capsys.readouterr().out)] == [ran["id"]]
    assert main(["eval", "show", ran["id"][:12], "--failures", "2"]) == 0
    shown = capsys.readouterr().out
    assert "failing examples on contains (90)" in shown

    # A model without a gate in its spec can be promoted by hand; --force records the reason.
    assert main(["submit", str(project), "--watch", "--json", "--no-promote"]) == 0
    run = json.loads(capsys.readouterr().out)
    assert main(["models", "promote", run["id"], "--alias", "canary", "--force", "--reason", "smoke test"]) == 0
    assert "promoted" in capsys.readouterr().out
    assert main(["models", "history", "support-triage@canary", "--json"]) == 0
    [move] = json.loads(capsys.readouterr().out)
    assert move["model"] == run["model_id"] and move["reason"] == "forced: smoke test"
    assert main(["models", "rollback", "canary"]) == 2
    assert "no previous holder" in capsys.readouterr().err
