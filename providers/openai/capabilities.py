"""What OpenAI, Azure OpenAI and the sandbox can do (one fine-tuning protocol, three sets of limits).

Declared apart from the adapter so `tuneops providers list` (and anything that only reads what a provider
can do) needs no HTTP client or SDK: the ``tuneops.capabilities`` entry point names this module.
"""

from __future__ import annotations

from dataclasses import replace

from tuneops.provider import Capabilities, HyperparameterLimits

MAX_UPLOAD_BYTES = 8 * 1024 ** 3  # the Uploads API's limit for one file (uploads.py sends it in parts)

OPENAI_CAPABILITIES = Capabilities(
    methods=frozenset({"sft", "dpo"}),
    staging="file_id",
    data_format="openai_chat",
    can_cancel=True,
    can_pause=True,
    can_resume=True,
    lists_jobs=True,
    max_upload_bytes=MAX_UPLOAD_BYTES,
    min_examples=10,
    learning_rate="multiplier",
    credentials=("OPENAI_API_KEY",),
    models=("gpt-4.1-2025-04-14", "gpt-4.1-mini-2025-04-14", "gpt-4.1-nano-2025-04-14",
            "gpt-4o-2024-08-06", "gpt-4o-mini-2024-07-18"),
    deprecated="OpenAI is winding down self-serve fine-tuning for new users",
    webhooks=True,
    limits=HyperparameterLimits(seed=(0, 2**31 - 1), epochs=(1, 50),
                                source="OpenAI API reference: n_epochs 1-50 (older reference text; the current "
                                       "range is not published); seed a 32-bit int"),
)

# Azure and the sandbox speak the same fine-tuning protocol: what differs is said, the rest is OpenAI's.
AZURE_CAPABILITIES = replace(
    OPENAI_CAPABILITIES,
    needs_deployment=True,
    serve_modes=("on_demand", "dedicated", "provisioned"),
    credentials=("AZURE_OPENAI_API_KEY", "AZURE_OPENAI_AD_TOKEN"),
    models=(*OPENAI_CAPABILITIES.models, "gpt-35-turbo-0125"),
    deprecated=None,
    webhooks=False,
    notes="endpoint from AZURE_OPENAI_ENDPOINT or the user config file; a fine-tuned model serves only "
          "after deploy() (hosting is billed hourly); older quota page: one training job at a time per resource",
)

SANDBOX_CAPABILITIES = replace(
    OPENAI_CAPABILITIES,
    credentials=(),
    models=("sandbox-mini", "sandbox-legacy"),
    serve_modes=("on_demand", "dedicated"),  # optional: its models also answer directly
    deprecated=None,
    webhooks=False,
    notes="local stand-in for offline use and tests; nearest-neighbour learner, not an LLM",
    limits=HyperparameterLimits(seed=(0, 2**31 - 1), epochs=(1, 50), batch_size=(1, 256),
                                learning_rate_multiplier=(1e-6, 10.0), min_validation_examples=10,
                                source="the sandbox's own request and file checks"),
)
