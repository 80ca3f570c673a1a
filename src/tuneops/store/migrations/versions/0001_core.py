"""Core ledger: uploads, runs, run events, models and the audit chain.

Revision ID: 0001
Revises:
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create the core tables."""
    op.create_table(
        "upload",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("provider", sa.String(64), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("provider_file_id", sa.String(512), nullable=False),
        sa.Column("bytes", sa.BigInteger, nullable=False),
        sa.Column("filename", sa.String(512), nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.UniqueConstraint("provider", "sha256", name="uq_upload_provider_sha256"),
    )
    op.create_table(
        "run",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("idempotency_key", sa.String(80), nullable=False, unique=True),
        sa.Column("job_name", sa.String(64), nullable=False),
        sa.Column("spec_path", sa.String(1024), nullable=False),
        sa.Column("spec_sha256", sa.String(64), nullable=False),
        sa.Column("spec_json", sa.Text, nullable=False),
        sa.Column("provider", sa.String(64), nullable=False),
        sa.Column("base_model", sa.String(256), nullable=False),
        sa.Column("method", sa.String(16), nullable=False),
        sa.Column("state", sa.String(32), nullable=False),
        sa.Column("provider_status", sa.String(64)),
        sa.Column("provider_job_id", sa.String(512)),
        sa.Column("model_id", sa.String(512)),
        sa.Column("train_sha256", sa.String(64), nullable=False),
        sa.Column("validation_sha256", sa.String(64)),
        sa.Column("train_examples", sa.Integer, nullable=False),
        sa.Column("train_tokens", sa.BigInteger, nullable=False),
        sa.Column("trigger", sa.String(256), nullable=False),
        sa.Column("actor", sa.String(256), nullable=False),
        sa.Column("estimate_microusd", sa.BigInteger),
        sa.Column("cost_microusd", sa.BigInteger),
        sa.Column("trained_tokens", sa.BigInteger),
        sa.Column("error_code", sa.String(128)),
        sa.Column("error_message", sa.Text),
        sa.Column("raw_job", sa.Text),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("updated_at", sa.DateTime, nullable=False),
        sa.Column("submitted_at", sa.DateTime),
        sa.Column("finished_at", sa.DateTime),
        sa.Column("next_poll_at", sa.DateTime),
        sa.Column("state_changed_at", sa.DateTime),
        sa.Column("lease_owner", sa.String(256)),
        sa.Column("lease_expires_at", sa.DateTime),
    )
    op.create_index("ix_run_job_created", "run", ["job_name", "created_at"])
    op.create_index("ix_run_state", "run", ["state"])
    op.create_index("ix_run_provider_job", "run", ["provider", "provider_job_id"])
    op.create_table(
        "run_event",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("run_id", sa.String(40), sa.ForeignKey("run.id"), nullable=False),
        sa.Column("at", sa.DateTime, nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("message", sa.Text, nullable=False),
        sa.Column("provider_event_id", sa.String(256)),
        sa.Column("data", sa.Text),
        sa.UniqueConstraint("run_id", "provider_event_id", name="uq_run_event_provider_event"),
    )
    op.create_index("ix_run_event_run", "run_event", ["run_id", "id"])
    op.create_table(
        "model",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("provider", sa.String(64), nullable=False),
        sa.Column("provider_model_id", sa.String(512), nullable=False),
        sa.Column("run_id", sa.String(40), sa.ForeignKey("run.id"), nullable=False),
        sa.Column("job_name", sa.String(64), nullable=False),
        sa.Column("base_model", sa.String(256), nullable=False),
        sa.Column("train_sha256", sa.String(64), nullable=False),
        sa.Column("provider_deployment_id", sa.String(512)),
        sa.Column("shutdown_at", sa.DateTime),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.UniqueConstraint("provider", "provider_model_id", name="uq_model_provider_id"),
    )
    op.create_table(
        "audit_event",
        sa.Column("seq", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("at", sa.DateTime, nullable=False),
        sa.Column("actor", sa.String(256), nullable=False),
        sa.Column("action", sa.String(64), nullable=False),
        sa.Column("subject_type", sa.String(32), nullable=False),
        sa.Column("subject_id", sa.String(512), nullable=False),
        sa.Column("job_name", sa.String(64)),
        sa.Column("details", sa.Text, nullable=False),
        sa.Column("prev_hash", sa.String(64), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False, unique=True),
    )
    op.create_index("ix_audit_event_action", "audit_event", ["action"])
    op.create_index("ix_audit_job_at", "audit_event", ["job_name", "at"])
    op.create_index("ix_audit_at", "audit_event", ["at"])


def downgrade() -> None:
    """Drop the core tables."""
    for table in ("audit_event", "model", "run_event", "run", "upload"):
        op.drop_table(table)
