"""Loss curves: `tuneops runs metrics` in the terminal, as JSON, PNG and HTML, and the overfitting flag."""

from __future__ import annotations

import json
import math
import random
import re
import struct
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from tuneops.cli import main
from tuneops.clock import utcnow
from tuneops.runs.curves import decimate, detect_overfitting, series
from tuneops.store import open_store
from tuneops.store.lifecycle_tables import MetricPointRow
from tuneops.store.tables import RunRow


@dataclass
class Point:
    step: int
    train_loss: float | None
    valid_loss: float | None


def overfit_points(n: int = 120, seed: int = 1, valid_every: int = 1) -> list[Point]:
    """Training loss keeps falling; validation loss bottoms out near step 55, then climbs."""
    rng = random.Random(seed)
    points = []
    for s in range(1, n + 1):
        train = 0.3 + 2.0 * math.exp(-s / 20) + rng.uniform(-0.05, 0.05)
        valid = 0.6 + 2.0 * math.exp(-s / 20) + max(0, s - 50) * 0.006 + rng.uniform(-0.03, 0.03)
        points.append(Point(s, train, valid if s % valid_every == 0 else None))
    return points


def healthy_points(n: int = 120, seed: int = 2) -> list[Point]:
    rng = random.Random(seed)
    return [Point(s, 0.3 + 2.0 * math.exp(-s / 30) + rng.uniform(-0.05, 0.05),
                  0.5 + 2.0 * math.exp(-s / 30) + rng.uniform(-0.03, 0.03)) for s in range(1, n + 1)]


def noisy_flat_points(seed: int, n: int = 80) -> list[Point]:
    """Training still falls a little; validation loss has levelled off and only jitters (±5%)."""
    rng = random.Random(seed)
    return [Point(s, 0.5 + 0.5 * math.exp(-s / 40) + rng.uniform(-0.05, 0.05),
                  1.0 + rng.uniform(-0.05, 0.05)) for s in range(1, n + 1)]


def ledger_run(points: list[Point], run_id: str = "run_curves0000000001") -> str:
    """A run in the test's default ledger with these metric points."""
    store = open_store()
    now = utcnow()
    with store.write() as s:
        s.add(RunRow(id=run_id, idempotency_key=f"tuneops-{run_id}", job_name="support-triage",
                     spec_sha256="0" * 64, spec_json="{}", provider="sandbox", base_model="sandbox-mini",
                     method="sft", state="succeeded", provider_job_id="ftjob-curves", train_sha256="1" * 64,
                     created_at=now, updated_at=now))
        s.flush()
        for p in points:
            s.add(MetricPointRow(run_id=run_id, step=p.step, train_loss=p.train_loss, valid_loss=p.valid_loss,
                                 train_accuracy=None if p.train_loss is None else 0.5))
    store.close()
    return run_id


# -- the overfitting flag on synthetic series ---------------------------------------------------


def test_an_overfit_run_is_flagged_from_the_step_where_validation_loss_was_lowest() -> None:
    verdict = detect_overfitting(overfit_points())
    assert verdict.flag
    assert 45 <= verdict.from_step <= 65
    assert "validation loss rose" in verdict.reason and f"step {verdict.from_step}" in verdict.reason


def test_overfitting_is_found_with_sparse_validation_points_too() -> None:
    verdict = detect_overfitting(overfit_points(valid_every=10))
    assert verdict.flag and verdict.from_step in (50, 60)


def test_a_healthy_run_is_not_flagged() -> None:
    verdict = detect_overfitting(healthy_points())
    assert not verdict.flag and verdict.from_step is None
    assert "falling" in verdict.reason


@pytest.mark.parametrize("seed", range(12))
def test_noise_around_a_flat_validation_loss_is_not_overfitting(seed: int) -> None:
    verdict = detect_overfitting(noisy_flat_points(seed))
    assert not verdict.flag, verdict.reason


def test_too_few_validation_points_are_not_judged() -> None:
    verdict = detect_overfitting(overfit_points(n=120, valid_every=30))  # 4 validation points
    assert not verdict.flag and "too few validation points" in verdict.reason


def test_without_validation_loss_the_reason_says_to_add_validation_data() -> None:
    points = [Point(s, 2.0 / s, None) for s in range(1, 50)]
    verdict = detect_overfitting(points)
    assert not verdict.flag and "validation data" in verdict.reason


def test_validation_rising_while_training_also_rises_is_not_called_overfitting() -> None:
    points = [Point(s, 0.5 + 0.01 * s, 0.8 + 0.01 * s) for s in range(1, 40)]
    verdict = detect_overfitting(points)
    assert not verdict.flag and "training loss rose too" in verdict.reason


def test_long_series_are_thinned_for_drawing_without_losing_their_extremes() -> None:
    points = overfit_points(n=20_000)
    full = series(points, "valid_loss")
    thin = decimate(full, 400)
    assert len(thin) <= 2 * 400 + 2 and list(thin.steps) == sorted(thin.steps)
    assert min(thin.values) == min(full.values) and max(thin.values) == max(full.values)
    assert thin.steps[0] == full.steps[0] and thin.steps[-1] == full.steps[-1]
    short = series(points[:100], "valid_loss")
    assert decimate(short, 400) == short


# -- tuneops runs metrics -----------------------------------------------------------------------


def test_the_terminal_shows_both_curves_and_the_overfitting_warning(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    run_id = ledger_run(overfit_points())
    monkeypatch.setenv("COLUMNS", "100")
    assert main(["runs", "metrics", run_id[:12]]) == 0
    out = capsys.readouterr().out
    assert "training loss" in out and "validation loss" in out
    assert "warning: possible overfitting" in out
    assert max(len(line) for line in out.splitlines()[:20]) <= 100  # fits the terminal


def test_a_narrow_terminal_gets_a_narrower_plot(monkeypatch: pytest.MonkeyPatch,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    run_id = ledger_run(healthy_points())
    monkeypatch.setenv("COLUMNS", "60")
    assert main(["runs", "metrics", run_id]) == 0
    out = capsys.readouterr().out
    plot_lines = [line for line in out.splitlines() if "┤" in line or "│" in line]
    assert plot_lines and max(len(line) for line in plot_lines) <= 60
    assert "no sign of overfitting" in out


def test_json_prints_the_series_and_the_verdict(capsys: pytest.CaptureFixture[str]) -> None:
    points = overfit_points(n=40, valid_every=5)
    run_id = ledger_run(points)
    assert main(["runs", "metrics", run_id, "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["run_id"] == run_id and data["points"] == 40
    assert [s for s, _ in data["series"]["train_loss"]] == list(range(1, 41))
    assert [s for s, _ in data["series"]["valid_loss"]] == list(range(5, 41, 5))
    assert set(data["overfitting"]) == {"flag", "reason", "from_step"}


def test_png_is_written_with_the_expected_pixel_size(capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("matplotlib")
    run_id = ledger_run(overfit_points())
    assert main(["runs", "metrics", run_id, "--png", "out/loss.png", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["files"] == ["out/loss.png"]
    head = Path("out/loss.png").read_bytes()[:24]
    assert head[:8] == b"\x89PNG\r\n\x1a\n" and head[12:16] == b"IHDR"
    assert struct.unpack(">II", head[16:24]) == (1200, 675)


def test_png_without_matplotlib_names_the_install_command(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    run_id = ledger_run(healthy_points())
    for name in [m for m in sys.modules if m == "matplotlib" or m.startswith("matplotlib.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # makes `import matplotlib...` fail
    assert main(["runs", "metrics", run_id, "--png", "loss.png"]) != 0
    err = capsys.readouterr().err
    assert "pip install 'tuneops[plot]'" in err and "Traceback" not in err
    assert not Path("loss.png").exists()


def test_html_is_standalone_with_both_series_legend_and_axis_labels(capsys: pytest.CaptureFixture[str]) -> None:
    run_id = ledger_run(overfit_points(n=60, valid_every=3))
    assert main(["runs", "metrics", run_id, "--html", "loss.html"]) == 0
    assert "wrote loss.html" in capsys.readouterr().out
    page = Path("loss.html").read_text()
    lines = {m.group(1): int(m.group(2)) for m in
             re.finditer(r'<polyline class="series" id="(\w+)" data-label="[^"]+" data-points="(\d+)"', page)}
    assert lines == {"train_loss": 60, "valid_loss": 20}
    legend = page[page.index('<g class="legend">'):]
    assert "training loss" in legend and "validation loss" in legend
    assert ">step</text>" in page and ">loss</text>" in page
    # No external assets: nothing to fetch, nothing to run.
    assert not re.search(r"<script|<link|<img|src=|href=|@import|url\(", page)


def test_a_run_without_metrics_says_so(capsys: pytest.CaptureFixture[str]) -> None:
    run_id = ledger_run([])
    assert main(["runs", "metrics", run_id]) == 0
    assert "no metrics yet" in capsys.readouterr().out
    assert main(["runs", "metrics", run_id, "--html", "x.html"]) != 0
    assert "nothing to draw" in capsys.readouterr().err


def test_an_unknown_run_is_one_clear_error(capsys: pytest.CaptureFixture[str]) -> None:
    open_store().close()
    assert main(["runs", "metrics", "run_nope"]) != 0
    assert "no run with id" in capsys.readouterr().err
