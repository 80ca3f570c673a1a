"""The read commands (`runs list`, `runs show`, `models list`, `eval list`, `providers list`, `audit verify`,
`history`) answer through a bare database connection: no SQLAlchemy, provider SDK or tokenizer is
imported, their --json is what the ORM would have printed, they find the project's ledger from any
folder inside it the way git does, and they never create a ledger: with none they say so and exit 2."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from tuneops.cli import main

HEAVY = ("sqlalchemy", "sqlmodel", "alembic", "openai", "tiktoken", "boto3", "botocore", "google", "together",
         "fireworks", "mistralai", "httpx", "torch", "transformers")


def _ledger(db: Path | str) -> str:
    """A ledger with two runs (one succeeded, with a model, a checkpoint, an eval, an alias) and audit events."""
    from tuneops import audit, models
    from tuneops.clock import utcnow
    from tuneops.store import open_store
    from tuneops.store.eval_tables import EvalRunRow
    from tuneops.store.lifecycle_tables import CheckpointRow
    from tuneops.store.tables import ModelRow, RunEventRow, RunRow

    store = open_store(str(db))
    now = utcnow()
    with store.write() as s:
        for n, state in ((1, "succeeded"), (2, "running")):
            s.add(RunRow(id=f"run_{n}abcdef", idempotency_key=f"k{n}", job_name="triage", spec_sha256="0" * 64,
                         spec_json='{"name": "triage"}', provider="sandbox", base_model="sandbox-mini", method="sft",
                         state=state, train_sha256="1" * 64, created_at=now, updated_at=now,
                         model_id="ft:m1" if n == 1 else None, cost_microusd=1234 if n == 1 else None))
            s.flush()
            s.add(RunEventRow(run_id=f"run_{n}abcdef", at=now, kind="state", message="admitted"))
            audit.append(s, "run.admitted", "run", f"run_{n}abcdef", job_name="triage",
                         details={"provider": "sandbox"})
        model = ModelRow(provider="sandbox", provider_model_id="ft:m1", run_id="run_1abcdef", job_name="triage",
                         base_model="sandbox-mini", train_sha256="1" * 64, created_at=now, shutdown_at=now)
        s.add(model)
        s.add(CheckpointRow(run_id="run_1abcdef", provider_checkpoint_id="c1", step=10,
                            provider_model_id="ft:m1:ckpt-10", metrics='{"train_loss": 0.5}', created_at=now))
        s.add(EvalRunRow(id="eval_1", job_name="triage", provider="sandbox", model="ft:m1", model_kind="fine-tuned",
                         run_id="run_1abcdef", set_path="jobs/e.jsonl", set_sha256="2" * 64, examples=3,
                         metrics='{"exact_match": 1.0}', scores='{"exact_match": 0.75}', params="{}",
                         created_at=now, finished_at=now))
    models.promote(store, model.id or 0, "production", reason="test")
    store.close()
    return str(db)


READS = [["runs", "list"], ["runs", "list", "--json"], ["runs", "show", "run_1abc"], ["runs", "show", "run_1abcdef",
         "--json"], ["models", "list"], ["models", "list", "--json"], ["eval", "list"], ["eval", "list", "--json"],
         ["providers", "list"], ["audit", "verify"], ["history"]]


@pytest.mark.parametrize("argv", READS, ids=[" ".join(a) for a in READS])
def test_a_read_command_imports_no_database_layer_sdk_or_tokenizer(argv: list[str], tmp_path: Path) -> None:
    db = _ledger(tmp_path / "ledger.db")
    code = ("import sys, json; from tuneops.cli import main; rc = main(sys.argv[1:]); "
            f"print(json.dumps([rc, sorted({{m.split('.')[0] for m in sys.modules}} & set({HEAVY!r}))]))")
    done = subprocess.run([sys.executable, "-c", code, "--db", db, *argv], capture_output=True, text=True)
    rc, heavy = json.loads(done.stdout.strip().splitlines()[-1])
    assert rc == 0, done.stderr
    assert heavy == [], f"`tuneops {' '.join(argv)}` imported {heavy}"


def test_providers_list_reads_declared_capabilities_without_importing_an_adapter() -> None:
    code = ("import sys, json; from tuneops.cli import main; rc = main(['providers', 'list', '--json']); "
            "print(json.dumps([rc, sorted(m for m in sys.modules if m.startswith('tuneops.providers.') "
            "and m.endswith(('.adapter', '.azure', '.sandbox')))]))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    *printed, last = done.stdout.strip().splitlines()
    listing, (rc, adapters) = json.loads("\n".join(printed)), json.loads(last)
    assert rc == 0, done.stderr
    assert adapters == [], adapters
    from tuneops import registry

    for row in listing:  # what was listed is what each adapter declares as a class
        assert row["capabilities"]["methods"] == sorted(registry.load(row["name"]).capabilities.methods), row["name"]


def _json(argv: list[str], capsys: pytest.CaptureFixture[str]) -> object:
    assert main(argv) == 0
    return json.loads(capsys.readouterr().out)


def test_listings_print_what_the_orm_rows_hold(any_db_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    # Times, integers and nulls read through the bare connection come out as the ORM's rows would give them.
    from sqlalchemy import select

    from tuneops import models
    from tuneops.cli import render
    from tuneops.evals import ledger
    from tuneops.store import open_store
    from tuneops.store.eval_tables import EvalRunRow
    from tuneops.store.tables import RunRow

    db = _ledger(any_db_url)
    store = open_store(db)
    with store.read() as s:
        runs = [json.loads(json.dumps(render.run_dict(r), default=str))
                for r in sorted(s.exec(select(RunRow)).scalars().all(), key=lambda r: r.id, reverse=True)]
        evals = [ledger.as_dict(r) for r in s.exec(select(EvalRunRow)).scalars().all()]
        records = [r.as_dict() for r in models.list_models(s)]
    store.close()
    shown = _json(["--db", db, "runs", "list", "--json"], capsys)
    assert [r["id"] for r in shown] == [r["id"] for r in runs]  # type: ignore[union-attr]
    assert {k for r in shown for k in r} == {k for r in runs for k in r}  # type: ignore[union-attr]
    assert shown[0]["created_at"].endswith("Z") and shown[0]["spec"] == {"name": "triage"}  # type: ignore[index]
    listed = _json(["--db", db, "eval", "list", "--json"], capsys)
    assert listed[0]["scores"] == evals[0]["scores"] == {"exact_match": 0.75}  # type: ignore[index]
    assert listed[0]["examples"] == 3 and listed[0]["finished_at"].endswith("Z")  # type: ignore[index]
    ms = _json(["--db", db, "models", "list", "--json"], capsys)
    assert ms[0]["aliases"] == records[0]["aliases"] == ["triage@production"]  # type: ignore[index]
    assert ms[0]["cost_microusd"] == 1234 and ms[0]["scores"] == {"exact_match": 0.75}  # type: ignore[index]
    show = _json(["--db", db, "runs", "show", "run_1abc", "--json"], capsys)
    assert show["model"]["provider_model_id"] == "ft:m1"  # type: ignore[index]
    assert show["checkpoints"] == [{"step": 10, "model": "ft:m1:ckpt-10", "metrics": {"train_loss": 0.5}}]  # type: ignore[index]
    assert [e["change"] for e in show["status_history"]] == ["admitted"]  # type: ignore[index]


def test_runs_list_warns_of_a_model_that_stops_serving(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = _ledger(tmp_path / "ledger.db")
    assert main(["--db", db, "runs", "list"]) == 0
    out = capsys.readouterr().out
    assert "the model of ft:m1 (job triage) stops serving" in out


@pytest.mark.parametrize("argv", [["runs", "list"], ["runs", "show", "run_1"], ["models", "list"], ["eval", "list"],
                                  ["history"], ["audit", "verify"], ["audit", "anchor"], ["audit", "log"],
                                  ["lineage", "ft:m1"], ["eval", "show", "eval_1"], ["eval", "compare", "a", "b"],
                                  ["models", "history", "triage@production"], ["runs", "metrics", "run_1"],
                                  ["schedule", "fires"]],
                         ids=lambda a: " ".join(a))
def test_without_a_ledger_a_read_command_says_so_and_creates_nothing(argv: list[str], tmp_path: Path,
                                                                    capsys: pytest.CaptureFixture[str]) -> None:
    before = sorted(tmp_path.rglob("*"))
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "no ledger at" in err and ".tuneops" in err and "Traceback" not in err
    assert sorted(tmp_path.rglob("*")) == before  # no .tuneops/, no file


def test_commands_find_the_project_from_a_folder_inside_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    project = tmp_path / "project"
    (project / "jobs" / "data").mkdir(parents=True)
    _ledger(project / ".tuneops" / "tuneops.db")
    for where in (project, project / "jobs", project / "jobs" / "data"):
        monkeypatch.chdir(where)
        assert main(["runs", "list", "--json"]) == 0
        assert len(json.loads(capsys.readouterr().out)) == 2
    assert not (project / "jobs" / ".tuneops").exists() and not (project / "jobs" / "data" / ".tuneops").exists()
    # A folder with only jobs/ is a project too: its ledger does not exist yet, and nothing makes one.
    other = tmp_path / "other"
    (other / "jobs" / "data").mkdir(parents=True)
    monkeypatch.chdir(other / "jobs" / "data")
    assert main(["history"]) == 2
    assert f"no ledger at {other / '.tuneops' / 'tuneops.db'}" in capsys.readouterr().err
    assert not (other / ".tuneops").exists()


def test_submit_finds_the_project_ledger_from_a_subfolder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from tuneops.store.urls import resolve_url

    (tmp_path / "proj" / "jobs" / "data").mkdir(parents=True)
    monkeypatch.chdir(tmp_path / "proj" / "jobs" / "data")
    assert resolve_url() == f"sqlite:///{tmp_path / 'proj' / '.tuneops' / 'tuneops.db'}"


def test_a_read_only_ledger_is_listed_and_verified_and_never_written(tmp_path: Path,
                                                                    capsys: pytest.CaptureFixture[str]) -> None:
    folder = tmp_path / "ro"
    folder.mkdir()
    db = Path(_ledger(folder / "ledger.db"))
    before, files = db.read_bytes(), sorted(folder.iterdir())
    db.chmod(stat.S_IRUSR | stat.S_IRGRP | stat.S_IROTH)
    try:
        for argv in (["runs", "list"], ["models", "list"], ["audit", "verify"], ["history"]):
            assert main(["--db", str(db), *argv]) == 0, capsys.readouterr().err
        assert "3 audit events form one unbroken chain" in capsys.readouterr().out
        # The connection the read commands use cannot write (even as root, who may write any file).
        import sqlite3

        from tuneops.store.reader import open_reader

        with open_reader(str(db), create=False) as reader, \
                pytest.raises(sqlite3.OperationalError, match=r"readonly|query_only"):
            reader.execute("DELETE FROM audit_event")
    finally:
        db.chmod(stat.S_IRUSR | stat.S_IWUSR)
    assert db.read_bytes() == before
    assert sorted(folder.iterdir()) == files


def test_the_light_scheduler_tick_may_still_create_its_ledger(tmp_path: Path) -> None:
    from tuneops.store.reader import open_reader

    db = tmp_path / "new" / "ledger.db"
    with open_reader(str(db), create=True) as reader:
        assert reader.rows("SELECT count(*) FROM run") == [(0,)]
    assert db.is_file() and os.path.getsize(db) > 0


def test_the_scheduler_reads_the_project_jobs_from_a_subfolder(project: Path, monkeypatch: pytest.MonkeyPatch,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    (project.parent / "data").mkdir(exist_ok=True)
    monkeypatch.chdir(project.parent / "data")  # jobs/data/ of the example project
    assert main(["schedule", "plan", "--no-estimate", "--json"]) == 0
    assert [j["job"] for j in json.loads(capsys.readouterr().out)["jobs"]] == ["support-triage"]
