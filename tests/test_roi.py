"""ROI: the arithmetic against a case worked by hand, unknown prices staying unknown, and `tuneops roi`
on the example project naming every input's source."""

from __future__ import annotations

import json
from dataclasses import replace
from fractions import Fraction
from pathlib import Path

import pytest

from tuneops.cli import main
from tuneops.roi import Economics, compute

# 10,000 requests a month. Base model: 100 measured prompt tokens + 400 of few-shot prefix, 10 out,
# at $0.50 / $1.50 per 1M: 500 x 0.5 + 10 x 1.5 = 265 micro-dollars a request. Fine-tuned: 100 in,
# 2 out at $1.00 / $4.00: 100 + 8 = 108. It is right 10 points more often and a right answer is worth
# $0.01: +1,000. Savings 265 - 108 + 1,000 = 1,157 a request. Spent: $5.00 training + $0.785 evals.
CASE = Economics(requests_per_month=10_000, training_microusd=5_000_000, eval_microusd=785_000,
                 base_tokens_in=Fraction(100), base_tokens_out=Fraction(10), ft_tokens_in=Fraction(100),
                 ft_tokens_out=Fraction(2), replaced_prompt_tokens=400, base_price_in=500_000,
                 base_price_out=1_500_000, ft_price_in=1_000_000, ft_price_out=4_000_000,
                 hosting_microusd_per_hour=0, hosting_hours_per_month=Fraction(730), delta=0.1,
                 value_per_correct_microusd=10_000)


def test_break_even_matches_the_hand_computed_case() -> None:
    v = compute(CASE)
    assert (v.per_request_base, v.per_request_ft, v.value_per_request) == (265, 108, 1000)
    assert v.savings_per_request == 1157
    assert (v.monthly_without, v.monthly_with, v.monthly_savings) == (2_650_000, 1_080_000, 11_570_000)
    assert v.upfront_microusd == 5_785_000
    assert v.break_even_requests == 5000  # 5,785,000 / 1,157 exactly
    assert v.break_even_months == Fraction(1, 2) and v.pays_off is True


def test_hosting_is_paid_every_month_before_anything_is_saved() -> None:
    # $0.01 an hour x 730 hours = $7.30 a month: 11.57 - 7.30 = $4.27 saved a month.
    v = compute(replace(CASE, hosting_microusd_per_hour=10_000))
    assert v.hosting_per_month == 7_300_000 and v.monthly_with == 8_380_000
    assert v.monthly_savings == 4_270_000
    assert v.break_even_requests == 13_549  # ceil(5,785,000 / (1,157 - 730))
    assert v.break_even_months == Fraction(5_785_000, 4_270_000)
    never = compute(replace(CASE, hosting_microusd_per_hour=100_000))  # $73 a month: more than it saves
    assert never.monthly_savings == 11_570_000 - 73_000_000
    assert never.pays_off is False and never.break_even_requests is None


def test_an_unknown_price_makes_what_depends_on_it_unknown_never_zero() -> None:
    v = compute(replace(CASE, base_price_in=None))
    assert v.per_request_base is None and v.savings_per_request is None
    assert v.monthly_without is None and v.monthly_savings is None
    assert v.break_even_requests is None and v.pays_off is None
    assert v.monthly_with == 1_080_000  # the fine-tuned side is still known
    v = compute(replace(CASE, training_microusd=None))
    assert v.upfront_microusd is None and v.break_even_requests is None and v.pays_off is None
    v = compute(replace(CASE, hosting_microusd_per_hour=None))
    assert v.monthly_with is None and v.monthly_savings is None and v.pays_off is None


def test_without_a_price_for_quality_only_costs_count() -> None:
    v = compute(replace(CASE, value_per_correct_microusd=None, delta=None))
    assert v.value_per_request is None and v.savings_per_request == 157


def test_roi_on_the_example_project_prints_break_even_and_every_source(
        project: Path, sandbox_env: object, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["submit", str(project), "--watch", "--json"]) == 0
    capsys.readouterr()
    assert main(["roi", "support-triage", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["alias"] == "support-triage@production"
    sources = {i["name"]: i["source"] for i in data["inputs"]}
    assert all(sources.values())
    assert sources["requests per month"].startswith("spec: ") and "[economics]" in sources["requests per month"]
    assert sources["training cost (USD micro)"].startswith("ledger: run ")
    assert sources["base price in (USD micro / 1M tokens)"].startswith("catalog: ")
    assert sources["fine-tuned tokens per request (in / out)"].startswith("measured: eval ")
    # The sandbox is free: nothing is spent up front, so it pays from the first request.
    assert data["upfront_microusd"] == 0 and data["break_even_requests"] == 0 and data["pays_off"] is True
    assert data["quality"]["delta"] > 0.5 and data["quality"]["ci"][1] >= data["quality"]["delta"]
    assert main(["roi", "support-triage"]) == 0
    text = capsys.readouterr().out
    assert "paid for from the start" in text and "95% CI [" in text and "catalog: tuneops sandbox" in text
    # Both monthly costs are $0 on the free sandbox: the savings are the quality gain's value, and it says so.
    assert "is the quality gain's value" in text


def test_unknown_prices_show_as_unknown_in_the_cli(
        project: Path, sandbox_env: object, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["submit", str(project), "--watch", "--json"]) == 0
    capsys.readouterr()
    # A team's own catalog that knows the sandbox's training price but not its inference prices.
    (tmp_path / "prices.toml").write_text('[[price]]\nprovider = "sandbox"\nmodel = "*"\nmethod = "infer_input"\n'
                                          'usd_per_mtok = "unknown"\nsource = "not agreed yet"\n'
                                          'checked = "2026-12-01"\n')
    import os

    os.environ["TUNEOPS_PRICING"] = str(tmp_path / "prices.toml")
    try:
        assert main(["roi", "support-triage", "--json"]) == 0
        data = json.loads(capsys.readouterr().out)
        assert main(["roi", "support-triage"]) == 0
        text = capsys.readouterr().out
    finally:
        del os.environ["TUNEOPS_PRICING"]
    assert data["monthly_cost_without_microusd"] is None and data["pays_off"] is None
    assert data["savings_per_request_microusd"] is None
    assert "break-even unknown" in text and "$0.00/month" not in text


def test_a_job_without_economics_is_one_clear_error(
        project: Path, sandbox_env: object, capsys: pytest.CaptureFixture[str]) -> None:
    text = project.read_text()
    project.write_text(text[:text.index("\n# What the fine-tune")] + "\n")
    assert main(["submit", str(project), "--watch", "--json", "--no-promote"]) == 0
    capsys.readouterr()
    assert main(["roi", "support-triage"]) == 2
    err = capsys.readouterr().err
    assert "[economics]" in err and "requests_per_month" in err and "Traceback" not in err
