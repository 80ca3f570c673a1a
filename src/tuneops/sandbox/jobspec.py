"""Validation of ``POST /v1/fine_tuning/jobs`` bodies, with OpenAI-style 400 errors."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from .curves import Hyperparameters
from .wire import bad_request

__all__ = ["JobRequest", "parse_job_request", "resolve_hyperparameters", "validate_metadata"]

_KNOWN_FIELDS = frozenset(
    {
        "model",
        "training_file",
        "validation_file",
        "suffix",
        "seed",
        "metadata",
        "method",
        "hyperparameters",
        "integrations",
    }
)
_SUFFIX_RE = re.compile(r"[A-Za-z0-9._-]{0,64}\Z")
# (kind, low, high) per hyperparameter; "auto" is always accepted.
_HP_RULES: dict[str, tuple[type, float, float]] = {
    "batch_size": (int, 1, 256),
    "n_epochs": (int, 1, 50),
    "learning_rate_multiplier": (float, 1e-6, 10.0),
    "beta": (float, 1e-6, 2.0),
}
MAX_METADATA_PAIRS = 16
MAX_METADATA_KEY = 64
MAX_METADATA_VALUE = 512


@dataclass(frozen=True)
class JobRequest:
    """A validated job-creation request."""

    model: str
    training_file: str
    validation_file: str | None = None
    suffix: str | None = None
    seed: int | None = None
    metadata: dict[str, str] | None = None
    method_type: str = "supervised"
    hyperparameters: dict[str, Any] = field(default_factory=dict)
    integrations: list[dict[str, Any]] | None = None


def _required_str(body: dict[str, Any], name: str) -> str:
    value = body.get(name)
    if value is None:
        raise bad_request(f"Missing required parameter: '{name}'.", param=name, code="missing_required_parameter")
    if not isinstance(value, str) or not value:
        raise bad_request(f"Invalid '{name}': expected a non-empty string.", param=name, code="invalid_type")
    return value


def validate_metadata(metadata: object) -> dict[str, str] | None:
    """Check metadata against OpenAI's limits: 16 pairs, keys up to 64 and values up to 512 characters."""
    if metadata is None:
        return None
    if not isinstance(metadata, dict):
        raise bad_request("Invalid 'metadata': expected an object.", param="metadata", code="invalid_type")
    if len(metadata) > MAX_METADATA_PAIRS:
        raise bad_request(
            f"Invalid 'metadata': too many properties. Expected an object with at most {MAX_METADATA_PAIRS} "
            f"properties, but got an object with {len(metadata)} properties instead.",
            param="metadata",
            code="object_above_max_properties",
        )
    for key, value in metadata.items():
        if len(key) > MAX_METADATA_KEY:
            raise bad_request(
                f"Invalid 'metadata': key {key[:20]!r}... is {len(key)} characters long; "
                f"keys can be at most {MAX_METADATA_KEY} characters.",
                param="metadata",
                code="string_above_max_length",
            )
        if not isinstance(value, str):
            raise bad_request(
                f"Invalid 'metadata.{key}': expected a string, got {type(value).__name__}.",
                param=f"metadata.{key}",
                code="invalid_type",
            )
        if len(value) > MAX_METADATA_VALUE:
            raise bad_request(
                f"Invalid 'metadata.{key}': string too long. Expected a string with maximum length "
                f"{MAX_METADATA_VALUE}, but got a string with length {len(value)} instead.",
                param=f"metadata.{key}",
                code="string_above_max_length",
            )
    return dict(metadata)


def _hyperparameters(raw: object, *, param: str, method_type: str) -> dict[str, Any]:
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise bad_request(f"Invalid '{param}': expected an object.", param=param, code="invalid_type")
    out: dict[str, Any] = {}
    for name, value in raw.items():
        if name not in _HP_RULES or (name == "beta" and method_type != "dpo"):
            raise bad_request(
                f"Unknown parameter: '{param}.{name}'.", param=f"{param}.{name}", code="unknown_parameter"
            )
        if value == "auto":
            out[name] = "auto"
            continue
        kind, low, high = _HP_RULES[name]
        ok_type = isinstance(value, int) if kind is int else isinstance(value, int | float)
        if isinstance(value, bool) or not ok_type or not low <= value <= high:
            raise bad_request(
                f"Invalid '{param}.{name}': expected \"auto\" or a {kind.__name__} from {low:g} to {high:g}, "
                f"got {value!r}.",
                param=f"{param}.{name}",
                code="invalid_value",
            )
        out[name] = kind(value)
    return out


def _method(body: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    method, legacy = body.get("method"), body.get("hyperparameters")
    if method is None:
        return "supervised", _hyperparameters(legacy, param="hyperparameters", method_type="supervised")
    if not isinstance(method, dict):
        raise bad_request("Invalid 'method': expected an object.", param="method", code="invalid_type")
    kind = method.get("type")
    if kind == "reinforcement":
        raise bad_request(
            "Reinforcement fine-tuning is not supported by the tuneops sandbox; use 'supervised' or 'dpo'.",
            param="method.type",
            code="unsupported_value",
        )
    if kind not in ("supervised", "dpo"):
        raise bad_request(
            f"Invalid 'method.type': expected 'supervised' or 'dpo', got {kind!r}.",
            param="method.type",
            code="invalid_value",
        )
    if legacy is not None:
        raise bad_request(
            "Specify hyperparameters either in 'method' or in the deprecated top-level 'hyperparameters', not both.",
            param="hyperparameters",
        )
    section = method.get(kind) or {}
    if not isinstance(section, dict):
        raise bad_request(f"Invalid 'method.{kind}': expected an object.", param=f"method.{kind}")
    hp = _hyperparameters(section.get("hyperparameters"), param=f"method.{kind}.hyperparameters", method_type=kind)
    return kind, hp


def _integrations(raw: object) -> list[dict[str, Any]] | None:
    if raw is None:
        return None
    if not isinstance(raw, list):
        raise bad_request("Invalid 'integrations': expected an array.", param="integrations", code="invalid_type")
    for idx, item in enumerate(raw):
        wandb = item.get("wandb") if isinstance(item, dict) else None
        if not isinstance(item, dict) or item.get("type") != "wandb":
            raise bad_request(f"Invalid 'integrations[{idx}].type': only 'wandb' is supported.", param="integrations")
        if not isinstance(wandb, dict) or not isinstance(wandb.get("project"), str):
            raise bad_request(
                f"Missing required parameter: 'integrations[{idx}].wandb.project'.",
                param="integrations",
                code="missing_required_parameter",
            )
    return list(raw)


def parse_job_request(body: dict[str, Any]) -> JobRequest:
    """Validate a create-job body; raises ApiError (400) on the first problem."""
    for name in body:
        if name not in _KNOWN_FIELDS:
            raise bad_request(f"Unrecognized request argument supplied: {name}", param=name, code="unknown_parameter")
    model = _required_str(body, "model")
    training_file = _required_str(body, "training_file")
    validation_file = body.get("validation_file")
    if validation_file is not None and (not isinstance(validation_file, str) or not validation_file):
        raise bad_request("Invalid 'validation_file': expected a file id.", param="validation_file")
    suffix = body.get("suffix")
    if suffix is not None and not (isinstance(suffix, str) and _SUFFIX_RE.match(suffix)):
        raise bad_request(
            "Invalid 'suffix': use at most 64 letters, digits, '.', '_' or '-'.",
            param="suffix",
            code="invalid_value",
        )
    seed = body.get("seed")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed <= 2**31 - 1):
        raise bad_request("Invalid 'seed': expected an integer from 0 to 2147483647.", param="seed")
    method_type, hp = _method(body)
    return JobRequest(
        model=model,
        training_file=training_file,
        validation_file=validation_file,
        suffix=suffix or None,
        seed=seed,
        metadata=validate_metadata(body.get("metadata")),
        method_type=method_type,
        hyperparameters=hp,
        integrations=_integrations(body.get("integrations")),
    )


def resolve_hyperparameters(requested: dict[str, Any], *, n_pairs: int, method_type: str) -> Hyperparameters:
    """Replace "auto" (or absent) values with the sandbox's choices for this dataset size."""

    def pick(name: str, auto: float) -> Any:
        value = requested.get(name, "auto")
        return auto if value == "auto" else value

    # Like OpenAI, small datasets get small batches; a few hundred examples get 8.
    return Hyperparameters(
        batch_size=int(pick("batch_size", max(1, min(8, n_pairs // 10)))),
        n_epochs=int(pick("n_epochs", 3)),
        learning_rate_multiplier=float(pick("learning_rate_multiplier", 2.0)),
        beta=float(pick("beta", 0.1)) if method_type == "dpo" else None,
    )
