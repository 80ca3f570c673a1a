"""Job specs: pydantic models of ``jobs/<name>.toml`` and loading with file, line and field errors."""

from __future__ import annotations

import functools
import hashlib
import json
import re
import tomllib
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from tuneops.errors import SpecError, did_you_mean

Auto = Literal["auto"]

# Option names that look like credentials: specs are committed to git, keys come from the environment.
_SECRETISH = re.compile(r"(api[_-]?key|secret|token|password|credential)", re.I)
# Option names that say where requests go: a committed spec must not be able to send keys to another host.
_HOSTISH = re.compile(r"(url|endpoint|host)$", re.I)


# Bounds on what a spec may hold at all (providers declare their own, narrower limits): deep nesting
# and long paths crash parsers and file systems, NUL bytes are refused by PostgreSQL.
MAX_DEPTH = 16
_INF = float("inf")
MAX_PATH_CHARS = 1024
MAX_NAME_BYTES = 255


def _path_ok(p: Path) -> Path:
    text = str(p)
    if "\x00" in text:
        raise ValueError("path contains a NUL byte")
    if len(text) > MAX_PATH_CHARS:
        raise ValueError(f"path is {len(text):,} characters long; at most {MAX_PATH_CHARS:,} are allowed")
    for part in p.parts:
        if len(part.encode("utf-8", "surrogatepass")) > MAX_NAME_BYTES:
            raise ValueError(f"file or folder name {part[:40]!r}... is longer than {MAX_NAME_BYTES} bytes")
    return p


# Paths are written as TOML strings: the one place a spec value is converted rather than taken as is.
SpecPath = Annotated[Path, Field(strict=False), AfterValidator(_path_ok)]


class _Section(BaseModel):
    # Strict: `epochs = true` is not 1 and `beat_base = "yes"` is not true; inf and NaN are refused.
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, allow_inf_nan=False)


class ModelSection(_Section):
    """Which base model to tune, at which provider, and the name suffix of the result."""

    provider: str = Field(min_length=1, max_length=64)
    base: str = Field(min_length=1, max_length=256)
    suffix: str | None = Field(default=None, max_length=64, pattern=r"^[A-Za-z0-9._-]+$")


class DataSection(_Section):
    """Training data, and validation data given as a file or as a split of the training file."""

    train: SpecPath
    validation: SpecPath | None = None
    validation_split: float | None = Field(default=None, gt=0, lt=0.5)
    split_seed: int = Field(default=0, ge=0, le=2**63 - 1)
    # The fraction of validation or eval examples that may also be in the training data before
    # preflight calls it an error (unset: shared examples are warnings).
    max_overlap: float | None = Field(default=None, ge=0, le=1)

    @model_validator(mode="after")
    def _one_validation_source(self) -> DataSection:
        if self.validation is not None and self.validation_split is not None:
            raise ValueError("give either validation (a file) or validation_split (a fraction), not both")
        return self


class HyperparametersSection(_Section):
    """Portable hyperparameters; "auto" lets the provider choose."""

    epochs: Annotated[int, Field(ge=1, le=50)] | Auto = "auto"
    batch_size: Annotated[int, Field(ge=1, le=1_000_000)] | Auto = "auto"
    learning_rate_multiplier: Annotated[float, Field(ge=1e-9, le=100)] | Auto = "auto"
    learning_rate: Annotated[float, Field(ge=1e-12, lt=1)] | None = None
    beta: Annotated[float, Field(gt=0, le=10)] | Auto = "auto"
    seed: Annotated[int, Field(ge=0, le=2**63 - 1)] | None = None

    @model_validator(mode="after")
    def _one_learning_rate(self) -> HyperparametersSection:
        if self.learning_rate is not None and self.learning_rate_multiplier != "auto":
            raise ValueError("give learning_rate (absolute) or learning_rate_multiplier, not both")
        return self


class EvalSection(_Section):
    """The eval set a model is scored on, its metrics and the inference settings used to score it."""

    set: SpecPath
    metrics: list[str] = Field(default_factory=lambda: ["exact_match"], min_length=1)
    max_tokens: int = Field(default=256, ge=1, le=1_000_000)
    temperature: float = Field(default=0.0, ge=0, le=2)
    concurrency: int = Field(default=4, ge=1, le=64)
    # Classification sets: the label set (default: the distinct references of the eval set).
    labels: list[str] = Field(default_factory=list)
    pattern: str | None = None  # the `regex` metric: an answer passes when this pattern is found in it
    json_schema: SpecPath | None = None  # the `json_schema` metric: a JSON Schema file answers must conform to

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

    alias: str = Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9._-]+$")
    metric: str = "exact_match"
    margin: float = Field(default=0.0, ge=0, le=1)
    beat_base: bool = False
    min_examples: int = Field(default=1, ge=1, le=10_000_000)
    # True: the lower end of the paired 95% interval of the lift over the holder (and base) must be above 0.
    significant: bool = False


class RetrainSection(_Section):
    """When the scheduler starts a new run: a cron schedule, a low eval score, fresh data, an old model
    or a base model about to shut down; never twice within the cooldown (see tuneops.scheduler)."""

    cron: str | None = None  # five-field cron in UTC, e.g. "0 3 * * 1"
    # After downtime: "coalesce" fires one catch-up run for all missed slots, "skip" waits for the next.
    misfire: Literal["coalesce", "skip"] = "coalesce"
    misfire_grace_minutes: float = Field(default=60.0, ge=0, le=527_040)  # a (leap) year
    eval_below: float | None = Field(default=None, ge=0, le=1)
    metric: str | None = None  # default: the [promote] metric, else the first [eval] metric
    min_eval_examples: int = Field(default=1, ge=1, le=10_000_000)
    reeval: bool = True  # re-score the alias holder when the eval set file changed
    new_examples: int | None = Field(default=None, ge=1, le=10**12)
    changed_fraction: float | None = Field(default=None, gt=0, le=1)
    max_age_days: float | None = Field(default=None, gt=0, le=36_600)  # a century
    shutdown_within_days: float | None = Field(default=None, gt=0, le=36_600)
    cooldown_hours: float = Field(default=24.0, ge=0, le=87_840)  # ten years
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
            _public_webhook(url)
        return urls


class BudgetSection(_Section):
    """Spending limits in US dollars, enforced at admission."""

    # Up to a billion dollars: micro-dollars stay within a 64-bit integer column.
    per_run_usd: float | None = Field(default=None, ge=0, le=1e9)
    per_month_usd: float | None = Field(default=None, ge=0, le=1e9)

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


class ServeSection(_Section):
    """How a fine-tuned model is served where the provider needs a deployment before it answers."""

    # none: never deploy; on_demand: billed per token; provisioned / dedicated: billed by the hour.
    mode: Literal["none", "on_demand", "provisioned", "dedicated"] = "on_demand"
    capacity: int = Field(default=1, ge=1, le=1000)  # model units, replicas or SKU capacity
    auto_undeploy_after: float | None = Field(default=None, gt=0)  # hours after which tuneops undeploys
    # Hours a model's deployment keeps serving after an alias moves off it (room for a rollback); then
    # tuneops undeploys it. None: it serves until undeployed by hand or auto_undeploy_after.
    retire_replaced_after: float | None = Field(default=None, gt=0, le=24 * 366)
    hourly_usd: float | None = Field(default=None, ge=0)  # the hosting price, when the provider does not say
    hardware: str | None = None  # e.g. Together's "1x_nvidia_h100_80gb_sxm", Fireworks' accelerator type
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
    description: str = Field(default="", max_length=10_000)
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
    serve: ServeSection | None = None
    economics: EconomicsSection | None = None
    pilot: PilotSection | None = None

    @field_validator("options")
    @classmethod
    def _no_secrets(cls, options: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
        for provider, table in options.items():
            for path in _keys(table, ("options", provider)):
                key = path[-1]
                if _SECRETISH.search(key):
                    raise ValueError(
                        f"{'.'.join(path)} looks like a credential; specs are shared, so "
                        "credentials come from the environment (see `tuneops providers check`)"
                    )
                if _HOSTISH.search(key) and "metadata" not in path[2:-1]:  # metadata keys are labels, not hosts
                    raise ValueError(
                        f"{'.'.join(path)} sets where requests (and your credentials) go, which a shared spec "
                        "may not do; set it in the environment or in the user config file "
                        f"(see docs/providers/{provider}.md, \"Connection\")"
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


def _keys(table: Any, prefix: tuple[str, ...]) -> list[tuple[str, ...]]:
    """Every key path in an options table, nested tables included."""
    if not isinstance(table, dict):
        return []
    out = []
    for key, value in table.items():
        out.append((*prefix, str(key)))
        out += _keys(value, (*prefix, str(key)))
    return out


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


def _header_line(text: str, loc: tuple[str, ...]) -> int | None:
    """The line of the table header ``[a.b]`` for ``loc`` (a table named wrongly has no key to point at)."""
    header = re.compile(r"^\s*\[\s*" + r"\s*\.\s*".join(map(re.escape, loc)) + r"\s*\]")
    return next((i + 1 for i, line in enumerate(text.splitlines()) if header.match(line)), None)


_UNION_TAGS = {"int", "float", "str", "bool", "constrained-int", "constrained-float", "none"}


def _field_path(loc: tuple[Any, ...]) -> tuple[str, ...]:
    """A pydantic error location without the union-member tags pydantic adds to it."""
    return tuple(str(p) for p in loc if not (str(p) in _UNION_TAGS or "[" in str(p) or str(p).startswith(
        ("function-", "literal"))))


def _describe(path: tuple[str, ...], errors: list[dict[str, Any]]) -> str:
    loc = ".".join(path)
    first = errors[0]
    if first["type"] == "extra_forbidden":
        return f"{loc}: unknown field;{_did_you_mean(path)} remove it or check its spelling (see jobs/README.md)"
    if first["type"] == "missing":
        return f"{loc}: required field is missing; add it"
    msgs = []
    for err in errors:
        msg = err["msg"].removeprefix("Value error, ")
        if err["type"] in _RANGED and (allowed := _allowed(path)):
            msg += f" ({allowed})"
        if msg not in msgs:
            msgs.append(msg)
    got = first.get("input")
    shown = repr(got) if not isinstance(got, str | dict | list) or len(repr(got)) <= 80 else repr(got)[:77] + "..."
    return f"{loc}: {' or '.join(msgs)} (got {shown})"


def _shape_problems(data: dict[str, Any], text: str) -> list[str]:
    """Nesting deeper than MAX_DEPTH and NUL bytes, found without recursion (before pydantic sees them)."""
    problems: list[str] = []
    stack: list[tuple[tuple[Any, ...], Any]] = [((), data)]
    while stack and len(problems) < 10:
        loc, value = stack.pop()
        if len(loc) > MAX_DEPTH:
            problems.append(f"{'.'.join(map(str, loc[:3]))}...: nested more than {MAX_DEPTH} levels deep; "
                            "a job spec needs only a few")
            continue
        if type(value) is str and "\x00" in value:
            line = _find_line(text, loc)
            problems.append(f"{f'line {line}: ' if line else ''}{'.'.join(map(str, loc))}: contains a NUL byte "
                            "(\\u0000); remove it")
        elif type(value) is float and loc[:1] == ("options",) and (value != value or value in (_INF, -_INF)):
            # Typed fields refuse inf/nan with their range; free-form provider options are checked here.
            problems.append(f"{'.'.join(map(str, loc))}: must be a finite number (got {value!r})")
        elif type(value) is dict:
            for k, v in value.items():
                if "\x00" in k:
                    problems.append(f"{'.'.join(map(str, loc)) or 'spec'}: a key contains a NUL byte; remove it")
                stack.append(((*loc, k), v))
        elif type(value) is list:
            stack.extend(((*loc, i), v) for i, v in enumerate(value))
    return problems


_RANGED = {"finite_number", "int_type", "float_type", "int_from_float"}


def _allowed(path: tuple[str, ...]) -> str:
    """The allowed range of a numeric field, e.g. "from 0 to 87,840" ("" when it has none)."""
    import typing

    model: Any = JobSpec
    info = None
    for part in path:
        fields = getattr(model, "model_fields", None)
        if not fields or part not in fields:
            return ""
        info = fields[part]
        model = next((a for a in typing.get_args(info.annotation) or (info.annotation,)
                      if isinstance(a, type) and issubclass(a, BaseModel)), None)
    if info is None:
        return ""
    metas = list(info.metadata)
    for arg in typing.get_args(info.annotation):
        metas += [m for a in typing.get_args(arg)[1:] for m in getattr(a, "metadata", [a])]
    bounds = []
    for m in metas:
        for attr, word in (("ge", "from"), ("gt", "above"), ("le", "up to"), ("lt", "below")):
            if getattr(m, attr, None) is not None:
                bounds.append(f"{word} {getattr(m, attr):,}")
    return f"allowed: {' '.join(bounds)}" if bounds else ""


def parse(text: str, path: Path) -> JobSpec:
    """Parse TOML text into a JobSpec; raises SpecError with file:line and field for every problem."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise SpecError(str(path), [f"not valid TOML: {exc}"]) from None
    except RecursionError:
        raise SpecError(str(path), [f"nested more than {MAX_DEPTH} levels deep; a job spec needs only a few"]) from None
    shape = _shape_problems(data, text)
    if shape:
        raise SpecError(str(path), shape)
    data.setdefault("name", path.stem)
    try:
        spec = JobSpec.model_validate(data)
    except ValidationError as exc:
        grouped: dict[tuple[str, ...], list[dict[str, Any]]] = {}
        for err in exc.errors():
            grouped.setdefault(_field_path(tuple(err["loc"])), []).append(err)
        problems = []
        for field_path, errors in grouped.items():
            # A check over the whole options table names the key it refused: point at that line.
            message = errors[0]["msg"].removeprefix("Value error, ")
            named = re.match(r"(options(?:\.[\w-]+)+)", message)
            loc = tuple(named.group(1).split(".")) if named else field_path
            line = _find_line(text, loc) or _header_line(text, loc)  # a misspelt [table] has no key line
            prefix = f"line {line}: " if line else ""
            problems.append(prefix + (message if named else _describe(field_path, errors)))
        raise SpecError(str(path), problems) from None
    secrets = _secret_fields(data, text)
    if secrets:
        raise SpecError(str(path), secrets)
    return spec


def _public_webhook(url: str) -> None:
    """Refuse a notify URL naming loopback or a private address, unless TUNEOPS_ALLOW_PRIVATE_WEBHOOKS is set."""
    from tuneops.netsafe import ALLOW_PRIVATE_ENV, allow_private, literal_internal, scrub_urls

    if literal_internal(url) and not allow_private():
        raise ValueError(f"{scrub_urls(url)!r} points into a local or private network; tuneops posts only to "
                         f"public addresses (set {ALLOW_PRIVATE_ENV}=1 for a receiver on this host or network)")


def _did_you_mean(path: tuple[str, ...]) -> str:
    """`` did you mean 'epochs'?`` for a misspelt key of a known table ('' when nothing is close)."""
    model: Any = JobSpec
    for key in path[:-1]:
        field = getattr(model, "model_fields", {}).get(key)
        annotation = getattr(field, "annotation", None)
        model = next((a for a in (annotation, *getattr(annotation, "__args__", ())) if hasattr(a, "model_fields")),
                     None)
        if model is None:
            return ""
    return did_you_mean(path[-1], list(getattr(model, "model_fields", {})))


def _secret_fields(data: Any, text: str, where: tuple[str, ...] = ()) -> list[str]:
    """A problem for every spec value that holds a credential: specs are stored with each run and shared."""
    from tuneops.audit.chain import redact
    from tuneops.netsafe import scrub_urls

    if isinstance(data, dict):
        return [p for k, v in data.items() for p in _secret_fields(v, text, (*where, str(k)))]
    if isinstance(data, list):
        return [p for v in data for p in _secret_fields(v, text, where)]
    if not isinstance(data, str) or (redact(data) == data and scrub_urls(data) == data):
        return []
    line = _find_line(text, where)
    return [f"{f'line {line}: ' if line else ''}{'.'.join(where)}: holds what looks like a credential (a key, "
            "a token, or a password in a URL); specs are stored with every run, so remove it and pass "
            "credentials through the environment (TUNEOPS_NOTIFY_URLS for a webhook URL with a token)"]


def load(path: str | Path, *, check_files: bool = True, check_provider: bool = True,
         check_options: bool | None = None) -> LoadedSpec:
    """Load and check a spec file: schema, data files present, provider installed, provider options.

    ``check_options`` (default: when files or the provider are checked) checks every ``[options.*]``
    table against its provider's schema (tuneops.options)."""
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
            problems.append(f"{prefix}model.provider: unknown provider {spec.model.provider!r};"
                            f"{did_you_mean(spec.model.provider, available)} installed: {', '.join(available)}")
    if check_options if check_options is not None else (check_files or check_provider):
        problems += option_problems(text, spec)
    if problems:
        raise SpecError(str(path), problems)
    return loaded


def option_problems(text: str, spec: JobSpec, required_for: list[str] | None = None) -> list[str]:
    """The spec's ``[options.*]`` problems as ``line N: options.x.y: ...``; missing required options count
    for the providers in ``required_for`` (default: the spec's own)."""
    from tuneops import options

    found = options.problems(spec.options,
                             required_for=[spec.model.provider] if required_for is None else required_for)
    out = []
    for field_path, message in found:
        line = _find_line(text, field_path) or _header_line(text, field_path)
        out.append((f"line {line}: " if line else "") + message)
    return out


def canonical_json(spec: JobSpec) -> str:
    """A stable JSON encoding of a spec (sorted keys), for hashing and the ledger."""
    return json.dumps(spec.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
