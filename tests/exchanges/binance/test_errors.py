"""Binance error bodies become typed errors through the REST client's error hook."""

import pytest
import responses

from connectivity.core.clock import ManualClock
from connectivity.errors import (
    AuthError,
    ConnectivityError,
    OrderOutcomeUnknown,
    OrderRejected,
    RateLimited,
    Rejected,
)
from connectivity.transport.http import RestClient
from exchanges.binance.errors import BINANCE_ERRORS, binance_error_mapper, error_for_code

BASE = "https://api.binance.test"


def _client() -> RestClient:
    return RestClient(BASE, venue="binance", clock=ManualClock(), error_mapper=binance_error_mapper)


@pytest.mark.parametrize(
    ("status", "body", "expected", "code"),
    [
        (400, b'{"code":-2010,"msg":"Account has insufficient balance."}', OrderRejected, -2010),
        (400, b'{"code":-1013,"msg":"Filter failure: LOT_SIZE"}', Rejected, -1013),
        (400, b'{"code":-1021,"msg":"Timestamp outside of the recvWindow."}', AuthError, -1021),
        (401, b'{"code":-2015,"msg":"Invalid API-key, IP, or permissions."}', AuthError, -2015),
        (400, b'{"code":-1015,"msg":"Too many new orders."}', RateLimited, -1015),
        (400, b'{"code":-9999,"msg":"something new"}', Rejected, -9999),
    ],
)
@responses.activate
def test_error_bodies_map_to_the_tree_with_code_and_message(
    status: int, body: bytes, expected: type[ConnectivityError], code: int
) -> None:
    responses.add(responses.POST, f"{BASE}/api/v3/order", body=body, status=status)
    with _client() as client, pytest.raises(expected) as info:
        client.request("POST", "/api/v3/order", params={"symbol": "BTCUSDT"}, idempotent=False)
    assert info.value.code == code and info.value.venue == "binance"
    assert info.value.status == status


@responses.activate
def test_timeout_code_is_outcome_unknown_even_on_a_4xx() -> None:
    body = b'{"code":-1007,"msg":"Timeout waiting for response from backend server."}'
    responses.add(responses.POST, f"{BASE}/api/v3/order", body=body, status=400)
    with _client() as client, pytest.raises(OrderOutcomeUnknown) as info:
        client.request("POST", "/api/v3/order", idempotent=False)
    assert info.value.code == -1007


def test_non_venue_bodies_are_left_to_the_transport() -> None:
    assert binance_error_mapper(403, b"<html>WAF</html>", {}) is None
    assert binance_error_mapper(400, b'{"msg":"no code"}', {}) is None
    assert binance_error_mapper(400, b"[1,2]", {}) is None


def test_every_table_entry_builds_its_class() -> None:
    for code, (cls, name) in BINANCE_ERRORS.items():
        err = error_for_code(code, "text", status=400)
        assert type(err) is cls and name in str(err) and err.code == code
