"""The local provider is optional: the core install does not pull torch, and `tuneops --help` never imports it."""

from __future__ import annotations

import subprocess
import sys
from importlib.metadata import requires

from packaging.requirements import Requirement


def _requirements() -> list[Requirement]:
    return [Requirement(r) for r in requires("tuneops") or []]


def test_the_core_install_does_not_pull_torch_and_the_local_extra_does() -> None:
    core = {r.name for r in _requirements() if r.marker is None}
    assert core and not core & {"torch", "transformers", "peft", "accelerate", "safetensors", "bitsandbytes"}
    local = {r.name for r in _requirements() if r.marker is not None and r.marker.evaluate({"extra": "local"})}
    assert {"torch", "transformers", "peft", "accelerate", "safetensors"} <= local
    qlora = {r.name for r in _requirements() if r.marker is not None
             and r.marker.evaluate({"extra": "qlora", "sys_platform": "linux"})}
    assert "bitsandbytes" in qlora


def test_help_and_the_provider_listing_import_no_torch() -> None:
    code = ("import sys\n"
            "from tuneops.cli import main\n"
            "for argv in (['--help'], ['providers', 'list'], ['export', '--help']):\n"
            "    try:\n"
            "        main(argv)\n"
            "    except SystemExit:\n"
            "        pass\n"
            "from tuneops import registry\n"
            "registry.load('local')\n"
            "heavy = sorted(m for m in ('torch', 'transformers', 'peft', 'accelerate') if m in sys.modules)\n"
            "print('HEAVY', heavy)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "HEAVY []" in out.stdout and "export" in out.stdout
