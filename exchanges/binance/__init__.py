"""Binance Spot: REST, websocket market data, the WS-API client, signing and error codes.

Role-named modules: ``constants`` (every venue fact), ``endpoints`` (REST endpoints and WS-API
methods), ``auth`` (the signer; ``python -m exchanges.binance.auth`` debugs signatures),
``rest`` (signed REST on the venue clock, one retry after -1021), ``symbols``, ``parsers``,
``errors``, ``wsapi`` (the WS-API codec and its per-connection logon and user-data
subscription), ``user_parsers`` and ``user_stream`` (user-data events into the state manager),
``dialect`` (Binance as a market-data dialect of the generic connector), ``streams`` and
``connector`` (thin named constructors over the generic router and connector), ``recording``
(the cryptofeed reader) and ``sim`` (the simulated venue, which library code never imports).
"""

from exchanges.binance.auth import BinanceSigner, KeyType
from exchanges.binance.connector import BinanceMarketData, BinanceMarketDataConfig
from exchanges.binance.dialect import BinanceDialect
from exchanges.binance.errors import BINANCE_ERRORS, binance_error_mapper, error_for_code
from exchanges.binance.rest import BinanceRest
from exchanges.binance.symbols import SymbolMap, parse_exchange_info, parse_instrument
from exchanges.binance.user_parsers import BinanceListStatus, parse_user_event
from exchanges.binance.user_stream import binance_user_stream
from exchanges.binance.wsapi import BinanceWsApiCodec, binance_on_connect, binance_ws_api_client

__all__ = [
    "BINANCE_ERRORS",
    "BinanceDialect",
    "BinanceListStatus",
    "BinanceMarketData",
    "BinanceMarketDataConfig",
    "BinanceRest",
    "BinanceSigner",
    "BinanceWsApiCodec",
    "KeyType",
    "SymbolMap",
    "binance_error_mapper",
    "binance_on_connect",
    "binance_user_stream",
    "binance_ws_api_client",
    "error_for_code",
    "parse_exchange_info",
    "parse_instrument",
    "parse_user_event",
]
