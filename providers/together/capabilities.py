"""What the Together adapter can do, apart from it: `providers list` reads this, not the adapter."""

from __future__ import annotations

from tuneops.provider import Capabilities

# One PUT to the files API; above this the SDK switches to its multipart protocol, which this adapter
# does not speak yet.
SINGLE_PUT_MAX_BYTES = 5 * 2**30

TOGETHER_CAPABILITIES = Capabilities(
    methods=frozenset({"sft", "dpo"}),
    staging="file_id",
    data_format="openai_chat",
    can_cancel=True,
    can_pause=False,
    can_resume=False,
    lists_jobs=True,
    needs_deployment=False,
    serve_modes=("dedicated",),
    max_upload_bytes=SINGLE_PUT_MAX_BYTES,
    min_examples=1,
    learning_rate="absolute",
    batch_size_unit="examples",
    credentials=("TOGETHER_API_KEY",),
    models=("meta-llama/Meta-Llama-3.1-8B-Instruct-Reference",
            "meta-llama/Meta-Llama-3.1-70B-Instruct-Reference", "Qwen/Qwen2.5-72B-Instruct"),
    notes="serverless LoRA inference only for some base models, others need a dedicated endpoint; "
          "failure details arrive as job events",
)
