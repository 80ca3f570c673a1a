"""The ``[options.together]`` schema and where Together's host comes from."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, NonNegativeFloat, NonNegativeInt, PositiveFloat, PositiveInt

from tuneops.options import ProviderOptions


class TogetherWandb(ProviderOptions):
    """Weights & Biases reporting; the key comes from WANDB_API_KEY, the host from WANDB_BASE_URL."""

    project: str | None = Field(None, description="W&B project name.")
    name: str | None = Field(None, description="W&B run name.")
    entity: str | None = Field(None, description="W&B team or user.")


class TogetherOptions(ProviderOptions):
    """``[options.together]``: LoRA or full training, the training method's knobs, checkpoints, W&B."""

    training_type: Literal["lora", "full"] | None = Field(
        None, description="\"lora\" (default) trains an adapter; \"full\" trains every weight "
                          "(a full fine-tune needs a dedicated endpoint to serve).")
    lora_r: PositiveInt | None = Field(None, description="LoRA rank (default 8).")
    lora_alpha: PositiveInt | None = Field(None, description="LoRA alpha (default 2 x lora_r).")
    lora_dropout: float | None = Field(None, ge=0, lt=1, description="LoRA dropout (default 0).")
    lora_trainable_modules: str | None = Field(
        None, description="Modules LoRA trains, e.g. \"all-linear\" (default) or \"q_proj,v_proj\".")
    train_on_inputs: bool | Literal["auto"] | None = Field(
        None, description="Also train on the prompt tokens (default \"auto\").")
    warmup_ratio: float | None = Field(None, ge=0, le=1, description="Learning-rate warm-up fraction (default 0).")
    max_grad_norm: NonNegativeFloat | None = Field(None, description="Gradient clipping (default 1.0; 0 turns it off).")
    weight_decay: NonNegativeFloat | None = Field(None, description="Weight decay (default 0).")
    n_evals: NonNegativeInt | None = Field(
        None, description="Evaluations on the validation set during training (default 1 when there is "
                          "validation data). Together bills the validation tokens of each one.")
    n_checkpoints: PositiveInt | None = Field(None, description="Checkpoints kept (default 1).")
    max_seq_length: PositiveInt | None = Field(None, description="Longest sequence trained on (tokens).")
    packing: bool | None = Field(None, description="Pack several examples per sequence (default true; off: "
                                                   "each example is billed as max_seq_length tokens).")
    lr_scheduler: dict[str, Any] | None = Field(
        None, description="Learning-rate schedule, as Together's lr_scheduler object (lr_scheduler_type "
                          "linear or cosine, lr_scheduler_args).")
    from_checkpoint: str | None = Field(None, description="Continue from a checkpoint: \"<job id>[:<step>]\".")
    wandb: TogetherWandb | None = Field(None, description="Report to Weights & Biases (project, name, entity); "
                                                          "needs WANDB_API_KEY in the environment.")
    file_wait_seconds: PositiveFloat | None = Field(
        None, description="How long to wait for Together to validate an uploaded file (default 600).")
    file_poll_seconds: PositiveFloat | None = Field(None, description="How often to ask (default 2).")


CONNECTION = {"base_url": "TOGETHER_BASE_URL"}
