"""The TuningJob body tuneops sends to Vertex for one CreateRequest: pure, no network.

Gemini models take an epoch count, a learning-rate *multiplier* and an adapter size; open models
tuned on Vertex (``batchSize``, absolute ``learningRate``) are accepted only for non-Gemini base
models. Settings Vertex cannot express raise UnsupportedOperation, naming the setting.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tuneops.errors import UnsupportedOperation
from tuneops.provider import CreateRequest
from tuneops.providers.vertex.labels import DESCRIPTION_PREFIX, JOB_LABEL, KEY_LABEL, encode_key, label_value

SPEC_KEYS = {"sft": "supervisedTuningSpec", "dpo": "preferenceOptimizationSpec"}

ADAPTER_SIZES: dict[int, str] = {
    1: "ADAPTER_SIZE_ONE", 2: "ADAPTER_SIZE_TWO", 4: "ADAPTER_SIZE_FOUR", 8: "ADAPTER_SIZE_EIGHT",
    16: "ADAPTER_SIZE_SIXTEEN", 32: "ADAPTER_SIZE_THIRTY_TWO",
}

TUNING_MODES = {"full": "TUNING_MODE_FULL", "peft_adapter": "TUNING_MODE_PEFT_ADAPTER"}

MAX_DISPLAY_NAME = 128

# Fields the v1 API does not have (only v1beta1): a create using any of them must go to v1beta1,
# or Vertex rejects it (found by comparing the v1 and v1beta1 TuningJob references).
BETA_SPEC_FIELDS = ("tuningMode",)
BETA_HYPERPARAMETERS = ("learningRate", "batchSize")
BETA = "v1beta1"


def is_gemini(base_model: str) -> bool:
    """True for Google's Gemini models (``gemini-2.5-flash``, ``publishers/google/models/gemini-...``)."""
    return base_model.rsplit("/", 1)[-1].startswith("gemini")


def _refuse(name: str, why: str) -> UnsupportedOperation:
    return UnsupportedOperation(f"vertex cannot express hyperparameters.{name}: {why}")


def hyperparameters(request: CreateRequest, options: Mapping[str, Any]) -> dict[str, Any]:
    """The ``hyperParameters`` object for the request's method and base model."""
    hp = request.hyperparameters
    gemini = is_gemini(request.base_model)
    if hp.seed is not None:
        raise _refuse("seed", "tuning jobs take no seed; remove it from the spec")
    if hp.learning_rate is not None and gemini:
        raise _refuse("learning_rate", "Gemini tuning takes a learning-rate multiplier, not an absolute "
                                       "rate; set learning_rate_multiplier instead")
    if hp.learning_rate is not None and hp.learning_rate_multiplier is not None:
        raise _refuse("learning_rate", "set learning_rate or learning_rate_multiplier, not both")
    if hp.batch_size is not None and gemini:
        raise _refuse("batch_size", "Gemini tuning chooses the batch size itself; remove it")
    if hp.learning_rate is not None and request.method == "dpo":
        raise _refuse("learning_rate", "preference tuning takes only a learning-rate multiplier")
    params: dict[str, Any] = {}
    if hp.epochs is not None:
        params["epochCount"] = hp.epochs
    if hp.learning_rate_multiplier is not None:
        params["learningRateMultiplier"] = hp.learning_rate_multiplier
    if hp.learning_rate is not None:
        params["learningRate"] = hp.learning_rate
    if hp.batch_size is not None:
        params["batchSize"] = hp.batch_size
    if request.method == "dpo" and hp.beta is not None:
        params["beta"] = hp.beta
    size = options.get("adapter_size")
    if size is not None:
        if size not in ADAPTER_SIZES:
            raise UnsupportedOperation(f"options.vertex.adapter_size must be one of "
                                       f"{', '.join(map(str, ADAPTER_SIZES))}; got {size!r}")
        params["adapterSize"] = ADAPTER_SIZES[size]
    return params


def create_body(request: CreateRequest, options: Mapping[str, Any]) -> dict[str, Any]:
    """The TuningJob to POST for ``request`` (golden tests compare it)."""
    if request.method not in SPEC_KEYS:
        raise UnsupportedOperation(f"vertex does not support method {request.method!r}; use sft or dpo")
    spec: dict[str, Any] = {"trainingDatasetUri": request.training.provider_file_id}
    if request.validation is not None:
        spec["validationDatasetUri"] = request.validation.provider_file_id
    spec["hyperParameters"] = hyperparameters(request, options)
    if options.get("export_last_checkpoint_only") is not None:
        spec["exportLastCheckpointOnly"] = bool(options["export_last_checkpoint_only"])
    mode = options.get("tuning_mode")
    if mode is not None:
        if mode not in TUNING_MODES or request.method != "sft":
            raise UnsupportedOperation(f"options.vertex.tuning_mode must be one of {', '.join(TUNING_MODES)} "
                                       f"and applies to sft only; got {mode!r}")
        spec["tuningMode"] = TUNING_MODES[mode]
    display = request.suffix or request.job_name
    body: dict[str, Any] = {
        "baseModel": request.base_model,
        SPEC_KEYS[request.method]: spec,
        "tunedModelDisplayName": display[:MAX_DISPLAY_NAME],
        "description": f"{DESCRIPTION_PREFIX}{request.idempotency_key}\ntuneops job: {request.job_name}",
        "labels": {KEY_LABEL: encode_key(request.idempotency_key), JOB_LABEL: label_value(request.job_name)},
    }
    if options.get("kms_key_name"):
        body["encryptionSpec"] = {"kmsKeyName": str(options["kms_key_name"])}
    if options.get("service_account"):
        body["serviceAccount"] = str(options["service_account"])
    return body


def api_version(body: Mapping[str, Any], default: str) -> str:
    """The REST version a create body needs: v1beta1 when it uses a field only v1beta1 has, else ``default``."""
    for key in SPEC_KEYS.values():
        spec = body.get(key) or {}
        params = spec.get("hyperParameters") or {}
        if any(f in spec for f in BETA_SPEC_FIELDS) or any(f in params for f in BETA_HYPERPARAMETERS):
            return BETA
    return default
