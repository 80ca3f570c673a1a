"""examples/plugin-provider, a third-party provider package, installs as a user would install it, shows
in `tuneops providers list`, builds from a spec's provider name, and passes tuneops's contract suite."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "plugin-provider"


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    """The example pip-installed (offline, no dependencies: tuneops is already here) into a folder of its own."""
    tmp = tmp_path_factory.mktemp("plugin")
    tree = tmp / "plugin-provider"  # built from a copy: the build's folders never land in the repository
    shutil.copytree(EXAMPLE, tree, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info", "build"))
    site = tmp / "site"
    done = subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "--no-build-isolation", "--no-index",
                           "--target", str(site), str(tree)], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(site), os.environ.get("PYTHONPATH")]))}
    env.pop("TUNEOPS_PROVIDERS", None)
    return tree, env


def test_the_installed_plugin_is_listed_with_its_capabilities(installed: tuple[Path, dict[str, str]]) -> None:
    _, env = installed
    table = subprocess.run([sys.executable, "-m", "tuneops", "providers", "list"], capture_output=True, text=True,
                           env={**env, "COLUMNS": "250"})
    assert table.returncode == 0, table.stderr
    (row,) = [line for line in table.stdout.splitlines() if line.startswith("acme ")]
    assert "sft" in row and "file_id/openai_chat" in row and "ACME_API_KEY" in row and "example plugin" in row
    code = "from tuneops import registry; import json; d = registry.describe('acme'); print(d['origin'])"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert done.stdout.strip() == "tuneops_acme:AcmeProvider", done.stderr


def test_the_plugin_is_built_from_its_name_and_asks_for_its_key(installed: tuple[Path, dict[str, str]]) -> None:
    _, env = installed
    code = ("from tuneops import registry; from tuneops.provider import ProviderConfig; "
            "p = registry.create('acme', ProviderConfig(env={'ACME_API_KEY': 'k'})); print(p.name); "
            "registry.create('acme', ProviderConfig(env={}))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert done.stdout.strip() == "acme"
    assert "MissingCredential" in done.stderr and "ACME_API_KEY" in done.stderr


def test_the_plugin_passes_the_contract_suite(installed: tuple[Path, dict[str, str]]) -> None:
    tree, env = installed
    shutil.rmtree(tree / "src")  # the tests must exercise the installed package, not the source folder
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-rs", "-p", "no:cacheprovider", "tests"],
                          cwd=tree, capture_output=True, text=True, env=env)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    assert " passed" in done.stdout and "failed" not in done.stdout
    # The only contract tests it may skip are the serving ones: Acme's models answer without a deployment.
    skips = [line for line in done.stdout.splitlines() if line.startswith("SKIPPED")]
    assert all("serves fine-tuned models directly" in line for line in skips), skips
