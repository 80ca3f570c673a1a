"""The exception tree of tuneops.

Every error a person can act on derives from ``TuneopsError``; its message says what failed,
where (file:line, field path, run id, provider job id) and what to do. The CLI prints it as one
line and exits non-zero; anything else is a bug and keeps its traceback.

::

    TuneopsError
    ├── SpecError                    bad jobs/*.toml (file, field path, fix)
    ├── DatasetError                 preflight found errors; nothing was written
    ├── ProviderNotFound             unknown provider name (lists the installed ones)
    ├── ProviderUnavailable          optional SDK missing (message = exact pip command)
    ├── MissingCredential            an API key / credential is not set (names the variable)
    ├── UnsupportedOperation         the provider cannot do this (pause, DPO, ...)
    ├── BudgetExceeded               admission refused: estimate over a budget (with the numbers)
    ├── ProviderError                a provider call failed (provider, operation, code, message)
    │   ├── TransientProviderError   429/5xx/timeouts: the retry policy may try again
    │   │   └── AmbiguousCreate      the create call may or may not have taken effect
    │   └── PermanentProviderError   4xx/auth/validation: stop
    ├── RunFailed                    the provider refused the job, or the run failed
    ├── RunNotFound                  no run with that id
    ├── StoreError                   the state store cannot be opened or migrated
    │   └── LedgerNotFound           a read-only command found no ledger (and created none)
    ├── LeaseLost                    another scheduler holds the work
    └── AlreadyFired                 the fire key exists: the decision already fired
"""

from __future__ import annotations


class TuneopsError(Exception):
    """Base of every error tuneops raises on purpose; ``exit_code`` is what the CLI returns.

    2 (the README's table): the input needs fixing (an argument, a spec, a name, a credential). Failures
    of the work itself (a provider call, the ledger) are 1; a budget refusal is 3.
    """

    exit_code = 2


class SpecError(TuneopsError):
    """A job spec is invalid: names the file, the field path and the fix."""

    exit_code = 2

    def __init__(self, path: str, problems: list[str]):
        self.path = path
        self.problems = problems
        lines = "\n".join(f"  {p}" for p in problems)
        super().__init__(f"invalid job spec {path}:\n{lines}" if len(problems) > 1 else
                         f"invalid job spec {path}: {problems[0]}")


class DatasetError(TuneopsError):
    """Preflight found errors in a dataset; nothing was uploaded or written."""

    exit_code = 2


class ProviderNotFound(TuneopsError, LookupError):
    """No provider of that name is installed."""

    exit_code = 2

    def __init__(self, name: str, available: list[str], where: str = ""):
        self.name = name
        self.available = available
        loc = f"{where}: " if where else ""
        super().__init__(
            f"{loc}unknown provider {name!r};{did_you_mean(name, available)} installed providers: "
            f"{', '.join(available) or 'none'}. Fix the provider name, or install the plugin that provides it."
        )


def did_you_mean(word: str, choices: list[str]) -> str:
    """`` did you mean 'openai'?`` when one of ``choices`` is close to ``word``, else ''."""
    import difflib

    close = difflib.get_close_matches(word, choices, n=1, cutoff=0.6)
    return f" did you mean {close[0]!r}?" if close else ""


class ProviderUnavailable(TuneopsError):
    """A provider needs an optional dependency that is not installed."""

    exit_code = 2


class MissingCredential(TuneopsError):
    """A credential a provider needs is not set in the environment."""

    exit_code = 2

    def __init__(self, provider: str, variables: list[str], hint: str = ""):
        self.provider = provider
        self.variables = variables
        names = " or ".join(variables)
        extra = f" {hint}" if hint else ""
        super().__init__(
            f"provider {provider!r} needs a credential: set {names} in the environment.{extra} "
            "Nothing was written."
        )


class UnsupportedOperation(TuneopsError):
    """The provider cannot perform the requested operation or express the requested setting."""

    exit_code = 2


class BudgetExceeded(TuneopsError):
    """Admission refused because the estimate would exceed a budget."""

    exit_code = 3


class ProviderError(TuneopsError):
    """A provider call failed; keeps the provider's own code and message."""

    exit_code = 1

    def __init__(self, message: str, *, provider: str = "", operation: str = "",
                 code: str | None = None, status: int | None = None,
                 retry_after: float | None = None):
        self.provider = provider
        self.operation = operation
        self.code = code
        self.status = status
        self.retry_after = retry_after
        where = f"{provider} {operation}: " if provider else ""
        tail = f" [{code}]" if code else ""
        super().__init__(f"{where}{message}{tail}")


class TransientProviderError(ProviderError):
    """A failure worth retrying: rate limit, server error, timeout, connection reset."""


class AmbiguousCreate(TransientProviderError):
    """A create call failed in a way that leaves unknown whether the job exists."""


class PermanentProviderError(ProviderError):
    """A failure that retrying will not fix: bad request, auth, quota, validation."""


class RunNotFound(TuneopsError, LookupError):
    """No run with the given id (or prefix) exists in the ledger."""

    exit_code = 2

    def __init__(self, run_id: str):
        self.run_id = run_id
        super().__init__(f"no run with id {run_id!r}; `tuneops runs list` shows the runs in this ledger")


class RunFailed(TuneopsError):
    """The work itself failed: the provider refused the job, or the run ended failed."""

    exit_code = 1


class StoreError(TuneopsError):
    """The state store cannot be opened, migrated or used."""

    exit_code = 1


class LeaseLost(TuneopsError):
    """Another process holds the lease on this work; stop touching it."""

    exit_code = 1


class AlreadyFired(TuneopsError):
    """A decision with this fire key already fired for the job."""

    exit_code = 1

class LedgerNotFound(StoreError, LookupError):
    """A read-only command found no ledger where it looked; it created none."""

    exit_code = 2

    def __init__(self, where: str):
        self.where = where
        super().__init__(f"no ledger at {where}: nothing has been submitted in this project yet (or run this in "
                         "the project folder, the one holding .tuneops/ or jobs/, or pass --db PATH_OR_URL / set "
                         "TUNEOPS_DATABASE_URL)")
