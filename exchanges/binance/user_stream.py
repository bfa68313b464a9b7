"""The Binance user-data stream: WS-API events parsed with the account's symbols and merged.

Wire it through :func:`~exchanges.binance.wsapi.binance_ws_api_client` (``user_stream=``):
the client subscribes on every connection (``userDataStream.subscribe`` after an Ed25519
logon, ``userDataStream.subscribe.signature`` otherwise), hands each event's payload here and
says when its connection is lost; ``eventStreamTerminated`` renews the subscription on the
same connection.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from connectivity.connector.user_stream import StreamHealth, UserItem, UserStream
from connectivity.core.clock import Clock
from connectivity.core.counters import ErrorCounter
from connectivity.core.state import StateManager
from connectivity.runtime import Supervisor
from exchanges.binance.symbols import SymbolMap
from exchanges.binance.user_parsers import parse_user_event

__all__ = ["binance_user_stream"]


def binance_user_stream(
    state: StateManager,
    symbols: SymbolMap,
    *,
    clock: Clock,
    supervisor: Supervisor,
    health: StreamHealth | None = None,
    errors: ErrorCounter | None = None,
    on_other: Callable[[UserItem], None] | None = None,
) -> UserStream:
    """Build the user stream of one Binance account (symbols named as ``symbols`` maps them)."""

    def parse(payload: Any, ts_recv: int) -> tuple[UserItem, ...]:
        return parse_user_event(payload, ts_recv, symbols.from_venue)

    return UserStream(
        state, parse, clock=clock, supervisor=supervisor, health=health, errors=errors,
        on_other=on_other,
    )  # fmt: skip
