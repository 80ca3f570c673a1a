"""The sandbox's "training": nearest-neighbour retrieval over the training examples.

This is a deterministic stand-in, not an LLM. A fine-tuned sandbox model answers
with the assistant reply of the most similar training example (TF-IDF cosine over
the system prompt and user turns, with a small similarity-weighted vote among the
nearest few so that near-duplicate prompts with the same label reinforce each
other). A base model has no training data and always gives the same generic reply.
"""

from __future__ import annotations

import heapq
import math
import re
from collections import Counter
from collections.abc import Iterable, Sequence

from .data import Message, Pair

__all__ = ["BaseModelResponder", "RetrievalLearner", "reply_overlap", "terms"]

_WORD_RE = re.compile(r"[a-z0-9]+")
# The last user turn says what is being asked; earlier turns and the system prompt
# only give context, so they count for less in the similarity.
_LAST_USER_WEIGHT = 1.0
_CONTEXT_WEIGHT = 0.5
_VOTE_NEIGHBOURS = 5


def terms(text: str) -> list[str]:
    """Lower-cased word tokens used as retrieval features."""
    return _WORD_RE.findall(text.lower())


def reply_overlap(predicted: str, expected: str) -> float:
    """Token-level F1 between two replies: 1.0 for identical wording, 0.0 for nothing shared."""
    if predicted == expected:
        return 1.0
    p, e = Counter(terms(predicted)), Counter(terms(expected))
    common = sum((p & e).values())
    if not common:
        return 0.0
    precision, recall = common / sum(p.values()), common / sum(e.values())
    return 2 * precision * recall / (precision + recall)


def _weighted_terms(context: Sequence[Message]) -> Counter[str]:
    last_user = max((i for i, m in enumerate(context) if m.role == "user"), default=-1)
    counts: Counter[str] = Counter()
    for idx, msg in enumerate(context):
        if msg.role not in ("system", "developer", "user"):
            continue  # earlier assistant/tool turns say little about the wanted answer
        weight = _LAST_USER_WEIGHT if idx == last_user else _CONTEXT_WEIGHT
        for term in terms(msg.text):
            counts[term] += weight
    return counts


class RetrievalLearner:
    """A TF-IDF nearest-neighbour model over (context, reply) pairs."""

    def __init__(self, pairs: Sequence[Pair]) -> None:
        if not pairs:
            raise ValueError("a learner needs at least one example")
        self.pairs = tuple(pairs)
        raw = [_weighted_terms(p.context) for p in self.pairs]
        df: Counter[str] = Counter()
        for counts in raw:
            df.update(counts.keys())
        n = len(self.pairs)
        self._idf = {t: math.log((1 + n) / (1 + d)) + 1.0 for t, d in df.items()}
        self._postings: dict[str, list[tuple[int, float]]] = {}
        for idx, counts in enumerate(raw):
            for term, weight in self._vector(counts).items():
                self._postings.setdefault(term, []).append((idx, weight))
        # Fallback for prompts sharing no word with any example: the most common reply.
        replies = Counter(p.reply for p in self.pairs)
        self.majority_reply = max(replies, key=lambda r: (replies[r], -self._first_index(r)))
        self.distinct_replies = len(replies)

    def _first_index(self, reply: str) -> int:
        return next(i for i, p in enumerate(self.pairs) if p.reply == reply)

    def _vector(self, counts: Counter[str]) -> dict[str, float]:
        vec = {
            t: (1.0 + math.log(c)) * self._idf[t] if c >= 1 else c * self._idf[t]
            for t, c in counts.items()
            if t in self._idf
        }
        norm = math.sqrt(sum(v * v for v in vec.values()))
        return {t: v / norm for t, v in vec.items()} if norm else {}

    def _scores(self, context: Sequence[Message], exclude: int | None = None) -> list[float]:
        # A dense accumulator is markedly faster in pure Python than a dict per query.
        scores = [0.0] * len(self.pairs)
        for term, qweight in self._vector(_weighted_terms(context)).items():
            for idx, dweight in self._postings.get(term, ()):
                scores[idx] += qweight * dweight
        if exclude is not None:
            scores[exclude] = 0.0
        return scores

    def predict(self, context: Sequence[Message], *, exclude: int | None = None) -> tuple[str, float]:
        """The learned reply for ``context`` and the cosine similarity of the nearest example."""
        scores = self._scores(context, exclude)
        # nlargest is stable, so equal scores resolve to the earlier example, every time.
        nearest = heapq.nlargest(_VOTE_NEIGHBOURS, range(len(scores)), key=scores.__getitem__)
        nearest = [idx for idx in nearest if scores[idx] > 0.0]
        if not nearest:
            return self.majority_reply, 0.0
        votes: dict[str, float] = {}
        for idx in nearest:
            reply = self.pairs[idx].reply
            votes[reply] = votes.get(reply, 0.0) + scores[idx]
        rank = {}
        for position, idx in enumerate(nearest):
            rank.setdefault(self.pairs[idx].reply, position)
        best = max(votes, key=lambda r: (votes[r], -rank[r]))
        return best, scores[nearest[0]]

    def answer(self, messages: Iterable[Message]) -> str:
        """Reply to a chat conversation (only the turns before the reply matter)."""
        return self.predict(tuple(messages))[0]

    def leave_one_out(self, indices: Iterable[int]) -> dict[int, float]:
        """For each index: reply overlap when that example is predicted from all the others."""
        return {
            idx: reply_overlap(self.predict(self.pairs[idx].context, exclude=idx)[0], self.pairs[idx].reply)
            for idx in indices
        }

    def accuracy_on(self, pairs: Sequence[Pair]) -> float:
        """Mean reply overlap of predictions on held-out pairs."""
        if not pairs:
            return 0.0
        return sum(reply_overlap(self.predict(p.context)[0], p.reply) for p in pairs) / len(pairs)


class BaseModelResponder:
    """What an untrained sandbox base model says: one fixed, deterministic reply."""

    def __init__(self, model_id: str) -> None:
        self.model_id = model_id

    def answer(self, messages: Iterable[Message]) -> str:
        """The same generic reply whatever is asked."""
        del messages  # an untrained stand-in has nothing to look up
        return (
            f"This is the tuneops sandbox base model '{self.model_id}', a local stand-in that has not "
            "been fine-tuned and is not a language model, so it has no specific answer."
        )
