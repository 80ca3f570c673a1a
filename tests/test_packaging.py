"""Packaging: the packages are discovered (setup.py), every adapter under providers/ ships in the wheel
and is registered as an entry point, the build prints no setuptools warning, and a production install
needs no test framework."""

from __future__ import annotations

import runpy
import shutil
import subprocess
import sys
import tomllib
import zipfile
from importlib.metadata import entry_points
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
PACKAGES = set(runpy.run_path(str(ROOT / "setup.py"), run_name="tuneops_packaging_test")["PACKAGES"])


def _provider_dirs() -> set[str]:
    """Every folder under providers/ that holds Python code (a package or not)."""
    return {p.parent.name for p in (ROOT / "providers").glob("*/*.py")}


def test_every_provider_package_is_found_for_the_wheel() -> None:
    # Discovery finds packages by their __init__.py: an adapter folder without one would silently not ship.
    missing = {f"tuneops.providers.{d}" for d in _provider_dirs()} - PACKAGES
    assert not missing, f"not found as packages (missing __init__.py?): {sorted(missing)}"


def test_every_provider_package_is_an_entry_point() -> None:
    declared = PYPROJECT["project"]["entry-points"]["tuneops.providers"]
    targets = {v.split(":")[0].rsplit(".", 1)[-1] for v in declared.values()}
    assert _provider_dirs() <= targets


def test_every_built_in_provider_declares_its_capabilities_for_listings() -> None:
    # Without a declaration `providers list` would import that adapter (and httpx or its SDK) to list it.
    groups = PYPROJECT["project"]["entry-points"]
    assert set(groups["tuneops.capabilities"]) == set(groups["tuneops.providers"])


def test_the_installed_distribution_registers_every_declared_provider() -> None:
    declared = set(PYPROJECT["project"]["entry-points"]["tuneops.providers"])
    installed = {ep.name for ep in entry_points(group="tuneops.providers")}
    assert declared <= installed, "reinstall tuneops (pip install -e .) to refresh entry points"


def test_every_subpackage_of_src_is_found() -> None:
    src = ROOT / "src"
    found = {".".join(p.parent.relative_to(src).parts) for p in src.rglob("*.py")
             if "__pycache__" not in p.parts and "egg-info" not in str(p)}
    assert found <= PACKAGES, f"not found as packages: {sorted(found - PACKAGES)}"
    assert not any("__pycache__" in p for p in PACKAGES)


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


def test_production_dependencies_hold_no_test_framework() -> None:
    import re

    names = {re.split(r"[<>=!~\[; ]", dep, maxsplit=1)[0].lower() for dep in PYPROJECT["project"]["dependencies"]}
    assert not names & {"pytest", "respx", "pytest-xdist", "hypothesis", "moto"}


@pytest.mark.slow
def test_the_wheel_builds_without_warnings_and_holds_every_package(tmp_path: Path) -> None:
    # Built from a copy, so the build's own folders (build/, *.egg-info) never land in the worktree.
    tree = tmp_path / "tree"
    ignore = shutil.ignore_patterns("__pycache__", "*.egg-info", "*.pyc")
    for name in ("src", "providers"):
        shutil.copytree(ROOT / name, tree / name, ignore=ignore)
    for name in ("pyproject.toml", "setup.py", "README.md"):
        shutil.copy(ROOT / name, tree / name)
    done = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index",
                           "-v", "-w", str(tmp_path / "dist"), str(tree)], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    log = done.stdout + done.stderr
    warnings = [line for line in log.splitlines() if "Warning" in line or "absent from" in line]
    assert not warnings, "\n".join(warnings)
    (wheel,) = (tmp_path / "dist").glob("tuneops-*.whl")
    with zipfile.ZipFile(wheel) as z:
        names = z.namelist()
        metadata = z.read(next(n for n in names if n.endswith(".dist-info/METADATA"))).decode()
    folders = {n.rsplit("/", 1)[0].replace("/", ".") for n in names if n.startswith("tuneops/")}
    assert folders == PACKAGES
    assert {"tuneops/data/pricing.toml", "tuneops/py.typed", "tuneops/store/migrations/script.py.mako"} <= set(names)
    required = [line for line in metadata.splitlines() if line.startswith("Requires-Dist:") and "extra ==" not in line]
    assert required and not [r for r in required if "pytest" in r or "respx" in r], required
