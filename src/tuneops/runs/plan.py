"""`tuneops plan` / `submit --dry-run`: what submitting would do, computed without writing anything.

The ledger is only read (and not even opened when its SQLite file does not exist yet); the provider is
only asked whether earlier uploads are still there.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tuneops.errors import BudgetExceeded
from tuneops.provider import CreateRequest, Upload
from tuneops.runs.intent import Prepared


def _ledger(db: str | None) -> Any:
    """The ledger if it exists (never created here), else None; found as every command finds it (the
    project's, from a folder inside it too), so plan and submit agree on "no changes"."""
    from tuneops.store.urls import refuse_folder, resolve_url, sqlite_path

    url = resolve_url(db, create=False)
    refuse_folder(url)
    path = sqlite_path(url)
    if path is not None and not Path(path).is_file():
        return None
    from tuneops.store import open_store

    return open_store(db)


def make_plan(prepared: Prepared, db: str | None) -> dict[str, Any]:
    """The plan as data: intent, uploads, create request, estimate, budget."""
    from tuneops import economics
    from tuneops.clock import utcnow
    from tuneops.runs.orchestrator import hyperparameters
    from tuneops.store import queries

    spec, adapter, snap, est = prepared.spec, prepared.adapter, prepared.snapshot, prepared.estimate
    location = adapter.location()
    store = _ledger(db)
    open_run = last = None
    spent = 0
    uploads: dict[str, Upload] = {}
    files: list[dict[str, Any]] = []
    try:
        for kind, f in (("training", snap.train), ("validation", snap.validation)):
            if f is None:
                continue
            row = None
            if store is not None:
                with store.read() as s:
                    row = queries.find_upload(s, adapter.name, f.sha256, location)
            entry: dict[str, Any] = {"kind": kind, "sha256": f.sha256, "bytes": f.bytes}
            known = Upload(adapter.name, f.sha256, row.provider_file_id, row.bytes, row.filename) if row else None
            if known is not None and adapter.verify_upload(known):
                entry |= {"action": "reused, verified", "provider_file_id": known.provider_file_id}
                uploads[kind] = known
            else:
                found = adapter.find_uploads(f.sha256, f.bytes)
                if found:
                    entry |= {"action": "reused, found at the provider", "provider_file_id": found[0].provider_file_id}
                    uploads[kind] = found[0]
                else:
                    entry["action"] = "upload" + (" (the earlier upload is gone or changed)" if known else "")
            files.append(entry)
        if store is not None:
            with store.read() as s:
                open_run = queries.open_run_for_intent(s, prepared.intent)
                last = queries.last_run_for_intent(s, prepared.intent)
                now = utcnow()
                spent = queries.month_spend_microusd(s, now.replace(day=1, hour=0, minute=0, second=0,
                                                                    microsecond=0))
    finally:
        if store is not None:
            store.close()

    def placeholder(kind: str, f: Any) -> Upload:
        return uploads.get(kind) or Upload(adapter.name, f.sha256, f"<file id of the {kind} upload>", f.bytes)

    key = open_run.idempotency_key if open_run else "tuneops-<run id assigned at admission>"
    request = CreateRequest(job_name=spec.name, base_model=spec.model.base, method=spec.method,
                            training=placeholder("training", snap.train),
                            validation=placeholder("validation", snap.validation) if snap.validation else None,
                            hyperparameters=hyperparameters(spec), idempotency_key=key,
                            suffix=spec.model.suffix, options=spec.provider_options())
    body = json.loads(json.dumps(adapter.create_body(request), default=str))
    try:
        economics.check_budget(spec, est, spent)
        budget = "ok" if (spec.budget.per_run_usd or spec.budget.per_month_usd) is not None else "no budget set"
    except BudgetExceeded as exc:
        budget = f"over budget: {exc}"
    if open_run is not None:
        would = f"resume run {open_run.id} ({open_run.state}); no new run"
    elif last is not None and last.state == "succeeded":
        would = f"nothing: no changes since run {last.id} (model {last.model_id}); --again --reason TEXT trains again"
    elif last is not None and last.state == "failed":
        would = f"nothing: run {last.id} of this intent failed ({last.error_message or last.error_code}); " \
                "change the spec or data, or --again --reason TEXT"
    else:
        would = "start a new run"
    return {"spec": str(prepared.loaded.path), "job": spec.name, "provider": adapter.name, "location": location,
            "intent_key": prepared.intent, "would": would, "uploads": files, "create_request": body,
            "estimate": {"microusd": est.microusd, "trained_tokens": est.trained_tokens, "tokens": est.tokens,
                         "epochs": est.epochs, "price_source": est.price_source},
            "month_spent_microusd": spent, "budget": budget}


def show_plan(plan: dict[str, Any]) -> str:
    """The plan as text for a terminal."""
    from tuneops.cli.render import usd

    lines = [f"plan for {plan['spec']} (job {plan['job']} at {plan['provider']}, {plan['location']}); "
             "nothing was written",
             f"  would: {plan['would']}",
             f"  intent: {plan['intent_key'][:16]}"]
    for f in plan["uploads"]:
        what = f["action"] + (f" as {f['provider_file_id']}" if f.get("provider_file_id") else "")
        lines.append(f"  {f['kind']} data: {f['bytes']:,} bytes (sha256 {f['sha256'][:12]}): {what}")
    est = plan["estimate"]
    lines.append(f"  estimate: {usd(est['microusd'])} for {est['trained_tokens']:,} trained tokens "
                 f"({est['tokens']:,} x {est['epochs']} epoch(s)); "
                 f"this month so far {usd(plan['month_spent_microusd'])}")
    lines.append(f"  budget: {plan['budget']}")
    lines.append("  create request the provider would receive:")
    lines += ["    " + line for line in json.dumps(plan["create_request"], indent=2, sort_keys=True).splitlines()]
    return "\n".join(lines)
