"""`tuneops audit log|verify|anchor|export` and `tuneops lineage`: read, check and hand over the trail."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from tuneops.cli import render, state
from tuneops.cli.conventions import output_file
from tuneops.cli.history import Action, Actor, AsJson, Job, Provider, Since, Status, Subject, Until, audit_filter

audit_app = typer.Typer(help="The audit trail: list it, verify its hash chain, anchor it, export it.",
                        no_args_is_help=True)


def register(app: typer.Typer) -> None:
    """Add the audit group and the lineage command."""
    app.add_typer(audit_app, name="audit")
    app.command("lineage")(lineage)


@audit_app.command("log")
def log(
    job: Job = None,
    provider: Provider = None,
    actor: Actor = None,
    action: Action = None,
    since: Since = None,
    until: Until = None,
    status: Status = None,
    subject: Subject = None,
    limit: Annotated[int, typer.Option("--limit", min=0, help="At most this many events (0: all).")] = 100,
    as_json: AsJson = False,
) -> None:
    """Audit events newest first with every detail, filtered by job, provider, actor, action, time, status."""
    import json

    from rich.markup import escape

    from tuneops.audit import query as audit_query

    flt = audit_filter(job=job, provider=provider, actor=actor, action=action, since=since, until=until,
                       status=status, subject=subject)
    with state.reader() as reader:
        rows = audit_query.query(reader, flt, limit=limit or None)
    if as_json:
        state.print_json([audit_query.event_dict(r) for r in rows])
        return
    if not rows:
        state.console().print("no matching audit events")
        return
    # One block per event: the details are the point, and a table squeezes them into slivers.
    out = state.console()
    for r in rows:
        out.print(f"[bold]{r.seq}[/]  {render.when(r.at)}  {escape(r.actor)}  [cyan]{r.action}[/]  "
                  f"{r.subject_type} {escape(r.subject_id)}" + (f"  [dim]job {r.job_name}[/]" if r.job_name else ""),
                  soft_wrap=True)
        for key, value in json.loads(r.details).items():
            shown = json.dumps(value) if isinstance(value, dict | list) else value
            out.print(f"      {key}: {shown}", soft_wrap=True, markup=False)
        out.print(f"      [dim]hash {r.hash[:16]}… prev {r.prev_hash[:16]}…[/]")


@audit_app.command("verify")
def verify(
    anchor: Annotated[str | None, typer.Option(
        "--anchor", help="SEQ:HASH from `tuneops audit anchor` (or a file with its --json output): also "
        "prove no event up to it was removed or rewritten.", show_default=False)] = None,
    as_json: AsJson = False,
) -> None:
    """Recompute the hash chain from the first event; name the first broken link. Exit 1 if broken."""
    from rich.markup import escape

    from tuneops import audit

    mark = audit.Anchor.parse(anchor) if anchor else None
    with state.reader() as reader:
        report = audit.verify(reader, anchor=mark)
    if as_json:
        state.print_json({"ok": report.ok, "events": report.events, "head_seq": report.head_seq,
                          "head_hash": report.head_hash, "first_bad_seq": report.first_bad_seq,
                          "problem": report.problem, "anchor": str(mark) if mark else None,
                          "seconds": round(report.seconds, 3), "workers": report.workers})
    elif report.ok:
        tail = f"; anchor {mark.seq} matches" if mark else ""
        state.console().print(f"[green]ok[/]: {report.events} audit events form one unbroken chain "
                              f"(head {report.head_seq}:{report.head_hash[:16]}…){tail} "
                              f"[dim]({report.seconds:.2f}s)[/]", soft_wrap=True)
    elif report.first_bad_seq is None:  # the chain holds, but the ledger around it does not agree with it
        tail = f" The hash chain of {report.events} events verifies." if report.events else ""
        state.err_console().print(f"[bold red]not ok[/]: {escape(report.problem or '')}.{tail}", soft_wrap=True)
    else:
        state.err_console().print(f"[bold red]broken[/] at event {report.first_bad_seq}: "
                                  f"{escape(report.problem or '')}. "
                                  f"Events before it verify ({report.events} checked); compare with an "
                                  "export or backup and find out who could write to this ledger.",
                                  soft_wrap=True)
    if not report.ok:
        raise typer.Exit(1)


@audit_app.command("anchor")
def anchor(as_json: AsJson = False) -> None:
    """Print the chain's head (seq, hash, time); store it elsewhere and pass it to `verify --anchor` later."""
    from tuneops import audit
    from tuneops.clock import utcnow

    with state.reader() as reader:
        mark = audit.anchor(reader)
    taken = utcnow()
    if as_json:
        state.print_json({"seq": mark.seq, "hash": mark.hash, "at": mark.at, "taken_at": taken,
                          "anchor": str(mark)})
        return
    out = state.console()
    out.print(f"anchor {mark}", soft_wrap=True)
    out.print(f"[dim]event {mark.seq} at {render.when(mark.at) or '-'} UTC; taken {render.when(taken)} UTC. "
              "Keep it where this ledger's writers cannot change it; later: "
              f"tuneops audit verify --anchor {mark}[/]", soft_wrap=True)


@audit_app.command("export")
def export(
    fmt: Annotated[str, typer.Option("--format", "-f", help="jsonl or csv.")] = "jsonl",
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Write to this file instead of "
                                                "stdout.", show_default=False)] = None,
    job: Job = None,
    provider: Provider = None,
    actor: Actor = None,
    action: Action = None,
    since: Since = None,
    until: Until = None,
    status: Status = None,
    subject: Subject = None,
) -> None:
    """Write audit events in chain order, hashes included, as JSON lines or CSV."""
    from tuneops.audit import query as audit_query

    flt = audit_filter(job=job, provider=provider, actor=actor, action=action, since=since, until=until,
                       status=status, subject=subject)
    audit_query.check_format(fmt)  # before any file is created
    output = output_file(output, "--output", f"audit.{fmt}")
    with state.reader() as reader:
        if output is None:
            audit_query.export(reader, sys.stdout, fmt, flt)
            return
        output.parent.mkdir(parents=True, exist_ok=True)
        with output.open("w", encoding="utf-8", newline="") as fh:
            count = audit_query.export(reader, fh, fmt, flt)
    state.err_console().print(f"wrote {count} audit events to {output}", markup=False)


def lineage(
    ref: Annotated[str, typer.Argument(help="A model id, an alias (job@name), or a run id.")],
    provider: Annotated[str | None, typer.Option("--provider", help="The provider, when a model id exists "
                                                 "at several.", show_default=False)] = None,
    as_json: AsJson = False,
) -> None:
    """Where a model came from: model <- run <- dataset snapshot <- spec version <- actor, with costs and evals."""
    from tuneops.audit import lineage as lineagemod

    with state.store(read_only=True).read() as s:
        found = lineagemod.trace(s, ref, provider)
    if as_json:
        state.print_json(found.as_dict())
        return
    state.console().print(_lineage_tree(found))


def _lineage_tree(found):  # type: ignore[no-untyped-def]
    """The lineage as a rich tree, newest link first."""
    import json

    from rich.markup import escape
    from rich.tree import Tree

    m, r = found.model, found.run
    title = f"[bold]{found.alias}[/] -> " if found.alias else ""
    tree = Tree(f"{title}model [green]{m.provider_model_id}[/] at {m.provider}  "
                f"(job {m.job_name}, created {render.when(m.created_at)})"
                + (f"\n  aliases held now: {', '.join(found.aliases)}" if found.aliases else ""))
    if r is None:
        tree.add("[red]<- run missing from the ledger[/]")
        return tree
    run = tree.add(f"<- run {r.id}  {render.state(r.state)}  provider job {r.provider_job_id or '-'}  "
                   f"trigger {r.trigger}\n   estimate {render.usd(r.estimate_microusd)}  cost "
                   f"{render.usd(r.cost_microusd)}  trained tokens {r.trained_tokens or '-'}  "
                   f"finished {render.when(r.finished_at) or '-'}")
    uploads = ", ".join(f"{u.provider} {u.provider_file_id}" for u in found.uploads) or "-"
    data = run.add(f"<- dataset snapshot train sha256 {r.train_sha256[:16]}  {r.train_examples} examples, "
                   f"{r.train_tokens} tokens/epoch"
                   + (f"\n   validation sha256 {r.validation_sha256[:16]}" if r.validation_sha256 else "")
                   + f"\n   uploads: {uploads}")
    hp = {k: v for k, v in (found.spec.get("hyperparameters") or {}).items() if v is not None}
    spec = data.add(f"<- spec version {escape(r.spec_path)}  sha256 {r.spec_sha256[:16]}\n   base {r.base_model}  "
                    f"method {r.method}  hyperparameters {json.dumps(hp)}")
    admitted = found.admitted_by
    spec.add(f"<- actor [bold]{escape(r.actor or '?')}[/]  "
             f"admitted {render.when(admitted.at if admitted else r.created_at)}"
             + (f"  (audit event {admitted.seq})" if admitted else ""))
    if found.evals:
        evals = tree.add("evals")
        for e in found.evals:
            scores = "  ".join(f"{k}={v:.4f}" if isinstance(v, float) else f"{k}={v}"
                               for k, v in (e.get("scores") or {}).items())
            evals.add(f"{render.when(e['at'])}  {e['eval_id']}  {escape(e['eval_set'])} ({e['examples']} examples)  "
                      f"{scores}  cost {render.usd(e.get('cost_microusd'))}")
    moves = [e for e in found.events if e.action.startswith("model.")]
    if moves:
        node = tree.add("aliases")
        for e in moves:
            d = json.loads(e.details)
            node.add(f"{render.when(e.at)}  {e.action}  {d.get('alias', e.subject_id)} by {escape(e.actor)}"
                     + (f": {escape(d['reason'])}" if d.get("reason") else ""))
    tree.add(f"total cost (training + evals): {render.usd(found.total_cost_microusd)}  "
             f"[dim]{len(found.events)} audit events: tuneops audit log --subject {r.id}[/]")
    return tree
