"""`tuneops history`, `tuneops audit log` and `tuneops audit export`: filters a reviewer would use,
on SQLite and PostgreSQL, and exports a reviewer can check without the ledger."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from tuneops import audit
from tuneops.audit.query import AuditFilter, parse_when
from tuneops.cli import main
from tuneops.clock import utcnow
from tuneops.errors import TuneopsError
from tuneops.store import open_store
from tuneops.store.migrate import SCHEMA_HEADS, current_heads

NOW = utcnow()


def _ledger(url: str) -> None:
    store = open_store(url)
    events = [  # (days ago, actor, action, job, provider, to_state)
        (40, "ana@ci", "run.admitted", "triage", "openai", None),
        (20, "ana@ci", "run.status", "triage", "openai", "running"),
        (10, "bo@laptop", "run.succeeded", "triage", "openai", "succeeded"),
        (5, "bo@laptop", "run.admitted", "summarize", "together", None),
        (2, "ci-bot", "run.failed", "summarize", "together", "failed"),
        (0.25, "ci-bot", "model.promoted", "triage", "openai", None),
    ]
    for i, (days, actor, action, job, provider, to_state) in enumerate(events, start=1):
        with store.write() as s:
            audit.append(s, action, "run", f"run_{i}", job_name=job, actor=actor,
                         at=NOW - timedelta(days=days),
                         details={"provider": provider, "to_state": to_state, "cost_microusd": 1000 * i})
    store.close()


def _json(url: str, capsys: pytest.CaptureFixture[str], *argv: str) -> list[dict]:
    assert main(["--db", url, *argv, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def _seqs(url: str, capsys: pytest.CaptureFixture[str], *argv: str) -> list[int]:
    return [e["seq"] for e in _json(url, capsys, *argv)]


@pytest.mark.parametrize("command", [["history"], ["audit", "log"]], ids=["history", "audit-log"])
def test_filters_narrow_the_listing(any_db_url: str, command: list[str],
                                    capsys: pytest.CaptureFixture[str]) -> None:
    _ledger(any_db_url)
    assert _seqs(any_db_url, capsys, *command) == [6, 5, 4, 3, 2, 1]  # newest first
    assert _seqs(any_db_url, capsys, *command, "--job", "triage") == [6, 3, 2, 1]
    assert _seqs(any_db_url, capsys, *command, "--provider", "together") == [5, 4]
    assert _seqs(any_db_url, capsys, *command, "--actor", "ci-bot") == [6, 5]
    assert _seqs(any_db_url, capsys, *command, "--action", "run.admitted") == [4, 1]
    assert _seqs(any_db_url, capsys, *command, "--action", "run.*") == [5, 4, 3, 2, 1]
    assert _seqs(any_db_url, capsys, *command, "--status", "failed") == [5]
    assert _seqs(any_db_url, capsys, *command, "--since", "30d") == [6, 5, 4, 3, 2]
    assert _seqs(any_db_url, capsys, *command, "--since", "12h") == [6]
    assert _seqs(any_db_url, capsys, *command, "--job", "triage", "--since", "30d") == [6, 3, 2]
    until = (NOW - timedelta(days=3)).date().isoformat()
    assert _seqs(any_db_url, capsys, *command, "--until", until) == [4, 3, 2, 1]
    since = (NOW - timedelta(days=15)).isoformat() + "Z"
    assert _seqs(any_db_url, capsys, *command, "--since", since, "--until", until) == [4, 3]
    assert _seqs(any_db_url, capsys, *command, "--limit", "2") == [6, 5]


def test_json_events_carry_the_details_and_hashes(any_db_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    _ledger(any_db_url)
    event = _json(any_db_url, capsys, "audit", "log", "--subject", "run_3")[0]
    assert event["actor"] == "bo@laptop" and event["action"] == "run.succeeded"
    assert event["details"] == {"provider": "openai", "to_state": "succeeded", "cost_microusd": 3000}
    assert len(event["hash"]) == len(event["prev_hash"]) == 64


def test_tables_show_who_did_what(any_db_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    _ledger(any_db_url)
    assert main(["--db", any_db_url, "audit", "log", "--job", "summarize"]) == 0
    out = capsys.readouterr().out
    assert "ci-bot" in out and "run.failed" in out and "to_state: failed" in out and "ana@ci" not in out
    assert main(["--db", any_db_url, "history", "--actor", "nobody"]) == 0
    assert "no matching history" in capsys.readouterr().out


def test_history_lists_one_event_per_line_in_aligned_columns(tmp_path: Path,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    # Lines a user can scan and grep: nothing wrapped inside a cell, however narrow the output.
    db = str(tmp_path / "ledger.db")
    _ledger(db)
    assert main(["--db", db, "history", "--job", "summarize"]) == 0
    header, *lines = capsys.readouterr().out.splitlines()
    assert header.split() == ["SEQ", "TIME", "(UTC)", "ACTOR", "ACTION", "SUBJECT", "JOB", "DETAILS"]
    assert len(lines) == 2
    assert lines[0].split("  ")[0] == "5" and "ci-bot" in lines[0] and "run.failed" in lines[0]
    assert lines[0].endswith("to_state=failed, provider=together, cost=$0.0050")
    assert {line.index("run.") for line in lines} == {header.index("ACTION")}


def test_a_bad_time_is_a_one_line_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["history", "--since", "last tuesday"]) == 2
    err = capsys.readouterr().err
    assert "--since 'last tuesday'" in err and "30d" in err and "Traceback" not in err


def test_times_parse_as_ages_dates_and_utc_date_times() -> None:
    now = datetime(2026, 3, 31, 12, 0)
    assert parse_when("30d", now=now) == datetime(2026, 3, 1, 12, 0)
    assert parse_when("12h", now=now) == datetime(2026, 3, 31, 0, 0)
    assert parse_when("90m", now=now) == datetime(2026, 3, 31, 10, 30)
    assert parse_when("2w", now=now) == datetime(2026, 3, 17, 12, 0)
    assert parse_when("2026-01-31") == datetime(2026, 1, 31)
    assert parse_when("2026-01-31T14:00:00Z") == datetime(2026, 1, 31, 14, 0)
    assert parse_when("2026-01-31T16:00:00+02:00") == datetime(2026, 1, 31, 14, 0)
    with pytest.raises(TuneopsError, match="--until"):
        AuditFilter.from_options(until="soon")


def test_jsonl_export_lets_a_reviewer_recompute_the_chain(any_db_url: str, tmp_path: Path,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    _ledger(any_db_url)
    out = tmp_path / "trail.jsonl"
    assert main(["--db", any_db_url, "audit", "export", "--format", "jsonl", "-o", str(out)]) == 0
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert [e["seq"] for e in lines] == [1, 2, 3, 4, 5, 6]
    # Recompute every hash from the export alone, with the encoding documented in tuneops.audit.
    prev = "0" * 64
    for e in lines:
        body = {"seq": e["seq"], "at": e["at"].removesuffix("Z"), "actor": e["actor"], "action": e["action"],
                "subject_type": e["subject_type"], "subject_id": e["subject_id"], "job_name": e["job_name"],
                "details": audit.canonical(e["details"]).decode(), "prev_hash": prev}
        digest = hashlib.sha256(prev.encode() + audit.canonical(body)).hexdigest()
        assert e["prev_hash"] == prev and e["hash"] == digest
        prev = digest


def test_csv_export_to_stdout_with_filters(any_db_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    _ledger(any_db_url)
    assert main(["--db", any_db_url, "audit", "export", "--format", "csv", "--job", "summarize"]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert [r["seq"] for r in rows] == ["4", "5"]
    assert json.loads(rows[1]["details"])["to_state"] == "failed" and rows[1]["actor"] == "ci-bot"
    assert main(["--db", any_db_url, "audit", "export", "--format", "xml"]) == 2
    assert "jsonl, csv" in capsys.readouterr().err


def _history_modules(url: str, cwd: Path) -> tuple[list[dict], list[str]]:
    """`tuneops history --json` in a fresh interpreter: its events, and which database libraries it loaded."""
    code = ("import sys, json; from tuneops.cli import main; rc = main(['--db', sys.argv[1], 'history', '--job', "
            "'triage', '--since', '30d', '--json']); "
            "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in ('sqlalchemy', 'sqlmodel', "
            "'alembic')))); sys.exit(rc)")
    done = subprocess.run([sys.executable, "-c", code, url], capture_output=True, text=True, cwd=cwd)
    assert done.returncode == 0, done.stderr
    *body, modules = done.stdout.strip().splitlines()
    return json.loads("\n".join(body)), json.loads(modules)


def test_history_on_an_up_to_date_ledger_answers_without_loading_the_orm(any_db_url: str, tmp_path: Path) -> None:
    # Start-up is most of what `tuneops history` costs; the query itself takes milliseconds.
    _ledger(any_db_url)
    events, modules = _history_modules(any_db_url, tmp_path)
    assert modules == []
    assert [e["seq"] for e in events] == [6, 3, 2]
    assert events[0]["details"]["provider"] == "openai" and events[0]["at"].endswith("Z")


def test_history_without_a_ledger_says_so_and_creates_none(tmp_path: Path,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    db = tmp_path / "fresh" / "ledger.db"
    assert main(["--db", str(db), "history"]) == 2
    assert "no ledger at" in capsys.readouterr().err
    assert not db.parent.exists()
    assert current_heads(open_store(str(db))) == SCHEMA_HEADS  # a new ledger, as `submit` makes one
    assert main(["--db", str(db), "history"]) == 0
    assert "no history yet" in capsys.readouterr().out
    events, _ = _history_modules(str(db), tmp_path)  # now current: the light path reads it
    assert events == []
