"""What the Bedrock adapter can do, apart from it: `providers list` reads this, not the adapter."""

from __future__ import annotations

from tuneops.provider import Capabilities
from tuneops.providers.bedrock.hyperparams import CONVERSATION

CAPABILITIES = Capabilities(
    methods=frozenset({"sft"}),
    staging="bucket_uri",
    data_format=CONVERSATION,
    can_cancel=True,
    can_pause=False,
    can_resume=False,
    lists_jobs=True,
    needs_deployment=True,
    serve_modes=("on_demand", "provisioned"),
    learning_rate="absolute",  # every family but Claude 3 Haiku (multiplier) takes an absolute rate
    credentials=("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"),
    models=("amazon.nova-micro-v1:0:128k", "amazon.nova-lite-v1:0:300k", "amazon.nova-pro-v1:0:300k",
            "amazon.titan-text-express-v1:0:8k", "amazon.titan-text-lite-v1:0:4k",
            "anthropic.claude-3-haiku-20240307-v1:0:200k", "meta.llama3-1-8b-instruct-v1:0:128k",
            "meta.llama3-1-70b-instruct-v1:0:128k", "meta.llama3-2-1b-instruct-v1:0:128k"),
    notes="needs options.bedrock.role_arn and bucket; serve with deploy() (on-demand or provisioned)",
)
