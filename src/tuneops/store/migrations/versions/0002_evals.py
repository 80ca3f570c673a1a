"""Evals and promotion: eval runs, per-example results, the inference cache, aliases and their history.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create the eval and alias tables."""
    op.create_table(
        "eval_run",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("job_name", sa.String(64)),
        sa.Column("provider", sa.String(64), nullable=False),
        sa.Column("model", sa.String(512), nullable=False),
        sa.Column("model_kind", sa.String(16), nullable=False),
        sa.Column("run_id", sa.String(40), sa.ForeignKey("run.id")),
        sa.Column("set_path", sa.String(1024), nullable=False),
        sa.Column("set_sha256", sa.String(64), nullable=False),
        sa.Column("examples", sa.Integer, nullable=False),
        sa.Column("errors", sa.Integer, nullable=False),
        sa.Column("metrics", sa.Text, nullable=False),
        sa.Column("scores", sa.Text, nullable=False),
        sa.Column("report", sa.Text),
        sa.Column("params", sa.Text, nullable=False),
        sa.Column("inference_calls", sa.Integer, nullable=False),
        sa.Column("cached", sa.Integer, nullable=False),
        sa.Column("input_tokens", sa.BigInteger, nullable=False),
        sa.Column("output_tokens", sa.BigInteger, nullable=False),
        sa.Column("cost_microusd", sa.BigInteger),
        sa.Column("actor", sa.String(256), nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("finished_at", sa.DateTime, nullable=False),
    )
    op.create_index("ix_eval_run_model", "eval_run", ["provider", "model", "set_sha256", "created_at"])
    op.create_index("ix_eval_run_job", "eval_run", ["job_name", "created_at"])
    op.create_table(
        "eval_result",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("eval_id", sa.String(40), sa.ForeignKey("eval_run.id"), nullable=False),
        sa.Column("position", sa.Integer, nullable=False),
        sa.Column("line", sa.Integer, nullable=False),
        sa.Column("example_sha256", sa.String(64), nullable=False),
        sa.Column("reference", sa.Text, nullable=False),
        sa.Column("output", sa.Text, nullable=False),
        sa.Column("label", sa.String(256)),
        sa.Column("scores", sa.Text, nullable=False),
        sa.Column("cached", sa.Boolean, nullable=False),
        sa.Column("error", sa.Text),
        sa.UniqueConstraint("eval_id", "position", name="uq_eval_result_position"),
    )
    op.create_index("ix_eval_result_example", "eval_result", ["eval_id", "example_sha256"])
    op.create_table(
        "inference_cache",
        sa.Column("key", sa.String(64), primary_key=True),
        sa.Column("provider", sa.String(64), nullable=False),
        sa.Column("model", sa.String(512), nullable=False),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("input_tokens", sa.Integer, nullable=False),
        sa.Column("output_tokens", sa.Integer, nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
    )
    op.create_table(
        "alias",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("job_name", sa.String(64), nullable=False),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("model_pk", sa.Integer, sa.ForeignKey("model.id"), nullable=False),
        sa.Column("updated_at", sa.DateTime, nullable=False),
        sa.UniqueConstraint("job_name", "name", name="uq_alias_job_name"),
    )
    op.create_table(
        "alias_history",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("alias_id", sa.Integer, sa.ForeignKey("alias.id"), nullable=False),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("model_pk", sa.Integer, sa.ForeignKey("model.id"), nullable=False),
        sa.Column("previous_model_pk", sa.Integer, sa.ForeignKey("model.id")),
        sa.Column("eval_id", sa.String(40), sa.ForeignKey("eval_run.id")),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("actor", sa.String(256), nullable=False),
        sa.Column("at", sa.DateTime, nullable=False),
    )
    op.create_index("ix_alias_history_alias", "alias_history", ["alias_id", "id"])


def downgrade() -> None:
    """Drop the eval and alias tables."""
    for table in ("alias_history", "alias", "inference_cache", "eval_result", "eval_run"):
        op.drop_table(table)
