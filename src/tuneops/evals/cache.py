"""The inference cache: a model's answer keyed by (provider, model, prompt hash, parameters).

Evals are deterministic questions to fixed models, so an answer once paid for is reused: re-running
an eval, or scoring the alias holder again for a new candidate, makes no inference calls. Only the
hash of the prompt is kept, never the prompt.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlmodel import Session

from tuneops.clock import utcnow
from tuneops.store.eval_tables import InferenceCacheRow

# SQLite caps bound parameters per statement; look keys up in slices well below it.
_LOOKUP_CHUNK = 500


@dataclass(frozen=True)
class CachedAnswer:
    """An answer with the tokens it was billed for when it was first bought."""

    text: str
    input_tokens: int
    output_tokens: int


def key(provider: str, model: str, prompt_sha256: str, params: Mapping[str, Any]) -> str:
    """The cache key of one inference call."""
    body = json.dumps({"provider": provider, "model": model, "prompt": prompt_sha256, "params": params},
                      sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(body.encode()).hexdigest()


def lookup(session: Session, keys: Iterable[str]) -> dict[str, CachedAnswer]:
    """The cached answers among ``keys``."""
    wanted = list(dict.fromkeys(keys))
    found: dict[str, CachedAnswer] = {}
    for start in range(0, len(wanted), _LOOKUP_CHUNK):
        chunk = wanted[start:start + _LOOKUP_CHUNK]
        stmt = select(InferenceCacheRow).where(InferenceCacheRow.key.in_(chunk))  # type: ignore[attr-defined]
        for row in session.exec(stmt).scalars():  # type: ignore[call-overload]
            found[row.key] = CachedAnswer(row.text, row.input_tokens, row.output_tokens)
    return found


def save(session: Session, provider: str, model: str, answers: Mapping[str, CachedAnswer]) -> int:
    """Store new answers (a key already present, written by a concurrent eval, is kept); returns how many."""
    present = set(lookup(session, answers))
    now = utcnow()
    added = 0
    for k, answer in answers.items():
        if k in present:
            continue
        session.add(InferenceCacheRow(key=k, provider=provider, model=model, text=answer.text,
                                      input_tokens=answer.input_tokens, output_tokens=answer.output_tokens,
                                      created_at=now))
        added += 1
    session.flush()
    return added
