"""What the Mistral adapter can do, apart from it: `providers list` reads this, not the adapter."""

from __future__ import annotations

from tuneops.provider import Capabilities

MISTRAL_CAPABILITIES = Capabilities(
    methods=frozenset({"sft"}),
    staging="file_id",
    data_format="mistral_chat",
    can_cancel=True,
    can_pause=False,
    can_resume=False,
    lists_jobs=True,
    needs_deployment=False,
    max_upload_bytes=512 * 1024 * 1024,  # docs.mistral.ai known limitations
    min_examples=1,
    learning_rate="absolute",
    batch_size_unit="examples",
    credentials=("MISTRAL_API_KEY",),
    models=("open-mistral-7b", "open-mistral-nemo", "mistral-small-latest", "mistral-large-latest",
            "ministral-3b-latest", "ministral-8b-latest", "codestral-latest", "pixtral-12b-latest"),
    deprecated="Mistral's OpenAPI tags the fine-tuning API '(deprecated) Fine Tuning' and mistralai>=2.6 "
               "removed fine-tuning jobs (docs.mistral.ai/api/endpoint/fine-tuning)",
    notes="no batch size or seed setting; failure details arrive as job events",
)
