"""Base models: each provider lists what it tunes with its shutdown dates; an unknown or retiring base is a
warning in `validate` (never a refusal), and `tuneops providers models NAME` lists them."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import pytest

from tuneops import basemodels, clock
from tuneops.cli import main

BUILTIN = ("openai", "azure", "together", "fireworks", "vertex", "bedrock", "mistral", "sandbox")


def _validate_json(spec: Path, capsys: pytest.CaptureFixture[str], *extra: str) -> dict:
    assert main(["validate", str(spec), "--json", *extra]) == 0, capsys.readouterr().err
    return json.loads(capsys.readouterr().out)


def _at(monkeypatch: pytest.MonkeyPatch, day: str) -> None:
    monkeypatch.setattr(clock, "utcnow", lambda: datetime.fromisoformat(day))


@pytest.mark.parametrize("provider", BUILTIN)
def test_every_builtin_provider_lists_its_tunable_models(provider: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["providers", "models", provider, "--json"]) == 0
    models = json.loads(capsys.readouterr().out)["models"]
    assert models and all(m["source"] and m["confidence"] in ("first-party", "third-party") for m in models)


def test_openai_models_carry_the_wind_down_and_their_shutdown_dates(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["providers", "models", "openai", "--json"]) == 0
    by_id = {m["id"]: m for m in json.loads(capsys.readouterr().out)["models"]}
    mini = by_id["gpt-4o-mini-2024-07-18"]
    assert (mini["training_ends"], mini["retires"]) == ("2027-01-06", "2027-01-14")
    assert by_id["gpt-4.1-nano-2025-04-14"]["retires"] == "2026-10-23"
    assert main(["providers", "models", "openai"]) == 0
    assert "gpt-4o-mini-2024-07-18" in capsys.readouterr().out
    assert main(["providers", "models", "opnai"]) == 2
    assert "unknown provider 'opnai'" in capsys.readouterr().err


def test_an_unknown_base_model_is_a_warning_naming_the_known_ones(
        project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    spec = project
    spec.write_text(spec.read_text().replace('base = "sandbox-mini"', 'base = "gpt-4o-mini"')
                    + '\n[options.vertex]\nbucket = "b"\n')
    report = _validate_json(spec, capsys, "--providers", "vertex,together,openai")
    unknown = {f["message"].split(":")[0]: f for f in report["findings"] if f["code"] == "model.unknown_base"}
    assert set(unknown) == {"vertex", "together"}  # openai knows gpt-4o-mini
    assert unknown["vertex"]["severity"] == "warning" and "gemini-2.5-flash" in unknown["vertex"]["message"]
    assert unknown["vertex"]["field"] == "model.base" and unknown["vertex"]["file"] == str(spec)


def test_a_retired_or_retiring_base_model_is_a_warning_with_its_date_and_source(
        project: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    spec = project
    spec.write_text(spec.read_text().replace('base = "sandbox-mini"', 'base = "gpt-4o-mini"'))
    _at(monkeypatch, "2026-12-06T00:00:00")
    report = _validate_json(spec, capsys, "--providers", "openai")
    messages = {f["code"]: f["message"] for f in report["findings"] if f["code"].startswith("model.")}
    assert "2027-01-06, in 31 day(s)" in messages["model.training_ends"]
    assert "2027-01-14" in messages["model.retires"] and "third-party" in messages["model.retires"]
    _at(monkeypatch, "2026-06-01T00:00:00")
    report = _validate_json(spec, capsys, "--providers", "openai")
    assert not [f for f in report["findings"] if f["code"].startswith("model.")]  # nothing near: nothing said
    _at(monkeypatch, "2027-02-01T00:00:00")
    report = _validate_json(spec, capsys, "--providers", "openai")
    assert "was shut down on 2027-01-14" in " ".join(f["message"] for f in report["findings"])


def test_aliases_and_methods(monkeypatch: pytest.MonkeyPatch) -> None:
    assert basemodels.lookup("azure", "gpt-3.5-turbo-0125").id == "gpt-35-turbo-0125"  # type: ignore[union-attr]
    assert basemodels.lookup("fireworks", "llama-v3p1-8b-instruct").params_b == 8  # type: ignore[union-attr]
    assert basemodels.lookup("vertex", "publishers/google/models/gemini-2.5-flash") is not None
    found = basemodels.check(["vertex"], "gemini-2.5-pro", datetime(2026, 1, 1).date(), "dpo")
    assert [c for _, _, c, _ in found] == ["model.method"]
    assert basemodels.check(["nosuch"], "x", datetime(2026, 1, 1).date()) == []


def test_a_published_retirement_becomes_the_models_base_shutdown_date(project: Path) -> None:
    """A provider whose API says nothing about shutdowns: the adapter's list feeds the scheduler's rule."""
    from datetime import date

    from tuneops import registry
    from tuneops import spec as specmod
    from tuneops.basemodels import TunableModel
    from tuneops.runs.orchestrator import Orchestrator, ProviderPool
    from tuneops.store import open_store, queries
    from tuneops.testing import FakeProvider

    class RetiringProvider(FakeProvider):
        name = "retiring"
        base_models = (TunableModel("fake-base", retires=date(2027, 1, 14), source="a test", confidence="first-party"),)

    undo = registry.register("retiring", RetiringProvider)  # type: ignore[arg-type]
    try:
        text = project.read_text().replace('provider = "sandbox"', 'provider = "retiring"')
        project.write_text(text.replace('base = "sandbox-mini"', 'base = "fake-base"').split("[budget]")[0])
        orch = Orchestrator(open_store(), ProviderPool())
        run = orch.submit(specmod.load(project))
        run = orch.watch(run.id, interval=0, sleep=lambda _: None)
        assert run.state == "succeeded"
        with orch.store.read() as s:
            model = queries.model_for_run(s, run.id)
        assert model is not None and model.base_shutdown_at == datetime(2027, 1, 14)
        orch.pool.close()
    finally:
        undo()
