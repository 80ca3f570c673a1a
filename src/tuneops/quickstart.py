"""`tuneops quickstart`: the whole flow offline on the sandbox, in a fresh project, in under a minute."""

from __future__ import annotations

import os
import shlex
import tempfile
from contextlib import ExitStack
from pathlib import Path

from tuneops.cli import render, state


def run_quickstart(keep: Path | None = None, *, time_scale: float = 4.0, evaluate: bool = True,
                   provider: str = "sandbox") -> int:
    """Start the sandbox (or build a tiny local model), write the example project, submit, watch, show
    the model and history."""
    from rich.markup import escape

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
        old_cwd = Path.cwd()
        os.chdir(root)
        stack.callback(os.chdir, old_cwd)
        env = dict(os.environ)
        if provider == "local":
            from tuneops.providers.local.quickstart import prepare

            write_example(Path("jobs"))
            prepare(Path("jobs"))
            out.print("[bold]1.[/] local provider: a tiny random model built in models/tiny-chat (nothing "
                      "downloaded; LoRA training runs in a process on this machine)")
        else:
            server = stack.enter_context(SandboxServer(time_scale=time_scale))
            out.print(f"[bold]1.[/] sandbox (a local stand-in, not an LLM) listening on {escape(server.url)}")
            env["TUNEOPS_SANDBOX_URL"] = os.environ["TUNEOPS_SANDBOX_URL"] = server.url
            write_example(Path("jobs"))
        out.print(f"[bold]2.[/] example project written to {escape(str(root / 'jobs'))} (support-triage.toml + data)")
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
        step = 6 if evaluate else 5
        out.print(f"[bold]{step}.[/] history")
        history(job=None, limit=20, as_json=False)
        _finale(out, store, root, keep, step + 1)
        if keep:
            # The directory is the user's own name: no markup, and quoted for the shell it is pasted into.
            out.print(f"project kept in {root}; try: cd {shlex.quote(str(root))} && tuneops runs list",
                      markup=False)
        else:
            out.print(f"the project in {root} is removed now; to keep it: tuneops quickstart --keep DIR",
                      markup=False)
    return 0


def _finale(out, store, root: Path, keep: Path | None, step: int) -> None:  # type: ignore[no-untyped-def]
    """What the scheduler would do next and why, what the fine-tune is worth, and where the report is."""
    from datetime import timedelta

    from rich.markup import escape

    from tuneops import roi
    from tuneops.cli.roi import summary_lines
    from tuneops.dashboard import write_report
    from tuneops.scheduler.context import SchedulerContext
    from tuneops.scheduler.plan import plan

    ctx = SchedulerContext(store=store, jobs_dir=Path("jobs"), ttl=timedelta(seconds=300))
    try:
        jobs = plan(ctx, estimates=False).jobs
    finally:
        ctx.close()
    out.print(f"[bold]{step}.[/] schedule plan: what the \\[retrain] policy would do now, and why")
    for job in (j.as_dict() for j in jobs):
        out.print(f"  {escape(job['job'])}: {job['decision']}")
        for t in job["triggers"]:
            out.print(f"    {'fires' if t['fire'] else 'waits'}  {escape(t['reason'])}")
    out.print(f"[bold]{step + 1}.[/] roi: does the fine-tune pay for itself? (`tuneops roi support-triage`)")
    try:
        with store.read() as s:
            lines = summary_lines(roi.report(s, "support-triage").as_dict())
    except roi.MissingEconomics as exc:
        lines = [str(exc)]
    for line in lines:
        out.print(f"  {escape(line)}")
    # A report in a temporary project would vanish with it: keep it where it can still be opened.
    where = root / "report" if keep else Path(tempfile.gettempdir()) / "tuneops-quickstart-report"
    path = write_report(store, where, jobs_dir=Path("jobs"))
    out.print(f"[bold]{step + 2}.[/] HTML report (runs, spend, evals, curves, scheduler, audit, ROI): "
              f"{escape(path.resolve().as_uri())}")
