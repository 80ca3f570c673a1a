"""`tuneops eval ...`: score a model on an eval set, list and show evals, compare two of them.

`tuneops eval MODEL|ALIAS|RUN` is short for `tuneops eval run ...`. The render helpers here are shared
by `tuneops models`, `tuneops submit --watch` and `tuneops quickstart`.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer
from typer.core import TyperGroup

from tuneops.cli import render, state

if TYPE_CHECKING:
    from tuneops.evals.compare import Comparison
    from tuneops.evals.flow import PromotionResult
    from tuneops.store.eval_tables import EvalRunRow


class _DefaultRun(TyperGroup):
    """A group whose first argument, when it is no subcommand, is the model to run an eval on."""

    def resolve_command(self, ctx: Any, args: list[str]) -> Any:
        """Treat `eval MODEL ...` as `eval run MODEL ...`, unless MODEL is a misspelt command (`eval comapre`)."""
        if args and args[0] not in self.commands and not args[0].startswith("-") and not self._misspelt(args[0]):
            args = ["run", *args]
        return super().resolve_command(ctx, args)

    def _misspelt(self, word: str) -> bool:
        # A plain word close to a command name; model ids, aliases and run ids hold ':', '@', '-' or digits.
        import difflib

        return word.isalpha() and bool(difflib.get_close_matches(word, list(self.commands), n=1, cutoff=0.75))


eval_app = typer.Typer(cls=_DefaultRun, no_args_is_help=True,
                       help="Score models on eval sets and compare them: tuneops eval MODEL|ALIAS|RUN.")


def register(app: typer.Typer) -> None:
    """Add the eval group."""
    app.add_typer(eval_app, name="eval")


# -- rendering (shared) -----------------------------------------------------------------------------

def _f(value: float | None) -> str:
    return "-" if value is None else f"{value:.4f}"


def _short(text: str, width: int = 48) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"


def print_eval(row: EvalRunRow, *, failures: int = 0, reused: bool = False) -> None:
    """An eval's scores, inference bill and (for classification) its per-class report."""
    from rich.table import Table
    from rich.text import Text

    from tuneops.evals import ledger

    out = state.console()
    scores = "   ".join(f"{k} [bold]{v:.4f}[/]" for k, v in ledger.scores(row).items())
    out.print(f"eval {row.id}: {row.model} ({row.provider}, {row.model_kind}) on {row.set_path} "
              f"({row.examples} examples)", markup=False)
    if reused:
        out.print(f"  [dim]already recorded at {row.created_at:%Y-%m-%d %H:%M} UTC for this model, set and "
                  "metrics; reused, nothing asked[/]")
    out.print(f"  {scores}")
    out.print(f"  inference calls {row.inference_calls}, cached {row.cached}, tokens {row.input_tokens:,} in / "
              f"{row.output_tokens:,} out, cost {render.usd(row.cost_microusd)}"
              + (f", [red]{row.errors} failed[/]" if row.errors else ""))
    rep = ledger.report(row)
    if rep:
        table = Table(title=f"classification: accuracy {rep['accuracy']:.4f}, macro F1 {rep['macro_f1']:.4f}",
                      title_justify="left")
        for col in ("label", "precision", "recall", "F1", "support"):
            table.add_column(col, justify="left" if col == "label" else "right")
        for label, m in rep["per_class"].items():
            table.add_row(Text(label), _f(m["precision"]), _f(m["recall"]), _f(m["f1"]), str(m["support"]))
        out.print(table)
        matrix = Table(title="confusion (rows: reference, columns: predicted)", title_justify="left")
        matrix.add_column("")
        for col in rep["columns"]:
            matrix.add_column(Text(col), justify="right")
        for label, counts in zip(rep["labels"], rep["matrix"], strict=True):
            matrix.add_row(Text(label), *(str(c) for c in counts))
        out.print(matrix)
    if failures:
        _print_failures(row, failures)


def _print_failures(row: EvalRunRow, limit: int) -> None:
    import json

    from rich.table import Table
    from rich.text import Text

    from tuneops.evals import ledger

    with state.store().read() as s:
        results = ledger.results(s, row.id)
    first = next(iter(ledger.thresholds(row)), None)
    failed = [r for r in results if first and json.loads(r.scores).get(first, 0) < ledger.thresholds(row)[first]]
    table = Table(title=f"failing examples on {first} ({len(failed)})", title_justify="left")
    for col in ("line", "reference", "answer", "error"):
        table.add_column(col, overflow="fold")
    for r in failed[:limit]:
        table.add_row(str(r.line), *(Text(_short(x)) for x in (r.reference, r.output, r.error or "")))
    state.console().print(table)


def print_comparison(cmp: Comparison, *, limit: int = 10) -> None:
    """The delta of B over A with its interval, then the flipped examples each way."""
    from rich.table import Table
    from rich.text import Text

    out = state.console()
    iv = cmp.interval
    p = f", p = {iv.p_value:.3g}" if iv.p_value is not None else ""
    out.print(f"compare {cmp.metric} on {cmp.paired} paired examples: A {cmp.a.model} ({cmp.a.id}) -> "
              f"B {cmp.b.model} ({cmp.b.id})", markup=False)
    out.print(f"  A {cmp.score_a:.4f}   B {cmp.score_b:.4f}   delta [bold]{cmp.delta:+.4f}[/]   "
              f"{iv.confidence:.0%} CI [{iv.low:+.4f}, {iv.high:+.4f}]  ({iv.method}{p})")
    for title, flips in (("fail -> pass", cmp.to_pass), ("pass -> fail", cmp.to_fail)):
        table = Table(title=f"{title}: {len(flips)} example(s)" + (f" (first {limit})" if len(flips) > limit else ""),
                      title_justify="left")
        for col in ("line", "reference", "A answered", "B answered"):
            table.add_column(col, overflow="fold")
        for f in flips[:limit]:
            table.add_row(str(f.line), *(Text(x) for x in (_short(f.reference, 24), _short(f.output_a),
                                                           _short(f.output_b))))
        out.print(table if flips else f"{title}: none")


def print_promotion(result: PromotionResult) -> None:
    """One line: promoted, refused (with the rule and numbers), unchanged or skipped."""
    from rich.markup import escape

    style = {"promoted": "green", "refused": "yellow", "unchanged": "dim", "skipped": "dim"}[result.status]
    hint = ""
    if result.status == "refused" and result.model and result.alias:
        hint = (f"; to move it anyway: tuneops models promote {result.model} --alias {result.alias.split('@')[-1]} "
                "--force --reason WHY")
    state.console().print(f"[{style}]{result.status}[/]: {escape(result.message + hint)}", soft_wrap=True)
    for note in result.notes:
        state.console().print(f"  {escape(note)}", soft_wrap=True)


@contextmanager
def progress_bar(quiet: bool = False) -> Iterator[tuple[Any, Any]]:
    """(on_role, progress) callbacks that drive a transient progress bar on stderr (a terminal, without -q)."""
    if quiet or state.QUIET or not state.err_console().is_terminal:
        yield None, None
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    bar = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                   console=state.err_console(), transient=True)
    task: dict[str, Any] = {"id": None}

    def on_role(role: str, target: Any) -> None:
        task["id"] = bar.add_task(f"eval {role} {_short(target.model, 40)}", total=None)

    def progress(done: int, total: int) -> None:
        if task["id"] is None:
            task["id"] = bar.add_task("eval", total=total)
        bar.update(task["id"], completed=done, total=total)

    with bar:
        yield on_role, progress


def after_run(orch: Any, loaded: Any, run: Any, *, compare_base: bool = False, quiet: bool = False) -> Any:
    """Evaluate and promote-or-refuse after a succeeded run, printing what happened; returns the result."""
    from rich.markup import escape

    from tuneops.errors import TuneopsError
    from tuneops.evals.flow import after_success, evaluate_base

    try:
        with progress_bar(quiet) as (on_role, progress):
            result = after_success(orch, loaded, run, progress=progress, on_role=on_role)
            if compare_base and loaded is not None and "candidate" in result.evals and "base" not in result.evals:
                result.evals["base"] = evaluate_base(orch, loaded, progress=progress, on_role=on_role).id
    except TuneopsError as exc:
        # The run itself succeeded and is recorded; say why nothing was promoted and carry on.
        state.err_console().print(f"[bold red]eval and promotion failed:[/] {escape(str(exc))}", highlight=False,
                                  soft_wrap=True)
        return None
    if quiet:
        return result
    if compare_base and "base" in result.evals and "candidate" in result.evals:
        from tuneops.evals.compare import compare

        with orch.store.read() as s:
            print_comparison(compare(s, result.evals["base"], result.evals["candidate"]))
    print_promotion(result)
    return result


# -- commands -------------------------------------------------------------------------------------

@eval_app.command("run")
def eval_run(
    target: str = typer.Argument(..., help="A model id, an alias (job@name), a run id, or a base model id."),
    set_path: Path = typer.Option(None, "--set", help="The eval set (JSONL); default: the spec's [eval] set.",
                                  show_default=False),
    spec: Path = typer.Option(None, "--spec", help="Take [eval] settings (and the provider of a base model) "
                              "from this job spec.", show_default=False),
    provider: str = typer.Option(None, "--provider", help="The provider serving a base model id.",
                                 show_default=False),
    metric: list[str] = typer.Option([], "--metric", help="A metric to score (repeatable); default: the "
                                     "spec's [eval] metrics.", show_default=False),
    concurrency: int = typer.Option(None, "--concurrency", min=1, max=64, help="Inference calls at once.",
                                    show_default=False),
    failures: int = typer.Option(0, "--failures", min=0, help="Also list up to this many failing examples."),
    as_json: bool = typer.Option(False, "--json", help="Print the eval as JSON."),
) -> None:
    """Score a model on an eval set; answers are cached, so a re-run makes no inference calls."""
    from tuneops import spec as specmod
    from tuneops.evals import ledger, targets
    from tuneops.evals.flow import evaluate
    from tuneops.runs.orchestrator import Orchestrator

    loaded = specmod.load(spec, check_provider=False) if spec is not None else None
    orch = Orchestrator(state.store())
    try:
        with orch.store.read() as s:
            resolved, job_spec, base_dir = targets.resolve_target(s, target, loaded=loaded, provider=provider)
        config = targets.eval_config(job_spec, base_dir, set_path=set_path, metrics=metric,
                                     concurrency=concurrency)
        with orch.store.read() as s:
            known = {r.id for r in ledger.list_evals(s, model=resolved.model, limit=10_000)}
        with progress_bar() as (_, progress):
            row = evaluate(orch, resolved, config, progress=progress)
    finally:
        orch.pool.close()
    reused = row.id in known
    if as_json:
        state.print_json(ledger.as_dict(row) | {"reused": reused})
        return
    print_eval(row, failures=failures, reused=reused)


@eval_app.command("compare")
def eval_compare(
    a: str = typer.Argument(..., help="Eval A (an eval id, or a model/alias/run: its newest eval)."),
    b: str = typer.Argument(..., help="Eval B, compared against A."),
    metric: str = typer.Option(None, "--metric", help="Metric to compare (default: the first in both).",
                               show_default=False),
    method: str = typer.Option("auto", "--method", help="auto | binomial (paired pass/fail) | bootstrap."),
    limit: int = typer.Option(10, "--limit", min=0, help="Flipped examples to list each way."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """B against A example by example: the delta with a confidence interval and the flipped examples."""
    from tuneops.api import compare
    from tuneops.errors import TuneopsError

    if method not in ("auto", "binomial", "bootstrap"):
        raise TuneopsError(f"--method {method!r}: use auto, binomial or bootstrap")
    cmp = compare(a, b, metric=metric, method=method, db=state.DB)
    if as_json:
        state.print_json(cmp.as_dict())
        return
    print_comparison(cmp, limit=limit)


@eval_app.command("list")
def eval_list(
    job: str = typer.Option(None, "--job", help="Only this job's evals.", show_default=False),
    model: str = typer.Option(None, "--model", help="Only evals of this model id.", show_default=False),
    limit: int = typer.Option(50, "--limit", min=0, help="At most this many."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Evals, newest first."""

    from tuneops.evals import ledger
    from tuneops.store import listings

    with state.reader() as db:
        rows = listings.list_evals(db, job=job, model=model, limit=limit)
    if as_json:
        state.print_json([ledger.as_dict(r) for r in rows])
        return
    if not rows and (job or model):
        given = " ".join(f"--{k} {v!r}" for k, v in (("job", job), ("model", model)) if v)
        state.console().print(f"no evals match {given}; `tuneops eval list` shows every eval", markup=False)
        return
    if not rows:
        state.console().print("no evals yet: tuneops eval MODEL --set FILE.jsonl")
        return
    render.listing(
        ("eval", "model", "kind", "job", "set", "n", "scores", "calls", "cached", "cost", "created (UTC)"),
        [(r.id, r.model, r.model_kind, r.job_name or "-", Path(r.set_path).name, str(r.examples),
          " ".join(f"{k}={v:.3f}" for k, v in ledger.scores(r).items()) or "-", str(r.inference_calls),
          str(r.cached), render.usd(r.cost_microusd), render.when(r.created_at)) for r in rows],
        title="evals", records=[ledger.as_dict(r) for r in rows])


@eval_app.command("show")
def eval_show(
    eval_id: str = typer.Argument(..., help="Eval id (or a unique prefix)."),
    failures: int = typer.Option(10, "--failures", min=0, help="List up to this many failing examples."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON (with every example)."),
) -> None:
    """One eval: scores, classification report, and failing examples."""
    from tuneops.evals import ledger

    with state.store(read_only=True).read() as s:
        row = ledger.get_eval(s, eval_id)
        examples = [r.model_dump() for r in ledger.results(s, row.id)] if as_json else []
    if as_json:
        state.print_json({**ledger.as_dict(row), "results": examples})
        return
    print_eval(row, failures=failures)
