"""Pure logic: models, exact decimals, clock, books, state, limiter. No I/O, no gevent."""
