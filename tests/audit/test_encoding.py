"""The chain's canonical encoding: the fast hash used by verify equals the documented one, for any text."""

from __future__ import annotations

import hashlib
from datetime import datetime

from hypothesis import given
from hypothesis import strategies as st

from tuneops import audit


def _documented(prev: str, seq: int, at: datetime, actor: str, action: str, stype: str, sid: str,
                job: str | None, details: str) -> str:
    body = audit.canonical({"seq": seq, "at": at.isoformat(timespec="microseconds"), "actor": actor,
                            "action": action, "subject_type": stype, "subject_id": sid, "job_name": job,
                            "details": details, "prev_hash": prev})
    return hashlib.sha256(prev.encode() + body).hexdigest()


@given(seq=st.integers(1, 2**62), at=st.datetimes(), actor=st.text(), action=st.text(), sid=st.text(),
       job=st.none() | st.text(), details=st.text())
def test_the_fast_hash_is_the_canonical_one(seq: int, at: datetime, actor: str, action: str, sid: str,
                                            job: str | None, details: str) -> None:
    prev = "ab" * 32
    assert audit.event_hash(prev, seq, at, actor, action, "run", sid, job, details) == \
        _documented(prev, seq, at, actor, action, "run", sid, job, details)


def test_a_known_event_keeps_its_hash() -> None:
    # Pinned: changing the encoding would silently invalidate every existing ledger.
    digest = audit.event_hash(audit.GENESIS, 1, datetime(2026, 1, 2, 3, 4, 5, 6), "ana@ci", "run.admitted",
                              "run", "run_1", "triage", '{"provider":"openai","note":"é \\"q\\" \\u0001"}')
    assert digest == _documented(audit.GENESIS, 1, datetime(2026, 1, 2, 3, 4, 5, 6), "ana@ci", "run.admitted",
                                 "run", "run_1", "triage", '{"provider":"openai","note":"é \\"q\\" \\u0001"}')
    assert digest == PINNED


PINNED = "c4157fb0caf270a3e7b0807b06b9c317124e8332571c5e8b4eaa428447510533"
