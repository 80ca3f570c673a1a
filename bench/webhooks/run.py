"""bench/webhooks: webhook deliveries per second through the receiver (signature check, run lookup,
de-duplication, recording), with a no-op sync so only tuneops's own work is timed.

Usage: python bench/webhooks/run.py [--runs 1000] [--deliveries 500]
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import hmac
import json
import logging
import os
import tempfile
import time
from pathlib import Path

SECRET = "whsec_" + base64.b64encode(b"bench-signing-secret-0123456789a").decode()


def sign(body: bytes, webhook_id: str) -> dict[str, str]:
    ts = str(int(time.time()))
    key = base64.b64decode(SECRET.removeprefix("whsec_"))
    mac = hmac.new(key, f"{webhook_id}.{ts}.".encode() + body, hashlib.sha256).digest()
    return {"webhook-id": webhook_id, "webhook-timestamp": ts,
            "webhook-signature": f"v1,{base64.b64encode(mac).decode()}"}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=1000)
    parser.add_argument("--deliveries", type=int, default=500)
    args = parser.parse_args()

    from starlette.testclient import TestClient

    from tuneops.clock import utcnow
    from tuneops.runs.webhooks import WEBHOOK_PATH, WebhookReceiver, create_app
    from tuneops.store import open_store
    from tuneops.store.tables import RunRow

    logging.getLogger("tuneops.runs.webhooks").setLevel(logging.ERROR)  # one warning per bad delivery otherwise
    root = Path(tempfile.mkdtemp(prefix="tuneops-bench-webhooks-"))
    os.chdir(root)
    store = open_store()
    now = utcnow()
    with store.write() as s:
        for i in range(args.runs):
            s.add(RunRow(id=f"run_{i:06d}", idempotency_key=f"k{i}", job_name="bench", spec_sha256="0" * 64,
                         spec_json="{}", provider="openai", base_model="m", method="sft", state="running",
                         provider_job_id=f"ftjob-{i:06d}", train_sha256="1" * 64, created_at=now, updated_at=now))
    receiver = WebhookReceiver(store, secret=SECRET, sync=lambda run: run)
    client = TestClient(create_app(receiver))
    n = args.deliveries

    def body(i: int) -> bytes:
        return json.dumps({"id": f"evt_{i}", "object": "event", "type": "fine_tuning.job.succeeded",
                           "created_at": int(time.time()), "data": {"id": f"ftjob-{i % args.runs:06d}"}}).encode()

    def rate(prefix: str, *, http: bool, bad: bool = False) -> float:
        start = time.perf_counter()
        for i in range(n):
            b = body(i)
            headers = sign(b, f"{prefix}{i}")
            if bad:
                headers["webhook-signature"] = "v1,AAAA"
            status = (client.post(WEBHOOK_PATH, content=b, headers=headers).status_code if http
                      else receiver.handle(b, headers).status)
            assert status == (400 if bad else 200), status
        return n / (time.perf_counter() - start)

    print(f"ledger: {args.runs} runs (SQLite, WAL); {n} deliveries per row, one at a time")
    print(f"{'':44} {'receiver.handle':>16} {'over ASGI':>10}")
    for label, prefix, bad in (("new deliveries (verify, look up, record)", "wh_", False),
                               ("redeliveries (verify, look up, skip)", "wh_", False),
                               ("bad signatures (refused, nothing written)", "x_", True)):
        direct = rate(f"d{prefix}", http=False, bad=bad)
        asgi = rate(f"h{prefix}", http=True, bad=bad)
        print(f"{label:44} {direct:>14.0f}/s {asgi:>8.0f}/s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
