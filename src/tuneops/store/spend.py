"""Money committed in a period, in plain SQL (the budget checks of runs and of the scheduler)."""

from __future__ import annotations

from datetime import datetime

from tuneops.store.sql import Sql


def month_spend_microusd(db: Sql, since: datetime, job: str | None = None) -> int:
    """Money committed since ``since``: actual cost where known, else the estimate, for live runs,
    plus hosting of deployments."""
    sql = ("SELECT COALESCE(SUM(COALESCE(cost_microusd, estimate_microusd, 0)), 0) FROM run "
           "WHERE created_at >= ? AND (state NOT IN ('failed', 'cancelled') OR cost_microusd IS NOT NULL)")
    params: list[object] = [db.time_param(since)]
    if job:
        sql += " AND job_name = ?"
        params.append(job)
    runs = int(db.rows(sql, params)[0][0])
    # Hosting billed by the hour: what live deployments committed plus what undeployed ones accrued.
    hosting = ("SELECT COALESCE(SUM(COALESCE(cost_microusd, 0) + COALESCE(estimate_microusd, 0)), 0) FROM deployment "
               "WHERE created_at >= ?" + (" AND job_name = ?" if job else ""))
    return runs + int(db.rows(hosting, params)[0][0])
