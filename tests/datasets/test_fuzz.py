"""Preflight never raises on any input: random bytes and random JSON become findings, not tracebacks."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tuneops.datasets.checks import ExampleChecker
from tuneops.datasets.convert import FORMATS
from tuneops.datasets.preflight import preflight
from tuneops.datasets.tokens import TokenCounter, for_model
from tuneops.spec import JobSpec, LoadedSpec

FUZZ = settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=20,
)
roles = st.sampled_from(["system", "user", "assistant", "tool", "function", "developer", "bot", "", None])
message = st.dictionaries(
    st.sampled_from(["role", "content", "weight", "name", "tool_calls", "tool_call_id", "function_call", "x"]),
    json_values | roles, max_size=5,
).map(lambda m: {"role": m.get("role", "user"), **m})
records = st.one_of(
    json_values,
    st.fixed_dictionaries({"messages": st.lists(message, max_size=5)}, optional={"tools": json_values}),
    st.fixed_dictionaries({"input": st.fixed_dictionaries({"messages": st.lists(message, max_size=3)}),
                           "preferred_output": st.lists(message, max_size=2),
                           "non_preferred_output": st.lists(message, max_size=2)}),
)


def _run(data: bytes, method: str = "sft", split: bool = False, cache: bool = False):
    with tempfile.TemporaryDirectory() as d:
        train = Path(d) / "train.jsonl"
        train.write_bytes(data)
        spec = JobSpec.model_validate({
            "name": "fuzz", "method": method, "model": {"provider": "sandbox", "base": "gpt-3.5-turbo"},
            "data": {"train": "train.jsonl", **({"validation_split": 0.2} if split else {})}})
        loaded = LoadedSpec(spec=spec, path=Path(d) / "fuzz.toml", sha256="0" * 64)
        report = preflight(loaded, ["sandbox", "vertex", "bedrock", "mistral"], cache_dir=Path(d) / "cache",
                           use_cache=cache)
        json.dumps(report.to_dict())  # the JSON report always serializes
        return report


@FUZZ
@given(st.binary(max_size=400))
def test_random_bytes_give_findings_not_tracebacks(data: bytes) -> None:
    report = _run(data)
    if data.strip():
        assert report.findings


@FUZZ
@given(st.lists(records, max_size=6), st.sampled_from(["sft", "dpo"]), st.booleans())
def test_random_json_records_give_findings_not_tracebacks(recs: list, method: str, split: bool) -> None:
    data = b"".join(json.dumps(r).encode() + b"\n" for r in recs)
    report = _run(data, method, split)
    assert report.examples >= 0


@FUZZ
@given(st.lists(st.binary(max_size=60) | records.map(lambda r: json.dumps(r).encode()), max_size=5),
       st.sampled_from([b"\n", b"\r\n"]))
def test_mixed_garbage_and_records(lines: list[bytes], eol: bytes) -> None:
    _run(eol.join(lines), cache=True)


@FUZZ
@given(records)
def test_checker_results_are_cacheable(record: object) -> None:
    checker = ExampleChecker(TokenCounter(for_model("gpt-3.5-turbo")), FORMATS)
    r = checker.check(json.dumps(record).encode())
    # Every finding is JSON-able (it goes to the cache and the --json report) and well-formed.
    assert json.loads(json.dumps(r.findings)) == [list(f) for f in r.findings]
    assert all(f[0] in ("error", "warning", "info") for f in r.findings)
