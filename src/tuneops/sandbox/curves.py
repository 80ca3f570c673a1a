"""Deterministic per-step training metrics for sandbox jobs, derived from the learner.

The numbers are not from gradient descent (the sandbox is not an LLM), but they are
real functions of the data: the loss starts near that of guessing among the distinct
replies, falls with the step count, and levels off at a floor set by how often
leave-one-out retrieval gets a training example wrong. Each batch's loss moves with
the difficulty of the examples in it, and the validation loss levels off at the
error the learner actually makes on the validation file.

Like a real fine-tune, a small dataset seen for many epochs is memorised: once each
example has been seen more often than the data can support (``overfit_after``
epochs, more for larger datasets), the validation loss climbs again while the
training loss keeps falling. A few hundred examples for a few epochs never get there.
"""

from __future__ import annotations

import hashlib
import math
import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TypeVar

from .data import Pair
from .learner import RetrievalLearner

__all__ = ["Hyperparameters", "StepMetrics", "build_curve", "metrics_csv", "overfit_after"]

T = TypeVar("T")

# Each retrieval costs time linear in the data, so leave-one-out and validation
# accuracy use evenly spaced samples that shrink as the data grows; this keeps
# creating a job well under a second for a few thousand examples.
_MAX_SAMPLE = 200
_MIN_SAMPLE = 40
_SAMPLE_WORK = 300_000  # sample size x examples


@dataclass(frozen=True)
class Hyperparameters:
    """Resolved hyperparameters of one job."""

    batch_size: int
    n_epochs: int
    learning_rate_multiplier: float
    beta: float | None = None

    def steps_per_epoch(self, n_examples: int) -> int:
        """Optimiser steps in one pass over the data."""
        return max(1, math.ceil(n_examples / self.batch_size))


@dataclass(frozen=True)
class StepMetrics:
    """Metrics reported after one training step."""

    step: int
    train_loss: float
    train_mean_token_accuracy: float
    valid_loss: float | None
    valid_mean_token_accuracy: float | None


def overfit_after(n_examples: int) -> float:
    """Epochs after which the validation loss of a dataset this size starts to climb."""
    return 2.0 + n_examples / 25


def _memorised(epochs_seen: float, n_examples: int) -> float:
    """How far validation loss has climbed from memorising: zero until ``overfit_after`` epochs,
    then growing per extra epoch, faster for smaller datasets (each example is seen more often)."""
    extra = epochs_seen - overfit_after(n_examples)
    return 0.0 if extra <= 0 else 0.05 * extra / (1 + n_examples / 50)


def _jitter(seed: int, step: int, salt: str) -> float:
    """A deterministic pseudo-random number in [-0.5, 0.5)."""
    digest = hashlib.blake2b(f"{seed}:{step}:{salt}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64 - 0.5


def build_curve(
    learner: RetrievalLearner,
    hp: Hyperparameters,
    *,
    seed: int,
    n_examples: int,
    train_indices: Sequence[int],
    validation: Sequence[Pair] = (),
) -> list[StepMetrics]:
    """Metrics for every step of a job, in step order.

    ``train_indices`` are the learner's pairs that come from this job's training file
    (a job that continues from a fine-tuned model also knows its parent's pairs).
    """
    steps_per_epoch = hp.steps_per_epoch(n_examples)
    total = steps_per_epoch * hp.n_epochs
    budget = max(_MIN_SAMPLE, min(_MAX_SAMPLE, _SAMPLE_WORK // max(1, len(learner.pairs))))
    sample = _spread(train_indices, budget)
    difficulty = {i: 1.0 - acc for i, acc in learner.leave_one_out(sample).items()}
    mean_d = sum(difficulty.values()) / len(difficulty)

    k = learner.distinct_replies
    start_loss = math.log(k + 1) + 0.7  # a little worse than guessing uniformly among replies
    start_acc = 1.0 / (k + 1)
    train_floor = 0.02 + 0.2 * mean_d
    train_acc_final = 1.0 - 0.3 * mean_d
    # A larger learning-rate multiplier makes the curve fall faster, as users expect.
    rate = min(12.0, max(1.0, 2.5 + 1.5 * hp.learning_rate_multiplier))

    valid_acc_final: float | None = None
    valid_floor = 0.0
    if validation:
        valid_acc_final = learner.accuracy_on(_spread(validation, budget))
        valid_floor = train_floor + 0.8 * -math.log(min(0.98, max(0.02, valid_acc_final)))

    order = list(train_indices)
    random.Random(seed).shuffle(order)
    curve: list[StepMetrics] = []
    for step in range(1, total + 1):
        pos = (step - 1) % steps_per_epoch * hp.batch_size
        # Multi-turn examples give several pairs, so ``order`` is never shorter than the data.
        batch = order[pos : pos + hp.batch_size] or order[:1]
        batch_d = sum(difficulty.get(i, mean_d) for i in batch) / len(batch)
        decay = math.exp(-rate * step / total)
        noise = 0.04 * _jitter(seed, step, "train") * (0.3 + decay)
        train_loss = train_floor + (start_loss - train_floor) * decay * (0.75 + 0.5 * batch_d) + noise
        train_acc = start_acc + (train_acc_final - start_acc) * (1 - decay) - 0.1 * (batch_d - mean_d)
        valid_loss = valid_acc = None
        if valid_acc_final is not None:
            vnoise = 0.03 * _jitter(seed, step, "valid") * (0.3 + decay)
            climb = _memorised(step / steps_per_epoch, n_examples)
            valid_loss = round(max(0.001, valid_floor + (start_loss - valid_floor) * decay + vnoise + climb), 5)
            valid_acc = round(_clip01(start_acc + (valid_acc_final - start_acc) * (1 - decay)), 5)
        curve.append(
            StepMetrics(
                step=step,
                train_loss=round(max(0.001, train_loss), 5),
                train_mean_token_accuracy=round(_clip01(train_acc), 5),
                valid_loss=valid_loss,
                valid_mean_token_accuracy=valid_acc,
            )
        )
    return curve


def _spread(items: Sequence[T], size: int) -> list[T]:
    """At most ``size`` items, evenly spaced, first and last included."""
    n = len(items)
    picks = {round(i * (n - 1) / max(1, size - 1)) for i in range(min(n, size))}
    return [items[i] for i in sorted(picks)]


def _clip01(value: float) -> float:
    return min(1.0, max(0.0, value))


def metrics_csv(curve: Sequence[StepMetrics]) -> bytes:
    """The result file of a job: one CSV row per step."""
    rows = ["step,train_loss,train_accuracy,valid_loss,valid_mean_token_accuracy"]
    for m in curve:
        valid_loss = "" if m.valid_loss is None else f"{m.valid_loss:.5f}"
        valid_acc = "" if m.valid_mean_token_accuracy is None else f"{m.valid_mean_token_accuracy:.5f}"
        rows.append(f"{m.step},{m.train_loss:.5f},{m.train_mean_token_accuracy:.5f},{valid_loss},{valid_acc}")
    return ("\n".join(rows) + "\n").encode()
