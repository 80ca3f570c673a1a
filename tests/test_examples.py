"""The example project: `tuneops init` writes exactly what jobs/ in the repository holds, and it is
a fair classification task (balanced labels, held-out eval prompts)."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from tuneops.cli import main

REPO_JOBS = Path(__file__).resolve().parents[1] / "jobs"


def test_init_writes_the_repository_example_byte_for_byte(tmp_path: Path) -> None:
    assert main(["init", str(tmp_path / "jobs")]) == 0
    for written in (tmp_path / "jobs").rglob("*.*"):
        rel = written.relative_to(tmp_path / "jobs")
        assert (REPO_JOBS / rel).read_bytes() == written.read_bytes(), f"jobs/{rel} differs from `tuneops init`"


def test_init_does_not_overwrite_without_force(tmp_path: Path) -> None:
    target = tmp_path / "jobs"
    assert main(["init", str(target)]) == 0
    (target / "support-triage.toml").write_text("# mine\n")
    assert main(["init", str(target)]) == 0
    assert (target / "support-triage.toml").read_text() == "# mine\n"


def test_the_example_is_balanced_and_its_eval_prompts_are_held_out() -> None:
    def rows(name: str) -> list[dict]:
        return [json.loads(line) for line in (REPO_JOBS / "data" / name).read_text().splitlines()]

    train, evals = rows("support-triage.train.jsonl"), rows("support-triage.eval.jsonl")
    labels = Counter(r["messages"][-1]["content"] for r in train)
    assert set(labels) == {"billing", "technical", "account"} and max(labels.values()) - min(labels.values()) <= 1
    train_prompts = {r["messages"][1]["content"] for r in train}
    assert not train_prompts & {r["messages"][1]["content"] for r in evals}


def test_init_then_schedule_plan_decides_a_retrain_trigger_with_its_reason(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["init"]) == 0
    capsys.readouterr()
    assert main(["schedule", "plan", "--json"]) == 0
    [job] = json.loads(capsys.readouterr().out)["jobs"]
    assert job["job"] == "support-triage" and job["decision"] == "fire"
    fired = [t for t in job["triggers"] if t["fire"]]
    assert fired and all(t["reason"] for t in fired)
    assert job["reason"].startswith(f"{job['rule']}: ")
    assert {t["rule"] for t in job["triggers"]} >= {"eval", "data", "age"}
