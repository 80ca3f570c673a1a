"""The ``[options.fireworks]`` schema and where Fireworks's hosts come from."""

from __future__ import annotations

from pydantic import Field, NonNegativeInt, PositiveFloat, PositiveInt

from tuneops.options import ProviderOptions


class FireworksWandb(ProviderOptions):
    """Weights & Biases reporting; the key comes from WANDB_API_KEY."""

    project: str | None = Field(None, description="W&B project name.")
    entity: str | None = Field(None, description="W&B team or user.")
    runId: str | None = Field(None, description="W&B run id.")


class FireworksOptions(ProviderOptions):
    """``[options.fireworks]``: the account, LoRA rank, token batch size and other trainer settings."""

    account: str | None = Field(None, description="Fireworks account id (else FIREWORKS_ACCOUNT_ID).")
    lora_rank: PositiveInt | None = Field(None, description="LoRA rank of the adapter.")
    batch_size_tokens: PositiveInt | None = Field(
        None, description="Batch size in tokens (Fireworks's batchSize); the portable batch_size counts examples.")
    max_context_length: PositiveInt | None = Field(None, description="Longest example trained on (tokens).")
    learning_rate_warmup_steps: NonNegativeInt | None = Field(None, description="Learning-rate warm-up steps.")
    gradient_accumulation_steps: PositiveInt | None = Field(None, description="Gradient accumulation steps.")
    wandb: FireworksWandb | None = Field(None, description="Report to Weights & Biases (project, entity, "
                                                           "runId); needs WANDB_API_KEY in the environment.")
    dataset_wait_seconds: PositiveFloat | None = Field(
        None, description="How long to wait for an uploaded dataset to become READY (default 300).")
    dataset_poll_seconds: PositiveFloat | None = Field(None, description="How often to ask (default 2).")


CONNECTION = {"base_url": "FIREWORKS_BASE_URL", "inference_base_url": None}
