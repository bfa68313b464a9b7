"""Binance Spot: REST, websocket market and user data, WS-API and FIX."""
