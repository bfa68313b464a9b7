"""Binance Spot: REST, websocket market and user data, WS-API and FIX."""

from exchanges.binance.connector import BinanceMarketData, BinanceMarketDataConfig

__all__ = ["BinanceMarketData", "BinanceMarketDataConfig"]
