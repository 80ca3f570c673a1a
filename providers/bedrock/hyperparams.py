"""Per-model-family Bedrock hyperparameters and data formats, as data, with validation.

Bedrock takes hyperparameters as a map of strings whose names and ranges depend on the base model.
Each family below lists what the AWS user guide documents (docs.aws.amazon.com/bedrock/latest/
userguide/custom-models-hp.html and the per-model pages, read 2025): names, types and inclusive
ranges. Unknown names and out-of-range values are refused before anything is sent. Where the guide
and the Nova guide disagree (Nova warm-up steps: 0-100 vs 0-20) the Bedrock page wins; a range that
is too wide costs only a rejected create, never a job.

Portable names map onto Bedrock names: epochs -> epochCount, batch_size -> batchSize,
learning_rate -> learningRate, learning_rate_multiplier -> learningRateMultiplier. Any other
documented name goes in ``options.bedrock.hyperparameters``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from tuneops.errors import UnsupportedOperation
from tuneops.provider import Hyperparameters

CONVERSATION = "bedrock_conversation"
PROMPT_COMPLETION = "bedrock_prompt_completion"


@dataclass(frozen=True)
class Param:
    """One documented hyperparameter: its type and inclusive range."""

    kind: Literal["int", "float"]
    low: float
    high: float
    default: float | None = None


@dataclass(frozen=True)
class Family:
    """Base models that share hyperparameters and accepted data formats."""

    name: str
    prefixes: tuple[str, ...]
    formats: tuple[str, ...]
    params: Mapping[str, Param] = field(default_factory=dict)


_LLAMA = {"epochCount": Param("int", 1, 10, 5), "batchSize": Param("int", 1, 1, 1),
          "learningRate": Param("float", 5e-6, 0.1, 1e-4)}

FAMILIES: tuple[Family, ...] = (
    Family("Amazon Nova (Micro, Lite, Pro)", ("amazon.nova-micro", "amazon.nova-lite", "amazon.nova-pro"),
           (CONVERSATION,),
           {"epochCount": Param("int", 1, 5, 2), "learningRate": Param("float", 1e-6, 1e-4, 1e-5),
            "learningRateWarmupSteps": Param("int", 0, 100, 10)}),
    Family("Amazon Titan Text Premier", ("amazon.titan-text-premier",), (PROMPT_COMPLETION,),
           {"epochCount": Param("int", 1, 5, 2), "batchSize": Param("int", 1, 1, 1),
            "learningRate": Param("float", 1e-7, 1e-5, 1e-6),
            "learningRateWarmupSteps": Param("int", 0, 20, 5)}),
    Family("Amazon Titan Text Lite/Express", ("amazon.titan-text-lite", "amazon.titan-text-express"),
           (PROMPT_COMPLETION,),
           {"epochCount": Param("int", 1, 10, 5), "batchSize": Param("int", 1, 64, 1),
            "learningRate": Param("float", 0.0, 1.0, 1e-5),
            "learningRateWarmupSteps": Param("int", 0, 250, 5)}),
    # Claude 3 Haiku is the one family that takes a multiplier rather than an absolute rate.
    Family("Anthropic Claude 3 Haiku", ("anthropic.claude-3-haiku",), (CONVERSATION,),
           {"epochCount": Param("int", 1, 10, 2), "batchSize": Param("int", 4, 256, 32),
            "learningRateMultiplier": Param("float", 0.1, 2.0, 1.0),
            "earlyStoppingThreshold": Param("float", 0.0, 0.1, 0.001),
            "earlyStoppingPatience": Param("int", 1, 10, 2)}),
    # Llama 3.x accepts both conversational and prompt/completion records (AWS text-data guide).
    Family("Meta Llama 3.1/3.2", ("meta.llama3-1", "meta.llama3-2"), (CONVERSATION, PROMPT_COMPLETION), _LLAMA),
    Family("Meta Llama 2", ("meta.llama2",), (PROMPT_COMPLETION,), _LLAMA),
)

PORTABLE = {"epochs": "epochCount", "batch_size": "batchSize", "learning_rate": "learningRate",
            "learning_rate_multiplier": "learningRateMultiplier"}


def model_id(base_model: str) -> str:
    """The foundation-model id inside an ARN (``arn:...:foundation-model/amazon.nova-micro-v1:0``)."""
    return base_model.split("foundation-model/", 1)[-1]


def family_of(base_model: str) -> Family | None:
    """The family a base model belongs to, or None when tuneops has no table for it."""
    mid = model_id(base_model)
    for family in FAMILIES:
        if mid.startswith(family.prefixes):
            return family
    return None


def _format(name: str, param: Param, value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise UnsupportedOperation(f"bedrock hyperparameter {name} must be a number; got {value!r}")
    if param.kind == "int" and float(value) != int(value):
        raise UnsupportedOperation(f"bedrock hyperparameter {name} must be a whole number; got {value!r}")
    if not param.low <= value <= param.high:
        raise UnsupportedOperation(f"bedrock hyperparameter {name}={value} is out of range; "
                                   f"allowed {param.low:g} to {param.high:g}")
    # Bedrock wants strings; ints without a decimal point, floats in shortest round-trip form.
    return str(int(value)) if param.kind == "int" else repr(float(value))


def hyperparameters(base_model: str, hp: Hyperparameters, extra: Mapping[str, Any] | None = None) -> dict[str, str]:
    """The validated ``hyperParameters`` string map for ``base_model``."""
    if hp.seed is not None:
        raise UnsupportedOperation("bedrock customization jobs take no seed; remove hyperparameters.seed")
    if hp.beta is not None:
        raise UnsupportedOperation("bedrock fine-tuning has no preference (DPO) beta; remove hyperparameters.beta")
    wanted: dict[str, Any] = {}
    for portable, native in PORTABLE.items():
        value = getattr(hp, portable)
        if value is not None:
            wanted[native] = (f"hyperparameters.{portable}", value)
    for native, value in (extra or {}).items():
        if native in wanted:
            raise UnsupportedOperation(f"bedrock hyperparameter {native} is set twice: as "
                                       f"{wanted[native][0]} and in options.bedrock.hyperparameters")
        wanted[native] = (f"options.bedrock.hyperparameters.{native}", value)
    if not wanted:
        return {}
    family = family_of(base_model)
    if family is None:
        known = "; ".join(f"{f.name} ({', '.join(f.prefixes)})" for f in FAMILIES)
        raise UnsupportedOperation(f"tuneops has no hyperparameter table for bedrock base model {base_model!r}, "
                                   f"so it cannot check the values; remove the hyperparameters to use the "
                                   f"model's defaults, or use a known family: {known}")
    out: dict[str, str] = {}
    for native, (source, value) in wanted.items():
        param = family.params.get(native)
        if param is None:
            hint = (" (this family takes learningRateMultiplier: set learning_rate_multiplier)"
                    if native == "learningRate" and "learningRateMultiplier" in family.params else
                    " (this family takes an absolute learningRate: set learning_rate)"
                    if native == "learningRateMultiplier" and "learningRate" in family.params else "")
            raise UnsupportedOperation(f"{family.name} on bedrock does not take {native} (from {source}){hint}; "
                                       f"it takes {', '.join(family.params)}")
        out[native] = _format(native, param, value)
    return out
