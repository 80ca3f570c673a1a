"""The pricing catalog as a user meets it: `estimate` across the seven providers, `pricing list|show`, and a
budget checked on a third-party price (admitted with a warning) or an unknown one (refused)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tuneops.cli import main

SEVEN = "openai,azure,together,fireworks,vertex,bedrock,mistral"


def _base(spec: Path, base: str) -> Path:
    spec.write_text(spec.read_text().replace('base = "sandbox-mini"', f'base = "{base}"'))
    return spec


@pytest.mark.parametrize("base, priced", [
    ("gpt-4o-mini", {"openai": ("first-party", 3_000_000)}),
    ("gemini-2.5-flash", {"vertex": ("third-party", 5_000_000)}),
    ("meta-llama/Meta-Llama-3.1-8B-Instruct-Reference", {"together": ("third-party", 480_000)}),
    ("accounts/fireworks/models/llama-v3p1-8b-instruct", {"fireworks": ("first-party", 500_000)}),
])
def test_estimate_across_seven_providers_gives_a_price_or_unknown_with_its_reason_confidence_and_source(
        project: Path, capsys: pytest.CaptureFixture[str], base: str, priced: dict) -> None:
    spec = _base(project, base)
    assert main(["estimate", str(spec), "--providers", SEVEN, "--json"]) == 0
    by = {e["provider"]: e for e in json.loads(capsys.readouterr().out)["estimates"]}
    assert list(by) == SEVEN.split(",")
    for provider, e in by.items():
        assert e["price_source"], provider  # every row says where its price comes (or should come) from
        if provider in priced:
            confidence, per_mtok = priced[provider]
            assert (e["confidence"], e["microusd_per_mtok"]) == (confidence, per_mtok)
            assert e["microusd"] is not None and e["microusd"] > 0
        else:
            assert e["microusd"] is None and e["confidence"] is None
            assert "price unknown" in e["note"] or "no catalog entry" in e["note"]  # the reason
    together = by["together"]
    assert together["validation_tokens"] > 0  # the example spec has a validation file: Together bills it

    assert main(["estimate", str(spec), "--providers", SEVEN]) == 0
    out = capsys.readouterr().out
    assert "CONFIDENCE" in out and "party" in out and "price source (" in out  # piped: plain columns
    for provider in SEVEN.split(","):
        assert f"{provider} price source" in out


def test_a_third_party_price_is_admitted_with_a_warning(
        project: Path, tmp_path: Path, sandbox_env: object, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    prices = tmp_path / "prices.toml"
    prices.write_text('[[price]]\nprovider = "sandbox"\nmodel = "*"\nmethod = "*"\nusd_per_mtok = "1.00"\n'
                      'source = "a blog post"\nchecked = "2026-11-01"\nconfidence = "third-party"\n')
    monkeypatch.setenv("TUNEOPS_PRICING", str(prices))
    assert main(["estimate", str(project)]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "warned" in out and "admitted with a warning" in out
    assert main(["submit", str(project), "--json"]) == 0
    captured = capsys.readouterr()
    assert "third-party price" in captured.err and "a blog post" in captured.err
    assert json.loads(captured.out)["state"] in ("submitted", "queued", "running", "validating", "pending")

    prices.write_text(prices.read_text().replace('"1.00"', '"unknown"') + 'note = "nobody knows"\n')
    assert main(["submit", str(project)]) == 3
    assert "is unknown" in capsys.readouterr().err
    assert main(["runs", "list", "--json"]) == 0
    assert len(json.loads(capsys.readouterr().out)) == 1  # the refused one wrote nothing


def test_pricing_list_and_show(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["pricing", "list", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    providers = {r["provider"] for r in rows}
    assert set(SEVEN.split(",")) <= providers
    for r in rows:
        assert r["source"] and r["checked"]
        assert (r["microusd"] is None) == (r["confidence"] is None)
    assert any(r["provider"] == "together" and r["size"] for r in rows)  # size bands
    assert main(["pricing", "list", "--provider", "fireworks"]) == 0
    assert "fireworks" in capsys.readouterr().out

    assert main(["pricing", "show", "openai", "gpt-4o-mini", "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)["prices"]
    assert [(p["method"], p["microusd"]) for p in shown] == [
        ("sft", 3_000_000), ("infer_input", 300_000), ("infer_output", 1_200_000), ("hosting_hour", 0)]
    assert main(["pricing", "show", "azure"]) == 0
    out = capsys.readouterr().out
    assert "unknown" in out and "source:" in out
    assert main(["pricing", "show", "azur"]) == 2


def test_pricing_list_piped_is_one_line_per_price(capsys: pytest.CaptureFixture[str]) -> None:
    # It was a rich table wrapped at 80 columns ("provide/r", "infer_i/nput"): 232 lines for 86 prices.
    assert main(["pricing", "list", "--json"]) == 0
    prices = json.loads(capsys.readouterr().out)
    assert main(["pricing", "list"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["PROVIDER", "MODEL", "METHOD", "SIZE", "PRICE", "CONFIDENCE", "CHECKED"]
    assert len(lines) == 1 + len(prices) and not any(ch in "".join(lines) for ch in "│┃━")
    assert all(len(line.split()) >= 7 for line in lines[1:])  # no empty cell shifts a column
    assert main(["pricing", "list", "--provider", "opnai"]) == 2
    assert "did you mean 'openai'?" in capsys.readouterr().err


def test_estimate_piped_is_one_line_per_provider_and_never_cuts_a_price(project: Path,
                                                                        capsys: pytest.CaptureFixture[str]) -> None:
    text = project.read_text().replace('base = "sandbox-mini"', 'base = "gpt-4o-mini-2024-07-18"')
    project.write_text(text)
    assert main(["estimate", str(project), "--providers", SEVEN]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[1].split() == ["PROVIDER", "EPOCHS", "TRAINED", "TOKENS", "PER", "1M", "ESTIMATE", "CONFIDENCE",
                                "BUDGET"]
    rows = {line.split()[0]: line.split() for line in lines[2:2 + len(SEVEN.split(","))]}
    assert set(rows) == set(SEVEN.split(","))
    from tuneops.economics import format_usd

    assert main(["estimate", str(project), "--providers", "openai", "--json"]) == 0
    openai = json.loads(capsys.readouterr().out)["estimates"][0]
    assert rows["openai"][4] == format_usd(openai["microusd"]) and rows["openai"][-1] == "ok"  # was "$0.1338…"
    assert rows["azure"][-1] == "refused†"
