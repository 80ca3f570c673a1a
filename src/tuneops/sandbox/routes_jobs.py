"""``/v1/fine_tuning/jobs`` routes of the sandbox."""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from .jobspec import parse_job_request
from .state import SandboxState
from .wire import cursor_page, int_param, read_json

__all__ = ["routes"]


def _state(request: Request) -> SandboxState:
    return request.app.state.sandbox


def _job_id(request: Request) -> str:
    return request.path_params["fine_tuning_job_id"]


async def create_job(request: Request) -> JSONResponse:
    """Create a fine-tuning job; data problems surface later on the job, not here."""
    job_request = parse_job_request(await read_json(request))
    state = _state(request)
    # Off the event loop: "training" a large file takes a moment.
    job = await run_in_threadpool(state.create_job, job_request)
    return JSONResponse(job.to_api(state.now()))


async def list_jobs(request: Request) -> JSONResponse:
    """Jobs newest first, with ``after``/``limit`` and ``metadata[key]=value`` filters."""
    limit = int_param(request, "limit", 20, low=1, high=100)
    metadata = {
        key[len("metadata[") : -1]: value
        for key, value in request.query_params.multi_items()
        if key.startswith("metadata[") and key.endswith("]")
    }
    state = _state(request)
    now = state.now()
    jobs = state.list_jobs(metadata)
    page = cursor_page(
        jobs,
        after=request.query_params.get("after"),
        limit=limit,
        id_of=lambda j: j.id,
        render=lambda j: j.to_api(now),
    )
    return JSONResponse(page)


async def get_job(request: Request) -> JSONResponse:
    """One job."""
    state = _state(request)
    return JSONResponse(state.get_job(_job_id(request)).to_api(state.now()))


async def cancel_job(request: Request) -> JSONResponse:
    """Cancel a job that has not finished."""
    state = _state(request)
    return JSONResponse(state.cancel_job(_job_id(request)).to_api(state.now()))


async def pause_job(request: Request) -> JSONResponse:
    """Pause a running job."""
    state = _state(request)
    return JSONResponse(state.pause_job(_job_id(request)).to_api(state.now()))


async def resume_job(request: Request) -> JSONResponse:
    """Resume a paused job."""
    state = _state(request)
    return JSONResponse(state.resume_job(_job_id(request)).to_api(state.now()))


async def list_events(request: Request) -> JSONResponse:
    """A job's events, newest first, with ``after``/``limit``."""
    limit = int_param(request, "limit", 20, low=1, high=100)
    state = _state(request)
    events = state.get_job(_job_id(request)).events(state.now())
    page = cursor_page(
        events, after=request.query_params.get("after"), limit=limit, id_of=lambda e: e["id"], render=dict
    )
    return JSONResponse(page)


async def list_checkpoints(request: Request) -> JSONResponse:
    """A job's checkpoints (one per finished epoch), newest first."""
    limit = int_param(request, "limit", 10, low=1, high=100)
    state = _state(request)
    checkpoints = state.get_job(_job_id(request)).checkpoints(state.now())
    page = cursor_page(
        checkpoints,
        after=request.query_params.get("after"),
        limit=limit,
        id_of=lambda c: c["id"],
        render=dict,
    )
    return JSONResponse(page)


_JOB = "/v1/fine_tuning/jobs/{fine_tuning_job_id}"
routes = [
    Route("/v1/fine_tuning/jobs", create_job, methods=["POST"]),
    Route("/v1/fine_tuning/jobs", list_jobs, methods=["GET"]),
    Route(_JOB, get_job, methods=["GET"]),
    Route(f"{_JOB}/cancel", cancel_job, methods=["POST"]),
    Route(f"{_JOB}/pause", pause_job, methods=["POST"]),
    Route(f"{_JOB}/resume", resume_job, methods=["POST"]),
    Route(f"{_JOB}/events", list_events, methods=["GET"]),
    Route(f"{_JOB}/checkpoints", list_checkpoints, methods=["GET"]),
]
