"""Pure logic: no I/O, no gevent, no requests (``tests/test_layers.py`` enforces it).

- ``clock``: the one time seam (``SystemClock``, ``ManualClock`` for tests).
- ``decimal``: exact venue decimal strings <-> fixed-point ints; tick/step rounding.
- ``models``: frozen values (instruments, orders, fills, balances, book levels, trades).
- ``book`` / ``book_sync`` / ``book_integrity``: the L2 book, snapshot + delta sync with a
  declared integrity mode, per-symbol resync and staleness.
- ``ratelimit``: weighted multi-bucket limiter with header correction, bans, in-flight caps.
- ``store``: sequence-number and message stores (FIX), an append-only journal.
- ``latency``: bounded latency samples with percentiles.
"""
