"""What the Fireworks adapter can do, apart from it: `providers list` reads this, not the adapter."""

from __future__ import annotations

from tuneops.provider import Capabilities

FIREWORKS_CAPABILITIES = Capabilities(
    methods=frozenset({"sft", "dpo"}),
    staging="dataset",
    data_format="openai_chat",
    can_cancel=True,
    can_pause=False,
    can_resume=True,
    lists_jobs=True,
    needs_deployment=True,
    max_upload_bytes=None,  # signed-URL uploads; Fireworks documents no byte limit
    min_examples=3,
    learning_rate="absolute",
    batch_size_unit="examples",
    credentials=("FIREWORKS_API_KEY", "FIREWORKS_ACCOUNT_ID"),
    models=("accounts/fireworks/models/llama-v3p1-8b-instruct",
            "accounts/fireworks/models/qwen2p5-7b-instruct"),
    serve_modes=("dedicated",),
    notes="LoRA models are served from a dedicated deployment (deploy()); portable batch_size maps "
          "to batchSizeSamples; no event list (events are derived from the job)",
)
