"""Sandbox fine-tuning jobs: planning the "training" and rendering OpenAI-shaped objects.

A job's whole outcome (validation error or learner, loss curve, tokens) is decided
when it is created; what a client sees at any moment is then derived from the
job's ``Timeline`` and the current time.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

from tuneops.datasets.billing import billed_tokens

from .curves import Hyperparameters, StepMetrics, build_curve, metrics_csv
from .data import DataError, Pair, parse_jsonl
from .jobspec import JobRequest, resolve_hyperparameters
from .learner import RetrievalLearner
from .timeline import Phase, Timeline

__all__ = ["JobRecord", "ManualEvent", "TrainingOutcome", "plan_training"]

ORGANIZATION_ID = "org-tuneops-sandbox"
OWNER = "tuneops-sandbox"


@dataclass(frozen=True)
class TrainingOutcome:
    """Everything a job will produce, decided at creation."""

    error: dict[str, Any] | None = None
    hyperparameters: Hyperparameters | None = None
    learner: RetrievalLearner | None = None
    curve: tuple[StepMetrics, ...] = ()
    steps_per_epoch: int = 0
    trained_tokens: int = 0


# Identical training requests (same bytes, method, hyperparameters and seed) train identically, so the
# sandbox reuses the outcome: resubmitting a job costs no re-"training" (tests submit hundreds).
_PLANS: OrderedDict[str, TrainingOutcome] = OrderedDict()
_PLANS_LOCK = threading.Lock()
_PLANS_MAX = 32


def plan_training(
    request: JobRequest,
    *,
    seed: int,
    training: bytes,
    validation: bytes | None,
    parent_pairs: tuple[Pair, ...] = (),
) -> TrainingOutcome:
    """Validate the data and "train" (memoized on everything that decides the outcome)."""
    key = hashlib.sha256(repr((
        hashlib.sha256(training).hexdigest(), validation and hashlib.sha256(validation).hexdigest(),
        request.method_type, repr(request.hyperparameters), seed, hash(parent_pairs),
    )).encode()).hexdigest()
    with _PLANS_LOCK:
        if key in _PLANS:
            _PLANS.move_to_end(key)
            return _PLANS[key]
    outcome = _plan_training(request, seed=seed, training=training, validation=validation,
                             parent_pairs=parent_pairs)
    with _PLANS_LOCK:
        _PLANS[key] = outcome
        while len(_PLANS) > _PLANS_MAX:
            _PLANS.popitem(last=False)
    return outcome


def _plan_training(
    request: JobRequest,
    *,
    seed: int,
    training: bytes,
    validation: bytes | None,
    parent_pairs: tuple[Pair, ...] = (),
) -> TrainingOutcome:
    """Validate the data and "train": build the learner and its loss curve."""
    try:
        parsed = parse_jsonl(training, method=request.method_type, purpose_label="training")
    except DataError as exc:
        return TrainingOutcome(error=_error(exc, "training_file", "invalid_training_file"))
    valid_pairs: tuple[Pair, ...] = ()
    if validation is not None:
        try:
            valid_pairs = parse_jsonl(validation, method=request.method_type, purpose_label="validation").pairs
        except DataError as exc:
            return TrainingOutcome(error=_error(exc, "validation_file", "invalid_validation_file"))
    # Continuing from a fine-tuned model keeps what the parent learned.
    learner = RetrievalLearner(parent_pairs + parsed.pairs)
    hp = resolve_hyperparameters(request.hyperparameters, n_pairs=parsed.n_examples, method_type=request.method_type)
    offset = len(parent_pairs)
    curve = build_curve(
        learner,
        hp,
        seed=seed,
        n_examples=parsed.n_examples,
        train_indices=range(offset, offset + len(parsed.pairs)),
        validation=valid_pairs,
    )
    return TrainingOutcome(
        hyperparameters=hp,
        learner=learner,
        curve=tuple(curve),
        steps_per_epoch=hp.steps_per_epoch(parsed.n_examples),
        # Counted as `tuneops estimate` counts (same tokenizer and recipe), as a provider would bill.
        trained_tokens=billed_tokens(training, request.model) * hp.n_epochs,
    )


def _error(exc: DataError, param: str, default_code: str) -> dict[str, Any]:
    return {"code": exc.code or default_code, "message": str(exc), "param": param}


@dataclass(frozen=True)
class ManualEvent:
    """An event caused by a client call (pause, resume, cancel) rather than by the timeline."""

    wall: float
    key: str
    message: str


def _object_id(prefix: str, *parts: object) -> str:
    digest = hashlib.blake2b(":".join(map(str, parts)).encode(), digest_size=12).hexdigest()
    return f"{prefix}-{digest}"


@dataclass
class JobRecord:
    """One fine-tuning job and everything needed to render it at any time."""

    id: str
    created_at: int
    request: JobRequest
    base_model: str
    seed: int
    timeline: Timeline
    outcome: TrainingOutcome
    result_file_id: str
    manual_events: list[ManualEvent] = field(default_factory=list)

    @property
    def fine_tuned_model(self) -> str:
        """The model id this job produces if it succeeds."""
        # The id's last 16 characters: 8 drawn per sandbox start, so no restart repeats a model id.
        return f"ft:{self.base_model}:{OWNER}:{self.request.suffix or ''}:{self.id[-16:]}"

    def checkpoint_model(self, step: int) -> str:
        """The model id of the checkpoint taken after ``step``."""
        return f"{self.fine_tuned_model}:ckpt-step-{step}"

    def status(self, now: float) -> str:
        """Status at wall-clock time ``now``."""
        return self.timeline.status(now)

    def finished_wall(self, now: float) -> float | None:
        """When the job reached a terminal status, if it has."""
        status = self.status(now)
        if status == Phase.CANCELLED:
            return self.timeline.cancelled
        if status in (Phase.SUCCEEDED, Phase.FAILED):
            return self.timeline.wall_at(self.timeline.finished_at)
        return None

    def _hyperparameters(self, resolved: bool) -> dict[str, Any]:
        hp = self.outcome.hyperparameters
        if resolved and hp is not None:
            out: dict[str, Any] = {
                "batch_size": hp.batch_size,
                "learning_rate_multiplier": hp.learning_rate_multiplier,
                "n_epochs": hp.n_epochs,
            }
            if hp.beta is not None:
                out["beta"] = hp.beta
            return out
        names = ["batch_size", "learning_rate_multiplier", "n_epochs"]
        if self.request.method_type == "dpo":
            names.append("beta")
        return {n: self.request.hyperparameters.get(n, "auto") for n in names}

    def to_api(self, now: float) -> dict[str, Any]:
        """The ``fine_tuning.job`` object as OpenAI returns it."""
        tl, status = self.timeline, self.status(now)
        # Like OpenAI, "auto" values are replaced by real ones once the files are validated.
        resolved = tl.progress(now) >= tl.validated_at and self.outcome.error is None
        hp = self._hyperparameters(resolved)
        top_level_hp = {k: v for k, v in hp.items() if k != "beta"}
        finished = self.finished_wall(now)
        estimated = None
        if status in (Phase.QUEUED, Phase.RUNNING):
            estimated = int(now + (tl.finished_at - tl.progress(now)) / tl.time_scale)
        succeeded = status == Phase.SUCCEEDED
        kind = self.request.method_type
        return {
            "id": self.id,
            "object": "fine_tuning.job",
            "created_at": self.created_at,
            "model": self.request.model,
            "organization_id": ORGANIZATION_ID,
            "status": status,
            "training_file": self.request.training_file,
            "validation_file": self.request.validation_file,
            "fine_tuned_model": self.fine_tuned_model if succeeded else None,
            "finished_at": int(finished) if finished is not None else None,
            "estimated_finish": estimated,
            "error": self.outcome.error if status == Phase.FAILED else None,
            "result_files": [self.result_file_id] if succeeded else [],
            "trained_tokens": self.outcome.trained_tokens if succeeded else None,
            "seed": self.seed,
            "user_provided_suffix": self.request.suffix,
            "metadata": self.request.metadata,
            "integrations": self.request.integrations,
            "hyperparameters": top_level_hp,
            "method": {"type": kind, kind: {"hyperparameters": hp}},
        }

    def _timeline_events(self) -> list[tuple[float, str, str, str, dict[str, Any] | None]]:
        """(progress, key, level, message, metrics data) for everything the timeline produces."""
        tl, req, out = self.timeline, self.request, self.outcome
        files = f"training file: {req.training_file}"
        if req.validation_file:
            files += f", validation file: {req.validation_file}"
        events: list[tuple[float, str, str, str, dict[str, Any] | None]] = [
            (0.0, "created", "info", f"Created fine-tuning job: {self.id}", None),
            (0.0, "validating", "info", f"Validating {files}", None),
        ]
        if out.error is not None:
            events.append((tl.validated_at, "failed", "error", f"Fine-tuning job failed: {out.error['message']}", None))
            return events
        events.append((tl.validated_at, "validated", "info", "Files validated, moving job to queued state", None))
        events.append((tl.started_at, "started", "info", "Fine-tuning job started", None))
        total = len(out.curve)
        for m in out.curve:
            at = tl.step_at(m.step)
            data: dict[str, Any] = {
                "step": m.step,
                "train_loss": m.train_loss,
                "train_mean_token_accuracy": m.train_mean_token_accuracy,
                "total_steps": total,
            }
            text = f"Step {m.step}/{total}: training loss={m.train_loss:.4f}"
            if m.valid_loss is not None:
                data["valid_loss"] = m.valid_loss
                data["valid_mean_token_accuracy"] = m.valid_mean_token_accuracy
                text += f", validation loss={m.valid_loss:.4f}"
            events.append((at, f"step-{m.step}", "info", text, data))
            if m.step % out.steps_per_epoch == 0:
                events.append((at, f"ckpt-{m.step}", "info", f"Checkpoint created at step {m.step}", None))
        events.append((tl.finished_at, "model", "info", f"New fine-tuned model created: {self.fine_tuned_model}", None))
        events.append((tl.finished_at, "succeeded", "info", "The job has successfully completed", None))
        return events

    def events(self, now: float) -> list[dict[str, Any]]:
        """Events visible at ``now``, newest first as OpenAI lists them."""
        progress = self.timeline.progress(now)
        rows: list[tuple[float, int, int, str, str, str, dict[str, Any] | None]] = []
        for seq, (at, key, level, message, data) in enumerate(self._timeline_events()):
            if at <= progress:
                rows.append((self.timeline.wall_at(at), 0, seq, key, level, message, data))
        for seq, ev in enumerate(self.manual_events):
            if ev.wall <= now:
                rows.append((ev.wall, 1, seq, ev.key, "info", ev.message, None))
        rows.sort(key=lambda r: (r[0], r[1], r[2]))
        return [
            {
                "id": _object_id("ftevent", self.id, key),
                "object": "fine_tuning.job.event",
                "created_at": int(wall),
                "level": level,
                "message": message,
                "data": data if data is not None else {},
                "type": "metrics" if data is not None else "message",
            }
            for wall, _, _, key, level, message, data in reversed(rows)
        ]

    def checkpoints(self, now: float) -> list[dict[str, Any]]:
        """One checkpoint per completed epoch, newest first."""
        out, tl = self.outcome, self.timeline
        done = tl.steps_done(now)
        result = []
        for m in out.curve:
            if m.step > done or m.step % out.steps_per_epoch:
                continue
            metrics = {
                "step": m.step,
                "train_loss": m.train_loss,
                "train_mean_token_accuracy": m.train_mean_token_accuracy,
                "valid_loss": m.valid_loss,
                "valid_mean_token_accuracy": m.valid_mean_token_accuracy,
                "full_valid_loss": m.valid_loss,
                "full_valid_mean_token_accuracy": m.valid_mean_token_accuracy,
            }
            result.append(
                {
                    "id": _object_id("ftckpt", self.id, m.step),
                    "object": "fine_tuning.job.checkpoint",
                    "created_at": int(tl.wall_at(tl.step_at(m.step))),
                    "fine_tuned_model_checkpoint": self.checkpoint_model(m.step),
                    "fine_tuning_job_id": self.id,
                    "step_number": m.step,
                    "metrics": metrics,
                }
            )
        return result[::-1]

    def checkpoint_steps(self, now: float) -> list[int]:
        """Steps at which checkpoints exist by ``now``."""
        return [c["step_number"] for c in self.checkpoints(now)]

    def result_csv(self) -> bytes:
        """The step-metrics CSV placed in ``result_files`` on success."""
        return metrics_csv(self.outcome.curve)
