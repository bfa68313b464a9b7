"""Binance signing against the venue's published vectors (fixtures/signing_vectors.json)."""

import base64
import hashlib
import hmac
import json
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, unquote

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa
from hypothesis import given
from hypothesis import strategies as st

from connectivity.config import Credentials
from connectivity.core.clock import ManualClock
from connectivity.errors import ConfigError
from connectivity.transport.http import OutgoingRequest, encode_params
from exchanges.binance.auth import (
    BinanceSigner,
    KeyType,
    fix_logon_payload,
    rest_payload,
    ws_api_payload,
)

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

    raw = base64.b64decode(signer.sign(b"payload"))
    key.public_key().verify(raw, b"payload", padding.PKCS1v15(), hashes.SHA256())
    with pytest.raises(ConfigError, match="Ed25519"):
        signer.fix_logon_signature("A", "SPOT", 1, "20240627-11:17:25.223")


def test_ws_api_payload_is_sorted_unencoded_and_skips_signature() -> None:
    signer = BinanceSigner(Credentials(api_key=V1_KEY, secret=V1_SECRET))
    params = {"timestamp": 1, "apiKey": "k", "symbol": "币安人生USDT", "signature": "x"}

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


# -- official vectors (fixtures/signing_vectors.json, sources in fixtures/SOURCES.md) ----------

VECTORS = json.loads((Path(__file__).parent / "fixtures" / "signing_vectors.json").read_text())
T_NS = 1_000_000  # ns per ms


def _hmac_signer(timestamp_ms: int = 0, recv_window: int = 5000) -> BinanceSigner:
    clock = ManualClock(start_ns=timestamp_ms * T_NS)
    creds = Credentials(api_key=VECTORS["api_key"], secret=VECTORS["secret"])
    return BinanceSigner(creds, clock=clock, recv_window_ms=recv_window)


@pytest.mark.parametrize("vector", VECTORS["rest_hmac"], ids=lambda v: v["name"])
def test_signed_request_reproduces_official_rest_vector(vector: dict[str, Any]) -> None:
    signer = _hmac_signer(vector["timestamp"], vector["recv_window"])
    query = encode_params([tuple(pair) for pair in vector["params"]])
    signed = signer.sign_request(OutgoingRequest("POST", "/api/v3/order", query))
    assert signed.query == f"{vector['payload']}&signature={vector['signature']}"
    assert signed.headers["X-MBX-APIKEY"] == VECTORS["api_key"]


def test_non_ascii_is_percent_encoded_before_signing_even_in_a_raw_query() -> None:
    vector = VECTORS["rest_hmac"][1]
    signer = _hmac_signer(vector["timestamp"])
    raw = "&".join(f"{k}={v}" for k, v in vector["params"])  # the full-width digits, unencoded
    signed = signer.sign_request(OutgoingRequest("POST", "/api/v3/order", raw))
    assert signed.query == f"{vector['payload']}&signature={vector['signature']}"
    assert rest_payload(raw + "&recvWindow=5000&timestamp=1499827319559") == (
        vector["payload"].encode()
    )


@pytest.mark.parametrize("vector", VECTORS["ws_hmac"], ids=lambda v: v["name"])
def test_ws_api_signature_reproduces_official_vector(vector: dict[str, Any]) -> None:
    signer = BinanceSigner(Credentials(api_key=VECTORS["api_key"], secret=VECTORS["secret"]))
    assert ws_api_payload(vector["params"]) == vector["payload"]
    assert signer.ws_api_signature({**vector["params"], "signature": "x"}) == vector["signature"]


def test_form_body_gets_window_timestamp_and_signature_over_query_then_body() -> None:
    vector = VECTORS["rest_hmac_mixed"]
    signer = _hmac_signer(vector["timestamp"], vector["recv_window"])
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    out = OutgoingRequest("POST", "/api/v3/order", vector["query"], vector["body"].encode(), form)
    signed = signer.sign_request(out)
    assert signed.query == vector["query"]  # untouched: everything added goes to the body
    assert (
        signed.body
        == (
            f"{vector['body']}&recvWindow=5000&timestamp={vector['timestamp']}"
            f"&signature={vector['signature']}"
        ).encode()
    )
    assert rest_payload(signed.query, signed.body.rpartition(b"&signature=")[0]) == (
        vector["payload"].encode()
    )


def test_timestamp_is_local_clock_plus_offset_and_a_caller_window_is_kept() -> None:
    class Offset:
        def offset_ns(self, local_ns: int) -> int:
            return -2_500 * T_NS

    clock = ManualClock(start_ns=1_000_000 * T_NS)
    signer = BinanceSigner(Credentials(api_key="k", secret="s"), clock=clock, offset=Offset())
    assert signer.timestamp_ms() == 1_000_000 - 2_500
    signed = signer.sign_request(OutgoingRequest("GET", "/api/v3/account", "recvWindow=1500.5"))
    assert signed.query.startswith("recvWindow=1500.5&timestamp=997500&signature=")


@pytest.mark.parametrize(
    ("out", "match"),
    [
        (OutgoingRequest("GET", "/x", "timestamp=1"), "sets timestamp"),
        (OutgoingRequest("GET", "/x", "a=1&signature=2"), "sets signature"),
        (OutgoingRequest("POST", "/x", "", b"{}", {"Content-Type": "application/json"}), "form"),
    ],
)
def test_requests_the_signer_cannot_sign_exactly_are_refused(
    out: OutgoingRequest, match: str
) -> None:
    with pytest.raises(ConfigError, match=match):
        _hmac_signer(1).sign_request(out)


def test_a_signer_without_clock_refuses_to_timestamp() -> None:
    signer = BinanceSigner(Credentials(api_key="k", secret="s"))
    with pytest.raises(ConfigError, match="clock"):
        signer.sign_request(OutgoingRequest("GET", "/api/v3/account"))


@pytest.mark.parametrize("window", [0, 60001, Decimal("1.0001"), Decimal("NaN")])
def test_recv_window_outside_the_venue_range_is_refused(window: Decimal) -> None:
    with pytest.raises(ConfigError, match="recvWindow"):
        BinanceSigner(Credentials(api_key="k", secret="s"), recv_window_ms=window)


def test_signed_request_repr_shows_neither_key_nor_signature_nor_secret() -> None:
    signer = _hmac_signer(1499827319559)
    signed = signer.sign_request(OutgoingRequest("GET", "/api/v3/account", "omitZeroBalances=true"))
    text = repr(signed) + repr(signer)
    assert VECTORS["secret"] not in text and VECTORS["secret"] not in repr(signer)
    assert VECTORS["api_key"] not in repr(signed) and "signature" not in repr(signed)


def test_fix_logon_payload_and_signature_match_official_vector() -> None:
    fix = VECTORS["fix_logon_ed25519"]
    payload = fix_logon_payload(fix["sender"], fix["target"], fix["seq"], fix["sending_time"])
    assert payload == "A\x01EXAMPLE\x01SPOT\x011\x0120240627-11:17:25.223"
    creds = Credentials(api_key="k", private_key_pem=fix["private_key_pem"].encode())
    signer = BinanceSigner(creds)
    assert (
        signer.fix_logon_signature(fix["sender"], fix["target"], fix["seq"], fix["sending_time"])
        == fix["signature"]
    )


@given(
    params=st.lists(
        st.tuples(
            st.text(st.characters(codec="utf-8", exclude_characters="\x00"), min_size=1),
            st.text(st.characters(codec="utf-8", exclude_characters="\x00")),
        ),
        max_size=6,
    ).filter(lambda pairs: not {name for name, _ in pairs} & {"timestamp", "signature"}),
    in_body=st.booleans(),
)
def test_any_parameters_are_signed_over_exactly_the_ascii_bytes_sent(
    params: list[tuple[str, str]], in_body: bool
) -> None:
    signer = _hmac_signer(1499827319559)
    encoded = encode_params(params)
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    out = (
        OutgoingRequest("POST", "/api/v3/order", "", encoded.encode("ascii"), form)
        if in_body and encoded
        else OutgoingRequest("POST", "/api/v3/order", encoded)
    )
    signed = signer.sign_request(out)
    wire = signed.query.encode("ascii") + signed.body  # what the venue receives
    unsigned, _, signature = wire.rpartition(b"&signature=")
    # The venue's check: HMAC over the received bytes minus the trailing signature.
    expected = hmac.new(VECTORS["secret"].encode(), unsigned, hashlib.sha256).hexdigest()
    assert signature.decode() == expected
    decoded = parse_qsl(unsigned.decode("ascii"), keep_blank_values=True)
    assert decoded[: len(params)] == params  # values survive the encoding unchanged
    assert [name for name, _ in decoded[len(params) :]] == ["recvWindow", "timestamp"]
