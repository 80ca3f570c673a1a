"""Provider options: misspelt, misplaced, credential-shaped and host-redirecting options are refused with
file, line and a fix; hosts come from the environment or the user config file, never from a spec."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tuneops.cli import main
from tuneops.provider import ProviderConfig
from tuneops.runs.orchestrator import ProviderPool


def _switch(spec: Path, provider: str, extra: str = "") -> Path:
    text = spec.read_text().replace('provider = "sandbox"', f'provider = "{provider}"')
    spec.write_text(text + extra)
    return spec


def _no_ledger(tmp_path: Path) -> None:
    assert not (tmp_path / ".tuneops" / "tuneops.db").exists()


@pytest.mark.parametrize("extra, expected", [
    ("\n[options.together]\nlora_rr = 8\n", ["options.together.lora_rr: unknown option; did you mean lora_r?"]),
    ("\n[options.together]\ntraining_typ = \"full\"\n",
     ["options.together.training_typ: unknown option; did you mean training_type?"]),
    ("\n[options.togther]\nlora_r = 8\n", ["options.togther: no provider named 'togther'; did you mean together?"]),
    ("\n[options.together]\ntraining_type = \"qlora\"\n", ["options.together.training_type", "'lora' or 'full'"]),
    ("\n[options.together]\nlora_r = \"eight\"\n", ["options.together.lora_r", "valid integer"]),
    ("\n[options.together.wandb]\nprojet = \"x\"\n", ["options.together.wandb.projet: unknown option; did you "
                                                      "mean project?"]),
])
def test_a_wrong_option_is_refused_with_its_line_and_a_suggestion(
        project: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], extra: str, expected: list[str]) -> None:
    spec = _switch(project, "together", extra)
    lines = spec.read_text().splitlines()
    assert main(["validate", str(spec)]) == 2
    err = capsys.readouterr().err
    for text in expected:
        assert text in err
    line = int(err.split("line ")[1].split(":")[0])
    assert lines[line - 1].strip().split(" ")[0].strip("[]").split(".")[-1] in expected[0]
    assert main(["submit", str(spec)]) == 2  # and nothing is uploaded or written
    _no_ledger(tmp_path)


@pytest.mark.parametrize("extra, field", [
    ("\n[options.openai]\nbase_url = \"http://any-host/v1\"\n", "options.openai.base_url"),
    ("\n[options.azure]\nendpoint = \"https://evil.example\"\n", "options.azure.endpoint"),
    ("\n[options.fireworks]\ninference_base_url = \"https://evil.example\"\n", "options.fireworks.inference_base_url"),
    ("\n[options.together.wandb]\nbase_url = \"https://evil.example\"\n", "options.together.wandb.base_url"),
    ("\n[options.openai]\napi_key = \"sk-123\"\n", "options.openai.api_key"),
    ("\n[options.mistral.wandb]\nproject = \"p\"\napi_key = \"k\"\n", "options.mistral.wandb.api_key"),
    ("\n[options.vertex]\nbucket = \"b\"\nclient_secret = \"s\"\n", "options.vertex.client_secret"),
])
def test_a_spec_cannot_redirect_or_carry_credentials(
        project: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], sandbox_env: object,
        extra: str, field: str) -> None:
    spec = _switch(project, "sandbox", extra)
    for command in (["validate", str(spec)], ["estimate", str(spec)], ["submit", str(spec)]):
        assert main(command) == 2
        err = capsys.readouterr().err
        assert field in err and "line " in err
    _no_ledger(tmp_path)


def test_a_metadata_label_that_looks_like_a_url_key_is_just_a_label(project: Path,
                                                                   capsys: pytest.CaptureFixture[str]) -> None:
    spec = _switch(project, "openai", '\n[options.openai.metadata]\nrunbook_url = "https://wiki.example/x"\n')
    assert main(["validate", str(spec)]) == 0, capsys.readouterr().err


def test_validate_reports_every_missing_option_of_every_provider_at_once(
        project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", str(project), "--providers", "together,vertex,bedrock"]) == 2
    err = capsys.readouterr().err
    for field in ("options.vertex.bucket", "options.bedrock.role_arn", "options.bedrock.bucket"):
        assert f"{field}: " in err and "needs this option" in err
    # the spec's own provider is fine without options; estimate never asks for them
    assert main(["validate", str(project)]) == 0
    assert main(["estimate", str(project), "--providers", "vertex,bedrock", "--json"]) == 0


def test_a_switched_spec_with_its_required_options_validates(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    spec = _switch(project, "bedrock", "\n[options.bedrock]\nrole_arn = \"arn:aws:iam::1:role/r\"\n"
                                       "bucket = \"my-bucket\"\n")
    assert main(["validate", str(spec)]) == 0, capsys.readouterr().err


def test_the_user_config_file_points_a_provider_at_its_host(
        project: Path, tmp_path: Path, sandbox: object, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "user-config.toml"
    config.write_text(f'[providers.sandbox]\nbase_url = "{sandbox.url}"\n')  # type: ignore[attr-defined]
    monkeypatch.delenv("TUNEOPS_SANDBOX_URL", raising=False)
    assert main(["submit", str(project), "--watch", "--json", "--no-promote"]) == 0
    assert json.loads(capsys.readouterr().out)["state"] == "succeeded"

    # the environment wins over the file
    env = {"TUNEOPS_CONFIG": str(config), "TUNEOPS_SANDBOX_URL": "http://127.0.0.1:9/v1"}
    pool = ProviderPool(env=env)
    assert pool.get("sandbox").base_url == "http://127.0.0.1:9/v1"  # type: ignore[attr-defined]
    pool.close()
    pool = ProviderPool(env={"TUNEOPS_CONFIG": str(config)})
    assert pool.get("sandbox").base_url == sandbox.url  # type: ignore[attr-defined]
    pool.close()


def test_a_misspelt_user_config_setting_is_refused_naming_the_file(tmp_path: Path) -> None:
    from tuneops.errors import TuneopsError

    config = tmp_path / "user-config.toml"
    config.write_text('[providers.openai]\nbase_ur = "https://proxy.example/v1"\n')
    with pytest.raises(TuneopsError, match=r"user-config.toml: \[providers.openai\] base_ur: .*did you mean base_url"):
        ProviderPool(env={"TUNEOPS_CONFIG": str(config), "OPENAI_API_KEY": "sk-x"}).get("openai")


def test_every_builtin_adapter_declares_an_options_schema() -> None:
    from tuneops import options, registry

    for name in registry.names():
        schema = options.schema_for(name)
        assert schema is not None and schema.model_config.get("extra") == "forbid", name
        # an adapter built from an empty table still works (all options optional or required by schema)
        assert isinstance(options.connection_for(name), dict)
    assert ProviderConfig().options == {}
