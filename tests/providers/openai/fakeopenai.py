"""A small stateful fake of the OpenAI fine-tuning API behind respx routes, plus fixture helpers.

Shared by the OpenAI and Azure tests (each conftest loads this file as the module ``fakeopenai``).
Responses are built from the JSON fixtures, which a test validates against the SDK's own types.
"""

from __future__ import annotations

import copy
import hashlib
import itertools
import json
import re
import threading
import time
import typing
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pydantic

from tuneops.provider import Provider, RunStatus

OPENAI_FIXTURES = Path(__file__).with_name("fixtures")
TERMINAL = {"succeeded", "failed", "cancelled"}


def load(name: str, directory: Path = OPENAI_FIXTURES) -> Any:
    """A JSON fixture (or the bytes of any other fixture file)."""
    path = directory / name
    return json.loads(path.read_text()) if path.suffix == ".json" else path.read_bytes()


def unexpected_fields(model: type[pydantic.BaseModel], data: Any, where: str = "") -> list[str]:
    """Keys in ``data`` that ``model`` (and its nested models) does not declare: misspellings.

    The SDK's models accept extra keys silently, so ``model_validate`` alone would let a wrong field
    name through; this walks the fixture against ``model_fields`` instead.
    """
    if not isinstance(data, Mapping):
        return []
    fields = model.model_fields
    known = {f.alias or n for n, f in fields.items()} | set(fields)
    found = [f"{where}{k}" for k in data if k not in known]
    for name, info in fields.items():
        value = data.get(info.alias or name)
        if value is not None:
            found += _walk(info.annotation, value, f"{where}{name}.")
    return found


def _walk(annotation: Any, value: Any, where: str) -> list[str]:
    if isinstance(annotation, type) and issubclass(annotation, pydantic.BaseModel):
        return unexpected_fields(annotation, value, where)
    args = typing.get_args(annotation)
    origin = typing.get_origin(annotation)
    if origin in (list, tuple) and isinstance(value, list) and args:
        return [p for i, v in enumerate(value) for p in _walk(args[0], v, f"{where}[{i}].")]
    models = [a for a in args if isinstance(a, type) and issubclass(a, pydantic.BaseModel)]
    if len(models) == 1:  # Optional[Model] / Union[Model, None]
        return _walk(models[0], value, where)
    return [p for a in args if typing.get_origin(a) in (list, tuple) for p in _walk(a, value, where)]


def _multipart(request: httpx.Request) -> dict[str, bytes]:
    ctype = request.headers["content-type"]
    boundary = ctype.split("boundary=", 1)[1].strip('"').encode()
    out: dict[str, bytes] = {}
    for chunk in request.content.split(b"--" + boundary):
        if b"\r\n\r\n" not in chunk:
            continue
        head, body = chunk.split(b"\r\n\r\n", 1)
        name = re.search(rb'name="([^"]+)"', head)
        if name:
            out[name.group(1).decode()] = body[:-2] if body.endswith(b"\r\n") else body
    return out


def error(status: int, message: str = "", code: str | None = None, headers: dict[str, str] | None = None,
          fixtures: Path = OPENAI_FIXTURES) -> httpx.Response:
    """An OpenAI-shaped error response (the fixture for 400/429/500, else a generic body)."""
    fixture = fixtures / f"error_{status}.json"
    if not message and fixture.exists():
        body = load(fixture.name, fixtures)
    else:
        body = {"error": {"message": message or f"HTTP {status}", "type": "invalid_request_error",
                          "param": None, "code": code}}
    return httpx.Response(status, json=body, headers=headers or {})


class FakeOpenAI:
    """Files, Uploads, fine-tuning jobs, models and chat of one OpenAI-compatible base URL."""

    def __init__(self, router: Any, base_url: str, *, fixtures: Path = OPENAI_FIXTURES,
                 expect_auth: Callable[[httpx.Request], bool] = lambda r: "authorization" in r.headers,
                 query: Mapping[str, str] | None = None, chat_path: str = "/chat/completions",
                 page_cap: int = 100, part_delay: float = 0.0, clock: Callable[[], float] = time.time):
        self.base = base_url.rstrip("/")
        self.fixtures = fixtures
        self.expect_auth = expect_auth
        self.query = dict(query or {})
        self.page_cap = page_cap
        self.part_delay = part_delay
        self.clock = clock
        self.files: dict[str, dict[str, Any]] = {}
        self.contents: dict[str, bytes] = {}
        self.uploads: dict[str, dict[str, Any]] = {}
        self.parts: dict[str, tuple[str, bytes]] = {}
        self.jobs: dict[str, dict[str, Any]] = {}
        self.bodies: list[dict[str, Any]] = []  # every create body received
        self.file_statuses: list[str] = []  # statuses a new file reports before "processed" (Azure)
        self.failures: dict[str, list[tuple[int, float | None] | None]] = {}
        self.calls: Counter[str] = Counter()
        self.requests: list[tuple[str, httpx.Request]] = []
        self.max_parallel_parts = 0
        self._active_parts = 0
        self._lock = threading.RLock()
        self._ids = itertools.count(1)
        j = r"/fine_tuning/jobs/(?P<job_id>[^/?]+)"
        for method, pattern, op, handler in (
            ("POST", r"/files", "upload", self._create_file),
            ("GET", r"/files/(?P<file_id>[^/?]+)/content", "result", self._file_content),
            ("GET", r"/files/(?P<file_id>[^/?]+)", "file", self._get_file),
            ("GET", r"/files", "file", self._list_files),
            ("POST", r"/uploads", "upload", self._create_upload),
            ("POST", r"/uploads/(?P<upload_id>[^/?]+)/parts", "upload_part", self._add_part),
            ("POST", r"/uploads/(?P<upload_id>[^/?]+)/complete", "upload_complete", self._complete),
            ("POST", r"/fine_tuning/jobs", "create", self._create_job),
            ("GET", r"/fine_tuning/jobs", "list", self._list_jobs),
            ("GET", j, "get", self._get_job),
            ("POST", j + "/cancel", "cancel", self._control("cancel")),
            ("POST", j + "/pause", "pause", self._control("pause")),
            ("POST", j + "/resume", "resume", self._control("resume")),
            ("GET", j + "/events", "events", self._events),
            ("GET", j + "/checkpoints", "checkpoints", self._checkpoints),
            ("GET", r"/models", "models", self._models),
            ("POST", chat_path, "infer", self._chat),
        ):
            url = rf"^{re.escape(self.base)}{pattern}(\?.*)?$"
            router.route(method=method, url__regex=url).mock(side_effect=self._wrap(op, handler))

    # -- steering --------------------------------------------------------------------------------

    def fail_next(self, operation: str, status: int, retry_after: float | None = None, *,
                  after: int = 0) -> None:
        """Answer the next ``operation`` (after ``after`` successful ones) with ``status``; a 5xx on
        create still creates the job, as a lost answer would."""
        with self._lock:
            self.failures.setdefault(operation, []).extend([None] * after + [(status, retry_after)])

    def set_status(self, job_id: str, raw: str) -> None:
        """Make the job report ``raw`` (succeeded/failed also fill the model / error fields)."""
        with self._lock:
            job = self.jobs[job_id]
            job["status"] = raw
            if raw == "succeeded":
                done = load("job_succeeded.json", self.fixtures)
                rid = self._new("file-result")
                self.contents[rid] = load("result_file.csv", OPENAI_FIXTURES)
                job.update(fine_tuned_model=f"{done['fine_tuned_model']}-{job_id[-4:]}", result_files=[rid],
                           trained_tokens=done["trained_tokens"], finished_at=int(self.clock()))
            elif raw == "failed":
                job.update(error=load("job_failed.json", self.fixtures)["error"], finished_at=int(self.clock()))

    def op_requests(self, operation: str) -> list[httpx.Request]:
        """The requests received for ``operation``, oldest first."""
        return [r for op, r in self.requests if op == operation]

    # -- plumbing --------------------------------------------------------------------------------

    def _new(self, prefix: str) -> str:
        return f"{prefix}-{next(self._ids):06d}"

    def _wrap(self, op: str, handler: Callable[..., httpx.Response]) -> Callable[..., httpx.Response]:
        def side_effect(request: httpx.Request, **params: str) -> httpx.Response:
            with self._lock:
                self.calls[op] += 1
                self.requests.append((op, request))
                queue = self.failures.get(op)
                failure = queue.pop(0) if queue else None
            if not self.expect_auth(request):
                return error(401, "Incorrect API key provided.", "invalid_api_key")
            for k, v in self.query.items():
                if request.url.params.get(k) != v:
                    return error(404, f"Resource not found (expected {k}={v})", "404")
            if failure is None:
                return handler(request, **params)
            status, retry_after = failure
            if op == "create" and status >= 500:
                handler(request, **params)  # the job exists, only the answer is lost: ambiguous
            headers = {"retry-after": f"{retry_after:g}"} if retry_after is not None else {}
            return error(status, headers=headers, fixtures=self.fixtures)

        return side_effect

    def _page(self, items: list[dict[str, Any]], request: httpx.Request, default: int = 20) -> httpx.Response:
        after = request.url.params.get("after")
        limit = min(int(request.url.params.get("limit", default)), self.page_cap)
        ids = [i["id"] for i in items]
        start = ids.index(after) + 1 if after in ids else 0
        page = items[start:start + limit]
        return httpx.Response(200, json={"object": "list", "data": page,
                                         "has_more": start + limit < len(items)})

    # -- files and uploads -----------------------------------------------------------------------

    def _file(self, content: bytes, filename: str, purpose: str) -> dict[str, Any]:
        fid = self._new("file")
        obj = {**load("file.json", self.fixtures), "id": fid, "bytes": len(content), "filename": filename,
               "purpose": purpose, "created_at": int(self.clock())}
        with self._lock:
            self.files[fid] = obj
            self.contents[fid] = content
            obj["_statuses"] = list(self.file_statuses)
            out = self._public_file(obj)
            if obj["_statuses"]:
                obj["_statuses"].pop(0)  # each look at the file moves it one status on
        return out

    def _public_file(self, obj: dict[str, Any]) -> dict[str, Any]:
        out = {k: v for k, v in obj.items() if not k.startswith("_")}
        if obj.get("_statuses"):
            out["status"] = obj["_statuses"][0]
        return out

    def _create_file(self, request: httpx.Request) -> httpx.Response:
        form = _multipart(request)
        name = re.search(rb'filename="([^"]+)"', request.content)
        return httpx.Response(200, json=self._file(form["file"], name.group(1).decode() if name else "upload",
                                                   form["purpose"].decode()))

    def _get_file(self, request: httpx.Request, file_id: str) -> httpx.Response:
        with self._lock:
            obj = self.files.get(file_id)
            if obj is None:
                return error(404, f"No such File object: {file_id}")
            out = self._public_file(obj)
            if obj.get("_statuses"):
                obj["_statuses"].pop(0)
        return httpx.Response(200, json=out)

    def _list_files(self, request: httpx.Request) -> httpx.Response:
        purpose = request.url.params.get("purpose")
        with self._lock:
            items = [self._public_file(o) for o in reversed(self.files.values())
                     if purpose is None or o["purpose"] == purpose]
        return self._page(items, request, default=10000)

    def _file_content(self, request: httpx.Request, file_id: str) -> httpx.Response:
        if file_id not in self.contents:
            return error(404, f"No such File object: {file_id}")
        return httpx.Response(200, content=self.contents[file_id])

    def _create_upload(self, request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        now = int(self.clock())
        up = {**load("upload_pending.json", OPENAI_FIXTURES), "id": self._new("upload"), "bytes": body["bytes"],
              "filename": body["filename"], "purpose": body["purpose"], "created_at": now,
              "expires_at": now + 3600, "_mime": body["mime_type"]}
        with self._lock:
            self.uploads[up["id"]] = up
        return httpx.Response(200, json={k: v for k, v in up.items() if not k.startswith("_")})

    def _add_part(self, request: httpx.Request, upload_id: str) -> httpx.Response:
        up = self.uploads.get(upload_id)
        if up is None or up["status"] != "pending":
            return error(404 if up is None else 400, f"Upload {upload_id} is not pending")
        data = _multipart(request)["data"]
        with self._lock:
            self._active_parts += 1
            self.max_parallel_parts = max(self.max_parallel_parts, self._active_parts)
        time.sleep(self.part_delay)  # lets parallel parts overlap, so the test can see them do so
        with self._lock:
            self._active_parts -= 1
            pid = self._new("part")
            self.parts[pid] = (upload_id, data)
        return httpx.Response(200, json={**load("upload_part.json", OPENAI_FIXTURES), "id": pid,
                                         "upload_id": upload_id, "created_at": int(self.clock())})

    def _complete(self, request: httpx.Request, upload_id: str) -> httpx.Response:
        body = json.loads(request.content)
        up = self.uploads.get(upload_id)
        if up is None or up["status"] != "pending":
            return error(404 if up is None else 400, f"Upload {upload_id} is not pending")
        if any(self.parts.get(p, ("",))[0] != upload_id for p in body["part_ids"]):
            return error(400, "Part does not belong to this upload", "invalid_part")
        content = b"".join(self.parts[p][1] for p in body["part_ids"])
        if len(content) != up["bytes"] or body.get("md5") not in (None, hashlib.md5(content).hexdigest()):
            return error(400, "The parts do not add up to the upload's bytes / md5", "upload_mismatch")
        up["status"] = "completed"
        file = self._file(content, up["filename"], up["purpose"])
        return httpx.Response(200, json={**{k: v for k, v in up.items() if not k.startswith("_")}, "file": file})

    # -- jobs ------------------------------------------------------------------------------------

    def _create_job(self, request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        self.bodies.append(body)
        if body.get("training_file") not in self.files:
            return error(400, f"invalid training_file: {body.get('training_file')}", "invalid_file")
        job = copy.deepcopy(load("job_queued.json", self.fixtures))
        method = body.get("method") or {"type": "supervised", "supervised": {"hyperparameters": {}}}
        job.update(id=self._new("ftjob"), created_at=int(self.clock()), model=body["model"],
                   status="validating_files", training_file=body["training_file"],
                   validation_file=body.get("validation_file"), metadata=body.get("metadata"),
                   seed=body.get("seed", 42), integrations=body.get("integrations") or [], method=method,
                   hyperparameters=method[method["type"]].get("hyperparameters", {}))
        with self._lock:
            self.jobs[job["id"]] = job
        return httpx.Response(200, json=job)

    def _list_jobs(self, request: httpx.Request) -> httpx.Response:
        wanted = {k[9:-1]: v for k, v in request.url.params.multi_items()
                  if k.startswith("metadata[") and k.endswith("]")}
        jobs = [j for j in reversed(self.jobs.values())
                if all((j.get("metadata") or {}).get(k) == v for k, v in wanted.items())]
        return self._page(jobs, request)

    def _get_job(self, request: httpx.Request, job_id: str) -> httpx.Response:
        job = self.jobs.get(job_id)
        return httpx.Response(200, json=job) if job else error(404, f"No such fine-tuning job: {job_id}")

    def _control(self, action: str) -> Callable[..., httpx.Response]:
        allowed = {"cancel": ("validating_files", "queued", "running", "paused"), "pause": ("running",),
                   "resume": ("paused",)}[action]
        after = {"cancel": "cancelled", "pause": "paused", "resume": "running"}[action]

        def handle(request: httpx.Request, job_id: str) -> httpx.Response:
            job = self.jobs.get(job_id)
            if job is None:
                return error(404, f"No such fine-tuning job: {job_id}")
            if job["status"] not in allowed:
                return error(400, f"Job {job_id} is {job['status']} and cannot be {action}ed", "invalid_job_state")
            job["status"] = after
            return httpx.Response(200, json=job)

        return handle

    def _events(self, request: httpx.Request, job_id: str) -> httpx.Response:
        if job_id not in self.jobs:
            return error(404, f"No such fine-tuning job: {job_id}")
        events = [{**e, "id": f"{e['id']}-{job_id}"} for e in load("events_page.json", self.fixtures)["data"]]
        return self._page(events, request)

    def _checkpoints(self, request: httpx.Request, job_id: str) -> httpx.Response:
        if job_id not in self.jobs:
            return error(404, f"No such fine-tuning job: {job_id}")
        cps = [{**c, "fine_tuning_job_id": job_id}
               for c in load("checkpoints_page.json", self.fixtures)["data"]]
        return self._page(cps if self.jobs[job_id]["status"] == "succeeded" else [], request, default=10)

    def _models(self, request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json=load("models_page.json", self.fixtures))

    def _chat(self, request: httpx.Request, **params: str) -> httpx.Response:
        body = json.loads(request.content)
        answer = load("chat_completion.json", self.fixtures)
        return httpx.Response(200, json={**answer, "model": params.get("deployment") or body["model"]})


@dataclass
class RespxHarness:
    """ContractHarness over an adapter wired to a FakeOpenAI."""

    provider: Provider
    api: FakeOpenAI
    raw_statuses: Mapping[str, RunStatus] = field(default_factory=dict)

    def set_status(self, provider_job_id: str, raw_status: str) -> None:
        """Pin the job's raw status."""
        self.api.set_status(provider_job_id, raw_status)

    def fail_next(self, operation: str, http_status: int, *, retry_after: float | None = None) -> None:
        """Queue one failure for ``operation`` (find is a filtered list)."""
        self.api.fail_next({"find": "list"}.get(operation, operation), http_status, retry_after)

    def jobs_created(self) -> int:
        """Jobs the fake holds."""
        return len(self.api.jobs)


def example_request(provider: str, base_model: str = "gpt-4o-mini-2024-07-18", **changes: Any) -> Any:
    """The create request of the example spec (`tuneops init`: support-triage) that every provider's
    golden create body is written for."""
    from dataclasses import replace

    from tuneops.provider import CreateRequest, Hyperparameters, Upload

    request = CreateRequest(
        job_name="support-triage", base_model=base_model, method="sft",
        training=Upload(provider, "a" * 64, "file-train0001", 1843, "aaaaaaaaaaaaaaaa.jsonl"),
        validation=Upload(provider, "b" * 64, "file-valid0001", 377, "bbbbbbbbbbbbbbbb.jsonl"),
        hyperparameters=Hyperparameters(epochs=3, seed=7),
        idempotency_key="tuneops-run_01jd3k5v8m2q4r6t8w0y", suffix="triage", options={})
    return replace(request, **changes)
