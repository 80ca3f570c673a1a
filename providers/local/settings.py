"""What a local job trains with: ``[hyperparameters]`` and ``[options.local]`` checked and filled with defaults."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from tuneops.errors import UnsupportedOperation
from tuneops.provider import CreateRequest

DEFAULT_EPOCHS = 3
DEFAULT_BATCH_SIZE = 8
DEFAULT_LEARNING_RATE = 2e-4  # a common LoRA starting point (PEFT/QLoRA examples use 1e-4 to 3e-4)

# [options.local] keys with their defaults; anything else is refused at admission.
OPTIONS: dict[str, Any] = {
    "base_model_dir": None,        # a directory written by save_pretrained / `hf download --local-dir`
    "method": "lora",              # "lora", or "qlora" (4-bit NF4, CUDA + bitsandbytes only)
    "lora_r": 8,
    "lora_alpha": 16,
    "lora_dropout": 0.05,
    "target_modules": "all-linear",  # PEFT's shorthand, or a list of module names
    "modules_to_save": [],         # modules trained in full next to the adapter (e.g. ["lm_head"])
    "max_steps": None,             # train exactly this many optimizer steps (default: epochs over the data)
    "max_length": 1024,            # tokens per example; longer examples are cut
    "eval_every": None,            # validation loss every N steps (default: about 20 points per run)
    "threads": 2,                  # CPU threads for torch
    "device": "auto",              # "auto" (CUDA when present), "cpu" or "cuda"
    "dtype": "auto",               # base model weights: "auto", "float32", "bfloat16", "float16"
    "allow_hub_download": False,   # let a run download a hub model it does not find locally
    "jobs_dir": None,              # where job directories live (default: .tuneops/local)
}
_POSITIVE_INT = ("lora_r", "lora_alpha", "max_steps", "max_length", "eval_every", "threads")


def options(raw: Mapping[str, Any], where: str = "options.local") -> dict[str, Any]:
    """The options with defaults; UnsupportedOperation names the first bad key."""
    unknown = sorted(set(raw) - set(OPTIONS))
    if unknown:
        raise UnsupportedOperation(f"{where}.{unknown[0]}: unknown option of the local provider; "
                                   f"known: {', '.join(OPTIONS)}")
    out = {**OPTIONS, **raw}
    if out["method"] not in ("lora", "qlora"):
        raise UnsupportedOperation(f"{where}.method: {out['method']!r} is not \"lora\" or \"qlora\"")
    for key in _POSITIVE_INT:
        value = out[key]
        if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < 1):
            raise UnsupportedOperation(f"{where}.{key}: must be a whole number of 1 or more (got {value!r})")
    if not (isinstance(out["lora_dropout"], int | float) and 0 <= out["lora_dropout"] < 1):
        raise UnsupportedOperation(f"{where}.lora_dropout: must be between 0 and 1 (got {out['lora_dropout']!r})")
    if out["device"] not in ("auto", "cpu", "cuda"):
        raise UnsupportedOperation(f"{where}.device: {out['device']!r} is not \"auto\", \"cpu\" or \"cuda\"")
    if out["dtype"] not in ("auto", "float32", "bfloat16", "float16"):
        raise UnsupportedOperation(f"{where}.dtype: {out['dtype']!r} is not auto, float32, bfloat16 or float16")
    if not isinstance(out["modules_to_save"], list):
        raise UnsupportedOperation(f"{where}.modules_to_save: must be a list of module names")
    return out


def training(request: CreateRequest) -> dict[str, Any]:
    """The hyperparameters a job trains with; refuses what the local provider cannot express."""
    hp = request.hyperparameters
    if request.method != "sft":
        raise UnsupportedOperation(f"local trains sft only (LoRA/QLoRA); method {request.method!r} is not supported")
    if hp.learning_rate_multiplier is not None:
        raise UnsupportedOperation("local takes an absolute learning rate, not a multiplier; set "
                                   f"hyperparameters.learning_rate (default {DEFAULT_LEARNING_RATE:g})")
    if hp.beta is not None:
        raise UnsupportedOperation("local has no DPO, so beta does not apply; remove hyperparameters.beta")
    return {"epochs": hp.epochs or DEFAULT_EPOCHS, "batch_size": hp.batch_size or DEFAULT_BATCH_SIZE,
            "learning_rate": hp.learning_rate or DEFAULT_LEARNING_RATE, "seed": 0 if hp.seed is None else hp.seed}


def total_steps(examples: int, batch_size: int, epochs: int, max_steps: int | None) -> int:
    """Optimizer steps of a run: ``max_steps`` when set (the data is cycled), else every batch of every epoch."""
    return max_steps or max(1, math.ceil(examples / batch_size)) * epochs
