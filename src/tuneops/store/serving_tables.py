"""Deployments: what serves a run's fine-tuned model at providers that need one, with its hourly cost."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Column, DateTime, Index, Text
from sqlmodel import Field, SQLModel


class DeploymentRow(SQLModel, table=True):
    """One run's deployment: committed (with its derived name) before the provider is asked, then
    ``deploying`` -> ``deployed`` | ``deploy_failed``, later ``undeploying`` -> ``undeployed``."""

    __tablename__ = "deployment"
    __table_args__ = (Index("ix_deployment_state", "state"),)

    id: str = Field(primary_key=True, max_length=40)
    run_id: str = Field(foreign_key="run.id", max_length=40, unique=True)
    job_name: str = Field(max_length=64)
    provider: str = Field(max_length=64)
    provider_model_id: str = Field(max_length=512)
    # Derived from the run id: the provider-side name that makes a replayed deploy find its deployment.
    name: str = Field(max_length=128, unique=True)
    mode: str = Field(max_length=16)
    capacity: int = 1
    state: str = Field(max_length=16)
    provider_status: str | None = Field(default=None, max_length=64)
    provider_deployment_id: str | None = Field(default=None, max_length=512)
    endpoint: str | None = Field(default=None, max_length=512)
    hourly_cost_microusd: int | None = Field(default=None, sa_column=Column(BigInteger))
    # Hosting committed by the live deployment (hourly x the hours it may run), and hosting accrued by
    # earlier, undeployed cycles of it; the budget counts both.
    estimate_microusd: int | None = Field(default=None, sa_column=Column(BigInteger))
    cost_microusd: int | None = Field(default=None, sa_column=Column(BigInteger))
    error_message: str | None = Field(default=None, sa_column=Column(Text))
    raw: str | None = Field(default=None, sa_column=Column(Text))
    actor: str = Field(default="", max_length=256)
    lease_owner: str | None = Field(default=None, max_length=256)
    lease_expires_at: datetime | None = Field(default=None, sa_type=DateTime)
    created_at: datetime = Field(sa_type=DateTime)
    updated_at: datetime = Field(sa_type=DateTime)
    deployed_at: datetime | None = Field(default=None, sa_type=DateTime)
    undeploy_after: datetime | None = Field(default=None, sa_type=DateTime)
    undeployed_at: datetime | None = Field(default=None, sa_type=DateTime)
