"""Loaded by every Python process started with this directory on PYTHONPATH (the training processes of
the local provider's tests): blocks and records any connection that is not loopback, as tests/conftest.py
does in the test process itself."""

import ipaddress
import os
import socket

_connect = socket.socket.connect
_log = os.environ.get("TUNEOPS_TEST_NET_LOG")


def _guarded(self, address):  # type: ignore[no-untyped-def]
    if self.family in (socket.AF_INET, socket.AF_INET6) and isinstance(address, tuple):
        host = str(address[0])
        try:
            loopback = ipaddress.ip_address(host.split("%")[0]).is_loopback
        except ValueError:
            loopback = host in ("localhost", "")
        if not loopback:
            if _log:
                with open(_log, "a", encoding="utf-8") as fh:
                    fh.write(f"{os.getpid()} {host}\n")
            raise OSError(f"tests may not reach the network: blocked connection to {host}")
    return _connect(self, address)


socket.socket.connect = _guarded
