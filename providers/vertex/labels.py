"""How a run's idempotency key rides on a Vertex tuning job: a label, within the label rules.

Vertex labels allow at most 63 characters per key and value, drawn from lowercase letters, digits,
``_`` and ``-`` (GCP label rules). tuneops keys look like ``tuneops-run_01jd3k...`` (lowercase
Crockford base32), which already fit and are stored unchanged. Any other key is stored as ``h-``
followed by the first 61 hex digits of its SHA-256: still unique in practice, but one-way, so the
full key is also written into the job's free-text ``description`` to recover it.
"""

from __future__ import annotations

import hashlib
import re

KEY_LABEL = "tuneops-key"
JOB_LABEL = "tuneops-job"
DESCRIPTION_PREFIX = "tuneops run key: "

MAX_LABEL = 63
_PLAIN = re.compile(r"[a-z0-9_-]{1,63}")
_UNSAFE = re.compile(r"[^a-z0-9_-]+")


def encode_key(key: str) -> str:
    """The label value for an idempotency key (unchanged when it already fits)."""
    # "h-" is reserved for hashed keys so a plain key can never be mistaken for a hash.
    if _PLAIN.fullmatch(key) and not key.startswith("h-"):
        return key
    return "h-" + hashlib.sha256(key.encode()).hexdigest()[:MAX_LABEL - 2]


def label_value(text: str) -> str:
    """Free text squeezed into a label value (lowercased, other characters as '-'), for display only."""
    return _UNSAFE.sub("-", text.lower()).strip("-")[:MAX_LABEL]


def key_of(labels: dict[str, str] | None, description: str | None) -> str | None:
    """The idempotency key a job carries, from its description or else its (unhashed) label."""
    if description:
        for line in description.splitlines():
            if line.startswith(DESCRIPTION_PREFIX):
                return line[len(DESCRIPTION_PREFIX):].strip() or None
    value = (labels or {}).get(KEY_LABEL)
    if value and not value.startswith("h-"):
        return value
    return None
