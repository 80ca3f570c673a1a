"""Run the sandbox over HTTP with uvicorn: in a background thread, or in the foreground.

The sandbox is a local stand-in for the OpenAI fine-tuning API, not an LLM.
"""

from __future__ import annotations

import signal
import socket
import threading
import time
from collections.abc import Callable
from types import TracebackType

import uvicorn

from .app import build_app
from .faults import FaultConfig, FaultInjector, install_abort_log_filter
from .state import SandboxState

__all__ = ["DEFAULT_PORT", "SandboxServer", "serve"]

DEFAULT_PORT = 8765
_START_TIMEOUT = 10.0
_STOP_TIMEOUT = 5.0


class SandboxServer:
    """A sandbox served by uvicorn on a daemon thread; usable as a context manager."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        time_scale: float = 1.0,
        faults: FaultConfig | None = None,
        seed: int = 0,
        clock: Callable[[], float] = time.time,
        log_level: str = "warning",
    ) -> None:
        self.host = host
        self.state = SandboxState(clock=clock, time_scale=time_scale, seed=seed)
        self.faults = FaultInjector(faults, on_fault=self.state.count_fault, base_seed=seed)
        self.app = build_app(self.state, self.faults)
        self._requested_port = port
        self._log_level = log_level
        self._sock: socket.socket | None = None
        self._bound_port: int | None = None
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        """The bound port (known once ``start`` has returned, and kept after ``stop``)."""
        if self._bound_port is None:
            raise RuntimeError("the sandbox server is not started")
        return self._bound_port

    @property
    def _origin(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    @property
    def url(self) -> str:
        """Base URL for the OpenAI SDK, e.g. ``http://127.0.0.1:51234/v1``."""
        return f"{self._origin}/v1"

    @property
    def admin_url(self) -> str:
        """Base URL of the admin routes, e.g. ``http://127.0.0.1:51234/_sandbox``."""
        return f"{self._origin}/_sandbox"

    def configure_faults(self, config: FaultConfig) -> None:
        """Replace the fault-injection settings (same as ``POST /_sandbox/faults``)."""
        self.faults.configure(config)

    def start(self) -> SandboxServer:
        """Bind, start serving on a daemon thread, and return once connections are accepted."""
        if self._thread is not None:
            raise RuntimeError("the sandbox server is already started")
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        # An explicit IPPROTO_TCP matters: asyncio only sets TCP_NODELAY on accepted sockets
        # whose proto says TCP, and without it keep-alive requests stall ~40 ms on delayed ACKs.
        sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((self.host, self._requested_port))
            sock.listen(128)
        except OSError:
            sock.close()
            raise
        self._sock = sock
        self._bound_port = int(sock.getsockname()[1])
        install_abort_log_filter()
        config = uvicorn.Config(
            self.app,
            log_level=self._log_level,
            # Leave the host application's logging set-up alone.
            log_config=None,
            access_log=False,
            lifespan="off",
            timeout_graceful_shutdown=1,
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run,
            kwargs={"sockets": [sock]},
            name=f"tuneops-sandbox-{self.port}",
            daemon=True,
        )
        self._thread.start()
        deadline = time.monotonic() + _START_TIMEOUT
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("the sandbox server failed to start")
            time.sleep(0.005)
        return self

    def stop(self) -> None:
        """Stop serving: finish in-flight requests briefly, then close the socket."""
        server, thread = self._server, self._thread
        if server is not None and thread is not None:
            server.should_exit = True
            thread.join(_STOP_TIMEOUT)
            if thread.is_alive():
                server.force_exit = True
                thread.join(_STOP_TIMEOUT)
        if self._sock is not None:
            self._sock.close()
        self._sock = self._server = self._thread = None

    def __enter__(self) -> SandboxServer:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def serve(
    host: str = "127.0.0.1",
    port: int = DEFAULT_PORT,
    *,
    time_scale: float = 1.0,
    faults: FaultConfig | None = None,
    seed: int = 0,
    log_level: str = "warning",
    ready: Callable[[SandboxServer], None] | None = None,
) -> None:
    """Serve in the foreground until SIGINT or SIGTERM.

    ``ready`` is called with the running server once it accepts connections (its
    ``url`` then holds the real port, even when ``port`` is 0); nothing is printed.
    """
    server = SandboxServer(host, port, time_scale=time_scale, faults=faults, seed=seed, log_level=log_level)
    stop = threading.Event()
    previous: dict[int, object] = {}
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGINT, signal.SIGTERM):
            previous[sig] = signal.signal(sig, lambda signum, frame: stop.set())
    try:
        server.start()
        if ready is not None:
            ready(server)
        # Short waits keep the main thread responsive to signals on every platform.
        while not stop.wait(0.2):
            pass
    except KeyboardInterrupt:
        pass  # only reachable when not on the main thread's signal handlers
    finally:
        server.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)  # type: ignore[arg-type]
