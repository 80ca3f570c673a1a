"""Packaging: every adapter under providers/ ships in the wheel and is registered as an entry point."""

from __future__ import annotations

import tomllib
from importlib.metadata import entry_points
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())


def _provider_dirs() -> set[str]:
    return {p.parent.name for p in (ROOT / "providers").glob("*/__init__.py")}


def test_every_provider_package_is_listed_for_the_wheel() -> None:
    packages = set(PYPROJECT["tool"]["setuptools"]["packages"])
    missing = {f"tuneops.providers.{d}" for d in _provider_dirs()} - packages
    assert not missing, f"add to [tool.setuptools].packages: {sorted(missing)}"


def test_every_provider_package_is_an_entry_point() -> None:
    declared = PYPROJECT["project"]["entry-points"]["tuneops.providers"]
    targets = {v.split(":")[0].rsplit(".", 1)[-1] for v in declared.values()}
    assert _provider_dirs() <= targets


def test_the_installed_distribution_registers_every_declared_provider() -> None:
    declared = set(PYPROJECT["project"]["entry-points"]["tuneops.providers"])
    installed = {ep.name for ep in entry_points(group="tuneops.providers")}
    assert declared <= installed, "reinstall tuneops (pip install -e .) to refresh entry points"


def test_every_subpackage_of_src_is_listed() -> None:
    packages = set(PYPROJECT["tool"]["setuptools"]["packages"])
    src = ROOT / "src"
    found = {".".join(p.parent.relative_to(src).parts) for p in src.rglob("__init__.py")}
    assert found <= packages, f"add to [tool.setuptools].packages: {sorted(found - packages)}"


def test_every_provider_package_imports_from_the_installed_distribution() -> None:
    import importlib

    for name in sorted(_provider_dirs()):
        module = importlib.import_module(f"tuneops.providers.{name}")
        assert module.__file__, name


def test_migrations_and_data_files_ship_with_the_package() -> None:
    import tuneops.store.migrations as migrations

    base = Path(migrations.__file__).parent
    assert (base / "env.py").is_file() and (base / "script.py.mako").is_file()
    assert list((base / "versions").glob("0001_*.py"))
