"""The library API: `import tuneops` stays light, every name in `tuneops.__all__` is there, and the
examples in tuneops.api's docstrings run as written (doctests) against the sandbox, offline."""

from __future__ import annotations

import doctest
import json
import subprocess
import sys
from pathlib import Path

import pytest

import tuneops

API = ("compare", "estimate", "evaluate", "runs", "submit", "sync", "validate")


def test_every_public_name_resolves_and_the_api_is_exported() -> None:
    assert set(API) <= set(tuneops.__all__)
    for name in tuneops.__all__:
        assert getattr(tuneops, name) is not None, name
    assert all(callable(getattr(tuneops, name)) for name in API)
    assert all(getattr(tuneops, name).__doc__ for name in tuneops.__all__ if name != "__version__")


def test_import_tuneops_loads_no_database_layer_cli_sdk_or_tokenizer() -> None:
    code = ("import sys, json, tuneops; print(json.dumps(sorted({m.split('.')[0] for m in sys.modules} & "
            "{'sqlalchemy', 'sqlmodel', 'alembic', 'typer', 'rich', 'openai', 'tiktoken', 'httpx', 'pydantic'})))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert json.loads(done.stdout) == []


def test_tuneops_runs_is_the_listing_even_after_the_runs_package_is_imported(tmp_path: Path) -> None:
    import tuneops.runs.orchestrator  # sets tuneops.runs to the package: it must still list runs
    from tuneops.errors import LedgerNotFound

    with pytest.raises(LedgerNotFound):
        tuneops.runs(db=str(tmp_path / "none.db"))
    from tuneops.store import open_store

    open_store(str(tmp_path / "ledger.db")).close()
    assert tuneops.runs(db=str(tmp_path / "ledger.db")) == []


def test_the_docstring_examples_run(project: Path, sandbox_env: object, capsys: pytest.CaptureFixture[str]) -> None:
    import tuneops.api

    result = doctest.testmod(tuneops.api, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    out = capsys.readouterr().out
    assert result.failed == 0, out
    assert result.attempted >= 19  # every function's example ran, not just some


def test_a_refused_submit_raises_the_clear_error_and_writes_nothing(project: Path) -> None:
    from tuneops.errors import MissingCredential

    with pytest.raises(MissingCredential, match="OPENAI_API_KEY"):
        tuneops.submit(project, provider="openai")
    from tuneops.store import open_store

    open_store().close()
    assert tuneops.runs() == []
