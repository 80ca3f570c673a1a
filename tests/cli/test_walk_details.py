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
    job = next(line for line in out.splitlines() if line.startswith("job "))
    assert finished["spec_path"] in job and re.search(r"sha256 [0-9a-f]{12}\)$", job)  # the grid folded it
    checkpoints = [line for line in out.splitlines() if ":ckpt-step-" in line]
    assert checkpoints and all(re.search(r"step +\d+  \S+:ckpt-step-\d+  train loss \d", c) for c in checkpoints)
    assert main(["validate", finished["spec_path"]]) == 0
    first = capsys.readouterr().out.splitlines()[0]
    assert first.startswith(finished["spec_path"]) and first.endswith("tokens: cl100k_base (approximate)")


def test_runs_show_lists_events_in_the_order_they_happened(finished: dict,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["runs", "show", finished["id"], "--events", "500", "--format", "plain"]) == 0
    lines = capsys.readouterr().out.split("events\n", 1)[1].splitlines()
    events = [line.split(None, 3) for line in lines]  # date, time, kind, message
    times = [f"{date} {time}" for date, time, _, _ in events]
    assert times == sorted(times)  # a state change seen later no longer precedes the provider's earlier events
    said = [message for _, _, kind, message in events if kind == "provider"]
    firsts = ["Created fine-tuning job", "Validating training file", "Files validated", "Fine-tuning job started",
              "Step 1/"]
    assert [next(i for i, m in enumerate(said) if m.startswith(f)) for f in firsts] == list(range(5)), said[:6]
    for i, message in enumerate(said):
        if message.startswith("Checkpoint created at step "):
            assert said[i - 1].startswith(f"Step {message.rsplit(' ', 1)[1]}/"), said[i - 1:i + 1]
    assert said[-2:] == [f"New fine-tuned model created: {finished['model_id']}", "The job has successfully completed"]


def test_a_state_change_recorded_before_older_provider_events_is_listed_after_them() -> None:
    from datetime import datetime
    from types import SimpleNamespace

    from tuneops.cli.render import in_order

    def event(second: int, kind: str, message: str, step: int | None = None) -> SimpleNamespace:
        data = json.dumps({"step": step}) if step else None
        return SimpleNamespace(at=datetime(2026, 1, 1, 0, 0, second, 400_000 if kind == "state" else 0), kind=kind,
                               message=message, data=data)

    recorded = [event(11, "provider", "Step 1/3", 1), event(12, "state", "validating -> running"),
                event(11, "provider", "Step 3/3", 3), event(11, "provider", "Step 2/3", 2),
                event(12, "provider", "Checkpoint created at step 3")]
    assert [e.message for e in in_order(recorded)] == ["Step 1/3", "Step 2/3", "Step 3/3", "validating -> running",
                                                       "Checkpoint created at step 3"]


def test_runs_list_names_a_misspelt_state_or_provider(finished: dict, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["runs", "list", "--state", "runing"]) == 2
    err = " ".join(capsys.readouterr().err.split())
    assert "'runing' is not a run state; did you mean 'running'?" in err and "succeeded, failed, cancelled" in err
    assert main(["runs", "list", "--provider", "sanbox"]) == 0  # a provider since removed may still hold runs
    assert capsys.readouterr().out == ("no runs match --provider 'sanbox'; did you mean 'sandbox'? "
                                       "`tuneops runs list` shows every run\n")
    assert main(["runs", "list", "--state", "failed"]) == 0  # not "no runs yet": there is one
    assert capsys.readouterr().out.startswith("no runs match --state 'failed';")
    assert main(["models", "list", "--job", "nosuch"]) == 0
    assert capsys.readouterr().out.startswith("no models match --job 'nosuch';")
    assert main(["eval", "list", "--model", "nosuch"]) == 0
    assert capsys.readouterr().out.startswith("no evals match --model 'nosuch';")
    assert main(["models", "list", "--limit", "-1"]) == 2


def test_eval_without_a_set_says_what_to_pass(capsys: pytest.CaptureFixture[str]) -> None:
    from tuneops.store import open_store

    open_store().close()
    assert main(["eval", "sandbox-mini", "--provider", "sandbox"]) == 2
    assert ("no eval set: no job spec names one; pass --set FILE.jsonl or --spec jobs/<name>.toml"
            in " ".join(capsys.readouterr().err.split()))  # was "no job spec has no [eval] section"


def test_data_convert_into_a_folder_or_under_a_file_is_a_clear_error(tmp_path: Path,
                                                                     capsys: pytest.CaptureFixture[str]) -> None:
    source = tmp_path / "pc.jsonl"
    source.write_text('{"prompt": "hi", "completion": "billing"}\n')
    folder, a_file = tmp_path / "out", tmp_path / "notes.txt"
    folder.mkdir()
    a_file.write_text("mine")
    assert main(["data", "convert", str(source), "-o", str(folder), "--force"]) == 2  # was a traceback
    assert f"{folder} is a directory; name the file to write" in capsys.readouterr().err
    assert main(["data", "convert", str(source), "-o", str(a_file / "chat.jsonl")]) == 2
    assert f"{a_file} is a file, not a folder" in " ".join(capsys.readouterr().err.split())
    assert list(folder.iterdir()) == [] and a_file.read_text() == "mine"


def test_a_ledger_path_that_is_a_folder_is_named(project: Path, tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    folder = tmp_path / "ledgers"
    folder.mkdir()
    for argv in (["runs", "list"], ["db", "status"], ["db", "upgrade"], ["submit", str(project)],
                 ["plan", str(project)]):
        assert main(["--db", str(folder), *argv]) == 2, argv  # submit was exit 1 with SQLAlchemy's help link
        assert f"the ledger path {folder} is a folder; pass a file in it" in capsys.readouterr().err, argv
    assert list(folder.iterdir()) == []


def test_db_status_of_a_ledger_not_there_yet_creates_nothing(tmp_path: Path,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    where = tmp_path / "typo" / "ledger.db"
    assert main(["--db", str(where), "db", "status"]) == 1
    assert "empty: `tuneops db upgrade` creates the tables" in capsys.readouterr().out
    assert not (tmp_path / "typo").exists()


def test_plan_from_a_folder_inside_the_project_reads_its_ledger(finished: dict, project: Path,
                                                                 monkeypatch: pytest.MonkeyPatch,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    # It looked for .tuneops/ in the working directory only, and so promised a new run that submit would not make.
    monkeypatch.chdir(project.parent / "data")
    assert main(["plan", "../support-triage.toml", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["would"].startswith(f"nothing: no changes since run {finished['id']}")


@pytest.mark.parametrize("option", [("runs", "metrics", "{run}", "--html"), ("runs", "metrics", "{run}", "--png"),
                                    ("audit", "export", "-o"), ("schedule", "run", "--once", "--health-file")],
                         ids=lambda o: " ".join(o))
def test_an_option_that_writes_a_file_refuses_a_folder_or_a_path_under_a_file(
        option: tuple[str, ...], finished: dict, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder, a_file = tmp_path / "out", tmp_path / "notes.txt"
    folder.mkdir()
    a_file.write_text("mine")
    argv = [finished["id"] if word == "{run}" else word for word in option]
    for target, said in ((folder, f"{folder} is a folder; name the file to write"),
                         (a_file / "x.out", f"{a_file} is a file, not a folder")):
        assert main([*argv, str(target)]) == 2, argv  # each was a traceback (IsADirectoryError, FileExistsError)
        assert said in " ".join(capsys.readouterr().err.split())
    assert list(folder.iterdir()) == [] and a_file.read_text() == "mine"


def test_providers_docs_without_pages_says_so(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["providers", "docs", "--dir", str(tmp_path)]) == 2  # it said "provider pages are current"
    assert f"no provider pages in {tmp_path}" in capsys.readouterr().err
