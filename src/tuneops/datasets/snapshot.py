"""Dataset snapshots: the exact bytes a run sends, written content-addressed after a clean preflight."""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson

from tuneops import progress
from tuneops.datasets.findings import Finding
from tuneops.datasets.preflight import PreflightReport, preflight
from tuneops.datasets.reader import LineReader
from tuneops.errors import DatasetError
from tuneops.spec import LoadedSpec

if TYPE_CHECKING:
    from tuneops.provider import Provider

_SHOWN_ERRORS = 25


@dataclass(frozen=True)
class PreparedFile:
    """One file in the provider's format, ready to upload; named by the sha256 of its bytes."""

    path: Path
    sha256: str
    bytes: int
    examples: int


@dataclass(frozen=True)
class DatasetSnapshot:
    """The exact data a run uses: prepared files, counts, tokens, non-error findings and stats."""

    train: PreparedFile
    validation: PreparedFile | None
    examples: int
    tokens: int
    trainable_tokens: int
    token_count_exact: bool
    findings: list[Finding]
    stats: dict[str, Any]
    validation_tokens: int = 0
    report: PreflightReport | None = field(default=None, repr=False, compare=False)


def dataset_error(report: PreflightReport, provider: str = "") -> DatasetError:
    """A DatasetError listing the report's errors (all of them on ``.findings``)."""
    errors = report.errors()
    shown = "\n".join(f"  {f}" for f in errors[:_SHOWN_ERRORS])
    more = (f"\n  ... and {len(errors) - _SHOWN_ERRORS} more; `tuneops validate {report.spec} --json` lists all"
            if len(errors) > _SHOWN_ERRORS else "")
    target = f" for {provider}" if provider else ""
    exc = DatasetError(f"preflight found {len(errors)} error(s) in the data of {report.spec}{target}; "
                       f"nothing was written:\n{shown}{more}")
    exc.findings = errors  # type: ignore[attr-defined]
    exc.report = report  # type: ignore[attr-defined]
    return exc


def _records(path: Path, keep: Callable[[int], bool], part: str = "") -> Iterator[Mapping[str, Any]]:
    # The pass that converts the file and hashes what will be sent: reported by the bytes of the source read.
    with progress.reading("hashing", path, f"{path.name}{part}") as advance:
        for line, raw in LineReader(path, str(path), [], advance=advance):
            if keep(line):
                try:
                    yield orjson.loads(raw)
                except orjson.JSONDecodeError:
                    raise DatasetError(f"{path}:{line}: the file changed while it was being prepared; "
                                       "nothing was uploaded, run the command again") from None


def write_prepared(lines: Iterable[bytes], staging_dir: Path) -> PreparedFile:
    """Write encoded lines to ``staging_dir/<sha256>.jsonl`` (atomically), hashing exactly those bytes."""
    staging_dir.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256()
    size = count = 0
    fd, tmp = tempfile.mkstemp(dir=staging_dir, prefix=".prepare-", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as out:
            for chunk in lines:
                out.write(chunk)
                digest.update(chunk)
                size += len(chunk)
                count += 1
        sha = digest.hexdigest()
        final = staging_dir / f"{sha}.jsonl"
        os.replace(tmp, final)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return PreparedFile(final, sha, size, count)


def build_snapshot(loaded: LoadedSpec, provider: Provider, staging_dir: Path, *,
                   report: PreflightReport | None = None, cache_dir: Path | None = None) -> DatasetSnapshot:
    """Preflight for ``provider`` (raising DatasetError, writing nothing, on any error), split if asked,
    convert with ``provider.prepare`` and write the prepared files under ``staging_dir``."""
    from tuneops.datasets.convert import ConversionError

    name = getattr(provider, "name", loaded.spec.model.provider)
    if report is None:
        caps = getattr(provider, "capabilities", None)
        report = preflight(loaded, [name], cache_dir=cache_dir, keep_refused=False,
                           capabilities={name: caps} if caps is not None else None)
    if not report.ok:
        raise dataset_error(report, name)
    method = loaded.spec.method
    assert report.train_path is not None
    val_lines = report.validation_lines
    try:
        if val_lines is not None:
            train = write_prepared(provider.prepare(_records(report.train_path, lambda n: n not in val_lines), method),
                                   staging_dir)
            validation = write_prepared(provider.prepare(_records(report.train_path, val_lines.__contains__,
                                                                  " (validation split)"), method),
                                        staging_dir) if val_lines else None
        else:
            train = write_prepared(provider.prepare(_records(report.train_path, lambda n: True), method), staging_dir)
            validation = None
            if report.validation_path is not None:
                validation = write_prepared(provider.prepare(_records(report.validation_path, lambda n: True),
                                                             method), staging_dir)
    except ConversionError as exc:
        raise DatasetError(f"{name} cannot take this data ({exc}); nothing was uploaded") from None
    lim = report.limits.get(name)
    for f in (train, validation):
        if f is not None and lim is not None and lim.max_upload_bytes is not None and f.bytes > lim.max_upload_bytes:
            f.path.unlink(missing_ok=True)
            raise DatasetError(f"the prepared file is {f.bytes / 2**20:,.1f} MiB, over {name}'s upload limit of "
                               f"{lim.max_upload_bytes / 2**20:,.0f} MiB; nothing was uploaded")
    _remember(report, train, cache_dir, loaded)
    return DatasetSnapshot(
        train=train, validation=validation, examples=report.examples, tokens=report.tokens,
        trainable_tokens=report.trainable_tokens, token_count_exact=report.token_count_exact,
        findings=[f for f in report.findings if f.severity != "error"],
        stats=report.stats, validation_tokens=report.validation_tokens, report=report,
    )


def _remember(report: PreflightReport, train: PreparedFile, cache_dir: Path | None, loaded: LoadedSpec) -> None:
    """Record the snapshot's example keys, so freshness checks can count new examples later."""
    from tuneops.datasets.cache import SnapshotCache, default_dir

    cache = SnapshotCache(cache_dir if cache_dir is not None else default_dir())
    cache.put_manifest(train.sha256, report.train_keys)
    cache.close()
