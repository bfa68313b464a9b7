import pickle

import pytest

from connectivity import errors
from connectivity.config import Credentials, credentials_from_env


def test_leaves_subclass_the_natural_stdlib_types() -> None:
    assert issubclass(errors.ParseError, ValueError)
    assert issubclass(errors.RequestTimeout, TimeoutError)
    assert issubclass(errors.ConnectFailed, ConnectionError)
    assert issubclass(errors.AuthError, PermissionError)
    assert issubclass(errors.Banned, errors.RateLimited)
    assert issubclass(errors.UnknownEnumValue, errors.ResyncRequired)


def test_every_error_is_a_connectivity_error() -> None:
    for name in errors.__all__:
        obj = getattr(errors, name)
        if isinstance(obj, type):
            assert issubclass(obj, errors.ConnectivityError), name


def test_error_message_carries_context_and_truncated_payload() -> None:
    exc = errors.Rejected(
        "order refused",
        venue="binance",
        operation="POST /api/v3/order",
        status=400,
        code=-2010,
        payload="x" * 2000,
    )
    text = str(exc)
    assert "venue=binance" in text and "code=-2010" in text and "status=400" in text
    assert "(+1488 chars)" in text
    assert len(text) < 700


def test_errors_survive_pickling_with_their_context() -> None:
    exc = errors.RateLimited("slow down", retry_after=3.5, venue="binance", status=429)
    clone = pickle.loads(pickle.dumps(exc))
    assert type(clone) is errors.RateLimited
    assert clone.retry_after == 3.5 and clone.status == 429 and str(clone) == str(exc)


def test_credentials_never_show_secrets_in_repr() -> None:
    creds = Credentials(api_key="ABCDEFGHSECRETKEY", secret="topsecret", private_key_pem=b"PEM")
    text = repr(creds)
    assert "topsecret" not in text and "PEM" not in text and "SECRETKEY" not in text


def test_credentials_from_env_validates_and_reads_key_file(tmp_path) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(errors.ConfigError, match="API_KEY"):
        credentials_from_env("X", {})
    with pytest.raises(errors.ConfigError, match="API_SECRET"):
        credentials_from_env("X", {"X_API_KEY": "k"})
    pem = tmp_path / "key.pem"
    pem.write_bytes(b"-----BEGIN PRIVATE KEY-----")
    creds = credentials_from_env("X", {"X_API_KEY": "k", "X_PRIVATE_KEY_FILE": str(pem)})
    assert creds.private_key_pem == b"-----BEGIN PRIVATE KEY-----"
    with pytest.raises(errors.ConfigError, match="cannot read"):
        credentials_from_env("X", {"X_API_KEY": "k", "X_PRIVATE_KEY_FILE": str(tmp_path / "no")})
