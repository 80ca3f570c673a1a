"""`submit --watch` tells scripts when the model could not be scored: exit 1, not 0."""

from __future__ import annotations

from pathlib import Path

import pytest

from tuneops.cli import main
from tuneops.errors import TuneopsError
from tuneops.evals import metrics


class MetricDown(TuneopsError):
    """A metric plugin whose back end is unreachable at scoring time."""


def _broken(config: object) -> object:
    raise MetricDown("the judge service is down")


def test_a_failed_eval_after_training_is_a_non_zero_exit(project: Path, sandbox_env: object,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    undo = metrics.register("judge", _broken)
    try:
        text = project.read_text().replace('metrics = ["exact_match", "label_accuracy"]',
                                           'metrics = ["exact_match", "judge"]')
        project.write_text(text)
        assert main(["validate", str(project)]) == 0  # a known (plugin) metric: preflight passes
        assert main(["submit", str(project), "--watch"]) == 1
        assert "eval and promotion failed" in capsys.readouterr().err
    finally:
        undo()
