"""Two small test venues that drive the generic connector's other integrity styles end to end.

Neither is a registered venue (nothing in ``exchanges/`` knows them); each is a dialect plus
a simulator dialect on ``connectivity.sim`` and passes the full market-data contract suite:

- ``sequence``: per-connection sequence numbers (Coinbase-style ``sequence_num``), snapshots
  sent on subscription, subscriptions acknowledged by channel and symbol;
- ``checksum``: a CRC32 over the top 10 levels of a book kept at depth 25 (Kraken-style),
  snapshots sent on subscription, no acknowledgements at all.

``common`` holds what their simulators share (the true book, tickers and trades).
"""
