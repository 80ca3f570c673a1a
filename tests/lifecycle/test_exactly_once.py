"""Exactly-once submission: kills at every step, lost responses and transient faults never leave a run
with zero or two provider jobs, and never leave a provider job the ledger does not know."""

from __future__ import annotations

import multiprocessing
import os
import signal
import time
from pathlib import Path

import httpx
import openai
import pytest

from tuneops import spec as specmod
from tuneops.retry import RetryPolicy
from tuneops.runs.orchestrator import Orchestrator, ProviderPool
from tuneops.store import open_store, queries
from tuneops.testing import another_intent

FAST = RetryPolicy(attempts=8, total_seconds=60, base_seconds=0.01, max_backoff_seconds=0.05)
KILLS = int(os.environ.get("TUNEOPS_TEST_KILLS", "20"))


@pytest.fixture
def small_project(project: Path) -> Path:
    """The example project cut to 24 training and 10 validation examples, so each kill is cheap."""
    data = project.parent / "data"
    for name, keep in (("support-triage.train.jsonl", 24), ("support-triage.valid.jsonl", 10)):
        lines = (data / name).read_text().splitlines(keepends=True)[:keep]
        (data / name).write_text("".join(lines))
    return project


def _sandbox_jobs(sandbox: object) -> dict[str, str | None]:
    """Every job at the sandbox: id -> the idempotency key in its metadata."""
    client = openai.OpenAI(base_url=sandbox.url, api_key="x", max_retries=0,  # type: ignore[attr-defined]
                           http_client=httpx.Client())
    return {j.id: (j.metadata or {}).get("tuneops_key") for j in client.fine_tuning.jobs.list(limit=100)}


def _set_faults(sandbox: object, **config: object) -> None:
    httpx.post(f"{sandbox.admin_url}/faults", json=config, timeout=10).raise_for_status()  # type: ignore


def _child(args: list[str], env: dict[str, str], cwd: str) -> None:
    os.chdir(cwd)
    os.environ.update(env)
    from tuneops.cli import main

    os._exit(main(args))


def _settle(store_db: str | None = None, rounds: int = 200) -> list:
    """Run `tuneops sync` (the library call behind it) until every run is terminal."""
    orch = Orchestrator(open_store(store_db), ProviderPool(), policy=FAST)
    try:
        for _ in range(rounds):
            orch.sync_all(force=True)
            with orch.store.read() as s:
                if not queries.unfinished_runs(s):
                    break
            time.sleep(0.05)
        with orch.store.read() as s:
            return list(queries.list_runs(s, limit=1000))
    finally:
        orch.pool.close()


def _assert_one_job_per_run(runs: list, new_jobs: dict[str, str | None]) -> None:
    job_ids = [r.provider_job_id for r in runs]
    assert all(job_ids), [r.state for r in runs if not r.provider_job_id]
    assert len(set(job_ids)) == len(job_ids), "two runs share a provider job"
    # Every job the provider holds for these runs' keys is the one the run tracks: no duplicates...
    by_key: dict[str | None, list[str]] = {}
    for jid, key in new_jobs.items():
        by_key.setdefault(key, []).append(jid)
    for run in runs:
        live = by_key.get(run.idempotency_key, [])
        assert run.provider_job_id in live
    # ...and no provider job created in this test is untracked (extras were cancelled and recorded).
    tracked = set(job_ids)
    for jid, key in new_jobs.items():
        if jid not in tracked:
            run = next(r for r in runs if r.idempotency_key == key)
            with open_store().read() as s:
                notes = [e.message for e in queries.run_events(s, run.id)]
            assert any(f"cancelled duplicate job {jid}" in n for n in notes), f"untracked job {jid}"


@pytest.mark.slow
@pytest.mark.parametrize("boundary", ["after-admit", "after-upload", "create-sent", "after-create",
                                      "during-sync"])
def test_submit_killed_at_each_step_recovers_with_exactly_one_job_per_run(
        boundary: str, small_project: Path, sandbox_env: object, requests_at) -> None:
    project = small_project
    before = set(_sandbox_jobs(sandbox_env))
    # Import what a submit needs once here, so each forked child starts warm (as fast as a kill allows).

    ctx = multiprocessing.get_context("fork")
    env = {"TUNEOPS_SANDBOX_URL": sandbox_env.url}  # type: ignore[attr-defined]
    args = ["submit", str(project), "--no-promote"]
    if boundary == "create-sent":
        # The sandbox creates the job, then holds the answer: the kill lands between the two.
        _set_faults(sandbox_env, rate_slow=1.0, slow_delay=5.0, routes=["POST /v1/fine_tuning/jobs"])
    elif boundary == "during-sync":
        env["TUNEOPS_CRASH_AT"] = boundary
        args.append("--watch")
    else:
        env["TUNEOPS_CRASH_AT"] = boundary
    try:
        text = project.read_text()
        for kill in range(KILLS):
            # Each kill on a new intent (another seed): a run of its own, which `sync` must finish.
            project.write_text(text.replace("seed = 7", f"seed = {100 + kill}"))
            creates = requests_at("POST /v1/fine_tuning/jobs")
            proc = ctx.Process(target=_child, args=(args, env, str(Path.cwd())))
            proc.start()
            if boundary == "create-sent":
                deadline = time.monotonic() + 30
                while requests_at("POST /v1/fine_tuning/jobs") == creates and time.monotonic() < deadline:
                    time.sleep(0.01)
                os.kill(proc.pid, signal.SIGKILL)
            proc.join(60)
            assert proc.exitcode == -signal.SIGKILL, f"child ended with {proc.exitcode}, not killed"
    finally:
        _set_faults(sandbox_env)
    runs = _settle()
    assert len(runs) == KILLS
    assert {r.state for r in runs} == {"succeeded"}
    new_jobs = {k: v for k, v in _sandbox_jobs(sandbox_env).items() if k not in before}
    _assert_one_job_per_run(runs, new_jobs)


@pytest.mark.slow
def test_fifty_submissions_under_thirty_percent_faults_all_finish_without_duplicates(
        small_project: Path, sandbox_env: object) -> None:
    project = small_project
    before = set(_sandbox_jobs(sandbox_env))
    loaded = specmod.load(project)
    _set_faults(sandbox_env, rate_429=0.1, retry_after=0.05, rate_5xx=0.1, rate_drop=0.1,
                drop_mode="mixed", seed=11)
    orch = Orchestrator(open_store(), ProviderPool(), policy=FAST)
    try:
        for seed in range(50):  # fifty intents: one run each
            orch.submit(another_intent(loaded, seed))
    finally:
        orch.pool.close()
    try:
        runs = _settle()
    finally:
        _set_faults(sandbox_env)
    assert len(runs) == 50
    assert {r.state for r in runs} <= {"succeeded", "failed", "cancelled"}
    new_jobs = {k: v for k, v in _sandbox_jobs(sandbox_env).items() if k not in before}
    _assert_one_job_per_run(runs, new_jobs)


def test_an_ambiguous_create_is_adopted_by_sync_not_resubmitted(project: Path, sandbox_env: object) -> None:
    before = set(_sandbox_jobs(sandbox_env))
    _set_faults(sandbox_env, rate_drop=1.0, routes=["POST /v1/fine_tuning/jobs"], max_faults=1)
    orch = Orchestrator(open_store(), ProviderPool(), policy=FAST)
    try:
        run = orch.submit(specmod.load(project))
        assert run.state == "unknown" and run.provider_job_id is None
        run = orch.advance(run)
    finally:
        orch.pool.close()
        _set_faults(sandbox_env)
    new = [k for k in _sandbox_jobs(sandbox_env) if k not in before]
    assert new == [run.provider_job_id]
    with open_store().read() as s:
        assert any("found by key" in e.message for e in queries.run_events(s, run.id))
