"""`tuneops quickstart` ends with the eval step: base vs fine-tuned, the flipped examples, the promotion."""

from __future__ import annotations

from pathlib import Path

import pytest


def test_quickstart_compares_base_and_fine_tuned_and_promotes(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    from tuneops.quickstart import run_quickstart

    # quickstart points the process at its own sandbox; make sure that is undone after the test.
    monkeypatch.setenv("TUNEOPS_SANDBOX_URL", "http://127.0.0.1:9/v1")
    monkeypatch.setenv("COLUMNS", "160")
    assert run_quickstart(tmp_path / "qs", time_scale=50.0) == 0
    out = capsys.readouterr().out
    assert "A sandbox-mini" in out and "delta +" in out and "CI [" in out
    assert "fail -> pass" in out and "pass -> fail: none" in out
    assert "promoted ft:sandbox-mini:" in out and "support-triage@production" in out
    assert "model.promoted" in out  # the history shows the promotion
    # It ends with the scheduler's decision and its reasons, the ROI, and the report's path.
    tail = out[out.index("schedule plan:"):]
    assert "[retrain] policy" in tail and "support-triage: skip" in tail
    assert "waits  eval: exact_match 1.0000" in tail and "waits  data: 0 new examples < 50" in tail
    assert "paid for from the start" in tail and "95% CI [" in tail
    report = tail[tail.index("file://"):].split()[0]
    assert report.endswith("/qs/report/index.html")
    assert Path(report.removeprefix("file://")).read_text().count("<h2>") == 7
