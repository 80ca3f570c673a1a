"""The user-level config file: where a provider's host is, for one person on one machine (never in a spec).

``$TUNEOPS_CONFIG``, else ``$XDG_CONFIG_HOME/tuneops/config.toml``, else ``~/.config/tuneops/config.toml``,
found through the environment mapping the caller passes (tests pass their own, so no one's real
file leaks in). One table per provider with its connection settings::

    [providers.openai]
    base_url = "https://proxy.internal.example/v1"

An environment variable for the same setting wins over the file.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from tuneops.errors import TuneopsError


def path(env: Mapping[str, str]) -> Path | None:
    """Where the user config file is for this environment (None when no home is known)."""
    if env.get("TUNEOPS_CONFIG"):
        return Path(env["TUNEOPS_CONFIG"])
    if env.get("XDG_CONFIG_HOME"):
        return Path(env["XDG_CONFIG_HOME"]) / "tuneops" / "config.toml"
    if env.get("HOME"):
        return Path(env["HOME"]) / ".config" / "tuneops" / "config.toml"
    return None


def read(env: Mapping[str, str]) -> tuple[Path | None, dict[str, Any]]:
    """The file's path and contents ({} when there is no file)."""
    where = path(env)
    if where is None or not where.is_file():
        return where, {}
    try:
        return where, tomllib.loads(where.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise TuneopsError(f"user config {where} cannot be read: {exc}; fix or remove it") from None


def connection(provider: str, env: Mapping[str, str]) -> dict[str, Any]:
    """Provider ``provider``'s connection settings from the file, minus those its environment variable sets."""
    from tuneops import options

    where, data = read(env)
    table = (data.get("providers") or {}).get(provider) or {}
    if not table:
        return {}
    if not isinstance(table, dict):
        raise TuneopsError(f"{where}: [providers.{provider}] must be a table")
    options.check_settings(provider, table, str(where))
    known = options.connection_for(provider)
    return {key: value for key, value in table.items() if not (known.get(key) and env.get(str(known[key])))}
