"""The simulated venue: real loopback servers, matching, market activity, fault injection.

Library code never imports this package (tests/test_layers.py enforces it); tests, scripts,
benchmarks and each venue's ``sim`` module do. ``venue`` (:class:`SimVenue`, configured by
one :class:`SimSettings`) is what a venue's simulator dialect subclasses; ``loopback``,
``http`` and ``wsserver`` are its servers; ``market`` the random book process; ``faults`` the
knobs every venue honours.
"""
