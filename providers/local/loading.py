"""Loading base models, tokenizers and adapters from local files only, with errors a person can act on.

Nothing here reaches a model hub unless the spec allows it (``allow_hub_download = true``): a base
model is a local directory (``base_model_dir``) or a hub id already in the local cache.
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from tuneops.errors import ProviderUnavailable, UnsupportedOperation

REQUIRED = ("torch", "transformers", "peft", "accelerate", "safetensors")
INSTALL = "pip install 'tuneops[local]'"
QLORA_INSTALL = "pip install 'tuneops[local,qlora]'"

# Set in every training process and before any model is loaded here: no hub calls, no telemetry.
PRIVATE_ENV = {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1",
               "HF_HUB_DISABLE_TELEMETRY": "1", "DO_NOT_TRACK": "1", "HF_HUB_DISABLE_PROGRESS_BARS": "1",
               "TOKENIZERS_PARALLELISM": "false", "TRANSFORMERS_VERBOSITY": "error"}


def missing_packages() -> list[str]:
    """The packages of the ``local`` extra that are not installed (found without importing them)."""
    return [name for name in REQUIRED if importlib.util.find_spec(name) is None]


def require_packages() -> None:
    """Raise ProviderUnavailable naming the install command when the ``local`` extra is missing."""
    missing = missing_packages()
    if missing:
        raise ProviderUnavailable(f"the local provider needs {', '.join(missing)}, which are not installed; "
                                  f"run: {INSTALL} (nothing was written)")


def private_env(allow_hub: bool, base: Mapping[str, str] | None = None) -> dict[str, str]:
    """An environment for training/serving: offline and without telemetry unless hub downloads are allowed."""
    env = dict(os.environ if base is None else base)
    env.update(PRIVATE_ENV)
    if allow_hub:
        for key in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_DATASETS_OFFLINE"):
            env.pop(key, None)
    return env


def go_private(allow_hub: bool = False) -> None:
    """Apply ``private_env`` to this process (before transformers is imported)."""
    env = private_env(allow_hub)
    for key in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_DATASETS_OFFLINE"):
        if key not in env:
            os.environ.pop(key, None)
    os.environ.update({k: v for k, v in env.items() if k in PRIVATE_ENV})


def base_source(base_model: str, base_model_dir: str | None, root: Path | None = None) -> str:
    """Where the base model is read from: ``base_model_dir`` (resolved), a directory named by the base, or a hub id."""
    if base_model_dir:
        path = Path(base_model_dir).expanduser()
        path = path if path.is_absolute() else (root or Path.cwd()) / path
        return str(path.resolve())
    if Path(base_model).expanduser().is_dir():
        return str(Path(base_model).expanduser().resolve())
    return base_model


def check_base(source: str, where: str) -> None:
    """Refuse a base model directory that does not exist or has no config.json."""
    looks_like_path = source.startswith(("/", ".", "~")) or (os.sep in source and Path(source).exists())
    if looks_like_path and not (Path(source) / "config.json").is_file():
        raise UnsupportedOperation(f"{where}: {source} is not a model directory (no config.json); point "
                                   "options.local.base_model_dir at a directory written by save_pretrained "
                                   "or by `hf download MODEL --local-dir DIR`")


def not_found(source: str, exc: Exception) -> str:
    """The message for a base model that is neither a local directory nor in the hub cache."""
    return (f"base model {source!r} is not a local directory and is not in the Hugging Face cache ({exc}); "
            f"nothing is downloaded at run time: pre-download it with `hf download {source}` (or set "
            "options.local.base_model_dir to a local copy); see docs/providers/local.md")


def quiet() -> None:
    """No progress bars or deprecation chatter from the libraries on a user's terminal."""
    import warnings

    from transformers.utils import logging

    logging.disable_progress_bar()
    logging.set_verbosity_error()
    warnings.filterwarnings("ignore", category=FutureWarning)  # deprecations inside transformers and peft


def load_tokenizer(source: str) -> Any:
    """The base model's tokenizer (its chat template is the one training and serving use)."""
    from transformers import AutoTokenizer

    quiet()
    try:
        tok = AutoTokenizer.from_pretrained(source, local_files_only=os.environ.get("HF_HUB_OFFLINE") == "1")
    except OSError as exc:
        raise UnsupportedOperation(not_found(source, exc)) from None
    if tok.pad_token_id is None:
        tok.pad_token = tok.eos_token
    return tok


def load_model(source: str, *, qlora: bool = False, dtype: str = "auto") -> Any:
    """The base causal LM; 4-bit NF4 with double quantisation and bf16 compute when ``qlora``."""
    import torch
    from transformers import AutoModelForCausalLM

    quiet()
    kwargs: dict[str, Any] = {"local_files_only": os.environ.get("HF_HUB_OFFLINE") == "1"}
    if qlora:
        require_cuda()
        from transformers import BitsAndBytesConfig

        kwargs["quantization_config"] = BitsAndBytesConfig(
            load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_use_double_quant=True,
            bnb_4bit_compute_dtype=torch.bfloat16)
        kwargs["device_map"] = {"": torch.cuda.current_device()}
    elif dtype != "auto":
        kwargs["dtype"] = getattr(torch, dtype)
    try:
        return AutoModelForCausalLM.from_pretrained(source, **kwargs)
    except OSError as exc:
        raise UnsupportedOperation(not_found(source, exc)) from None


def require_cuda() -> None:
    """QLoRA needs a CUDA GPU and bitsandbytes: say so clearly, never fall back to plain LoRA silently."""
    import torch

    if not torch.cuda.is_available():
        raise UnsupportedOperation("options.local.method = \"qlora\" needs a CUDA GPU (4-bit NF4 via bitsandbytes) "
                                   "and this machine has none; use method = \"lora\" (trains in full precision "
                                   "on CPU or GPU) or run on a machine with CUDA")
    if importlib.util.find_spec("bitsandbytes") is None:
        raise ProviderUnavailable(f"options.local.method = \"qlora\" needs bitsandbytes; run: {QLORA_INSTALL}")
