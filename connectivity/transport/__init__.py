"""All I/O: HTTP, websocket and FIX transports. Third-party errors are translated here.

- :mod:`connectivity.transport.http`: :class:`RestClient` over one pooled ``requests.Session``.
- :mod:`connectivity.transport.websocket`: :class:`WebSocketConnection`, a reader greenlet with
  watchdogs, reconnect, rollover and outbound pacing; :mod:`.wsframes` decodes RFC 6455 frames
  and :mod:`.wsclient` is the websocket-client handshake boundary and the connection settings.
- :mod:`connectivity.transport.wsapi`: :class:`WsApiClient`, blocking id-correlated requests
  over one such connection (a venue's "WebSocket API"); :mod:`.wsapi_codec` is its venue seam
  (:class:`WsApiCodec`, the request/answer/event values, :class:`WsApiMethod` data).
- :mod:`connectivity.transport.fix`: codec (bytes), session (sans-I/O), pump (greenlets).
"""

from connectivity.transport.http import (
    EndpointStats,
    ErrorMapper,
    OutgoingRequest,
    RequestSigner,
    RestClient,
    RestResponse,
    encode_params,
    make_session,
)
from connectivity.transport.websocket import (
    WebSocketConnection,
    WebSocketSettings,
    WebSocketStats,
    websocket_client_factory,
)
from connectivity.transport.wsapi import (
    Event,
    RateLimitUsage,
    Response,
    WsApiClient,
    WsApiCodec,
    WsApiMethod,
    WsApiSettings,
    WsApiStats,
    WsRequest,
)

__all__ = [
    "EndpointStats",
    "ErrorMapper",
    "Event",
    "OutgoingRequest",
    "RateLimitUsage",
    "RequestSigner",
    "Response",
    "RestClient",
    "RestResponse",
    "WebSocketConnection",
    "WebSocketSettings",
    "WebSocketStats",
    "WsApiClient",
    "WsApiCodec",
    "WsApiMethod",
    "WsApiSettings",
    "WsApiStats",
    "WsRequest",
    "encode_params",
    "make_session",
    "websocket_client_factory",
]
