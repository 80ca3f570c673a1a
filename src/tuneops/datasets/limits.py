"""What each provider accepts: data format, example counts, upload size.

An installed adapter's ``capabilities`` are the truth for what it declares; this module's table of
documented limits fills what capabilities do not carry (max examples, validation caps) and stands in
for providers whose adapters are not installed. Each entry's ``source`` names the provider document it
comes from; a number no such document confirmed is left out (None = not checked).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

MB = 1024 * 1024
GB = 1024 * MB

# Recommended counts from practice (warnings, not limits): OpenAI's guide sees gains at 50-100
# examples; Vertex suggests starting around 100; a few hundred make results steadier.
RECOMMENDED_MIN = 100
RECOMMENDED_GOOD = 500


@dataclass(frozen=True)
class ProviderLimits:
    """Documented dataset limits of one provider (None = unknown, not checked)."""

    provider: str
    data_format: str = "openai_chat"
    methods: frozenset[str] = frozenset({"sft"})
    min_examples: int | None = None
    max_examples: int | None = None
    max_upload_bytes: int | None = None
    max_validation_examples: int | None = None
    source: str = ""
    installed: bool = False


FALLBACK: dict[str, ProviderLimits] = {
    "sandbox": ProviderLimits("sandbox", "openai_chat", frozenset({"sft", "dpo"}), 10, None, None, None,
                              "tuneops sandbox (OpenAI protocol)"),
    "openai": ProviderLimits("openai", "openai_chat", frozenset({"sft", "dpo"}), 10, None, 512 * MB, None,
                             "OpenAI fine-tuning guide (min 10); Files API 512 MB per file"),
    "azure": ProviderLimits("azure", "openai_chat", frozenset({"sft", "dpo"}), 10, None, 512 * MB, None,
                            "same files API as OpenAI; minimum assumed equal to OpenAI's"),
    "together": ProviderLimits("together", "openai_chat", frozenset({"sft", "dpo"}), 1, None, 100 * GB, None,
                               "together SDK MIN_SAMPLES=1; docs: files up to 100 GB"),
    "fireworks": ProviderLimits("fireworks", "openai_chat", frozenset({"sft", "dpo"}), 3, 3_000_000, 150 * MB,
                                None, "Fireworks docs: 3 to 3,000,000 examples; direct upload up to 150 MB"),
    "mistral": ProviderLimits("mistral", "mistral_chat", frozenset({"sft"}), None, None, 512 * MB, None,
                              "Mistral known limitations: files up to 512 MB"),
    "vertex": ProviderLimits("vertex", "gemini", frozenset({"sft", "dpo"}), None, 1_000_000, 1 * GB, 5_000,
                             "Vertex AI Gemini tuning docs: 1 GB file, 1M examples, validation up to 5,000"),
    "bedrock": ProviderLimits("bedrock", "bedrock_conversation", frozenset({"sft"}), None, None, None, None,
                              "Bedrock model customization docs (per-model record limits UNCONFIRMED)"),
}

# Bedrock's format depends on the base model: conversational (Nova) or prompt/completion (Titan, ...).
_BEDROCK_PROMPT_COMPLETION = ("amazon.titan", "meta.llama2", "cohere.command")


def bedrock_format(base_model: str) -> str:
    """The Bedrock dataset format for a base model id."""
    m = base_model.lower()
    return "bedrock_prompt_completion" if m.startswith(_BEDROCK_PROMPT_COMPLETION) else "bedrock_conversation"


def limits_for(provider: str, base_model: str = "", capabilities: object | None = None) -> ProviderLimits:
    """Limits of ``provider``: the adapter's capabilities (given, or of the installed adapter) over the
    documented table."""
    base = FALLBACK.get(provider, ProviderLimits(provider, source="no documented limits known"))
    if provider == "bedrock" and base_model:
        base = replace(base, data_format=bedrock_format(base_model))
    caps = _capabilities(provider) if capabilities is None else capabilities
    if caps is None:
        return base
    # The adapter's declared format wins: its prepare() converts to exactly that format.
    fmt = getattr(caps, "data_format", base.data_format)
    return replace(
        base,
        data_format=fmt,
        methods=frozenset(getattr(caps, "methods", base.methods)),
        min_examples=getattr(caps, "min_examples", base.min_examples),
        max_upload_bytes=getattr(caps, "max_upload_bytes", base.max_upload_bytes),
        source=f"{provider} adapter capabilities" + (f"; {base.source}" if base.source else ""),
        installed=True,
    )


_EP_CAPS: dict[str, object | None] = {}


def _capabilities(provider: str) -> object | None:
    # Scanning entry points costs ~0.1 s per call, so installed adapters are looked up once per
    # process; providers registered in-process (tests, notebooks) are always looked up afresh.
    from tuneops import registry

    if provider not in registry._registered and provider in _EP_CAPS:
        return _EP_CAPS[provider]
    try:
        factory = registry.load(provider)
    except Exception:  # not installed, or a broken plugin: fall back to the documented table
        caps = None
    else:
        caps = getattr(factory, "capabilities", None)
    if provider not in registry._registered:
        _EP_CAPS[provider] = caps
    return caps
