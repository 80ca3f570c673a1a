"""Findings: one problem (or note) about a dataset, located by file, line and field."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import Literal

Severity = Literal["error", "warning", "info"]

SEVERITIES: tuple[Severity, ...] = ("error", "warning", "info")
_RANK = {s: i for i, s in enumerate(SEVERITIES)}


@dataclass(frozen=True, slots=True)
class Finding:
    """One problem found by preflight; ``str(f)`` is ``file:line: field: message``."""

    severity: Severity
    code: str
    file: str
    line: int | None
    field: str | None
    message: str

    def __str__(self) -> str:
        where = self.file if self.line is None else f"{self.file}:{self.line}"
        field = f" {self.field}:" if self.field else ""
        return f"{where}:{field} {self.message}"

    def to_dict(self) -> dict:
        """JSON-able form."""
        return asdict(self)


def sort_key(f: Finding) -> tuple:
    """Errors first, then by file and line (file-level findings before line findings)."""
    return (_RANK[f.severity], f.file, -1 if f.line is None else f.line, f.code)


def counts(findings: Iterable[Finding]) -> dict[str, int]:
    """Number of findings per severity, always with all three keys."""
    c = Counter(f.severity for f in findings)
    return {s: c.get(s, 0) for s in SEVERITIES}


def grouped(findings: Iterable[Finding]) -> list[tuple[str, Severity, list[Finding]]]:
    """Findings grouped by code, most severe and most frequent groups first."""
    groups: dict[str, list[Finding]] = {}
    for f in findings:
        groups.setdefault(f.code, []).append(f)
    out = [(code, min((f.severity for f in fs), key=_RANK.__getitem__), sorted(fs, key=sort_key))
           for code, fs in groups.items()]
    out.sort(key=lambda g: (_RANK[g[1]], -len(g[2]), g[0]))
    return out
