"""A throwaway PostgreSQL cluster for the tests marked ``postgres``, and the fixtures built on it.

``postgres_url`` (session) is a server: the one in TUNEOPS_TEST_POSTGRES_URL if set, else a cluster
started here with Debian's server binaries (about 1.5 s) and stopped at the end of the session.
``pg_db_url`` is a fresh, empty database on it for one test; ``any_db_url`` runs a test once on
SQLite and once on PostgreSQL. Without a server the PostgreSQL tests skip with the reason, unless
TUNEOPS_REQUIRE_POSTGRES=1 (set by .ci/run), where a missing server is a failure.
"""

from __future__ import annotations

import os
import shlex
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

PG_BIN = Path(os.environ.get("TUNEOPS_PG_BIN", "/usr/lib/postgresql/15/bin"))
REQUIRE_ENV = "TUNEOPS_REQUIRE_POSTGRES"
EXTERNAL_ENV = "TUNEOPS_TEST_POSTGRES_URL"
# initdb refuses to run as root, so as root the cluster belongs to this unprivileged account.
PG_USER = "postgres"


def unavailable(reason: str) -> None:
    """Skip the test for ``reason``, or fail it when PostgreSQL is required (CI)."""
    message = f"PostgreSQL not available: {reason}"
    if os.environ.get(REQUIRE_ENV) == "1":
        pytest.fail(f"{message} ({REQUIRE_ENV}=1, so this is a failure)", pytrace=False)
    pytest.skip(message)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class PostgresCluster:
    """A private cluster on loopback in a temporary directory, trusted logins, no durability."""

    def __init__(self, bin_dir: Path = PG_BIN):
        self.bin_dir = bin_dir
        self.root = Path(tempfile.mkdtemp(prefix="tuneops-pg-"))
        self.data = self.root / "data"
        self.port = _free_port()
        self.as_root = os.geteuid() == 0

    def _run(self, *args: str) -> subprocess.CompletedProcess[str]:
        cmd = [str(self.bin_dir / args[0]), *args[1:]]
        if self.as_root:
            cmd = ["runuser", "-u", PG_USER, "--", *cmd]
        return subprocess.run(cmd, capture_output=True, text=True, timeout=60)

    def start(self) -> str:
        """Initialise and start the cluster; returns the server URL (maintenance database)."""
        if self.as_root:
            shutil.chown(self.root, PG_USER)
        done = self._run("initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres", "-E", "UTF8",
                         "--no-sync")
        if done.returncode != 0:
            raise RuntimeError(f"initdb failed: {done.stderr.strip() or done.stdout.strip()}")
        # Durability is pointless for a cluster that is deleted at the end of the session.
        options = (f"-k {self.root} -p {self.port} -c listen_addresses=127.0.0.1 -c fsync=off "
                   "-c synchronous_commit=off -c full_page_writes=off -c max_connections=200")
        done = self._run("pg_ctl", "-D", str(self.data), "-w", "-t", "30", "-l", str(self.root / "log"),
                         "-o", options, "start")
        if done.returncode != 0:
            log = (self.root / "log").read_text() if (self.root / "log").exists() else ""
            raise RuntimeError(f"pg_ctl start failed: {done.stderr.strip()} {log[-2000:]}")
        self._watch()
        return self.url("postgres")

    def _watch(self) -> None:
        """Stop the cluster when this process dies, even by SIGKILL (no fixture teardown then)."""
        stop = [str(self.bin_dir / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "stop"]
        if self.as_root:
            stop = ["runuser", "-u", PG_USER, "--", *stop]
        script = (f"while kill -0 {os.getpid()} 2>/dev/null; do sleep 1; done; "
                  f"{shlex.join(stop)} >/dev/null 2>&1; rm -rf {shlex.quote(str(self.root))}")
        subprocess.Popen(["sh", "-c", script], start_new_session=True, stdin=subprocess.DEVNULL,
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def url(self, database: str) -> str:
        """A URL for ``database`` on this cluster."""
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def stop(self) -> None:
        """Stop the cluster and delete its files."""
        if (self.data / "postmaster.pid").exists():
            self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")
        shutil.rmtree(self.root, ignore_errors=True)


def _admin(server_url: str):  # type: ignore[no-untyped-def]
    import psycopg

    return psycopg.connect(server_url, autocommit=True, connect_timeout=10)


def create_database(server_url: str) -> str:
    """Create an empty database on the server; returns its URL."""
    from sqlalchemy.engine import make_url

    name = f"t_{uuid.uuid4().hex[:16]}"
    with _admin(server_url) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return make_url(server_url).set(database=name).render_as_string(hide_password=False)


def drop_database(server_url: str, db_url: str) -> None:
    """Drop a database made by create_database, closing whatever still uses it."""
    from sqlalchemy.engine import make_url

    name = make_url(db_url).database
    with _admin(server_url) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A PostgreSQL server URL for the session (external, or a throwaway cluster started here)."""
    try:
        import psycopg  # noqa: F401
    except ImportError:
        unavailable("the psycopg driver is not installed (pip install 'tuneops[postgres]')")
    external = os.environ.get(EXTERNAL_ENV)
    if external:
        yield external.replace("postgresql+psycopg://", "postgresql://")
        return
    if not (PG_BIN / "initdb").exists():
        unavailable(f"no server binaries in {PG_BIN} (apt-get install -y postgresql-15, "
                    f"or set {EXTERNAL_ENV})")
    cluster = PostgresCluster()
    try:
        url = cluster.start()
    except (RuntimeError, OSError, subprocess.SubprocessError) as exc:
        cluster.stop()
        unavailable(str(exc))
    try:
        yield url
    finally:
        cluster.stop()


@pytest.fixture
def pg_db_url(postgres_url: str) -> Iterator[str]:
    """A fresh, empty PostgreSQL database for one test (dropped afterwards)."""
    url = create_database(postgres_url)
    try:
        yield url
    finally:
        drop_database(postgres_url, url)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def any_db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh ledger URL, once on SQLite and once on PostgreSQL (for store and audit tests)."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'ledger.db'}"
    return str(request.getfixturevalue("pg_db_url"))
