"""Ledger tables of the retrain scheduler: the latest decision per job, fires and leases.

A fire is unique per ``(job_name, fire_key)``, which is what makes a decision fire once however many
scheduler processes reach it. Work on a fire (submitting its runs, evaluating and promoting after
them) is claimed with a lease on the fire row; singleton work (polling, re-scoring a job's alias) with
a named row in ``lease``. This module also declares two indexes on core tables that the scheduler's
set-based fact queries need at scale; they are created by migration 0005.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, DateTime, Index, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

# Fire states (see tuneops.store.states): claimed (its runs are being admitted, under a lease) ->
# submitted (runs at the provider; leased again while its models are evaluated and promoted) -> done;
# refused when no run could be admitted; failed when its work failed too often.
from tuneops.store.states import FIRE_ACTIVE_STATES, FIRE_FINAL_STATES  # noqa: F401  (imported from here too)
from tuneops.store.tables import ModelRow, RunRow


class DecisionRow(SQLModel, table=True):
    """The scheduler's latest recorded decision for one job, and what it remembers about the job."""

    __tablename__ = "decision"

    job_name: str = Field(primary_key=True, max_length=64)
    first_seen_at: datetime = Field(sa_type=DateTime)
    outcome: str | None = Field(default=None, max_length=8)  # fire | skip
    rule: str | None = Field(default=None, max_length=32)
    # A stable summary of the reasons (no numbers), so a skip is recorded again only when it changes.
    code: str = Field(default="", max_length=512)
    reason: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    fire_key: str | None = Field(default=None, max_length=512)
    recorded_at: datetime | None = Field(default=None, sa_type=DateTime)
    last_fired_at: datetime | None = Field(default=None, sa_type=DateTime)
    last_fire_key: str | None = Field(default=None, max_length=512)
    last_cron_slot: datetime | None = Field(default=None, sa_type=DateTime)


class FireRow(SQLModel, table=True):
    """One decision that fired: the runs it started and how they ended."""

    __tablename__ = "fire"
    __table_args__ = (
        UniqueConstraint("job_name", "fire_key", name="uq_fire_job_key"),
        Index("ix_fire_state", "state"),
    )

    id: str = Field(primary_key=True, max_length=40)
    job_name: str = Field(max_length=64)
    fire_key: str = Field(max_length=512)
    rule: str = Field(max_length=32)
    reason: str = Field(sa_column=Column(Text, nullable=False))
    spec_path: str = Field(default="", max_length=1024)
    state: str = Field(max_length=16)
    providers: str = Field(default="[]", sa_column=Column(Text, nullable=False, default="[]"))  # JSON list
    run_ids: str = Field(default="[]", sa_column=Column(Text, nullable=False, default="[]"))  # JSON list
    outcome: str | None = Field(default=None, max_length=32)
    message: str | None = Field(default=None, sa_column=Column(Text))
    attempts: int = 0
    actor: str = Field(default="", max_length=256)
    lease_owner: str | None = Field(default=None, max_length=256)
    lease_expires_at: datetime | None = Field(default=None, sa_type=DateTime)
    created_at: datetime = Field(sa_type=DateTime)
    updated_at: datetime = Field(sa_type=DateTime)
    finished_at: datetime | None = Field(default=None, sa_type=DateTime)


class LeaseRow(SQLModel, table=True):
    """A named, expiring claim on singleton work (e.g. one process polls providers per cycle)."""

    __tablename__ = "lease"

    name: str = Field(primary_key=True, max_length=256)
    owner: str = Field(max_length=256)
    acquired_at: datetime = Field(sa_type=DateTime)
    renewed_at: datetime = Field(sa_type=DateTime)
    expires_at: datetime = Field(sa_type=DateTime)


# Month-to-date spend (created_at range, summing cost or estimate by state) read from the index alone.
RUN_SPEND_INDEX = Index("ix_run_spend", RunRow.__table__.c.created_at, RunRow.__table__.c.state,  # type: ignore[attr-defined]
                        RunRow.__table__.c.cost_microusd, RunRow.__table__.c.estimate_microusd)  # type: ignore[attr-defined]
# The newest model of each job without a scan of every model.
MODEL_JOB_INDEX = Index("ix_model_job", ModelRow.__table__.c.job_name, ModelRow.__table__.c.id)  # type: ignore[attr-defined]
