"""The ``[options.local]`` schema (what ``tuneops validate`` checks; ``settings`` fills the defaults)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, PositiveInt

from tuneops.options import ProviderOptions


class LocalOptions(ProviderOptions):
    """``[options.local]``: the base model directory, LoRA / QLoRA settings, devices and privacy."""

    base_model_dir: str | None = Field(
        None, description="A directory written by save_pretrained (or `hf download --local-dir`); relative paths "
                          "are read from the project directory. Default: model.base as an already-cached hub id.")
    method: Literal["lora", "qlora"] | None = Field(
        None, description="lora (default), or qlora: 4-bit NF4 with double quantisation, CUDA + bitsandbytes only.")
    lora_r: PositiveInt | None = Field(None, description="LoRA rank (default 8).")
    lora_alpha: PositiveInt | None = Field(None, description="LoRA alpha (default 16).")
    lora_dropout: float | None = Field(None, ge=0, lt=1, description="LoRA dropout (default 0.05).")
    target_modules: str | list[str] | None = Field(
        None, description="Modules LoRA adapts: PEFT's \"all-linear\" (default) or a list of module names.")
    modules_to_save: list[str] | None = Field(
        None, description="Modules trained in full next to the adapter, e.g. [\"lm_head\"] (default none).")
    max_steps: PositiveInt | None = Field(None, description="Train exactly this many optimizer steps "
                                                            "(default: the epochs over the data).")
    max_length: PositiveInt | None = Field(None, description="Tokens per example; longer ones are cut (default 1024).")
    eval_every: PositiveInt | None = Field(None, description="Validation loss every N steps (default: about 20 "
                                                             "points per run).")
    threads: PositiveInt | None = Field(None, description="CPU threads for torch (default 2).")
    device: Literal["auto", "cpu", "cuda"] | None = Field(None, description="auto (CUDA when present; default), "
                                                                           "cpu or cuda.")
    dtype: Literal["auto", "float32", "bfloat16", "float16"] | None = Field(
        None, description="Precision of the base model's weights (default auto).")
    allow_hub_download: bool | None = Field(
        None, description="Let a run download a hub model it does not find locally (default false: nothing "
                          "leaves the machine).")
    jobs_dir: str | None = Field(None, description="Where job directories live (default .tuneops/local).")


CONNECTION: dict[str, str | None] = {}
