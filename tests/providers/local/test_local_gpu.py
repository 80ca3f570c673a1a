"""QLoRA on a CUDA GPU (4-bit NF4 base, bf16 compute, double quantisation): skipped on machines without one."""

from __future__ import annotations

import json

import pytest

from tuneops.cli import main

pytestmark = [pytest.mark.gpu, pytest.mark.local, pytest.mark.slow]


def test_a_qlora_job_trains_a_4bit_base_on_cuda_and_serves_it(tiny_project, capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("bitsandbytes", reason="QLoRA needs bitsandbytes: pip install 'tuneops[qlora]'")
    spec = tiny_project(steps=50, every=25, train=60)
    spec.write_text(spec.read_text().replace("threads = 1", 'method = "qlora"\ndevice = "cuda"'))
    assert main(["submit", str(spec), "--watch", "--no-promote", "--json"]) == 0
    run = json.loads(capsys.readouterr().out)
    assert run["state"] == "succeeded" and run["model_id"].startswith("local:")
    raw = json.loads(run["raw_job"]) if isinstance(run.get("raw_job"), str) else {}
    assert raw.get("lora", {}).get("method", "qlora") == "qlora"
    assert main(["eval", "run", run["model_id"], "--json"]) == 0
