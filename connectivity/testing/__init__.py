"""Test helpers every venue reuses: the shared contract suite and FIX script harnesses.

- ``market_data_contract``: :class:`MarketDataContract`, behavioural tests of a market-data
  connector against its simulator; a venue subclasses it with its two factories.
- ``fix_scripts`` / ``fix_script_sockets`` / ``quickfix_peer``: QuickFIX session scripts.
"""
