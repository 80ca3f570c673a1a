"""Triggers and decisions with a fixed clock: each rule, the fire key it names, the cooldown, runs in
flight, keys that already fired, budget exhaustion and cron misfires after downtime."""

from __future__ import annotations

from datetime import datetime, timedelta

from tuneops.scheduler.datafiles import DataChange
from tuneops.scheduler.facts import EvalFact, JobFacts, Memory, ModelFact
from tuneops.scheduler.policy import JobPolicy, RetrainRules
from tuneops.scheduler.triggers import decide, evaluate, with_budget

NOW = datetime(2026, 3, 10, 12, 30)


def policy(**rules: object) -> JobPolicy:
    return JobPolicy(name="triage", path="jobs/triage.toml", provider="sandbox", base_model="sandbox-mini",
                     retrain=RetrainRules(**{"cooldown_hours": 24.0, **rules}), alias="production",  # type: ignore[arg-type]
                     metric="exact_match", train="/data/train.jsonl", eval_set="/data/eval.jsonl")


def model(created: datetime = NOW - timedelta(days=3), shutdown: datetime | None = None) -> ModelFact:
    return ModelFact(7, "sandbox", "ft:sandbox-mini:triage:abc", "run_1", "sandbox-mini", "a" * 64, 300, created,
                     shutdown, "alias")


def facts(p: JobPolicy, **kw: object) -> JobFacts:
    kw.setdefault("memory", Memory(first_seen_at=NOW - timedelta(days=30)))
    return JobFacts(policy=p, **kw)  # type: ignore[arg-type]


def one(p: JobPolicy, **kw: object):  # type: ignore[no-untyped-def]
    f = facts(p, **kw)
    return decide(f, evaluate(f, NOW), NOW)


# -- each rule -------------------------------------------------------------------------------------

def test_eval_below_threshold_fires_once_per_eval() -> None:
    ev = EvalFact("eval_9", "s1", 90, {"exact_match": 0.61}, NOW - timedelta(hours=1))
    d = one(policy(eval_below=0.8, min_eval_examples=50), model=model(), eval=ev, eval_set_sha256="s1")
    assert d.fire and d.rule == "eval" and d.fire_key == "eval:eval_9"
    assert "exact_match 0.6100" in d.reason and "below 0.8000" in d.reason


def test_eval_above_threshold_too_small_or_stale_does_not_fire() -> None:
    p = policy(eval_below=0.8, min_eval_examples=50)
    good = EvalFact("eval_1", "s1", 90, {"exact_match": 0.93}, NOW)
    assert one(p, model=model(), eval=good, eval_set_sha256="s1").code == "eval:ok"
    small = EvalFact("eval_2", "s1", 20, {"exact_match": 0.1}, NOW)
    d = one(p, model=model(), eval=small, eval_set_sha256="s1")
    assert not d.fire and d.code == "eval:small" and "fewer than the 50" in d.reason
    stale = EvalFact("eval_3", "s-old", 90, {"exact_match": 0.1}, NOW)
    f = facts(p, model=model(), eval=stale, eval_set_sha256="s-new")
    [v] = evaluate(f, NOW)
    assert not v.fire and v.needs_eval and v.code == "eval:stale"
    assert one(p).code == "eval:no-model"


def test_new_examples_and_changed_fraction_fire_on_the_data_digest() -> None:
    change = DataChange(examples=340, digest="154-ff", added=40, removed=0, base_examples=300, baseline="snapshot")
    d = one(policy(new_examples=40), model=model(), data=change)
    assert d.fire and d.fire_key == "data:154-ff" and "40 new examples ≥ 40" in d.reason
    assert not one(policy(new_examples=41), model=model(), data=change).fire
    edited = DataChange(300, "12c-01", added=30, removed=30, base_examples=300, baseline="snapshot")
    d = one(policy(changed_fraction=0.2), model=model(), data=edited)
    assert d.fire and "20.0% changed ≥ 20.0%" in d.reason
    assert not one(policy(changed_fraction=0.25), model=model(), data=edited).fire


def test_a_job_without_a_model_trains_when_it_has_enough_data() -> None:
    d = one(policy(new_examples=10), data=DataChange(12, "c-1", 12, 0, 0, "none"))
    assert d.fire and "no model yet and 12 examples" in d.reason
    assert not one(policy(new_examples=50), data=DataChange(12, "c-1", 12, 0, 0, "none")).fire


def test_without_the_snapshot_manifest_new_examples_are_counted() -> None:
    change = DataChange(360, "x", added=60, removed=None, base_examples=300, baseline="count")
    d = one(policy(new_examples=50, changed_fraction=0.5), model=model(), data=change)
    assert d.fire and "by example count" in d.reason and "changed fraction unknown" in d.reason


def test_model_age_fires_once_per_model() -> None:
    old = model(created=NOW - timedelta(days=31))
    d = one(policy(max_age_days=30), model=old)
    assert d.fire and d.fire_key == "age:7" and "31.0 days old" in d.reason
    assert one(policy(max_age_days=30), model=model(created=NOW - timedelta(days=29))).code == "age:young"


def test_base_model_shutdown_within_days_fires_once_per_base_model() -> None:
    soon = model(shutdown=NOW + timedelta(days=10))
    d = one(policy(shutdown_within_days=14), model=soon)
    assert d.fire and d.fire_key == "shutdown:sandbox-mini" and "stops serving on 2026-03-20" in d.reason
    assert one(policy(shutdown_within_days=7), model=soon).code == "shutdown:far"
    assert one(policy(shutdown_within_days=7), model=model()).code == "shutdown:none"


def test_cron_fires_at_each_slot_once() -> None:
    p = policy(cron="0 * * * *")
    d = one(p)  # seen a month ago, never fired: the 12:00 slot is due
    assert d.fire and d.fire_key == "cron:2026-03-10T12:00Z"
    fired_at = Memory(first_seen_at=NOW - timedelta(days=30), last_fired_at=datetime(2026, 3, 10, 12, 1))
    d = one(p, memory=fired_at)
    assert not d.fire and d.code == "cron:wait" and "next slot 2026-03-10 13:00" in d.reason


def test_a_job_seen_for_the_first_time_waits_for_its_next_cron_slot() -> None:
    d = one(policy(cron="0 * * * *"), memory=None)
    assert not d.fire and d.code == "cron:wait"


# -- misfires after downtime -------------------------------------------------------------------------

def test_missed_cron_slots_coalesce_into_one_catch_up_fire() -> None:
    p = policy(cron="0 * * * *", cooldown_hours=0)
    down = Memory(first_seen_at=NOW - timedelta(days=30), last_fired_at=datetime(2026, 3, 10, 5, 0, 30))
    d = one(p, memory=down)
    assert d.fire and d.fire_key == "cron:2026-03-10T12:00Z"  # only the latest slot: one run
    assert "one catch-up run for 7 missed slot(s) since 2026-03-10 05:00" in d.reason
    after = Memory(first_seen_at=down.first_seen_at, last_fired_at=NOW, last_cron_slot=datetime(2026, 3, 10, 12))
    assert not one(p, memory=after).fire


def test_misfire_skip_drops_a_slot_missed_beyond_the_grace_period() -> None:
    late = datetime(2026, 3, 10, 14, 30)  # the 12:00 daily slot is 2.5 h old
    p = policy(cron="0 12 * * *", misfire="skip", misfire_grace_minutes=60)
    f = facts(p, memory=Memory(first_seen_at=NOW - timedelta(days=3), last_fired_at=NOW - timedelta(days=2)))
    d = decide(f, evaluate(f, late), late)
    assert not d.fire and d.code == "cron:missed" and "next slot 2026-03-11 12:00" in d.reason
    on_time = datetime(2026, 3, 10, 12, 20)
    assert decide(f, evaluate(f, on_time), on_time).fire


# -- gates -------------------------------------------------------------------------------------------

def test_cooldown_holds_a_firing_trigger_back() -> None:
    p = policy(max_age_days=1, cooldown_hours=24)
    recent = Memory(first_seen_at=NOW - timedelta(days=30), last_fired_at=NOW - timedelta(hours=5))
    d = one(p, model=model(created=NOW - timedelta(days=2)), memory=recent)
    assert not d.fire and d.gate == "cooldown" and "cooling down until 2026-03-11 07:30" in d.reason
    later = Memory(first_seen_at=recent.first_seen_at, last_fired_at=NOW - timedelta(hours=25))
    assert one(p, model=model(created=NOW - timedelta(days=2)), memory=later).fire


def test_runs_in_flight_hold_a_retrain_back() -> None:
    d = one(policy(max_age_days=1), model=model(), in_flight=("run_42",))
    assert not d.fire and d.gate == "in-flight" and "run_42 not finished" in d.reason


def test_a_key_that_already_fired_does_not_fire_again_but_the_next_rule_may() -> None:
    p = policy(eval_below=0.8, max_age_days=1)
    ev = EvalFact("eval_9", "s1", 90, {"exact_match": 0.5}, NOW)
    f = facts(p, model=model(), eval=ev, eval_set_sha256="s1")
    d = decide(f, evaluate(f, NOW), NOW, fired={"eval:eval_9"})
    assert d.fire and d.fire_key == "age:7"
    d = decide(f, evaluate(f, NOW), NOW, fired={"eval:eval_9", "age:7"})
    assert not d.fire and "already fired as eval:eval_9" in d.reason and "eval:below/fired" in d.code


def test_budget_exhaustion_holds_back_until_the_month_has_room() -> None:
    d = one(policy(max_age_days=1), model=model())
    assert d.fire
    held = with_budget(d, 30_000_000, 180_000_000, 200_000_000, None)
    assert not held.fire and held.gate == "budget" and held.code == "budget:month:age"
    assert "$180.00 spent this month + estimated $30.00 is over budget.per_month_usd $200.00" in held.reason
    assert with_budget(d, 20_000_000, 180_000_000, 200_000_000, None).fire
    over_run = with_budget(d, 30_000_000, 0, None, 25_000_000)
    assert not over_run.fire and "budget.per_run_usd $25.00" in over_run.reason
    unknown = with_budget(d, None, 0, 200_000_000, None)
    assert not unknown.fire and "price is unknown" in unknown.reason
    assert with_budget(d, None, 0, None, None).fire  # no budget, nothing to check


def test_broken_specs_and_missing_policies_are_skips_with_reasons() -> None:
    broken = JobPolicy(name="x", path="jobs/x.toml", error="jobs/x.toml: line 3: model.base: required")
    assert decide(JobFacts(policy=broken), (), NOW).code == "spec:invalid"
    none = JobPolicy(name="y", path="jobs/y.toml", provider="sandbox")
    assert decide(JobFacts(policy=none), (), NOW).code == "no-policy"
