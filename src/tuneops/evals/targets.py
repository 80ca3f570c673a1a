"""What `tuneops eval` is asked about: the model (a model id, alias, run, or a base model), the eval
config (from --spec, else the spec the model's run was admitted with, overridden by flags), and the
two evals `eval compare` should pair."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from sqlalchemy import select
from sqlmodel import Session

from tuneops.errors import TuneopsError
from tuneops.evals import ledger
from tuneops.evals.runner import EvalConfig, ModelTarget
from tuneops.spec import JobSpec, LoadedSpec
from tuneops.store.eval_tables import EvalRunRow
from tuneops.store.tables import RunRow


def resolve_target(session: Session, ref: str, *, loaded: LoadedSpec | None = None,
                   provider: str | None = None) -> tuple[ModelTarget, JobSpec | None, Path | None]:
    """The model ``ref`` names, with the spec that configures its eval and that spec's folder.

    A name the ledger does not know is taken as a provider's own model id (a base model), served by
    ``provider`` or the spec's provider.
    """
    from tuneops import models
    from tuneops.runs.orchestrator import spec_of

    model = models.find_model(session, ref, provider)
    if model is not None:
        target = models.target_for(session, model)
        if loaded is not None:
            return target, loaded.spec, loaded.base_dir
        run = session.get(RunRow, model.run_id)
        if run is None:
            return target, None, None
        return target, spec_of(run), Path(run.spec_path).parent
    spec = loaded.spec if loaded is not None else None
    name = provider or (spec.model.provider if spec is not None else None)
    if name is None:
        raise models.ModelNotFound(
            f"{ref!r} is not a model, alias or run in this ledger; to evaluate a provider's model "
            "directly pass --provider NAME (or --spec jobs/<name>.toml)")
    options = spec.options.get(name, {}) if spec is not None else {}
    target = ModelTarget(provider=name, model=ref, kind="base", options=options,
                         job_name=spec.name if spec is not None else None, price_model=ref)
    return target, spec, loaded.base_dir if loaded is not None else None


def eval_config(spec: JobSpec | None, base_dir: Path | None, *, set_path: Path | None = None,
                metrics: Sequence[str] = (), concurrency: int | None = None) -> EvalConfig:
    """The eval config of a spec's [eval] section, with --set, --metric and --concurrency applied."""
    if spec is not None and spec.eval is not None:
        config = EvalConfig.from_section(spec.eval, base_dir or Path("."), set_path=set_path)
    elif set_path is not None:
        config = EvalConfig(set_path=set_path)
    else:
        why = f"the spec of job {spec.name} has no [eval] section" if spec is not None else "no job spec names one"
        raise TuneopsError(f"no eval set: {why}; pass --set FILE.jsonl or --spec jobs/<name>.toml")
    updates: dict[str, object] = {}
    if metrics:
        updates["metrics"] = tuple(metrics)
    if concurrency is not None:
        updates["concurrency"] = concurrency
    if updates:
        from dataclasses import replace

        config = replace(config, **updates)  # type: ignore[arg-type]
    return config


def _latest(session: Session, target: ModelTarget, set_sha256: str | None) -> EvalRunRow | None:
    stmt = (select(EvalRunRow).where(EvalRunRow.provider == target.provider, EvalRunRow.model == target.model)
            .order_by(EvalRunRow.created_at.desc(), EvalRunRow.id.desc()))  # type: ignore[attr-defined]
    if set_sha256 is not None:
        stmt = stmt.where(EvalRunRow.set_sha256 == set_sha256)
    return session.exec(stmt.limit(1)).scalars().first()  # type: ignore[call-overload]


def _known_alias(session: Session, ref: str) -> None:
    """Refuse ``job@name`` when no such alias exists, rather than taking it for a provider's model id."""
    from tuneops import models

    if "@" in ref and "/" not in ref and models.find_model(session, ref) is None \
            and models.find_alias(session, ref) is None:
        raise models.ModelNotFound(f"no alias {ref!r}; `tuneops models list` shows the aliases models hold")


def resolve_pair(session: Session, a: str, b: str, *, provider: str | None = None) -> tuple[str, str]:
    """Two eval ids from two eval ids or model references (a model's newest eval; when both are
    models, A's newest eval on the set of B's newest eval)."""
    def is_eval(ref: str) -> bool:
        return ref.startswith("eval_")

    for ref in (a, b):
        _known_alias(session, ref)
    row_b = ledger.get_eval(session, b) if is_eval(b) else None
    if row_b is None:
        target_b = resolve_target(session, b, provider=provider)[0]
        row_b = _latest(session, target_b, None)
        if row_b is None:
            raise TuneopsError(f"{b} has not been evaluated; run `tuneops eval {b}` first")
    if is_eval(a):
        return ledger.get_eval(session, a).id, row_b.id
    target_a = resolve_target(session, a, provider=provider or row_b.provider)[0]
    row_a = _latest(session, target_a, row_b.set_sha256)
    if row_a is None:
        raise TuneopsError(f"{a} has no eval on the set of {row_b.id} ({row_b.set_path}); "
                           f"run `tuneops eval {a} --set {row_b.set_path}` first")
    return row_a.id, row_b.id
