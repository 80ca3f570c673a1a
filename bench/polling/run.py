"""bench/polling: provider calls per sync cycle with 200 runs in flight on the sandbox.

Compares tuneops's batched sync (one list call per page) with a naive one-get-per-run baseline,
counting requests at the sandbox, in the same process. Usage: python bench/polling/run.py [--runs 200]
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import tempfile
import time
from pathlib import Path

import httpx


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--page-size", type=int, default=100)
    args = parser.parse_args()

    from tuneops import spec as specmod
    from tuneops.examples import write_example
    from tuneops.runs.orchestrator import Orchestrator, ProviderPool
    from tuneops.sandbox import SandboxServer
    from tuneops.store import open_store, queries

    root = Path(tempfile.mkdtemp(prefix="tuneops-bench-polling-"))
    os.chdir(root)
    os.environ["TUNEOPS_HOME"] = str(root / ".tuneops")
    # Slow jobs, so all of them are still in flight while we measure.
    with SandboxServer(time_scale=0.001) as server:
        os.environ["TUNEOPS_SANDBOX_URL"] = server.url
        write_example(root / "jobs")
        loaded = specmod.load(root / "jobs" / "support-triage.toml")
        orch = Orchestrator(open_store(), ProviderPool())
        t0 = time.perf_counter()
        for _ in range(args.runs):
            orch.submit(loaded)
        print(f"submitted {args.runs} runs in {time.perf_counter() - t0:.1f}s")

        def counts() -> dict[str, int]:
            return httpx.get(f"{server.admin_url}/stats").json()["requests"]

        def delta(before: dict[str, int], after: dict[str, int]) -> dict[str, int]:
            return {k: after.get(k, 0) - before.get(k, 0) for k in after if after.get(k, 0) != before.get(k, 0)}

        polling_page = args.page_size
        before = counts()
        t0 = time.perf_counter()
        _, calls = orch.sync_all(force=True)
        batched_s = time.perf_counter() - t0
        batched = delta(before, counts())

        with orch.store.read() as s:
            runs = list(queries.unfinished_runs(s))
        before = counts()
        t0 = time.perf_counter()
        for run in runs:
            orch.sync(run)  # the naive way: one get (plus its events) per run
        naive_s = time.perf_counter() - t0
        naive = delta(before, counts())
        orch.pool.close()

    total_batched = sum(batched.values())
    total_naive = sum(naive.values())
    bound = math.ceil(args.runs / polling_page) + 2
    print(f"runs in flight: {len(runs)}  page size: {polling_page}")
    print(f"batched sync : {total_batched:4d} requests {batched}  in {batched_s:.2f}s  (tuneops counted {calls})")
    print(f"naive sync   : {total_naive:4d} requests {naive}  in {naive_s:.2f}s")
    print(f"bound ceil({args.runs}/{polling_page})+2 = {bound}: {'OK' if total_batched <= bound else 'EXCEEDED'}")
    print(f"ratio naive/batched requests: {total_naive / max(1, total_batched):.1f}x")
    return 0 if total_batched <= bound else 1


if __name__ == "__main__":
    sys.exit(main())
