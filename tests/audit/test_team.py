"""Team mode: `tuneops db status|upgrade`, and every command against PostgreSQL through
TUNEOPS_DATABASE_URL with nothing written to a local SQLite file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from tuneops.cli import main
from tuneops.store.migrate import SCHEMA_HEADS


def _run(capsys: pytest.CaptureFixture[str], *argv: str, rc: int = 0) -> str:
    got = main(list(argv))
    out = capsys.readouterr()
    assert got == rc, out.out + out.err
    return out.out + out.err


def test_db_upgrade_creates_the_schema_once_and_status_reports_it(
        any_db_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    status = json.loads(_run(capsys, "--db", any_db_url, "db", "status", "--json", rc=1))
    assert status["schema"] == "empty" and status["revisions"] == []
    assert "empty: `tuneops db upgrade` creates the tables" in _run(capsys, "--db", any_db_url, "db", "status",
                                                                   rc=1)
    upgraded = json.loads(_run(capsys, "--db", any_db_url, "db", "upgrade", "--json"))
    assert upgraded["migrated"] is True and upgraded["to"] == sorted(SCHEMA_HEADS)
    assert "already current" in _run(capsys, "--db", any_db_url, "db", "upgrade")
    status = json.loads(_run(capsys, "--db", any_db_url, "db", "status", "--json"))
    assert status["schema"] == "current" and status["audit_events"] == 0 and status["runs"] == 0


def test_a_ledger_from_a_newer_tuneops_is_refused(any_db_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    from sqlalchemy import text

    from tuneops.store import open_store

    store = open_store(any_db_url)
    with store.engine.begin() as conn:
        conn.execute(text("INSERT INTO alembic_version (version_num) VALUES ('9999')"))
    store.close()
    assert "newer than this tuneops" in _run(capsys, "--db", any_db_url, "db", "status", rc=1)
    out = _run(capsys, "--db", any_db_url, "db", "upgrade", rc=1)
    assert "9999" in out and "upgrade tuneops" in out


@pytest.mark.postgres
def test_status_never_prints_the_database_password(pg_db_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    # The throwaway cluster trusts loopback logins, so any password is accepted and must stay hidden.
    url = make_url(pg_db_url).set(password="pw-planted-7c1f9e").render_as_string(hide_password=False)
    _run(capsys, "--db", url, "db", "upgrade")
    out = _run(capsys, "--db", url, "db", "status")
    assert "current" in out and "postgresql+psycopg://postgres:***@127.0.0.1" in out
    assert "pw-planted" not in out


@pytest.mark.postgres
def test_every_command_works_on_postgresql_through_the_environment(
        pg_db_url: str, project: Path, sandbox_env: object, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("TUNEOPS_DATABASE_URL", pg_db_url)
    monkeypatch.setenv("COLUMNS", "200")
    assert "migrated" in _run(capsys, "db", "upgrade")
    out = _run(capsys, "submit", str(project), "--watch", "--json")
    run = json.loads(out[out.index("{"):])
    assert run["state"] == "succeeded"
    assert run["id"] in _run(capsys, "runs", "list")
    assert run["model_id"] in _run(capsys, "runs", "show", run["id"])
    assert "run.succeeded" in _run(capsys, "history", "--job", "support-triage", "--since", "1d")
    assert "model.promoted" in _run(capsys, "audit", "log", "--action", "model.*")
    assert "unbroken chain" in _run(capsys, "audit", "verify")
    mark = _run(capsys, "audit", "anchor").split("anchor ", 1)[1].split()[0]
    assert "anchor" in _run(capsys, "audit", "verify", "--anchor", mark)
    assert '"action":"run.admitted"' in _run(capsys, "audit", "export")
    assert "<- actor tester@tuneops" in _run(capsys, "lineage", "support-triage@production")
    assert run["model_id"] in _run(capsys, "models", "list", "--json")
    assert "current" in _run(capsys, "db", "status")
    assert not (tmp_path / ".tuneops" / "tuneops.db").exists(), "a command fell back to SQLite"


@pytest.mark.postgres
def test_the_documented_app_role_runs_tuneops_but_cannot_rewrite_the_trail(
        pg_db_url: str, project: Path, sandbox_env: object, capsys: pytest.CaptureFixture[str]) -> None:
    """docs/team.md: the owner upgrades; an everyday role without UPDATE/DELETE on audit_event works."""
    import uuid

    import psycopg

    _run(capsys, "--db", pg_db_url, "db", "upgrade")
    role = f"app_{uuid.uuid4().hex[:10]}"
    owner = psycopg.connect(pg_db_url, autocommit=True)
    try:
        for statement in (f"CREATE ROLE {role} LOGIN",
                          f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {role}",
                          f"GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO {role}",
                          f"REVOKE UPDATE, DELETE, TRUNCATE ON audit_event FROM {role}"):
            owner.execute(statement)
        app_url = make_url(pg_db_url).set(username=role).render_as_string(hide_password=False)
        out = _run(capsys, "--db", app_url, "submit", str(project), "--watch", "--json")
        assert json.loads(out[out.index("{"):])["state"] == "succeeded"
        assert "unbroken chain" in _run(capsys, "--db", app_url, "audit", "verify")
        with psycopg.connect(app_url, autocommit=True) as app:
            for tamper in ("UPDATE audit_event SET actor = 'x'", "DELETE FROM audit_event"):
                with pytest.raises(psycopg.errors.InsufficientPrivilege):
                    app.execute(tamper)
    finally:
        owner.execute(f"DROP OWNED BY {role}")
        owner.close()
        with psycopg.connect(make_url(pg_db_url).set(database="postgres").render_as_string(
                hide_password=False), autocommit=True) as admin:
            admin.execute(f"DROP ROLE IF EXISTS {role}")
