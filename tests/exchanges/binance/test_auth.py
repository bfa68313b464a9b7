"""Binance signing against the venue's published vectors (specs/binance.md 1.3)."""

from urllib.parse import unquote

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa

from connectivity.config import Credentials
from connectivity.errors import ConfigError
from exchanges.binance.auth import BinanceSigner, KeyType

V1_KEY = "vmPUZE6mv9SD5VNHk4HlWFsOr6aKE2zvsw0MuIgwCIPy6utIco14y7Ju91duEh8A"
V1_SECRET = "NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j"
V1_PAYLOAD = (
    "symbol=LTCBTC&side=BUY&type=LIMIT&timeInForce=GTC&quantity=1&price=0.1"
    "&recvWindow=5000&timestamp=1499827319559"
)
V5_PEM = (
    b"-----BEGIN PRIVATE KEY-----\n"
    b"MC4CAQAwBQYDK2VwBCIEIIJEYWtGBrhACmb9Dvy+qa8WEf0lQOl1s4CLIAB9m89u\n"
    b"-----END PRIVATE KEY-----\n"
)
V5_SIGNATURE = (
    "4MHXelVVcpkdwuLbl6n73HQUXUf1dse2PCgT1DYqW9w8AVZ1RACFGM+5UdlGPrQHrgtS3CvsRURC1oj73j8gCA=="
)


def test_hmac_rest_signature_matches_official_vector() -> None:
    signer = BinanceSigner(Credentials(api_key=V1_KEY, secret=V1_SECRET))
    assert signer.key_type is KeyType.HMAC
    expected = "c8db56825ae71d6d79447849e617115f4a920fa2acdcab2b053c4b2838bd6b71"
    assert signer.rest_signature(V1_PAYLOAD) == expected
    # Query and body are concatenated with no separator: splitting them changes nothing.
    split = V1_PAYLOAD.index("&quantity")
    assert signer.rest_signature(V1_PAYLOAD[:split], V1_PAYLOAD[split:]) == expected


def test_ed25519_fix_logon_signature_matches_official_vector() -> None:
    signer = BinanceSigner(Credentials(api_key="key", private_key_pem=V5_PEM))
    assert signer.key_type is KeyType.ED25519
    sig = signer.fix_logon_signature("EXAMPLE", "SPOT", 1, "20240627-11:17:25.223")
    assert sig == V5_SIGNATURE
    assert len(sig) == 88


def test_base64_rest_signature_is_percent_encoded_and_verifies() -> None:
    signer = BinanceSigner(Credentials(api_key="key", private_key_pem=V5_PEM))
    sig = signer.rest_signature(V1_PAYLOAD)
    assert "+" not in sig and "/" not in sig and "=" not in sig
    public = serialization.load_pem_private_key(V5_PEM, None).public_key()
    assert isinstance(public, ed25519.Ed25519PublicKey)
    import base64

    public.verify(base64.b64decode(unquote(sig)), V1_PAYLOAD.encode())


def test_rsa_signature_is_pkcs1v15_sha256_base64() -> None:
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    signer = BinanceSigner(Credentials(api_key="key", private_key_pem=pem))
    assert signer.key_type is KeyType.RSA
    import base64

    raw = base64.b64decode(signer.sign(b"payload"))
    key.public_key().verify(raw, b"payload", padding.PKCS1v15(), hashes.SHA256())
    with pytest.raises(ConfigError, match="Ed25519"):
        signer.fix_logon_signature("A", "SPOT", 1, "20240627-11:17:25.223")


def test_ws_api_payload_is_sorted_unencoded_and_skips_signature() -> None:
    signer = BinanceSigner(Credentials(api_key=V1_KEY, secret=V1_SECRET))
    params = {"timestamp": 1, "apiKey": "k", "symbol": "币安人生USDT", "signature": "x"}
    import hashlib
    import hmac

    payload = "apiKey=k&symbol=币安人生USDT&timestamp=1".encode()
    expected = hmac.new(V1_SECRET.encode(), payload, hashlib.sha256).hexdigest()
    assert signer.ws_api_signature(params) == expected


def test_secrets_never_reach_repr_or_errors() -> None:
    signer = BinanceSigner(Credentials(api_key=V1_KEY, secret=V1_SECRET))
    assert V1_SECRET not in repr(signer) and V1_KEY not in repr(signer)
    with pytest.raises(ConfigError) as info:
        BinanceSigner(
            Credentials(api_key="k", private_key_pem=b"-----BEGIN PRIVATE KEY-----\nAAAA")
        )
    assert "AAAA" not in str(info.value) and info.value.__cause__ is None
    with pytest.raises(ConfigError):
        BinanceSigner(Credentials(api_key="k"))
