"""Venue integrations. Each venue package has the same role-named modules.

:data:`REGISTRY` maps a venue name to its market-data connector class (explicit and
greppable: adding a venue means adding a line here). ``exchanges._template`` is the copy-me
skeleton (``docs/adding-a-venue.md``) and is never registered.
"""

from connectivity.connector.market_data import MarketDataConnector
from exchanges.binance import BinanceMarketData

__all__ = ["REGISTRY"]

REGISTRY: dict[str, type[MarketDataConnector]] = {
    "binance": BinanceMarketData,
}
