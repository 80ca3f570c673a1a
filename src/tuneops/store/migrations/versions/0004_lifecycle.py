"""Run lifecycle: per-step metrics, checkpoints, and the base model's shutdown date on models.

Revision ID: 0004
Revises: 0001
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create metric_point and checkpoint; add model.base_shutdown_at."""
    op.create_table(
        "metric_point",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("run_id", sa.String(40), sa.ForeignKey("run.id"), nullable=False),
        sa.Column("step", sa.Integer, nullable=False),
        sa.Column("train_loss", sa.Float),
        sa.Column("valid_loss", sa.Float),
        sa.Column("train_accuracy", sa.Float),
        sa.Column("valid_accuracy", sa.Float),
        sa.UniqueConstraint("run_id", "step", name="uq_metric_point_run_step"),
    )
    op.create_table(
        "checkpoint",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("run_id", sa.String(40), sa.ForeignKey("run.id"), nullable=False),
        sa.Column("provider_checkpoint_id", sa.String(512), nullable=False),
        sa.Column("step", sa.Integer, nullable=False),
        sa.Column("provider_model_id", sa.String(512), nullable=False),
        sa.Column("metrics", sa.Text),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.UniqueConstraint("run_id", "provider_checkpoint_id", name="uq_checkpoint_run_id"),
    )
    with op.batch_alter_table("model") as batch:
        batch.add_column(sa.Column("base_shutdown_at", sa.DateTime))


def downgrade() -> None:
    """Drop them again."""
    with op.batch_alter_table("model") as batch:
        batch.drop_column("base_shutdown_at")
    op.drop_table("checkpoint")
    op.drop_table("metric_point")
