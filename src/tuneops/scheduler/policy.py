"""Job policies: what the scheduler needs from each ``jobs/*.toml``, loaded fast enough for thousands.

Parsing TOML and validating a JobSpec costs about a millisecond per spec, too much for a tick over
10,000 specs every minute. So each spec is parsed once per change (size and mtime) and its policy
(plain data, already validated) kept in the scheduler's local cache; a tick reads one row per spec.
The full spec is loaded again only for a job that fires.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import orjson

from tuneops.scheduler.localcache import LocalCache

# Bump when JobPolicy's shape changes, so cached policies of an older shape are parsed again.
POLICY_VERSION = "3"  # 3: RetrainRules.require_pilot


@dataclass(frozen=True, slots=True)
class RetrainRules:
    """A job's [retrain] section as plain data (see spec.RetrainSection for the meaning of each)."""

    cron: str | None = None
    misfire: str = "coalesce"
    misfire_grace_minutes: float = 60.0
    eval_below: float | None = None
    metric: str | None = None
    min_eval_examples: int = 1
    reeval: bool = True
    new_examples: int | None = None
    changed_fraction: float | None = None
    max_age_days: float | None = None
    shutdown_within_days: float | None = None
    cooldown_hours: float = 24.0
    require_pilot: bool = False
    providers: tuple[str, ...] = ()  # the last field: from_json turns it back into a tuple


@dataclass(frozen=True, slots=True)
class JobPolicy:
    """One job spec as the scheduler sees it; ``error`` is set (and the rest mostly empty) when the
    spec does not load."""

    name: str
    path: str
    spec_sha256: str = ""
    error: str | None = None
    provider: str = ""
    base_model: str = ""
    retrain: RetrainRules | None = None
    alias: str | None = None
    metric: str | None = None
    train: str = ""
    eval_set: str | None = None
    validation_split: bool = False
    budget_month_microusd: int | None = None
    budget_run_microusd: int | None = None
    notify_urls: tuple[str, ...] = ()
    notify_events: tuple[str, ...] = ()
    notify_timeout_s: float = 5.0
    notify_retries: int = 3
    problems: tuple[str, ...] = field(default=())

    @property
    def providers(self) -> tuple[str, ...]:
        """Where a retrain runs: [retrain] providers, else the spec's own provider."""
        if self.retrain is not None and self.retrain.providers:
            return self.retrain.providers
        return (self.provider,)

    def to_json(self) -> bytes:
        """The cached form: field values in declaration order (rebuilding by position is the fast way)."""
        values = [getattr(self, f.name) for f in fields(self)]
        if self.retrain is not None:
            values[_RETRAIN] = [getattr(self.retrain, f.name) for f in fields(RetrainRules)]
        return orjson.dumps(values)

    @classmethod
    def from_json(cls, raw: bytes) -> JobPolicy:
        """Rebuild a cached policy."""
        values = orjson.loads(raw)
        rules = values[_RETRAIN]
        if rules is not None:
            rules[-1] = tuple(rules[-1])  # providers, the last field
            values[_RETRAIN] = RetrainRules(*rules)
        for i in _TUPLES:
            values[i] = tuple(values[i])
        return cls(*values)


_NAMES = [f.name for f in fields(JobPolicy)]
_RETRAIN = _NAMES.index("retrain")
_TUPLES = [_NAMES.index(n) for n in ("notify_urls", "notify_events", "problems")]


def from_spec(loaded: Any, known_providers: set[str]) -> JobPolicy:
    """The policy of a loaded spec, with any inconsistency in it as a problem to report."""
    spec = loaded.spec
    problems: list[str] = []
    rules = None
    if spec.retrain is not None:
        r = spec.retrain
        rules = RetrainRules(**{**r.model_dump(), "providers": tuple(r.providers)})
        if r.eval_below is not None and spec.eval is None:
            problems.append("retrain.eval_below needs an [eval] section to score the model on")
        for name in r.providers:
            if name not in known_providers:
                problems.append(f"retrain.providers: unknown provider {name!r}; installed: "
                                f"{', '.join(sorted(known_providers))}")
    if spec.model.provider not in known_providers:
        problems.append(f"model.provider: unknown provider {spec.model.provider!r}")
    metric = None
    if rules is not None and rules.metric:
        metric = rules.metric
    elif spec.promote is not None:
        metric = spec.promote.metric
    elif spec.eval is not None:
        metric = spec.eval.metrics[0]
    if rules is not None and rules.eval_below is not None and spec.eval is not None and metric not in spec.eval.metrics:
        problems.append(f"retrain.metric {metric!r} is not among [eval] metrics ({', '.join(spec.eval.metrics)})")
    notify = spec.notify
    return JobPolicy(
        name=spec.name, path=str(loaded.path), spec_sha256=loaded.sha256, provider=spec.model.provider,
        base_model=spec.model.base, retrain=rules, alias=spec.promote.alias if spec.promote else None,
        metric=metric, train=str(loaded.resolve(spec.data.train).absolute()),
        eval_set=str(loaded.resolve(spec.eval.set).absolute()) if spec.eval else None,
        validation_split=spec.data.validation_split is not None,
        budget_month_microusd=spec.budget.per_month_microusd, budget_run_microusd=spec.budget.per_run_microusd,
        notify_urls=tuple(notify.urls) if notify else (), notify_events=tuple(notify.events) if notify else (),
        notify_timeout_s=notify.timeout_s if notify else 5.0, notify_retries=notify.retries if notify else 3,
        problems=tuple(problems),
    )


def spec_paths(jobs_dir: Path) -> list[str]:
    """The job specs in a directory (``*.toml``), by name."""
    if not jobs_dir.is_dir():
        from tuneops.errors import TuneopsError

        raise TuneopsError(f"{jobs_dir} is not a directory of job specs; pass --jobs DIR "
                           "(`tuneops init` writes jobs/ with an example)")
    with os.scandir(jobs_dir) as entries:
        return sorted(e.path for e in entries if e.name.endswith(".toml") and e.is_file())


def load_policies(jobs_dir: Path, cache: LocalCache,
                  memo: dict[str, tuple[int, int, JobPolicy]] | None = None) -> list[JobPolicy]:
    """Every spec's policy: from ``memo`` (a long-running process's own, across ticks) or the cache
    when the file is unchanged, else parsed (and cached)."""
    memo = {} if memo is None else memo
    stats: list[tuple[str, int, int]] = []
    for path in spec_paths(jobs_dir.absolute()):
        try:
            st = os.stat(path)
        except OSError:
            continue  # removed since the directory was listed
        stats.append((path, st.st_size, st.st_mtime_ns))
    misses = [s for s in stats if (hit := memo.get(s[0])) is None or hit[:2] != s[1:]]
    cached = {row[0]: row for row in cache.rows("policy")} if misses else {}
    fresh: list[tuple[Any, ...]] = []
    known: set[str] | None = None
    for key, size, mtime_ns in misses:
        row = cached.get(key)
        if row is not None and row[1] == size and row[2] == mtime_ns and row[3] == POLICY_VERSION:
            memo[key] = (size, mtime_ns, JobPolicy.from_json(row[4]))
            continue
        # Parsing a spec needs the spec models (pydantic): loaded only when a spec changed.
        from tuneops import registry
        from tuneops import spec as specmod
        from tuneops.errors import SpecError

        if known is None:
            known = set(registry.names())
        try:
            policy = from_spec(specmod.load(key, check_files=False, check_provider=False), known)
        except SpecError as exc:
            policy = JobPolicy(name=Path(key).stem, path=key, error=str(exc))
        except Exception as exc:  # one spec the loader cannot take must not stop the tick for every job
            policy = JobPolicy(name=Path(key).stem, path=key,
                               error=f"{key}: cannot be loaded ({type(exc).__name__}: {exc}); fix the spec")
        memo[key] = (size, mtime_ns, policy)
        fresh.append((key, size, mtime_ns, POLICY_VERSION, policy.to_json()))
    cache.put("policy", fresh)
    return _unique([memo[key][2] for key, _, _ in stats])


def _unique(policies: list[JobPolicy]) -> list[JobPolicy]:
    """Two specs with one job name would fight over the job's fires: both are reported, neither runs."""
    seen: dict[str, JobPolicy] = {}
    dup: set[str] = set()
    for p in policies:
        if p.name in seen:
            dup.add(p.name)
        seen.setdefault(p.name, p)
    if not dup:
        return policies
    return [p if p.name not in dup else JobPolicy(
        name=p.name, path=p.path, error=f"{p.path}: job name {p.name!r} is used by several specs "
        f"({', '.join(q.path for q in policies if q.name == p.name)}); give each job its own name")
        for p in policies]
