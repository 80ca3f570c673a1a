"""The hash chain: an untouched trail verifies; any row changed, deleted or reordered behind
tuneops's back makes `tuneops audit verify` fail and name the first bad event; an anchor kept
elsewhere catches events cut from the end even when the head was rewritten to match."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import text

from tuneops import audit
from tuneops.cli import main
from tuneops.store import open_store

EVENTS = 10


def _ledger(url: str, n: int = EVENTS) -> None:
    store = open_store(url)
    for i in range(1, n + 1):
        with store.write() as s:
            audit.append(s, "run.status", "run", f"run_{i}", job_name="triage" if i % 2 else "other",
                         details={"from_state": "queued", "to_state": "running", "provider": "sandbox",
                                  "cost_microusd": i * 1000})
    store.close()


def _sql(url: str, *statements: str) -> None:
    store = open_store(url)
    with store.engine.begin() as conn:
        for statement in statements:
            conn.execute(text(statement))
    store.close()


def _verify(url: str, capsys: pytest.CaptureFixture[str], *extra: str) -> tuple[int, str]:
    rc = main(["--db", url, "audit", "verify", *extra])
    out = capsys.readouterr()
    return rc, out.out + out.err


def test_an_untouched_chain_verifies(any_db_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    _ledger(any_db_url)
    rc, out = _verify(any_db_url, capsys)
    assert rc == 0, out
    assert f"{EVENTS} audit events form one unbroken chain" in out


def test_an_empty_ledger_verifies(any_db_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    open_store(any_db_url).close()
    rc, out = _verify(any_db_url, capsys)
    assert rc == 0 and "0 audit events" in out


def test_no_ledger_is_said_and_none_is_created(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    missing = tmp_path / "nowhere" / "ledger.db"
    rc, out = _verify(str(missing), capsys)
    assert rc == 2 and "no ledger at" in out and "Traceback" not in out
    assert not missing.parent.exists()


@pytest.mark.parametrize("change", [
    "UPDATE audit_event SET details = replace(details, '4000', '1') WHERE seq = 4",
    "UPDATE audit_event SET actor = 'someone-else' WHERE seq = 4",
    "UPDATE audit_event SET action = 'run.cancelled' WHERE seq = 4",
    "UPDATE audit_event SET job_name = NULL WHERE seq = 4",
    "UPDATE audit_event SET at = at + INTERVAL '1 second' WHERE seq = 4",
    # Flip the first hex digit to one it is not: a fixed 'f' would be no change when the hash starts with 'f'.
    "UPDATE audit_event SET hash = (CASE WHEN substr(hash, 1, 1) = 'f' THEN '0' ELSE 'f' END)"
    " || substr(hash, 2) WHERE seq = 4",
], ids=["details", "actor", "action", "job", "time", "hash"])
def test_changing_any_field_of_a_row_names_that_row(any_db_url: str, change: str,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    _ledger(any_db_url)
    if any_db_url.startswith("sqlite") and "INTERVAL" in change:
        change = "UPDATE audit_event SET at = datetime(at, '+1 second') || '.000000' WHERE seq = 4"
    _sql(any_db_url, change)
    rc, out = _verify(any_db_url, capsys)
    assert rc == 1
    assert "broken at event 4" in out, out


@pytest.mark.parametrize(("seq", "bad"), [(1, 1), (4, 4), (EVENTS, EVENTS)], ids=["first", "middle", "last"])
def test_deleting_a_row_names_the_missing_event(any_db_url: str, seq: int, bad: int,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    _ledger(any_db_url)
    _sql(any_db_url, f"DELETE FROM audit_event WHERE seq = {seq}")
    rc, out = _verify(any_db_url, capsys)
    assert rc == 1
    assert f"broken at event {bad}" in out, out
    assert "missing" in out or "removed" in out


def test_reordering_rows_names_the_first_moved_event(any_db_url: str,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    _ledger(any_db_url)
    _sql(any_db_url, "UPDATE audit_event SET seq = -7 WHERE seq = 7",
         "UPDATE audit_event SET seq = 7 WHERE seq = 3", "UPDATE audit_event SET seq = 3 WHERE seq = -7")
    rc, out = _verify(any_db_url, capsys)
    assert rc == 1
    assert "broken at event 3" in out, out


def test_swapping_the_contents_of_two_rows_is_caught(any_db_url: str,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    _ledger(any_db_url)
    # Same sequence numbers, same hashes, but the events' contents trade places.
    _sql(any_db_url,
         "UPDATE audit_event SET subject_id = 'tmp' WHERE seq = 5",
         "UPDATE audit_event SET subject_id = 'run_5' WHERE seq = 6",
         "UPDATE audit_event SET subject_id = 'run_6' WHERE subject_id = 'tmp'")
    rc, out = _verify(any_db_url, capsys)
    assert rc == 1 and "broken at event 5" in out, out


def test_an_event_inserted_behind_tuneops_back_is_caught(any_db_url: str,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    _ledger(any_db_url)
    _sql(any_db_url, "INSERT INTO audit_event (seq, at, actor, action, subject_type, subject_id, job_name, "
                     "details, prev_hash, hash) SELECT 11, at, actor, action, subject_type, 'forged', job_name, "
                     f"details, hash, '{'a' * 64}' FROM audit_event WHERE seq = 10")
    rc, out = _verify(any_db_url, capsys)
    assert rc == 1 and "broken at event 11" in out, out


def test_an_anchor_catches_truncation_that_the_head_no_longer_shows(any_db_url: str,
                                                                   capsys: pytest.CaptureFixture[str]) -> None:
    _ledger(any_db_url)
    assert main(["--db", any_db_url, "audit", "anchor"]) == 0
    printed = capsys.readouterr().out
    mark = printed.split("anchor ", 1)[1].split()[0]
    assert mark.startswith(f"{EVENTS}:")
    # A careful intruder cuts the last three events and moves the head back to match.
    _sql(any_db_url, "DELETE FROM audit_event WHERE seq > 7",
         "UPDATE audit_event SET seq = seq WHERE seq = 7",
         "UPDATE audit_head SET seq = 7, hash = (SELECT hash FROM audit_event WHERE seq = 7)")
    rc, out = _verify(any_db_url, capsys)
    assert rc == 0, "without the anchor the shortened chain is self-consistent"
    rc, out = _verify(any_db_url, capsys, "--anchor", mark)
    assert rc == 1
    assert "broken at event 8" in out and "removed from the end" in out, out


def test_an_anchor_catches_a_chain_rewritten_with_fresh_hashes(any_db_url: str,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    _ledger(any_db_url, 5)
    store = open_store(any_db_url)
    mark = audit.anchor(store)
    # Rebuild the whole chain with one event changed and every hash recomputed.
    with store.engine.begin() as conn:
        rows = conn.execute(text("SELECT seq, at, actor, action, subject_type, subject_id, job_name, details "
                                 "FROM audit_event ORDER BY seq")).all()
        prev = audit.GENESIS
        for seq, at, actor, action, stype, sid, job, details in rows:
            if seq == 2:
                actor = "nobody"
            at = datetime.fromisoformat(at) if isinstance(at, str) else at  # SQLite: text
            digest = audit.event_hash(prev, seq, at, actor, action, stype, sid, job, details)
            conn.execute(text("UPDATE audit_event SET actor = :a, prev_hash = :p, hash = :h WHERE seq = :s"),
                         {"a": actor, "p": prev, "h": digest, "s": seq})
            prev = digest
        conn.execute(text("UPDATE audit_head SET hash = :h"), {"h": prev})
    assert audit.verify(store).ok
    report = audit.verify(store, anchor=mark)
    assert not report.ok and report.first_bad_seq == 5 and "rewritten" in (report.problem or "")


def test_anchor_json_and_files_are_accepted(any_db_url: str, tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    _ledger(any_db_url, 3)
    assert main(["--db", any_db_url, "audit", "anchor", "--json"]) == 0
    saved = tmp_path / "anchor.json"
    saved.write_text(capsys.readouterr().out)
    rc, out = _verify(any_db_url, capsys, "--anchor", str(saved))
    assert rc == 0 and "anchor 3 matches" in out
    rc, out = _verify(any_db_url, capsys, "--anchor", "3:nothex")
    assert rc == 2 and "is not an anchor" in out


def test_appends_continue_the_chain_after_the_head_row_is_lost(any_db_url: str) -> None:
    _ledger(any_db_url, 3)
    _sql(any_db_url, "DELETE FROM audit_head")
    store = open_store(any_db_url)
    with store.write() as s:
        row = audit.append(s, "run.status", "run", "run_4")
    assert row.seq == 4
    assert audit.verify(store).ok


@pytest.mark.parametrize(("tamper", "bad"), [
    (None, None),
    ("DELETE FROM audit_event WHERE seq = 4", 4),  # the first event of the second worker's range
    ("DELETE FROM audit_event WHERE seq = 3", 3),  # the last event of the first worker's range
    ("UPDATE audit_event SET actor = 'x' WHERE seq = 7", 7),
    ("UPDATE audit_event SET seq = -4 WHERE seq = 4", 4),
    ("DELETE FROM audit_event WHERE seq IN (4, 5, 6)", 4),  # a whole range gone
], ids=["intact", "seam-start", "seam-end", "changed", "moved", "range-gone"])
def test_workers_in_parallel_find_the_same_first_bad_event(any_db_url: str, tamper: str | None,
                                                          bad: int | None) -> None:
    _ledger(any_db_url)
    if tamper:
        _sql(any_db_url, tamper)
    store = open_store(any_db_url)
    serial, parallel = audit.verify(store, workers=1), audit.verify(store, workers=3)
    assert parallel.workers == 3
    assert (parallel.ok, parallel.first_bad_seq, parallel.events) == (serial.ok, serial.first_bad_seq,
                                                                      serial.events)
    assert parallel.first_bad_seq == bad and parallel.head_hash == serial.head_hash
