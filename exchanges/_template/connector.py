"""The template venue's market-data connector factory (REQUIRED).

The generic connector does the work; this module holds the venue's config defaults and the
one named constructor that builds real collaborators (REST client with the venue's limiter
and error mapping, websocket connections with its limits).
"""

from __future__ import annotations

import attrs

from connectivity.connector.market_data import (
    MarketDataConfig,
    MarketDataConnector,
    websocket_connections,
)
from connectivity.connector.recording import Recorder
from connectivity.core.clock import Clock, SystemClock
from connectivity.core.events import EventSink
from connectivity.core.ratelimit import Bucket, RateLimiter
from connectivity.transport.http import RestClient
from connectivity.transport.wsclient import WebSocketSettings
from exchanges._template.constants import REST_URL, VENUE, WEIGHT_BUCKET, WS_URL
from exchanges._template.dialect import TEMPLATE_WS_SETTINGS, TemplateDialect

__all__ = ["TemplateMarketDataConfig", "template_market_data"]


@attrs.frozen(kw_only=True)
class TemplateMarketDataConfig(MarketDataConfig):
    """What to stream and from where; defaults are the venue's production endpoints."""

    rest_url: str = REST_URL
    ws_url: str = WS_URL
    ws_settings: WebSocketSettings | None = TEMPLATE_WS_SETTINGS
    weight_per_minute: int = 600  # the venue's REST weight limit (snapshots draw from it)


def template_market_data(
    config: TemplateMarketDataConfig,
    *,
    clock: Clock | None = None,
    sink: EventSink | None = None,
    recorder: Recorder | None = None,
) -> MarketDataConnector:
    """Build the venue's market-data connector with real collaborators."""
    clock = clock or SystemClock()
    limiter = RateLimiter(
        clock, [Bucket(WEIGHT_BUCKET, config.weight_per_minute, 60.0)], name=VENUE
    )
    rest = RestClient(config.rest_url, venue=VENUE, clock=clock, limiter=limiter)
    return MarketDataConnector(
        config,
        TemplateDialect(),
        clock=clock,
        rest=rest,
        connection_factory=websocket_connections(clock, config.ws_settings or TEMPLATE_WS_SETTINGS),
        sink=sink,
        recorder=recorder,
    )
