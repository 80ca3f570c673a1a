"""A misspelt command, spec key, table, metric or provider is answered with the likely name and where it was."""

from __future__ import annotations

from pathlib import Path

import pytest

from tuneops.cli import main


def _misspell(spec: Path, old: str, new: str) -> None:
    spec.write_text(spec.read_text().replace(old, new, 1))


def _err(capsys: pytest.CaptureFixture[str]) -> str:
    return " ".join(capsys.readouterr().err.split())


@pytest.mark.parametrize(("argv", "meant"), [(["eval", "comapre", "a", "b"], "compare"), (["eval", "lsit"], "list"),
                                             (["runs", "lst"], "list"), (["sumbit", "x"], "submit")])
def test_a_misspelt_command_is_named(argv: list[str], meant: str, capsys: pytest.CaptureFixture[str]) -> None:
    # `eval WORD` is short for `eval run WORD`: a misspelt subcommand was taken for a model to evaluate.
    typo = next(word for word in argv if word not in ("eval", "runs"))
    assert main(argv) == 2
    assert f"No such command '{typo}'. Did you mean '{meant}'?" in _err(capsys)


def test_a_misspelt_provider_in_a_spec_is_named_with_its_file_and_line(project: Path,
                                                                       capsys: pytest.CaptureFixture[str]) -> None:
    _misspell(project, 'provider = "sandbox"', 'provider = "sanbox"')
    for command in ("validate", "estimate"):
        assert main([command, str(project)]) == 2
        err = _err(capsys)
        assert f"{project}:8: model.provider: unknown provider 'sanbox'; did you mean 'sandbox'?" in err, command


def test_a_misspelt_provider_option_names_the_option_not_the_spec(project: Path,
                                                                  capsys: pytest.CaptureFixture[str]) -> None:
    for command in ("submit", "plan"):
        assert main([command, str(project), "--provider", "togther"]) == 2
        assert "error: --provider: unknown provider 'togther'; did you mean 'together'?" in _err(capsys)


def test_a_misspelt_table_or_metric_is_named_with_its_line(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text = project.read_text()
    _misspell(project, "[hyperparameters]", "[hyperparameter]")
    assert main(["validate", str(project)]) == 2
    line = text.splitlines().index("[hyperparameters]") + 1
    assert f"line {line}: hyperparameter: unknown field; did you mean 'hyperparameters'?" in _err(capsys)
    project.write_text(text)
    _misspell(project, '"exact_match", "label_accuracy"', '"exact_mach", "label_accuracy"')
    assert main(["validate", str(project)]) == 2  # a finding of the preflight, printed with the others
    assert "eval.metrics: unknown metric 'exact_mach'; did you mean 'exact_match'?" in capsys.readouterr().out


@pytest.mark.parametrize(("typo", "meant"), [("--formt", "--format"), ("--dbb", "--db"), ("--quite", "--quiet")])
def test_a_misspelt_global_option_after_the_command_is_named(typo: str, meant: str,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    # Global options work after the command, so their misspellings get the suggestion there too ("--dbb" got "--job").
    assert main(["runs", "list", typo, "x"]) == 2
    assert f"No such option: {typo} (Possible options: {meant})" in _err(capsys)
