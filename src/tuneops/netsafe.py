"""URLs that leave the process safely: no credentials in logs, no webhooks into the local network.

Standard library only: the CLI's log filter imports it on every command.
"""

from __future__ import annotations

import ipaddress
import os
import re
import socket
from collections.abc import Callable, Mapping
from urllib.parse import urlsplit

from tuneops.errors import TuneopsError

ALLOW_PRIVATE_ENV = "TUNEOPS_ALLOW_PRIVATE_WEBHOOKS"

# scheme://user:password@host -> scheme://host (also a bare user@ and URLs inside longer text).
_USERINFO = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)[^/\s@?#]*@")

Resolver = Callable[[str, int], list[str]]


class TargetRefused(TuneopsError):
    """A webhook target is on loopback, link-local or a private network (or does not resolve)."""

    exit_code = 2


def scrub_urls(text: str) -> str:
    """``text`` with the ``user:password@`` part of every URL in it removed."""
    return _USERINFO.sub(r"\1", text) if "@" in text else text


def allow_private(environ: Mapping[str, str] | None = None) -> bool:
    """Whether TUNEOPS_ALLOW_PRIVATE_WEBHOOKS lets webhooks reach loopback and private addresses."""
    value = (environ if environ is not None else os.environ).get(ALLOW_PRIVATE_ENV, "")
    return value.strip().lower() in ("1", "true", "yes", "on")


def _system_resolver(host: str, port: int) -> list[str]:
    return sorted({info[4][0] for info in socket.getaddrinfo(host, port, proto=socket.IPPROTO_TCP)})


def _internal(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return not ip.is_global or ip.is_multicast


def literal_internal(url: str) -> bool:
    """Whether a URL names loopback or a private/link-local address without any DNS lookup."""
    host = (urlsplit(url).hostname or "").lower()
    if host in ("localhost", "localhost.localdomain") or host.endswith(".localhost"):
        return True
    try:
        return _internal(host)
    except ValueError:
        return False


def check_target(url: str, *, environ: Mapping[str, str] | None = None,
                 resolve: Resolver | None = None) -> None:
    """Refuse a webhook URL whose host resolves to loopback, link-local, private or reserved addresses.

    Every address the name resolves to must be public, so a name with one public and one internal
    record is refused too. ``TUNEOPS_ALLOW_PRIVATE_WEBHOOKS=1`` allows them (a receiver on this host).
    """
    parts = urlsplit(url)
    shown = scrub_urls(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise TargetRefused(f"webhook URL {shown!r} is not an http(s) URL with a host")
    if allow_private(environ):
        return
    try:
        addresses = (resolve or _system_resolver)(parts.hostname, parts.port or 443)
    except OSError as exc:
        raise TargetRefused(f"webhook host {parts.hostname!r} does not resolve ({exc})") from None
    internal = [a for a in addresses if _internal(a)]
    if internal or not addresses:
        raise TargetRefused(
            f"webhook URL {shown!r} points into a local or private network ({', '.join(internal) or 'no address'});"
            f" tuneops only posts to public addresses. Set {ALLOW_PRIVATE_ENV}=1 to allow a receiver on this "
            "host or network.")


def check_listen(host: str, port: int, option: str = "--port") -> None:
    """Fail early and clearly when ``host:port`` cannot be listened on (a bad address, a port in use)."""
    try:
        infos = socket.getaddrinfo(host or None, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except (OSError, UnicodeError) as exc:
        raise TuneopsError(f"--host {host!r} is not an address of this machine ({exc}); use 127.0.0.1 "
                           "(this host only) or 0.0.0.0 (every interface)") from None
    family, kind, proto, _, address = infos[0]
    with socket.socket(family, kind, proto) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # what the server itself sets
        try:
            sock.bind(address)
        except OSError as exc:
            raise TuneopsError(f"cannot listen on {host}:{port}: {exc.strerror or exc}; pick another {option} "
                               "(or stop what is using it)") from None
