"""Serving: one deployment row per run (derived name, mode, provider id, endpoint, hourly cost).

Revision ID: 0016
Revises: 0001
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create the deployment table."""
    op.create_table(
        "deployment",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("run_id", sa.String(40), sa.ForeignKey("run.id"), nullable=False, unique=True),
        sa.Column("job_name", sa.String(64), nullable=False),
        sa.Column("provider", sa.String(64), nullable=False),
        sa.Column("provider_model_id", sa.String(512), nullable=False),
        sa.Column("name", sa.String(128), nullable=False, unique=True),
        sa.Column("mode", sa.String(16), nullable=False),
        sa.Column("capacity", sa.Integer, nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("provider_status", sa.String(64)),
        sa.Column("provider_deployment_id", sa.String(512)),
        sa.Column("endpoint", sa.String(512)),
        sa.Column("hourly_cost_microusd", sa.BigInteger),
        sa.Column("estimate_microusd", sa.BigInteger),
        sa.Column("cost_microusd", sa.BigInteger),
        sa.Column("error_message", sa.Text),
        sa.Column("raw", sa.Text),
        sa.Column("actor", sa.String(256), nullable=False),
        sa.Column("lease_owner", sa.String(256)),
        sa.Column("lease_expires_at", sa.DateTime),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("updated_at", sa.DateTime, nullable=False),
        sa.Column("deployed_at", sa.DateTime),
        sa.Column("undeploy_after", sa.DateTime),
        sa.Column("undeployed_at", sa.DateTime),
    )
    op.create_index("ix_deployment_state", "deployment", ["state"])


def downgrade() -> None:
    """Drop it again."""
    op.drop_index("ix_deployment_state", "deployment")
    op.drop_table("deployment")
