"""Every example in issue 15's "Why", as a careless user would hit it: a finding at file:line or a spec error
naming the field, exit 2, and nothing written (no ledger rows, no upload, no cached state for refused input)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from pathlib import Path

import pytest

from tuneops.cli import main

Edit = Callable[[str], str]


def tuneops_state(root: Path) -> dict[str, str]:
    """Every file under .tuneops/ with its content hash (the ledger lives there too)."""
    home = root / ".tuneops"
    if not home.exists():
        return {}
    return {str(p.relative_to(home)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(home.rglob("*")) if p.is_file()}


def ledger_rows() -> tuple[int, int, int]:
    """Runs, uploads and audit events in the ledger."""
    from sqlalchemy import func, select

    from tuneops.store import open_store
    from tuneops.store.tables import AuditEventRow, RunRow, UploadRow

    with open_store().read() as s:
        return tuple(s.execute(select(func.count()).select_from(t)).scalar_one()  # type: ignore[return-value]
                     for t in (RunRow, UploadRow, AuditEventRow))


def without_ledger(state: dict[str, str]) -> dict[str, str]:
    """The .tuneops/ files other than the ledger database (which `submit` opens, and so creates, first)."""
    return {k: v for k, v in state.items() if not k.startswith("tuneops.db")}


def retrain(t: str, line: str) -> str:
    from tuneops.examples import RETRAIN

    return t.replace(RETRAIN, "") + f"\n[retrain]\n{line}\n"  # the example's own [retrain] gives way


SPEC_CASES: dict[str, tuple[Edit, str]] = {
    "seed -1": (lambda t: t.replace("seed = 7", "seed = -1"), "line 20: hyperparameters.seed"),
    "epochs = true": (lambda t: t.replace("epochs = 3", "epochs = true"), "line 17: hyperparameters.epochs"),
    "beat_base = yes": (lambda t: t.replace("beat_base = true", 'beat_base = "yes"'), "line 30: promote.beat_base"),
    "batch_size 1e18": (lambda t: t.replace('batch_size = "auto"', "batch_size = 1e18"),
                        "line 18: hyperparameters.batch_size"),
    "lr multiplier 1e-300": (lambda t: t.replace('learning_rate_multiplier = "auto"',
                                                 "learning_rate_multiplier = 1e-300"),
                             "line 19: hyperparameters.learning_rate_multiplier"),
    "cooldown_hours inf": (lambda t: retrain(t, "cooldown_hours = inf"), "retrain.cooldown_hours: Input should be a "
                           "finite number (allowed: from 0 up to 87,840)"),
    "misfire_grace_minutes inf": (lambda t: retrain(t, "misfire_grace_minutes = inf"), "retrain.misfire_grace_minutes"),
    "max_age_days inf": (lambda t: retrain(t, "max_age_days = inf"), "retrain.max_age_days"),
    "max_age_days 1e300": (lambda t: retrain(t, "max_age_days = 1e300"), "retrain.max_age_days"),
    "per_run_usd inf": (lambda t: t.replace("per_run_usd = 25.0", "per_run_usd = inf"), "line 34: budget.per_run_usd"),
    "5,000-deep nesting": (lambda t: t + "\n[options.sandbox]\nx = " + "[" * 5000 + "]" * 5000 + "\n",
                           "nested more than 16 levels deep"),
    "300-character file name": (lambda t: t.replace("support-triage.train.jsonl", "x" * 300 + ".jsonl"),
                                "data.train: file or folder name"),
    "NUL byte in model.base": (lambda t: t.replace('base = "sandbox-mini"', 'base = "sandbox\\u0000mini"'),
                               "line 9: model.base: contains a NUL byte"),
}


@pytest.mark.parametrize("case", sorted(SPEC_CASES))
@pytest.mark.parametrize("command", ["validate", "estimate", "submit"])
def test_a_bad_spec_value_is_one_error_naming_the_field_and_writes_nothing(
        project: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], case: str, command: str) -> None:
    edit, where = SPEC_CASES[case]
    project.write_text(edit(project.read_text()))
    before = tuneops_state(tmp_path)
    assert main([command, str(project)]) == 2
    err = capsys.readouterr().err
    assert where in err and "Traceback" not in err
    assert tuneops_state(tmp_path) == before


def _validate(project: Path, capsys: pytest.CaptureFixture[str], *extra: str) -> tuple[int, dict]:
    rc = main(["validate", str(project), "--json", *extra])
    return rc, json.loads(capsys.readouterr().out)


def _codes(report: dict, severity: str | None = None) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = {}
    for f in report["findings"]:
        if severity is None or f["severity"] == severity:
            out.setdefault(f["code"], []).append(f)
    return out


def test_hyperparameters_the_provider_refuses_are_errors_on_their_spec_line(project: Path, capsys) -> None:
    project.write_text(project.read_text().replace('batch_size = "auto"', "batch_size = 300"))
    rc, report = _validate(project, capsys)
    assert rc == 2
    [f] = _codes(report, "error")["provider.hyperparameter"]
    assert (f["file"], f["line"], f["field"]) == (str(project), 18, "hyperparameters.batch_size")
    assert "sandbox accepts batch_size from 1 to 256; got 300" in f["message"]


def test_a_split_leaving_too_few_validation_examples_is_an_error(project: Path, capsys) -> None:
    text = project.read_text().replace('validation = "data/support-triage.valid.jsonl"', "validation_split = 0.02")
    project.write_text(text)
    rc, report = _validate(project, capsys)
    assert rc == 2
    [f] = _codes(report, "error")["count.validation_min"]
    assert f["field"] == "data.validation_split" and f["line"] == 14
    assert "needs at least 10 validation examples; this leaves 6" in f["message"]


def test_a_base_model_the_provider_does_not_list_is_flagged_on_its_line(project: Path, capsys) -> None:
    project.write_text(project.read_text().replace('base = "sandbox-mini"', 'base = "gpt-4o-mini"'))
    _, report = _validate(project, capsys)
    [f] = _codes(report)["provider.model"]
    assert f["line"] == 9 and "does not list 'gpt-4o-mini'" in f["message"]


# -- eval sets ------------------------------------------------------------------------------------

def _eval(project: Path) -> Path:
    return project.parent / "data" / "support-triage.eval.jsonl"


def test_a_broken_eval_line_is_found_before_training(project: Path, sandbox_env, tmp_path: Path, capsys) -> None:
    with _eval(project).open("a") as f:
        f.write('{"messages": [{"role": "user", "content": "Refund?"}\n')
        f.write(json.dumps({"messages": [{"role": "user", "content": "Where is my invoice?"}]}) + "\n")
    rc, report = _validate(project, capsys)
    assert rc == 2
    errors = _codes(report, "error")
    [truncated] = errors["json.invalid"]
    assert (truncated["file"], truncated["line"]) == ("data/support-triage.eval.jsonl", 91)
    assert "the line ends at column 53" in truncated["message"]
    assert any(f["line"] == 92 and "assistant reference" in f["message"] for f in errors["eval.example"])
    before = tuneops_state(tmp_path)
    assert main(["submit", str(project), "--watch"]) == 2  # refused before any upload: exit 2, not 0
    assert "support-triage.eval.jsonl:91" in capsys.readouterr().err
    assert without_ledger(tuneops_state(tmp_path)) == without_ledger(before)
    assert ledger_rows() == (0, 0, 0)


def test_an_eval_set_that_is_not_jsonl_is_refused(project: Path, capsys) -> None:
    project.write_text(project.read_text().replace('set = "data/support-triage.eval.jsonl"', 'set = "/etc/passwd"'))
    rc, report = _validate(project, capsys)
    assert rc == 2
    assert {f["file"] for f in _codes(report, "error")["json.invalid"]} == {"/etc/passwd"}


def test_unknown_metric_and_a_promote_metric_not_scored_are_spec_errors(project: Path, capsys) -> None:
    text = project.read_text().replace('metrics = ["exact_match", "label_accuracy"]',
                                       'metrics = ["exact_match", "bleurt"]')
    project.write_text(text.replace('metric = "exact_match"', 'metric = "label_accuracy"'))
    rc, report = _validate(project, capsys)
    assert rc == 2
    errors = _codes(report, "error")
    assert errors["eval.metric"][0]["line"] == 24 and "'bleurt'" in errors["eval.metric"][0]["message"]
    assert errors["promote.metric"][0]["line"] == 28


def test_the_gate_margin_is_compared_with_what_the_eval_set_can_detect(project: Path, capsys) -> None:
    _, report = _validate(project, capsys)
    [f] = _codes(report)["promote.margin_undetectable"]
    assert f["line"] == 29 and "90 eval examples" in f["message"]
    project.write_text(project.read_text().replace("min_examples = 50", "min_examples = 500"))
    rc, report = _validate(project, capsys)
    assert rc == 2 and "promote.min_examples" in _codes(report, "error")


def test_labels_of_a_classification_eval_never_seen_in_training_are_flagged(project: Path, capsys) -> None:
    rows = [json.loads(x) for x in _eval(project).read_text().splitlines()]
    rows[0]["messages"][-1]["content"] = "refund"
    _eval(project).write_text("".join(json.dumps(r) + "\n" for r in rows))
    _, report = _validate(project, capsys)
    assert "'refund'" in _codes(report)["eval.label_unseen"][0]["message"]


# -- leakage --------------------------------------------------------------------------------------

def test_training_examples_copied_into_the_eval_set_are_leakage(project: Path, capsys) -> None:
    train = (project.parent / "data" / "support-triage.train.jsonl").read_text().splitlines(keepends=True)
    with _eval(project).open("a") as f:
        f.writelines(train[:20])
    rc, report = _validate(project, capsys)
    assert rc == 0
    [summary] = _codes(report, "warning")["leak.train_eval"]
    assert summary["message"].startswith("20 of 110 eval examples (18%) are also in data/support-triage.train.jsonl")
    assert "91=1" in summary["message"]  # first lines on both sides: eval line 91 is training line 1
    assert len(_codes(report)["overlap.train_eval"]) == 20
    project.write_text(project.read_text().replace("[data]\n", "[data]\nmax_overlap = 0.05\n"))
    rc, report = _validate(project, capsys)
    assert rc == 2 and _codes(report, "error")["leak.train_eval"][0]["field"] == "data.max_overlap"


def test_validation_examples_in_the_eval_set_are_leakage_too(project: Path, capsys) -> None:
    valid = (project.parent / "data" / "support-triage.valid.jsonl").read_text().splitlines(keepends=True)
    with _eval(project).open("a") as f:
        f.writelines(valid[:3])
    _, report = _validate(project, capsys)
    assert _codes(report)["leak.validation_eval"][0]["message"].startswith("3 of 93 eval examples")


# -- degenerate data --------------------------------------------------------------------------------

def _train(project: Path) -> Path:
    return project.parent / "data" / "support-triage.train.jsonl"


def _append_train(project: Path, *records: object) -> None:
    with _train(project).open("a") as f:
        for r in records:
            f.write((r if isinstance(r, str) else json.dumps(r)) + "\n")


def test_a_reply_repeating_one_phrase_is_flagged_at_its_line(project: Path, capsys) -> None:
    _append_train(project, {"messages": [{"role": "user", "content": "Why was I charged?"},
                                         {"role": "assistant", "content": "I am so sorry. " * 300}]})
    _, report = _validate(project, capsys)
    [f] = _codes(report)["content.repetition"]
    assert f["line"] == 301 and f["field"] == "messages[1].content"
    assert "sorry" in f["message"] and int(f["message"].split(" times")[0].rsplit(" ", 1)[1]) >= 290


def test_duplicate_json_keys_are_flagged_at_their_line(project: Path, capsys) -> None:
    _append_train(project, '{"messages": [{"role": "user", "content": "Refund?", "content": "Invoice?"}, '
                           '{"role": "assistant", "content": "billing"}]}')
    _, report = _validate(project, capsys)
    [f] = _codes(report)["json.duplicate_key"]
    assert f["line"] == 301 and "'content'" in f["message"]


def test_an_empty_validation_file_is_flagged(project: Path, capsys) -> None:
    (project.parent / "data" / "support-triage.valid.jsonl").write_text("\n")
    rc, report = _validate(project, capsys)
    codes = _codes(report)
    assert codes["validation.empty"][0]["severity"] == "warning"
    assert codes["json.blank"][0]["line"] == 1
    assert rc == 2 and "count.validation_min" in codes  # and the sandbox needs 10


def test_a_huge_line_is_refused_without_parsing(project: Path, capsys) -> None:
    _append_train(project, {"messages": [{"role": "user", "content": "x" * (9 * 2**20)},
                                         {"role": "assistant", "content": "billing"}]})
    rc, report = _validate(project, capsys)
    assert rc == 2
    [f] = _codes(report, "error")["file.line_too_long"]
    assert f["line"] == 301 and "refused without parsing" in f["message"]


def test_findings_repeated_on_many_lines_are_one_line_with_a_count(project: Path, capsys) -> None:
    _append_train(project, *[{"messages": [{"role": "user", "content": f"Ticket {i}"}]} for i in range(30)])
    assert main(["validate", str(project)]) == 2
    out = capsys.readouterr().out
    assert "errors (30)" in out and "warnings" in out
    assert "data/support-triage.train.jsonl:301, 302, 303 (+27 more lines): messages: no assistant message" in out


def test_split_blocks_show_their_own_classes_and_labels_keep_their_case(project: Path, capsys) -> None:
    rows = [json.loads(x) for x in _train(project).read_text().splitlines()]
    for r in rows:
        r["messages"][-1]["content"] = r["messages"][-1]["content"].capitalize()
    _train(project).write_text("".join(json.dumps(r) + "\n" for r in rows))
    text = project.read_text().replace('validation = "data/support-triage.valid.jsonl"', "validation_split = 0.2")
    project.write_text(text)
    _, report = _validate(project, capsys)
    split = report["stats"]["split"]
    train, valid = split["train"]["classes"], split["validation"]["classes"]
    assert set(train) == set(valid) == {"Billing", "Technical", "Account"}
    assert sum(train.values()) == 240 and sum(valid.values()) == 60


def test_validate_prints_billed_tokens_per_epoch_and_in_total(project: Path, capsys) -> None:
    assert main(["validate", str(project)]) == 0
    out = capsys.readouterr().out
    assert "billed training tokens: sandbox: 14,876 per epoch × 3 = 44,628" in out


# -- other shapes --------------------------------------------------------------------------------

def test_validate_suggests_convert_and_convert_writes_chat_jsonl(project: Path, tmp_path: Path, capsys) -> None:
    pc = tmp_path / "pc.jsonl"
    pc.write_text("".join(json.dumps({"prompt": f"Ticket {i}: charged twice ->", "completion": " billing"}) + "\n"
                          for i in range(20)))
    project.write_text(project.read_text().replace("data/support-triage.train.jsonl", str(pc)))
    rc, report = _validate(project, capsys)
    assert rc == 2 and "tuneops data convert" in _codes(report, "error")["format.unknown"][0]["message"]
    out = tmp_path / "chat.jsonl"
    assert main(["data", "convert", str(pc), "-o", str(out), "--system", "Sort tickets."]) == 0
    assert "20 example(s) from prompt/completion JSONL" in capsys.readouterr().out
    first = json.loads(out.read_text().splitlines()[0])
    assert [m["role"] for m in first["messages"]] == ["system", "user", "assistant"]
    assert first["messages"][2]["content"] == "billing"

    csv = tmp_path / "tickets.csv"
    csv.write_text("text,label\n" + "".join(f'"My card {i} was charged twice, again",billing\n' for i in range(20)))
    project.write_text(project.read_text().replace(str(pc), str(csv)))
    rc, report = _validate(project, capsys)
    assert rc == 2 and "tuneops data convert" in _codes(report, "error")["format.csv"][0]["message"]
    assert main(["data", "convert", str(csv), "-o", str(tmp_path / "csv.jsonl"), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["converted"] == 20
    assert main(["data", "convert", str(csv), "-o", str(tmp_path / "csv.jsonl")]) == 2  # never overwritten silently
