"""Bedrock packaging: importing the adapter loads no SDK, and without boto3 choosing it gives one
clear error naming the install command while the CLI still starts."""

from __future__ import annotations

import subprocess
import sys
import textwrap

OTHER_SDKS = ("openai", "boto3", "botocore", "google", "together", "fireworks", "mistralai", "cohere")


def _run(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True,
                          timeout=120)


def test_importing_the_adapter_imports_no_sdk_at_all() -> None:
    result = _run(f"""
        import sys
        import tuneops.providers.bedrock
        loaded = [m for m in {OTHER_SDKS!r} if m in sys.modules]
        assert not loaded, loaded  # boto3 too: it loads when an adapter is built, not on import
    """)
    assert result.returncode == 0, result.stderr


def test_without_boto3_choosing_bedrock_names_the_install_command() -> None:
    result = _run("""
        import sys
        sys.modules["boto3"] = None  # as if the 'bedrock' extra were not installed
        from tuneops import registry
        from tuneops.errors import ProviderUnavailable
        from tuneops.provider import ProviderConfig
        assert "bedrock" in registry.names()
        assert registry.describe("bedrock")["capabilities"].staging == "bucket_uri"  # listing still works
        try:
            registry.create("bedrock", ProviderConfig(env={"AWS_ACCESS_KEY_ID": "a", "AWS_SECRET_ACCESS_KEY": "b",
                                                           "AWS_REGION": "us-east-1"}))
        except ProviderUnavailable as exc:
            print(exc)
        else:
            raise SystemExit("no error")
    """)
    assert result.returncode == 0, result.stderr
    assert "pip install 'tuneops[bedrock]'" in result.stdout


def test_without_boto3_the_cli_still_starts() -> None:
    result = _run("""
        import sys
        sys.modules["boto3"] = None
        sys.argv = ["tuneops", "--help"]
        from tuneops.cli import entry
        entry()
    """)
    assert result.returncode == 0, result.stderr
    assert "Usage" in result.stdout
