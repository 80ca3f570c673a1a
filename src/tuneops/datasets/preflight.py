"""Preflight: stream a spec's data files once, check everything, count tokens, report every finding.

``preflight(loaded)`` never raises on bad data: every problem becomes a ``Finding`` with file, line,
field and severity; the report says whether there are errors. Per-example results come from the
snapshot cache when the same line was checked before with the same checks and tokenizer.
"""

from __future__ import annotations

import sys
import time
from array import array
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from xxhash import xxh3_128

from tuneops import progress
from tuneops.datasets import evalcheck
from tuneops.datasets import limits as limits_mod
from tuneops.datasets import tokens as tokens_mod
from tuneops.datasets.cache import PendingCache, SnapshotCache, default_dir
from tuneops.datasets.checks import CHAT, CHECK_VERSION, PREFERENCE, ExampleChecker
from tuneops.datasets.findings import Finding, counts, sort_key
from tuneops.datasets.limits import RECOMMENDED_GOOD, RECOMMENDED_MIN, ProviderLimits
from tuneops.datasets.reader import MAX_LINE_BYTES, LineReader, line_cap, line_key
from tuneops.datasets.split import split_indexes
from tuneops.datasets.stats import FileAggregate
from tuneops.datasets.tokens import TokenCounter, Tokenizer
from tuneops.datasets.values import SpecLocator, provider_value_findings
from tuneops.spec import LoadedSpec

__all__ = ["Finding", "PreflightReport", "preflight", "scan"]

_BATCH = 1024


@dataclass
class PreflightReport:
    """Everything preflight found and counted for one spec and a set of target providers."""

    spec: str
    method: str
    model: str
    providers: list[str]
    findings: list[Finding]
    stats: dict[str, Any]
    tokenizer: Tokenizer
    limits: dict[str, ProviderLimits]
    examples: int  # training examples (after the split, if any)
    tokens: int  # training tokens per epoch (examples over the model's limit count up to the limit)
    trainable_tokens: int
    validation_examples: int = 0
    validation_tokens: int = 0
    cache: dict[str, Any] = field(default_factory=dict)
    elapsed_s: float = 0.0
    # What build_snapshot needs to write the same data again (not part of the JSON report).
    train_path: Path | None = field(default=None, repr=False)
    validation_path: Path | None = field(default=None, repr=False)
    validation_lines: frozenset[int] | None = field(default=None, repr=False)
    train_keys: bytes = field(default=b"", repr=False)

    @property
    def ok(self) -> bool:
        """True when there is no error finding (warnings and info are allowed)."""
        return not any(f.severity == "error" for f in self.findings)

    @property
    def counts(self) -> dict[str, int]:
        """Findings per severity."""
        return counts(self.findings)

    @property
    def token_count_exact(self) -> bool:
        """False when token counts come from an approximate tokenizer."""
        return self.tokenizer.exact

    def errors(self) -> list[Finding]:
        """The error findings."""
        return [f for f in self.findings if f.severity == "error"]

    def to_dict(self) -> dict[str, Any]:
        """The full report, JSON-able."""
        t = self.tokenizer
        return {
            "spec": self.spec, "method": self.method, "model": self.model, "providers": self.providers,
            "ok": self.ok, "counts": self.counts,
            "examples": self.examples, "tokens": self.tokens, "trainable_tokens": self.trainable_tokens,
            "validation_examples": self.validation_examples, "validation_tokens": self.validation_tokens,
            "tokenizer": {"model": t.model, "encoding": t.used, "model_encoding": t.wanted, "exact": t.exact,
                          "note": t.note, "limit": t.limit, "limit_source": t.limit_source},
            "limits": {name: {k: (sorted(v) if isinstance(v, frozenset) else v) for k, v in vars(lim).items()}
                       for name, lim in self.limits.items()},
            "stats": self.stats, "cache": self.cache, "elapsed_s": round(self.elapsed_s, 3),
            "findings": [f.to_dict() for f in self.findings],
        }


def scan(path: Path, label: str, agg: FileAggregate, checker: ExampleChecker, cache: SnapshotCache,
         ctx: str, tally: dict[str, int], *, checkpoint: bool = False, max_line_bytes: int = MAX_LINE_BYTES) -> None:
    """Stream one file through the checks into ``agg`` (cache hits skip parsing and tokenizing).

    With ``checkpoint``, the state at the end of the file is saved; a later scan of the same file
    whose first bytes are unchanged (verified by hash) resumes there, so re-validating a file that
    only grew costs reading it once plus checking the new lines.
    """
    hasher = resume = None
    where = cp_ctx = ""
    if checkpoint and cache.enabled:
        hasher = xxh3_128()
        where, cp_ctx = str(path.resolve()), f"{ctx}|{agg.expected_kind}|{label}"
        saved = cache.get_checkpoint(where, cp_ctx)
        if saved is not None:
            size, digest, reader_state, meta, arrays = saved
            if _hash_prefix(path, size, hasher) == digest:
                agg.load(meta, arrays)
                resume = tuple(reader_state)
                tally["hits"] += agg.examples + agg.unusable
                tally["resumed_lines"] = reader_state[1]
            else:
                hasher = xxh3_128()
    with progress.reading("checking", path, label) as advance:
        reader = LineReader(path, label, agg.findings, hasher=hasher, resume=resume,  # type: ignore[arg-type]
                            max_line_bytes=max_line_bytes, advance=advance)
        batch: list[tuple[int, bytes]] = []
        for item in reader:
            batch.append(item)
            if len(batch) >= _BATCH:
                _process(batch, agg, checker, cache, ctx, tally)
                batch = []
        if batch:
            _process(batch, agg, checker, cache, ctx, tally)
    agg.bytes = reader.bytes
    agg.blank = reader.blank
    if hasher is not None and reader.complete and reader.ends_with_newline and cache.enabled:
        meta, arrays = agg.dump()
        cache.put_checkpoint(where, cp_ctx, reader.bytes, hasher.digest(),
                             [reader.bytes, reader.lines, reader.blank, reader.crlf], meta, arrays)
    reader.file_findings()


def _big_endian(keys: array) -> bytes:
    """Signed 64-bit keys as 8 big-endian bytes each (the manifest layout, same as line_key()[:8])."""
    out = array("q", keys)
    if sys.byteorder == "little":
        out.byteswap()
    return out.tobytes()


def _hash_prefix(path: Path, size: int, hasher: xxh3_128) -> bytes | None:
    """Feed the first ``size`` bytes of the file to ``hasher``; its digest, or None if the file is shorter."""
    left = size
    try:
        with open(path, "rb", buffering=0) as f:
            while left:
                block = f.read(min(left, 1 << 20))
                if not block:
                    return None
                hasher.update(block)
                left -= len(block)
    except OSError:
        return None
    return hasher.digest()


def _process(batch: list[tuple[int, bytes]], agg: FileAggregate, checker: ExampleChecker,
             cache: SnapshotCache, ctx: str, tally: dict[str, int]) -> None:
    keys = [line_key(raw) for _, raw in batch]
    known = cache.get_many(keys, ctx) if cache.enabled else {}
    tally["hits"] += len(known)
    todo: dict[bytes, bytes] = {}
    for (_, raw), key in zip(batch, keys, strict=True):
        if key not in known and key not in todo:
            todo[key] = raw
    if todo:
        fresh = list(zip(todo, checker.check_batch(list(todo.values())), strict=True))
        known.update(fresh)
        cache.put_many(fresh, ctx)
        tally["misses"] += len(fresh)
    add = agg.add
    for (line, _), key in zip(batch, keys, strict=True):
        add(line, int.from_bytes(key[:8], "big", signed=True), known[key])


def _provider_names(loaded: LoadedSpec, providers: list[str] | None, given: Mapping[str, Any]) -> list[str]:
    names = list(dict.fromkeys(providers or [loaded.spec.model.provider]))
    unknown = [n for n in names
               if n not in given and n not in limits_mod.FALLBACK and limits_mod._capabilities(n) is None]
    if unknown:
        from tuneops import registry
        from tuneops.errors import ProviderNotFound

        known = sorted(set(registry.names()) | set(limits_mod.FALLBACK))
        raise ProviderNotFound(unknown[0], known, "--providers" if providers else _where_provider(loaded))
    return names


def _where_provider(loaded: LoadedSpec) -> str:
    """``jobs/x.toml:8: model.provider``: where the spec names its provider."""
    from tuneops.spec import _find_line

    try:
        line = _find_line(loaded.path.read_text(encoding="utf-8"), ("model", "provider"))
    except OSError:
        line = None
    return f"{loaded.path}{f':{line}' if line else ''}: model.provider"


def preflight(loaded: LoadedSpec, providers: list[str] | None = None, *, cache_dir: Path | None = None,
              use_cache: bool = True, capabilities: Mapping[str, Any] | None = None,
              keep_refused: bool = True) -> PreflightReport:
    """Check the spec's data for each provider (default: the spec's own) and count its tokens.

    ``capabilities`` maps provider names to the ``Capabilities`` of adapters already in hand (they win
    over the installed ones and the documented table). With ``keep_refused=False`` (admission), data
    with errors leaves nothing behind, not even cached check results; `tuneops validate` keeps them so
    re-checking a large file while fixing it costs only the changed lines."""
    started = time.perf_counter()
    spec = loaded.spec
    given = dict(capabilities or {})
    names = _provider_names(loaded, providers, given)
    lims = {name: limits_mod.limits_for(name, spec.model.base, given.get(name)) for name in names}
    tokenizer = tokens_mod.for_model(spec.model.base)
    formats = sorted({lim.data_format for lim in lims.values()})
    checker = ExampleChecker(TokenCounter(tokenizer), formats)
    ctx = f"v{CHECK_VERSION}|{tokenizer.cache_id}|{','.join(formats)}"
    # Results are remembered only for accepted data: a refused input leaves .tuneops/ untouched.
    cache = PendingCache(cache_dir if cache_dir is not None else default_dir()) if use_cache \
        else PendingCache(None)
    tally = {"hits": 0, "misses": 0}
    kind = PREFERENCE if spec.method == "dpo" else CHAT
    model = spec.model.base

    train_path = loaded.resolve(spec.data.train)
    train = FileAggregate(_label(loaded, spec.data.train), kind)
    cap = line_cap(tokenizer.limit)
    scan(train_path, train.label, train, checker, cache, ctx, tally, checkpoint=True, max_line_bytes=cap)
    train.finish(tokenizer.limit, tokenizer.limit_source, model)
    val = None
    val_path = None
    if spec.data.validation is not None:
        val_path = loaded.resolve(spec.data.validation)
        val = FileAggregate(_label(loaded, spec.data.validation), kind, other=train)
        scan(val_path, val.label, val, checker, cache, ctx, tally, max_line_bytes=cap)
        val.finish(tokenizer.limit, tokenizer.limit_source, model)
        if val.examples == 0 and not val.unusable:
            val.findings.append(Finding("warning", "validation.empty", val.label, None, "data.validation",
                                        "the validation file has no examples; remove data.validation or add some"))
    ev = None
    if spec.eval is not None:
        # The eval set is read like the training data (same findings), and must not share its examples.
        against = [(train, "training", "overlap.train_eval")]
        if val is not None:
            against.append((val, "validation", "overlap.validation_eval"))
        ev = FileAggregate(_label(loaded, spec.eval.set), CHAT, role="eval", against=against)
        scan(loaded.resolve(spec.eval.set), ev.label, ev, checker, cache, ctx, tally, max_line_bytes=cap)
        ev.finish(tokenizer.limit, tokenizer.limit_source, model)

    at = SpecLocator(loaded)
    findings = train.findings + (val.findings if val else [])
    for agg, path in ((train, train_path), (val, val_path)):
        if agg is not None and path is not None and path.suffix.lower() in (".csv", ".tsv") and not agg.examples:
            findings.append(Finding("error", "format.csv", agg.label, None, None,
                                    "this is a CSV file, not JSONL: `tuneops data convert FILE -o chat.jsonl` "
                                    "turns text,label rows into chat examples"))
    findings += evalcheck.spec_findings(loaded, at)
    if ev is not None:
        findings += ev.findings + evalcheck.line_findings(loaded.resolve(spec.eval.set), ev.label)
        findings += evalcheck.set_findings(loaded, ev, train, at)
    findings += evalcheck.leakage_findings([a for a in (val, ev) if a is not None], spec.data.max_overlap)
    stats: dict[str, Any] = {"train": train.stats(tokenizer.limit)}
    train_idx: list[int] | None = None
    val_lines: frozenset[int] | None = None
    if spec.data.validation_split is not None:
        chosen = split_indexes(train.near, spec.data.validation_split, spec.data.split_seed)
        train_idx = [i for i in range(train.examples) if i not in chosen]
        val_lines = frozenset(train.lines[i] for i in chosen)
        stats["split"] = {"fraction": spec.data.validation_split, "seed": spec.data.split_seed,
                          "train": train.stats(tokenizer.limit, train_idx),
                          "validation": train.stats(tokenizer.limit, sorted(chosen))}
        if not chosen:
            findings.append(Finding("warning", "split.empty", train.label, None, "data.validation_split",
                                    f"{train.examples} example(s) are too few to split; no validation set"))
    if val is not None:
        stats["validation"] = val.stats(tokenizer.limit)
    if ev is not None:
        stats["eval"] = ev.stats(tokenizer.limit)

    block = stats["split"]["train"] if train_idx is not None else stats["train"]
    n_train = block["examples"]
    n_val = (stats["split"]["validation"]["examples"] if train_idx is not None
             else stats["validation"]["examples"] if val is not None else 0)
    val_tokens = (stats["split"]["validation"]["tokens"]["billed_per_epoch"] if train_idx is not None
                  else stats["validation"]["tokens"]["billed_per_epoch"] if val is not None else 0)
    findings += _count_findings(train.label, n_train)
    for name, lim in lims.items():
        findings += _provider_findings(name, lim, spec.method, train, train_path, n_train, n_val,
                                       val.label if val else train.label)
        caps = given.get(name) if name in given else limits_mod._capabilities(name)
        findings += provider_value_findings(loaded, name, caps, n_train, n_val, at)
    findings += _tokenizer_findings(train.label, tokenizer)
    findings += _base_model_findings(str(loaded.path), names, model, spec.method)
    _name_providers(findings, lims)
    cache.close(keep=keep_refused or not any(f.severity == "error" for f in findings))
    if cache.problem:
        findings.append(Finding("info", "cache.disabled", train.label, None, None, cache.problem))
    findings.sort(key=sort_key)
    stats["tokenizer"] = {"encoding": tokenizer.used, "exact": tokenizer.exact, "limit": tokenizer.limit}
    return PreflightReport(
        spec=str(loaded.path), method=spec.method, model=model, providers=names, findings=findings,
        stats=stats, tokenizer=tokenizer, limits=lims, examples=n_train,
        tokens=block["tokens"]["billed_per_epoch"], trainable_tokens=block["tokens"]["trainable"],
        validation_examples=n_val, validation_tokens=val_tokens,
        cache={"path": str(cache.path) if cache.path else None, **tally},
        elapsed_s=time.perf_counter() - started,
        train_path=train_path, validation_path=val_path, validation_lines=val_lines,
        # Every example of the training file (before any split): what freshness checks compare against.
        train_keys=_big_endian(train.exact),
    )


def _label(loaded: LoadedSpec, p: Path) -> str:
    """How a data file is named in findings: as written in the spec."""
    return str(p)


def _count_findings(label: str, n: int) -> list[Finding]:
    if n == 0:
        return [Finding("error", "count.empty", label, None, None, "no usable training examples")]
    if n < RECOMMENDED_MIN:
        return [Finding("warning", "count.few", label, None, None,
                        f"{n} training examples; fine-tuning usually needs at least {RECOMMENDED_MIN} "
                        "well-made examples to show gains")]
    if n < RECOMMENDED_GOOD:
        return [Finding("warning", "count.recommended", label, None, None,
                        f"{n} training examples; results are usually steadier with {RECOMMENDED_GOOD} or more")]
    return []


def _provider_findings(name: str, lim: ProviderLimits, method: str, train: FileAggregate, train_path: Path,
                       n_train: int, n_val: int, val_label: str) -> list[Finding]:
    out = []
    label = train.label
    if method not in lim.methods:
        out.append(Finding("error", "provider.method", label, None, "method",
                           f"{name} does not support method {method} (supports {', '.join(sorted(lim.methods))})"))
    if lim.min_examples is not None and 0 < n_train < lim.min_examples:
        out.append(Finding("error", "count.min", label, None, None,
                           f"{name} needs at least {lim.min_examples} training examples; found {n_train}"))
    if lim.max_examples is not None and n_train > lim.max_examples:
        out.append(Finding("error", "count.max", label, None, None,
                           f"{name} accepts at most {lim.max_examples:,} training examples; found {n_train:,}"))
    if lim.max_validation_examples is not None and n_val > lim.max_validation_examples:
        out.append(Finding("error", "count.validation_max", val_label, None, None,
                           f"{name} accepts at most {lim.max_validation_examples:,} validation examples; "
                           f"found {n_val:,}"))
    if lim.max_upload_bytes is not None and train.bytes > lim.max_upload_bytes:
        out.append(Finding("error", "file.too_large", label, None, None,
                           f"{train.bytes / 2**20:,.1f} MiB is over {name}'s upload limit of "
                           f"{lim.max_upload_bytes / 2**20:,.0f} MiB; split the data or use a smaller sample"))
    return out


def _tokenizer_findings(label: str, tokenizer: Tokenizer) -> list[Finding]:
    out = []
    if not tokenizer.exact:
        out.append(Finding("info", "tokens.approximate", label, None, None, tokenizer.note))
    if tokenizer.limit is None:
        out.append(Finding("info", "tokens.limit_unknown", label, None, None,
                           f"{tokenizer.limit_source}; example lengths were not checked against a limit"))
    return out


def _base_model_findings(spec_path: str, names: list[str], model: str, method: str) -> list[Finding]:
    """Warnings for a base model a provider does not list, or whose shutdown has passed or is near."""
    from tuneops.basemodels import check
    from tuneops.clock import utcnow

    return [Finding(severity, code, spec_path, None, "model.base", f"{provider}: {message}")  # type: ignore[arg-type]
            for provider, severity, code, message in check(names, model, utcnow().date(), method)]


def _name_providers(findings: list[Finding], lims: dict[str, ProviderLimits]) -> None:
    """Say which providers a conversion problem concerns (formats are shared by several)."""
    by_format: dict[str, list[str]] = {}
    for name, lim in lims.items():
        by_format.setdefault(lim.data_format, []).append(name)
    for i, f in enumerate(findings):
        if f.code.startswith("convert."):
            who = ", ".join(by_format.get(f.code[len("convert."):], []))
            if who:
                findings[i] = Finding(f.severity, f.code, f.file, f.line, f.field, f"{who}: {f.message}")
