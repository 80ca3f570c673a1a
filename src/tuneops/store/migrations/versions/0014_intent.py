"""Intent: a run's intent key (at most one unfinished run per intent), and uploads keyed by provider
endpoint/account as well as provider name.

Revision ID: 0014
Revises: 0004
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0004"
branch_labels = None
depends_on = None

_OPEN = "state NOT IN ('succeeded', 'failed', 'cancelled')"


def upgrade() -> None:
    """Add run.intent_key (indexed; unique among unfinished runs) and upload.account."""
    with op.batch_alter_table("run") as batch:
        batch.add_column(sa.Column("intent_key", sa.String(64)))
    op.create_index("ix_run_intent", "run", ["intent_key", "created_at"])
    op.create_index("uq_run_open_intent", "run", ["intent_key"], unique=True,
                    sqlite_where=sa.text(_OPEN), postgresql_where=sa.text(_OPEN))
    with op.batch_alter_table("upload") as batch:
        batch.add_column(sa.Column("account", sa.String(512), nullable=False, server_default=""))
        batch.drop_constraint("uq_upload_provider_sha256", type_="unique")
        batch.create_unique_constraint("uq_upload_provider_account_sha256", ["provider", "account", "sha256"])


def downgrade() -> None:
    """Drop them again."""
    with op.batch_alter_table("upload") as batch:
        batch.drop_constraint("uq_upload_provider_account_sha256", type_="unique")
        batch.create_unique_constraint("uq_upload_provider_sha256", ["provider", "sha256"])
        batch.drop_column("account")
    op.drop_index("uq_run_open_intent", "run")
    op.drop_index("ix_run_intent", "run")
    with op.batch_alter_table("run") as batch:
        batch.drop_column("intent_key")
