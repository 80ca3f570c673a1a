"""Job directories and their processes without torch in the loop: idempotent create, crashes, cancel, refusals."""

from __future__ import annotations

import errno
import json
import sys
import time
from pathlib import Path

import pytest

from tuneops.cli import main
from tuneops.errors import AmbiguousCreate, UnsupportedOperation
from tuneops.provider import CreateRequest, Hyperparameters, ProviderConfig, RunStatus
from tuneops.providers.local import LocalProvider
from tuneops.providers.local.jobs import JobDir
from tuneops.testing import prepared_file

pytestmark = pytest.mark.local


def _provider(tiny_model: Path, cleanup: list[Path], script: str = "import time; time.sleep(600)",
              **options: object) -> LocalProvider:
    provider = LocalProvider(ProviderConfig(options={"base_model_dir": str(tiny_model), **options}),
                             launcher=lambda job: [sys.executable, "-c", script])
    cleanup.append(provider.root)
    return provider


def _request(provider: LocalProvider, tmp_path: Path, key: str = "tuneops-run_a", **options: object) -> CreateRequest:
    path, digest = prepared_file(provider, tmp_path)
    upload = provider.upload(path, sha256=digest)
    return CreateRequest("support triage", "tiny-chat", "sft", upload, None, Hyperparameters(epochs=1), key,
                         options={**provider.options, **options, "jobs_dir": None})


def _wait_dead(job: JobDir, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while job.alive():
        assert time.monotonic() < deadline
        time.sleep(0.05)


def test_the_same_key_finds_the_same_directory_and_process(tiny_model: Path, tmp_path: Path,
                                                           cleanup_jobs: list[Path]) -> None:
    provider = _provider(tiny_model, cleanup_jobs)
    request = _request(provider, tmp_path)
    first, second = provider.create(request), provider.create(request)
    assert first.provider_job_id == second.provider_job_id == "support-triage-" + first.provider_job_id[-12:]
    job = JobDir(provider.root / "jobs" / first.provider_job_id)
    assert job.alive() and len(list((provider.root / "jobs").iterdir())) == 1
    assert json.loads(job.launch_file.read_text())["pid"] == job.launched()["pid"]  # launched once
    assert [j.provider_job_id for j in provider.find("tuneops-run_a")] == [first.provider_job_id]


def test_a_process_that_dies_fails_the_job_with_its_last_error(tiny_model: Path, tmp_path: Path,
                                                               cleanup_jobs: list[Path]) -> None:
    script = "import sys; print('loading...'); print('RuntimeError: CUDA out of memory', flush=True); sys.exit(1)"
    provider = _provider(tiny_model, cleanup_jobs, script)
    created = provider.create(_request(provider, tmp_path))
    _wait_dead(JobDir(provider.root / "jobs" / created.provider_job_id))
    job = provider.get(created.provider_job_id)
    assert job.status is RunStatus.FAILED and job.error_code == "process_died"
    assert "RuntimeError: CUDA out of memory" in (job.error_message or "")
    assert provider.get(created.provider_job_id).error_message == job.error_message  # recorded once, stable


def test_a_create_cut_short_before_its_process_is_started_by_the_next_get(tiny_model: Path, tmp_path: Path,
                                                                         cleanup_jobs: list[Path]) -> None:
    provider = _provider(tiny_model, cleanup_jobs)
    request = _request(provider, tmp_path)
    provider.faults["launch"] = [OSError(errno.EAGAIN, "fork: resource temporarily unavailable")]
    with pytest.raises(AmbiguousCreate):
        provider.create(request)
    (found,) = provider.find(request.idempotency_key)
    job = JobDir(provider.root / "jobs" / found.provider_job_id)
    assert found.status is RunStatus.QUEUED and job.launched() is None and not job.alive()
    assert provider.get(found.provider_job_id).status is RunStatus.QUEUED
    assert job.alive()


def test_cancel_stops_the_process_and_a_never_started_job_is_cancelled_at_once(
        tiny_model: Path, tmp_path: Path, cleanup_jobs: list[Path]) -> None:
    provider = _provider(tiny_model, cleanup_jobs)
    running = provider.create(_request(provider, tmp_path))
    assert provider.cancel(running.provider_job_id).status is RunStatus.CANCELLING
    _wait_dead(JobDir(provider.root / "jobs" / running.provider_job_id))
    assert provider.get(running.provider_job_id).status is RunStatus.CANCELLED

    provider.faults["launch"] = [OSError(errno.EAGAIN, "no process")]
    with pytest.raises(AmbiguousCreate):
        provider.create(_request(provider, tmp_path, key="tuneops-run_b"))
    (queued,) = provider.find("tuneops-run_b")
    assert provider.cancel(queued.provider_job_id).status is RunStatus.CANCELLED
    assert provider.get(queued.provider_job_id).status is RunStatus.CANCELLED  # and get() does not start it
    assert JobDir(provider.root / "jobs" / queued.provider_job_id).launched() is None


def test_qlora_without_cuda_is_a_clear_error_never_a_fallback(tiny_model: Path, tmp_path: Path,
                                                              cleanup_jobs: list[Path]) -> None:
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA; tests/providers/local/test_local_gpu.py covers QLoRA")
    provider = _provider(tiny_model, cleanup_jobs)
    with pytest.raises(UnsupportedOperation, match="needs a CUDA GPU"):
        provider.create(_request(provider, tmp_path, method="qlora"))
    assert not (provider.root / "jobs").exists()


@pytest.mark.parametrize("edit, expected", [
    (lambda t: t.replace("threads = 1", 'method = "qlora"'), "needs a CUDA GPU"),
    (lambda t: t.replace("threads = 1", "rank = 8"), "options.local.rank: unknown option"),
    (lambda t: t.replace("base_model_dir = ", 'base_model_dir = "/nowhere" #'), "/nowhere is not a model directory"),
    (lambda t: t.replace("learning_rate = 0.003", "learning_rate_multiplier = 2.0"), "absolute learning rate"),
])
def test_a_spec_the_local_provider_cannot_train_is_refused_before_anything_is_written(
        tiny_project, tmp_path: Path, capsys: pytest.CaptureFixture[str], edit, expected: str) -> None:
    spec = tiny_project()
    spec.write_text(edit(spec.read_text()))
    assert main(["submit", str(spec)]) == 2
    err = capsys.readouterr().err
    assert expected in err and "Traceback" not in err
    assert not (tmp_path / ".tuneops" / "local" / "jobs").exists()
    assert main(["runs", "list", "--json"]) == 2  # nothing admitted: not even a ledger was created
    assert "no ledger at" in capsys.readouterr().err
