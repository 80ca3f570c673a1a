"""The ``[options.bedrock]`` schema (Bedrock's host comes from the AWS region, never from a spec)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, NonNegativeFloat, PositiveInt

from tuneops.options import ProviderOptions


class BedrockOptions(ProviderOptions):
    """``[options.bedrock]``: the IAM role, the S3 staging bucket, model hyperparameters and serving."""

    role_arn: str = Field(description="IAM role Bedrock assumes to read the data and write the output. Required.")
    bucket: str = Field(description="S3 bucket (in the job's region) the datasets are staged in. Required.")
    prefix: str | None = Field(None, description="Key prefix inside the bucket (default \"tuneops/\").")
    output_s3_uri: str | None = Field(None, description="Where Bedrock writes the job's output "
                                                        "(default s3://<bucket>/<prefix>output/).")
    region: str | None = Field(None, description="AWS region (else AWS_REGION or AWS_DEFAULT_REGION).")
    data_format: Literal["bedrock_conversation", "bedrock_prompt_completion"] | None = Field(
        None, description="Training data format: bedrock_conversation (default) or bedrock_prompt_completion "
                          "(Titan, Llama 2).")
    hyperparameters: dict[str, int | float | str] | None = Field(
        None, description="Further documented hyperparameters of the base model by their Bedrock names "
                          "(e.g. learningRateWarmupSteps); checked against the model's ranges.")
    kms_key_id: str | None = Field(None, description="KMS key that encrypts the custom model.")
    vpc_config: dict[str, Any] | None = Field(None, description="VPC settings of the job (subnetIds, "
                                                                "securityGroupIds).")
    model_units: PositiveInt | None = Field(None, description="Model units of provisioned throughput (default 1).")
    commitment_duration: Literal["OneMonth", "SixMonths"] | None = Field(
        None, description="Provisioned-throughput commitment (default none: hourly, no commitment).")
    provisioned_hourly_usd: NonNegativeFloat | None = Field(
        None, description="USD per model unit per hour of provisioned throughput (from the AWS pricing page for "
                          "your model and region); tracked as the deployment's cost.")


CONNECTION: dict[str, str | None] = {}
