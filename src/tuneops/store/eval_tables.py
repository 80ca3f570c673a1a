"""Ledger tables of evals and promotion: eval runs, per-example results, the inference cache, aliases.

Eval rows keep the model's answers so two models can be compared example by example later; the
inference cache keeps answers by a hash of the prompt, never the prompt itself.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Column, DateTime, Index, Text, UniqueConstraint
from sqlmodel import Field, SQLModel


class EvalRunRow(SQLModel, table=True):
    """Scores of one model on one eval set; its examples are in ``eval_result``."""

    __tablename__ = "eval_run"
    __table_args__ = (
        Index("ix_eval_run_model", "provider", "model", "set_sha256", "created_at"),
        Index("ix_eval_run_job", "job_name", "created_at"),
    )

    id: str = Field(primary_key=True, max_length=40)
    job_name: str | None = Field(default=None, max_length=64)
    provider: str = Field(max_length=64)
    model: str = Field(max_length=512)
    # "fine-tuned" for a model a run produced, "base" for anything else (a base model, a foreign id).
    model_kind: str = Field(max_length=16)
    run_id: str | None = Field(default=None, foreign_key="run.id", max_length=40)
    set_path: str = Field(max_length=1024)
    set_sha256: str = Field(max_length=64)
    examples: int
    errors: int = 0
    metrics: str = Field(sa_column=Column(Text, nullable=False))  # JSON {metric: pass threshold}
    scores: str = Field(sa_column=Column(Text, nullable=False))  # JSON {metric: mean score}
    report: str | None = Field(default=None, sa_column=Column(Text))  # JSON classification report
    params: str = Field(sa_column=Column(Text, nullable=False))  # JSON inference parameters
    inference_calls: int = 0
    cached: int = 0
    input_tokens: int = Field(default=0, sa_column=Column(BigInteger, nullable=False, default=0))
    output_tokens: int = Field(default=0, sa_column=Column(BigInteger, nullable=False, default=0))
    cost_microusd: int | None = Field(default=None, sa_column=Column(BigInteger))
    actor: str = Field(default="", max_length=256)
    created_at: datetime = Field(sa_type=DateTime)
    finished_at: datetime = Field(sa_type=DateTime)


class EvalResultRow(SQLModel, table=True):
    """One example of an eval run: the reference, the model's answer and its score per metric."""

    __tablename__ = "eval_result"
    __table_args__ = (
        UniqueConstraint("eval_id", "position", name="uq_eval_result_position"),
        Index("ix_eval_result_example", "eval_id", "example_sha256"),
    )

    id: int | None = Field(default=None, primary_key=True)
    eval_id: str = Field(foreign_key="eval_run.id", max_length=40)
    position: int  # 0-based index of the example in the set
    line: int  # line number in the eval set file
    example_sha256: str = Field(max_length=64)
    reference: str = Field(sa_column=Column(Text, nullable=False))
    output: str = Field(sa_column=Column(Text, nullable=False))
    label: str | None = Field(default=None, max_length=256)  # predicted label (classification sets)
    scores: str = Field(sa_column=Column(Text, nullable=False))  # JSON {metric: score}
    cached: bool = False
    error: str | None = Field(default=None, sa_column=Column(Text))


class InferenceCacheRow(SQLModel, table=True):
    """A model's answer to one prompt with one set of parameters, so a re-run costs nothing."""

    __tablename__ = "inference_cache"

    key: str = Field(primary_key=True, max_length=64)  # sha256 of provider, model, prompt, params
    provider: str = Field(max_length=64)
    model: str = Field(max_length=512)
    text: str = Field(sa_column=Column(Text, nullable=False))
    input_tokens: int = 0
    output_tokens: int = 0
    created_at: datetime = Field(sa_type=DateTime)


class AliasRow(SQLModel, table=True):
    """A name like ``support-triage@production`` that points at one model."""

    __tablename__ = "alias"
    __table_args__ = (UniqueConstraint("job_name", "name", name="uq_alias_job_name"),)

    id: int | None = Field(default=None, primary_key=True)
    job_name: str = Field(max_length=64)
    name: str = Field(max_length=64)
    model_pk: int = Field(foreign_key="model.id")
    updated_at: datetime = Field(sa_type=DateTime)


class AliasHistoryRow(SQLModel, table=True):
    """Every move of an alias, oldest first; rollback replays it to find the previous holder."""

    __tablename__ = "alias_history"
    __table_args__ = (Index("ix_alias_history_alias", "alias_id", "id"),)

    id: int | None = Field(default=None, primary_key=True)
    alias_id: int = Field(foreign_key="alias.id")
    action: str = Field(max_length=16)  # promote | rollback
    model_pk: int = Field(foreign_key="model.id")
    previous_model_pk: int | None = Field(default=None, foreign_key="model.id")
    eval_id: str | None = Field(default=None, foreign_key="eval_run.id", max_length=40)
    reason: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    actor: str = Field(default="", max_length=256)
    at: datetime = Field(sa_type=DateTime)
