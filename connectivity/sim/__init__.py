"""The simulated venue: real loopback servers, matching, market activity, fault injection.

Library code never imports this package (tests/test_layers.py enforces it); tests, scripts,
benchmarks and each venue's ``sim`` module do.
"""
