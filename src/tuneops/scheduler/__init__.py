"""The retrain scheduler: facts (pure inputs), triggers (pure), and ticks that fire each decision once.

::

    policy.py      jobs/*.toml -> JobPolicy (cached by file stat: thousands of specs per tick)
    facts.py       ledger + data/eval files -> JobFacts, with a few set-based queries
    datafiles.py   training file vs. the model's snapshot (snapshot cache manifests), O(new data)
    triggers.py    CronTrigger, EvalScoreTrigger, DataFreshnessTrigger, ModelAgeTrigger,
                   BaseShutdownTrigger; decide (in flight, cooldown) and with_budget
    journal.py     decisions recorded (skips rate-limited) as audit events
    leases.py      fire leases and named leases, FOR UPDATE SKIP LOCKED, LeaseKeeper
    work.py        fire once -> admit/submit runs -> after success: evaluate, promote, notify
    tick.py        one pass; plan.py: the same without writing; loop.py: `schedule run`
    notify.py      webhooks on fire, success, failure, promotion and refusal
"""

from __future__ import annotations
