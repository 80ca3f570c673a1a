"""Provider discovery through the ``tuneops.providers`` entry-point group: one path for built-ins and plugins.

Listing names imports nothing; creating a provider imports only its own entry point, so heavy SDKs
load only in the commands that use them.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from importlib.metadata import EntryPoint, entry_points
from typing import TYPE_CHECKING, Any

from tuneops.errors import ProviderNotFound, TuneopsError

if TYPE_CHECKING:
    from tuneops.provider import Provider, ProviderConfig

GROUP = "tuneops.providers"

Factory = Callable[["ProviderConfig"], "Provider"]

# In-process registrations (tests, notebooks); they shadow entry points of the same name.
_registered: dict[str, Factory] = {}


def _entry_points() -> dict[str, EntryPoint]:
    found: dict[str, EntryPoint] = {}
    for ep in entry_points(group=GROUP):
        prior = found.get(ep.name)
        if prior is not None and prior.value != ep.value:
            raise TuneopsError(
                f"provider {ep.name!r} is registered twice ({prior.value} and {ep.value}); "
                "uninstall one of the distributions that provide it"
            )
        found[ep.name] = ep
    allowed = os.environ.get("TUNEOPS_PROVIDERS")
    if allowed:
        keep = {n.strip() for n in allowed.split(",")}
        found = {k: v for k, v in found.items() if k in keep}
    return found


def names() -> list[str]:
    """Every provider name available, sorted; imports no adapter."""
    return sorted(set(_entry_points()) | set(_registered))


def load(name: str, *, where: str = "") -> Factory:
    """The factory (usually the adapter class) for ``name``; imports only that adapter."""
    if name in _registered:
        return _registered[name]
    ep = _entry_points().get(name)
    if ep is None:
        raise ProviderNotFound(name, names(), where)
    return ep.load()


# Entry-point factories already loaded, by (name, TUNEOPS_PROVIDERS): reading the installed distributions'
# metadata costs ~20 ms a time, and option, price and base-model lookups ask for the same few providers.
_loaded: dict[tuple[str, str | None], Factory | None] = {}


def factory(name: str) -> Factory | None:
    """The factory for ``name`` like ``load``, or None when no such provider is installed or it cannot be
    imported (remembered for the process)."""
    if name in _registered:
        return _registered[name]
    key = (name, os.environ.get("TUNEOPS_PROVIDERS"))
    if key not in _loaded:
        ep = _entry_points().get(name)
        try:
            _loaded[key] = ep.load() if ep is not None else None
        except TuneopsError:  # e.g. an optional SDK the adapter needs at import is missing
            _loaded[key] = None
    return _loaded[key]


def create(name: str, config: ProviderConfig | None = None, *, where: str = "") -> Provider:
    """Build the provider ``name`` from ``config``; raises MissingCredential before any call."""
    from tuneops.provider import ProviderConfig

    factory = load(name, where=where)
    return factory(config or ProviderConfig())


def register(name: str, factory: Factory) -> Callable[[], None]:
    """Register a provider in-process (tests, notebooks); returns a function that undoes it."""
    _registered[name] = factory

    def undo() -> None:
        _registered.pop(name, None)

    return undo


def describe(name: str) -> dict[str, Any]:
    """Name, capabilities and origin of one provider, for listings."""
    factory = load(name)
    caps = getattr(factory, "capabilities", None)
    ep = _entry_points().get(name)
    return {"name": name, "capabilities": caps, "origin": ep.value if ep else "registered in-process"}
