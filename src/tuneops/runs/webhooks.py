"""Receiving OpenAI fine-tuning webhooks: verify the signature, find the run, advance it once.

A webhook only makes a run sync sooner; polling (`tuneops sync`, `tuneops runs watch`) stays the
safety net, so anything this receiver cannot place (an unknown job id, another event type) is
acknowledged and logged rather than refused. Signatures follow Standard Webhooks and are checked by
the openai SDK (``client.webhooks.verify_signature``) with the signing secret from
``OPENAI_WEBHOOK_SECRET``. Each delivery is recorded as a run event keyed by its ``webhook-id``, so
a redelivered message is processed once.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import logging
import os
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from tuneops.clock import utcnow
from tuneops.errors import MissingCredential, TuneopsError
from tuneops.store import Store, queries

if TYPE_CHECKING:
    from starlette.applications import Starlette

    from tuneops.store.tables import RunRow

SECRET_ENV = "OPENAI_WEBHOOK_SECRET"
WEBHOOK_PATH = "/webhooks/openai"
FINE_TUNING_EVENTS = frozenset({"fine_tuning.job.succeeded", "fine_tuning.job.failed",
                                "fine_tuning.job.cancelled"})
TOLERANCE_S = 300
# Fine-tuning events are a few hundred bytes; anything far larger is not one of them.
MAX_BODY_BYTES = 1 << 20

log = logging.getLogger("tuneops.runs.webhooks")

SyncFn = Callable[["RunRow"], Any]


@dataclass(frozen=True)
class Delivery:
    """What became of one delivery: the HTTP status to answer and what was done."""

    status: int
    outcome: str  # synced | duplicate | unknown_job | ignored | rejected | failed
    run_id: str | None = None
    state: str | None = None
    detail: str = ""

    def body(self) -> dict[str, Any]:
        """The JSON body of the answer."""
        return {k: v for k, v in asdict(self).items() if k != "status" and v not in (None, "")}


def delivery_key(webhook_id: str) -> str:
    """The run event id that marks a delivery as processed (fits provider_event_id's 256 characters)."""
    key = f"webhook:{webhook_id}"
    return key if len(key) <= 256 else f"webhook:sha256:{hashlib.sha256(webhook_id.encode()).hexdigest()}"


def _check_secret(secret: str) -> None:
    if secret.startswith("whsec_"):
        try:
            base64.b64decode(secret[len("whsec_"):], validate=True)
        except (binascii.Error, ValueError):
            raise TuneopsError(f"{SECRET_ENV} starts with whsec_ but the rest is not base64; copy the "
                               "signing secret of the webhook endpoint again") from None


class WebhookReceiver:
    """Verifies OpenAI webhook deliveries and advances the run each one names, once per delivery."""

    def __init__(self, store: Store, *, secret: str | None = None, sync: SyncFn | None = None,
                 providers: Sequence[str] = ("openai",), tolerance: int = TOLERANCE_S,
                 env: Mapping[str, str] | None = None):
        secret = secret or (os.environ if env is None else env).get(SECRET_ENV)
        if not secret:
            raise MissingCredential("openai", [SECRET_ENV], hint="It is the signing secret (whsec_...) "
                                    "shown when the webhook endpoint was created.")
        _check_secret(secret)
        from openai import OpenAI

        # The client is only used to verify signatures: it never calls the API, so it needs no key.
        self._webhooks = OpenAI(api_key="unused-for-webhook-verification", max_retries=0).webhooks
        self._secret = secret
        self.store = store
        self.providers = tuple(providers)
        self.tolerance = tolerance
        self._close: Callable[[], None] | None = None
        if sync is None:
            from tuneops.runs.orchestrator import Orchestrator

            orchestrator = Orchestrator(store)
            sync, self._close = orchestrator.advance, orchestrator.pool.close
        self.sync = sync
        # One delivery at a time: a redelivery racing the first waits, then finds it recorded.
        self._lock = threading.Lock()

    def close(self) -> None:
        """Close the provider adapters of the default orchestrator."""
        if self._close is not None:
            self._close()

    def handle(self, body: bytes, headers: Mapping[str, str]) -> Delivery:
        """Verify one delivery and act on it; never raises for anything a sender can cause."""
        from openai import InvalidWebhookSignatureError

        if len(body) > MAX_BODY_BYTES:
            return Delivery(413, "rejected", detail=f"payload over {MAX_BODY_BYTES} bytes")
        try:
            self._webhooks.verify_signature(body, headers, secret=self._secret, tolerance=self.tolerance)
        except (InvalidWebhookSignatureError, ValueError) as exc:
            log.warning("rejected a webhook delivery: %s", exc)
            return Delivery(400, "rejected", detail=str(exc))
        webhook_id = next(v for k, v in headers.items() if k.lower() == "webhook-id")
        try:
            event = json.loads(body)
            event_type = str(event["type"])
            job_id = str(event["data"]["id"]) if event_type in FINE_TUNING_EVENTS else ""
        except (ValueError, KeyError, TypeError):
            log.warning("webhook %s: signed but malformed payload", webhook_id)
            return Delivery(400, "rejected", detail="malformed payload: expected {type, data: {id}}")
        if event_type not in FINE_TUNING_EVENTS:
            log.info("webhook %s: ignored event type %s", webhook_id, event_type)
            return Delivery(200, "ignored", detail=event_type)
        with self._lock:
            return self._deliver(webhook_id, event, event_type, job_id)

    def _deliver(self, webhook_id: str, event: dict[str, Any], event_type: str, job_id: str) -> Delivery:
        key = delivery_key(webhook_id)
        received_at = utcnow()
        with self.store.read() as s:
            run = queries.run_by_provider_job(s, self.providers, job_id)
            if run is None:
                log.info("webhook %s: %s for job %s, which no run in this ledger knows; acknowledged",
                         webhook_id, event_type, job_id)
                return Delivery(200, "unknown_job", detail=job_id)
            if queries.has_provider_event(s, run.id, key):
                log.info("webhook %s: already processed for run %s", webhook_id, run.id)
                return Delivery(200, "duplicate", run.id, run.state)
        try:
            after = self.sync(run)
        except Exception as exc:
            # Not recorded as processed, and a non-2xx answer makes the sender deliver it again.
            log.warning("webhook %s: syncing run %s failed: %s", webhook_id, run.id, exc,
                        exc_info=not isinstance(exc, TuneopsError))
            self._note_failure(run.id, event_type, webhook_id, exc)
            return Delivery(503, "failed", run.id, run.state, detail=str(exc)[:500])
        with self.store.write() as s:
            # Recorded after the sync so a failed sync is retried; a crash in between costs one
            # extra sync of the redelivery, which advance() makes harmless.
            added = queries.add_event(s, run.id, "provider", f"webhook {event_type} received; run synced",
                                      provider_event_id=key, at=received_at,
                                      data={"webhook_id": webhook_id, "event_id": event.get("id"),
                                            "type": event_type, "created_at": event.get("created_at"),
                                            "provider_job_id": job_id})
            state = getattr(after, "state", None) or queries.get_run(s, run.id).state
        log.info("webhook %s: %s for run %s (job %s): now %s%s", webhook_id, event_type, run.id, job_id,
                 state, "" if added else " (a concurrent delivery recorded it first)")
        return Delivery(200, "synced", run.id, state)

    def _note_failure(self, run_id: str, event_type: str, webhook_id: str, exc: Exception) -> None:
        try:
            with self.store.write() as s:
                queries.add_event(s, run_id, "error", f"webhook {event_type} ({webhook_id}): sync failed "
                                  f"({exc}); the provider will deliver it again")
        except Exception:  # the ledger itself may be what failed; the log line above still says it
            log.warning("webhook %s: could not record the failure for run %s", webhook_id, run_id)


def create_app(receiver: WebhookReceiver) -> Starlette:
    """The ASGI app: POST /webhooks/openai for deliveries, GET /healthz for load balancers."""
    from starlette.applications import Starlette
    from starlette.concurrency import run_in_threadpool
    from starlette.requests import Request
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    async def receive(request: Request) -> JSONResponse:
        declared = request.headers.get("content-length", "0")
        if declared.isdigit() and int(declared) > MAX_BODY_BYTES:
            return JSONResponse({"outcome": "rejected", "detail": "payload too large"}, status_code=413)
        body = await request.body()
        # Syncing calls the provider and the ledger, both blocking: keep them off the event loop.
        delivery = await run_in_threadpool(receiver.handle, body, dict(request.headers))
        return JSONResponse(delivery.body(), status_code=delivery.status)

    async def health(_request: Request) -> JSONResponse:
        return JSONResponse({"ok": True})

    return Starlette(routes=[Route(WEBHOOK_PATH, receive, methods=["POST"]),
                             Route("/healthz", health, methods=["GET"])])


def serve(receiver: WebhookReceiver, *, host: str = "127.0.0.1", port: int = 8787) -> None:
    """Serve the receiver with uvicorn until interrupted."""
    import uvicorn

    try:
        uvicorn.run(create_app(receiver), host=host, port=port, log_level="info")
    finally:
        receiver.close()
