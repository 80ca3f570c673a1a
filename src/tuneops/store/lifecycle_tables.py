"""Per-run training metrics and checkpoints, stored once each however often a run is polled."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, DateTime, Text, UniqueConstraint
from sqlmodel import Field, SQLModel


class MetricPointRow(SQLModel, table=True):
    """Training and validation metrics of one run at one step."""

    __tablename__ = "metric_point"
    __table_args__ = (UniqueConstraint("run_id", "step", name="uq_metric_point_run_step"),)

    id: int | None = Field(default=None, primary_key=True)
    run_id: str = Field(foreign_key="run.id", max_length=40)
    step: int
    train_loss: float | None = None
    valid_loss: float | None = None
    train_accuracy: float | None = None
    valid_accuracy: float | None = None


class CheckpointRow(SQLModel, table=True):
    """An intermediate model a provider kept for a run."""

    __tablename__ = "checkpoint"
    __table_args__ = (UniqueConstraint("run_id", "provider_checkpoint_id", name="uq_checkpoint_run_id"),)

    id: int | None = Field(default=None, primary_key=True)
    run_id: str = Field(foreign_key="run.id", max_length=40)
    provider_checkpoint_id: str = Field(max_length=512)
    step: int
    provider_model_id: str = Field(max_length=512)
    metrics: str | None = Field(default=None, sa_column=Column(Text))
    created_at: datetime = Field(sa_type=DateTime)
