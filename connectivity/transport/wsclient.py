"""The websocket-client boundary: handshake factory, error translation, settings and counters.

websocket-client performs DNS, TCP, TLS (verification on, SNI) and the HTTP upgrade; after
that :mod:`connectivity.transport.websocket` reads the socket itself. Everything here is what
that connection is configured with and counts, kept apart from its life-cycle logic.
"""

from __future__ import annotations

import ssl
from collections.abc import Callable
from typing import Any, Protocol

import attrs
import websocket as wsclient

from connectivity.core.counters import ErrorCounter
from connectivity.errors import AuthError, Banned, ConnectFailed, ConnectivityError, RateLimited
from connectivity.transport.wsframes import OP_TEXT

__all__ = [
    "Factory",
    "MessageHandler",
    "WebSocketSettings",
    "WebSocketStats",
    "WireSocket",
    "translate_connect_error",
    "websocket_client_factory",
]


class WireSocket(Protocol):
    """The part of ``websocket.WebSocket`` we use after the handshake."""

    sock: Any  # the connected (TLS) socket we read frames from

    def send(self, payload: bytes | str, opcode: int = OP_TEXT) -> int:
        """Send one masked frame (a close frame too: its payload is code and reason)."""

    def shutdown(self) -> None:
        """Close the socket at once."""


Factory = Callable[[str, float], WireSocket]
MessageHandler = Callable[[bytes, int], None]


def websocket_client_factory(
    *, header: list[str] | None = None, sslopt: dict[str, Any] | None = None
) -> Factory:
    """Return a factory handshaking with websocket-client (TLS verified with SNI by default)."""
    options = {"cert_reqs": ssl.CERT_REQUIRED, "check_hostname": True, **(sslopt or {})}

    def connect(url: str, timeout: float) -> WireSocket:
        ws: WireSocket = wsclient.create_connection(
            url, timeout=timeout, sslopt=options, header=header, skip_utf8_validation=True
        )
        return ws

    return connect


def translate_connect_error(exc: Exception, url: str) -> ConnectivityError:
    """Map a handshake failure onto the error tree (status codes, Retry-After)."""
    where = url.split("?", 1)[0]  # query strings may carry listen keys
    if isinstance(exc, wsclient.WebSocketBadStatusException):
        status = exc.status_code
        message = f"websocket upgrade refused by {where}"
        headers = exc.resp_headers or {}
        retry = headers.get("retry-after")
        retry_after = float(retry) if retry and retry.isdigit() else None
        if status == 418:
            return Banned(message, retry_after=retry_after, status=status)
        if status == 429:
            return RateLimited(message, retry_after=retry_after, status=status)
        if status in (401, 403):
            return AuthError(message, status=status)
        return ConnectFailed(message, status=status)
    return ConnectFailed(f"cannot connect to {where}: {exc!r}")


@attrs.frozen
class WebSocketSettings:
    """Timers and limits of one websocket connection.

    The defaults are venue-neutral (no outbound pacing, no forced rollover); a venue passes
    its own limits (see its dialect's ``ws_settings``).
    """

    ping_interval_s: float | None = 20.0
    pong_timeout_s: float = 60.0
    idle_timeout_s: float | None = None
    rollover_after_s: float | None = None  # replace the connection before a venue's cut-off
    send_limit: int | None = None  # outbound frames per send_window_s (None: unpaced)
    send_window_s: float = 1.0
    backoff_initial_s: float = 0.5
    backoff_max_s: float = 30.0
    stable_after_s: float = 30.0  # a connection that lived this long resets the backoff
    connect_timeout_s: float = 10.0
    read_timeout_s: float = 5.0  # a read timeout only re-checks state; watchdogs decide death
    tick_s: float = 0.5  # watchdog period
    close_timeout_s: float = 1.0
    recv_bytes: int = 256 * 1024
    max_message_bytes: int = 16 * 1024 * 1024  # one frame, and a whole fragmented message
    max_fragments: int = 65_536  # frames of one message (empty continuations cost memory too)
    validate_utf8: bool = False  # feeds' JSON parser (orjson) validates; a general client: True
    error_log_interval_s: float = 10.0


@attrs.define
class WebSocketStats:
    """Counters of one logical connection (over all its physical connections)."""

    errors: ErrorCounter  # by kind; logged sparingly
    connects: int = 0
    reconnects: int = 0
    rollovers: int = 0
    frames: int = 0
    bytes: int = 0
    pings_sent: int = 0
    pings_received: int = 0
    pongs_received: int = 0
    last_message_ns: int | None = None  # monotonic ns of the last data frame
