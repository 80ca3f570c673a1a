"""bench/report: time to write `tuneops report --html` over a ledger of many runs (SQLite, optionally a
PostgreSQL URL), against the time to merely read the run table (the baseline, in the same run).

Usage: python bench/report/run.py [--runs 10000] [--jobs 100] [--db URL]
"""

from __future__ import annotations

import argparse
import json
import random
import tempfile
import time
from datetime import timedelta
from pathlib import Path


def fill(store, runs: int, jobs: int) -> None:  # type: ignore[no-untyped-def]
    """Runs spread over a year across jobs and providers, a loss curve for each job's newest run, one
    promoted model per job with a base and a fine-tuned eval, and some audit events."""
    from tuneops import audit
    from tuneops.clock import utcnow
    from tuneops.store.eval_tables import AliasHistoryRow, AliasRow, EvalRunRow
    from tuneops.store.lifecycle_tables import MetricPointRow
    from tuneops.store.tables import ModelRow, RunRow

    rng = random.Random(7)
    now = utcnow()
    providers = ["sandbox", "openai", "together", "fireworks"]
    states = ["succeeded"] * 8 + ["failed", "cancelled"]
    rows = []
    for i in range(runs):
        job = f"job-{i % jobs:03d}"
        created = now - timedelta(minutes=(runs - i) * 50)
        state = states[rng.randrange(len(states))]
        spec = {"name": job, "model": {"provider": providers[i % 4], "base": "base-1"},
                "data": {"train": "data/t.jsonl"}, "budget": {"per_month_usd": 200.0, "per_run_usd": 25.0},
                "promote": {"alias": "production"}, "economics": {"requests_per_month": 10_000}}
        est = rng.randrange(1_000_000, 20_000_000)
        rows.append(dict(id=f"run_{i:08d}", idempotency_key=f"k{i}", job_name=job, spec_path=f"jobs/{job}.toml",
                         spec_sha256="0" * 64, spec_json=json.dumps(spec), provider=providers[i % 4],
                         base_model="base-1", method="sft", state=state, train_sha256="1" * 64,
                         estimate_microusd=est, cost_microusd=int(est * rng.uniform(0.8, 1.3)) if state ==
                         "succeeded" else None, created_at=created, updated_at=created,
                         submitted_at=created, finished_at=created + timedelta(minutes=rng.randrange(5, 90))))
    with store.write() as s:
        s.execute(RunRow.__table__.insert(), rows)  # type: ignore[attr-defined]
        for j in range(jobs):
            last = max(i for i in range(j, runs, jobs) if rows[i]["state"] == "succeeded")
            run = rows[last]
            s.execute(MetricPointRow.__table__.insert(), [  # type: ignore[attr-defined]
                dict(run_id=run["id"], step=k, train_loss=2 * 0.97**k + 0.1, valid_loss=2 * 0.97**k + 0.2)
                for k in range(1, 301)])
            model = ModelRow(provider=run["provider"], provider_model_id=f"ft:{run['id']}", run_id=run["id"],
                             job_name=run["job_name"], base_model="base-1", train_sha256="1" * 64,
                             created_at=run["finished_at"])
            s.add(model)
            s.flush()
            for kind, name, score in (("base", "base-1", 0.3), ("fine-tuned", model.provider_model_id, 0.9)):
                s.add(EvalRunRow(id=f"eval_{j}_{kind}", job_name=run["job_name"], provider=run["provider"],
                                 model=name, model_kind=kind, run_id=run["id"] if kind != "base" else None,
                                 set_path="jobs/data/e.jsonl", set_sha256="2" * 64, examples=100,
                                 metrics='{"exact_match": 1.0}', scores=json.dumps({"exact_match": score}),
                                 params="{}", created_at=run["finished_at"], finished_at=run["finished_at"]))
            alias = AliasRow(job_name=run["job_name"], name="production", model_pk=model.id,
                             updated_at=run["finished_at"])
            s.add(alias)
            s.flush()
            s.add(AliasHistoryRow(alias_id=alias.id, action="promote", model_pk=model.id,
                                  eval_id=f"eval_{j}_fine-tuned", at=run["finished_at"]))
        for i in range(0, runs, 10):
            audit.append(s, "run.admitted", "run", rows[i]["id"], job_name=rows[i]["job_name"], actor="bench",
                         details={"provider": rows[i]["provider"]})


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=10_000)
    parser.add_argument("--jobs", type=int, default=100)
    parser.add_argument("--db", default=None, help="A database URL (default: a fresh SQLite file)")
    args = parser.parse_args()

    from sqlalchemy import text

    from tuneops.dashboard import write_report
    from tuneops.store import open_store

    out = Path(tempfile.mkdtemp(prefix="tuneops-bench-report-"))
    store = open_store(args.db or str(out / "ledger.db"))
    start = time.perf_counter()
    fill(store, args.runs, args.jobs)
    print(f"filled {args.runs:,} runs over {args.jobs} jobs in {time.perf_counter() - start:.1f} s ({store.dialect})")
    times, base = [], []
    for _ in range(3):
        start = time.perf_counter()
        with store.engine.connect() as conn:
            conn.execute(text("SELECT * FROM run")).fetchall()
        base.append(time.perf_counter() - start)
        start = time.perf_counter()
        path = write_report(store, out / "report")
        times.append(time.perf_counter() - start)
    best, floor = min(times), min(base)
    print(f"read the run table (baseline): {floor * 1000:8.1f} ms")
    print(f"write the report:              {best * 1000:8.1f} ms  ({best / floor:.1f}x the baseline; "
          f"{path.stat().st_size / 1024:,.0f} KiB, {path})")
    print("under 2 s" if best < 2 else "OVER 2 s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
