"""Dataset-level checks and statistics, built from per-example results in one streaming pass.

Holds only fixed-size facts per example (line, tokens, keys), never the examples themselves:
duplicates and train/validation overlap by key, class balance of short final replies,
system-prompt consistency, per-example token limits, and the statistics block with a histogram.
"""

from __future__ import annotations

from array import array
from collections import Counter
from typing import Any

import orjson

from tuneops.datasets.checks import CHAT, PREFERENCE, UNUSABLE, ExampleResult
from tuneops.datasets.findings import Finding

_KIND_NAMES = {CHAT: "chat", PREFERENCE: "preference"}
_MAX_LABELS = 1000  # more distinct short replies than this is not classification-style data


class FileAggregate:
    """Everything preflight keeps about one file while streaming it."""

    def __init__(self, label: str, expected_kind: int, other: FileAggregate | None = None, *,
                 role: str = "validation", against: list[tuple[FileAggregate, str, str]] | None = None):
        self.label = label
        self.expected_kind = expected_kind
        self.other = other  # the training file, when this is the validation file (overlap check)
        self.role = role  # what this file is: "training", "validation" or "eval"
        # Files this one must not share examples with: (aggregate, its role, finding code).
        self.against = list(against or ([(other, "training", "overlap.validation")] if other is not None else []))
        self.overlap_lines: dict[str, list[tuple[int, int]]] = {}
        self.findings: list[Finding] = []
        self.lines = array("I")
        self.tokens = array("q")
        self.trainable = array("q")
        self.messages = array("q")
        self.near = array("q")
        self.exact = array("q")
        self.exact_first: dict[int, int] = {}
        self.near_first: dict[int, int] = {}
        self.labels: Counter[str] = Counter()
        self.label_first: dict[str, int] = {}
        self.spellings: dict[str, set[str]] = {}
        self.too_many_labels = False
        # Per example (same index as lines): the id of its normalized label in label_order, -1 for none;
        # per-split class counts come from these. Labels are shown as first written (case kept).
        self.label_ids = array("i")
        self.label_order: list[str] = []
        self.label_id_of: dict[str, int] = {}
        self.label_display: dict[str, str] = {}
        self.sys_lines = array("I")
        self.nosys_lines = array("I")
        self.systems: Counter[int] = Counter()
        self.unusable = 0
        self.with_errors = 0
        self.exact_dups = 0
        self.near_dups = 0
        self.overlaps = 0
        self.bytes = 0
        self.blank = 0

    @property
    def examples(self) -> int:
        """Lines that hold a usable example (parsed, of a known kind)."""
        return len(self.lines)

    def add(self, line: int, exact: int, r: ExampleResult) -> None:
        """Fold one example's result in (in file order)."""
        label = self.label
        for sev, code, field, msg in r.findings:
            self.findings.append(Finding(sev, code, label, line, field, msg))
        if r.has_error:
            self.with_errors += 1
        if r.kind == UNUSABLE:
            self.unusable += 1
            return
        if r.kind != self.expected_kind:
            want = _KIND_NAMES.get(self.expected_kind, "?")
            method = "sft" if self.expected_kind == CHAT else "dpo"
            self.findings.append(Finding("error", "format.method", label, line, None,
                                         f"a {_KIND_NAMES[r.kind]} example, but method {method} needs {want} examples"))
            if not r.has_error:
                self.with_errors += 1
        self.lines.append(line)
        self.tokens.append(r.tokens)
        self.trainable.append(r.trainable)
        self.messages.append(r.messages)
        self.near.append(r.near)
        self.exact.append(exact)
        first = self.exact_first.get(exact)
        if first is not None:
            self.exact_dups += 1
            self.findings.append(Finding("warning", "dup.exact", label, line, None,
                                         f"exact duplicate of line {first}"))
        else:
            self.exact_first[exact] = line
            nfirst = self.near_first.get(r.near)
            if nfirst is not None:
                self.near_dups += 1
                self.findings.append(Finding("warning", "dup.near", label, line, None,
                                             f"near-duplicate of line {nfirst} (the same turns up to letter "
                                             "case, surrounding spaces and the system prompt)"))
            else:
                self.near_first[r.near] = line
        if self.against:
            self._overlap(line, exact, r.near)
        lid = -1
        if r.label is not None and not self.too_many_labels:
            norm = " ".join(r.label.casefold().split())
            self.labels[norm] += 1
            if norm not in self.label_first:
                self.label_first[norm] = line
                self.spellings[norm] = {r.label}
                self.label_display[norm] = r.label
                self.label_id_of[norm] = len(self.label_order)
                self.label_order.append(norm)
            elif len(self.spellings[norm]) < 5:
                self.spellings[norm].add(r.label)
            lid = self.label_id_of[norm]
            if len(self.labels) > _MAX_LABELS:
                self.too_many_labels = True
                self.labels.clear()
                self.label_first.clear()
                self.spellings.clear()
                self.label_display.clear()
                self.label_id_of.clear()
                self.label_order.clear()
        self.label_ids.append(lid)
        if r.system is None:
            self.nosys_lines.append(line)
        else:
            self.sys_lines.append(line)
            self.systems[r.system] += 1

    def _overlap(self, line: int, exact: int, near: int) -> None:
        for other, role, code in self.against:
            where = other.exact_first.get(exact)
            how = "exact copy"
            if where is None:
                where = other.near_first.get(near)
                how = "near-duplicate"
            if where is None:
                continue
            if other is self.other:
                self.overlaps += 1
            self.overlap_lines.setdefault(code, []).append((line, where))
            self.findings.append(Finding("warning", code, self.label, line, None,
                                         f"{how} of {role} line {where} ({other.label}): {self.role} examples "
                                         f"should not be in the {role} data"))

    # -- checkpoints (resume a scan of a file that only grew) ---------------------------------------

    _ARRAYS = ("lines", "tokens", "trainable", "messages", "near", "exact", "sys_lines", "nosys_lines", "label_ids")

    def dump(self) -> tuple[bytes, bytes]:
        """The state after the lines added so far: (JSON metadata, packed arrays)."""
        arrays = [getattr(self, name) for name in self._ARRAYS]
        meta = {
            "sizes": [len(a) for a in arrays],
            "labels": list(self.labels.items()), "label_first": list(self.label_first.items()),
            "spellings": [[k, sorted(v)] for k, v in self.spellings.items()],
            "too_many_labels": self.too_many_labels, "systems": list(self.systems.items()),
            "label_order": self.label_order, "label_display": self.label_display,
            "counts": [self.unusable, self.with_errors, self.exact_dups, self.near_dups, self.overlaps],
            "findings": [[f.severity, f.code, f.line, f.field, f.message] for f in self.findings],
        }
        return orjson.dumps(meta), b"".join(a.tobytes() for a in arrays)

    def load(self, meta_json: bytes, blob: bytes) -> None:
        """Restore a state written by ``dump`` (the aggregate must be fresh)."""
        meta = orjson.loads(meta_json)
        pos = 0
        for name, size in zip(self._ARRAYS, meta["sizes"], strict=True):
            arr = getattr(self, name)
            width = arr.itemsize * size
            arr.frombytes(blob[pos:pos + width])
            pos += width
        self.labels.update(dict(meta["labels"]))
        self.label_first.update(dict(meta["label_first"]))
        self.spellings.update({k: set(v) for k, v in meta["spellings"]})
        self.too_many_labels = meta["too_many_labels"]
        self.label_order.extend(meta["label_order"])
        self.label_id_of.update({k: i for i, k in enumerate(self.label_order)})
        self.label_display.update(meta["label_display"])
        self.systems.update(dict(meta["systems"]))
        self.unusable, self.with_errors, self.exact_dups, self.near_dups, self.overlaps = meta["counts"]
        label = self.label
        self.findings.extend(Finding(sev, code, label, line, field, msg)
                             for sev, code, line, field, msg in meta["findings"])
        # The first-seen maps follow from the arrays, in the same order add() saw them.
        exact_first, near_first = self.exact_first, self.near_first
        for line, exact, near in zip(self.lines, self.exact, self.near, strict=True):
            if exact not in exact_first:
                exact_first[exact] = line
                if near not in near_first:
                    near_first[near] = line

    # -- dataset-level checks --------------------------------------------------------------------

    def finish(self, limit: int | None, limit_source: str, model: str) -> None:
        """Dataset-level findings: token limit, system-prompt consistency, class balance."""
        label = self.label
        add = self.findings.append
        if limit is not None:
            for line, t in zip(self.lines, self.tokens, strict=True):
                if t > limit:
                    add(Finding("warning", "tokens.too_long", label, line, None,
                                f"{t:,} tokens, over the {limit:,}-token training limit of {model}: the example "
                                "will be truncated"))
        n = self.examples
        with_sys, without = len(self.sys_lines), len(self.nosys_lines)
        if n and with_sys == 0:
            add(Finding("info", "system.none", label, None, None,
                        "no example has a system prompt; if you will prompt the model with one, add it to "
                        "the training examples too"))
        elif with_sys and without:
            if without <= with_sys:
                for line in self.nosys_lines:
                    add(Finding("warning", "system.missing", label, line, "messages",
                                f"no system prompt, unlike {with_sys:,} other examples"))
            else:
                for line in self.sys_lines:
                    add(Finding("warning", "system.missing", label, line, "messages",
                                f"has a system prompt, while {without:,} other examples have none"))
        self._class_balance()

    def _norm_classes(self, include: list[int] | None = None) -> dict[str, int] | None:
        if self.too_many_labels:
            return None
        if include is None:
            n, counts = self.examples, self.labels
        else:
            n = len(include)
            ids = Counter(self.label_ids[i] for i in include)
            ids.pop(-1, None)
            counts = Counter({self.label_order[i]: c for i, c in ids.items()})
        labeled = sum(counts.values())
        distinct = len(counts)
        if n < 20 or labeled < 0.9 * n or not 1 <= distinct <= min(50, max(2, n // 5)):
            return None
        return dict(counts.most_common())

    def classes(self, include: list[int] | None = None) -> dict[str, int] | None:
        """Per-class counts (of the ``include`` examples, default all) when the data is classification-style
        (final replies from a small set); each class as first written."""
        norm = self._norm_classes(include)
        return None if norm is None else {self.label_display.get(k, k): v for k, v in norm.items()}

    def _class_balance(self) -> None:
        norm = self._norm_classes()
        if not norm:
            return
        show = self.label_display.get
        classes = {show(k, k): v for k, v in norm.items()}
        add = self.findings.append
        if len(classes) == 1:
            (only, count), = classes.items()
            add(Finding("warning", "label.single", self.label, None, "assistant reply",
                        f"all {count:,} examples end with the same reply {only!r}: the model will learn to always "
                        "say it"))
            return
        counts = sorted(classes.values())
        largest, smallest = counts[-1], counts[0]
        summary = ", ".join(f"{k!r}: {v:,}" for k, v in list(classes.items())[:10])
        if largest >= 10 * smallest:
            add(Finding("warning", "label.imbalance", self.label, None, "assistant reply",
                        f"classification-style data is imbalanced ({largest:,} vs {smallest:,} examples per "
                        f"class; {summary})"))
        else:
            add(Finding("info", "label.classes", self.label, None, "assistant reply",
                        f"classification-style data with {len(classes)} classes ({summary})"))
        for k, ways in self.spellings.items():
            if len(ways) > 1 and k in norm:
                add(Finding("warning", "label.variants", self.label, None, "assistant reply",
                            f"class {show(k, k)!r} is written {len(ways)} ways "
                            f"({', '.join(map(repr, sorted(ways)))}); the model learns each spelling separately"))
        rare = [k for k, v in norm.items() if v < 5]
        for k in rare[:20]:
            add(Finding("warning", "label.rare", self.label, self.label_first.get(k), "assistant reply",
                        f"class {show(k, k)!r} has only {norm[k]} example(s)"))

    # -- statistics ---------------------------------------------------------------------------------

    def stats(self, limit: int | None = None, include: list[int] | None = None) -> dict[str, Any]:
        """The statistics block (JSON-able); ``include`` restricts it to those example indexes."""
        if include is None:
            tokens, msgs, trainable = sorted(self.tokens), sorted(self.messages), sum(self.trainable)
        else:
            tokens = sorted(self.tokens[i] for i in include)
            msgs = sorted(self.messages[i] for i in include)
            trainable = sum(self.trainable[i] for i in include)
        n = len(tokens)
        billed = sum(tokens) if not limit or not n or tokens[-1] <= limit else sum(min(t, limit) for t in tokens)
        return {
            "examples": n,
            "unusable_lines": self.unusable,
            "blank_lines": self.blank,
            "bytes": self.bytes,
            "messages": {"total": sum(msgs), **_dist(msgs, p95=False)},
            "tokens": {"total": sum(tokens), "billed_per_epoch": billed,
                       "trainable": trainable, **_dist(tokens)},
            "histogram": histogram(tokens),
            "classes": self.classes(include),
            "system_prompts": {"with": len(self.sys_lines), "without": len(self.nosys_lines),
                               "distinct": len(self.systems)},
            "duplicates": {"exact": self.exact_dups, "near": self.near_dups},
            "validation_overlap": self.overlaps if self.other is not None else None,
        }


def _dist(values: list[int], p95: bool = True) -> dict[str, int]:
    """min/median/p95/max of sorted values (nearest rank), zeros when empty."""
    n = len(values)
    if not n:
        return {"min": 0, "median": 0, **({"p95": 0} if p95 else {}), "max": 0}
    out = {"min": values[0], "median": values[(n - 1) // 2]}
    if p95:
        out["p95"] = values[max(0, -(-95 * n // 100) - 1)]
    out["max"] = values[-1]
    return out


def histogram(sorted_tokens: list[int]) -> list[dict[str, int]]:
    """Example lengths in power-of-two bins: [{"lo", "hi", "count"}], empty bins between kept."""
    if not sorted_tokens:
        return []
    bins = [0] * 65
    for t in sorted_tokens:
        bins[t.bit_length()] += 1
    bins[4] += sum(bins[:4])  # everything under 16 tokens shares the first bin
    used = [b for b in range(4, 65) if bins[b]]
    return [{"lo": 0 if b == 4 else 1 << (b - 1), "hi": (1 << b) - 1, "count": bins[b]}
            for b in range(used[0], used[-1] + 1)]
