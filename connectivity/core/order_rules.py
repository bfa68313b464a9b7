"""The order state machine as data, the evidence ordering, and our client order ids.

:data:`TRANSITIONS` lists every legal status change with the condition it needs
(:class:`Edge`); anything absent is illegal and the state manager counts, logs and refuses it.
Besides the textbook path it holds the edges the real world produces:

- a cancel that fails returns PENDING_CANCEL to NEW or PARTIALLY_FILLED;
- CANCELED or EXPIRED followed by a fill the venue proves (the cancel raced a match): the
  filled quantity grows, and the order becomes FILLED when the fill completes it;
- an order first seen through a fill (PENDING_NEW or IN_DOUBT straight to a fill status);
- any live order may fall IN_DOUBT (a cancel or replace without a definite answer) and leave
  it for whatever the venue proves.

FILLED and REJECTED are absorbing; CANCELED and EXPIRED are absorbing but for proven fills.
"""

from __future__ import annotations

import enum
import itertools
import secrets
import string

from connectivity.core.models import OrderStatus
from connectivity.errors import AuthError, ConfigError, Rejected

__all__ = [
    "RULES_BY_NAME", "TRANSITIONS", "ClientOrderIds", "Edge", "edge", "refused_definitely"
]  # fmt: skip

S = OrderStatus


class Edge(enum.Enum):
    """What a legal transition needs."""

    ANY = "any"  # any venue evidence (or our own request, for the local states)
    FILL_PROVEN = "fill-proven"  # only when the evidence raises the filled quantity
    KEEP_STATUS = "keep-status"  # the fill is absorbed; the status stays (terminal race)


_LIVE = (S.NEW, S.PARTIALLY_FILLED, S.PENDING_CANCEL)
_FILLS = (S.PARTIALLY_FILLED, S.FILLED)
_ENDS = (S.FILLED, S.CANCELED, S.REJECTED, S.EXPIRED)


def _table() -> dict[tuple[OrderStatus, OrderStatus], Edge]:
    table: dict[tuple[OrderStatus, OrderStatus], Edge] = {}
    for start in (S.PENDING_NEW, S.IN_DOUBT):
        for end in (S.NEW, *_FILLS, *_ENDS, S.PENDING_CANCEL):
            table[start, end] = Edge.ANY
    table[S.PENDING_NEW, S.IN_DOUBT] = Edge.ANY
    for start in _LIVE:
        for end in (*_FILLS, S.CANCELED, S.EXPIRED, S.IN_DOUBT, S.PENDING_CANCEL):
            table[start, end] = Edge.ANY
    table[S.PENDING_CANCEL, S.NEW] = Edge.ANY  # the cancel failed (PARTIALLY_FILLED is above)
    for start in (S.CANCELED, S.EXPIRED):
        table[start, S.FILLED] = Edge.FILL_PROVEN
        table[start, S.PARTIALLY_FILLED] = Edge.KEEP_STATUS
    for status in S:
        table.pop((status, status), None)  # same status is a merge, not a transition
    return table


TRANSITIONS: dict[tuple[OrderStatus, OrderStatus], Edge] = _table()
"""``(from, to) -> Edge`` for every legal status change; absent means illegal."""

RULES_BY_NAME: dict[tuple[str, str], Edge] = {
    (start.name, end.name): rule for (start, end), rule in TRANSITIONS.items()
}
"""The same table keyed by member names: str hashes are cached, ``Enum.__hash__`` is Python."""


def edge(start: OrderStatus, end: OrderStatus) -> Edge | None:
    """Return the edge from ``start`` to ``end``, or None when the transition is illegal."""
    return TRANSITIONS.get((start, end))


def refused_definitely(exc: BaseException) -> bool:
    """Return True only when ``exc`` proves the venue refused the request.

    A venue rejection (``Rejected``: bad price, insufficient balance, unknown order on a
    cancel) or an authentication refusal is definite. Everything else (timeouts, dropped
    connections, 5xx, 429, 418, an unparsable answer, an unexpected exception) leaves the
    outcome unknown: the request may have reached the matching engine.
    """
    return isinstance(exc, (Rejected, AuthError))


_ALPHABET = string.ascii_letters + string.digits


class ClientOrderIds:
    """Client order ids ``<namespace><process token><counter>``: ours are recognised by prefix.

    ``namespace`` is fixed per account and bot (so orders a previous process of the same bot
    left open are ours), ``token`` differs per process (so two processes never collide).
    Binance accepts 36 characters of ``[A-Za-z0-9._:/-]``; ids stay within that.
    """

    def __init__(self, namespace: str, token: str) -> None:
        if not namespace or not all(c in _ALPHABET + "-_" for c in namespace + token):
            raise ConfigError(f"invalid client order id namespace/token: {namespace!r}/{token!r}")
        if len(namespace) + len(token) > 20:
            raise ConfigError("client order id namespace + token must be <= 20 characters")
        self.namespace = namespace
        self.prefix = namespace + token
        self._counter = itertools.count(1)

    @classmethod
    def for_process(cls, namespace: str) -> ClientOrderIds:
        """Build the generator with a random per-process token."""
        return cls(namespace, "".join(secrets.choice(_ALPHABET) for _ in range(6)) + "-")

    def next(self) -> str:
        """Return a fresh client order id."""
        return f"{self.prefix}{next(self._counter)}"

    def is_ours(self, client_order_id: str) -> bool:
        """Return True for ids this bot (any of its processes) generated."""
        return client_order_id.startswith(self.namespace)

    def __repr__(self) -> str:
        return f"ClientOrderIds(prefix={self.prefix!r})"
