"""Economics: integer micro-dollars, sourced prices or "unknown", epoch rules, budgets with the numbers."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tuneops import economics
from tuneops.cli import main
from tuneops.economics import (
    Estimate,
    actual_cost,
    check_budget,
    estimate,
    format_usd,
    openai_auto_epochs,
    parse_usd,
)
from tuneops.errors import BudgetExceeded, TuneopsError
from tuneops.spec import JobSpec


def spec(provider: str = "sandbox", epochs: int | str = "auto", *, base: str = "gpt-4o-mini-2024-07-18",
         method: str = "sft", options: dict | None = None, **budget: float) -> JobSpec:
    return JobSpec.model_validate({"name": "triage", "method": method, "model": {"provider": provider, "base": base},
                                   "data": {"train": "t.jsonl"}, "hyperparameters": {"epochs": epochs},
                                   "options": options or {}, "budget": budget})


@pytest.fixture
def priced(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A user pricing file that gives OpenAI a (made-up, test-only) price of $3.00 per 1M tokens."""
    path = tmp_path / "pricing.toml"
    path.write_text('[[price]]\nprovider = "openai"\nmodel = "gpt-4o-mini*"\nmethod = "sft"\n'
                    'usd_per_mtok = "3.00"\nsource = "test fixture"\nchecked = "2026-11-23"\n')
    monkeypatch.setenv("TUNEOPS_PRICING", str(path))
    return path


def test_money_is_integer_microdollars() -> None:
    assert parse_usd("3.00") == 3_000_000
    assert parse_usd("0.1") == 100_000  # exact: no binary-float drift
    assert parse_usd(0.1) == 100_000
    assert parse_usd("unknown") is None
    with pytest.raises(TuneopsError):
        parse_usd("cheap")
    with pytest.raises(TuneopsError):
        parse_usd("-1")
    assert format_usd(1_500_000) == "$1.50"
    assert format_usd(123) == "$0.000123"
    assert format_usd(1_234_567_890) == "$1,234.56789"
    assert format_usd(None) == "unknown"


def test_sandbox_is_free_and_unsourced_prices_are_unknown() -> None:
    est = estimate(spec("sandbox"), tokens=100_000, examples=200, provider="sandbox")
    assert (est.epochs, est.trained_tokens, est.microusd) == (3, 300_000, 0)
    # gpt-4o-mini has a first-party price at OpenAI only; elsewhere it is unknown, with the reason
    for provider in ("azure", "together", "fireworks", "mistral", "vertex", "bedrock"):
        est = estimate(spec(provider), tokens=100_000, examples=200, provider=provider)
        assert est.microusd is None and "price unknown" in est.note and est.confidence is None, provider
        assert est.price_source  # even an unknown price says where it should come from
    for p in economics.catalog():  # the built-in catalog never carries a price without a source and date
        assert p.source and p.checked
        if p.microusd_per_mtok is None:
            assert p.note, p  # an unknown price says why
        else:
            assert p.confidence in ("first-party", "third-party")


def test_openai_prices_are_first_party_and_dpo_is_marked_as_inferred() -> None:
    est = estimate(spec("openai", epochs=3), tokens=1_000_000, examples=1000, provider="openai")
    assert (est.microusd, est.confidence) == (9_000_000, "first-party")  # 3M trained tokens x $3.00
    assert "developers.openai.com" in (est.price_source or "")
    dpo = estimate(spec("openai", method="dpo", epochs=1), tokens=1_000_000, examples=1000, provider="openai")
    assert (dpo.microusd, dpo.confidence) == (3_000_000, "third-party")
    alias = estimate(spec("openai", base="gpt-4o-mini", epochs=1), 1_000_000, 1000, "openai")
    assert alias.microusd == 3_000_000  # the alias finds the dated model's price
    assert estimate(spec("openai", base="gpt-4.1-2025-04-14", epochs=1), 1_000_000, 1000, "openai").microusd \
        == 25_000_000
    assert "not a base model tuneops lists for openai" in estimate(spec("openai", base="sandbox-mini"), 1, 1,
                                                                   "openai").note


def test_size_banded_prices_follow_the_base_models_size_and_training_type() -> None:
    llama8 = "meta-llama/Meta-Llama-3.1-8B-Instruct-Reference"
    est = estimate(spec("together", base=llama8, epochs=1), 1_000_000, 1000, "together")
    assert (est.microusd, est.confidence) == (480_000, "third-party")
    full = spec("together", base=llama8, epochs=1, options={"together": {"training_type": "full"}})
    assert estimate(full, 1_000_000, 1000, "together").microusd == 540_000
    est = estimate(spec("together", base="Qwen/Qwen2.5-72B-Instruct", epochs=1), 1_000_000, 1000, "together")
    assert est.microusd == 2_900_000  # the 70-100B band
    unknown = estimate(spec("together", base="some/new-model", epochs=1), 1_000_000, 1000, "together")
    assert unknown.microusd is None and "size" in unknown.note
    fw = estimate(spec("fireworks", base="llama-v3p1-8b-instruct", epochs=2), 1_000_000, 1000, "fireworks")
    assert (fw.microusd, fw.confidence) == (1_000_000, "first-party")


def test_together_bills_its_validation_tokens_too() -> None:
    llama8 = "meta-llama/Meta-Llama-3.1-8B-Instruct-Reference"
    job = spec("together", base=llama8, epochs=2)
    est = estimate(job, 1_000_000, 1000, "together", validation_tokens=100_000)
    assert (est.trained_tokens, est.validation_tokens) == (2_100_000, 100_000)  # 2 epochs + 1 evaluation
    assert est.microusd == 1_008_000 and "validation tokens" in est.note
    three = spec("together", base=llama8, epochs=2, options={"together": {"n_evals": 3}})
    assert estimate(three, 1_000_000, 1000, "together", validation_tokens=100_000).trained_tokens == 2_300_000
    # other providers bill training tokens only
    assert estimate(spec("openai", epochs=2), 1_000_000, 1000, "openai", validation_tokens=100_000).trained_tokens \
        == 2_000_000


def test_a_third_party_price_passes_the_budget_with_a_warning_and_an_unknown_one_refuses() -> None:
    job = spec("vertex", base="gemini-2.5-flash", epochs=1, per_run_usd=10.0)
    est = estimate(job, 1_000_000, 1000, "vertex")  # $5.00, third-party
    warning = check_budget(job, est, 0)
    assert warning and "third-party" in warning and "$5.00" in warning
    assert check_budget(spec("openai", epochs=1, per_run_usd=10.0),
                        estimate(spec("openai", epochs=1), 1_000_000, 1000, "openai"), 0) is None
    with pytest.raises(BudgetExceeded, match="unknown"):
        check_budget(spec("bedrock", per_run_usd=10.0), estimate(spec("bedrock"), 1000, 100, "bedrock"), 0)
    over = spec("vertex", base="gemini-2.5-flash", epochs=1, per_run_usd=1.0)
    with pytest.raises(BudgetExceeded, match="over budget"):
        check_budget(over, estimate(over, 1_000_000, 1000, "vertex"), 0)


def test_hosting_and_inference_prices_are_separate_from_training() -> None:
    assert estimate(spec("openai"), 1, 1, "openai").hosting_microusd_per_hour == 0
    azure = estimate(spec("azure"), 1, 1, "azure")
    assert azure.hosting_microusd_per_hour is None and "example" in azure.hosting_note
    from tuneops.evals.pricing import inference_cost

    assert inference_cost("openai", "gpt-4o-mini-2024-07-18", 1_000_000, 1_000_000) == 1_500_000
    assert inference_cost("together", "meta-llama/Meta-Llama-3.1-8B-Instruct-Reference", 1, 1) is None


def test_epoch_rules_per_provider() -> None:
    assert [openai_auto_epochs(n) for n in (5, 50, 1_000, 20_000)] == [20, 3, 3, 1]
    assert estimate(spec(), 1000, 5, "openai").epochs == 20  # the cookbook's 5-example case
    assert estimate(spec(), 1000, 50, "together").epochs == 1
    est = estimate(spec(epochs=4), 1000, 50, "vertex")
    assert (est.epochs, est.epochs_rule) == (4, "set in the spec")
    assumed = estimate(spec(), 1000, 50, "vertex")
    assert assumed.epochs == 1 and "assumed" in assumed.epochs_rule and "epochs assumed" in assumed.note


def test_user_prices_override_the_catalog_and_round_up(priced: Path) -> None:
    est = estimate(spec("openai"), tokens=1_000_001, examples=1000, provider="openai")
    assert est.trained_tokens == 3_000_003
    assert est.microusd == 9_000_009  # 3,000,003 tokens x $3.00/1M = $9.000009
    assert est.price_source == "test fixture (checked 2026-11-23)"
    assert actual_cost("openai", "gpt-4o-mini-2024-07-18", "sft", 1) == 3  # ceil(0.000003 x 1e6)
    assert actual_cost("openai", "gpt-4o-mini-2024-07-18", "dpo", 1000) == 3000  # the built-in dpo price
    assert actual_cost("openai", "gpt-4o-mini-2024-07-18", "sft", None) is None


def test_check_budget_refuses_with_the_numbers(priced: Path) -> None:
    job = spec("openai", per_run_usd=5.0)
    est = estimate(job, tokens=1_000_000, examples=1000, provider="openai")  # 3 epochs -> $9.00
    with pytest.raises(BudgetExceeded) as info:
        check_budget(job, est, month_spent_microusd=0)
    msg = str(info.value)
    assert "$9.00" in msg and "$5.00" in msg and "3,000,000 trained tokens" in msg and "per_run_usd" in msg
    check_budget(spec("openai", per_run_usd=10.0), est, month_spent_microusd=0)


def test_monthly_budget_counts_what_was_spent(priced: Path) -> None:
    job = spec("openai", per_month_usd=20.0)
    est = estimate(job, tokens=1_000_000, examples=1000, provider="openai")  # $9.00
    check_budget(job, est, month_spent_microusd=11_000_000)  # $20.00 exactly: allowed
    with pytest.raises(BudgetExceeded, match=r"\$11.000001 spent this month is \$20.000001"):
        check_budget(job, est, month_spent_microusd=11_000_001)


def test_unknown_price_with_a_budget_is_refused_and_without_one_is_allowed() -> None:
    est = estimate(spec("azure"), tokens=1000, examples=100, provider="azure")
    check_budget(spec("azure"), est, 0)
    with pytest.raises(BudgetExceeded, match=r"price of azure .* is unknown"):
        check_budget(spec("azure", per_run_usd=100.0), est, 0)


def test_budget_exceeded_is_a_user_error_with_its_own_exit_code() -> None:
    est = Estimate("sandbox", "m", "sft", 10, 1, "x", 10, 2_000_000, "s")
    with pytest.raises(BudgetExceeded) as info:
        check_budget(spec(per_run_usd=1.0), est, 0)
    assert info.value.exit_code == 3


def test_broken_pricing_file_names_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    bad = tmp_path / "pricing.toml"
    bad.write_text('[[price]]\nprovider = "openai"\nusd_per_mtok = "lots"\n')
    monkeypatch.setenv("TUNEOPS_PRICING", str(bad))
    with pytest.raises(TuneopsError, match=r"pricing\.toml: price #1"):
        economics.catalog()


def test_estimate_command_compares_providers(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "t.jsonl").write_text("".join(json.dumps({"messages": [
        {"role": "user", "content": f"ticket {i}"}, {"role": "assistant", "content": "billing"}]}) + "\n"
        for i in range(20)))
    spec_path = tmp_path / "job.toml"
    spec_path.write_text('name = "job"\n[model]\nprovider = "sandbox"\nbase = "gpt-3.5-turbo-0125"\n'
                         '[data]\ntrain = "t.jsonl"\n[budget]\nper_run_usd = 1.0\n')
    assert main(["estimate", str(spec_path), "--providers", "sandbox,openai,vertex"]) == 0
    out = capsys.readouterr().out
    assert "sandbox" in out and "openai" in out and "vertex" in out and "unknown" in out
    assert "refused" in out and "this price is unknown" in out
    assert main(["estimate", str(spec_path), "--providers", "sandbox,openai", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    by = {e["provider"]: e for e in data["estimates"]}
    assert by["sandbox"]["microusd"] == 0 and by["openai"]["microusd"] == 12_000  # gpt-3.5-turbo at $8.00/1M
    assert by["openai"]["confidence"] == "first-party"
    assert by["openai"]["epochs"] == openai_auto_epochs(20)
    assert by["sandbox"]["trained_tokens"] == data["tokens"] * 3
