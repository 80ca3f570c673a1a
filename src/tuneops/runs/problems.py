"""Nothing wedges: ledger writes that concurrent syncs may race on, and what a run that cannot be
advanced tells its user (which run, what went wrong, what to do) instead of a traceback."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tuneops.errors import MissingCredential, ProviderError, TransientProviderError, TuneopsError

if TYPE_CHECKING:
    from sqlmodel import Session

    from tuneops.store.tables import RunRow

# Providers whose "cannot connect" deserves a hint about starting them.
_LOCAL_SERVERS = {"sandbox": "is `tuneops sandbox serve` running? (start it, or point TUNEOPS_SANDBOX_URL at it)"}


def _insert(session: Session, table: Any) -> Any:
    """An INSERT for this session's database that can skip or update on conflict."""
    if session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    return insert(table)


def put_metric_point(session: Session, values: dict[str, Any], *, update: bool) -> None:
    """Store a run's metrics at one step once, whoever stores it first (``update``: fill in the values
    given over what is there; otherwise keep the first)."""
    from tuneops.store.lifecycle_tables import MetricPointRow

    stmt = _insert(session, MetricPointRow.__table__).values(**values)
    given = {k: v for k, v in values.items() if k not in ("run_id", "step") and v is not None}
    if update and given:
        stmt = stmt.on_conflict_do_update(index_elements=["run_id", "step"], set_=given)
    else:
        stmt = stmt.on_conflict_do_nothing(index_elements=["run_id", "step"])
    session.execute(stmt)


def put_checkpoint(session: Session, values: dict[str, Any]) -> None:
    """Store a checkpoint once, whoever stores it first."""
    from tuneops.store.lifecycle_tables import CheckpointRow

    stmt = _insert(session, CheckpointRow.__table__).values(**values)
    session.execute(stmt.on_conflict_do_nothing(index_elements=["run_id", "provider_checkpoint_id"]))


def reach_hint(provider: str, location: str) -> str:
    """What to say when ``provider`` at ``location`` cannot be reached."""
    tail = f"; {_LOCAL_SERVERS[provider]}" if provider in _LOCAL_SERVERS else ""
    return f"tried {location or provider}{tail}"


def unreachable(exc: BaseException) -> bool:
    """Whether an error says the provider could not be reached at all (not that it refused)."""
    text = str(exc).lower()
    return isinstance(exc, TransientProviderError) and exc.status is None and any(
        w in text for w in ("connect", "refused", "timed out", "timeout", "unreachable", "name resolution"))


def explain(run: RunRow, exc: BaseException, pool: Any = None) -> str:
    """One message for a run left behind: which run, what went wrong, what to do."""
    from sqlalchemy.exc import IntegrityError, OperationalError, SQLAlchemyError

    head = f"run {run.id} ({run.job_name} at {run.provider}, {run.state})"
    if isinstance(exc, MissingCredential):
        return f"{head}: {exc} Other providers' runs were synced."
    if isinstance(exc, ProviderError):
        hint = ""
        if unreachable(exc):
            hint = f" ({reach_hint(run.provider, location_of(pool, run))})"
        again = "tries again" if isinstance(exc, TransientProviderError) else "will try again"
        return f"{head}: {exc}{hint}; the next `tuneops sync` {again}"
    if isinstance(exc, IntegrityError):
        return (f"{head}: the ledger refused a duplicate record ({_orig(exc)}); nothing of this step was "
                f"kept. Run `tuneops sync` again; if this repeats, end the run with `tuneops runs abandon "
                f"{run.id} --reason TEXT`")
    if isinstance(exc, OperationalError | SQLAlchemyError | OSError):
        why = _orig(exc)
        if "no such table" in why or "does not exist" in why:
            todo = ("a table of the ledger is missing: restore the ledger from a backup (`tuneops db status` "
                    "shows its schema)")
        else:
            todo = "free disk space (or fix the ledger's permissions)"
        return (f"{head}: the ledger could not be written ({why}); nothing of this step was kept: {todo}, "
                "then run `tuneops sync` again")
    if isinstance(exc, TuneopsError):
        return f"{head}: {exc}"
    return f"{head}: {type(exc).__name__}: {exc}"


def _orig(exc: BaseException) -> str:
    return str(getattr(exc, "orig", None) or exc).splitlines()[0][:300]


def location_of(pool: Any, run: RunRow) -> str:
    """Where the run's provider was tried (empty when the adapter cannot be built)."""
    try:
        return pool.for_run(run).location() if pool is not None else ""
    except Exception:  # naming the URL is a courtesy; never let it hide the real problem
        return ""
