"""Copy-me skeleton of a venue's market data (never registered in ``exchanges.REGISTRY``).

Copy this package to ``exchanges/<venue>/``, rename ``Template*`` to ``<Venue>*`` and replace
every venue fact and wire shape with the venue's documented ones; ``docs/adding-a-venue.md``
walks through it step by step. Every file here works as it is: the suite type-checks it,
checks that :class:`~exchanges._template.dialect.TemplateDialect` satisfies
:class:`~connectivity.connector.dialect.MarketDataDialect`, and runs the market-data contract
suite against its simulator (``tests/exchanges/test_template.py``).

Modules (role-named, like every venue):

- ``constants``  REQUIRED  venue facts as data: URLs, paths, stream templates, limits, scales,
                           the integrity mode and rule
- ``parsers``    REQUIRED  pure functions: wire payload (+ receive time) -> neutral values
- ``dialect``    REQUIRED  the :class:`MarketDataDialect` (facts + small hooks)
- ``connector``  REQUIRED  config and the named constructor building real collaborators
- ``sim``        REQUIRED  the venue's wire dialect of ``connectivity.sim`` (tests, scripts)
- ``endpoints``, ``errors``, ``auth``, ``symbols``  OPTIONAL for public market data; needed
                           for order entry (see the playbook)
"""
