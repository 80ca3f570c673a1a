"""Metrics score what a reviewer would expect, computed by hand; plugins come from the entry-point group."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from tuneops.evals import classify, metrics
from tuneops.evals.metrics import MetricConfig, MetricError, build


@pytest.mark.parametrize("name, output, reference, expected", [
    ("exact_match", "billing", "billing", 1.0),
    ("exact_match", "  billing\n", "billing", 1.0),  # surrounding whitespace only
    ("exact_match", "Billing", "billing", 0.0),
    ("normalized_match", "  Billing. ", "billing", 1.0),
    ("normalized_match", "The  answer is\tYES!", "the answer is yes", 1.0),
    ("normalized_match", "billing issue", "billing", 0.0),
    ("contains", "I think it is Billing.", "billing", 1.0),
    ("contains", "technical", "billing", 0.0),
    ("json_valid", '{"a": [1, 2]}', "", 1.0),
    ("json_valid", "{'a': 1}", "", 0.0),
    ("json_valid", "", "", 0.0),
])
def test_builtin_metrics_score_hand_checked_cases(name: str, output: str, reference: str,
                                                  expected: float) -> None:
    assert build(name, MetricConfig()).score(output, reference) == expected


def test_regex_finds_the_spec_pattern_anywhere_in_the_answer() -> None:
    metric = build("regex", MetricConfig(pattern=r"^TICKET-\d{4}$|ref \d+"))
    assert metric.score("TICKET-1234", "") == 1.0
    assert metric.score("see ref 77 please", "") == 1.0
    assert metric.score("TICKET-12", "") == 0.0


def test_regex_without_a_pattern_says_what_to_add() -> None:
    with pytest.raises(MetricError, match="pattern"):
        build("regex", MetricConfig())


def test_json_schema_checks_validity_and_conformance(tmp_path: Path) -> None:
    schema = tmp_path / "s.json"
    schema.write_text(json.dumps({"type": "object", "required": ["label"],
                                  "properties": {"label": {"enum": ["billing", "account"]}}}))
    metric = build("json_schema", MetricConfig(json_schema=schema))
    assert metric.score('{"label": "billing"}', "") == 1.0
    assert metric.score('{"label": "shipping"}', "") == 0.0  # valid JSON, not conforming
    assert metric.score('{"other": 1}', "") == 0.0
    assert metric.score("label: billing", "") == 0.0  # not JSON


def test_a_bad_schema_is_a_clear_error(tmp_path: Path) -> None:
    schema = tmp_path / "s.json"
    schema.write_text(json.dumps({"type": "no-such-type"}))
    with pytest.raises(MetricError, match="not a valid JSON Schema"):
        build("json_schema", MetricConfig(json_schema=schema))


def test_label_accuracy_reads_the_label_an_answer_names() -> None:
    metric = build("label_accuracy", MetricConfig(labels=("billing", "technical", "account")))
    assert metric.predict("Billing") == "billing"  # type: ignore[attr-defined]
    assert metric.predict("This is a technical problem.") == "technical"  # type: ignore[attr-defined]
    assert metric.predict("billing or account?") == metrics.OTHER_LABEL  # type: ignore[attr-defined]
    assert metric.predict("no idea") == metrics.OTHER_LABEL  # type: ignore[attr-defined]
    assert metric.score("ACCOUNT", "account") == 1.0
    assert metric.score("billing", "account") == 0.0


def test_classification_report_matches_a_hand_computed_confusion_matrix() -> None:
    refs = ["a", "a", "a", "b", "b", "c"]
    preds = ["a", "a", "b", "b", "<other>", "a"]
    rep = classify.report(refs, preds, ["a", "b", "c"])
    assert rep["columns"] == ["a", "b", "c", "<other>"]
    assert rep["matrix"] == [[2, 1, 0, 0],
                             [0, 1, 0, 1],
                             [1, 0, 0, 0]]
    # a: tp 2, predicted 3, support 3 -> P 2/3, R 2/3, F1 2/3
    # b: tp 1, predicted 2, support 2 -> P 1/2, R 1/2, F1 1/2
    # c: tp 0, predicted 0, support 1 -> P 0, R 0, F1 0
    a, b, c = (rep["per_class"][k] for k in "abc")
    assert (a["precision"], a["recall"], a["f1"]) == pytest.approx((2 / 3, 2 / 3, 2 / 3))
    assert (b["precision"], b["recall"], b["f1"], b["support"]) == pytest.approx((0.5, 0.5, 0.5, 2))
    assert (c["precision"], c["recall"], c["f1"]) == (0.0, 0.0, 0.0)
    assert rep["accuracy"] == pytest.approx(3 / 6)
    assert rep["macro_f1"] == pytest.approx((2 / 3 + 1 / 2 + 0) / 3)


def test_unknown_metric_lists_what_is_available() -> None:
    with pytest.raises(MetricError, match=r"unknown metric 'bleu'.*exact_match"):
        build("bleu", MetricConfig())


def test_in_process_registration_adds_and_removes_a_metric() -> None:
    class Length:
        name = "short"
        threshold = 1.0

        def score(self, output: str, reference: str) -> float:
            return 1.0 if len(output) <= len(reference) else 0.0

    undo = metrics.register("short", lambda config: Length())
    try:
        assert "short" in metrics.names()
        metric = build("short", MetricConfig())
        assert metric.score("ab", "abc") == 1.0 and metrics.threshold(metric) == 1.0
    finally:
        undo()
    assert "short" not in metrics.names()


def test_a_plugin_metric_is_found_through_the_entry_point_group(tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "shout_metric.py").write_text(
        "class Shout:\n"
        "    name = 'shout'\n"
        "    def score(self, output, reference):\n"
        "        return 1.0 if output.isupper() else 0.0\n"
        "def factory(config):\n"
        "    return Shout()\n")
    dist = tmp_path / "shout_metric-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: shout-metric\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text("[tuneops.metrics]\nshout = shout_metric:factory\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "shout_metric", raising=False)
    assert "shout" in metrics.names()
    metric = build("shout", MetricConfig())
    assert metric.score("HELLO", "") == 1.0 and metric.score("hello", "") == 0.0


@pytest.mark.parametrize("eval_toml, expected", [
    ('metrics = ["regex"]', 'the regex metric needs `pattern = "..."`'),
    ('metrics = ["regex"]\npattern = "(unclosed"', "pattern is not a valid regular expression"),
    ('metrics = ["json_schema"]', "the json_schema metric needs `json_schema"),
    ("metrics = []", "eval.metrics"),
])
def test_eval_settings_a_metric_needs_are_checked_when_the_spec_loads(eval_toml: str, expected: str) -> None:
    from tuneops.errors import SpecError
    from tuneops.spec import parse

    text = ('name = "x"\n[model]\nprovider = "sandbox"\nbase = "b"\n[data]\ntrain = "t.jsonl"\n'
            f'[eval]\nset = "e.jsonl"\n{eval_toml}\n')
    with pytest.raises(SpecError) as err:
        parse(text, Path("jobs/x.toml"))
    assert expected in str(err.value)
