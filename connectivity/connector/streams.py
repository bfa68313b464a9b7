"""Stream bookkeeping: desired vs acknowledged subscriptions of one connection.

The connector says what it *wants* (:meth:`Subscriptions.add` / :meth:`remove`); what the
venue has *acknowledged* is tracked per request id. After every (re)connect
:meth:`Subscriptions.replay` sends the whole desired set again in batches of ``batch_size``
streams per frame, so a venue's per-connection message limit (Binance: 5 frames/s, enforced
by the transport's pacing) is spent on few frames. The frame format is venue knowledge and
comes in as ``encode(method, streams, request_id) -> str``.

How the venue acknowledges is declared by :class:`AckMode`: by the request id it echoes
(Binance, :meth:`Subscriptions.on_ack`), by naming the subscribed streams (Kraken, Coinbase:
:meth:`Subscriptions.on_ack_streams`), or not at all (a request counts as acknowledged once
sent).

Not thread-safe; meant for one gevent hub. Waiting for acknowledgements uses a gevent event
(this module is in the connector layer, which may use gevent).
"""

from __future__ import annotations

import enum
import itertools
from collections.abc import Callable, Iterable

import gevent.event

from connectivity.errors import ConfigError

__all__ = ["SUBSCRIBE", "UNSUBSCRIBE", "AckMode", "Encoder", "Subscriptions"]

SUBSCRIBE = "SUBSCRIBE"
UNSUBSCRIBE = "UNSUBSCRIBE"
Encoder = Callable[[str, list[str], int], str]
Sender = Callable[[str], None]


class AckMode(enum.Enum):
    """How a venue acknowledges subscription requests."""

    REQUEST_ID = "request_id"  # the answer echoes our request id
    STREAMS = "streams"  # the answer names the (un)subscribed streams
    NONE = "none"  # no answer: a request is taken as acknowledged once sent


class Subscriptions:
    """Desired and acknowledged streams of one connection, with batched (re)subscription."""

    def __init__(
        self,
        encode: Encoder,
        *,
        max_streams: int = 1024,
        batch_size: int = 200,
        ids: Iterable[int] | None = None,
        ack_mode: AckMode = AckMode.REQUEST_ID,
    ) -> None:
        if max_streams < 1 or batch_size < 1:
            raise ConfigError("max_streams and batch_size must be >= 1")
        self._encode = encode
        self.max_streams = max_streams
        self.batch_size = batch_size
        self.ack_mode = ack_mode
        self._ids = iter(ids) if ids is not None else itertools.count(1)
        self.desired: dict[str, None] = {}  # insertion-ordered set
        self.acked: set[str] = set()
        self._pending: dict[int, tuple[str, list[str]]] = {}
        self._settled = gevent.event.Event()
        self._settled.set()
        self._send: Sender | None = None
        self.errors: list[tuple[int | str | None, int, str]] = []
        self.frames_sent = 0

    # -- what the connector wants ------------------------------------------------------------
    def add(self, streams: Iterable[str]) -> list[str]:
        """Desire ``streams``; subscribe them now if connected. Return the newly added ones."""
        new = [s for s in streams if s not in self.desired]
        if len(self.desired) + len(new) > self.max_streams:
            raise ConfigError(
                f"{len(self.desired) + len(new)} streams exceed {self.max_streams} per connection"
            )
        for stream in new:
            self.desired[stream] = None
        if self._send is not None and new:
            self._request(SUBSCRIBE, new)
        return new

    def remove(self, streams: Iterable[str]) -> list[str]:
        """Stop desiring ``streams``; unsubscribe them now if connected."""
        gone = [s for s in streams if s in self.desired]
        for stream in gone:
            del self.desired[stream]
        if self._send is not None and gone:
            self._request(UNSUBSCRIBE, gone)
        return gone

    def resubscribe(self, streams: Iterable[str]) -> None:
        """Unsubscribe and subscribe desired ``streams`` again now (a venue that sends a
        snapshot on subscription); they stay desired whatever happens to the frames."""
        wanted = [s for s in streams if s in self.desired]
        if self._send is None or not wanted:
            return  # not connected: the next replay subscribes them anyway
        self._request(UNSUBSCRIBE, wanted)
        self._request(SUBSCRIBE, wanted)

    @property
    def room(self) -> int:
        """Return how many more streams this connection may carry."""
        return self.max_streams - len(self.desired)

    # -- connection events -------------------------------------------------------------------
    def replay(self, send: Sender) -> int:
        """After a (re)connect: forget acks and subscribe every desired stream; return frames."""
        self._send = send
        self.acked.clear()
        self._pending.clear()
        streams = list(self.desired)
        frames = 0
        for start in range(0, len(streams), self.batch_size):
            self._request(SUBSCRIBE, streams[start : start + self.batch_size])
            frames += 1
        if not self._pending:
            self._settled.set()
        return frames

    def disconnected(self) -> None:
        """The connection is gone: nothing is acknowledged any more."""
        self._send = None
        self.acked.clear()
        self._pending.clear()
        self._settled.set()

    def on_ack(self, request_id: int | str | None) -> bool:
        """Record the venue's acknowledgement; return False for an id we never sent."""
        if not isinstance(request_id, int):
            return False
        entry = self._pending.pop(request_id, None)
        if entry is None:
            return False
        method, streams = entry
        if method == SUBSCRIBE:
            self.acked.update(s for s in streams if s in self.desired)
        else:
            self.acked.difference_update(streams)
        if not self._pending:
            self._settled.set()
        return True

    def on_ack_streams(self, streams: Iterable[str], subscribed: bool = True) -> bool:
        """Record an acknowledgement that names its streams; return False if none was pending."""
        method = SUBSCRIBE if subscribed else UNSUBSCRIBE
        named = set(streams)
        matched = False
        for request_id, (kind, pending) in list(self._pending.items()):
            if kind != method or named.isdisjoint(pending):
                continue
            matched = True
            rest = [s for s in pending if s not in named]
            if rest:
                self._pending[request_id] = (kind, rest)
            else:
                del self._pending[request_id]
        if not matched:
            return False
        if subscribed:
            self.acked.update(s for s in named if s in self.desired)
        else:
            self.acked.difference_update(named)
        if not self._pending:
            self._settled.set()
        return True

    def on_error(self, request_id: int | str | None, code: int, msg: str) -> bool:
        """Record a refused request (kept in :attr:`errors`); return False if not ours."""
        if not isinstance(request_id, int) or self._pending.pop(request_id, None) is None:
            return False
        self.errors.append((request_id, code, msg))
        if not self._pending:
            self._settled.set()
        return True

    def wait_settled(self, timeout: float) -> bool:
        """Wait until every sent request was answered; True if so within ``timeout``."""
        return bool(self._settled.wait(timeout=timeout))

    @property
    def all_acked(self) -> bool:
        """Return True when every desired stream is acknowledged."""
        return len(self.acked) == len(self.desired) and not self._pending

    def _request(self, method: str, streams: list[str]) -> None:
        assert self._send is not None
        request_id = next(self._ids)
        self.frames_sent += 1
        if self.ack_mode is AckMode.NONE:
            self._send(self._encode(method, streams, request_id))
            if method == SUBSCRIBE:
                self.acked.update(s for s in streams if s in self.desired)
            else:
                self.acked.difference_update(streams)
            return
        self._pending[request_id] = (method, streams)
        self._settled.clear()
        self._send(self._encode(method, streams, request_id))

    def __repr__(self) -> str:
        return (
            f"Subscriptions(desired={len(self.desired)}, acked={len(self.acked)}, "
            f"pending={len(self._pending)})"
        )
