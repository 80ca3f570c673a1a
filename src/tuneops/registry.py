"""Provider discovery through the ``tuneops.providers`` entry-point group: one path for built-ins and plugins.

Listing names imports nothing; creating a provider imports only its own entry point, so heavy SDKs
load only in the commands that use them. A provider may also declare its capabilities in the
``tuneops.capabilities`` group (a light module, no HTTP client), which is all a listing reads.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from importlib.metadata import EntryPoint, EntryPoints, entry_points
from typing import TYPE_CHECKING, Any

from tuneops.errors import ProviderNotFound, TuneopsError

if TYPE_CHECKING:
    from tuneops.provider import Capabilities, Provider, ProviderConfig

GROUP = "tuneops.providers"
CAPABILITIES_GROUP = "tuneops.capabilities"

Factory = Callable[["ProviderConfig"], "Provider"]

# In-process registrations (tests, notebooks); they shadow entry points of the same name.
_registered: dict[str, Factory] = {}


def _entry_points(installed: EntryPoints | None = None) -> dict[str, EntryPoint]:
    """The provider entry points by name (from ``installed`` when the caller already scanned them)."""
    found: dict[str, EntryPoint] = {}
    for ep in (installed.select(group=GROUP) if installed is not None else entry_points(group=GROUP)):
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


def capabilities(name: str) -> Capabilities:
    """What ``name`` can do: its declared ``tuneops.capabilities`` entry, else its factory's attribute."""
    return describe(name)["capabilities"]


def describe(name: str) -> dict[str, Any]:
    """Name, capabilities and origin of one provider, for listings."""
    installed = entry_points()
    return _describe(name, _entry_points(installed), installed)


def describe_all() -> list[dict[str, Any]]:
    """``describe`` for every provider, sorted by name; one that cannot load has an ``error`` instead."""
    installed = entry_points()  # one scan of the installed distributions for the whole listing (~6 ms each)
    providers = _entry_points(installed)
    rows = []
    for name in sorted(set(providers) | set(_registered)):
        try:
            rows.append(_describe(name, providers, installed))
        except TuneopsError as exc:  # e.g. an optional SDK missing: list it, say why
            rows.append({"name": name, "error": str(exc)})
    return rows


def _describe(name: str, providers: dict[str, EntryPoint], installed: EntryPoints) -> dict[str, Any]:
    if name in _registered:
        factory = _registered[name]
        return {"name": name, "capabilities": getattr(factory, "capabilities", None),
                "origin": "registered in-process"}
    ep = providers.get(name)
    if ep is None:
        raise ProviderNotFound(name, sorted(set(providers) | set(_registered)))
    declared = _declared(name, ep, installed)
    caps = declared.load() if declared is not None else getattr(ep.load(), "capabilities", None)
    return {"name": name, "capabilities": caps, "origin": ep.value}


def _declared(name: str, provider: EntryPoint, installed: EntryPoints) -> EntryPoint | None:
    """The capabilities entry point ``name``'s own distribution declares, if any (another package's
    declaration for the same name must not describe this one)."""
    for ep in installed.select(group=CAPABILITIES_GROUP, name=name):
        if ep.dist is None or provider.dist is None or ep.dist.name == provider.dist.name:
            return ep
    return None
