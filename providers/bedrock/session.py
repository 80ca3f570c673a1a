"""AWS credentials from ``config.env`` only, and boto3 clients with SDK retries off.

boto3 is the optional ``bedrock`` extra and is imported here, at construction, so a missing SDK is
one clear ProviderUnavailable error. Credentials are handed to boto3 and never kept by tuneops.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any

from tuneops.errors import MissingCredential, ProviderUnavailable
from tuneops.provider import ProviderConfig

INSTALL = "pip install 'tuneops[bedrock]'"

# Variables that tell botocore's own chain to use workload identity (EKS IRSA, ECS task roles);
# botocore reads those from the process environment itself.
_WORKLOAD = ("AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
             "AWS_CONTAINER_CREDENTIALS_FULL_URI")


def import_boto3(provider: str) -> Any:
    """boto3, or ProviderUnavailable naming the exact install command."""
    try:
        import boto3
    except ImportError:
        raise ProviderUnavailable(f"provider {provider!r} needs boto3, which is not installed: "
                                  f"run `{INSTALL}`") from None
    return boto3


_loader_lock = threading.Lock()
_loader: Any = None


def _botocore_session() -> Any:
    """A fresh botocore session sharing one service-model loader with every other adapter.

    Loading the S3 and Bedrock models takes most of a second; the loader only caches read-only
    JSON, so sharing it is safe and makes every adapter after the first cheap to build.
    """
    global _loader
    import botocore.loaders
    import botocore.session

    with _loader_lock:
        if _loader is None:
            _loader = botocore.loaders.create_loader()
    core = botocore.session.Session()
    core.register_component("data_loader", _loader)
    return core


def region_of(config: ProviderConfig, options: Mapping[str, Any], provider: str) -> str:
    """The AWS region: options.bedrock.region, AWS_REGION or AWS_DEFAULT_REGION."""
    region = options.get("region") or config.env.get("AWS_REGION") or config.env.get("AWS_DEFAULT_REGION")
    if not region:
        raise MissingCredential(provider, ["AWS_REGION", "AWS_DEFAULT_REGION"],
                                "Or set options.bedrock.region in the job spec (the bucket's region).")
    return str(region)


def session(config: ProviderConfig, options: Mapping[str, Any], provider: str) -> Any:
    """A boto3 Session built from ``config.env``; raises MissingCredential before any call."""
    boto3 = import_boto3(provider)
    region = region_of(config, options, provider)
    env = config.env
    if env.get("AWS_ACCESS_KEY_ID"):
        secret = config.credential(provider, "AWS_SECRET_ACCESS_KEY",
                                   hint="It belongs with AWS_ACCESS_KEY_ID.")
        return boto3.Session(aws_access_key_id=env["AWS_ACCESS_KEY_ID"], aws_secret_access_key=secret,
                             aws_session_token=env.get("AWS_SESSION_TOKEN") or None, region_name=region,
                             botocore_session=_botocore_session())
    if env.get("AWS_PROFILE"):
        return boto3.Session(profile_name=env["AWS_PROFILE"], region_name=region,
                             botocore_session=_botocore_session())
    if any(env.get(name) for name in _WORKLOAD):
        return boto3.Session(region_name=region, botocore_session=_botocore_session())
    raise MissingCredential(provider, ["AWS_ACCESS_KEY_ID", "AWS_PROFILE"],
                            "Set AWS_ACCESS_KEY_ID with AWS_SECRET_ACCESS_KEY, or name a profile in AWS_PROFILE.")


def client(boto_session: Any, service: str) -> Any:
    """A client with botocore's retries off (tuneops retries in one place) and bounded timeouts."""
    from botocore.config import Config

    config = Config(retries={"total_max_attempts": 1, "mode": "standard"}, connect_timeout=10,
                    read_timeout=120, user_agent_extra="tuneops")
    return boto_session.client(service, config=config)
