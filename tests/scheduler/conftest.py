"""Helpers for the scheduler tests: many tiny job specs, and scheduler processes started as a user would."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tuneops.examples import LABELS, SYSTEM

TINY_SPEC = """\
name = "{name}"
[model]
provider = "sandbox"
base = "sandbox-mini"
suffix = "{suffix}"
[data]
train = "data/{name}.jsonl"
[hyperparameters]
epochs = 1
[retrain]
{rules}
cooldown_hours = 0
"""


def write_job(jobs: Path, name: str, rules: str, rows: list[dict], suffix: str = "t") -> Path:
    """One sandbox job spec with these [retrain] rules and its training file ``data/<name>.jsonl``."""
    (jobs / "data").mkdir(parents=True, exist_ok=True)
    (jobs / "data" / f"{name}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    spec = jobs / f"{name}.toml"
    spec.write_text(TINY_SPEC.format(name=name, suffix=suffix, rules=rules))
    return spec


def write_tiny_jobs(jobs: Path, n: int, examples: int = 12) -> list[str]:
    """``n`` job specs with ``examples`` distinct examples each, all due (no model yet, new data)."""
    names = []
    for i in range(n):
        name = f"tiny-{i:03d}"
        rows = [{"messages": [{"role": "system", "content": SYSTEM},
                              {"role": "user", "content": f"ticket {k} of queue {i}: please help with {LABELS[k % 3]}"},
                              {"role": "assistant", "content": LABELS[k % 3]}]} for k in range(examples)]
        write_job(jobs, name, "new_examples = 1", rows, suffix=f"t{i}")
        names.append(name)
    return names


def cli_env(db_url: str, sandbox_url: str, home: Path, **extra: str) -> dict[str, str]:
    """The environment of a scheduler process: this ledger, the session's sandbox, the test's project."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TUNEOPS_")}
    env.update({"TUNEOPS_DATABASE_URL": db_url, "TUNEOPS_SANDBOX_URL": sandbox_url, "TUNEOPS_HOME": str(home),
                "TUNEOPS_ACTOR": "scheduler@test", "PYTHONUNBUFFERED": "1", **extra})
    return env


def start(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.Popen[str]:
    """A `tuneops ...` process."""
    return subprocess.Popen([sys.executable, "-m", "tuneops", *args], env=env, cwd=cwd, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


class Helpers:
    """The helpers above, handed to tests as the ``sched`` fixture (test modules cannot import conftest)."""

    write_job = staticmethod(write_job)
    write_tiny_jobs = staticmethod(write_tiny_jobs)
    cli_env = staticmethod(cli_env)
    start = staticmethod(start)


@pytest.fixture
def sched() -> type[Helpers]:
    """Scheduler test helpers."""
    return Helpers


@pytest.fixture
def db_url(any_db_url: str) -> str:
    """A migrated ledger, once on SQLite and once on PostgreSQL."""
    from tuneops.store import open_store

    open_store(any_db_url).close()
    return any_db_url
