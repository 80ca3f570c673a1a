"""A seeded random walk over what users do to a ledger and a sandbox: submits (some while the sandbox
is down), SIGINT and SIGKILL of submit processes, repeated submits, sandbox restarts and `sync`.
After every step, counted at the sandbox: each intent has at most one provider job, every job trained
on the bytes the ledger records for its run, and no command printed a traceback."""

from __future__ import annotations

import multiprocessing
import os
import random
import signal
import time
from pathlib import Path
from typing import Any

import pytest

from tuneops.cli import main

STEPS = int(os.environ.get("TUNEOPS_TEST_STEPS", "200"))
SEED = int(os.environ.get("TUNEOPS_TEST_SEED", "14"))
# Real processes are the expensive steps: a handful of each kind per walk.
MAX_KILLS, MAX_INTERRUPTS = 4, 3
CRASH_POINTS = ("after-admit", "after-upload", "after-create", "")


def _child(args: list[str], env: dict[str, str], cwd: str, log: str) -> None:
    os.chdir(cwd)
    os.environ.update(env)
    fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    from tuneops.cli import main as cli

    os._exit(cli(args))


class Walk:
    """The state of one random walk: specs, the sandbox, child logs, and what each step printed."""

    def __init__(self, rng: random.Random, specs: list[Path], boxes: Any, db: str, logs: Path,
                 capsys: pytest.CaptureFixture[str]):
        self.rng, self.specs, self.boxes, self.db, self.logs, self.capsys = rng, specs, boxes, db, logs, capsys
        self.kills = self.interrupts = 0
        self.counts: dict[str, int] = {}

    def cli(self, args: list[str]) -> None:
        code = main(args)
        out, err = self.capsys.readouterr()
        assert "Traceback" not in out + err, f"{args} printed a traceback:\n{out}{err}"
        assert code in (0, 1), f"{args} exited {code}:\n{out}{err}"

    def child(self, env: dict[str, str], stop: int | None) -> None:
        """A real `tuneops submit` process, killed with ``stop`` at a random moment (or crashing itself)."""
        log = self.logs / f"child-{self.kills + self.interrupts}-{stop}.log"
        ctx = multiprocessing.get_context("fork")
        proc = ctx.Process(target=_child, args=(["submit", str(self.rng.choice(self.specs)), "--no-promote"],
                                                {"TUNEOPS_DATABASE_URL": self.db, **env}, str(Path.cwd()),
                                                str(log)))
        proc.start()
        if stop is not None:
            time.sleep(self.rng.uniform(0.05, 0.6))
            if proc.is_alive():
                os.kill(proc.pid, stop)
        proc.join(120)
        assert proc.exitcode is not None, "a submit process hung"
        text = log.read_text() if log.exists() else ""
        assert "Traceback" not in text, text

    def step(self) -> str:
        """Do one random thing; returns its name."""
        r = self.rng.random()
        if r < 0.35:
            what = "submit"
            self.cli(["submit", str(self.rng.choice(self.specs)), "--no-promote"])
        elif r < 0.45:
            what = "submit while down"
            self.boxes.stop()
            self.cli(["submit", str(self.rng.choice(self.specs)), "--no-promote"])
        elif r < 0.55:
            what = "start"
            self.boxes.start()
        elif r < 0.62:
            what = "restart"
            self.boxes.restart()
        elif r < 0.67 and self.kills < MAX_KILLS:
            what = "SIGKILL"
            self.kills += 1
            point = self.rng.choice(CRASH_POINTS)
            self.child({"TUNEOPS_CRASH_AT": point} if point else {}, None if point else signal.SIGKILL)
        elif r < 0.71 and self.interrupts < MAX_INTERRUPTS:
            what = "SIGINT"
            self.interrupts += 1
            self.child({}, signal.SIGINT)
        else:
            what = "sync"
            self.cli(["sync", "--no-promote"])
        self.counts[what] = self.counts.get(what, 0) + 1
        return what


@pytest.mark.parametrize("db", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_random_walks_keep_one_job_per_intent_on_the_recorded_bytes(
        db: str, request: pytest.FixtureRequest, small_project: Path, sandboxes: Any, invariants: Any,
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    url = str(tmp_path / ".tuneops" / "tuneops.db") if db == "sqlite" else str(request.getfixturevalue("pg_db_url"))
    monkeypatch.setenv("TUNEOPS_DATABASE_URL", url)
    text = small_project.read_text()
    specs = []
    for seed in (1, 2, 3):  # three intents on the same data
        spec = small_project.with_name(f"triage-{seed}.toml")
        spec.write_text(text.replace("seed = 7", f"seed = {seed}"))
        specs.append(spec)
    logs = tmp_path / "logs"
    logs.mkdir()
    rng = random.Random(f"{SEED}-{db}")
    walk = Walk(rng, specs, sandboxes, url, logs, capsys)
    for i in range(STEPS):
        if rng.random() < 0.07:  # before a restart loses them, check the jobs it holds
            invariants(sandboxes, url)
        what = walk.step()
        try:
            invariants(sandboxes, url)
        except AssertionError as exc:
            raise AssertionError(f"after step {i} ({what}; seed {SEED}, steps so far {walk.counts}): {exc}") from None
    # Every intent still gets to a model: start the sandbox and sync until nothing is left in flight.
    sandboxes.start()
    for _ in range(60):
        walk.cli(["sync", "--no-promote"])
        from tuneops.store import open_store, queries

        store = open_store(url)
        with store.read() as s:
            unfinished = queries.unfinished_runs(s)
        store.close()
        if not unfinished:
            break
        time.sleep(0.2)
    assert not unfinished, [(r.id, r.state) for r in unfinished]
    invariants(sandboxes, url)
    print(f"walk {db}: {walk.counts}")
    assert walk.counts.get("SIGKILL", 0) >= 1 and walk.counts.get("SIGINT", 0) >= 1, walk.counts
