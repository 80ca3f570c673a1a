"""Retrain scheduler: decision (latest per job), fire (unique job + fire key), lease; indexes on run
and model for the scheduler's set-based fact queries.

Revision ID: 0005
Revises: 0001
Create Date: 2026-11-24
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create the scheduler tables and indexes."""
    op.create_table(
        "decision",
        sa.Column("job_name", sa.String(64), primary_key=True),
        sa.Column("first_seen_at", sa.DateTime, nullable=False),
        sa.Column("outcome", sa.String(8)),
        sa.Column("rule", sa.String(32)),
        sa.Column("code", sa.String(512), nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("fire_key", sa.String(512)),
        sa.Column("recorded_at", sa.DateTime),
        sa.Column("last_fired_at", sa.DateTime),
        sa.Column("last_fire_key", sa.String(512)),
        sa.Column("last_cron_slot", sa.DateTime),
    )
    op.create_table(
        "fire",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("job_name", sa.String(64), nullable=False),
        sa.Column("fire_key", sa.String(512), nullable=False),
        sa.Column("rule", sa.String(32), nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("spec_path", sa.String(1024), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("providers", sa.Text, nullable=False),
        sa.Column("run_ids", sa.Text, nullable=False),
        sa.Column("outcome", sa.String(32)),
        sa.Column("message", sa.Text),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("actor", sa.String(256), nullable=False),
        sa.Column("lease_owner", sa.String(256)),
        sa.Column("lease_expires_at", sa.DateTime),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("updated_at", sa.DateTime, nullable=False),
        sa.Column("finished_at", sa.DateTime),
        sa.UniqueConstraint("job_name", "fire_key", name="uq_fire_job_key"),
    )
    op.create_index("ix_fire_state", "fire", ["state"])
    op.create_table(
        "lease",
        sa.Column("name", sa.String(256), primary_key=True),
        sa.Column("owner", sa.String(256), nullable=False),
        sa.Column("acquired_at", sa.DateTime, nullable=False),
        sa.Column("renewed_at", sa.DateTime, nullable=False),
        sa.Column("expires_at", sa.DateTime, nullable=False),
    )
    op.create_index("ix_run_spend", "run", ["created_at", "state", "cost_microusd", "estimate_microusd"])
    op.create_index("ix_model_job", "model", ["job_name", "id"])


def downgrade() -> None:
    """Drop the scheduler tables and indexes."""
    op.drop_index("ix_model_job", table_name="model")
    op.drop_index("ix_run_spend", table_name="run")
    for table in ("lease", "fire", "decision"):
        op.drop_table(table)
