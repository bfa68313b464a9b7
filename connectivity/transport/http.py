"""REST transport: one pooled ``requests.Session`` per venue, exact signed bytes, typed errors.

:meth:`RestClient.request`: encode (order kept) -> limiter -> pool slot -> signer -> send ->
usage headers correct the limiter -> status and body mapped onto :mod:`connectivity.errors`.

- The final URL goes to ``requests`` unchanged (its re-quoting is bypassed): the bytes the
  signer saw are the bytes sent. The pool blocks rather than open extra sockets (a greenlet
  waits at most ``pool_timeout``) and nothing is ever resent automatically.
- Outcome policy: a request is *idempotent* only when the caller says so (default: GET). For
  other requests every ending that may follow transmission (read timeout, dropped connection,
  5xx, 408) raises :class:`~connectivity.errors.OrderOutcomeUnknown`, never a rejection.
  429/418 block the limiter and raise ``RateLimited``/``Banned`` (``status`` set; a local
  refusal before sending has ``status`` None); neither is a ``Rejected``.
- Errors carry venue, ``"METHOD /path"`` (never the query, signature or key), status, code and
  the venue's reply, truncated. Headers are never logged or shown in a repr.
"""

from __future__ import annotations

import contextlib
import email.utils
import logging
import math
from collections.abc import Callable, Iterable, Mapping
from decimal import Decimal
from typing import Any, Protocol
from urllib.parse import quote, urlencode

import attrs
import gevent.lock
import orjson
import requests
import requests.adapters
import urllib3.exceptions
from urllib3.util.retry import Retry

import connectivity.errors as errors
from connectivity.core.clock import NS_PER_SECOND, Clock
from connectivity.core.latency import LatencyRecorder
from connectivity.core.ratelimit import RateLimiter

__all__ = [
    "EndpointStats",
    "ErrorMapper",
    "OutgoingRequest",
    "Params",
    "RequestSigner",
    "RestClient",
    "RestResponse",
    "encode_params",
    "make_session",
]

log = logging.getLogger(__name__)

ParamValue = str | int | Decimal | bool | None
Params = Mapping[str, ParamValue] | Iterable[tuple[str, ParamValue]]
QuoteVia = Callable[..., str]  # urllib.parse.quote or quote_plus
#: ``(status, raw body, response headers) -> error or None`` (None: use the default mapping).
ErrorMapper = Callable[[int, bytes, Mapping[str, str]], errors.ConnectivityError | None]

DEFAULT_RETRY_AFTER = {429: 1.0, 418: 120.0}  # when the venue omits the header; 418 >= 2 min


def encode_params(params: Params, quote_via: QuoteVia = quote) -> str:
    """Encode ``params`` as ``k=v&...`` in the given order; ``None`` values are left out."""
    items = params.items() if isinstance(params, Mapping) else params
    pairs: list[tuple[str, str]] = []
    for key, value in items:
        if value is None:
            continue
        if isinstance(value, bool):
            text = "true" if value else "false"
        elif isinstance(value, (str, int)):
            text = str(value)
        elif isinstance(value, Decimal) and value.is_finite():
            text = format(value, "f")  # never an exponent: venues reject "1E-8"
        else:  # float would lose exactness silently
            raise errors.ConfigError(f"parameter {key!r}: use str, int or Decimal, not {value!r}")
        pairs.append((key, text))
    return urlencode(pairs, quote_via=quote_via)


@attrs.frozen
class OutgoingRequest:
    """A fully encoded request; what a signer receives and returns."""

    method: str
    path: str
    query: str = attrs.field(default="", repr=False)  # may carry a signature
    body: bytes = attrs.field(default=b"", repr=False)
    headers: Mapping[str, str] = attrs.field(factory=dict, repr=False)  # may carry an API key


class RequestSigner(Protocol):
    """Sign the exact encoded request: add the signature (and key header), return what to send."""

    def sign_request(self, request: OutgoingRequest) -> OutgoingRequest:
        """Return ``request`` with its signature attached; its query and body are sent as is."""


@attrs.frozen
class RestResponse:
    """A successful (2xx) reply: parsed JSON plus timing."""

    status: int
    data: Any = attrs.field(repr=False)
    headers: Mapping[str, str] = attrs.field(repr=False)
    latency_ns: int
    sent_ns: int  # wall clock when the request left
    received_ns: int  # wall clock when the reply was complete


class EndpointStats(LatencyRecorder):
    """Latency of one endpoint: count, errors, last, and percentiles over recent samples."""

    __slots__ = ("errors",)
    WINDOW = 512

    def __init__(self) -> None:
        super().__init__(self.WINDOW)
        self.errors = 0

    def record(self, latency_ns: int, ok: bool) -> None:
        """Add one request's latency (the last ``WINDOW`` samples are kept)."""
        self.add(latency_ns)
        self.errors += not ok

    def summary(self) -> dict[str, int | None]:
        """Return count, errors, last, p50, p90, p99 (ns)."""
        return {"errors": self.errors} | super().summary()


def make_session(
    *, pool_connections: int = 8, pool_maxsize: int = 64, verify: bool | str = True
) -> requests.Session:
    """Build a session whose pool blocks when full and never retries (orders are not resent)."""
    session = requests.Session()
    session.trust_env = False  # proxies and .netrc come from explicit config, not the environment
    session.verify = verify
    adapter = requests.adapters.HTTPAdapter(
        pool_connections=pool_connections,
        pool_maxsize=pool_maxsize,
        pool_block=True,
        max_retries=Retry(total=0, read=False, redirect=0),
    )
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    return session


class RestClient:
    """A venue's REST transport: pooled session, limiter, signer, error mapping, latency.

    Without ``session`` it builds one with :func:`make_session` (``pool_connections`` hosts,
    ``pool_maxsize`` sockets each, ``verify``); an injected session is used exactly as given.
    ``usage_headers`` maps a response header (``X-MBX-USED-WEIGHT-1M``) to a limiter bucket.
    """

    def __init__(
        self,
        base_url: str,
        *,
        venue: str,
        clock: Clock,
        session: requests.Session | None = None,
        limiter: RateLimiter | None = None,
        signer: RequestSigner | None = None,
        error_mapper: ErrorMapper | None = None,
        usage_headers: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
        timeout: tuple[float, float] = (3.0, 10.0),
        pool_connections: int = 8,
        pool_maxsize: int = 64,
        pool_timeout: float = 10.0,
        verify: bool | str = True,
        quote_via: QuoteVia = quote,
    ) -> None:
        if verify is False:
            log.warning("%s: TLS certificate verification is OFF for %s", venue, base_url)
        self.base_url = base_url.rstrip("/")
        self.venue = venue
        self._clock = clock
        self._session = session or make_session(
            pool_connections=pool_connections, pool_maxsize=pool_maxsize, verify=verify
        )
        self._slots = gevent.lock.BoundedSemaphore(pool_maxsize)
        self._pool_timeout = pool_timeout
        self.limiter = limiter
        self._signer = signer
        self._error_mapper = error_mapper
        self._usage_headers = dict(usage_headers or {})  # header name -> limiter bucket
        self._headers = dict(headers or {})
        self.timeout = timeout
        self._quote_via = quote_via
        self.stats: dict[str, EndpointStats] = {}
        self.bad_usage_headers = 0
        self._closed = False

    def get(self, path: str, **kwargs: Any) -> RestResponse:
        """Send a GET (idempotent unless ``idempotent=False``)."""
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> RestResponse:
        """Send a POST (not idempotent unless ``idempotent=True``)."""
        return self.request("POST", path, **kwargs)

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Params | None = None,
        form: Params | None = None,
        json: Any = None,
        signed: bool = False,
        costs: Mapping[str, int] | None = None,
        idempotent: bool | None = None,
        timeout: tuple[float, float] | None = None,
        headers: Mapping[str, str] | None = None,
        max_wait: float | None = None,
        in_flight: str | None = None,
        endpoint: str | None = None,
    ) -> RestResponse:
        """Send one request and return its parsed 2xx reply, or raise a typed error.

        ``params`` go in the query string, ``form`` or ``json`` in the body; ``costs`` are
        drawn from the limiter first and an ``in_flight`` cap slot is held for the whole call
        (each waits up to ``max_wait``); ``idempotent`` defaults to True for GET only;
        ``endpoint`` names the stats entry (default ``"METHOD path"``).
        """
        if self._closed:
            raise errors.ClosedError(f"{self.venue} REST client is closed", venue=self.venue)
        method = method.upper()
        operation = f"{method} {path}"
        all_headers = {**self._headers, **(headers or {})}
        out = OutgoingRequest(
            method,
            path,
            encode_params(params, self._quote_via) if params is not None else "",
            self._body(form, json, all_headers, operation),
            all_headers,
        )
        if signed and self._signer is None:
            raise errors.ConfigError(f"{operation} is signed but the client has no signer")
        if (costs or in_flight) and self.limiter is None:
            raise errors.ConfigError(f"{operation} declares costs but the client has no limiter")
        idempotent = method in ("GET", "HEAD") if idempotent is None else idempotent
        stats = self.stats.get(endpoint or operation)
        if stats is None:
            stats = self.stats[endpoint or operation] = EndpointStats()
        held = contextlib.ExitStack()  # the in-flight slot and the pool slot, released last
        try:
            try:
                if in_flight is not None and self.limiter is not None:
                    held.enter_context(self.limiter.in_flight(in_flight, max_wait=max_wait))
                if costs and self.limiter is not None:
                    self.limiter.acquire(costs, max_wait=max_wait)
            except errors.RateLimited as exc:  # refused locally: nothing was sent
                exc.venue, exc.operation = exc.venue or self.venue, operation
                raise
            if not self._slots.acquire(timeout=self._pool_timeout):
                raise errors.ConnectFailed(
                    f"no pooled connection free within {self._pool_timeout}s; nothing was sent",
                    venue=self.venue,
                    operation=operation,
                )
            held.callback(self._slots.release)
            if signed and self._signer is not None:  # last, so a signed timestamp is fresh
                out = self._signer.sign_request(out)
            return self._exchange(out, operation, idempotent, timeout or self.timeout, stats)
        finally:
            held.close()

    def _body(self, form: Params | None, json: Any, headers: dict[str, str], op: str) -> bytes:
        if form is not None and json is not None:
            raise errors.ConfigError(f"{op}: pass form or json, not both")
        if form is not None:
            headers.setdefault("Content-Type", "application/x-www-form-urlencoded")
            return encode_params(form, self._quote_via).encode("ascii")
        if json is None:
            return b""
        headers.setdefault("Content-Type", "application/json")
        try:
            return orjson.dumps(json, default=_json_default)
        except TypeError as exc:
            raise errors.ConfigError(f"{op}: body is not JSON-serialisable: {exc}") from exc

    def _exchange(
        self,
        out: OutgoingRequest,
        operation: str,
        idempotent: bool,
        timeout: tuple[float, float],
        stats: EndpointStats,
    ) -> RestResponse:
        url = self.base_url + out.path
        clock = self._clock
        started, sent_ns = clock.monotonic_ns(), clock.time_ns()
        try:
            request = requests.Request(out.method, url, dict(out.headers), data=out.body or None)
            prepared = self._session.prepare_request(request)
            prepared.url = url + "?" + out.query if out.query else url  # the signed bytes
            reply = self._session.send(prepared, timeout=timeout, allow_redirects=False)
        except (requests.RequestException, urllib3.exceptions.HTTPError, OSError) as exc:
            stats.record(clock.monotonic_ns() - started, ok=False)
            raise self._translate(exc, operation, idempotent) from exc
        latency, received_ns = clock.monotonic_ns() - started, clock.time_ns()
        with reply:  # its connection goes back to the pool whatever the outcome
            status, content, headers = reply.status_code, reply.content, reply.headers
        self._apply_usage(headers, sent_ns)
        error: errors.ConnectivityError | None = None
        data: Any = None
        if not 200 <= status < 300:
            error = self._status_error(status, content, headers, operation, idempotent)
        elif content:
            try:
                data = orjson.loads(content)
            except orjson.JSONDecodeError:
                error = errors.ParseError("malformed JSON in a 2xx reply", payload=content)
                error.venue, error.operation, error.status = self.venue, operation, status
        stats.record(latency, ok=error is None)
        if error is not None:
            raise error
        return RestResponse(status, data, headers, latency, sent_ns, received_ns)

    def _apply_usage(self, headers: Mapping[str, str], sent_ns: int) -> None:
        if self.limiter is None:
            return
        for name, bucket in self._usage_headers.items():
            raw = headers.get(name)
            if raw is None:
                continue
            if not raw.isdigit():
                self.bad_usage_headers += 1
                continue
            # The venue counted the request when it arrived, so credit the window it left in.
            self.limiter.update_usage(bucket, int(raw), sent_ns)

    def _status_error(
        self, status: int, content: bytes, headers: Mapping[str, str], operation: str, idem: bool
    ) -> errors.ConnectivityError:
        context: dict[str, Any] = {"venue": self.venue, "operation": operation, "status": status}
        context.update(code=_venue_code(content), payload=content)
        if status in (429, 418):
            retry_after = self._retry_after(headers.get("Retry-After"), status)
            if self.limiter is not None:
                until = self._clock.time_ns() + round(retry_after * NS_PER_SECOND)
                reason = f"HTTP {status} on {operation}"
                self.limiter.block_until(until, reason, banned=status == 418)
            cls = errors.Banned if status == 418 else errors.RateLimited
            return cls(f"HTTP {status}: wait {retry_after}s", retry_after=retry_after, **context)
        if (status >= 500 or status == 408) and not idem:
            return errors.OrderOutcomeUnknown(
                f"HTTP {status}: it may have been executed", **context
            )
        mapped = self._error_mapper(status, content, headers) if self._error_mapper else None
        if mapped is not None:
            for key in ("venue", "operation", "status"):
                if getattr(mapped, key) is None:
                    setattr(mapped, key, context[key])
            return mapped
        if status in (401, 403):
            return errors.AuthError(f"HTTP {status}: not authorised", **context)
        if status == 408:
            return errors.RequestTimeout("HTTP 408: the venue timed out", **context)
        if status >= 500:
            return errors.ServerError(f"HTTP {status}: venue server error", **context)
        return errors.Rejected(f"HTTP {status}: request refused", **context)

    def _retry_after(self, raw: str | None, status: int) -> float:
        try:
            seconds = float(raw) if raw is not None else math.nan
        except ValueError:  # the HTTP-date form
            when = email.utils.parsedate_tz(raw or "")
            now = self._clock.time_ns() / NS_PER_SECOND
            seconds = email.utils.mktime_tz(when) - now if when else math.nan
        return max(0.0, seconds) if math.isfinite(seconds) else DEFAULT_RETRY_AFTER[status]

    def _translate(
        self, exc: BaseException, operation: str, idem: bool
    ) -> errors.ConnectivityError:
        context: dict[str, Any] = {"venue": self.venue, "operation": operation}
        name = type(exc).__name__
        if isinstance(exc, requests.exceptions.SSLError):
            return errors.ConnectFailed("TLS handshake or certificate check failed", **context)
        if isinstance(exc, requests.exceptions.ConnectTimeout) or _never_sent(exc):
            return errors.ConnectFailed(f"could not connect: {name}", **context)
        if isinstance(exc, _BAD_INPUT):  # refused by requests before sending
            return errors.ConfigError(f"bad URL or header: {name}", **context)
        # From here on the request may have reached the venue.
        error: errors.ConnectivityError
        if isinstance(exc, requests.exceptions.Timeout) or _read_timeout(exc):
            error = errors.RequestTimeout("no reply within the read timeout", **context)
        else:
            error = errors.ConnectionLost(f"connection dropped mid-request: {name}", **context)
        if idem:
            return error
        return errors.OrderOutcomeUnknown(f"{error.message}; it may have been executed", **context)

    def close(self) -> None:
        """Close the session and its pooled connections; later requests raise errors.ClosedError."""
        self._closed = True
        for adapter in self._session.adapters.values():
            _close_pools(adapter)
        self._session.close()

    def __enter__(self) -> RestClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"RestClient({self.venue!r}, {self.base_url!r}, closed={self._closed})"


_BAD_INPUT = (
    requests.exceptions.InvalidHeader,
    requests.exceptions.InvalidURL,
    requests.exceptions.InvalidSchema,
    requests.exceptions.MissingSchema,
)


def _close_pools(adapter: requests.adapters.BaseAdapter) -> None:
    """Close the sockets of every pool of ``adapter`` now.

    ``Session.close()`` only forgets the pools (urllib3 2 closes a pool when it is collected);
    one still referred to, by a reply an exception's traceback holds for instance, keeps its
    sockets open until the garbage collector runs.
    """
    if not isinstance(adapter, requests.adapters.HTTPAdapter):
        return
    for manager in [adapter.poolmanager, *adapter.proxy_manager.values()]:
        for key in manager.pools.keys():  # noqa: SIM118 (the container refuses iteration)
            pool = manager.pools.get(key)
            if pool is not None:
                pool.close()


def _reason(exc: BaseException) -> BaseException | None:
    inner = exc.args[0] if exc.args else None
    if isinstance(inner, urllib3.exceptions.MaxRetryError):
        return inner.reason
    return inner if isinstance(inner, BaseException) else None


def _never_sent(exc: BaseException) -> bool:
    """True when urllib3 says the connection was never established (so no byte left)."""
    return isinstance(_reason(exc), urllib3.exceptions.NewConnectionError)


def _read_timeout(exc: BaseException) -> bool:
    return isinstance(_reason(exc), urllib3.exceptions.ReadTimeoutError)


def _json_default(value: Any) -> str:
    if isinstance(value, Decimal) and value.is_finite():
        return format(value, "f")  # exact, as a string, never an exponent
    raise TypeError(f"cannot serialise {type(value).__name__}")


def _venue_code(content: bytes) -> int | str | None:
    """Pull a ``code`` field out of a JSON error body, if there is one."""
    if not content.startswith(b"{"):
        return None
    try:
        body = orjson.loads(content)
    except orjson.JSONDecodeError:
        return None
    code = body.get("code") if isinstance(body, dict) else None
    return code if isinstance(code, (int, str)) and not isinstance(code, bool) else None
