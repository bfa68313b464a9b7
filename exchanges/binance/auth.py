"""Binance request signing: one signer object shared by REST, WS-API and FIX Logon.

Payload rules (specs/binance.md 1.2, 5, 6.3):
- REST: the query string concatenated with the body, exactly the bytes sent, in send order.
  HMAC gives lowercase hex; RSA and Ed25519 give base64, which must be percent-encoded in a URL.
- WS-API: every param except ``signature``, sorted by name, ``k=v`` joined by ``&``, not
  percent-encoded; the signature travels in JSON (hex or base64, never URL-encoded).
- FIX Logon: the values of tags 35, 49, 56, 34, 52 joined by SOH; Ed25519 only; base64.

Keys are loaded once; no key material or signature input ever reaches a repr or an error.
"""

from __future__ import annotations

import base64
import enum
import hashlib
import hmac
from collections.abc import Mapping
from urllib.parse import quote

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, padding, rsa

from connectivity.config import Credentials
from connectivity.errors import ConfigError

__all__ = ["BinanceSigner", "KeyType"]

SOH = "\x01"


class KeyType(enum.Enum):
    """Binance API key types."""

    HMAC = "HMAC"
    RSA = "RSA"
    ED25519 = "ED25519"


class BinanceSigner:
    """Sign Binance payloads with an HMAC secret, an RSA key or an Ed25519 key."""

    def __init__(self, credentials: Credentials) -> None:
        self.api_key = credentials.api_key
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

    def rest_signature(self, query: str, body: str = "") -> str:
        """Return the URL-ready ``signature`` value for a REST request's exact query and body."""
        return quote(self.sign((query + body).encode("ascii")), safe="")

    def ws_api_signature(self, params: Mapping[str, object]) -> str:
        """Return the WS-API signature over ``params`` (sorted, unencoded, sans signature)."""
        payload = "&".join(
            f"{name}={_ws_value(value)}"
            for name, value in sorted(params.items())
            if name != "signature"
        )
        return self.sign(payload.encode("utf-8"))

    def fix_logon_signature(
        self, sender_comp_id: str, target_comp_id: str, msg_seq_num: int, sending_time: str
    ) -> str:
        """Return the base64 Ed25519 signature for a FIX Logon (tag 96)."""
        if self.key_type is not KeyType.ED25519:
            raise ConfigError("Binance FIX Logon requires an Ed25519 API key")
        payload = SOH.join(("A", sender_comp_id, target_comp_id, str(msg_seq_num), sending_time))
        return self.sign(payload.encode("ascii"))

    def __repr__(self) -> str:
        return f"BinanceSigner(key_type={self.key_type.value}, api_key={self.api_key[:4]}...)"


def _ws_value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
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
