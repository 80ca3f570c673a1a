"""A retrain policy that requires a pilot: the scheduler runs the pilot first and starts the full run
only when the pilot lifts the eval score (counted at the sandbox)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tuneops.cli import main
from tuneops.examples import RETRAIN

POLICY = "\n[retrain]\nnew_examples = 20\ncooldown_hours = 0\nrequire_pilot = true\n\n[pilot]\nexamples = 40\n"
JOBS = "POST /v1/fine_tuning/jobs"


def _tick(capsys: pytest.CaptureFixture[str]) -> list[str]:
    from sqlalchemy import select

    from tuneops.store import open_store
    from tuneops.store.scheduler_tables import FireRow

    assert main(["schedule", "tick", "--json"]) == 0
    capsys.readouterr()
    with open_store().read() as s:
        [fire] = s.exec(select(FireRow)).scalars().all()
        return json.loads(fire.run_ids)


def test_a_pilot_with_lift_lets_the_scheduler_start_the_full_run(
        project: Path, sandbox_env: object, requests_at, capsys: pytest.CaptureFixture[str]) -> None:
    project.write_text(project.read_text().replace(RETRAIN, POLICY))
    before = requests_at(JOBS)
    pilot, full = _tick(capsys)
    assert requests_at(JOBS) - before == 2
    assert main(["runs", "show", full, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["trigger"].startswith(f"pilot {pilot} passed (schedule ")


def test_a_pilot_without_lift_stops_the_scheduled_retrain(
        no_lift_project: Path, sandbox_env: object, requests_at, capsys: pytest.CaptureFixture[str]) -> None:
    project = no_lift_project  # its answers never match the eval set's: the pilot learns nothing
    project.write_text(project.read_text().replace(RETRAIN, POLICY))
    before = requests_at(JOBS)
    assert len(_tick(capsys)) == 1  # the pilot only
    assert requests_at(JOBS) - before == 1


def test_require_pilot_without_a_pilot_section_is_a_spec_error(project: Path,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    project.write_text(project.read_text().replace("cooldown_hours = 24", "cooldown_hours = 24\nrequire_pilot = true"))
    assert main(["validate", str(project)]) == 2
    assert "retrain.require_pilot needs a [pilot] section" in capsys.readouterr().err
