"""Details a new user trips over (issue 18, item 7): each now reads as it should."""

from __future__ import annotations

import itertools
import json
import re
from pathlib import Path

import pytest

from tuneops.cli import main


@pytest.fixture
def finished(project: Path, sandbox_env: object, capsys: pytest.CaptureFixture[str]) -> dict:
    """One run submitted and watched to success (no promotion)."""
    assert main(["submit", str(project), "--watch", "--no-promote", "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_runs_show_lists_every_transition_and_steps_in_order(finished: dict,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["runs", "show", finished["id"], "--events", "200", "--format", "plain"]) == 0
    out = capsys.readouterr().out
    history = out.split("status history")[1].split("last ")[0]
    changes = [line.split("  ", 2)[-1].split(" (")[0].strip() for line in history.strip().splitlines()]
    assert changes[:3] == ["admitted", "admitted -> submitting", "submitting -> pending"]
    for before, after in itertools.pairwise(changes[1:]):  # each step starts where the last ended
        assert after.split(" -> ")[0] == before.split(" -> ")[1], changes
    steps = [int(m) for m in re.findall(r"Step (\d+)/", out)]
    assert steps and steps == sorted(steps)


def test_the_watch_ends_on_the_last_step(project: Path, sandbox_env: object,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["submit", str(project), "--watch", "--no-promote"]) == 0
    err = capsys.readouterr().err
    final = [line for line in err.splitlines() if "succeeded" in line][-1]
    step = re.search(r"step (\d+)/(\d+)", final)
    assert step and step.group(1) == step.group(2), final


def test_promotion_by_force_needs_a_reason(finished: dict, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["models", "promote", finished["id"], "--alias", "canary", "--force"]) == 2
    assert "--force skips the promotion gate, so it needs --reason" in " ".join(capsys.readouterr().err.split())
    assert main(["models", "history", "support-triage@canary", "--json"]) == 2  # nothing moved


def test_a_refusal_says_how_to_override_it(capsys: pytest.CaptureFixture[str]) -> None:
    from tuneops.cli.evals import print_promotion
    from tuneops.evals.flow import PromotionResult

    print_promotion(PromotionResult("refused", "exact_match 0.61 is below 0.80 [min_score]",
                                    alias="support-triage@production", model="ft:m:1"))
    out = " ".join(capsys.readouterr().out.split())
    assert "below 0.80 [min_score]" in out  # the bracketed rule name survives
    assert "tuneops models promote ft:m:1 --alias production --force --reason WHY" in out


def test_rollback_past_the_first_holder_says_what_it_held(project: Path, sandbox_env: object,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    ids = []
    for again in ([], ["--again", "--reason", "a second model"]):  # the same spec twice is one intent
        assert main(["submit", str(project), "--watch", "--no-promote", "--json", *again]) == 0
        ids.append(json.loads(capsys.readouterr().out)["id"])
    for run_id in ids:
        assert main(["models", "promote", run_id, "--alias", "canary", "--force", "--reason", "test"]) == 0
    assert main(["models", "rollback", "canary"]) == 0
    capsys.readouterr()
    assert main(["models", "rollback", "canary"]) == 2
    err = " ".join(capsys.readouterr().err.split())
    assert "no previous holder left to roll back to" in err and "only ever" not in err


def test_eval_compare_names_a_missing_alias(finished: dict, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["eval", "compare", "support-triage@nosuch", finished["model_id"]]) == 2
    assert "no alias 'support-triage@nosuch'" in capsys.readouterr().err


def test_init_says_which_files_it_kept(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["init"]) == 0
    (tmp_path / "jobs" / "data" / "support-triage.eval.jsonl").unlink()
    capsys.readouterr()
    assert main(["init"]) == 0
    out = capsys.readouterr().out
    assert "wrote jobs/data/support-triage.eval.jsonl" in out
    assert "kept jobs/support-triage.toml (it exists; --force overwrites it)" in out


def test_quickstart_says_its_project_goes_and_how_to_keep_it(monkeypatch: pytest.MonkeyPatch,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("TUNEOPS_SANDBOX_URL", "http://127.0.0.1:9/v1")  # quickstart sets it; undone after
    assert main(["quickstart", "--no-eval", "--time-scale", "50"]) == 0
    assert "is removed now; to keep it: tuneops quickstart --keep DIR" in " ".join(capsys.readouterr().out.split())


def test_piped_output_keeps_each_line_whole(finished: dict, capsys: pytest.CaptureFixture[str]) -> None:
    # Not a terminal: rich used to break lines at column 80, splitting model ids ("...:ckpt-st/ep-38").
    assert main(["runs", "show", finished["id"]]) == 0
    out = capsys.readouterr().out
    checkpoints = [line for line in out.splitlines() if ":ckpt-step-" in line]
    assert checkpoints and all(re.search(r"step +\d+  \S+:ckpt-step-\d+  train loss \d", c) for c in checkpoints)
    assert main(["validate", finished["spec_path"]]) == 0
    first = capsys.readouterr().out.splitlines()[0]
    assert first.startswith(finished["spec_path"]) and first.endswith("tokens: cl100k_base (approximate)")
