"""Job specs: what a user sees when a spec is right, and when it is wrong."""

from __future__ import annotations

from pathlib import Path

import pytest

from tuneops import spec as specmod
from tuneops.errors import SpecError


def _write(tmp_path: Path, text: str) -> Path:
    (tmp_path / "train.jsonl").write_text("{}\n")
    p = tmp_path / "job.toml"
    p.write_text(text)
    return p


GOOD = """
name = "triage"
[model]
provider = "sandbox"
base = "sandbox-mini"
[data]
train = "train.jsonl"
"""


def test_a_minimal_spec_loads_with_auto_hyperparameters(tmp_path: Path) -> None:
    loaded = specmod.load(_write(tmp_path, GOOD))
    assert loaded.spec.name == "triage"
    assert loaded.spec.hyperparameters.epochs == "auto"
    assert len(loaded.sha256) == 64


def test_the_example_spec_loads(project: Path) -> None:
    loaded = specmod.load(project)
    assert loaded.spec.model.provider == "sandbox"
    assert loaded.spec.promote is not None and loaded.spec.promote.alias == "production"


def test_name_defaults_to_the_file_name(tmp_path: Path) -> None:
    loaded = specmod.load(_write(tmp_path, GOOD.replace('name = "triage"', "")))
    assert loaded.spec.name == "job"


@pytest.mark.parametrize("text, expected", [
    (GOOD + "colour = 'red'\n", ["line 8", "data.colour: unknown field"]),
    (GOOD.replace('base = "sandbox-mini"', 'base = "sandbox-mini"\nbsae = "x"'),
     ["line 6", "model.bsae: unknown field"]),
    (GOOD + "[hyperparameters]\nepochs = 'many'\n", ["line 9", "hyperparameters.epochs", "'auto'"]),
    (GOOD + "[hyperparameters]\nepochs = 0\n", ["hyperparameters.epochs", "greater than or equal to 1"]),
    (GOOD.replace('provider = "sandbox"\n', ""), ["model.provider: required field is missing"]),
    (GOOD.replace('provider = "sandbox"', 'provider = "nosuch"'),
     ["line 4", "model.provider: unknown provider 'nosuch'", "sandbox"]),
    (GOOD.replace('train = "train.jsonl"', 'train = "missing.jsonl"'), ["line 7", "data.train", "does not exist"]),
    (GOOD + "[options.openai]\napi_key = 'sk-123'\n", ["looks like a credential"]),
    ("name = [", ["not valid TOML"]),
])
def test_a_bad_spec_names_file_line_field_and_fix(tmp_path: Path, text: str, expected: list[str]) -> None:
    with pytest.raises(SpecError) as info:
        specmod.load(_write(tmp_path, text))
    message = str(info.value)
    assert "job.toml" in message
    for part in expected:
        assert part in message


def test_a_missing_spec_file_says_how_to_get_one(tmp_path: Path) -> None:
    with pytest.raises(SpecError, match="tuneops init"):
        specmod.load(tmp_path / "nope.toml")


def test_switching_provider_is_one_line(tmp_path: Path) -> None:
    loaded = specmod.load(_write(tmp_path, GOOD))
    moved = loaded.spec.with_provider("openai")
    assert moved.model.provider == "openai" and moved.model.base == loaded.spec.model.base


@pytest.mark.parametrize("extra, field", [
    ('description = "temporary: sk-proj-abcdefghijklmnop0123"\n', "description"),
    ('[options.openai]\nnote = "AKIAABCDEFGHIJKLMNOP"\n', "options.openai.note"),
    # (an endpoint key itself is refused before this check: a spec may not say where requests go)
    ('description = "runbook: https://svc:pa55word99@wiki.test/triage"\n', "description"),
], ids=["description", "provider-option", "url-password"])
def test_a_credential_pasted_into_any_field_is_refused_with_the_field_named(
        tmp_path: Path, extra: str, field: str, capsys: pytest.CaptureFixture[str]) -> None:
    from tuneops.cli import main

    path = _write(tmp_path, GOOD + extra if extra.startswith("[") else extra + GOOD)  # top-level keys first
    assert main(["validate", str(path)]) == 2
    assert main(["submit", str(path)]) == 2
    err = capsys.readouterr().err
    assert f"{field}: holds what looks like a credential" in err
    for secret in ("sk-proj-abcdefghijklmnop0123", "AKIAABCDEFGHIJKLMNOP", "pa55word99"):
        assert secret not in err
    assert main(["runs", "list", "--json"]) == 2  # nothing was admitted or stored: not even a ledger exists
    assert "no ledger at" in capsys.readouterr().err


def test_a_misspelt_key_or_provider_gets_a_suggestion(tmp_path: Path) -> None:
    with pytest.raises(SpecError, match=r"hyperparameters\.epoks: unknown field; did you mean 'epochs'"):
        specmod.load(_write(tmp_path, GOOD + "[hyperparameters]\nepoks = 3\n"))
    with pytest.raises(SpecError, match="unknown provider 'sandbx'; did you mean 'sandbox'"):
        specmod.load(_write(tmp_path, GOOD.replace('"sandbox"', '"sandbx"')))
