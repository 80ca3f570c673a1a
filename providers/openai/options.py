"""The ``[options.openai]``, ``[options.azure]`` and ``[options.sandbox]`` schemas, and where their hosts come from."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, PositiveFloat, PositiveInt

from tuneops.options import ProviderOptions

NonNegative = Annotated[float, Field(ge=0)]


class OpenAIWandb(ProviderOptions):
    """The Weights & Biases integration; the W&B key itself is configured in the provider's dashboard."""

    project: str = Field(description="W&B project the job's metrics are sent to (required in this table).")
    entity: str | None = Field(None, description="W&B team or user that owns the project.")
    name: str | None = Field(None, description="Display name of the W&B run.")
    tags: list[str] | None = Field(None, description="Tags on the W&B run.")


class OpenAIOptions(ProviderOptions):
    """``[options.openai]``: job metadata, the W&B integration and upload tuning."""

    metadata: dict[str, str] | None = Field(
        None, description="Extra metadata pairs stored on the job (OpenAI allows 16 pairs, two are tuneops's; "
                          "keys up to 64 characters, values up to 512).")
    wandb: OpenAIWandb | None = Field(None, description="Send training metrics to Weights & Biases "
                                                        "(a table: project, entity, name, tags).")
    upload_chunked_above_bytes: PositiveInt | None = Field(
        None, description="Files larger than this use the resumable Uploads API (default 256 MiB).")
    upload_part_bytes: PositiveInt | None = Field(
        None, description="Part size for the Uploads API (default and maximum 64 MiB).")
    upload_workers: PositiveInt | None = Field(None, description="Parts uploaded in parallel (default 4).")
    upload_mime_type: str | None = Field(None, description="MIME type declared for chunked uploads "
                                                           "(default text/jsonl).")


class AzureOptions(OpenAIOptions):
    """``[options.azure]``: the OpenAI options plus the API version, file import waits and deployments."""

    api_version: str | None = Field(
        None, description="\"v1\" (default: the v1 API) or a dated api-version such as 2025-04-01-preview; "
                          "OPENAI_API_VERSION also sets it.")
    file_wait_seconds: PositiveFloat | None = Field(
        None, description="How long to wait for Azure to import an uploaded file (default 600).")
    file_poll_seconds: PositiveFloat | None = Field(None, description="How often to ask (default 2).")
    subscription_id: str | None = Field(
        None, description="Azure subscription of the resource; needed only to deploy a fine-tuned model.")
    resource_group: str | None = Field(
        None, description="Resource group of the Azure OpenAI resource; needed only to deploy.")
    account: str | None = Field(
        None, description="The Azure OpenAI resource (account) name; default: taken from the endpoint host.")
    management_api_version: str | None = Field(
        None, description="api-version of the ARM deployments API (default 2024-10-01).")
    hosting_cost_per_hour: NonNegative | dict[str, NonNegative] | None = Field(
        None, description="USD per hour a deployment costs while it exists (one number, or a table by SKU "
                          "such as Standard / GlobalStandard); tracked as the deployment's cost.")


class SandboxOptions(OpenAIOptions):
    """``[options.sandbox]``: the OpenAI options (the sandbox speaks the same protocol)."""


OPENAI_CONNECTION = {"base_url": "OPENAI_BASE_URL"}
AZURE_CONNECTION = {"endpoint": "AZURE_OPENAI_ENDPOINT", "management_url": None}
SANDBOX_CONNECTION = {"base_url": "TUNEOPS_SANDBOX_URL"}
