"""Serving as a lifecycle step: after ``succeeded``, a model whose provider needs a deployment moves
through ``deploying`` -> ``deployed`` (or ``deploy_failed``), and later ``undeploying`` -> ``undeployed``.

Exactly once, like create: the deployment row with its provider-side name (derived from the run id) is
committed before the provider is asked, the adapter creates at most one deployment per name, and a
deploy interrupted between the provider's answer and the ledger write (a crash, a lost response) is
reconciled by ``find_deployment(name)``: adopt what exists, deploy if nothing does.

Money: hosting billed by the hour is never started unless the spec's ``[serve]`` names that mode or
the caller passes ``yes_hourly``, and it counts against ``[budget]`` (see ``tuneops.runs.servepolicy``).
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from tuneops import audit
from tuneops.clock import new_id
from tuneops.errors import BudgetExceeded, ProviderError, TransientProviderError, TuneopsError
from tuneops.owners import takeable
from tuneops.provider import (
    HOURLY_MODES,
    DeploymentStatus,
    DeployRequest,
    ProviderDeployment,
    ServingProvider,
)
from tuneops.retry import call_with_retry
from tuneops.runs import crash
from tuneops.runs.servepolicy import (
    HourlyHostingRefused,
    check_hosting_budget,
    deployment_name,
    hourly_price,
    needs_deployment,
    serve_mode,
)
from tuneops.spec import JobSpec
from tuneops.store import queries
from tuneops.store.queries import deployment_for_run
from tuneops.store.serving_tables import DeploymentRow
from tuneops.store.tables import ModelRow, RunRow

DEPLOY_LEASE = timedelta(minutes=5)
# Deployment states that may still change (sync advances them).
MOVING = ("deploying", "undeploying")
# States in which the provider may hold the deployment (and bill for it).
HELD = ("deploying", "deployed", "undeploying")


@dataclass
class Deployer:
    """Deploys, follows and undeploys runs' models through an Orchestrator's store, pool and policy."""

    orch: Any

    # -- lookups ---------------------------------------------------------------------------------

    def row(self, run_id: str) -> DeploymentRow | None:
        """A run's deployment row, if it ever had one."""
        with self.orch.store.read() as s:
            return deployment_for_run(s, run_id)

    def _serving(self, run: RunRow) -> Any:
        adapter = self.orch.pool.for_run(run)
        if not isinstance(adapter, ServingProvider) or not adapter.capabilities.serve_modes:
            raise TuneopsError(f"{run.provider} serves fine-tuned models directly; run {run.id} needs no deployment")
        return adapter

    # -- deploy ----------------------------------------------------------------------------------

    def deploy(self, run: RunRow, *, mode: str | None = None, capacity: int | None = None,
               yes_hourly: bool = False) -> DeploymentRow:
        """Deploy a succeeded run's model (or carry on an interrupted deploy); idempotent."""
        from tuneops.runs.orchestrator import spec_of

        if run.state != "succeeded" or not run.model_id:
            raise TuneopsError(f"run {run.id} is {run.state}; only a succeeded run's model can be deployed")
        existing = self.row(run.id)
        if existing is not None and existing.state in ("deployed", "deploying", "undeploying"):
            return self.advance(existing)
        spec = spec_of(run)
        adapter = self._serving(run)
        chosen = serve_mode(spec, adapter, mode)
        if chosen is None:
            raise TuneopsError(f"run {run.id}: [serve] mode is none or {run.provider} serves this model directly; "
                               "pass --mode to deploy anyway")
        asked = spec.serve is not None and spec.serve.mode == chosen
        if chosen in HOURLY_MODES and not (asked or yes_hourly):
            raise HourlyHostingRefused(
                f"run {run.id}: {run.provider} {chosen} hosting is billed by the hour until undeployed; "
                f"set [serve] mode = \"{chosen}\" in {run.spec_path} or pass --yes-hourly; nothing was deployed")
        units = capacity or (spec.serve.capacity if spec.serve is not None else 1)
        request = DeployRequest(name=deployment_name(run.id), model_id=run.model_id, mode=chosen,  # type: ignore[arg-type]
                                capacity=units, options=spec.provider_options(),
                                hardware=spec.serve.hardware if spec.serve is not None else None)
        row = self._claim(run, spec, adapter, request)
        if row is None:
            return self.row(run.id)  # type: ignore[return-value]  # another process is deploying it
        return self._create(row, adapter, request)

    def _claim(self, run: RunRow, spec: JobSpec, adapter: Any, request: DeployRequest) -> DeploymentRow | None:
        """Commit the deployment row (derived name, mode, price, budget) before any provider call."""
        now = self.orch.clock()
        hourly = hourly_price(spec, adapter, request)
        hours = spec.serve.auto_undeploy_after if spec.serve is not None else None
        with self.orch.store.write() as s:
            month_start = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
            row = deployment_for_run(s, run.id)
            if row is not None:
                s.refresh(row, with_for_update=True)
                if row.state in HELD or not takeable(row.lease_owner, row.lease_expires_at, now,
                                                     self.orch.identity):
                    return None
            spent = queries.month_spend_microusd(s, month_start)
            committed = check_hosting_budget(spec, run, hourly, hours, spent)
            fresh = row is None
            row = row or DeploymentRow(id=new_id("dep"), run_id=run.id, job_name=run.job_name,
                                       provider=run.provider, provider_model_id=run.model_id or "",
                                       name=request.name, mode=request.mode, state="deploying",
                                       created_at=now, updated_at=now)
            prior = "succeeded" if fresh else row.state
            row.mode, row.capacity, row.state, row.actor = request.mode, request.capacity, "deploying", self.orch.actor
            row.provider_deployment_id = row.endpoint = row.error_message = row.provider_status = None
            # cost_microusd keeps the hosting of earlier deploy cycles of this run; estimate is this one's.
            row.hourly_cost_microusd, row.estimate_microusd = hourly, committed
            row.deployed_at = row.undeployed_at = None
            row.undeploy_after = now + timedelta(hours=hours) if hours else None
            row.lease_owner, row.lease_expires_at, row.updated_at = self.orch.identity, now + DEPLOY_LEASE, now
            s.add(row)
            queries.add_event(s, run.id, "state", f"{prior} -> deploying ({request.mode}, "
                              f"deployment {request.name})")
            audit.append(s, "deployment.requested", "deployment", request.name, job_name=run.job_name,
                         actor=self.orch.actor, at=now, details={
                             "run_id": run.id, "provider": run.provider, "provider_model_id": run.model_id,
                             "deployment": request.name, "mode": request.mode, "capacity": request.capacity,
                             "hourly_cost_microusd": hourly, "estimate_microusd": committed,
                             "undeploy_after": row.undeploy_after.isoformat() if row.undeploy_after else None,
                             "from_state": prior, "to_state": "deploying"})
        crash.point("before-deploy")
        return row

    def _create(self, row: DeploymentRow, adapter: Any, request: DeployRequest, *,
                reconciling: bool = False) -> DeploymentRow:
        try:
            dep = call_with_retry(lambda: adapter.deploy_model(request), policy=self.orch.policy,
                                  on_retry=self.orch._retry_logger(row.run_id, "deploy"))
        except TransientProviderError as exc:
            if reconciling:  # still failing: leave it to the next `tuneops sync` or `tuneops deploy`
                return self._release(row, f"deploy failed again ({exc}); `tuneops sync` will try again")
            # The answer was lost or refused: whether it exists is settled by its name.
            self.orch._event(row.run_id, "error", f"deploy outcome unknown ({exc}); reconciling by name")
            return self._reconcile(row, adapter)
        except (ProviderError, TuneopsError) as exc:
            return self._failed(row, str(exc))
        crash.point("during-deploy")
        return self._record(row.id, dep, "deployment.created")

    def _release(self, row: DeploymentRow, message: str) -> DeploymentRow:
        """Stay ``deploying`` without a lease, so whoever comes next reconciles it by name."""
        with self.orch.store.write() as s:
            current = s.get(DeploymentRow, row.id)
            assert current is not None
            current.lease_owner = current.lease_expires_at = None
            current.updated_at = self.orch.clock()
            s.add(current)
            queries.add_event(s, row.run_id, "error", message)
        return current

    def _reconcile(self, row: DeploymentRow, adapter: Any) -> DeploymentRow:
        """Settle a deploy whose outcome is unknown: adopt the deployment with its name, or deploy."""
        try:
            found = call_with_retry(lambda: adapter.find_deployment(row.name), policy=self.orch.policy,
                                    on_retry=self.orch._retry_logger(row.run_id, "find_deployment"))
        except TransientProviderError as exc:
            return self._release(row, f"could not look deployment {row.name} up ({exc}); `tuneops sync` will")
        if found is not None:
            return self._record(row.id, found, "deployment.reconciled")
        self.orch._event(row.run_id, "note", f"reconcile: no deployment named {row.name}; deploying")
        from tuneops.runs.orchestrator import spec_of

        spec = spec_of(self.orch.get(row.run_id))
        request = DeployRequest(name=row.name, model_id=row.provider_model_id, mode=row.mode,  # type: ignore[arg-type]
                                capacity=row.capacity, options=spec.provider_options(),
                                hardware=spec.serve.hardware if spec.serve is not None else None)
        return self._create(row, adapter, request, reconciling=True)

    # -- follow ----------------------------------------------------------------------------------

    def advance(self, row: DeploymentRow) -> DeploymentRow:
        """Whatever the deployment needs next: reconcile, poll, or finish an undeploy; idempotent."""
        run = self.orch.get(row.run_id)
        if row.state == "deploying" and not row.provider_deployment_id:
            if not takeable(row.lease_owner, row.lease_expires_at, self.orch.clock(), self.orch.identity):
                return row  # its deployer is still at work
            return self._reconcile(row, self._serving(run))
        if row.state == "deploying":
            adapter = self._serving(run)
            dep = call_with_retry(lambda: adapter.get_deployment(row.provider_deployment_id or ""),
                                  policy=self.orch.policy)
            return self._record(row.id, dep, "deployment.status")
        if row.state == "undeploying":
            return self.undeploy(run)
        return row

    def wait(self, run_id: str, *, interval: float = 2.0, timeout: float | None = 1800.0,
             sleep: Callable[[float], Any] = time.sleep) -> DeploymentRow:
        """Advance a run's deployment until it is no longer ``deploying`` (or ``timeout`` passes)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        row = self.row(run_id)
        while row is not None and row.state in MOVING:
            row = self.advance(row)
            if row.state not in MOVING or (deadline is not None and time.monotonic() >= deadline):
                break
            sleep(interval)
        if row is None:
            raise TuneopsError(f"run {run_id} has no deployment; `tuneops deploy {run_id}` starts one")
        return row

    def sync_all(self) -> list[DeploymentRow]:
        """Advance every moving deployment and undeploy those past ``auto_undeploy_after``."""
        from sqlalchemy import or_, select

        now = self.orch.clock()
        with self.orch.store.read() as s:
            rows = list(s.exec(select(DeploymentRow).where(or_(  # type: ignore[call-overload]
                DeploymentRow.state.in_(MOVING),  # type: ignore[attr-defined]
                (DeploymentRow.state == "deployed") & (DeploymentRow.undeploy_after <= now)))).scalars())
        out = []
        for row in rows:
            if row.state == "deployed":
                self.orch._event(row.run_id, "note", f"[serve] auto_undeploy_after reached for {row.name}")
                out.append(self.undeploy(self.orch.get(row.run_id), reason="auto_undeploy_after reached"))
            else:
                out.append(self.advance(row))
        return out

    # -- undeploy --------------------------------------------------------------------------------

    def undeploy(self, run: RunRow, *, reason: str = "") -> DeploymentRow:
        """Delete a run's deployment (its hourly billing stops) and record the hosting it cost."""
        row = self.row(run.id)
        if row is None or row.state == "undeployed":
            raise TuneopsError(f"run {run.id} has no live deployment; nothing to undeploy")
        if row.state == "deploying" and not row.provider_deployment_id:
            row = self.advance(row)  # find out first whether the provider holds one
        adapter = self._serving(run)
        if row.state != "undeploying":
            row = self._move(row, "undeploying", reason or "undeploy requested")
        if row.provider_deployment_id:
            call_with_retry(lambda: adapter.delete_deployment(row.provider_deployment_id or ""),
                            policy=self.orch.policy, on_retry=self.orch._retry_logger(run.id, "undeploy"))
        return self._move(row, "undeployed", reason or "deleted at the provider")

    # -- recording -------------------------------------------------------------------------------

    def _record(self, row_id: str, dep: ProviderDeployment, action: str) -> DeploymentRow:
        """Store what the provider said about the deployment; audit every state change."""
        now = self.orch.clock()
        state = {DeploymentStatus.READY: "deployed", DeploymentStatus.FAILED: "deploy_failed",
                 DeploymentStatus.GONE: "deploy_failed"}.get(dep.status, "deploying")
        with self.orch.store.write() as s:
            row = s.get(DeploymentRow, row_id)
            assert row is not None
            prior, first = row.state, row.provider_deployment_id is None
            row.provider_deployment_id, row.endpoint = dep.provider_deployment_id, dep.endpoint
            row.provider_status, row.updated_at = dep.raw_status, now
            row.raw = audit.redact(json.dumps(dict(dep.raw), default=str))
            if row.hourly_cost_microusd is None:  # a price the spec states wins over the provider's
                row.hourly_cost_microusd = dep.hourly_cost_microusd
            row.lease_owner = row.lease_expires_at = None
            if state == "deploy_failed":
                row.error_message = audit.redact(dep.error_message or f"provider status {dep.raw_status}")
            if state == "deployed":
                row.deployed_at = row.deployed_at or now
                model = s.exec(_model_of(row)).scalars().first()  # type: ignore[call-overload]
                if model is not None:
                    model.provider_deployment_id = dep.provider_deployment_id
                    s.add(model)
            row.state = state
            s.add(row)
            if state == "deploy_failed":
                row.estimate_microusd = None  # nothing serves, so nothing more is committed
            if not first and prior == state:
                return row
            details: dict[str, Any] = {
                "run_id": row.run_id, "provider": row.provider, "deployment": row.name,
                "provider_deployment_id": dep.provider_deployment_id, "endpoint": dep.endpoint, "mode": row.mode,
                "hourly_cost_microusd": row.hourly_cost_microusd, "provider_status": dep.raw_status}
            if first:  # the provider holds it now (created, or found by its name)
                queries.add_event(s, row.run_id, "call", f"deployment {dep.provider_deployment_id} "
                                  f"({'found by name' if action == 'deployment.reconciled' else 'created'})")
                audit.append(s, action, "deployment", row.name, job_name=row.job_name, actor=self.orch.actor,
                             at=now, details=details | {"from_state": prior, "to_state": "deploying"})
            if state != "deploying":
                queries.add_event(s, row.run_id, "state", f"deploying -> {state}: deployment "
                                  f"{dep.provider_deployment_id} ({dep.raw_status})")
                audit.append(s, f"deployment.{state}", "deployment", row.name, job_name=row.job_name,
                             actor=self.orch.actor, at=now, details=details | {
                                 "from_state": "deploying", "to_state": state,
                                 **({"error_message": row.error_message} if state == "deploy_failed" else {})})
        return row

    def _failed(self, row: DeploymentRow, message: str) -> DeploymentRow:
        now = self.orch.clock()
        with self.orch.store.write() as s:
            current = s.get(DeploymentRow, row.id)
            assert current is not None
            current.state, current.error_message = "deploy_failed", audit.redact(message)
            current.lease_owner = current.lease_expires_at = None
            current.estimate_microusd, current.updated_at = None, now  # nothing runs, nothing is committed
            s.add(current)
            queries.add_event(s, row.run_id, "error", f"deploying -> deploy_failed: {message}")
            audit.append(s, "deployment.failed", "deployment", row.name, job_name=row.job_name,
                         actor=self.orch.actor, at=now, details={
                             "run_id": row.run_id, "provider": row.provider, "deployment": row.name,
                             "mode": row.mode, "from_state": "deploying", "to_state": "deploy_failed",
                             "error_message": message[:1000]})
        return current

    def _move(self, row: DeploymentRow, state: str, reason: str) -> DeploymentRow:
        """Undeploying / undeployed, with the hosting cost accrued while it was deployed."""
        now = self.orch.clock()
        with self.orch.store.write() as s:
            current = s.get(DeploymentRow, row.id)
            assert current is not None
            prior = current.state
            current.state, current.updated_at = state, now
            details: dict[str, Any] = {"run_id": row.run_id, "provider": row.provider, "deployment": row.name,
                                       "provider_deployment_id": current.provider_deployment_id,
                                       "from_state": prior, "to_state": state, "reason": reason}
            if state == "undeployed":
                current.undeployed_at = now
                accrued = hosting_cost(current, now)
                if accrued is not None:
                    current.cost_microusd = (current.cost_microusd or 0) + accrued
                current.estimate_microusd = None
                model = s.exec(_model_of(current)).scalars().first()  # type: ignore[call-overload]
                if model is not None and model.provider_deployment_id == current.provider_deployment_id:
                    model.provider_deployment_id = None
                    s.add(model)
                details |= {"cost_microusd": accrued,
                            "hours": round(_hours(current, now), 4)}
            s.add(current)
            queries.add_event(s, row.run_id, "state", f"{prior} -> {state}: {reason}")
            audit.append(s, f"deployment.{state}", "deployment", row.name, job_name=row.job_name,
                         actor=self.orch.actor, at=now, details=details)
        return current


def ensure_served(orch: Any, run: RunRow, *, timeout: float | None = 1800.0,
                  sleep: Callable[[float], Any] = time.sleep) -> str | None:
    """Deploy a succeeded run's model when its provider needs a deployment and wait until it serves.

    Returns None when the model can be called (deployed, or it needs no deployment), else why not.
    """
    from tuneops.runs.orchestrator import spec_of

    deployer = Deployer(orch)
    current = deployer.row(run.id)
    if current is not None and current.state == "deployed":
        return None
    adapter, spec = orch.pool.for_run(run), spec_of(run)
    try:
        mode = serve_mode(spec, adapter)
    except HourlyHostingRefused as exc:
        return str(exc)
    if mode is None:
        if needs_deployment(spec, adapter):
            return (f"{run.provider} answers only through a deployment and [serve] mode is none; "
                    f"`tuneops deploy {run.id}` starts one")
        return None
    try:
        row = deployer.deploy(run)
        if row.state in MOVING:
            row = deployer.wait(run.id, timeout=timeout, sleep=sleep)
    except (HourlyHostingRefused, BudgetExceeded) as exc:
        return str(exc)
    if row.state == "deployed":
        return None
    why = f": {row.error_message}" if row.error_message else ""
    return f"the deployment of run {run.id} is {row.state}{why}; `tuneops deploy {run.id}` retries it"


def _hours(row: DeploymentRow, now: datetime) -> float:
    start = row.deployed_at or row.created_at
    return max(0.0, (min(now, row.undeployed_at or now) - start).total_seconds() / 3600)


def hosting_cost(row: DeploymentRow, now: datetime) -> int | None:
    """Hosting accrued (micro-dollars): hourly price x hours deployed; None when the price is unknown."""
    if row.hourly_cost_microusd is None:
        return None
    return math.ceil(row.hourly_cost_microusd * _hours(row, now))


def _model_of(row: DeploymentRow) -> Any:
    from sqlalchemy import select

    return select(ModelRow).where(ModelRow.run_id == row.run_id)


def serving_endpoint(session: Any, run_id: str) -> str | None:
    """What inference calls a run's model through: its deployment's endpoint while deployed."""
    row = deployment_for_run(session, run_id)
    return row.endpoint if row is not None and row.state == "deployed" else None
