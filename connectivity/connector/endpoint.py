"""Endpoint values: a venue's REST endpoints declared as data and turned into requests.

An :class:`Endpoint` says what a venue documents about one REST call: method, path, whether it
is signed, its rate-limit costs (fixed, or computed from the parameters, e.g. Binance's depth
weight grows with ``limit``) and which limiter buckets they draw from. Venue modules keep a
table of them; :meth:`Endpoint.call` runs one through a :class:`RestClient` (limiter -> signer
-> transport), so generic connector code never hard-codes a path or a weight.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import attrs

from connectivity.transport.http import Params, RestClient, RestResponse

__all__ = ["Endpoint"]

WeightFn = Callable[[Mapping[str, Any]], int]


@attrs.frozen
class Endpoint:
    """One REST endpoint of a venue, as documented."""

    name: str
    method: str
    path: str
    signed: bool = False
    api_key: bool = False  # sends the venue's API-key header though unsigned (Binance USER_STREAM)
    weight: int | WeightFn = 1  # cost in the ``bucket`` pool; a function of the params if it varies
    bucket: str = "weight"
    extra_costs: Mapping[str, int] = attrs.field(factory=dict)  # e.g. {"orders_10s": 1}

    def costs(self, params: Mapping[str, Any] | None = None) -> dict[str, int]:
        """Return the limiter costs of one call with ``params``."""
        weight = self.weight(params or {}) if callable(self.weight) else self.weight
        return {self.bucket: weight, **self.extra_costs}

    def call(
        self, client: RestClient, params: Mapping[str, Any] | None = None, **kwargs: Any
    ) -> RestResponse:
        """Send this endpoint through ``client`` with the right costs and signing."""
        query: Params | None = params if params else None
        return client.request(
            self.method,
            self.path,
            params=query,
            signed=self.signed,
            costs=self.costs(params),
            **kwargs,
        )
