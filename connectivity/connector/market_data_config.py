"""Setting up a market-data connector: its config value and its real websocket factory.

:class:`MarketDataConfig` is what a bot chooses (symbols in order of importance, URLs, book
depths, snapshot planning, watchdogs); a venue subclasses it to change defaults and add its
own knobs. :func:`websocket_connections` builds real connections with the venue's limits; a
venue's ``from_config`` passes it to
:class:`~connectivity.connector.market_data.MarketDataConnector`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

import attrs

from connectivity.core.clock import Clock
from connectivity.errors import ConfigError
from connectivity.transport.websocket import (
    MessageHandler,
    WebSocketConnection,
    WebSocketSettings,
    websocket_client_factory,
)

__all__ = ["ConnectionFactory", "MarketDataConfig", "websocket_connections"]

ConnectionFactory = Callable[..., WebSocketConnection]


def _as_tuple(symbols: Iterable[str]) -> tuple[str, ...]:
    return tuple(symbols)


def _positive_int(_: object, attribute: attrs.Attribute[Any], value: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigError(f"{attribute.name} must be an int >= 1, got {value!r}")


def _positive_int_or_none(_: object, attribute: attrs.Attribute[Any], value: int | None) -> None:
    if value is not None:
        _positive_int(_, attribute, value)


def _share(_: object, attribute: attrs.Attribute[Any], value: float) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value <= 1:
        raise ConfigError(f"{attribute.name} must be in (0, 1], got {value!r}")


@attrs.frozen(kw_only=True)
class MarketDataConfig:
    """What to stream and from where; None limits mean "the venue's own" (its dialect's).

    Keyword-only: a venue's config subclass redefines some defaults, which reorders fields.
    """

    symbols: tuple[str, ...] = attrs.field(converter=_as_tuple)  # most important first
    rest_url: str = ""
    ws_url: str = ""
    # Levels per side the bot needs; the snapshot is the cheapest weight tier covering it, per
    # symbol in ``book_depths``; ``snapshot_limit`` forces one limit for all. A book is exact
    # only as deep as its snapshot.
    book_depth: int = 20
    book_depths: Mapping[str, int] = attrs.field(factory=dict, converter=dict)
    snapshot_limit: int | None = attrs.field(default=None, validator=_positive_int_or_none)
    # Once a book is valid, deepen it to cover this many levels (one at a time, the book stays
    # valid, only while less than ``deepen_budget_share`` of the window's weight is used).
    deep_book_depth: int | None = None
    deepen_budget_share: float = attrs.field(default=0.5, validator=_share)
    snapshot_concurrency: int = 8
    max_streams_per_connection: int | None = None
    subscribe_batch: int = 200
    ack_timeout_s: float = 10.0
    stream_stale_after_s: float | None = 30.0  # per-subscription data watchdog
    book_stale_after_s: float | None = None  # flag a book with no update for this long
    snapshot_retry_s: float = 1.0
    # Deltas kept per symbol while its snapshot is awaited (oldest dropped past it): the
    # snapshot covers every delta sent before the venue took it, so only a round trip's worth
    # is needed; bounds memory when thousands of symbols wait.
    max_buffered_deltas: int = attrs.field(default=100, validator=_positive_int)
    ws_settings: WebSocketSettings | None = None


def websocket_connections(
    clock: Clock, settings: WebSocketSettings, **wire: Any
) -> ConnectionFactory:
    """Return a factory of real websocket connections with the venue's ``settings``."""
    factory = websocket_client_factory(**wire)

    def connection(
        url: str, on_message: MessageHandler, name: str, **callbacks: Any
    ) -> WebSocketConnection:
        return WebSocketConnection(
            url, on_message, clock=clock, settings=settings, factory=factory, name=name, **callbacks
        )

    return connection
