"""SQLModel tables of the ledger. Times are naive UTC; money is integer micro-dollars; no secrets.

Schema changes are Alembic revisions in ``store/migrations/versions``; a test checks that a migrated
database equals these declarations.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Column, DateTime, Index, Text, UniqueConstraint, text
from sqlmodel import Field, SQLModel

OPEN_RUN_SQL = "state NOT IN ('succeeded', 'failed', 'cancelled')"


class UploadRow(SQLModel, table=True):
    """A dataset file placed at a provider; never uploaded twice for the same bytes."""

    __tablename__ = "upload"
    __table_args__ = (UniqueConstraint("provider", "account", "sha256", name="uq_upload_provider_account_sha256"),)

    id: int | None = Field(default=None, primary_key=True)
    provider: str = Field(max_length=64)
    # The endpoint/account/project the file lives at (Provider.location()); '' for rows before it was kept.
    account: str = Field(default="", max_length=512, sa_column_kwargs={"server_default": ""})
    sha256: str = Field(max_length=64)
    provider_file_id: str = Field(max_length=512)
    bytes: int = Field(sa_column=Column(BigInteger, nullable=False))
    filename: str = Field(default="", max_length=512)
    created_at: datetime = Field(sa_type=DateTime)


class RunRow(SQLModel, table=True):
    """One attempt to train a job spec at one provider, from intent to a terminal state."""

    __tablename__ = "run"
    __table_args__ = (
        Index("ix_run_job_created", "job_name", "created_at"),
        Index("ix_run_state", "state"),
        Index("ix_run_provider_job", "provider", "provider_job_id"),
        Index("ix_run_intent", "intent_key", "created_at"),
        # At most one unfinished run per intent: the claim concurrent submits race for.
        Index("uq_run_open_intent", "intent_key", unique=True, sqlite_where=text(OPEN_RUN_SQL),
              postgresql_where=text(OPEN_RUN_SQL)),
    )

    id: str = Field(primary_key=True, max_length=40)
    idempotency_key: str = Field(max_length=80, unique=True)
    job_name: str = Field(max_length=64)
    spec_path: str = Field(default="", max_length=1024)
    spec_sha256: str = Field(max_length=64)
    spec_json: str = Field(sa_column=Column(Text, nullable=False))
    provider: str = Field(max_length=64)
    base_model: str = Field(max_length=256)
    method: str = Field(max_length=16)
    # Local phase before the provider knows the job ("admitted", "submitting"), then RunStatus values.
    state: str = Field(max_length=32)
    provider_status: str | None = Field(default=None, max_length=64)
    provider_job_id: str | None = Field(default=None, max_length=512)
    model_id: str | None = Field(default=None, max_length=512)
    train_sha256: str = Field(max_length=64)
    validation_sha256: str | None = Field(default=None, max_length=64)
    train_examples: int = 0
    train_tokens: int = Field(default=0, sa_column=Column(BigInteger, nullable=False, default=0))
    trigger: str = Field(default="manual", max_length=256)
    # What the user meant (tuneops.runs.intent): job, training-relevant spec, data, provider, endpoint, base.
    intent_key: str | None = Field(default=None, max_length=64)
    actor: str = Field(default="", max_length=256)
    estimate_microusd: int | None = Field(default=None, sa_column=Column(BigInteger))
    cost_microusd: int | None = Field(default=None, sa_column=Column(BigInteger))
    trained_tokens: int | None = Field(default=None, sa_column=Column(BigInteger))
    error_code: str | None = Field(default=None, max_length=128)
    error_message: str | None = Field(default=None, sa_column=Column(Text))
    raw_job: str | None = Field(default=None, sa_column=Column(Text))
    created_at: datetime = Field(sa_type=DateTime)
    updated_at: datetime = Field(sa_type=DateTime)
    submitted_at: datetime | None = Field(default=None, sa_type=DateTime)
    finished_at: datetime | None = Field(default=None, sa_type=DateTime)
    next_poll_at: datetime | None = Field(default=None, sa_type=DateTime)
    state_changed_at: datetime | None = Field(default=None, sa_type=DateTime)
    # Held by the process driving the run through create, so a concurrent sync does not reconcile it.
    lease_owner: str | None = Field(default=None, max_length=256)
    lease_expires_at: datetime | None = Field(default=None, sa_type=DateTime)


class RunEventRow(SQLModel, table=True):
    """Every provider call, state change and provider-reported event of a run."""

    __tablename__ = "run_event"
    __table_args__ = (
        UniqueConstraint("run_id", "provider_event_id", name="uq_run_event_provider_event"),
        Index("ix_run_event_run", "run_id", "id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    run_id: str = Field(foreign_key="run.id", max_length=40)
    at: datetime = Field(sa_type=DateTime)
    kind: str = Field(max_length=32)  # state | call | retry | provider | error | note
    message: str = Field(sa_column=Column(Text, nullable=False))
    provider_event_id: str | None = Field(default=None, max_length=256)
    data: str | None = Field(default=None, sa_column=Column(Text))


class ModelRow(SQLModel, table=True):
    """A fine-tuned model a successful run produced."""

    __tablename__ = "model"
    __table_args__ = (UniqueConstraint("provider", "provider_model_id", name="uq_model_provider_id"),)

    id: int | None = Field(default=None, primary_key=True)
    provider: str = Field(max_length=64)
    provider_model_id: str = Field(max_length=512)
    run_id: str = Field(foreign_key="run.id", max_length=40)
    job_name: str = Field(max_length=64)
    base_model: str = Field(max_length=256)
    train_sha256: str = Field(max_length=64)
    provider_deployment_id: str | None = Field(default=None, max_length=512)
    shutdown_at: datetime | None = Field(default=None, sa_type=DateTime)
    base_shutdown_at: datetime | None = Field(default=None, sa_type=DateTime)
    created_at: datetime = Field(sa_type=DateTime)


class AuditEventRow(SQLModel, table=True):
    """One append-only, hash-chained record of something that changed state or spent money."""

    __tablename__ = "audit_event"
    __table_args__ = (Index("ix_audit_job_at", "job_name", "at"), Index("ix_audit_at", "at"))

    seq: int = Field(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))
    at: datetime = Field(sa_type=DateTime)
    actor: str = Field(max_length=256)
    action: str = Field(max_length=64, index=True)
    subject_type: str = Field(max_length=32)
    subject_id: str = Field(max_length=512)
    job_name: str | None = Field(default=None, max_length=64)
    details: str = Field(sa_column=Column(Text, nullable=False))
    prev_hash: str = Field(max_length=64)
    hash: str = Field(max_length=64, unique=True)


# Tables of other areas live in their own modules; importing them here completes the metadata.
from tuneops.store import audit_tables as _audit_tables  # noqa: E402, F401
from tuneops.store import eval_tables as _eval_tables  # noqa: E402, F401
from tuneops.store import lifecycle_tables as _lifecycle_tables  # noqa: E402, F401
from tuneops.store import scheduler_tables as _scheduler_tables  # noqa: E402, F401
from tuneops.store import serving_tables as _serving_tables  # noqa: E402, F401
