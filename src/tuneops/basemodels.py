"""Tunable base models per provider, with their published shutdown dates and where each date comes from.

Each adapter declares ``base_models`` (a tuple of ``TunableModel``) from its own ``models.py``. A base
model the adapter does not list is a warning, never an error: providers add models faster than
tuneops releases. Dates are ``first-party`` (the provider's own page, possibly read through a
mirror) or ``third-party`` (someone else's reading of it); both are shown with their source.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from typing import Literal

Confidence = Literal["first-party", "third-party"]

# How far ahead a shutdown date is worth mentioning in `validate`.
SOON_DAYS = 90


@dataclass(frozen=True)
class TunableModel:
    """A base model one provider fine-tunes, with its size and lifecycle dates where published."""

    id: str
    params_b: float | None = None  # billions of parameters: Together and Fireworks price by size band
    methods: frozenset[str] = frozenset({"sft"})
    aliases: tuple[str, ...] = ()
    retires: date | None = None  # the base model, and fine-tunes built on it, stop serving
    training_ends: date | None = None  # no new fine-tuning jobs on it after this day
    status: str = ""  # one line: deprecation notices and the like
    source: str = ""
    confidence: Confidence | None = None

    def names(self) -> tuple[str, ...]:
        """The id and every alias a spec may use for it."""
        return (self.id, *self.aliases)


def known(provider: str) -> tuple[TunableModel, ...]:
    """The base models ``provider`` declares (empty: unknown provider, or a plugin that lists none)."""
    from tuneops import registry

    return tuple(getattr(registry.factory(provider), "base_models", ()) or ())


def lookup(provider: str, model: str) -> TunableModel | None:
    """The entry for ``model`` at ``provider`` (by id or alias, case-insensitive), or None."""
    wanted = model.strip().lower()
    for entry in known(provider):
        if wanted in (n.lower() for n in entry.names()):
            return entry
    return None


def _date_note(entry: TunableModel, today: date) -> list[tuple[str, str, str]]:
    """(severity, code, message) for the entry's dates that have passed or come within SOON_DAYS."""
    out = []
    how = f" ({entry.confidence}: {entry.source})" if entry.source else ""
    for when, passed, coming, code in (
            (entry.training_ends, "no longer accepts new fine-tuning jobs since", "stops accepting new "
             "fine-tuning jobs on", "model.training_ends"),
            (entry.retires, "was shut down on", "shuts down (with the fine-tunes built on it) on", "model.retires")):
        if when is None:
            continue
        if when <= today:
            out.append(("warning", code, f"{entry.id} {passed} {when.isoformat()}{how}"))
        elif (when - today).days <= SOON_DAYS:
            out.append(("warning", code, f"{entry.id} {coming} {when.isoformat()}, in {(when - today).days} "
                                         f"day(s){how}"))
    return out


def check(providers: Iterable[str], model: str, today: date, method: str = "sft") -> list[tuple[str, str, str, str]]:
    """(provider, severity, code, message) for an unknown base model, a method it does not train, or a
    shutdown that passed or is near."""
    out = []
    for provider in providers:
        entries = known(provider)
        if not entries:
            continue
        entry = lookup(provider, model)
        if entry is None:
            names = ", ".join(e.id for e in entries)
            out.append((provider, "warning", "model.unknown_base",
                        f"{model} is not a base model tuneops knows for {provider} (known: {names}); the provider "
                        f"may accept it, `tuneops providers models {provider}` lists them with their dates"))
            continue
        if method not in entry.methods:
            out.append((provider, "warning", "model.method",
                        f"{provider} documents {entry.id} for {', '.join(sorted(entry.methods))} only, not {method}"))
        out += [(provider, sev, code, msg) for sev, code, msg in _date_note(entry, today)]
    return out
