"""Four `tuneops submit` processes of one spec at once: one run, one provider job, one upload per file."""

from __future__ import annotations

import multiprocessing
import os
from pathlib import Path
from typing import Any

import pytest


def _child(args: list[str], env: dict[str, str], cwd: str, go: Any, log: str) -> None:
    os.chdir(cwd)
    os.environ.update(env)
    fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    from tuneops.cli import main

    go.wait(30)
    os._exit(main(args))


def submit_at_once(n: int, args: list[str], env: dict[str, str], logs: Path) -> list[tuple[int | None, str]]:
    """Run ``n`` CLI processes released together; returns (exit code, output) of each."""
    ctx = multiprocessing.get_context("fork")
    go = ctx.Event()
    procs = []
    for i in range(n):
        log = logs / f"submit-{len(list(logs.iterdir()))}-{i}.log"
        proc = ctx.Process(target=_child, args=(args, env, str(Path.cwd()), go, str(log)))
        proc.start()
        procs.append((proc, log))
    go.set()
    out = []
    for proc, log in procs:
        proc.join(120)
        out.append((proc.exitcode, log.read_text()))
    return out


@pytest.mark.parametrize("db", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_four_concurrent_submits_make_one_run_one_job_and_one_upload_per_file(
        db: str, request: pytest.FixtureRequest, small_project: Path, sandboxes: Any, invariants: Any,
        runs_in_ledger: Any, tmp_path: Path) -> None:
    url = str(tmp_path / ".tuneops" / "tuneops.db") if db == "sqlite" else str(request.getfixturevalue("pg_db_url"))
    env = {"TUNEOPS_DATABASE_URL": url, "TUNEOPS_SANDBOX_URL": sandboxes.url}
    logs = tmp_path / "logs"
    logs.mkdir()
    text = small_project.read_text()
    for round_ in range(2):  # two intents (another seed each), the same data
        small_project.write_text(text.replace("seed = 7", f"seed = {round_}"))
        results = submit_at_once(4, ["submit", str(small_project), "--no-promote"], env, logs)
        for code, output in results:
            assert code == 0, output
            assert "Traceback" not in output, output
        runs = runs_in_ledger(url)
        assert len(runs) == round_ + 1
        jobs = invariants(sandboxes, url)
        assert len(jobs) == round_ + 1 and all(len(j) == 1 for j in jobs.values())
        # The same training and validation bytes: uploaded once, in the first round, and verified after.
        assert sandboxes.requests("POST /v1/files") == 2
        assert sandboxes.requests("POST /v1/fine_tuning/jobs") == round_ + 1
