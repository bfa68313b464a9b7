"""All I/O: HTTP, websocket and FIX transports. Third-party errors are translated here."""
