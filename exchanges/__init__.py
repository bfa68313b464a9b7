"""Venue integrations. Each venue package has the same role-named modules.

:data:`REGISTRY` maps a venue name to its connector class (explicit and greppable: adding a
venue means adding a line here).
"""

from exchanges.binance import BinanceMarketData

__all__ = ["REGISTRY"]

REGISTRY: dict[str, type] = {
    "binance": BinanceMarketData,
}
