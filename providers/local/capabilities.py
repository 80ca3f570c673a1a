"""What the Local adapter can do, apart from it: `providers list` reads this, not the adapter."""

from __future__ import annotations

from tuneops.provider import Capabilities

LOCAL_CAPABILITIES = Capabilities(
    methods=frozenset({"sft"}),
    staging="file_id",
    data_format="openai_chat",
    can_cancel=True,
    can_pause=False,
    can_resume=False,
    lists_jobs=True,
    needs_deployment=False,
    min_examples=1,
    learning_rate="absolute",
    batch_size_unit="examples",
    credentials=(),
    notes="trains LoRA adapters with transformers + peft on this machine (QLoRA with CUDA); needs the "
          "`local` extra; nothing leaves the machine",
)
