"""Job specs: pydantic models of ``jobs/<name>.toml`` and loading with file, line and field errors."""

from __future__ import annotations

import functools
import hashlib
import json
import re
import tomllib
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from tuneops.errors import SpecError

Auto = Literal["auto"]

# Option names that look like credentials: specs are committed to git, keys come from the environment.
_SECRETISH = re.compile(r"(api[_-]?key|secret|token|password|credential)", re.I)


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ModelSection(_Section):
    """Which base model to tune, at which provider, and the name suffix of the result."""

    provider: str = Field(min_length=1)
    base: str = Field(min_length=1)
    suffix: str | None = Field(default=None, max_length=64, pattern=r"^[A-Za-z0-9._-]+$")


class DataSection(_Section):
    """Training data, and validation data given as a file or as a split of the training file."""

    train: Path
    validation: Path | None = None
    validation_split: float | None = Field(default=None, gt=0, lt=0.5)
    split_seed: int = 0

    @model_validator(mode="after")
    def _one_validation_source(self) -> DataSection:
        if self.validation is not None and self.validation_split is not None:
            raise ValueError("give either validation (a file) or validation_split (a fraction), not both")
        return self


class HyperparametersSection(_Section):
    """Portable hyperparameters; "auto" lets the provider choose."""

    epochs: Annotated[int, Field(ge=1, le=50)] | Auto = "auto"
    batch_size: Annotated[int, Field(ge=1)] | Auto = "auto"
    learning_rate_multiplier: Annotated[float, Field(gt=0, le=100)] | Auto = "auto"
    learning_rate: Annotated[float, Field(gt=0, lt=1)] | None = None
    beta: Annotated[float, Field(gt=0, le=10)] | Auto = "auto"
    seed: int | None = None

    @model_validator(mode="after")
    def _one_learning_rate(self) -> HyperparametersSection:
        if self.learning_rate is not None and self.learning_rate_multiplier != "auto":
            raise ValueError("give learning_rate (absolute) or learning_rate_multiplier, not both")
        return self


class EvalSection(_Section):
    """The eval set a model is scored on, its metrics and the inference settings used to score it."""

    set: Path
    metrics: list[str] = Field(default_factory=lambda: ["exact_match"], min_length=1)
    max_tokens: int = Field(default=256, ge=1)
    temperature: float = Field(default=0.0, ge=0, le=2)
    concurrency: int = Field(default=4, ge=1, le=64)
    # Classification sets: the label set (default: the distinct references of the eval set).
    labels: list[str] = Field(default_factory=list)
    pattern: str | None = None  # the `regex` metric: an answer passes when this pattern is found in it
    json_schema: Path | None = None  # the `json_schema` metric: a JSON Schema file answers must conform to

    @model_validator(mode="after")
    def _metric_settings(self) -> EvalSection:
        if "regex" in self.metrics:
            if self.pattern is None:
                raise ValueError("the regex metric needs `pattern = \"...\"` in [eval]")
            try:
                re.compile(self.pattern)
            except re.error as exc:
                raise ValueError(f"pattern is not a valid regular expression: {exc}") from None
        if "json_schema" in self.metrics and self.json_schema is None:
            raise ValueError("the json_schema metric needs `json_schema = \"path/to/schema.json\"` in [eval]")
        return self


class PromoteSection(_Section):
    """The gate a candidate must pass before an alias moves to it."""

    alias: str = Field(min_length=1, pattern=r"^[A-Za-z0-9._-]+$")
    metric: str = "exact_match"
    margin: float = Field(default=0.0, ge=0)
    beat_base: bool = False
    min_examples: int = Field(default=1, ge=1)
    # True: the lower end of the paired 95% interval of the lift over the holder (and base) must be above 0.
    significant: bool = False


class RetrainSection(_Section):
    """When the scheduler starts a new run: a cron schedule, a low eval score, fresh data, an old model
    or a base model about to shut down; never twice within the cooldown (see tuneops.scheduler)."""

    cron: str | None = None  # five-field cron in UTC, e.g. "0 3 * * 1"
    # After downtime: "coalesce" fires one catch-up run for all missed slots, "skip" waits for the next.
    misfire: Literal["coalesce", "skip"] = "coalesce"
    misfire_grace_minutes: float = Field(default=60.0, ge=0)
    eval_below: float | None = Field(default=None, ge=0, le=1)
    metric: str | None = None  # default: the [promote] metric, else the first [eval] metric
    min_eval_examples: int = Field(default=1, ge=1)
    reeval: bool = True  # re-score the alias holder when the eval set file changed
    new_examples: int | None = Field(default=None, ge=1)
    changed_fraction: float | None = Field(default=None, gt=0, le=1)
    max_age_days: float | None = Field(default=None, gt=0)
    shutdown_within_days: float | None = Field(default=None, gt=0)
    cooldown_hours: float = Field(default=24.0, ge=0)
    providers: list[str] = Field(default_factory=list)
    require_pilot: bool = False  # scheduled runs go through the spec's [pilot] first

    @field_validator("cron")
    @classmethod
    def _cron(cls, value: str | None) -> str | None:
        if value is not None and not _valid_cron(value):
            raise ValueError("not a five-field cron expression (minute hour day month weekday), "
                             "e.g. \"0 3 * * 1\" for Mondays at 03:00 UTC")
        return value


@functools.lru_cache(maxsize=1024)
def _valid_cron(expr: str) -> bool:
    # Expanding an expression costs ~0.1 ms and thousands of specs share a handful of schedules.
    from croniter import croniter

    return len(expr.split()) == 5 and bool(croniter.is_valid(expr))


NotifyEvent = Literal["fire", "success", "failure", "promotion", "refusal"]


class NotifySection(_Section):
    """Webhook URLs that get a JSON payload when the scheduler fires, a run ends or a promotion is decided."""

    urls: list[str] = Field(default_factory=list)
    events: list[NotifyEvent] = Field(default_factory=lambda: ["fire", "success", "failure", "promotion",
                                                               "refusal"])
    timeout_s: float = Field(default=5.0, gt=0, le=60)
    retries: int = Field(default=3, ge=0, le=10)

    @field_validator("urls")
    @classmethod
    def _http(cls, urls: list[str]) -> list[str]:
        for url in urls:
            if not re.match(r"^https?://[^\s/]+", url):
                raise ValueError(f"{url!r} is not an http(s) URL")
        return urls


class BudgetSection(_Section):
    """Spending limits in US dollars, enforced at admission."""

    per_run_usd: float | None = Field(default=None, ge=0)
    per_month_usd: float | None = Field(default=None, ge=0)

    @staticmethod
    def _micro(usd: float | None) -> int | None:
        return None if usd is None else round(usd * 1_000_000)

    @property
    def per_run_microusd(self) -> int | None:
        """Per-run limit in integer micro-dollars."""
        return self._micro(self.per_run_usd)

    @property
    def per_month_microusd(self) -> int | None:
        """Per-month limit in integer micro-dollars."""
        return self._micro(self.per_month_usd)


class EconomicsSection(_Section):
    """What the fine-tune is for in money: traffic, the prompt it replaces, what a right answer is worth."""

    requests_per_month: int = Field(ge=0)
    # Tokens of the instructions / few-shot prefix the base model needs and the fine-tuned model drops.
    replaced_prompt_tokens: int = Field(default=0, ge=0)
    value_per_correct_usd: float | None = Field(default=None, ge=0)
    hosting_hours_per_month: float = Field(default=730.0, ge=0, le=744)


class PilotSection(_Section):
    """A small run before the full one: the full run is admitted only if the pilot's lift passes."""

    examples: int = Field(ge=10)
    seed: int = 0
    metric: str | None = None  # default: the [promote] metric, else the first [eval] metric
    min_lift: float = Field(default=0.0, ge=-1, le=1)  # over the base model, on the eval set


class JobSpec(_Section):
    """One job spec: base model and provider, data, hyperparameters, eval, policy and budget."""

    name: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
    description: str = ""
    method: Literal["sft", "dpo"] = "sft"
    model: ModelSection
    data: DataSection
    hyperparameters: HyperparametersSection = HyperparametersSection()
    options: dict[str, dict[str, Any]] = Field(default_factory=dict)
    eval: EvalSection | None = None
    promote: PromoteSection | None = None
    retrain: RetrainSection | None = None
    notify: NotifySection | None = None
    budget: BudgetSection = BudgetSection()
    economics: EconomicsSection | None = None
    pilot: PilotSection | None = None

    @field_validator("options")
    @classmethod
    def _no_secrets(cls, options: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
        for provider, table in options.items():
            for key in table:
                if _SECRETISH.search(key):
                    raise ValueError(
                        f"options.{provider}.{key} looks like a credential; specs are shared, so "
                        "credentials come from the environment (see `tuneops providers check`)"
                    )
        return options

    @model_validator(mode="after")
    def _pilot_needs_eval(self) -> JobSpec:
        if self.pilot is not None and self.eval is None:
            raise ValueError("[pilot] judges the pilot on the eval set: add an [eval] section")
        if self.retrain is not None and self.retrain.require_pilot and self.pilot is None:
            raise ValueError("retrain.require_pilot needs a [pilot] section (e.g. `examples = 100`)")
        return self

    def provider_options(self) -> dict[str, Any]:
        """The options table of this spec's provider."""
        return dict(self.options.get(self.model.provider, {}))

    def with_provider(self, provider: str) -> JobSpec:
        """The same spec aimed at another provider (the one-line switch)."""
        return self.model_copy(update={"model": self.model.model_copy(update={"provider": provider})})


class LoadedSpec(BaseModel):
    """A parsed spec with where it came from and the hash that identifies this version of it."""

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    spec: JobSpec
    path: Path
    sha256: str

    @property
    def base_dir(self) -> Path:
        """The directory relative paths in the spec are resolved against."""
        return self.path.parent

    def resolve(self, p: Path) -> Path:
        """A data path from the spec, resolved against the spec's directory."""
        return p if p.is_absolute() else (self.base_dir / p)


def _find_line(text: str, loc: tuple[Any, ...]) -> int | None:
    """Best-effort line number of a field path in TOML text (table header, then key)."""
    lines = text.splitlines()
    keys = [str(k) for k in loc if not isinstance(k, int)]
    if not keys:
        return None
    start = 0
    # Walk down table headers ([a], [a.b]) as far as they exist, then look for the key.
    for depth in range(len(keys) - 1, 0, -1):
        header = re.compile(r"^\s*\[\s*" + r"\s*\.\s*".join(map(re.escape, keys[:depth])) + r"\s*\]")
        for i, line in enumerate(lines):
            if header.match(line):
                start = i
                keys = keys[depth:]
                break
        else:
            continue
        break
    key = re.compile(r"^\s*" + re.escape(keys[0]) + r"\s*=")
    for i in range(start, len(lines)):
        if key.match(lines[i]) or (i > start and lines[i].lstrip().startswith("[") and start > 0):
            if key.match(lines[i]):
                return i + 1
            break
    return start + 1 if start else None


_UNION_TAGS = {"int", "float", "str", "bool", "constrained-int", "constrained-float", "none"}


def _field_path(loc: tuple[Any, ...]) -> tuple[str, ...]:
    """A pydantic error location without the union-member tags pydantic adds to it."""
    return tuple(str(p) for p in loc if not (str(p) in _UNION_TAGS or "[" in str(p) or str(p).startswith(
        ("function-", "literal"))))


def _describe(path: tuple[str, ...], errors: list[dict[str, Any]]) -> str:
    loc = ".".join(path)
    first = errors[0]
    if first["type"] == "extra_forbidden":
        return f"{loc}: unknown field; remove it or check its spelling (see jobs/README.md)"
    if first["type"] == "missing":
        return f"{loc}: required field is missing; add it"
    msgs = []
    for err in errors:
        msg = err["msg"].removeprefix("Value error, ")
        if msg not in msgs:
            msgs.append(msg)
    return f"{loc}: {' or '.join(msgs)} (got {first.get('input')!r})"


def parse(text: str, path: Path) -> JobSpec:
    """Parse TOML text into a JobSpec; raises SpecError with file:line and field for every problem."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise SpecError(str(path), [f"not valid TOML: {exc}"]) from None
    data.setdefault("name", path.stem)
    try:
        return JobSpec.model_validate(data)
    except ValidationError as exc:
        grouped: dict[tuple[str, ...], list[dict[str, Any]]] = {}
        for err in exc.errors():
            grouped.setdefault(_field_path(tuple(err["loc"])), []).append(err)
        problems = []
        for field_path, errors in grouped.items():
            line = _find_line(text, field_path)
            prefix = f"line {line}: " if line else ""
            problems.append(prefix + _describe(field_path, errors))
        raise SpecError(str(path), problems) from None


def load(path: str | Path, *, check_files: bool = True, check_provider: bool = True) -> LoadedSpec:
    """Load and check a spec file: schema, data files present, provider installed."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise SpecError(str(path), ["file not found; `tuneops init` writes an example spec"]) from None
    except OSError as exc:
        raise SpecError(str(path), [f"cannot read: {exc.strerror}"]) from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise SpecError(str(path), ["not UTF-8 text"]) from None
    spec = parse(text, path)
    loaded = LoadedSpec(spec=spec, path=path, sha256=hashlib.sha256(raw).hexdigest())
    problems: list[str] = []
    if check_files:
        fields = {"data.train": spec.data.train, "data.validation": spec.data.validation}
        if spec.eval is not None:
            fields["eval.set"] = spec.eval.set
            fields["eval.json_schema"] = spec.eval.json_schema
        for field_path, p in fields.items():
            if p is not None and not loaded.resolve(p).is_file():
                line = _find_line(text, tuple(field_path.split(".")))
                prefix = f"line {line}: " if line else ""
                problems.append(f"{prefix}{field_path}: file {loaded.resolve(p)} does not exist; "
                                "fix the path (relative paths start at the spec's folder)")
    if check_provider:
        from tuneops import registry

        available = registry.names()
        if spec.model.provider not in available:
            line = _find_line(text, ("model", "provider"))
            prefix = f"line {line}: " if line else ""
            problems.append(f"{prefix}model.provider: unknown provider {spec.model.provider!r}; "
                            f"installed: {', '.join(available)}")
    if problems:
        raise SpecError(str(path), problems)
    return loaded


def canonical_json(spec: JobSpec) -> str:
    """A stable JSON encoding of a spec (sorted keys), for hashing and the ledger."""
    return json.dumps(spec.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
