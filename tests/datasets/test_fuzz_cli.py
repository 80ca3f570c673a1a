"""Hypothesis drives the CLI as a careless user would: 1,000+ generated specs and datasets, never a traceback,
and after every refused input the ledger and .tuneops/ are as they were."""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import math
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tuneops.cli import main

FUZZ = settings(deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])

SYSTEM = "You sort support tickets: billing or technical."
SPEC = """\
name = "fuzz"
[model]
provider = "sandbox"
base = "sandbox-mini"
[data]
train = "data/train.jsonl"
validation = "data/valid.jsonl"
[hyperparameters]
epochs = 2
[eval]
set = "data/eval.jsonl"
metrics = ["exact_match"]
[promote]
alias = "production"
[budget]
per_run_usd = 5.0
"""


def chat(i: int, label: str) -> dict:
    return {"messages": [{"role": "system", "content": SYSTEM},
                         {"role": "user", "content": f"Ticket {i}: my invoice {i * 13} looks wrong"},
                         {"role": "assistant", "content": label}]}


def jsonl(rows: list) -> bytes:
    return b"".join(json.dumps(r).encode() + b"\n" for r in rows)


GOOD_TRAIN = jsonl([chat(i, "billing" if i % 2 else "technical") for i in range(12)])
GOOD_VALID = jsonl([chat(100 + i, "billing" if i % 2 else "technical") for i in range(10)])
GOOD_EVAL = jsonl([chat(200 + i, "billing" if i % 2 else "technical") for i in range(10)])

# -- generated spec values ------------------------------------------------------------------------

FIELDS = [
    ("hyperparameters", "epochs"), ("hyperparameters", "batch_size"), ("hyperparameters", "seed"),
    ("hyperparameters", "learning_rate_multiplier"), ("hyperparameters", "learning_rate"),
    ("hyperparameters", "beta"), ("data", "validation_split"), ("data", "split_seed"), ("data", "max_overlap"),
    ("data", "train"), ("model", "base"), ("model", "suffix"), ("eval", "metrics"), ("eval", "max_tokens"),
    ("eval", "temperature"), ("eval", "set"), ("promote", "metric"), ("promote", "margin"),
    ("promote", "beat_base"), ("promote", "min_examples"), ("retrain", "cooldown_hours"),
    ("retrain", "misfire_grace_minutes"), ("retrain", "max_age_days"), ("retrain", "eval_below"),
    ("retrain", "cron"), ("budget", "per_run_usd"), ("budget", "per_month_usd"), ("notify", "timeout_s"),
    ("options.sandbox", "x"), ("", "name"), ("", "method"), ("", "description"),
]


def toml_literal(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return json.dumps(value)  # a TOML basic string (\\u escapes included)
    if isinstance(value, list):
        return "[" + ", ".join(toml_literal(v) for v in value) + "]"
    return json.dumps(str(value))


scalars = st.one_of(
    st.integers(min_value=-2**70, max_value=2**70), st.booleans(),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([0, -1, 1, 10**18, 1e300, 1e-300, "auto", "yes", "", "\x00", "true", "1"]),
    st.text(max_size=40), st.text(alphabet="x/.", min_size=250, max_size=400),
)
values = st.one_of(scalars, st.lists(scalars, max_size=4),
                   st.integers(min_value=17, max_value=4000).map(lambda d: _Deep(d)))


class _Deep:
    """A nested array literal ``d`` levels deep (TOML parsers recurse on it)."""

    def __init__(self, depth: int):
        self.depth = depth


def render(value: object) -> str:
    return "[" * value.depth + "]" * value.depth if isinstance(value, _Deep) else toml_literal(value)


def spec_text(edits: list[tuple[tuple[str, str], object]]) -> str:
    sections: dict[str, list[str]] = {}
    for (section, key), value in edits:
        sections.setdefault(section, []).append(f"{key} = {render(value)}")
    text = SPEC
    top = sections.pop("", [])
    if top:
        text = "\n".join(line for line in text.splitlines() if not line.startswith("name =")) + "\n"
        text = "\n".join(top) + "\n" + text
    for section, lines in sections.items():
        header = f"[{section}]\n"
        if header in text:
            existing = {ln.split(" = ")[0] for ln in lines}
            body = text.split(header, 1)
            rest = body[1].split("\n[", 1)
            kept = [ln for ln in rest[0].splitlines() if ln.split(" = ")[0] not in existing]
            text = body[0] + header + "\n".join(kept + lines) + "\n" + ("\n[" + rest[1] if len(rest) > 1 else "")
        else:
            text += f"\n{header}" + "\n".join(lines) + "\n"
    return text


# -- generated datasets -----------------------------------------------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3),
    max_leaves=12,
)
roles = st.sampled_from(["system", "user", "assistant", "tool", "developer", "bot", None])
message = st.dictionaries(
    st.sampled_from(["role", "content", "weight", "name", "tool_calls", "tool_call_id", "x"]),
    json_values | roles, max_size=4,
).map(lambda m: {"role": m.get("role", "user"), **m})
record = st.one_of(
    json_values,
    st.fixed_dictionaries({"messages": st.lists(message, max_size=4)}, optional={"tools": json_values}),
    st.builds(lambda i, lab: chat(i, lab), st.integers(0, 50), st.sampled_from(["billing", "technical", ""])),
    st.fixed_dictionaries({"prompt": st.text(max_size=10), "completion": st.text(max_size=10)}),
)
files = st.lists(st.binary(max_size=40) | record.map(lambda r: json.dumps(r).encode()), max_size=6).map(
    lambda lines: b"\n".join(lines) + b"\n")


# -- the harness ------------------------------------------------------------------------------------

def _snapshot(root: Path) -> dict[str, str]:
    home = root / ".tuneops"
    return {str(p.relative_to(home)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(home.rglob("*")) if p.is_file() and not p.name.startswith("tuneops.db")}


def _ledger() -> tuple[int, ...]:
    from sqlalchemy import func, select

    from tuneops.store import open_store
    from tuneops.store.tables import AuditEventRow, RunRow, UploadRow

    with open_store().read() as s:
        return tuple(s.execute(select(func.count()).select_from(t)).scalar_one() for t in (RunRow, UploadRow,
                                                                                          AuditEventRow))


def _cli(*args: str) -> tuple[int, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        rc = main(list(args))  # an exception other than a user error would escape here: a traceback
    text = out.getvalue() + err.getvalue()
    assert "Traceback" not in text
    return rc, text


@pytest.fixture
def fuzz_project(tmp_path: Path) -> Path:
    (tmp_path / "data").mkdir()
    _ledger()  # the ledger exists before the first case, so every case compares against rows
    return tmp_path


def _write(root: Path, spec: str, train: bytes = GOOD_TRAIN, valid: bytes = GOOD_VALID,
           evalset: bytes = GOOD_EVAL) -> Path:
    (root / "data" / "train.jsonl").write_bytes(train)
    (root / "data" / "valid.jsonl").write_bytes(valid)
    (root / "data" / "eval.jsonl").write_bytes(evalset)
    path = root / "fuzz.toml"
    path.write_text(spec, encoding="utf-8", errors="surrogatepass")
    return path


def _refused_changes_nothing(root: Path, path: Path, *flags: str) -> None:
    before, rows = _snapshot(root), _ledger()
    rc, text = _cli("validate", str(path), "--no-cache", *flags)
    assert rc in (0, 2), text
    if rc == 2:  # refused: submitting it must be refused too, and leave everything as it was
        rc, text = _cli("submit", str(path))
        assert rc == 2, text
        assert _snapshot(root) == before
        assert _ledger() == rows


@settings(FUZZ, max_examples=600)
@given(st.lists(st.tuples(st.sampled_from(FIELDS), values), min_size=1, max_size=3))
def test_generated_specs_never_crash_and_refusals_write_nothing(fuzz_project: Path, edits: list) -> None:
    try:
        text = spec_text(edits)
        text.encode("utf-8")
    except UnicodeEncodeError:
        return  # not a file anyone can save
    _refused_changes_nothing(fuzz_project, _write(fuzz_project, text), "--json")


@settings(FUZZ, max_examples=500)
@given(files, st.sampled_from(["train", "valid", "eval"]), st.sampled_from([(), ("--json",), ("--json",)]))
def test_generated_datasets_never_crash_and_refusals_write_nothing(fuzz_project: Path, data: bytes,
                                                                    which: str, flags: tuple[str, ...]) -> None:
    kwargs = {"train": GOOD_TRAIN, "valid": GOOD_VALID, "evalset": GOOD_EVAL}
    kwargs["evalset" if which == "eval" else which] = data
    # A third of the cases print the terminal report (findings quote user text through rich).
    _refused_changes_nothing(fuzz_project, _write(fuzz_project, SPEC, **kwargs), *flags)
