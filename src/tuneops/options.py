"""Provider options: each adapter's ``[options.<provider>]`` schema, checked with file, line and "did you mean".

An adapter declares ``options_schema`` (a ``ProviderOptions`` subclass: unknown keys are refused,
values are typed) and ``connection_settings`` (where its host comes from: an environment variable,
else the user-level config file; never a job spec, which is committed and shared). ``problems``
checks every options table of a spec; ``required`` lists what a provider needs that the spec lacks.
"""

from __future__ import annotations

import difflib
import types
import typing
from collections.abc import Iterable, Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

from tuneops.errors import TuneopsError


class ProviderOptions(BaseModel):
    """Base of every adapter's options schema: unknown keys are refused, values are typed."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=False)


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """`` did you mean X?`` for the closest choice, or an empty string."""
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f"; did you mean {close[0]}?" if close else ""


def schema_for(name: str) -> type[ProviderOptions] | None:
    """The options schema provider ``name`` declares (None: unknown provider, or a plugin without one)."""
    from tuneops import registry

    return getattr(registry.factory(name), "options_schema", None)


def connection_for(name: str) -> Mapping[str, str | None]:
    """The connection settings of provider ``name``: setting -> the environment variable that sets it."""
    from tuneops import registry

    return getattr(registry.factory(name), "connection_settings", None) or {}


def field_names(schema: type[BaseModel]) -> list[str]:
    """The keys a spec writes for ``schema`` (aliases where a field has one)."""
    return [f.alias or n for n, f in schema.model_fields.items()]


def _nested(schema: type[BaseModel], path: tuple[str, ...]) -> type[BaseModel] | None:
    """The sub-schema at ``path`` (e.g. the ``wandb`` table), or None when it is not a table."""
    current: type[BaseModel] | None = schema
    for key in path:
        if current is None:
            return None
        by_key = {f.alias or n: f for n, f in current.model_fields.items()}
        field = by_key.get(key)
        if field is None:
            return None
        current = _model_in(field.annotation)
    return current


def _model_in(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        for arg in typing.get_args(annotation):
            found = _model_in(arg)
            if found is not None:
                return found
    return None


def _messages(provider: str, schema: type[ProviderOptions], table: Mapping[str, Any],
              require: bool) -> list[tuple[tuple[str, ...], str]]:
    """(field path under the table, message) for each problem of one options table."""
    try:
        schema.model_validate(dict(table))
    except ValidationError as exc:
        out = []
        for err in exc.errors():
            path = tuple(str(p) for p in err["loc"] if not isinstance(p, int))
            dotted = ".".join(("options", provider, *path))
            if err["type"] == "extra_forbidden":
                parent = _nested(schema, path[:-1]) or schema
                known = field_names(parent)
                hint = did_you_mean(path[-1], known) or f"; {provider} takes: {', '.join(known)}"
                out.append((path, f"{dotted}: unknown option{hint} (see docs/providers/{provider}.md)"))
            elif err["type"] == "missing":
                if require:
                    out.append((path, f"{dotted}: {provider} needs this option; add it under "
                                      f"[options.{provider}] (see docs/providers/{provider}.md)"))
            else:
                msg = err["msg"].removeprefix("Value error, ")
                out.append((path, f"{dotted}: {msg} (got {err.get('input')!r})"))
        return out
    return []


def problems(options: Mapping[str, Mapping[str, Any]], *,
             required_for: Iterable[str] = ()) -> list[tuple[tuple[str, ...], str]]:
    """Every problem of a spec's ``[options.*]`` tables as (field path, message).

    Unknown keys and wrong types are problems in every table; missing required options only for the
    providers in ``required_for`` (a spec may carry tables for providers it does not run on)."""
    from tuneops import registry

    wanted = list(dict.fromkeys(required_for))
    out: list[tuple[tuple[str, ...], str]] = []
    for provider in options:
        if registry.factory(provider) is None:
            names = registry.names()  # only now: listing every installed provider costs ~20 ms
            if provider in names:  # installed but not importable here: nothing to check it against
                continue
            out.append((("options", provider),
                        f"options.{provider}: no provider named {provider!r}{did_you_mean(provider, names)} "
                        f"(installed: {', '.join(names)})"))
    for provider in [*options, *(w for w in wanted if w not in options)]:
        schema = schema_for(provider)
        if schema is None:
            continue
        table = options.get(provider, {})
        out += [(("options", provider, *path), msg)
                for path, msg in _messages(provider, schema, table, provider in wanted)]
    return out


def check_settings(provider: str, settings: Mapping[str, Any], where: str) -> None:
    """Refuse connection settings the provider does not declare (user config file, ``where``)."""
    known = connection_for(provider)
    for key in settings:
        if key not in known:
            hint = did_you_mean(key, known) if known else ""
            raise TuneopsError(f"{where}: [providers.{provider}] {key}: not a connection setting of {provider}"
                               f"{hint} (it takes: {', '.join(known) or 'none'})")
