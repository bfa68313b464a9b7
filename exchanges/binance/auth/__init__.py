"""Binance request signing: one signer object shared by REST, WS-API and FIX Logon.

Payload rules (specs/binance.md 1.2, 5, 6.3):
- REST: the query string concatenated with the body, exactly the bytes sent, in send order;
  any non-ASCII character is percent-encoded (UTF-8, upper-case hex) *before* signing, so the
  bytes signed and the bytes sent are the same. ``recvWindow`` and ``timestamp`` go last (in
  the body when there is one) and ``signature`` after them, outside the signed part. HMAC
  gives lowercase hex; RSA and Ed25519 give base64, which is percent-encoded in a URL.
- WS-API: every param except ``signature``, sorted by name, ``k=v`` joined by ``&``, not
  percent-encoded; the signature travels in JSON (hex or base64, never URL-encoded).
- FIX Logon: the values of tags 35, 49, 56, 34, 52 joined by SOH; Ed25519 only; base64.

``timestamp`` is the local clock plus the venue offset (:mod:`connectivity.core.timesync`).
Keys are loaded once; no key material or signature input ever reaches a repr or an error.
``python -m exchanges.binance.auth`` is the signature-debugging command (see ``auth_cli``).
"""

from __future__ import annotations

import base64
import enum
import hashlib
import hmac
import re
import sys
from collections.abc import Mapping
from decimal import Decimal
from urllib.parse import quote

import attrs
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, padding, rsa

from connectivity.config import Credentials
from connectivity.core.clock import NS_PER_MS, Clock
from connectivity.core.decimal import format_decimal
from connectivity.core.timesync import OffsetSource
from connectivity.errors import ConfigError
from connectivity.transport.http import OutgoingRequest

__all__ = [
    "API_KEY_HEADER",
    "BinanceSigner",
    "KeyType",
    "fix_logon_payload",
    "rest_payload",
    "ws_api_payload",
]

SOH = "\x01"
API_KEY_HEADER = "X-MBX-APIKEY"
DEFAULT_RECV_WINDOW_MS = 5000  # the venue's own default; the docs advise <= 5000
MAX_RECV_WINDOW_MS = 60000
_SIGNER_OWNED = ("timestamp", "signature")  # a caller-supplied value would defeat the signer
_NON_ASCII = re.compile(rb"[\x80-\xff]")


class KeyType(enum.Enum):
    """Binance API key types."""

    HMAC = "HMAC"
    RSA = "RSA"
    ED25519 = "ED25519"


def _percent_encode_non_ascii(data: bytes) -> bytes:
    return _NON_ASCII.sub(lambda m: b"%%%02X" % m[0][0], data)


def rest_payload(query: str, body: str | bytes = "") -> bytes:
    """Return the REST signature payload: query + body, non-ASCII percent-encoded (UTF-8)."""
    raw = body if isinstance(body, bytes) else body.encode("utf-8")
    return _percent_encode_non_ascii(query.encode("utf-8") + raw)


def ws_api_payload(params: Mapping[str, object]) -> str:
    """Return the WS-API payload: every param but ``signature``, sorted, not percent-encoded."""
    pairs = sorted(
        ((name, value) for name, value in params.items() if name != "signature"),
        key=lambda pair: pair[0],
    )
    return "&".join(f"{name}={_ws_value(value)}" for name, value in pairs)


def fix_logon_payload(
    sender_comp_id: str, target_comp_id: str, msg_seq_num: int, sending_time: str
) -> str:
    """Return the FIX Logon payload: tags 35, 49, 56, 34, 52 joined by SOH."""
    return SOH.join(("A", sender_comp_id, target_comp_id, str(msg_seq_num), sending_time))


def _recv_window(value: int | Decimal) -> int | Decimal:
    number = Decimal(value)
    if (
        not number.is_finite()
        or not 0 < number <= MAX_RECV_WINDOW_MS
        or len(format_decimal(number).partition(".")[2]) > 3
    ):
        raise ConfigError(f"recvWindow must be in (0, {MAX_RECV_WINDOW_MS}] ms with <= 3 decimals")
    return int(number) if number == number.to_integral_value() else number


class BinanceSigner:
    """Sign Binance requests with an HMAC secret, an RSA key or an Ed25519 key.

    ``clock`` and ``offset`` (the venue clock estimate) make the ``timestamp`` of REST and
    WS-API requests; a signer without a clock signs only given payloads (FIX Logon, the CLI).
    """

    def __init__(
        self,
        credentials: Credentials,
        *,
        clock: Clock | None = None,
        offset: OffsetSource | None = None,
        recv_window_ms: int | Decimal = DEFAULT_RECV_WINDOW_MS,
    ) -> None:
        self.api_key = credentials.api_key
        self._clock = clock
        self._offset = offset
        self.recv_window = _recv_window(recv_window_ms)
        self._secret: bytes | None = None
        self._private: ed25519.Ed25519PrivateKey | rsa.RSAPrivateKey | None = None
        if credentials.private_key_pem is not None:
            self._private = _load_private_key(
                credentials.private_key_pem, credentials.private_key_password
            )
            self.key_type = (
                KeyType.ED25519
                if isinstance(self._private, ed25519.Ed25519PrivateKey)
                else KeyType.RSA
            )
        elif credentials.secret:
            self._secret = credentials.secret.encode()
            self.key_type = KeyType.HMAC
        else:
            raise ConfigError("Binance credentials need a secret or a private key")

    def sign(self, payload: bytes) -> str:
        """Return the raw signature of ``payload``: hex for HMAC, base64 otherwise."""
        if self._secret is not None:
            return hmac.new(self._secret, payload, hashlib.sha256).hexdigest()
        if isinstance(self._private, ed25519.Ed25519PrivateKey):
            return base64.b64encode(self._private.sign(payload)).decode("ascii")
        assert isinstance(self._private, rsa.RSAPrivateKey)
        raw = self._private.sign(payload, padding.PKCS1v15(), hashes.SHA256())
        return base64.b64encode(raw).decode("ascii")

    def rest_signature(self, query: str, body: str | bytes = "") -> str:
        """Return the URL-ready ``signature`` value for a REST request's exact query and body."""
        return quote(self.sign(rest_payload(query, body)), safe="")

    def timestamp_ms(self) -> int:
        """Return the venue-clock timestamp to send: local clock + estimated offset, in ms."""
        if self._clock is None:
            raise ConfigError("BinanceSigner needs a clock to timestamp requests")
        local = self._clock.time_ns()
        offset = self._offset.offset_ns(local) if self._offset is not None else 0
        return (local + offset) // NS_PER_MS

    def api_key_headers(self) -> dict[str, str]:
        """Return the API-key header, for signed and API-key-only (unsigned) requests alike."""
        return {API_KEY_HEADER: self.api_key}

    def sign_request(self, request: OutgoingRequest) -> OutgoingRequest:
        """Add ``recvWindow``, ``timestamp``, ``signature`` and the key header (transport hook).

        Non-ASCII characters are percent-encoded first, so the signed payload is exactly the
        query and body that go on the wire; the signature follows the signed part.
        """
        content_type = request.headers.get("Content-Type", "")
        if request.body and "form-urlencoded" not in content_type:
            raise ConfigError(f"{request.method} {request.path}: Binance signs form bodies only")
        query = rest_payload(request.query).decode("ascii")
        body = rest_payload("", request.body)
        names = _param_names(query) | _param_names(body.decode("ascii"))
        owned = [name for name in _SIGNER_OWNED if name in names]
        if owned:
            raise ConfigError(f"{request.method} {request.path}: the signer sets {owned[0]}")
        stamp = f"timestamp={self.timestamp_ms()}"
        if "recvWindow" not in names:
            stamp = f"recvWindow={format_decimal(Decimal(self.recv_window))}&{stamp}"
        if body:
            body = body + b"&" + stamp.encode("ascii")
        else:
            query = f"{query}&{stamp}" if query else stamp
        signature = "signature=" + self.rest_signature(query, body)
        if body:
            body = body + b"&" + signature.encode("ascii")
        else:
            query = f"{query}&{signature}"
        headers = {**request.headers, **self.api_key_headers()}
        return attrs.evolve(request, query=query, body=body, headers=headers)

    def ws_api_signature(self, params: Mapping[str, object]) -> str:
        """Return the WS-API signature over ``params`` (sorted, unencoded, sans signature)."""
        return self.sign(ws_api_payload(params).encode("utf-8"))

    def fix_logon_signature(
        self, sender_comp_id: str, target_comp_id: str, msg_seq_num: int, sending_time: str
    ) -> str:
        """Return the base64 Ed25519 signature for a FIX Logon (tag 96)."""
        if self.key_type is not KeyType.ED25519:
            raise ConfigError("Binance FIX Logon requires an Ed25519 API key")
        payload = fix_logon_payload(sender_comp_id, target_comp_id, msg_seq_num, sending_time)
        return self.sign(payload.encode("ascii"))

    def __repr__(self) -> str:
        return f"BinanceSigner(key_type={self.key_type.value}, api_key={self.api_key[:4]}...)"


def _param_names(encoded: str) -> set[str]:
    return {pair.partition("=")[0] for pair in encoded.split("&") if pair}


def _ws_value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Decimal):
        return format(value, "f")  # never an exponent
    return str(value)


def _load_private_key(
    pem: bytes, password: bytes | None
) -> ed25519.Ed25519PrivateKey | rsa.RSAPrivateKey:
    try:
        key = serialization.load_pem_private_key(pem, password=password)
    except (ValueError, TypeError, UnsupportedAlgorithm):
        # The cause may quote key bytes: keep it out of the message and the chain.
        raise ConfigError("cannot load the private key (bad PEM, password or type)") from None
    if not isinstance(key, (ed25519.Ed25519PrivateKey, rsa.RSAPrivateKey)):
        raise ConfigError(f"unsupported private key type {type(key).__name__}")
    return key


if __name__ == "__main__":  # python -m exchanges.binance.auth
    from exchanges.binance.auth_cli import main

    sys.exit(main())
