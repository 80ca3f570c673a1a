"""[serve] retire_replaced_after over random sequences of what users do to aliases (promote to production
or canary, roll back, undeploy by hand): after every step, a model an alias points at is never scheduled
for retirement, a served model no alias points at any more is, and the audit chain still verifies."""

from __future__ import annotations

import json
from contextlib import suppress
from datetime import timedelta
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from tuneops import audit, models
from tuneops.clock import utcnow
from tuneops.errors import TuneopsError
from tuneops.store import open_store
from tuneops.store.eval_tables import AliasRow
from tuneops.store.serving_tables import DeploymentRow
from tuneops.store.tables import ModelRow, RunRow

JOB, HOURS, RUNS = "triage", 2.0, 4
ALIASES = ("production", "canary")

step = st.one_of(
    st.tuples(st.just("promote"), st.integers(0, RUNS - 1), st.sampled_from(ALIASES)),
    st.tuples(st.just("rollback"), st.just(0), st.sampled_from(ALIASES)),
    st.tuples(st.just("undeploy"), st.integers(0, RUNS - 1), st.just("")),
)


def _ledger(path: Path) -> tuple[object, list[int]]:
    """RUNS succeeded runs of one job, each with a model and a live dedicated deployment, submitted with
    ``[serve] retire_replaced_after = HOURS``."""
    store = open_store(str(path))
    now, pks = utcnow(), []
    spec = json.dumps({"name": JOB, "serve": {"mode": "dedicated", "retire_replaced_after": HOURS}})
    with store.write() as s:
        for n in range(RUNS):
            run_id = f"run_{n:04d}"
            s.add(RunRow(id=run_id, idempotency_key=f"k{n}", job_name=JOB, spec_sha256="0" * 64, spec_json=spec,
                         provider="fake", base_model="fake-base", method="sft", state="succeeded",
                         train_sha256="1" * 64, created_at=now, updated_at=now, model_id=f"ft:{n}"))
            s.flush()
            audit.append(s, "run.admitted", "run", run_id, job_name=JOB, details={"provider": "fake"})
            model = ModelRow(provider="fake", provider_model_id=f"ft:{n}", run_id=run_id, job_name=JOB,
                             base_model="fake-base", train_sha256="1" * 64, created_at=now)
            s.add(model)
            s.add(DeploymentRow(id=f"dep_{n:04d}", run_id=run_id, job_name=JOB, provider="fake",
                                provider_model_id=f"ft:{n}", name=f"tuneops-{run_id}", mode="dedicated",
                                state="deployed", created_at=now, updated_at=now, deployed_at=now))
            s.flush()
            pks.append(model.id)
    return store, pks


def _holders(store: object) -> dict[str, int]:
    with store.read() as s:  # type: ignore[attr-defined]
        return {a.name: a.model_pk for a in s.exec(select(AliasRow)).scalars()}


def _live(store: object) -> dict[int, DeploymentRow]:
    """Live deployments by model pk."""
    with store.read() as s:  # type: ignore[attr-defined]
        runs = {m.run_id: m.id for m in s.exec(select(ModelRow)).scalars()}
        return {runs[d.run_id]: d for d in s.exec(select(DeploymentRow)).scalars() if d.state == "deployed"}


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=st.lists(step, min_size=1, max_size=14))
def test_retirement_follows_the_aliases_through_any_sequence_of_moves(
        tmp_path_factory: object, steps: list[tuple[str, int, str]]) -> None:
    store, pks = _ledger(tmp_path_factory.mktemp("retire") / "ledger.db")  # type: ignore[attr-defined]
    retiring: set[int] = set()  # what the rule says: replaced while its new holder was served, not held since
    try:
        for action, n, alias in steps:
            before, at = _holders(store), utcnow()
            if action == "promote":
                models.promote(store, pks[n], alias, reason="walk")  # type: ignore[arg-type]
            elif action == "rollback":
                with suppress(TuneopsError):  # nothing to roll back to: refused, nothing changed
                    models.rollback(store, f"{JOB}@{alias}", reason="walk")  # type: ignore[arg-type]
            else:  # undeployed by hand: nothing serves that model any more
                with store.write() as s:  # type: ignore[attr-defined]
                    dep = s.get(DeploymentRow, f"dep_{n:04d}")
                    dep.state, dep.undeploy_after, dep.undeployed_at = "undeployed", None, utcnow()
                    s.add(dep)
            after, live = _holders(store), _live(store)
            replaced, holder = before.get(alias), after.get(alias)
            if action != "undeploy" and replaced is not None and replaced != holder and \
                    replaced not in after.values() and replaced in live and holder in live:
                retiring.add(replaced)
            retiring = {pk for pk in retiring if pk in live and pk not in after.values()}
            scheduled = {pk for pk, dep in live.items() if dep.undeploy_after is not None}
            assert scheduled == retiring, (action, n, alias)
            for pk in scheduled:  # never before its window is up
                assert live[pk].undeploy_after >= at + timedelta(hours=HOURS) - timedelta(seconds=1)
        assert audit.verify(store).ok  # type: ignore[arg-type]
    finally:
        store.close()  # type: ignore[attr-defined]
