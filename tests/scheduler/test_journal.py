"""Decisions in the audit trail: a skip is recorded when its reason changes or once an hour, never
twice by two processes, and a first tick over many jobs appends one unbroken chain in one batch."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import func, select

from tuneops import audit
from tuneops.scheduler import journal
from tuneops.scheduler.facts import memories
from tuneops.scheduler.triggers import Decision
from tuneops.store import open_store
from tuneops.store.reader import of_store
from tuneops.store.tables import AuditEventRow

T0 = datetime(2026, 3, 10, 12, 0)


def skip(job: str, code: str = "age:young", reason: str = "age: 2.0 days old") -> Decision:
    return Decision(job, False, reason, code, rule=None)


def _events(store, action: str = "schedule.skip") -> int:  # type: ignore[no-untyped-def]
    with store.read() as s:
        return s.execute(select(func.count()).select_from(AuditEventRow)
                         .where(AuditEventRow.action == action)).scalar_one()


def test_a_skip_is_recorded_on_a_new_reason_or_once_an_hour(any_db_url: str) -> None:
    store = open_store(any_db_url)
    db = of_store(store)
    journal.ensure_seen(db, ["triage"], T0)
    every = timedelta(hours=1)

    def tick(at: datetime, d: Decision) -> int:
        return len(journal.record_skips(db, [d], memories(db), at, actor="scheduler@test", every=every))

    assert tick(T0, skip("triage")) == 1
    assert tick(T0 + timedelta(minutes=1), skip("triage", reason="age: 2.1 days old")) == 0  # same code
    assert tick(T0 + timedelta(minutes=2), skip("triage", code="cooldown:age")) == 1  # the reason changed
    assert tick(T0 + timedelta(minutes=59), skip("triage", code="cooldown:age")) == 0
    # Once an hour (plus a fixed per-job spread of up to 15 minutes, so many jobs do not record together).
    assert tick(T0 + timedelta(hours=1, minutes=20), skip("triage", code="cooldown:age")) == 1
    assert _events(store) == 3
    assert audit.verify(store).ok


def test_two_processes_recording_the_same_skip_record_it_once(any_db_url: str) -> None:
    store = open_store(any_db_url)
    one, two = of_store(store), of_store(store)
    journal.ensure_seen(one, ["a", "b"], T0)
    stale = memories(one)  # both processes read the memory before either recorded
    first = journal.record_skips(one, [skip("a"), skip("b")], stale, T0, actor="p1")
    second = journal.record_skips(two, [skip("a"), skip("b")], stale, T0, actor="p2")
    assert (first, second) == (["a", "b"], [])


def test_a_first_tick_over_many_jobs_appends_one_verified_chain(any_db_url: str) -> None:
    store = open_store(any_db_url)
    db = of_store(store)
    jobs = [f"job-{i:04d}" for i in range(1500)]
    journal.ensure_seen(db, jobs, T0)
    journal.ensure_seen(db, jobs, T0 + timedelta(minutes=1))  # seeing them again changes nothing
    mem = memories(db)
    assert {m.first_seen_at for m in mem.values()} == {T0}
    n = len(journal.record_skips(db, [skip(j) for j in jobs], mem, T0, actor="scheduler@test"))
    assert n == 1500 == _events(store)
    report = audit.verify(store)
    assert report.ok and report.events == 1500


def test_skips_quoting_a_spec_are_scrubbed_of_secrets(any_db_url: str, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("OPENAI_API_KEY", "sk-live-abcdefghijklmnop1234")
    store = open_store(any_db_url)
    db = of_store(store)
    journal.ensure_seen(db, ["x"], T0)
    bad = skip("x", code="spec:invalid", reason="jobs/x.toml: options: got 'sk-live-abcdefghijklmnop1234'")
    assert journal.record_skips(db, [bad], {}, T0, actor="t") == [bad.job]
    with store.read() as s:
        details = s.execute(select(AuditEventRow.details)).scalar_one()
    assert "sk-live" not in details and "[redacted]" in details
