"""Other dataset shapes to canonical chat JSONL: prompt/completion JSONL and CSV (text, label).

``tuneops data convert`` writes the result next to nothing else: a new file, written whole or not at
all (a temporary file renamed into place), with a report of what it did and which lines it skipped.
"""

from __future__ import annotations

import csv
import io
import os
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from tuneops.errors import DatasetError

MAX_SKIPPED_SHOWN = 10


@dataclass
class ConvertReport:
    """What a conversion did."""

    source: str
    output: str
    shape: str  # "prompt/completion JSONL", "CSV (text, label)" or "chat JSONL"
    converted: int = 0
    already_chat: int = 0
    skipped: list[tuple[int, str]] = field(default_factory=list)
    system: bool = False

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form."""
        return {"source": self.source, "output": self.output, "shape": self.shape, "converted": self.converted,
                "already_chat": self.already_chat, "system_prompt": self.system,
                "skipped": [{"line": n, "reason": r} for n, r in self.skipped]}


def _chat(user: str, assistant: str, system: str | None) -> bytes:
    msgs = [{"role": "system", "content": system}] if system else []
    msgs += [{"role": "user", "content": user}, {"role": "assistant", "content": assistant}]
    return orjson.dumps({"messages": msgs}) + b"\n"


def _jsonl(raw: bytes, report: ConvertReport, system: str | None, prompt_key: str,
           completion_key: str) -> Iterator[bytes]:
    for lineno, line in enumerate(raw.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = orjson.loads(line)
        except orjson.JSONDecodeError as exc:
            report.skipped.append((lineno, f"not valid JSON ({exc})"))
            continue
        if type(record) is dict and "messages" in record:
            report.already_chat += 1
            yield orjson.dumps(record) + b"\n"
            continue
        prompt = record.get(prompt_key) if type(record) is dict else None
        completion = record.get(completion_key) if type(record) is dict else None
        if type(prompt) is not str or type(completion) is not str or not prompt.strip() or not completion.strip():
            report.skipped.append((lineno, f"needs non-empty string {prompt_key!r} and {completion_key!r} fields"))
            continue
        report.converted += 1
        # Legacy completion data often starts completions with a space and ends prompts with a separator.
        yield _chat(prompt.strip(), completion.strip(), system)


def _csv(text: str, report: ConvertReport, system: str | None, text_col: str, label_col: str) -> Iterator[bytes]:
    sample = text[:64 * 1024]
    try:
        dialect: Any = csv.Sniffer().sniff(sample, delimiters=",;\t|")
    except csv.Error:
        dialect = csv.excel
    rows = csv.DictReader(io.StringIO(text, newline=""), dialect=dialect)
    cols = rows.fieldnames or []
    if text_col not in cols or label_col not in cols:
        raise DatasetError(f"{report.source}: the CSV header has {', '.join(map(repr, cols)) or 'no columns'}; "
                           f"it needs {text_col!r} and {label_col!r} columns (or pass --text-column/--label-column)")
    for row in rows:
        lineno = rows.line_num
        value, label = row.get(text_col), row.get(label_col)
        if not value or not value.strip() or not label or not label.strip():
            report.skipped.append((lineno, f"empty {text_col!r} or {label_col!r}"))
            continue
        report.converted += 1
        yield _chat(value.strip(), label.strip(), system)


def convert_file(source: Path, output: Path, *, system: str | None = None, force: bool = False,
                 text_col: str = "text", label_col: str = "label", prompt_key: str = "prompt",
                 completion_key: str = "completion") -> ConvertReport:
    """Convert ``source`` to chat JSONL at ``output``; nothing is written when no line converts."""
    if source.resolve() == output.resolve():
        raise DatasetError(f"{output}: the output must be a new file, not the input")
    if output.is_dir():
        raise DatasetError(f"{output} is a directory; name the file to write, e.g. {output / 'chat.jsonl'}")
    if output.exists() and not force:
        raise DatasetError(f"{output} exists; pass --force to replace it")
    try:
        raw = source.read_bytes()
    except OSError as exc:
        raise DatasetError(f"{source}: cannot read it ({exc.strerror or exc})") from None
    is_csv = source.suffix.lower() in (".csv", ".tsv")
    report = ConvertReport(str(source), str(output), "CSV (text, label)" if is_csv else "prompt/completion JSONL",
                           system=bool(system))
    if is_csv:
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise DatasetError(f"{source}: not UTF-8 text (byte {exc.start + 1}); save it as UTF-8") from None
        lines = list(_csv(text, report, system, text_col, label_col))
    else:
        lines = list(_jsonl(raw.removeprefix(b"\xef\xbb\xbf"), report, system, prompt_key, completion_key))
    if report.already_chat and not report.converted:
        report.shape = "chat JSONL"
    if not lines:
        first = "; ".join(f"line {n}: {r}" for n, r in report.skipped[:3])
        raise DatasetError(f"{source}: no line could be converted ({first or 'the file is empty'}); nothing written")
    try:
        output.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".convert-", dir=output.parent)
    except OSError as exc:
        why = next((f"{p} is a file, not a folder" for p in output.parents if p.is_file()), exc.strerror or str(exc))
        raise DatasetError(f"{output}: cannot write it ({why}); name a file in a folder you can write to") from None
    try:
        with os.fdopen(fd, "wb") as f:
            f.writelines(lines)
        os.replace(tmp, output)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return report
