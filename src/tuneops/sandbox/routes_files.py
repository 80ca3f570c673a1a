"""``/v1/files`` and ``/v1/uploads`` routes of the sandbox."""

from __future__ import annotations

from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from .files import parse_ttl
from .state import SandboxState
from .wire import bad_request, cursor_page, int_param, read_json

__all__ = ["routes"]


def _state(request: Request) -> SandboxState:
    return request.app.state.sandbox


async def create_file(request: Request) -> JSONResponse:
    """Store a multipart-uploaded file (fields ``file`` and ``purpose``)."""
    form = await request.form()
    upload = form.get("file")
    if not isinstance(upload, UploadFile):
        raise bad_request("Missing required parameter: 'file'.", param="file", code="missing_required_parameter")
    if form.get("purpose") is None:
        raise bad_request("Missing required parameter: 'purpose'.", param="purpose", code="missing_required_parameter")
    ttl = parse_ttl(form.get("expires_after[anchor]"), form.get("expires_after[seconds]"))
    content = await upload.read()
    record = _state(request).files.create(content, upload.filename or "upload", form.get("purpose"), ttl)
    return JSONResponse(record.to_api())


async def list_files(request: Request) -> JSONResponse:
    """Files, newest first unless ``order=asc``, optionally of one ``purpose``."""
    order = request.query_params.get("order", "desc")
    if order not in ("asc", "desc"):
        raise bad_request("Invalid 'order': expected 'asc' or 'desc'.", param="order")
    limit = int_param(request, "limit", 10000, low=1, high=10000)
    state = _state(request)
    state.refresh()
    records = state.files.list(purpose=request.query_params.get("purpose"), order=order)
    page = cursor_page(
        records,
        after=request.query_params.get("after"),
        limit=limit,
        id_of=lambda f: f.id,
        render=lambda f: f.to_api(),
    )
    return JSONResponse(page)


async def get_file(request: Request) -> JSONResponse:
    """One file's metadata."""
    state = _state(request)
    state.refresh()  # a job's result file appears when the job is first seen finished
    return JSONResponse(state.files.get(request.path_params["file_id"]).to_api())


async def file_content(request: Request) -> Response:
    """A file's bytes."""
    state = _state(request)
    state.refresh()
    record = state.files.get(request.path_params["file_id"])
    media = "text/csv" if record.filename.endswith(".csv") else "application/octet-stream"
    return Response(record.content, media_type=media)


async def delete_file(request: Request) -> JSONResponse:
    """Delete a file."""
    return JSONResponse(_state(request).files.delete(request.path_params["file_id"]))


async def create_upload(request: Request) -> JSONResponse:
    """Start a multi-part Upload."""
    return JSONResponse(_state(request).files.create_upload(await read_json(request)))


async def add_part(request: Request) -> JSONResponse:
    """Add one part (multipart field ``data``) to an Upload."""
    form = await request.form()
    data = form.get("data")
    if not isinstance(data, UploadFile):
        raise bad_request("Missing required parameter: 'data'.", param="data", code="missing_required_parameter")
    part = _state(request).files.add_part(request.path_params["upload_id"], await data.read())
    return JSONResponse(part)


async def complete_upload(request: Request) -> JSONResponse:
    """Assemble an Upload's parts, in the order given, into a File."""
    body = await read_json(request)
    if "part_ids" not in body:
        raise bad_request(
            "Missing required parameter: 'part_ids'.", param="part_ids", code="missing_required_parameter"
        )
    result = _state(request).files.complete_upload(request.path_params["upload_id"], body["part_ids"], body.get("md5"))
    return JSONResponse(result)


async def cancel_upload(request: Request) -> JSONResponse:
    """Cancel a pending Upload."""
    return JSONResponse(_state(request).files.cancel_upload(request.path_params["upload_id"]))


routes = [
    Route("/v1/files", create_file, methods=["POST"]),
    Route("/v1/files", list_files, methods=["GET"]),
    Route("/v1/files/{file_id}", get_file, methods=["GET"]),
    Route("/v1/files/{file_id}", delete_file, methods=["DELETE"]),
    Route("/v1/files/{file_id}/content", file_content, methods=["GET"]),
    Route("/v1/uploads", create_upload, methods=["POST"]),
    Route("/v1/uploads/{upload_id}/parts", add_part, methods=["POST"]),
    Route("/v1/uploads/{upload_id}/complete", complete_upload, methods=["POST"]),
    Route("/v1/uploads/{upload_id}/cancel", cancel_upload, methods=["POST"]),
]
