"""The ``[options.vertex]`` schema and where Vertex's hosts come from."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from tuneops.options import ProviderOptions


class VertexOptions(ProviderOptions):
    """``[options.vertex]``: project, region, the staging bucket and the tuning settings."""

    bucket: str = Field(description="Cloud Storage bucket the datasets are staged in (the Vertex AI "
                                    "service agent must be able to read it). Required.")
    prefix: str | None = Field(None, description="Object prefix inside the bucket (default \"tuneops/\").")
    project: str | None = Field(None, description="Google Cloud project (else GOOGLE_CLOUD_PROJECT, else "
                                                  "the Application Default Credentials' project).")
    region: str | None = Field(None, description="Vertex AI region (default us-central1; \"global\" for the "
                                                 "global endpoint).")
    adapter_size: Literal[1, 2, 4, 8, 16, 32] | None = Field(None, description="LoRA adapter size.")
    tuning_mode: Literal["full", "peft_adapter"] | None = Field(
        None, description="Full or adapter tuning (open models, sft only); sent through the v1beta1 API.")
    export_last_checkpoint_only: bool | None = Field(None, description="Keep only the final checkpoint.")
    kms_key_name: str | None = Field(None, description="Cloud KMS key that encrypts the tuned model.")
    service_account: str | None = Field(None, description="Service account the tuning job runs as.")
    api_version: Literal["v1", "v1beta1"] | None = Field(
        None, description="Vertex REST version (default v1; creates that need v1beta1 fields use it anyway).")


CONNECTION = {"base_url": None, "storage_url": None}
