"""Ledger tables of the audit trail beyond ``audit_event`` itself: the chain head.

The head is one row (id 1) that every append locks and moves. Locking a row that always exists
serializes appenders on PostgreSQL even when the chain is empty (a FOR UPDATE on the newest event
locks nothing then), and it lets ``audit verify`` notice events removed from the end of the chain.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Column
from sqlmodel import Field, SQLModel

from tuneops.audit.chain import HEAD_ID

__all__ = ["HEAD_ID", "AuditHeadRow"]


class AuditHeadRow(SQLModel, table=True):
    """The newest audit event's sequence number and hash (one row, id 1)."""

    __tablename__ = "audit_head"

    id: int = Field(primary_key=True)
    seq: int = Field(sa_column=Column(BigInteger, nullable=False))
    hash: str = Field(max_length=64)
