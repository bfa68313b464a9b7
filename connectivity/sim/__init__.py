"""The simulated venue: real loopback servers, matching, market activity, fault injection.

Library code never imports this package (tests/test_layers.py enforces it); tests, scripts,
benchmarks and each venue's ``sim`` module do. ``venue`` (:class:`SimVenue`, configured by
one :class:`SimSettings`) is what a venue's simulator dialect subclasses; ``loopback``,
``http`` and ``wsserver`` are its servers; ``market`` the random book process; ``faults`` the
knobs every venue honours. ``engine`` is the venue-neutral matching engine (``orders`` its
requests, results and events; ``accounts`` balances and fees; ``filters`` the instrument rules;
``orderbook`` the true book in price-time priority; ``matching`` the fills); the market
process trades in the engine's book, so accounts' orders are part of the published depth.
"""
