"""A small loopback HTTP server on gevent.pywsgi, the REST side of a simulated venue.

A venue dialect registers ``(method, path) -> handler`` routes; each handler receives a parsed
:class:`HttpRequest` and returns an :class:`HttpResponse`. The server binds 127.0.0.1 on an
ephemeral port, runs request handlers in a pool it owns, and :meth:`HttpServer.close` stops the
listener and kills every handler greenlet (keep-alive connections included).
"""

from __future__ import annotations

import http
import logging
import socket
from collections.abc import Callable, Iterable, Mapping
from typing import Any
from urllib.parse import parse_qsl

import attrs
import gevent.pool
import orjson
from gevent.pywsgi import WSGIServer

from connectivity.core.clock import NS_PER_SECOND, Clock
from connectivity.core.ratelimit import fixed_window
from connectivity.sim.loopback import LoopbackServer

__all__ = ["HttpRequest", "HttpResponse", "HttpServer", "WeightMeter", "json_response"]

log = logging.getLogger(__name__)


@attrs.frozen
class HttpRequest:
    """One request as a venue dialect sees it (query parameters: last value wins)."""

    method: str
    path: str
    query: Mapping[str, str]
    headers: Mapping[str, str]  # names lower-cased
    body: bytes


@attrs.frozen
class HttpResponse:
    """A handler's answer."""

    status: int
    body: bytes
    headers: tuple[tuple[str, str], ...] = ()


def json_response(
    payload: Any, status: int = 200, headers: Iterable[tuple[str, str]] = ()
) -> HttpResponse:
    """Return a JSON response with the right content type."""
    return HttpResponse(
        status,
        orjson.dumps(payload),
        (("Content-Type", "application/json;charset=UTF-8"), *headers),
    )


Handler = Callable[[HttpRequest], HttpResponse]


class _NoDelayWSGIServer(WSGIServer):
    """WSGIServer whose connections send at once (Nagle + delayed ACK cost ~40 ms a request)."""

    def handle(self, sock: socket.socket, address: Any) -> None:
        """Disable Nagle on the accepted socket, then serve it."""
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        super().handle(sock, address)


class HttpServer(LoopbackServer):
    """Route requests to handlers on a loopback gevent.pywsgi server."""

    scheme = "http"

    def __init__(self, host: str = "127.0.0.1", port: int = 0, pool_size: int = 64) -> None:
        super().__init__(host, port)
        self._routes: dict[tuple[str, str], Handler] = {}
        self._pool = gevent.pool.Pool(pool_size)
        self.requests_served = 0

    def route(self, method: str, path: str, handler: Handler) -> None:
        """Register ``handler`` for ``method path`` (exact path match)."""
        self._routes[(method.upper(), path)] = handler

    def _make_server(self, address: tuple[str, int]) -> WSGIServer:
        return _NoDelayWSGIServer(address, self._app, spawn=self._pool, log=None, error_log=log)

    def close(self, timeout: float = 1.0) -> None:
        """Stop listening and kill every handler greenlet (waits at most ``timeout``)."""
        self._stop_listening()
        self._pool.kill(block=True, timeout=timeout)

    def _app(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        method = str(environ.get("REQUEST_METHOD", "GET")).upper()
        path = str(environ.get("PATH_INFO", "/"))
        handler = self._routes.get((method, path))
        if handler is None:
            response = json_response({"code": -1, "msg": f"no route {method} {path}"}, 404)
        else:
            response = handler(self._request(environ, method, path))
        self.requests_served += 1
        reason = http.HTTPStatus(response.status).phrase
        start_response(f"{response.status} {reason}", list(response.headers))
        return [response.body]

    @staticmethod
    def _request(environ: dict[str, Any], method: str, path: str) -> HttpRequest:
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length else b""
        headers = {
            key[5:].replace("_", "-").lower(): str(value)
            for key, value in environ.items()
            if key.startswith("HTTP_")
        }
        query = dict(parse_qsl(str(environ.get("QUERY_STRING", "")), keep_blank_values=True))
        return HttpRequest(method, path, query, headers, body)

    def _describe(self) -> str:
        return f", routes={len(self._routes)}"


class WeightMeter:
    """Request weight per fixed window aligned to wall time, as Binance meters and reports it.

    The window is :func:`~connectivity.core.ratelimit.fixed_window`, the client limiter's own
    definition: both count the same calendar minute (see that module for the evidence).
    """

    def __init__(self, clock: Clock, limit: int, window_s: float = 60.0) -> None:
        self._clock = clock
        self.limit = limit
        self._interval_ns = round(window_s * NS_PER_SECOND)
        self._window = -1  # index of the window ``used`` counts
        self._window_end_ns = 0
        self.used = 0

    def charge(self, weight: int) -> int:
        """Spend ``weight`` now; return the weight used in this window (compare with limit)."""
        index, end_ns = fixed_window(self._clock.time_ns(), self._interval_ns)
        if index != self._window:
            self._window, self._window_end_ns, self.used = index, end_ns, 0
        self.used += weight
        return self.used

    def retry_after_s(self) -> int:
        """Return whole seconds until the current window ends (a 429's ``Retry-After``)."""
        left_ns = self._window_end_ns - self._clock.time_ns()
        return max(1, -(-left_ns // NS_PER_SECOND))
