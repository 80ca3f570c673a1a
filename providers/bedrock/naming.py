"""Deterministic Bedrock names and tokens derived from a run's idempotency key.

- ``clientRequestToken`` (letters, digits and ``-`` only): the key's UTF-8 bytes in hex, so the
  same run always sends the same token and the key can be read back from any job; a key longer
  than 128 characters is sent as ``h`` + its SHA-256 instead (not reversible).
- ``jobName`` / ``customModelName``: a readable slug of the spec's name plus the first 16 hex digits
  of the key's SHA-256. The digest makes the name unique per run and lets ``find`` look a job up with
  ``nameContains``; a replayed create collides on the name instead of creating a second job.
"""

from __future__ import annotations

import hashlib
import re

MAX_NAME = 63
DIGEST_CHARS = 16
_NOT_NAME = re.compile(r"[^a-zA-Z0-9]+")


def digest(key: str) -> str:
    """The short SHA-256 of a key that ends every job and model name of its run."""
    return hashlib.sha256(key.encode()).hexdigest()[:DIGEST_CHARS]


def _slug(text: str, limit: int) -> str:
    slug = _NOT_NAME.sub("-", text).strip("-")[:limit].strip("-")
    return slug or "tuneops"


def job_name(spec_name: str, key: str) -> str:
    """``<slug>-<digest>``: fits Bedrock's jobName rules (1-63 chars, alphanumerics and single '-')."""
    return f"{_slug(spec_name, MAX_NAME - DIGEST_CHARS - 1)}-{digest(key)}"


def model_name(name: str, key: str) -> str:
    """The custom model's name, built like the job name (CustomModelName has the same charset here)."""
    return f"{_slug(name, MAX_NAME - DIGEST_CHARS - 1)}-{digest(key)}"


def client_token(key: str) -> str:
    """The clientRequestToken for a key: reversible hex when it fits, else a hash."""
    raw = key.encode()
    if 0 < len(raw) <= 128:
        return raw.hex()
    return "h" + hashlib.sha256(raw).hexdigest()


def key_from_token(token: str | None) -> str | None:
    """The idempotency key inside a token made by ``client_token``; None for any other token."""
    if not token or len(token) % 2:
        return None
    try:
        return bytes.fromhex(token).decode()
    except (ValueError, UnicodeDecodeError):
        return None


def tag_value(text: str) -> str:
    """Text squeezed into an AWS tag value (letters, digits, space and ``_.:/=+@-``; up to 256)."""
    return re.sub(r"[^a-zA-Z0-9\s._:/=+@-]+", "-", text)[:256]
