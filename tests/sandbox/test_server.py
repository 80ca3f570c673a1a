"""Starting and stopping the sandbox: background thread, port 0, foreground serve() with signals."""

from __future__ import annotations

import signal
import subprocess
import sys
import time

import httpx
import pytest

from tuneops.sandbox import SandboxServer


def test_background_server_starts_fast_on_port_0_and_stops_quickly() -> None:
    server = SandboxServer()
    with pytest.raises(RuntimeError):
        _ = server.url  # no port yet
    started = time.monotonic()
    server.start()
    assert time.monotonic() - started < 1.0
    try:
        assert server.url == f"http://127.0.0.1:{server.port}/v1"
        assert server.admin_url == f"http://127.0.0.1:{server.port}/_sandbox"
        assert httpx.get(f"{server.admin_url}/health").json()["status"] == "ok"
    finally:
        stopping = time.monotonic()
        server.stop()
    assert time.monotonic() - stopping < 1.0
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{server.admin_url}/health", timeout=1)


def test_two_servers_side_by_side() -> None:
    with SandboxServer() as a, SandboxServer() as b:
        assert a.port != b.port
        assert httpx.get(f"{a.admin_url}/health").status_code == 200
        assert httpx.get(f"{b.admin_url}/health").status_code == 200


def test_serve_runs_in_the_foreground_until_sigint() -> None:
    code = (
        "from tuneops.sandbox import serve\n"
        "serve(port=0, time_scale=5, ready=lambda s: print(s.url, flush=True))\n"
        "print('stopped', flush=True)\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        url = proc.stdout.readline().strip()
        assert url.startswith("http://127.0.0.1:") and url.endswith("/v1")
        assert httpx.get(url.removesuffix("/v1") + "/_sandbox/stats").json()["time_scale"] == 5
        proc.send_signal(signal.SIGINT)
        assert proc.stdout.readline().strip() == "stopped"
        assert proc.wait(timeout=5) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
