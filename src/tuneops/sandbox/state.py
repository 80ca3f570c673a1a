"""Thread-safe in-memory state of a sandbox server: files, uploads, jobs, models, counters.

The sandbox is a local stand-in for the OpenAI fine-tuning API, not an LLM. Jobs do
not run in the background: every read derives their progress from the injectable
clock (see ``timeline``), and the first read that sees a job succeed materialises its
result file and registers its model.
"""

from __future__ import annotations

import random
import secrets
import string
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from .data import Message, Pair
from .files import FileRecord, FileStore
from .jobs import OWNER, JobRecord, ManualEvent, plan_training
from .jobspec import JobRequest
from .learner import BaseModelResponder
from .timeline import Phase, Timeline
from .wire import ApiError, bad_request, not_found

__all__ = ["BASE_MODELS", "Responder", "SandboxState"]

_ALPHABET = string.ascii_letters + string.digits
# Random characters per sandbox start at the end of every id: 62**8 starts before a repeat is likely.
_TOKEN_LENGTH = 8
# A fixed creation time keeps the base models' listing identical from run to run.
_BASE_CREATED = 1735689600  # 2025-01-01T00:00:00Z
_LEGACY_SHUTDOWN_DAYS = 20
_DESCRIPTION = "tuneops sandbox: a local stand-in for offline use and tests, not a language model"
BASE_MODELS = ("sandbox-mini", "sandbox-legacy")


class Responder(Protocol):
    """Anything that can answer a chat: a learner or a base-model stand-in."""

    def answer(self, messages: Iterable[Message]) -> str:
        """The reply to a conversation."""
        ...


@dataclass
class _ModelEntry:
    job_id: str
    created: int
    deleted: bool = False


@dataclass
class _Counters:
    requests: Counter[str] = field(default_factory=Counter)
    faults: Counter[str] = field(default_factory=Counter)


class SandboxState:
    """All mutable state of one sandbox server, guarded by one lock."""

    def __init__(self, *, clock: Callable[[], float] = time.time, time_scale: float = 1.0, seed: int = 0) -> None:
        if time_scale <= 0:
            raise ValueError("time_scale must be positive")
        self.clock = clock
        self.time_scale = time_scale
        self.seed = seed
        self.lock = threading.RLock()
        # OpenAI sends shutdown_date as a calendar date ("2026-01-31"), not a timestamp.
        shutdown = datetime.fromtimestamp(clock() + _LEGACY_SHUTDOWN_DAYS * 86400, tz=UTC)
        self.legacy_shutdown = shutdown.date().isoformat()
        self.counters = _Counters()
        self._clear()

    def _clear(self) -> None:
        self._rng = random.Random(self.seed)
        self._token = "".join(secrets.choice(_ALPHABET) for _ in range(_TOKEN_LENGTH))
        self.files = FileStore(self.new_id, self.clock, self.lock)
        self.jobs: dict[str, JobRecord] = {}
        self._active: set[str] = set()
        self._models: dict[str, _ModelEntry] = {}

    def reset(self) -> None:
        """Forget every file, upload, job, model and counter: as if freshly started (new ids, same seed)."""
        with self.lock:
            self._clear()
            self.counters = _Counters()

    def now(self) -> float:
        """The current (possibly injected) time."""
        return self.clock()

    def new_id(self, prefix: str, length: int = 24) -> str:
        """A fresh id such as ``file-AbC...`` that no other sandbox start (or reset) hands out.

        The last characters are this start's own random token, so a restarted sandbox never gives an
        old file, job or model id to new bytes (a client holding the old id gets a clean 404); the
        rest is seeded, so faults and training stay reproducible.
        """
        with self.lock:
            head = "".join(self._rng.choice(_ALPHABET) for _ in range(length - _TOKEN_LENGTH))
            return prefix + head + self._token

    # -- jobs -------------------------------------------------------------------------

    def refresh(self) -> None:
        """Materialise the results of jobs that finished since the last look."""
        with self.lock:
            now = self.now()
            for job_id in sorted(self._active):
                job = self.jobs[job_id]
                status = job.status(now)
                if status not in Phase.TERMINAL:
                    continue
                self._active.discard(job_id)
                if status == Phase.SUCCEEDED:
                    finished = int(job.finished_wall(now) or now)
                    self.files.put(
                        FileRecord(
                            id=job.result_file_id,
                            filename="step_metrics.csv",
                            purpose="fine-tune-results",
                            content=job.result_csv(),
                            created_at=finished,
                        )
                    )
                    self._models[job.fine_tuned_model] = _ModelEntry(job_id=job.id, created=finished)

    def _training_source(self, model: str) -> tuple[str, tuple[Pair, ...]]:
        if model in BASE_MODELS:
            return model, ()
        entry = self._models.get(model)
        if entry is None or entry.deleted:
            raise bad_request(
                f"Model '{model}' does not exist or cannot be fine-tuned. The sandbox fine-tunes "
                f"{', '.join(BASE_MODELS)} and models it produced.",
                param="model",
                code="model_not_found",
            )
        parent = self.jobs[entry.job_id]
        assert parent.outcome.learner is not None  # only succeeded jobs register models
        return parent.base_model, parent.outcome.learner.pairs

    def _fine_tune_file(self, file_id: str, param: str) -> bytes:
        record = self.files.files.get(file_id)
        if record is None or record.expired(self.now()):
            raise bad_request(
                f"Invalid {param}: no file with id '{file_id}' exists.", param=param, code="file_not_found"
            )
        if record.purpose != "fine-tune":
            raise bad_request(
                f"Invalid {param}: file '{file_id}' has purpose '{record.purpose}'; fine-tuning needs 'fine-tune'.",
                param=param,
                code="invalid_file_purpose",
            )
        return record.content

    def create_job(self, request: JobRequest) -> JobRecord:
        """Validate references, "train" and register a new job."""
        with self.lock:
            self.refresh()
            base, parent_pairs = self._training_source(request.model)
            training = self._fine_tune_file(request.training_file, "training_file")
            validation = None
            if request.validation_file:
                validation = self._fine_tune_file(request.validation_file, "validation_file")
            seed = request.seed if request.seed is not None else self._rng.randrange(2**31)
            job_id = self.new_id("ftjob-")
            result_file_id = self.new_id("file-", 22)
        # Training is the slow part (linear in the data); other requests need not wait for it.
        outcome = plan_training(request, seed=seed, training=training, validation=validation, parent_pairs=parent_pairs)
        with self.lock:
            now = self.now()
            timeline = Timeline(
                created=now,
                time_scale=self.time_scale,
                total_steps=len(outcome.curve),
                fails_validation=outcome.error is not None,
            )
            job = JobRecord(
                id=job_id,
                created_at=int(now),
                request=request,
                base_model=base,
                seed=seed,
                timeline=timeline,
                outcome=outcome,
                result_file_id=result_file_id,
            )
            self.jobs[job_id] = job
            self._active.add(job_id)
            return job

    def get_job(self, job_id: str) -> JobRecord:
        """A job by id, or 404."""
        with self.lock:
            self.refresh()
            job = self.jobs.get(job_id)
            if job is None:
                raise not_found("fine-tuning job", job_id, param="fine_tuning_job_id")
            return job

    def list_jobs(self, metadata: dict[str, str] | None = None) -> list[JobRecord]:
        """Jobs newest first, keeping those whose metadata contains every given pair."""
        with self.lock:
            self.refresh()
            jobs = list(self.jobs.values())[::-1]
        if metadata:
            jobs = [j for j in jobs if all((j.request.metadata or {}).get(k) == v for k, v in metadata.items())]
        return jobs

    def _transition(self, job_id: str, allowed: Iterable[str], action: str) -> tuple[JobRecord, float]:
        job = self.get_job(job_id)
        now = self.now()
        status = job.status(now)
        if status not in allowed:
            raise bad_request(
                f"Job {job_id} is {status} and cannot be {action}.",
                param="fine_tuning_job_id",
                code="invalid_job_state",
            )
        return job, now

    def cancel_job(self, job_id: str) -> JobRecord:
        """Cancel a job that has not finished."""
        with self.lock:
            allowed = (Phase.VALIDATING, Phase.QUEUED, Phase.RUNNING, Phase.PAUSED)
            job, now = self._transition(job_id, allowed, "cancelled")
            job.timeline.cancel(now)
            job.manual_events.append(ManualEvent(now, "cancelled", "Fine-tuning job cancelled"))
            self.refresh()
            return job

    def pause_job(self, job_id: str) -> JobRecord:
        """Pause a running job: its clock stops until it is resumed."""
        with self.lock:
            job, now = self._transition(job_id, (Phase.RUNNING,), "paused")
            job.timeline.pause(now)
            n = len(job.timeline.pauses)
            job.manual_events.append(ManualEvent(now, f"pause-{n}", "Fine-tuning job paused"))
            return job

    def resume_job(self, job_id: str) -> JobRecord:
        """Resume a paused job."""
        with self.lock:
            job, now = self._transition(job_id, (Phase.PAUSED,), "resumed")
            job.timeline.resume(now)
            n = len(job.timeline.pauses)
            job.manual_events.append(ManualEvent(now, f"resume-{n}", "Fine-tuning job resumed"))
            return job

    # -- models -----------------------------------------------------------------------

    def _base_model(self, model_id: str) -> dict[str, Any]:
        shutdown = self.legacy_shutdown if model_id == "sandbox-legacy" else None
        return {
            "id": model_id,
            "object": "model",
            "created": _BASE_CREATED,
            "owned_by": OWNER,
            "shutdown_date": shutdown,
            "description": f"{_DESCRIPTION}; an untrained base model with one fixed reply",
        }

    def _fine_tuned_model(self, model_id: str, entry: _ModelEntry) -> dict[str, Any]:
        job = self.jobs[entry.job_id]
        n = len(job.outcome.learner.pairs) if job.outcome.learner else 0
        return {
            "id": model_id,
            "object": "model",
            "created": entry.created,
            "owned_by": OWNER,
            "shutdown_date": None,
            "description": f"{_DESCRIPTION}; answers by nearest-neighbour retrieval over {n} examples",
        }

    def list_models(self) -> list[dict[str, Any]]:
        """Base models, then fine-tuned models in creation order."""
        with self.lock:
            self.refresh()
            models = [self._base_model(m) for m in BASE_MODELS]
            models += [self._fine_tuned_model(mid, e) for mid, e in self._models.items() if not e.deleted]
            return models

    def get_model(self, model_id: str) -> dict[str, Any]:
        """One model (base, fine-tuned or checkpoint), or 404."""
        with self.lock:
            self.refresh()
            if model_id in BASE_MODELS:
                return self._base_model(model_id)
            entry = self._models.get(model_id)
            if entry is not None and not entry.deleted:
                return self._fine_tuned_model(model_id, entry)
            job = self._checkpoint_job(model_id)
            if job is not None:
                return {
                    **self._fine_tuned_model(job.fine_tuned_model, _ModelEntry(job.id, job.created_at)),
                    "id": model_id,
                }
            raise _model_not_found(model_id)

    def delete_model(self, model_id: str) -> dict[str, Any]:
        """Delete a fine-tuned model (base models cannot be deleted)."""
        with self.lock:
            self.refresh()
            entry = self._models.get(model_id)
            if model_id in BASE_MODELS:
                raise ApiError(403, f"You cannot delete the base model '{model_id}'.", code="model_not_deletable")
            if entry is None or entry.deleted:
                raise _model_not_found(model_id)
            entry.deleted = True
            return {"id": model_id, "object": "model", "deleted": True}

    def _checkpoint_job(self, model_id: str) -> JobRecord | None:
        prefix, sep, step = model_id.rpartition(":ckpt-step-")
        if not sep or not step.isdigit():
            return None
        for job in self.jobs.values():
            if job.fine_tuned_model == prefix and int(step) in job.checkpoint_steps(self.now()):
                return job
        return None

    def responder(self, model_id: str) -> Responder:
        """Who answers chats for ``model_id``; 404 for models that do not exist."""
        with self.lock:
            self.refresh()
            if model_id in BASE_MODELS:
                return BaseModelResponder(model_id)
            entry = self._models.get(model_id)
            job = self.jobs[entry.job_id] if entry is not None and not entry.deleted else self._checkpoint_job(model_id)
            if job is None or job.outcome.learner is None:
                raise _model_not_found(model_id)
            return job.outcome.learner

    # -- stats ------------------------------------------------------------------------

    def count_request(self, key: str) -> None:
        """Count one API request under ``"METHOD /route/template"``."""
        with self.lock:
            self.counters.requests[key] += 1

    def count_fault(self, kind: str) -> None:
        """Count one injected fault."""
        with self.lock:
            self.counters.faults[kind] += 1

    def stats(self) -> dict[str, Any]:
        """Request counters and job counts for ``GET /_sandbox/stats``."""
        with self.lock:
            self.refresh()
            now = self.now()
            by_status = Counter(job.status(now) for job in self.jobs.values())
            return {
                "requests": dict(sorted(self.counters.requests.items())),
                "requests_total": sum(self.counters.requests.values()),
                "faults_injected": dict(sorted(self.counters.faults.items())),
                "jobs": len(self.jobs),
                "jobs_by_status": dict(sorted(by_status.items())),
                "files": len(self.files.files),
                "models": sum(1 for e in self._models.values() if not e.deleted),
                "time_scale": self.time_scale,
            }

    def reset_stats(self) -> None:
        """Zero the request and fault counters."""
        with self.lock:
            self.counters = _Counters()


def _model_not_found(model_id: str) -> ApiError:
    return ApiError(
        404,
        f"The model '{model_id}' does not exist or you do not have access to it.",
        param="model",
        code="model_not_found",
    )
