"""What the Vertex adapter can do, apart from it: `providers list` reads this, not the adapter."""

from __future__ import annotations

from tuneops.provider import Capabilities

TOKEN_ENV = "GOOGLE_OAUTH_ACCESS_TOKEN"  # a ready OAuth access token (auth.py reads it first)

CAPABILITIES = Capabilities(
    methods=frozenset({"sft", "dpo"}),
    staging="bucket_uri",
    data_format="gemini",
    can_cancel=True,
    can_pause=False,
    can_resume=False,
    lists_jobs=True,
    needs_deployment=False,  # a successful job comes with a ready endpoint
    max_upload_bytes=1024 ** 3,
    min_examples=1,  # Google recommends ~100 examples but documents no hard minimum
    learning_rate="multiplier",
    credentials=(TOKEN_ENV, "GOOGLE_APPLICATION_CREDENTIALS"),
    models=("gemini-2.5-flash", "gemini-2.5-flash-lite", "gemini-2.5-pro", "gemini-2.0-flash-001",
            "gemini-2.0-flash-lite-001"),
    notes="data staged in gs://<options.vertex.bucket>; model id is the tuned endpoint",
)
