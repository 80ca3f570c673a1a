"""Intent: what a user means by submitting a spec, as one key, and what ``submit`` does about it.

A run's intent is (job name, the spec content that affects training, the dataset snapshots' sha256s,
provider, provider location, base model). Descriptions, eval sets, promotion and retrain rules, notify
targets and budgets do not change what is trained, so editing them is not a new intent. The ledger
holds at most one unfinished run per intent (a unique index on the run table), which is the claim
concurrent submits race for.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tuneops.datasets.snapshot import DatasetSnapshot
    from tuneops.economics import Estimate
    from tuneops.provider import Provider
    from tuneops.spec import JobSpec, LoadedSpec
    from tuneops.store.tables import RunRow

# What `submit` did with an intent: the words the CLI prints.
NEW, RESUMED, ATTACHED, NO_CHANGES, REJECTED = "new", "resumed", "attached", "no changes", "rejected"


def training_content(spec: JobSpec) -> dict[str, Any]:
    """The parts of a spec that change what a provider trains (data enters through its sha256s)."""
    return {"method": spec.method, "base_model": spec.model.base, "suffix": spec.model.suffix,
            "hyperparameters": spec.hyperparameters.model_dump(mode="json"),
            "options": spec.provider_options()}


def intent_key(spec: JobSpec, provider: str, location: str, train_sha256: str,
               validation_sha256: str | None) -> str:
    """The sha256 naming one intent."""
    doc = {"job": spec.name, "training": training_content(spec), "provider": provider,
           "location": location, "train_sha256": train_sha256, "validation_sha256": validation_sha256}
    return hashlib.sha256(json.dumps(doc, sort_keys=True, default=str).encode()).hexdigest()


@dataclass
class Prepared:
    """Everything a submission needs before it writes anything: the adapter, the prepared data, the
    estimate and the intent key."""

    loaded: LoadedSpec
    spec: JobSpec
    adapter: Provider
    snapshot: DatasetSnapshot
    estimate: Estimate
    intent: str

    @property
    def location(self) -> str:
        """Where the provider keeps this run's files and job."""
        return self.adapter.location()


@dataclass
class SubmitOutcome:
    """What ``submit`` did: the run it started, resumed or found, and how (NEW, RESUMED, ...)."""

    run: RunRow | None
    how: str
    prepared: Prepared
    note: str = ""


def describe(outcome: SubmitOutcome) -> str:
    """One line for the user: what happened to which run and, where it matters, what to do next."""
    run = outcome.run
    if run is None:
        return outcome.note
    spec_path = outcome.prepared.loaded.path
    if outcome.how == NO_CHANGES:
        return (f"no changes: run {run.id} already trained this spec with this data at {run.provider} "
                f"(model {run.model_id}); to train again on purpose: tuneops submit {spec_path} --again "
                "--reason TEXT")
    if outcome.how == REJECTED:
        reason = run.error_message or run.error_code or "no reason given"
        return (f"run {run.id} of this spec and data failed at {run.provider}: {reason}. Change the spec or "
                f"the data, or try the same again on purpose: tuneops submit {spec_path} --again --reason TEXT")
    if outcome.how == RESUMED:
        return f"resuming run {run.id} (same spec and data, not finished; same idempotency key)"
    if outcome.how == ATTACHED:
        return f"attached to run {run.id} (same spec and data, already in flight)"
    return ""
