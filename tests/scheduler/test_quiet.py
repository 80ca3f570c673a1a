"""Quiet jobs: a tick does not work out again a decision nothing has changed, and anything that could
change it (the spec, the training data, the ledger, the time, another ledger) wakes the job up."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select, text

from tuneops import audit
from tuneops.cli import main
from tuneops.clock import utcnow
from tuneops.scheduler.context import SchedulerContext
from tuneops.scheduler.tick import TickReport, tick
from tuneops.store import open_store
from tuneops.store.tables import AuditEventRow


def _rows(n: int, start: int = 0) -> list[dict]:
    return [{"messages": [{"role": "user", "content": f"ticket {k}: where is my invoice?"},
                          {"role": "assistant", "content": "billing"}]} for k in range(start, start + n)]


def _append(path: Path, rows: list[dict]) -> None:
    with path.open("a") as f:
        f.writelines(json.dumps(r) + "\n" for r in rows)


class Ticker:
    """Ticks in this process at chosen times, over one jobs directory, ledger and cache."""

    def __init__(self, url: str, jobs: Path, cache: Path, sched):  # type: ignore[no-untyped-def]
        self.url, self.jobs, self.cache, self.sched = url, jobs, cache, sched

    def job(self, name: str, rules: str, examples: int = 2) -> Path:
        """A job spec in this ticker's jobs directory, with ``examples`` training examples."""
        return self.sched.write_job(self.jobs, name, rules, _rows(examples))

    def __call__(self, at: datetime, *, full: bool = False) -> TickReport:
        ctx = SchedulerContext(store=open_store(self.url), jobs_dir=self.jobs, cache_dir=self.cache,
                               clock=lambda: at, skip_quiet=not full)
        try:
            report = tick(ctx, advance=False)
        finally:
            ctx.close()
            ctx.store.close()
        assert report.errors == []
        return report

    def settle(self, at: datetime) -> TickReport:
        """Tick until a tick works out nothing again (the one after a recorded decision still does)."""
        for i in range(4):
            report = self(at + timedelta(seconds=i))
            if report.quiet == report.scheduled:
                return report
        raise AssertionError(f"jobs never went quiet: {report.as_dict()}")


@pytest.fixture
def ticker(any_db_url: str, tmp_path: Path, sandbox_env: object, sched) -> Iterator[Ticker]:  # type: ignore[no-untyped-def]
    jobs = tmp_path / "jobs"
    jobs.mkdir()
    yield Ticker(any_db_url, jobs, tmp_path / "cache", sched)


T0 = datetime(2026, 11, 23, 10, 0)


def _fired(report: TickReport) -> list[str]:
    return sorted(f["job"] for f in report.fired)


def test_an_unchanged_job_is_not_worked_out_again_until_its_time_comes(ticker: Ticker) -> None:
    for i in range(5):
        ticker.job(f"daily-{i}", 'cron = "15 10 * * *"')
    first = ticker(T0)
    assert (first.quiet, first.recorded, first.skipped) == (0, 5, 5)
    quiet = ticker.settle(T0 + timedelta(minutes=1))
    assert (quiet.quiet, quiet.skipped, quiet.recorded, quiet.fired) == (5, 5, 0, [])
    full = ticker(T0 + timedelta(minutes=2), full=True)
    assert (full.quiet, full.skipped, full.fired) == (0, 5, [])
    # 10:15: the cron slot comes, and with it every job's turn, though nothing else changed.
    assert ticker(T0 + timedelta(minutes=14, seconds=59)).quiet == 5
    due = ticker(T0 + timedelta(minutes=15, seconds=30))
    assert _fired(due) == [f"daily-{i}" for i in range(5)] and due.quiet == 0


@pytest.mark.parametrize("change", ["data", "spec"])
def test_a_changed_training_file_or_spec_wakes_its_job(ticker: Ticker, change: str) -> None:
    spec = ticker.job("grows", "new_examples = 3")
    ticker.job("stays", "new_examples = 3")
    ticker.settle(T0)
    if change == "data":
        _append(ticker.jobs / "data" / "grows.jsonl", _rows(1, start=100))
    else:
        spec.write_text(spec.read_text().replace("new_examples = 3", "new_examples = 2"))
    report = ticker(T0 + timedelta(minutes=5))
    assert _fired(report) == ["grows"] and report.quiet == 1  # "stays" was not worked out again


def test_a_new_model_in_the_ledger_wakes_its_job_and_its_age_limit_fires_on_time(
        ticker: Ticker, capsys: pytest.CaptureFixture[str]) -> None:
    spec = ticker.job("aging", "max_age_days = 10", examples=12)
    now = utcnow()
    quiet = ticker.settle(now + timedelta(days=5))
    assert quiet.quiet == 1  # "age: no model yet"
    assert main(["--db", ticker.url, "submit", str(spec), "--watch", "--json"]) == 0  # writes run and model events
    capsys.readouterr()
    woken = ticker(now + timedelta(days=5, minutes=10))
    assert woken.quiet == 0 and woken.recorded == 1  # now "age: ... old (limit 10 days)"
    assert ticker(now + timedelta(days=5, minutes=11)).quiet == 1  # its own record does not wake it
    assert _fired(ticker(now + timedelta(days=10, minutes=30))) == ["aging"]


@pytest.mark.parametrize("how", ["event-naming-no-job", "trail-started-over"])
def test_events_naming_no_job_or_a_trail_started_over_wake_every_job(ticker: Ticker, how: str) -> None:
    for i in range(3):
        ticker.job(f"nightly-{i}", 'cron = "0 3 * * *"')
    ticker.settle(T0)
    store = open_store(ticker.url)
    with store.write() as s:
        if how == "trail-started-over":
            # A restored or re-created ledger at the same URL: more events than before, other hashes.
            s.execute(text("DELETE FROM audit_event"))
            s.execute(text("DELETE FROM audit_head"))
            for _ in range(8):
                audit.append(s, "run.admitted", "run", "run_x", job_name="elsewhere")
        else:
            audit.append(s, "eval.completed", "eval", "eval_base", details={"model": "sandbox-mini"})
    store.close()
    assert ticker(T0 + timedelta(minutes=5)).quiet == 0


def test_tick_json_and_health_line_say_how_many_jobs_were_quiet(tmp_path: Path, sandbox_env: object, sched,  # type: ignore[no-untyped-def]
                                                                capsys: pytest.CaptureFixture[str],
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    jobs = tmp_path / "jobs"
    sched.write_job(jobs, "nightly", 'cron = "0 3 * * *"', _rows(2))
    monkeypatch.chdir(tmp_path)
    run: Callable[..., dict] = lambda *extra: (main(["schedule", "tick", "--json", *extra]), # noqa: E731
                                               json.loads(capsys.readouterr().out))[1]
    reports = [run() for _ in range(3)]
    assert [r["quiet"] for r in reports] == [0, 0, 1]
    assert run("--full")["quiet"] == 0
    assert main(["schedule", "tick"]) == 0
    assert "skipped 1 (1 quiet)" in capsys.readouterr().out


def _tick_process(url: str, cwd: Path, **env: str) -> tuple[dict, bool]:
    """`tuneops schedule tick --json` in a fresh interpreter: its report, and whether it loaded the ORM."""
    code = ("import sys, json; from tuneops.cli import main; rc = main(['--db', sys.argv[1], 'schedule', 'tick', "
            "'--json']); print(json.dumps(any(m.split('.')[0] in ('sqlalchemy', 'sqlmodel') for m in sys.modules)));"
            " sys.exit(rc)")
    done = subprocess.run([sys.executable, "-c", code, url], capture_output=True, text=True, cwd=cwd,
                          env={**os.environ, "TUNEOPS_HOME": str(cwd / ".tuneops"), **env})
    assert done.returncode == 0, done.stderr[-3000:]
    report, _, orm = done.stdout.rstrip().rpartition("\n")
    return json.loads(report), json.loads(orm)


def test_a_tick_that_fires_nothing_runs_without_loading_the_orm(any_db_url: str, tmp_path: Path,
                                                                sandbox_env: object, sched) -> None:  # type: ignore[no-untyped-def]
    # A tick that fires nothing and finds nothing in flight costs little more than start-up, also when it
    # works jobs out again and records their skips.
    jobs = tmp_path / "jobs"
    for i in range(3):  # real time here: a slot this test will not live to see
        sched.write_job(jobs, f"yearly-{i}", 'cron = "0 0 1 1 *"', _rows(2))
    sched.write_job(jobs, "grows", "new_examples = 13", _rows(12))  # a provider trains on 10 examples or more
    first, _ = _tick_process(any_db_url, tmp_path)  # may create the ledger, which takes the ORM
    assert first["recorded"] == 4 and first["fired"] == [] and first["errors"] == []
    # Skips recorded again on every tick: each is worked out, recorded and chained, without the ORM.
    for _ in range(2):
        report, orm = _tick_process(any_db_url, tmp_path, TUNEOPS_SCHEDULE_SKIP_AUDIT_S="0.000001")
        assert (report["recorded"], report["quiet"], report["light"], orm) == (4, 0, True, False)
    store = open_store(any_db_url)
    assert audit.verify(store).ok
    with store.read() as s:
        skips = s.execute(select(func.count()).select_from(AuditEventRow)
                          .where(AuditEventRow.action == "schedule.skip")).scalar_one()
    store.close()
    assert skips == 4 * 3
    # With the hourly record: worked out once more, then quiet.
    reports = [_tick_process(any_db_url, tmp_path) for _ in range(2)]
    assert [(r["quiet"], r["recorded"], r["light"], orm) for r, orm in reports] == [(0, 0, True, False),
                                                                                   (4, 0, True, False)]
    idle = reports[1][0]
    assert idle["skipped"] == 4 and idle["fired"] == [] and idle["errors"] == [] and idle["jobs"] == 4
    # Something to do (new data for one job): the full tick runs, and fires it.
    _append(jobs / "data" / "grows.jsonl", _rows(1, start=100))
    report, orm = _tick_process(any_db_url, tmp_path)
    assert orm and not report["light"] and [f["job"] for f in report["fired"]] == ["grows"]
    assert report["quiet"] == 3
    assert report["refused"] == [] and report["in_flight"] == 1
    # Its fire is in flight: even once every job is quiet again, ticks take the full path (to poll the
    # run and settle the fire when it finishes).
    for _ in range(4):
        report, orm = _tick_process(any_db_url, tmp_path)
        assert orm and report["errors"] == [] and report["in_flight"] == 1
        if report["quiet"] == 4:
            break
    assert report["quiet"] == 4
