"""`tuneops schedule plan|tick|fires` as a user sees them: plan explains every trigger and the budget
and writes nothing; a broken spec is reported, not fatal; listings have --json."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import func, select

from tuneops.cli import main
from tuneops.examples import RETRAIN
from tuneops.store import open_store
from tuneops.store.scheduler_tables import DecisionRow, FireRow
from tuneops.store.tables import AuditEventRow

POLICY = """
[retrain]
new_examples = 10
max_age_days = 30
cron = "0 3 * * 1"
"""


def _out(capsys: pytest.CaptureFixture[str]):  # type: ignore[no-untyped-def]
    return json.loads(capsys.readouterr().out)


def _count(model: type) -> int:
    with open_store().read() as s:
        return int(s.execute(select(func.count()).select_from(model)).scalar_one())


@pytest.fixture
def priced(tmp_path: Path) -> None:
    """A price for the sandbox, so estimates and budgets have numbers."""
    (tmp_path / ".tuneops").mkdir(exist_ok=True)
    (tmp_path / ".tuneops" / "pricing.toml").write_text(
        '[[price]]\nprovider = "sandbox"\nmodel = "*"\nusd_per_mtok = "100.00"\nsource = "test"\n')


def test_plan_explains_each_trigger_and_the_budget_and_changes_nothing(
        project: Path, priced: None, capsys: pytest.CaptureFixture[str]) -> None:
    project.write_text(project.read_text().replace(RETRAIN, "") + POLICY)
    assert main(["schedule", "plan", "--json"]) == 0
    [job] = _out(capsys)["jobs"]
    assert job["job"] == "support-triage" and job["decision"] == "fire" and job["rule"] == "data"
    assert [t["rule"] for t in job["triggers"]] == ["data", "age", "cron"]
    assert job["triggers"][0]["fire_key"].startswith("data:")
    assert job["estimate_microusd"] == 4_462_800  # 14,876 tokens x 3 epochs at $100 per 1M
    assert job["budget"] == {"per_month_microusd": 200_000_000, "month_spent_microusd": 0,
                             "remaining_microusd": 200_000_000, "runs_allowed": 44}
    assert _count(FireRow) == _count(DecisionRow) == _count(AuditEventRow) == 0

    project.write_text(project.read_text().replace("per_month_usd = 200.0", "per_month_usd = 4.0"))
    assert main(["schedule", "plan", "--json"]) == 0
    [job] = _out(capsys)["jobs"]
    assert job["decision"] == "skip" and job["gate"] == "budget"
    assert "over budget.per_month_usd $4.00" in job["reason"]
    assert main(["schedule", "plan"]) == 0
    assert "held: budget" in capsys.readouterr().out


def test_a_broken_spec_is_reported_and_the_others_still_run(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (project.parent / "broken.toml").write_text('name = "broken"\n[model]\nprovider = "sandbox"\n')
    plain = project.read_text().replace(RETRAIN, "")
    (project.parent / "plain.toml").write_text(plain.replace('"support-triage"', '"plain"', 1))
    project.write_text(plain + POLICY.replace("new_examples = 10", "new_examples = 1000"))
    assert main(["schedule", "tick", "--json"]) == 0
    report = _out(capsys)
    assert (report["jobs"], report["scheduled"], report["fired"], report["skipped"]) == (3, 1, [], 2)
    with open_store().read() as s:
        rows = {r.job_name: r for r in s.execute(select(DecisionRow)).scalars()}
    assert set(rows) == {"broken", "support-triage"}  # a spec without [retrain] is left alone
    assert rows["broken"].code == "spec:invalid" and "model.base: required field is missing" in rows["broken"].reason
    assert "300 examples (at least 1000)" not in rows["support-triage"].reason
    assert "only 300 examples" in rows["support-triage"].reason
    assert main(["schedule", "tick", "--json"]) == 0
    assert _out(capsys)["recorded"] == 0  # same reasons a minute later: nothing new in the trail


def test_two_specs_with_one_job_name_are_refused_both(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    project.write_text(project.read_text().replace(RETRAIN, "") + POLICY)
    (project.parent / "copy.toml").write_text(project.read_text())
    assert main(["schedule", "plan", "--no-estimate", "--json"]) == 0
    jobs = _out(capsys)["jobs"]
    assert [j["decision"] for j in jobs] == ["skip", "skip"]
    assert all("is used by several specs" in j["reason"] for j in jobs)


def test_fires_listing_and_a_missing_jobs_directory(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["schedule", "fires", "--json"]) == 2  # no ledger yet: said, and none created
    assert "no ledger at" in capsys.readouterr().err and not (tmp_path / ".tuneops").exists()
    from tuneops.store import open_store

    open_store().close()
    assert main(["schedule", "fires", "--json"]) == 0
    assert _out(capsys) == []
    assert main(["schedule", "plan", "--jobs", str(tmp_path / "nope")]) == 2
    assert "is not a directory of job specs" in capsys.readouterr().err
