"""`tuneops audit verify` looks past the chain itself: runs written behind its back, runs deleted, a dropped
audit table, and anchors that match no event are findings (exit 1) or clear errors (exit 2), never OK."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from tuneops.cli import main


@pytest.fixture
def ledger(project: Path, sandbox_env: object, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    """A ledger with one submitted run and its audit events."""
    assert main(["submit", str(project), "--json"]) == 0
    capsys.readouterr()
    return tmp_path / ".tuneops" / "tuneops.db"


def _verify(capsys: pytest.CaptureFixture[str], *extra: str) -> tuple[int, dict]:
    code = main(["audit", "verify", "--json", *extra])
    return code, json.loads(capsys.readouterr().out)


def test_a_run_without_an_audit_event_is_a_finding(ledger: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert _verify(capsys)[0] == 0
    db = sqlite3.connect(ledger)
    cols = [r[1] for r in db.execute("PRAGMA table_info(run)")]
    fresh = {"idempotency_key": "'other-key'", "intent_key": "'other-intent'"}  # both unique
    copy = ",".join(fresh.get(c, c) for c in cols[1:])
    db.execute(f"INSERT INTO run ({','.join(cols)}) SELECT 'run_sneaky', {copy} FROM run LIMIT 1")
    db.commit()
    code, report = _verify(capsys)
    assert code == 1 and not report["ok"] and "run_sneaky" in report["problem"]
    assert "no audit event" in report["problem"]
    assert main(["audit", "verify"]) == 1
    assert "not ok: 1 run(s) have no audit event (first: run_sneaky)" in " ".join(capsys.readouterr().err.split())


def test_a_deleted_run_is_a_finding(ledger: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = sqlite3.connect(ledger)
    db.execute("PRAGMA foreign_keys = OFF")
    [(run_id,)] = db.execute("SELECT id FROM run").fetchall()
    for table in [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]:
        if "run_id" in [c[1] for c in db.execute(f"PRAGMA table_info({table})")]:
            db.execute(f"DELETE FROM {table} WHERE run_id = ?", (run_id,))
    db.execute("DELETE FROM run")
    db.commit()
    code, report = _verify(capsys)
    assert code == 1 and f"missing from the ledger (first: {run_id})" in report["problem"]


def test_a_dropped_audit_table_is_named_not_a_traceback(ledger: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = sqlite3.connect(ledger)
    db.execute("DROP TABLE audit_event")
    db.commit()
    assert main(["audit", "verify"]) == 1
    err = " ".join(capsys.readouterr().err.split())
    assert "no audit_event table while the ledger holds runs" in err and "Traceback" not in err
    for argv in (["history"], ["audit", "log"], ["audit", "export"]):  # the other readers of the trail
        assert main(argv) == 1, argv
        err = " ".join(capsys.readouterr().err.split())
        assert err.startswith("error: the ledger's database said: no such table: audit_event;"), (argv, err)
        assert "`tuneops db status` checks its schema" in err


def test_an_anchor_must_name_a_real_event(ledger: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["audit", "anchor", "--json"]) == 0
    real = json.loads(capsys.readouterr().out)["anchor"]
    assert _verify(capsys, "--anchor", real)[0] == 0
    code, report = _verify(capsys, "--anchor", "0:" + "a" * 64)  # was accepted as "the start of the chain"
    assert code == 1 and "matches no event" in report["problem"]
    seq = int(real.split(":")[0])
    code, report = _verify(capsys, "--anchor", f"{seq}:{'b' * 64}")
    assert code == 1 and f"event {seq} differs from the anchor" in report["problem"]
    binary = tmp_path / "anchor.bin"
    binary.write_bytes(b"\xd0\xff\x00garbage")
    for bad in ("-3:" + "a" * 64, str(binary), "/bin/ls"):
        assert main(["audit", "verify", "--anchor", bad]) == 2
        assert "is not an anchor" in capsys.readouterr().err
