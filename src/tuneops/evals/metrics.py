"""Eval metrics: per-example scores in [0, 1], built-ins plus plugins from the ``tuneops.metrics`` group.

A metric is any object with a ``name`` and ``score(output, reference) -> float``; an optional
``threshold`` (default 0.5) says when an example passes, which is what comparisons count as a flip.
Plugins register a factory ``Callable[[MetricConfig], Metric]`` under the ``tuneops.metrics``
entry-point group, exactly as providers do under ``tuneops.providers``.
"""

from __future__ import annotations

import json
import re
import string
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from tuneops.errors import TuneopsError

GROUP = "tuneops.metrics"
OTHER_LABEL = "<other>"  # what a classification answer that names no known label counts as
DEFAULT_THRESHOLD = 0.5


class MetricError(TuneopsError):
    """A metric is unknown or misconfigured: names it, says where it comes from and the fix."""

    exit_code = 2


@runtime_checkable
class Metric(Protocol):
    """Scores one model answer against its reference: 1.0 is right, 0.0 is wrong."""

    name: str

    def score(self, output: str, reference: str) -> float:
        """The score of ``output`` given the ``reference`` answer, in [0, 1]."""
        ...


@dataclass(frozen=True)
class MetricConfig:
    """What metrics may need from the spec's [eval] section."""

    labels: tuple[str, ...] = ()
    pattern: str | None = None
    json_schema: Path | None = None
    options: dict[str, Any] = field(default_factory=dict)


def normalize(text: str) -> str:
    """Case-folded, NFKC, whitespace collapsed, surrounding punctuation and quotes removed."""
    text = unicodedata.normalize("NFKC", text).casefold()
    text = " ".join(text.split())
    return text.strip(string.punctuation + " “”‘’«»")


def _binary(ok: bool) -> float:
    return 1.0 if ok else 0.0


@dataclass(frozen=True)
class ExactMatch:
    """The answer equals the reference (surrounding whitespace ignored)."""

    name: str = "exact_match"

    def score(self, output: str, reference: str) -> float:
        """1 when equal after stripping surrounding whitespace."""
        return _binary(output.strip() == reference.strip())


@dataclass(frozen=True)
class NormalizedMatch:
    """The answer equals the reference after ``normalize`` (case, spacing, outer punctuation)."""

    name: str = "normalized_match"

    def score(self, output: str, reference: str) -> float:
        """1 when equal after normalization."""
        return _binary(normalize(output) == normalize(reference))


@dataclass(frozen=True)
class Contains:
    """The normalized reference appears inside the normalized answer."""

    name: str = "contains"

    def score(self, output: str, reference: str) -> float:
        """1 when the reference is a substring of the answer (both normalized)."""
        return _binary(normalize(reference) in normalize(output))


@dataclass(frozen=True)
class RegexMatch:
    """The spec's ``pattern`` is found in the answer."""

    pattern: str
    name: str = "regex"

    def score(self, output: str, reference: str) -> float:
        """1 when the pattern matches anywhere in the answer."""
        return _binary(re.search(self.pattern, output) is not None)


def _parse_json(text: str) -> tuple[bool, Any]:
    try:
        return True, json.loads(text)
    except (json.JSONDecodeError, RecursionError):
        return False, None


@dataclass(frozen=True)
class JsonValid:
    """The answer is one valid JSON document."""

    name: str = "json_valid"

    def score(self, output: str, reference: str) -> float:
        """1 when the answer parses as JSON."""
        return _binary(_parse_json(output)[0])


class JsonSchemaMatch:
    """The answer is valid JSON that conforms to the spec's JSON Schema."""

    name = "json_schema"

    def __init__(self, schema: dict[str, Any]):
        import jsonschema

        cls = jsonschema.validators.validator_for(schema)
        try:
            cls.check_schema(schema)
        except jsonschema.SchemaError as exc:
            raise MetricError(f"json_schema: the schema is not a valid JSON Schema: {exc.message}") from None
        self._validator = cls(schema)

    def score(self, output: str, reference: str) -> float:
        """1 when the answer parses and validates against the schema."""
        ok, value = _parse_json(output)
        return _binary(ok and self._validator.is_valid(value))


class LabelAccuracy:
    """Classification: the label the answer names equals the reference label."""

    name = "label_accuracy"

    def __init__(self, labels: Sequence[str]):
        self.labels = tuple(dict.fromkeys(normalize(label) for label in labels))

    def predict(self, output: str) -> str:
        """The label an answer names: an exact (normalized) label, else the only label it mentions."""
        said = normalize(output)
        if said in self.labels:
            return said
        words = set(re.findall(r"[\w-]+", said))
        mentioned = [label for label in self.labels if label in words or (" " in label and label in said)]
        return mentioned[0] if len(mentioned) == 1 else OTHER_LABEL

    def score(self, output: str, reference: str) -> float:
        """1 when the predicted label is the reference label."""
        return _binary(self.predict(output) == normalize(reference))


def _schema(path: Path | None) -> dict[str, Any]:
    if path is None:
        raise MetricError("the json_schema metric needs `json_schema = \"schema.json\"` in [eval]")
    try:
        value = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise MetricError(f"json_schema: cannot read {path} ({exc.strerror or exc})") from None
    except json.JSONDecodeError as exc:
        raise MetricError(f"json_schema: {path} is not JSON (line {exc.lineno}: {exc.msg})") from None
    if not isinstance(value, dict):
        raise MetricError(f"json_schema: {path} must hold a JSON object (a JSON Schema)")
    return value


def _regex(config: MetricConfig) -> Metric:
    if config.pattern is None:
        raise MetricError("the regex metric needs `pattern = \"...\"` in [eval]")
    try:
        re.compile(config.pattern)
    except re.error as exc:
        raise MetricError(f"regex: pattern {config.pattern!r} is invalid: {exc}") from None
    return RegexMatch(config.pattern)


Factory = Callable[[MetricConfig], Metric]

BUILTINS: dict[str, Factory] = {
    "exact_match": lambda c: ExactMatch(),
    "normalized_match": lambda c: NormalizedMatch(),
    "contains": lambda c: Contains(),
    "regex": _regex,
    "json_valid": lambda c: JsonValid(),
    "json_schema": lambda c: JsonSchemaMatch(_schema(c.json_schema)),
    "label_accuracy": lambda c: LabelAccuracy(c.labels),
}

# In-process registrations (tests, notebooks); they shadow entry points of the same name.
_registered: dict[str, Factory] = {}


def register(name: str, factory: Factory) -> Callable[[], None]:
    """Register a metric factory in-process; returns a function that undoes it."""
    _registered[name] = factory

    def undo() -> None:
        _registered.pop(name, None)

    return undo


def _plugins() -> dict[str, Any]:
    from importlib.metadata import entry_points

    return {ep.name: ep for ep in entry_points(group=GROUP)}


def names() -> list[str]:
    """Every metric name available: built-ins, plugins and in-process registrations."""
    return sorted(set(BUILTINS) | set(_registered) | set(_plugins()))


def build(name: str, config: MetricConfig) -> Metric:
    """The metric ``name`` configured from ``config``; MetricError names the installed ones."""
    factory = _registered.get(name) or BUILTINS.get(name)
    if factory is None:
        ep = _plugins().get(name)
        if ep is None:
            from tuneops.errors import did_you_mean

            raise MetricError(f"unknown metric {name!r} in [eval] metrics;{did_you_mean(name, names())} "
                              f"available: {', '.join(names())}. "
                              f"Fix the name, or install the plugin that registers it under {GROUP!r}")
        factory = ep.load()
    metric = factory(config)
    if not isinstance(metric, Metric):
        raise MetricError(f"metric {name!r} does not provide name and score(output, reference)")
    return metric


def threshold(metric: Metric) -> float:
    """The score at or above which an example passes."""
    return float(getattr(metric, "threshold", DEFAULT_THRESHOLD))


def mean(values: Sequence[float]) -> float:
    """The arithmetic mean (0.0 for nothing)."""
    return sum(values) / len(values) if values else 0.0
