"""Vertex packaging: the adapter imports no other provider's SDK, and without google-auth choosing
it gives one clear error naming the install command while the CLI still starts."""

from __future__ import annotations

import subprocess
import sys
import textwrap

OTHER_SDKS = ("openai", "boto3", "botocore", "google.genai", "together", "fireworks", "mistralai", "cohere")


def _run(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True,
                          timeout=120)


def test_importing_the_adapter_imports_no_other_providers_sdk() -> None:
    result = _run(f"""
        import sys
        import tuneops.providers.vertex
        loaded = [m for m in {OTHER_SDKS!r} if m in sys.modules]
        assert not loaded, loaded
        assert "google.auth" not in sys.modules  # google-auth only when ADC is actually needed
    """)
    assert result.returncode == 0, result.stderr


def test_without_google_auth_choosing_vertex_names_the_install_command() -> None:
    result = _run("""
        import sys
        sys.modules["google.auth"] = None  # as if the 'vertex' extra were not installed
        from tuneops import registry
        from tuneops.errors import ProviderUnavailable
        from tuneops.provider import ProviderConfig
        try:
            registry.create("vertex", ProviderConfig(env={"GOOGLE_CLOUD_PROJECT": "p"}))
        except ProviderUnavailable as exc:
            print(exc)
        else:
            raise SystemExit("no error")
        # an explicit token needs no google-auth at all
        registry.create("vertex", ProviderConfig(env={"GOOGLE_OAUTH_ACCESS_TOKEN": "t", "GOOGLE_CLOUD_PROJECT": "p"}))
    """)
    assert result.returncode == 0, result.stderr
    assert "pip install 'tuneops[vertex]'" in result.stdout


def test_without_google_auth_the_cli_still_starts() -> None:
    result = _run("""
        import sys
        sys.modules["google.auth"] = None
        sys.argv = ["tuneops", "--help"]
        from tuneops.cli import entry
        entry()
    """)
    assert result.returncode == 0, result.stderr
    assert "Usage" in result.stdout
