"""The ``[options.mistral]`` schema and where Mistral's host comes from."""

from __future__ import annotations

from pydantic import Field, PositiveFloat, PositiveInt

from tuneops.options import ProviderOptions


class MistralWandb(ProviderOptions):
    """Weights & Biases reporting; the key comes from WANDB_API_KEY."""

    project: str = Field(description="W&B project name (required in this table).")
    name: str | None = Field(None, description="W&B run group name.")
    run_name: str | None = Field(None, description="W&B run name.")


class MistralOptions(ProviderOptions):
    """``[options.mistral]``: training steps and the trainer's other hyperparameters."""

    training_steps: PositiveInt | None = Field(None, description="Train for this many steps instead of epochs.")
    weight_decay: float | None = Field(None, ge=0, description="Weight decay.")
    warmup_fraction: float | None = Field(None, ge=0, le=1, description="Learning-rate warm-up fraction.")
    seq_len: PositiveInt | None = Field(None, description="Sequence length (tokens).")
    invalid_sample_skip_percentage: float | None = Field(
        None, ge=0, le=1, description="Fraction of invalid examples Mistral may skip instead of failing (default 0).")
    wandb: MistralWandb | None = Field(None, description="Report to Weights & Biases (project, name, run_name); "
                                                         "needs WANDB_API_KEY in the environment.")
    validation_wait_seconds: PositiveFloat | None = Field(
        None, description="How long create waits for Mistral to validate the job before starting it (default 60).")
    validation_poll_seconds: PositiveFloat | None = Field(None, description="How often to ask (default 2).")


CONNECTION = {"base_url": None}
