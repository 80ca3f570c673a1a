"""Audit chain head: one row every append locks, so appends are serialized on any database.

Revision ID: 0003
Revises: 0001
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0001"
branch_labels = None
depends_on = None

GENESIS = "0" * 64


def upgrade() -> None:
    """Create audit_head and point it at the newest existing event (or the genesis hash)."""
    op.create_table(
        "audit_head",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("seq", sa.BigInteger, nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
    )
    # A ledger that already has events keeps its chain: the head starts at its newest event.
    op.execute(sa.text(
        "INSERT INTO audit_head (id, seq, hash) "
        "SELECT 1, COALESCE(MAX(seq), 0), "
        "COALESCE((SELECT hash FROM audit_event ORDER BY seq DESC LIMIT 1), :genesis) FROM audit_event"
    ).bindparams(genesis=GENESIS))


def downgrade() -> None:
    """Drop audit_head."""
    op.drop_table("audit_head")
