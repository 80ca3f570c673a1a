"""bench/evals: eval throughput against the local sandbox, the cost of a cached re-run, and the
comparison statistics on larger sets.

Trains the example job once on a sandbox, then scores the fine-tuned model on an eval set of N
examples (distinct prompts) at several concurrency levels, each in a fresh ledger so nothing is
cached; then re-runs one eval on a warm ledger (no inference calls) and times compare on N pairs.
Usage: python bench/evals/run.py [--examples 500] [--concurrency 1 4 16]
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from dataclasses import replace
from pathlib import Path


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--examples", type=int, default=500)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 4, 16])
    args = parser.parse_args()

    from tuneops import spec as specmod
    from tuneops.evals import stats
    from tuneops.evals.compare import compare
    from tuneops.evals.flow import evaluate
    from tuneops.evals.runner import EvalConfig
    from tuneops.evals.targets import resolve_target
    from tuneops.examples import tickets, write_example
    from tuneops.runs.orchestrator import Orchestrator, ProviderPool
    from tuneops.sandbox import SandboxServer
    from tuneops.store import open_store

    with tempfile.TemporaryDirectory(prefix="tuneops-bench-evals-") as tmp, SandboxServer(time_scale=50) as server:
        root = Path(tmp)
        os.chdir(root)
        os.environ["TUNEOPS_HOME"] = str(root / ".tuneops")
        env = {**os.environ, "TUNEOPS_SANDBOX_URL": server.url}
        write_example(root / "jobs")
        eval_set = root / "bench.eval.jsonl"
        # Distinct held-out tickets: numbering the prompt keeps every one a separate inference call.
        rows = tickets(args.examples, seed=11, held_out=True)
        for i, r in enumerate(rows):
            r["messages"][1]["content"] += f" (ticket {i})"
        eval_set.write_text("".join(json.dumps(r) + "\n" for r in rows))
        loaded = specmod.load(root / "jobs" / "support-triage.toml")
        train_store = open_store(str(root / "train.db"))
        orch = Orchestrator(train_store, ProviderPool(env=env))
        run = orch.watch(orch.submit(loaded).id, interval=0.05)
        print(f"trained {run.model_id} ({run.state}); eval set: {args.examples} distinct prompts")

        config = EvalConfig(eval_set, metrics=("exact_match", "label_accuracy"))
        with train_store.read() as s:
            # The fresh ledgers below hold no run rows, so the eval rows must not point at one.
            target = replace(resolve_target(s, run.model_id or "")[0], run_id=None)
        print(f"{'concurrency':>11} {'seconds':>8} {'calls/s':>8} {'accuracy':>9}")
        for n in args.concurrency:
            store = open_store(str(root / f"c{n}.db"))
            bench = Orchestrator(store, orch.pool)
            start = time.perf_counter()
            row = evaluate(bench, target, replace(config, concurrency=n))
            took = time.perf_counter() - start
            print(f"{n:>11} {took:>8.2f} {row.inference_calls / took:>8.1f} "
                  f"{json.loads(row.scores)['label_accuracy']:>9.4f}")

        warm = open_store(str(root / f"c{args.concurrency[-1]}.db"))
        start = time.perf_counter()
        again = evaluate(Orchestrator(warm, orch.pool), target, config)
        print(f"cached re-run: {time.perf_counter() - start:.2f} s, {again.inference_calls} inference calls, "
              f"{again.cached} cached")
        with warm.read() as s:
            base_target = resolve_target(s, "sandbox-mini", provider="sandbox")[0]
        base = evaluate(Orchestrator(warm, orch.pool), base_target, config)
        start = time.perf_counter()
        with warm.read() as s:
            cmp = compare(s, base.id, again.id)
        print(f"compare on {cmp.paired} pairs (exact binomial): {(time.perf_counter() - start) * 1000:.1f} ms; "
              f"delta {cmp.delta:+.4f} CI [{cmp.interval.low:+.4f}, {cmp.interval.high:+.4f}]")
        start = time.perf_counter()
        scores = [float(i % 7) / 6 for i in range(args.examples)]
        stats.paired_bootstrap(scores, list(reversed(scores)))
        print(f"paired bootstrap, {args.examples} pairs x {stats.BOOTSTRAP_SAMPLES} resamples: "
              f"{(time.perf_counter() - start) * 1000:.0f} ms")
        orch.pool.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
