"""The fine-tuning create body of the OpenAI family, built purely from a CreateRequest.

Every setting the API cannot express (an absolute learning rate, beta outside DPO, a suffix over the
limit, metadata over OpenAI's limits, a W&B key in the spec) raises UnsupportedOperation here, so
admission refuses it before anything is written or sent.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tuneops.errors import UnsupportedOperation
from tuneops.provider import CreateRequest

# Metadata keys carrying the run's idempotency key and job name; the list endpoint filters on them.
KEY_FIELD = "tuneops_key"
JOB_FIELD = "tuneops_job"

METHOD_TYPES = {"sft": "supervised", "dpo": "dpo"}

# OpenAI's documented metadata limits (also enforced by the API with a 400).
MAX_METADATA_PAIRS = 16
MAX_METADATA_KEY = 64
MAX_METADATA_VALUE = 512

# The W&B integration fields OpenAI accepts; the W&B API key is configured at OpenAI, not sent.
WANDB_FIELDS = frozenset({"project", "entity", "name", "tags"})


def method_block(provider: str, request: CreateRequest, methods: frozenset[str]) -> dict[str, Any]:
    """``{"type": ..., <type>: {"hyperparameters": {...}}}`` from the portable hyperparameters."""
    hp = request.hyperparameters
    if request.method not in methods:
        raise UnsupportedOperation(f"{provider} does not support method {request.method!r}; "
                                   f"it supports {', '.join(sorted(methods))}")
    if hp.learning_rate is not None:
        raise UnsupportedOperation(
            f"{provider} takes a learning-rate multiplier, not an absolute learning rate; "
            "set hyperparameters.learning_rate_multiplier instead of learning_rate")
    if hp.beta is not None and request.method != "dpo":
        raise UnsupportedOperation(f"{provider}: beta applies to DPO only; remove hyperparameters.beta "
                                   "or set method = \"dpo\"")
    params: dict[str, Any] = {}
    if hp.epochs is not None:
        params["n_epochs"] = hp.epochs
    if hp.batch_size is not None:
        params["batch_size"] = hp.batch_size
    if hp.learning_rate_multiplier is not None:
        params["learning_rate_multiplier"] = hp.learning_rate_multiplier
    if hp.beta is not None:
        params["beta"] = hp.beta
    kind = METHOD_TYPES[request.method]
    return {"type": kind, kind: {"hyperparameters": params}}


def metadata(provider: str, request: CreateRequest) -> dict[str, str]:
    """Our two tags plus the spec's ``options.<provider>.metadata``, checked against OpenAI's limits."""
    extra = request.options.get("metadata") or {}
    if not isinstance(extra, Mapping):
        raise UnsupportedOperation(f"options.{provider}.metadata must be a table of strings")
    out = {KEY_FIELD: request.idempotency_key, JOB_FIELD: request.job_name[:MAX_METADATA_VALUE]}
    for key, value in extra.items():
        if key in out:
            raise UnsupportedOperation(f"options.{provider}.metadata.{key} is reserved by tuneops")
        if not isinstance(value, str):
            raise UnsupportedOperation(f"options.{provider}.metadata.{key} must be a string "
                                       f"(got {type(value).__name__}); quote it in the spec")
        if len(key) > MAX_METADATA_KEY or len(value) > MAX_METADATA_VALUE:
            raise UnsupportedOperation(
                f"options.{provider}.metadata.{key}: keys may have {MAX_METADATA_KEY} characters and "
                f"values {MAX_METADATA_VALUE}")
        out[str(key)] = value
    if len(out) > MAX_METADATA_PAIRS:
        raise UnsupportedOperation(
            f"options.{provider}.metadata has {len(extra)} pairs; {provider} allows {MAX_METADATA_PAIRS} "
            f"in all and tuneops uses 2 (so at most {MAX_METADATA_PAIRS - 2})")
    return out


def integrations(provider: str, request: CreateRequest) -> list[dict[str, Any]] | None:
    """The W&B integration from ``options.<provider>.wandb``, or None."""
    wandb = request.options.get("wandb")
    if not wandb:
        return None
    if not isinstance(wandb, Mapping) or not wandb.get("project"):
        raise UnsupportedOperation(f"options.{provider}.wandb needs at least project = \"...\"")
    unknown = sorted(set(wandb) - WANDB_FIELDS)
    if unknown:
        raise UnsupportedOperation(
            f"options.{provider}.wandb: unknown field(s) {', '.join(unknown)}; allowed: "
            f"{', '.join(sorted(WANDB_FIELDS))}. The W&B API key is set once in the {provider} "
            "dashboard, never in a spec")
    return [{"type": "wandb", "wandb": {k: (list(v) if k == "tags" else v) for k, v in wandb.items()}}]


def create_body(provider: str, request: CreateRequest, *, model: str, methods: frozenset[str],
                max_suffix: int) -> dict[str, Any]:
    """The whole create body; pure, and exactly what ``create`` sends."""
    body: dict[str, Any] = {
        "model": model,
        "training_file": request.training.provider_file_id,
        "method": method_block(provider, request, methods),
        "metadata": metadata(provider, request),
    }
    if request.validation is not None:
        body["validation_file"] = request.validation.provider_file_id
    if request.suffix:
        if len(request.suffix) > max_suffix:
            raise UnsupportedOperation(f"{provider}: model.suffix {request.suffix!r} has "
                                       f"{len(request.suffix)} characters; the limit is {max_suffix}")
        body["suffix"] = request.suffix
    if request.hyperparameters.seed is not None:
        body["seed"] = request.hyperparameters.seed
    wandb = integrations(provider, request)
    if wandb:
        body["integrations"] = wandb
    return body
