"""bench/cli: the read commands as a user types them — each a fresh process on a big ledger.

Builds (once) a SQLite ledger with 100,000 runs (their events, checkpoints, models, evals, aliases) and
1,000,000 chained audit events, then times `tuneops --help`, `runs list`, `runs show`, `models list`,
`eval list`, `providers list` and `audit verify` as fresh processes (median of --repeat, after one
warm-up). Goals: `--help` <= 120 ms, every read command <= 200 ms. `audit verify` hashes every event, so
its goal is for its start-up (the wall time minus the chain check it reports); the check's rate is
bench/audit's subject.

Usage: python bench/cli/run.py [--runs 100000] [--events 1000000] [--db PATH] [--repeat 5] [--keep]
       (--db PATH reuses a ledger an earlier --keep left)
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

HELP_GOAL_MS = 120.0
READ_GOAL_MS = 200.0
JOBS = [f"job-{i:02d}" for i in range(50)]
PROVIDERS = ["openai", "together", "fireworks", "mistral", "vertex", "bedrock"]
STATES = ["succeeded"] * 7 + ["failed", "cancelled", "running"]
TIME = "%Y-%m-%d %H:%M:%S.%f"  # SQLAlchemy's SQLite DATETIME text


def fill_runs(db: str, n: int, seed: int = 11) -> float:
    """``n`` runs over a year with 3 events each, a model (and checkpoints) per succeeded run, an eval for
    one model in ten, an alias per job; returns seconds taken."""
    import sqlite3

    from run import insert_rows as _insert  # bench/audit's: the same ids as its events
    from run import run_id as _run_id

    t0 = time.perf_counter()
    rng = random.Random(seed)
    conn = sqlite3.connect(db, isolation_level=None)
    cur = conn.cursor()
    cur.execute("BEGIN IMMEDIATE")
    start = datetime(2026, 1, 1)
    runs, events, models, checkpoints, evals = [], [], [], [], []
    for i in range(n):
        at = (start + timedelta(seconds=i * 300)).strftime(TIME)
        run_id = _run_id(i)
        job, provider, state = JOBS[i % len(JOBS)], PROVIDERS[rng.randrange(6)], STATES[rng.randrange(10)]
        model_id = f"ft:base:{job}:{i:08d}" if state == "succeeded" else None
        runs.append({"id": run_id, "idempotency_key": f"key-{i}", "job_name": job, "spec_path": f"jobs/{job}.toml",
                     "spec_sha256": f"{i:064x}", "spec_json": json.dumps({"name": job, "provider": provider}),
                     "provider": provider, "base_model": "base-mini", "method": "sft", "state": state,
                     "provider_status": state, "provider_job_id": f"ftjob-{i}", "model_id": model_id,
                     "train_sha256": f"{i % 997:064x}", "train_examples": 300, "train_tokens": 15_000,
                     "trigger": "manual", "actor": "ana@laptop", "estimate_microusd": 120_000,
                     "cost_microusd": 118_000 if state == "succeeded" else None, "created_at": at,
                     "updated_at": at, "submitted_at": at, "finished_at": at if state != "running" else None,
                     "state_changed_at": at})
        events += [{"run_id": run_id, "at": at, "kind": "state", "message": m}
                   for m in ("admitted", "admitted -> submitting", f"pending -> {state}")]
        if model_id:
            models.append({"id": len(models) + 1, "provider": provider, "provider_model_id": model_id,
                           "run_id": run_id, "job_name": job, "base_model": "base-mini",
                           "train_sha256": f"{i % 997:064x}", "created_at": at})
            checkpoints.append({"run_id": run_id, "provider_checkpoint_id": f"ckpt-{i}", "step": 100,
                                "provider_model_id": f"{model_id}:ckpt-100", "metrics": '{"train_loss": 0.1}',
                                "created_at": at})
            if len(models) % 10 == 0:
                evals.append({"id": f"eval_{i:020d}", "job_name": job, "provider": provider, "model": model_id,
                              "model_kind": "fine-tuned", "run_id": run_id, "set_path": f"jobs/data/{job}.eval.jsonl",
                              "set_sha256": "e" * 64, "examples": 90, "errors": 0,
                              "metrics": '{"exact_match": 1.0}', "scores": json.dumps({"exact_match": rng.random()}),
                              "params": "{}", "inference_calls": 90, "cached": 0, "input_tokens": 9000,
                              "output_tokens": 900, "cost_microusd": 1000, "actor": "ana@laptop",
                              "created_at": at, "finished_at": at})
    for table, rows in (("run", runs), ("run_event", events), ("model", models), ("checkpoint", checkpoints),
                        ("eval_run", evals)):
        _insert(cur, table, rows)
    now = datetime.now().strftime(TIME)
    latest = {}
    for m in models:
        latest[m["job_name"]] = m["id"]
    _insert(cur, "alias", [{"job_name": job, "name": "production", "model_pk": pk, "updated_at": now}
                           for job, pk in latest.items()])
    cur.execute("COMMIT")
    cur.execute("ANALYZE")
    conn.close()
    return time.perf_counter() - t0


def time_cli(argv: list[str], repeat: int, *, warm: bool = True) -> tuple[float, float, str]:
    """Median wall and CPU (user + system) milliseconds of `tuneops ARGV` as a fresh process (after one
    warm-up run), and its output. CPU time is what a loaded machine inflates least."""
    import resource

    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    cmd = [sys.executable, "-m", "tuneops", *argv] if argv != ["<python>"] else [sys.executable, "-c", "pass"]
    if warm:
        subprocess.run(cmd, capture_output=True, env=env)
    walls, cpus, out = [], [], ""
    for _ in range(repeat):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        t0 = time.perf_counter()
        done = subprocess.run(cmd, capture_output=True, text=True, env=env)
        walls.append((time.perf_counter() - t0) * 1000)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpus.append((after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime) * 1000)
        if done.returncode != 0:
            raise SystemExit(f"tuneops {' '.join(argv)} failed ({done.returncode}): {done.stderr}")
        out = done.stdout
    return statistics.median(walls), statistics.median(cpus), out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=100_000)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--db", help="a ledger left by an earlier --keep (default: build one in a temp dir)")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--keep", action="store_true", help="keep the ledger it built")
    args = parser.parse_args()

    tmp = None
    db = args.db
    if db is None:
        sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "audit"))
        from run import fill as fill_audit  # bench/audit's chain builder: one implementation

        from tuneops.store import open_store

        tmp = Path(tempfile.mkdtemp(prefix="tuneops-bench-cli-"))
        db = str(tmp / "ledger.db")
        store = open_store(db)
        seconds = fill_audit(store, args.events, args.runs, run_rows=False)
        store.close()
        print(f"built {args.events:,} chained audit events in {seconds:.1f}s")
        print(f"built {args.runs:,} runs in {fill_runs(db, args.runs):.1f}s")
    size = sum(p.stat().st_size for p in Path(db).parent.glob(Path(db).name + "*")) / 1e6
    print(f"ledger {db} ({size:.0f} MB); {os.cpu_count()} CPUs, load average "
          f"{', '.join(f'{x:.1f}' for x in os.getloadavg())} (a busy machine slows every wall time below)")

    base = ["--db", db]
    run_id = json.loads(time_cli([*base, "runs", "list", "--limit", "1", "--json"], 1)[2])[0]["id"]
    commands = [("python -c pass", ["<python>"], None),
                ("--help", ["--help"], HELP_GOAL_MS),
                ("runs list", [*base, "runs", "list"], READ_GOAL_MS),
                ("runs list --json", [*base, "runs", "list", "--json"], READ_GOAL_MS),
                ("runs show RUN", [*base, "runs", "show", run_id], READ_GOAL_MS),
                ("models list", [*base, "models", "list"], READ_GOAL_MS),
                ("eval list", [*base, "eval", "list"], READ_GOAL_MS),
                ("providers list", ["providers", "list"], READ_GOAL_MS)]
    ok = True
    print(f"{'command':<22} {'wall ms':>8} {'cpu ms':>8} {'goal ms':>8}  (medians of {args.repeat} fresh processes)")
    for name, argv, goal in commands:
        wall, cpu, _ = time_cli(argv, args.repeat)
        verdict = "" if goal is None else "ok" if wall <= goal else "OVER"
        ok &= goal is None or wall <= goal
        print(f"{name:<22} {wall:>8.0f} {cpu:>8.0f} {goal or 0:>8.0f}  {verdict}")
    # Start-up = each run's wall time minus the chain check that same run reports (paired, then the median).
    starts, walls, report = [], [], {}
    for _ in range(max(1, args.repeat // 2)):
        wall, _cpu, out = time_cli([*base, "audit", "verify", "--json"], 1, warm=False)
        report = json.loads(out)
        walls.append(wall)
        starts.append(wall - report["seconds"] * 1000)
    start_ms = statistics.median(starts)
    ok &= start_ms <= READ_GOAL_MS
    print(f"{'audit verify':<22} {statistics.median(walls):>8.0f} {'':>8} {'':>8}  ({report['events']:,} events "
          f"checked in {report['seconds']:.2f}s, {report['workers']} worker(s))")
    print(f"{'  its start-up':<22} {start_ms:>8.0f} {'':>8} {READ_GOAL_MS:>8.0f}  "
          f"{'ok' if start_ms <= READ_GOAL_MS else 'OVER'} (wall minus the check, per run)")
    print("RESULT:", "PASS" if ok else "FAIL")
    if tmp is not None and not args.keep:
        shutil.rmtree(tmp, ignore_errors=True)
    elif tmp is not None:
        print(f"kept {db}")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
