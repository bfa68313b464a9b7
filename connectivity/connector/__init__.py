"""Wiring: the Connector base, the generic market-data connector and its venue dialect seam.

``base`` (life cycle, greenlets, sink, error counting); ``market_data`` (sharding,
subscriptions, snapshots, read API) with ``market_data_config`` (its config and websocket
factory) and ``snapshots`` (snapshot planning against the weight budget); ``dialect`` (what
a venue supplies); ``router`` (one connection's inbound frames); ``streams`` (desired vs
acknowledged subscriptions); ``recording`` (the venue-neutral ``--record`` format) and
``replay`` (a recording through a dialect and a fresh ``BookSync``); ``endpoint`` (REST
endpoint values); ``clock_sync`` (the supervised venue-clock sampler); ``user_stream`` (an
account's user-data events into the state manager).
"""

from connectivity.connector.base import Connector, EventSink, QueueSink
from connectivity.connector.clock_sync import ClockSync
from connectivity.connector.dialect import Channel, MarketDataDialect, SnapshotSource
from connectivity.connector.endpoint import Endpoint
from connectivity.connector.market_data import MarketDataConfig, MarketDataConnector
from connectivity.connector.streams import AckMode, Subscriptions
from connectivity.connector.user_stream import StreamTerminated, UserStream

__all__ = [
    "AckMode",
    "Channel",
    "ClockSync",
    "Connector",
    "Endpoint",
    "EventSink",
    "MarketDataConfig",
    "MarketDataConnector",
    "MarketDataDialect",
    "QueueSink",
    "SnapshotSource",
    "StreamTerminated",
    "Subscriptions",
    "UserStream",
]
