"""docs/providers/<name>.md: one page per provider, its generated part current, every schema option
documented, and its example spec valid both as written and as a one-line switch of the example job."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest

from tuneops import options, providerdocs, registry
from tuneops.cli import main

DOCS = Path(__file__).resolve().parents[1] / "docs" / "providers"
SEVEN = ("openai", "azure", "together", "fireworks", "vertex", "bedrock", "mistral")
SECTIONS = ("## Credentials", "## Required options", "## Serving and cost", "## Limits", "## Deprecation status",
            "## Example spec")


def _example(provider: str) -> str:
    text = (DOCS / f"{provider}.md").read_text(encoding="utf-8")
    section = text.split("## Example spec", 1)[1]
    return re.search(r"```toml\n(.*?)```", section, re.S).group(1)  # type: ignore[union-attr]


def test_every_installed_provider_has_a_page() -> None:
    assert set(SEVEN) <= set(registry.names())
    for name in registry.names():
        assert (DOCS / f"{name}.md").is_file(), f"docs/providers/{name}.md is missing"


@pytest.mark.parametrize("provider", sorted(set(SEVEN) | {"sandbox"}))
def test_a_page_documents_every_option_and_its_generated_part_is_current(provider: str) -> None:
    text = (DOCS / f"{provider}.md").read_text(encoding="utf-8")
    assert providerdocs.current(provider, DOCS) == text, f"run `tuneops providers docs --write` ({provider})"
    for section in SECTIONS:
        assert section in text, f"{provider}: no {section!r}"
    schema = options.schema_for(provider)
    assert schema is not None
    for key, _, required, description in providerdocs.option_rows(schema):
        assert f"| `{key}` |" in text and description, f"{provider}: option {key} undocumented"
        if required and "." not in key:  # a nested table's own required keys apply only when it is used
            required_part = text.split("## Required options", 1)[1].split("\n## ", 1)[0]
            assert f"`{key}`" in required_part, f"{provider}: required option {key} not under 'Required options'"
    for setting in options.connection_for(provider):
        assert f"| `{setting}` |" in text


@pytest.mark.parametrize("provider", SEVEN)
def test_the_example_job_switched_to_a_provider_with_its_documented_options_validates(
        provider: str, project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    example = tomllib.loads(_example(provider))
    assert example["model"]["provider"] == provider
    text = project.read_text()
    # the one-line switch (and the base model that provider tunes), plus the options its page lists
    text = re.sub(r'provider = "sandbox".*', f'provider = "{provider}"', text)
    text = text.replace('base = "sandbox-mini"', f'base = "{example["model"]["base"]}"')
    table = _example(provider).split(f"[options.{provider}]", 1)
    text += (f"\n[options.{provider}]" + table[1].split("\n[", 1)[0]) if len(table) == 2 else ""
    project.write_text(text)
    assert main(["validate", str(project)]) == 0, capsys.readouterr().err
    capsys.readouterr()
    # the page's own example spec, next to the example data, is a complete valid spec
    written = project.parent / f"{provider}-example.toml"
    written.write_text(_example(provider))
    assert main(["validate", str(written)]) == 0, capsys.readouterr().err


def test_a_stale_page_is_reported_and_rewritten(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    page = tmp_path / "together.md"
    page.write_text((DOCS / "together.md").read_text().replace("| `lora_r` |", "| `lora_rank_old` |"))
    assert main(["providers", "docs", "together", "--dir", str(tmp_path)]) == 1
    assert "out of date: together" in capsys.readouterr().out
    assert main(["providers", "docs", "together", "--dir", str(tmp_path), "--write"]) == 0
    assert page.read_text() == (DOCS / "together.md").read_text()
    (tmp_path / "mistral.md").write_text("# no markers\n")
    assert main(["providers", "docs", "mistral", "--dir", str(tmp_path)]) == 2  # the page needs fixing by hand
    assert "markers" in capsys.readouterr().err


ROOT = DOCS.parents[1]
SHIPPED = ["README.md", "jobs/README.md", "docs/**/*.md", "examples/**/*.md", "src/tuneops/**/*.py",
           "src/tuneops/data/*.toml", "providers/**/*.py"]


def test_what_ships_cites_only_documents_that_ship() -> None:
    # "the house plan", "pricing.md §5" and "reference/providers.md" were research notes outside the repo.
    missing = []
    for pattern in SHIPPED:
        for path in sorted(ROOT.glob(pattern)):
            text = path.read_text(encoding="utf-8")
            rel = path.relative_to(ROOT).as_posix()
            if "house plan" in text:
                missing.append((rel, "the house plan"))
            for cited in set(re.findall(r"[\w./-]*\w\.md\b", text)):
                if cited.startswith("/") or ("." in cited.split("/")[0] and "/" in cited):
                    continue  # a web address (docs.fireworks.ai/...md)
                if not ((path.parent / cited).exists() or (ROOT / cited).exists()):
                    missing.append((rel, cited))
    assert not missing
