"""Running an eval: inference through the provider's ``infer`` with bounded concurrency, the shared
retry policy and the inference cache; per-example scores stored with an audit event.

Threads only talk to the provider; every ledger write happens on the calling thread.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tuneops import audit
from tuneops.clock import actor as default_actor
from tuneops.clock import new_id, utcnow
from tuneops.errors import PermanentProviderError, ProviderError, TuneopsError
from tuneops.evals import cache, classify
from tuneops.evals.metrics import (
    OTHER_LABEL,
    LabelAccuracy,
    Metric,
    MetricConfig,
    build,
    mean,
    normalize,
    threshold,
)
from tuneops.evals.pricing import inference_cost
from tuneops.evals.sets import EvalExample, EvalSet, load_set
from tuneops.provider import Completion, Provider
from tuneops.retry import DEFAULT_POLICY, RetryPolicy, call_with_retry
from tuneops.store import Store
from tuneops.store.eval_tables import EvalResultRow, EvalRunRow

# Provider answers that mean "this model cannot be asked at all": stop instead of failing each example.
_FATAL_STATUS = frozenset({401, 403, 404})
# Answers bought so far are cached in batches of this size, so an interrupted eval loses little.
_SAVE_EVERY = 64

Progress = Callable[[int, int], Any]


@dataclass(frozen=True)
class EvalConfig:
    """Which set, which metrics and which inference settings an eval uses."""

    set_path: Path
    metrics: tuple[str, ...] = ("exact_match",)
    max_tokens: int = 256
    temperature: float = 0.0
    concurrency: int = 4
    labels: tuple[str, ...] = ()
    pattern: str | None = None
    json_schema: Path | None = None

    @classmethod
    def from_section(cls, section: Any, base_dir: Path, *, set_path: Path | None = None) -> EvalConfig:
        """From a spec's [eval] section, paths resolved against the spec's folder."""
        def resolve(p: Path | None) -> Path | None:
            return None if p is None else (p if p.is_absolute() else base_dir / p)

        return cls(set_path=set_path or resolve(section.set),  # type: ignore[arg-type]
                   metrics=tuple(section.metrics), max_tokens=section.max_tokens,
                   temperature=section.temperature, concurrency=section.concurrency,
                   labels=tuple(section.labels), pattern=section.pattern,
                   json_schema=resolve(section.json_schema))

    @property
    def params(self) -> dict[str, Any]:
        """The inference parameters sent with every call (and part of the cache key)."""
        return {"max_tokens": self.max_tokens, "temperature": self.temperature}


@dataclass(frozen=True)
class ModelTarget:
    """A model to evaluate: where it is served and what it is in the ledger."""

    provider: str
    model: str
    kind: str = "base"  # "fine-tuned" when a run produced it
    options: Mapping[str, Any] = field(default_factory=dict)
    job_name: str | None = None
    run_id: str | None = None
    price_model: str | None = None  # whose price applies (a fine-tuned model's base model)
    serve_as: str | None = None  # what inference calls use when a deployment serves the model (its endpoint)


@dataclass
class _Answer:
    text: str = ""
    input_tokens: int = 0
    output_tokens: int = 0
    cached: bool = False
    error: str | None = None


def build_metrics(config: EvalConfig, evalset: EvalSet) -> list[Metric]:
    """The configured metrics; a classification set's labels default to its distinct references."""
    labels = config.labels or tuple(dict.fromkeys(evalset.references))
    mc = MetricConfig(labels=labels, pattern=config.pattern, json_schema=config.json_schema)
    return [build(name, mc) for name in dict.fromkeys(config.metrics)]


def _ask(adapter: Provider, model: str, example: EvalExample, params: Mapping[str, Any],
         policy: RetryPolicy) -> Completion:
    extra = {"tools": list(example.tools)} if example.tools else {}
    return call_with_retry(lambda: adapter.infer(model, list(example.prompt), **params, **extra), policy=policy)


def _infer_missing(adapter: Provider, target: ModelTarget, todo: dict[str, EvalExample], config: EvalConfig,
                   store: Store, policy: RetryPolicy, progress: Progress | None, done: int, total: int,
                   ) -> dict[str, _Answer]:
    """Ask the model every uncached prompt, ``config.concurrency`` at a time; cache answers as they come."""
    answers: dict[str, _Answer] = {}
    unsaved: dict[str, cache.CachedAnswer] = {}

    def flush() -> None:
        if unsaved:
            with store.write() as s:
                cache.save(s, target.provider, target.model, unsaved)
            unsaved.clear()

    pool = ThreadPoolExecutor(max_workers=config.concurrency, thread_name_prefix="tuneops-eval")
    pending: dict[Future[Completion], str] = {
        pool.submit(_ask, adapter, target.serve_as or target.model, ex, config.params, policy): key
        for key, ex in todo.items()}
    try:
        while pending:
            finished, _ = wait(pending, return_when=FIRST_COMPLETED)
            for fut in finished:
                key = pending.pop(fut)
                try:
                    got = fut.result()
                except ProviderError as exc:
                    if isinstance(exc, PermanentProviderError) and exc.status in _FATAL_STATUS:
                        raise TuneopsError(
                            f"eval of {target.model} at {target.provider} stopped: {exc}. Check the model id "
                            f"(`tuneops models list`) and the provider's credentials; answers already "
                            "received are cached") from exc
                    answers[key] = _Answer(error=str(exc)[:1000])
                else:
                    answers[key] = _Answer(got.text, got.input_tokens, got.output_tokens)
                    unsaved[key] = cache.CachedAnswer(got.text, got.input_tokens, got.output_tokens)
                done += 1
                if progress is not None:
                    progress(done, total)
            if len(unsaved) >= _SAVE_EVERY:
                flush()
    finally:
        for fut in pending:
            fut.cancel()
        pool.shutdown(wait=True, cancel_futures=True)
        flush()
    return answers


def _score(example: EvalExample, answer: _Answer, metrics: Sequence[Metric]) -> tuple[dict[str, float], str | None]:
    label = None
    scores: dict[str, float] = {}
    for metric in metrics:
        scores[metric.name] = 0.0 if answer.error else float(metric.score(answer.text, example.reference))
        if isinstance(metric, LabelAccuracy) and not answer.error:
            label = metric.predict(answer.text)
    return scores, label


def _score_all(eval_id: str, evalset: EvalSet, answers: Sequence[_Answer], metrics: Sequence[Metric],
               ) -> tuple[list[EvalResultRow], dict[str, float], dict[str, Any] | None]:
    """Per-example rows, the mean per metric, and the classification report when there is a classifier."""
    rows: list[EvalResultRow] = []
    per_metric: dict[str, list[float]] = {m.name: [] for m in metrics}
    labels: list[str] = []
    for ex, answer in zip(evalset.examples, answers, strict=True):
        scores, label = _score(ex, answer, metrics)
        for name, value in scores.items():
            per_metric[name].append(value)
        labels.append(label or OTHER_LABEL)
        rows.append(EvalResultRow(eval_id=eval_id, position=ex.position, line=ex.line, example_sha256=ex.sha256,
                                  reference=ex.reference, output=answer.text, label=label,
                                  scores=json.dumps(scores), cached=answer.cached, error=answer.error))
    classifier = next((m for m in metrics if isinstance(m, LabelAccuracy)), None)
    report = None if classifier is None else classify.report(
        [normalize(r) for r in evalset.references], labels, classifier.labels)
    return rows, {name: mean(values) for name, values in per_metric.items()}, report


def project_path(path: Path) -> str:
    """A file's path as the ledger keeps it: relative to the project (the folder holding the tuneops home,
    ``.tuneops``) when it is inside it, absolute otherwise, so the CLI and the scheduler store one form."""
    from tuneops.home import home

    resolved, root = path.resolve(), home().resolve().parent
    return resolved.relative_to(root).as_posix() if resolved.is_relative_to(root) else resolved.as_posix()


def recorded(store: Store, target: ModelTarget, evalset: EvalSet, metrics: Sequence[Metric],
             params: Mapping[str, Any]) -> EvalRunRow | None:
    """The newest error-free eval of this model on this set (by sha256) with these metrics and parameters."""
    from sqlalchemy import select

    stmt = (select(EvalRunRow).where(EvalRunRow.provider == target.provider, EvalRunRow.model == target.model,
                                     EvalRunRow.set_sha256 == evalset.sha256, EvalRunRow.errors == 0,
                                     EvalRunRow.metrics == json.dumps({m.name: threshold(m) for m in metrics}),
                                     EvalRunRow.params == json.dumps(dict(params), sort_keys=True))
            .order_by(EvalRunRow.created_at.desc(), EvalRunRow.id.desc()).limit(1))  # type: ignore[attr-defined]
    with store.read() as s:
        return s.exec(stmt).scalars().first()  # type: ignore[call-overload]


def run_eval(store: Store, adapter: Provider, target: ModelTarget, config: EvalConfig, *,
             evalset: EvalSet | None = None, progress: Progress | None = None,
             policy: RetryPolicy = DEFAULT_POLICY, actor: str | None = None, reuse: bool = True) -> EvalRunRow:
    """Score ``target`` on the eval set; returns the stored eval run (its examples are eval_result rows).

    An eval already recorded for the same model, set, metrics and parameters is returned as it is
    (``reuse=False`` records a new one); answers in the inference cache are reused either way, so
    re-running an eval makes no calls.
    """
    evalset = evalset or load_set(config.set_path)
    metrics = build_metrics(config, evalset)
    started = utcnow()
    params = config.params
    if reuse and (same := recorded(store, target, evalset, metrics, params)) is not None:
        return same
    keys = [cache.key(target.provider, target.model, ex.prompt_sha256, params) for ex in evalset.examples]
    with store.read() as s:
        hits = cache.lookup(s, keys)
    answers: dict[str, _Answer] = {k: _Answer(h.text, h.input_tokens, h.output_tokens, cached=True)
                                   for k, h in hits.items()}
    todo = {k: ex for k, ex in zip(keys, evalset.examples, strict=True) if k not in answers}
    total = len(set(keys))
    if progress is not None:
        progress(len(answers), total)
    answers |= _infer_missing(adapter, target, todo, config, store, policy, progress, len(answers), total)

    new = [answers[k] for k in todo]
    in_tokens = sum(a.input_tokens for a in new)
    out_tokens = sum(a.output_tokens for a in new)
    cost = inference_cost(target.provider, target.price_model or target.model, in_tokens, out_tokens)
    eval_id = new_id("eval")
    results, summary, report = _score_all(eval_id, evalset, [answers[k] for k in keys], metrics)
    errors = sum(1 for k in keys if answers[k].error)
    who = actor or default_actor()
    row = EvalRunRow(id=eval_id, job_name=target.job_name, provider=target.provider, model=target.model,
                     model_kind=target.kind, run_id=target.run_id, set_path=project_path(evalset.path),
                     set_sha256=evalset.sha256, examples=len(evalset.examples), errors=errors,
                     metrics=json.dumps({m.name: threshold(m) for m in metrics}), scores=json.dumps(summary),
                     report=json.dumps(report) if report else None, params=json.dumps(params, sort_keys=True),
                     inference_calls=len(todo), cached=sum(1 for k in keys if answers[k].cached),
                     input_tokens=in_tokens, output_tokens=out_tokens, cost_microusd=cost, actor=who,
                     created_at=started, finished_at=utcnow())
    with store.write() as s:
        s.add(row)
        s.flush()
        s.add_all(results)
        audit.append(s, "eval.completed", "eval", eval_id, job_name=target.job_name, actor=who, details={
            "provider": target.provider, "model": target.model, "run_id": target.run_id,
            "eval_set": row.set_path, "dataset_sha256": evalset.sha256, "scores": summary,
            "examples_scored": len(evalset.examples), "inference_calls": len(todo),
            "cached": row.cached, "cost_microusd": cost, "tokens": in_tokens + out_tokens,
            "error_message": f"{errors} example(s) failed" if errors else None})
    return row
