"""`tuneops quickstart`: the whole flow offline on the sandbox, in a fresh project, in under a minute."""

from __future__ import annotations

import os
import tempfile
from contextlib import ExitStack
from pathlib import Path

from tuneops.cli import render, state


def run_quickstart(keep: Path | None = None, *, time_scale: float = 4.0, evaluate: bool = True) -> int:
    """Start the sandbox, write the example project, submit, watch, show the model and history."""
    from tuneops import spec as specmod
    from tuneops.cli.history import history
    from tuneops.cli.watch import follow
    from tuneops.examples import write_example
    from tuneops.runs.orchestrator import Orchestrator, ProviderPool
    from tuneops.sandbox import SandboxServer
    from tuneops.store import open_store

    out = state.console()
    with ExitStack() as stack:
        # Absolute: the ledger path below is used after the chdir into it.
        root = (keep or Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="tuneops-quickstart-")))).absolute()
        root.mkdir(parents=True, exist_ok=True)
        server = stack.enter_context(SandboxServer(time_scale=time_scale))
        out.print(f"[bold]1.[/] sandbox (a local stand-in, not an LLM) listening on {server.url}")
        old_cwd = Path.cwd()
        os.chdir(root)
        stack.callback(os.chdir, old_cwd)
        env = {**os.environ, "TUNEOPS_SANDBOX_URL": server.url}
        os.environ["TUNEOPS_SANDBOX_URL"] = server.url
        write_example(Path("jobs"))
        out.print(f"[bold]2.[/] example project written to {root}/jobs (support-triage.toml + data)")
        loaded = specmod.load(Path("jobs/support-triage.toml"))
        state.DB = str(root / ".tuneops" / "tuneops.db")
        store = open_store(state.DB)
        pool = ProviderPool(env=env)
        stack.callback(pool.close)
        orch = Orchestrator(store, pool)
        run = orch.submit(loaded)
        out.print(f"[bold]3.[/] submitted run {run.id} (provider job {run.provider_job_id}); watching")
        run = follow(orch, run.id, interval=0.5)
        if run.state != "succeeded":
            out.print(f"[red]the run ended {run.state}[/]")
            return 1
        out.print(f"[bold]4.[/] model id: [green]{run.model_id}[/]  cost {render.usd(run.cost_microusd)}")
        if evaluate:
            from tuneops.cli.evals import after_run

            out.print("[bold]5.[/] eval on the held-out set: base model (A) vs fine-tuned model (B), then promotion")
            after_run(orch, loaded, run, compare_base=True)
        out.print(f"[bold]{6 if evaluate else 5}.[/] history")
        history(job=None, limit=20, as_json=False)
        if keep:
            out.print(f"project kept in {root}; try: cd {root} && tuneops runs list")
    return 0
