"""Pure logic: no I/O, no gevent, no requests (``tests/test_layers.py`` enforces it).

- ``clock``: the one time seam (``SystemClock``, ``ManualClock`` for tests).
- ``decimal``: exact venue decimal strings <-> fixed-point ints; tick/step rounding.
- ``filters``: an order checked against its instrument's filters before it is sent.
- ``timesync``: the venue clock-offset estimator (round-trip midpoints, min-RTT, drift).
- ``models``: frozen values (instruments, orders, fills, balances, book levels, trades).
- ``book`` / ``book_sync`` / ``book_integrity``: the L2 book (truncatable to a depth),
  snapshot + delta sync with a declared integrity mode and a rule as a strategy object
  (update-id ranges, per-connection sequences, top-N checksums), per-symbol resync, staleness.
- ``events``: the venue-neutral events a connector emits (book valid / invalid, top of book,
  public trade; order, fill, balance and correction events) and the ``EventSink`` type.
- ``state``: ``StateManager``, one truth for orders, fills and balances from every source
  (``order_rules``: the transition table and client order ids; ``order_record``,
  ``state_view``, ``state_restore``: its record, read side and rebuild; ``balances``;
  ``journal``: memory and file journals). ``reconcile``: venue snapshot vs our state.
- ``counters``: ``ErrorCounter``, the one count-and-log-sparingly policy for bad input.
- ``ratelimit``: weighted multi-bucket limiter with header correction, bans, in-flight caps.
- ``store``: sequence-number and message stores (FIX), an append-only journal.
- ``latency``: bounded latency samples with percentiles.
"""
