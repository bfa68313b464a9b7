"""WS-API client: blocking request/response calls over one self-healing websocket, by id.

:class:`WsApiClient` runs a venue's "API over a websocket" (Binance WS-API, and the like) on a
:class:`~connectivity.transport.websocket.WebSocketConnection`: any number of greenlets call
:meth:`WsApiClient.request` at once; each request gets an id, goes out as one text frame and
blocks its caller until the frame with the same id comes back, however answers are ordered.
The venue's wire format is a :class:`WsApiCodec` (encode a request, decode a frame into a
:class:`Response` or an unsolicited :class:`Event`, map a venue error); this module holds the
policy every venue shares:

- Every wait is bounded by the request's deadline on the injected clock: waiting for the
  connection (a request made while disconnected waits at most that long, then raises
  :class:`~connectivity.errors.ConnectionLost`; nothing was sent), the limiter, the answer.
- Outcome: a request is *idempotent* only when it says so. When no answer can come any more
  (the connection it went out on ended, or its deadline passed), a non-idempotent request
  (an order placement or cancel) raises :class:`~connectivity.errors.OrderOutcomeUnknown`,
  never a rejection; an idempotent one raises a retryable ``ConnectionLost`` or
  ``RequestTimeout``. A frame that failed to write was never complete on the wire, so the
  venue cannot have acted on it: that is a retryable ``ConnectionLost`` for every request.
- Status policy, as for REST: 429/418 block the limiter until the venue's retry time and raise
  ``RateLimited``/``Banned``; 5xx (and 408) on a non-idempotent request is in doubt; otherwise
  the codec maps the venue's error, falling back to the HTTP-like status.
- The venue's usage figures (:attr:`Response.rate_limits`) correct the shared limiter.
- ``on_connect(client)`` runs on every new connection before other greenlets may send
  (authenticate, resubscribe); requests it makes go out at once.
- ``on_disconnect(reason)`` runs when the client loses its connection (not on a rollover,
  whose new connection is up before the old one closes).
- Unsolicited frames go to ``on_event(event, ts_recv_ns)`` in the reader greenlet. A malformed
  frame, an answer nobody waits for (late or unknown id) and a raising event handler are
  counted in :attr:`WsApiStats.errors` and the connection goes on.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection, Hashable, Mapping
from typing import Any

import attrs
import gevent
import gevent.event

import connectivity.errors as errors
from connectivity.core.clock import NS_PER_SECOND, Clock
from connectivity.core.counters import ErrorCounter
from connectivity.core.ratelimit import RateLimiter
from connectivity.transport.websocket import WebSocketConnection
from connectivity.transport.wsapi_codec import (
    Event,
    RateLimitUsage,
    Response,
    WsApiCodec,
    WsApiMethod,
    WsRequest,
)
from connectivity.transport.wsclient import Factory, WebSocketSettings

__all__ = [
    "Event",
    "RateLimitUsage",
    "Response",
    "WsApiClient",
    "WsApiCodec",
    "WsApiMethod",
    "WsApiSettings",
    "WsApiStats",
    "WsRequest",
]

log = logging.getLogger(__name__)

DEFAULT_RETRY_AFTER = {429: 1.0, 418: 120.0}  # when the venue gives no retry time


@attrs.frozen
class WsApiSettings:
    """Timers of a WS-API client (the connection's own are :class:`WebSocketSettings`)."""

    request_timeout_s: float = 10.0
    poll_s: float = 0.05  # how often a waiter re-reads the clock (a ManualClock cannot wake it)
    error_log_interval_s: float = 10.0


@attrs.define
class WsApiStats:
    """Counters of one WS-API client."""

    errors: ErrorCounter  # MalformedFrame, UnknownResponseId, EventHandlerFailed, ...
    requests: int = 0
    responses: int = 0
    events: int = 0
    timeouts: int = 0
    dropped: int = 0  # requests whose connection ended before their answer


class _Call:
    """One request in flight: what was asked, where it went, and how it ended."""

    __slots__ = ("connection", "done", "outcome", "request", "sent_ns")

    def __init__(self, request: WsRequest) -> None:
        self.request = request
        self.connection: int | None = None
        self.sent_ns = 0
        self.done = gevent.event.Event()
        self.outcome: Response | errors.ConnectivityError | None = None

    def finish(self, outcome: Response | errors.ConnectivityError) -> None:
        if not self.done.is_set():
            self.outcome = outcome
            self.done.set()


class WsApiClient:
    """Blocking, id-correlated requests over one reconnecting websocket; events to a handler."""

    def __init__(
        self,
        url: str,
        codec: WsApiCodec,
        *,
        venue: str,
        clock: Clock,
        settings: WsApiSettings | None = None,
        ws_settings: WebSocketSettings | None = None,
        on_connect: Callable[[WsApiClient], None] | None = None,
        on_event: Callable[[Event, int], None] | None = None,
        on_disconnect: Callable[[str], None] | None = None,
        limiter: RateLimiter | None = None,
        factory: Factory | None = None,
        name: str = "wsapi",
    ) -> None:
        self.venue = venue
        self.name = name
        self.settings = settings or WsApiSettings()
        self.limiter = limiter
        self._codec = codec
        self._clock = clock
        self._on_connect = on_connect
        self._on_event = on_event
        interval_ns = int(self.settings.error_log_interval_s * NS_PER_SECOND)
        counter = ErrorCounter(
            f"{venue} {name}", clock.monotonic_ns, logger=log, log_interval_ns=interval_ns
        )
        self.stats = WsApiStats(errors=counter)
        self._pending: dict[Hashable, _Call] = {}
        self._seq = 0
        self._handshake: gevent.Greenlet | None = None
        self._closed = False
        self.connection = WebSocketConnection(
            url,
            self._on_frame,
            clock=clock,
            settings=ws_settings,
            on_connect=self._connected,
            on_connection_end=self._connection_ended,
            on_disconnect=on_disconnect,
            factory=factory,
            name=name,
        )

    # -- lifecycle -------------------------------------------------------------------------
    def start(self) -> None:
        """Start connecting in the background (the connection's owned greenlets)."""
        self.connection.start()

    def close(self) -> None:
        """Close the connection (joining its greenlets) and end every waiting request.

        A request already sent ends as its connection does (in doubt unless idempotent); one
        not sent yet raises :class:`~connectivity.errors.ClosedError`.
        """
        self._closed = True
        self.connection.close()
        for call in list(self._pending.values()):
            call.finish(errors.ClosedError(f"{self.name} closed", venue=self.venue))

    def wait_connected(self, timeout: float) -> bool:
        """Wait until connected and ``on_connect`` has run; False after ``timeout`` seconds."""
        return bool(self.connection.connected.wait(timeout=timeout))

    def _connected(self, conn: WebSocketConnection) -> None:
        """The connection's hook: reset per-connection codec state, then run ``on_connect``."""
        self._codec.new_connection()
        if self._on_connect is None:
            return
        self._handshake = gevent.getcurrent()
        try:
            self._on_connect(self)
        finally:
            self._handshake = None

    def _connection_ended(self, number: int, reason: str) -> None:
        """No answer can come for what went out on connection ``number``: end those calls."""
        for call in list(self._pending.values()):
            if call.connection == number and not call.done.is_set():
                self.stats.dropped += 1
                call.finish(self._no_answer(call, f"connection ended ({reason})", lost=True))

    # -- requests --------------------------------------------------------------------------
    def call(self, method: WsApiMethod, params: Mapping[str, Any] | None = None, **kw: Any) -> Any:
        """Send one documented method (its costs drawn if the client meters); return ``result``."""
        params = dict(params or {})
        costs = method.costs(params) if self.limiter is not None else None
        return self.request(method.request(params), costs=costs, **kw).result

    def request(
        self,
        request: WsRequest,
        *,
        timeout: float | None = None,
        costs: Mapping[str, int] | None = None,
        accept: Collection[int] = (),
    ) -> Response:
        """Send ``request`` and return its 2xx answer, or raise a typed error (see module doc).

        An answer whose status is in ``accept`` is returned, not raised: the caller reads its
        ``error`` itself (a partial success, e.g. a cancel-replace with one leg done).
        """
        if self._closed:
            raise errors.ClosedError(f"{self.name} is closed", venue=self.venue)
        timeout_s = self.settings.request_timeout_s if timeout is None else timeout
        deadline = self._clock.monotonic_ns() + int(timeout_s * NS_PER_SECOND)
        operation = request.method
        if gevent.getcurrent() is not self._handshake:
            self._await_connection(deadline, operation)
        if costs:
            self._acquire(costs, deadline, operation)
        call = _Call(request)
        self._seq += 1
        key, frame = self._codec.encode(self._seq, request)  # signs last: a fresh timestamp
        if key in self._pending:
            raise errors.ConfigError(f"request id {key!r} is already in flight", venue=self.venue)
        self._pending[key] = call
        try:
            self._send(call, frame, operation)
            self._await_answer(call, deadline)
        finally:
            self._pending.pop(key, None)
        return self._result(call, accept)

    def _await_connection(self, deadline: int, operation: str) -> None:
        connected = self.connection.connected
        while not connected.is_set():
            if self._closed:
                raise errors.ClosedError(f"{self.name} is closed", venue=self.venue)
            left = deadline - self._clock.monotonic_ns()
            if left <= 0:
                raise errors.ConnectionLost(
                    "not connected before the deadline; nothing was sent",
                    venue=self.venue,
                    operation=operation,
                )
            connected.wait(timeout=min(self.settings.poll_s, left / NS_PER_SECOND))

    def _acquire(self, costs: Mapping[str, int], deadline: int, operation: str) -> None:
        if self.limiter is None:
            raise errors.ConfigError(f"{operation} declares costs but the client has no limiter")
        left = max(0.0, (deadline - self._clock.monotonic_ns()) / NS_PER_SECOND)
        try:
            self.limiter.acquire(costs, max_wait=min(left, self.limiter.max_wait))
        except errors.RateLimited as exc:  # refused locally: nothing was sent
            exc.venue, exc.operation = exc.venue or self.venue, operation
            raise

    def _send(self, call: _Call, frame: str | bytes, operation: str) -> None:
        call.connection = self.connection.connection_number  # no yield before the write
        call.sent_ns = self._clock.time_ns()
        try:
            self.connection.send(frame)
        except errors.ConnectionLost as exc:
            # An unfinished frame is nothing the venue can act on: safe to retry.
            raise errors.ConnectionLost(
                f"not sent: {exc.message}", venue=self.venue, operation=operation
            ) from exc
        self.stats.requests += 1

    def _await_answer(self, call: _Call, deadline: int) -> None:
        done, clock, poll = call.done, self._clock, self.settings.poll_s
        while not done.is_set():
            left = deadline - clock.monotonic_ns()
            if left <= 0:
                self.stats.timeouts += 1
                call.finish(self._no_answer(call, "no answer before the deadline", lost=False))
                return
            done.wait(timeout=min(poll, left / NS_PER_SECOND))

    def _no_answer(self, call: _Call, why: str, *, lost: bool) -> errors.ConnectivityError:
        context: dict[str, Any] = {"venue": self.venue, "operation": call.request.method}
        if not call.request.idempotent:
            return errors.OrderOutcomeUnknown(f"{why}; it may have been executed", **context)
        if lost:
            return errors.ConnectionLost(why, **context)
        return errors.RequestTimeout(why, **context)

    def _result(self, call: _Call, accept: Collection[int]) -> Response:
        outcome = call.outcome
        if isinstance(outcome, errors.ConnectivityError):
            raise outcome
        assert outcome is not None  # set by whoever set ``done``
        if outcome.status in accept:
            return outcome
        error = self._status_error(outcome, call.request)
        if error is not None:
            raise error
        return outcome

    # -- answers ---------------------------------------------------------------------------
    def _on_frame(self, payload: bytes, ts_recv_ns: int) -> None:
        """Decode one frame (reader greenlet): wake its caller, or hand the event on."""
        try:
            decoded = self._codec.decode(payload)
        except errors.ParseError as exc:
            self.stats.errors.count(exc, "malformed frame", key="MalformedFrame")
            return
        if isinstance(decoded, Event):
            self._deliver(decoded, ts_recv_ns)
            return
        self.stats.responses += 1
        call = self._pending.get(decoded.id)
        self._apply_usage(decoded, call.sent_ns if call is not None else ts_recv_ns)
        if decoded.status in (429, 418):
            self._block_limiter(decoded, call.request.method if call else "?")
        if call is None or call.done.is_set():
            err = errors.ParseError("answer to no waiting request", payload=payload)
            self.stats.errors.count(err, "unknown or late response id", key="UnknownResponseId")
            return
        call.finish(decoded)

    def _deliver(self, event: Event, ts_recv_ns: int) -> None:
        self.stats.events += 1
        if self._on_event is None:
            return
        try:
            self._on_event(event, ts_recv_ns)
        except Exception as exc:  # the handler's bug must not stop the answers behind it
            self.stats.errors.count(exc, "event handler raised", key="EventHandlerFailed")

    def _apply_usage(self, response: Response, sent_ns: int) -> None:
        if self.limiter is None:
            return
        for usage in response.rate_limits:
            try:
                # The venue counted the request when it arrived: credit the window it left in.
                self.limiter.update_usage(usage.bucket, usage.used, sent_ns)
            except errors.ConfigError as exc:  # a bucket this limiter does not meter
                self.stats.errors.count(exc, "usage for an unknown bucket", key="UnknownBucket")

    def _retry_after(self, response: Response) -> float:
        if response.retry_at_ns is None:
            return DEFAULT_RETRY_AFTER[response.status]
        return max(0.0, (response.retry_at_ns - self._clock.time_ns()) / NS_PER_SECOND)

    def _block_limiter(self, response: Response, operation: str) -> None:
        if self.limiter is not None:
            until = self._clock.time_ns() + round(self._retry_after(response) * NS_PER_SECOND)
            reason = f"status {response.status} on {operation}"
            self.limiter.block_until(until, reason, banned=response.status == 418)

    def _status_error(
        self, response: Response, request: WsRequest
    ) -> errors.ConnectivityError | None:
        """Map a non-2xx answer onto the error tree (the same policy as the REST client)."""
        status = response.status
        if response.ok:
            return None
        mapped = self._codec.error(response, request)
        context: dict[str, Any] = {
            "venue": self.venue,
            "operation": request.method,
            "status": status,
            "code": mapped.code if mapped is not None else None,
            "payload": response.raw,
        }
        if status in (429, 418):
            retry_after = self._retry_after(response)
            cls = errors.Banned if status == 418 else errors.RateLimited
            return cls(
                f"status {status}: wait {retry_after:.3f}s", retry_after=retry_after, **context
            )
        if (status >= 500 or status == 408) and not request.idempotent:
            return errors.OrderOutcomeUnknown(
                f"status {status}: it may have been executed", **context
            )
        # A server error is never a definite refusal, whatever code it carries.
        if mapped is not None and not (status >= 500 and isinstance(mapped, errors.Rejected)):
            for key in ("venue", "operation", "status"):
                if getattr(mapped, key) is None:
                    setattr(mapped, key, context[key])
            return mapped
        if status in (401, 403):
            return errors.AuthError(f"status {status}: not authorised", **context)
        if status == 408:
            return errors.RequestTimeout(f"status {status}: the venue timed out", **context)
        if status >= 500:
            return errors.ServerError(f"status {status}: venue server error", **context)
        return errors.Rejected(f"status {status}: request refused", **context)

    def __repr__(self) -> str:
        return f"WsApiClient({self.venue!r}, {self.name!r}, in_flight={len(self._pending)})"
