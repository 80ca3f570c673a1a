"""`tuneops providers check NAME`: credentials set and accepted, in one line each, never showing a key."""

from __future__ import annotations

import json

import pytest
import respx

from tuneops.cli import main


def test_check_passes_against_the_sandbox(sandbox_env: object, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["providers", "check", "sandbox"]) == 0
    out = capsys.readouterr().out
    assert "ok" in out and "models visible" in out


def test_check_names_the_missing_variable(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["providers", "check", "openai"]) == 1
    assert "OPENAI_API_KEY" in capsys.readouterr().out


def test_check_reports_a_rejected_key_without_showing_it(monkeypatch: pytest.MonkeyPatch,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    key = "sk-cli-0123456789abcdef"
    monkeypatch.setenv("OPENAI_API_KEY", key)
    with respx.mock() as router:
        router.get("https://api.openai.com/v1/models").respond(401, json={"error": {
            "message": f"Incorrect API key provided: {key}.", "type": "invalid_request_error",
            "param": None, "code": "invalid_api_key"}})
        assert main(["providers", "check", "openai", "--json"]) == 1
    report = json.loads(capsys.readouterr().out)
    assert report["ok"] is False and "invalid_api_key" in report["checks"][-1]["message"]
    assert key not in json.dumps(report)


def test_check_takes_provider_options_on_the_command_line(monkeypatch: pytest.MonkeyPatch,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("AZURE_OPENAI_API_KEY", "azure-key-0123456789")
    with respx.mock() as router:
        route = router.get("https://res.openai.azure.com/openai/v1/models").respond(
            json={"object": "list", "data": []})
        assert main(["providers", "check", "azure", "-o", "endpoint=https://res.openai.azure.com"]) == 0
    assert route.called and "deployments not configured" in capsys.readouterr().out


def test_an_unknown_provider_is_a_clear_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["providers", "check", "acme"]) == 2
    assert "unknown provider 'acme'" in capsys.readouterr().err
