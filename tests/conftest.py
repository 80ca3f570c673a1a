"""Shared test fixtures: no network but loopback, an isolated project directory per test, the sandbox."""

from __future__ import annotations

import ipaddress
import os
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

_real_connect = socket.socket.connect
_real_connect_ex = socket.socket.connect_ex
_real_getaddrinfo = socket.getaddrinfo
_LOCAL_NAMES = {"localhost", "localhost.localdomain", "ip6-localhost", "testserver", ""}


def _is_loopback(host: object) -> bool:
    if isinstance(host, bytes):
        host = host.decode()
    if not isinstance(host, str) or host in _LOCAL_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.split("%")[0]).is_loopback
    except ValueError:
        return False


def _guard(address: object) -> None:
    if isinstance(address, tuple) and address and not _is_loopback(address[0]):
        raise OSError(f"tests may not reach the network: blocked connection to {address[0]}")


def _connect(self: socket.socket, address: object) -> None:
    if self.family in (socket.AF_INET, socket.AF_INET6):
        _guard(address)
    return _real_connect(self, address)


def _connect_ex(self: socket.socket, address: object) -> int:
    if self.family in (socket.AF_INET, socket.AF_INET6):
        _guard(address)
    return _real_connect_ex(self, address)


def _getaddrinfo(host: object, *args: object, **kwargs: object):  # type: ignore[no-untyped-def]
    if host is not None and not _is_loopback(host):
        raise socket.gaierror(f"tests may not reach the network: blocked lookup of {host}")
    return _real_getaddrinfo(host, *args, **kwargs)  # type: ignore[arg-type]


# Installed at import so that nothing, not even session fixtures, can reach the network.
socket.socket.connect = _connect  # type: ignore[method-assign]
socket.socket.connect_ex = _connect_ex  # type: ignore[method-assign]
socket.getaddrinfo = _getaddrinfo  # type: ignore[assignment]


def _load_pg():  # type: ignore[no-untyped-def]
    # tests/ is no package, so tests/pg.py is loaded by path; its fixtures are re-exported below.
    import importlib.util
    import sys

    spec = importlib.util.spec_from_file_location("tuneops_tests_pg", Path(__file__).with_name("pg.py"))
    module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    sys.modules[spec.name] = module  # type: ignore[union-attr]
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module


# PostgreSQL: postgres_url (session server), pg_db_url (fresh database), any_db_url (sqlite + postgres).
_pg = _load_pg()
postgres_url, pg_db_url, any_db_url = _pg.postgres_url, _pg.pg_db_url, _pg.any_db_url


@pytest.fixture(autouse=True)
def _isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Each test runs in its own empty project directory with its own ledger and no real credentials."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("TUNEOPS_HOME", str(tmp_path / ".tuneops"))
    monkeypatch.setenv("TUNEOPS_ACTOR", "tester@tuneops")
    monkeypatch.setenv("TUNEOPS_CONFIG", str(tmp_path / "user-config.toml"))  # never the tester's own file
    for name in list(os.environ):
        if name.endswith(("_API_KEY", "_TOKEN")) or name in ("TUNEOPS_DATABASE_URL", "OPENAI_BASE_URL",
                                                                "TUNEOPS_SANDBOX_URL", "TUNEOPS_PROVIDERS"):
            monkeypatch.delenv(name, raising=False)
    from tuneops.cli import state

    monkeypatch.setattr(state, "DB", None)
    yield tmp_path


@pytest.fixture(scope="session")
def sandbox() -> Iterator[object]:
    """A sandbox server for the whole session, fast enough that jobs finish in about a second."""
    from tuneops.sandbox import SandboxServer

    with SandboxServer(time_scale=20.0) as server:
        yield server


@pytest.fixture
def sandbox_env(sandbox: object, monkeypatch: pytest.MonkeyPatch) -> object:
    """Point the `sandbox` provider at the session's sandbox server."""
    monkeypatch.setenv("TUNEOPS_SANDBOX_URL", sandbox.url)  # type: ignore[attr-defined]
    return sandbox


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """The example project (`tuneops init`) in the test's directory; returns the spec path."""
    from tuneops.examples import write_example

    write_example(tmp_path / "jobs")
    return tmp_path / "jobs" / "support-triage.toml"


def sandbox_stats(server: object) -> dict:
    """The sandbox's request counters (``GET /_sandbox/stats``)."""
    import httpx

    return httpx.get(f"{server.admin_url}/stats", timeout=10).json()  # type: ignore[attr-defined]


@pytest.fixture
def requests_at(sandbox: object):  # type: ignore[no-untyped-def]
    """``requests_at("POST /v1/files")``: how many such requests the session's sandbox has served."""
    return lambda route: int(sandbox_stats(sandbox)["requests"].get(route, 0))


@pytest.fixture
def no_lift_project(project: Path) -> Path:
    """The example project with every training answer replaced by one the eval set never expects, so a
    model trained on it scores no better than the base model; returns the spec path."""
    import json

    train = project.parent / "data" / "support-triage.train.jsonl"
    rows = [json.loads(line) for line in train.read_text().splitlines()]
    for r in rows:
        r["messages"][-1]["content"] = "please hold"
    train.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return project
