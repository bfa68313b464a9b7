"""Binance Spot: REST, websocket market data, signing and error codes (WS-API and FIX next).

Role-named modules: ``constants`` (every venue fact), ``endpoints``, ``auth``, ``symbols``,
``parsers``, ``errors``, ``dialect`` (Binance as a market-data dialect of the generic
connector), ``streams`` and ``connector`` (thin named constructors over the generic router and
connector), ``recording`` (the cryptofeed reader) and ``sim`` (the simulated venue, which
library code never imports).
"""

from exchanges.binance.auth import BinanceSigner, KeyType
from exchanges.binance.connector import BinanceMarketData, BinanceMarketDataConfig
from exchanges.binance.dialect import BinanceDialect
from exchanges.binance.errors import BINANCE_ERRORS, binance_error_mapper, error_for_code
from exchanges.binance.symbols import SymbolMap, parse_exchange_info, parse_instrument

__all__ = [
    "BINANCE_ERRORS",
    "BinanceDialect",
    "BinanceMarketData",
    "BinanceMarketDataConfig",
    "BinanceSigner",
    "KeyType",
    "SymbolMap",
    "binance_error_mapper",
    "error_for_code",
    "parse_exchange_info",
    "parse_instrument",
]
