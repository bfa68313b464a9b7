"""Subscriptions: desired vs acknowledged streams, batched replay after every reconnect."""

from __future__ import annotations

import orjson
import pytest

from connectivity.connector.streams import SUBSCRIBE, UNSUBSCRIBE, AckMode, Subscriptions
from connectivity.errors import ConfigError, ConnectionLost


def _encode(method: str, streams: list[str], request_id: int) -> str:
    return orjson.dumps({"method": method, "params": streams, "id": request_id}).decode()


def test_replay_sends_every_desired_stream_in_batches_and_acks_settle_it() -> None:
    subs = Subscriptions(_encode, batch_size=2)
    subs.add(["a@depth", "b@depth", "c@depth"])
    sent: list[dict[str, object]] = []
    assert subs.replay(lambda frame: sent.append(orjson.loads(frame))) == 2
    assert [m["params"] for m in sent] == [["a@depth", "b@depth"], ["c@depth"]]
    assert not subs.wait_settled(0) and not subs.all_acked
    assert subs.on_ack(sent[0]["id"])  # type: ignore[arg-type]
    assert subs.acked == {"a@depth", "b@depth"}
    assert subs.on_ack(sent[1]["id"])  # type: ignore[arg-type]
    assert subs.wait_settled(0) and subs.all_acked


def test_disconnect_forgets_acks_and_the_next_replay_resubscribes_everything() -> None:
    subs = Subscriptions(_encode)
    subs.add(["a@trade"])
    sent: list[dict[str, object]] = []
    subs.replay(lambda frame: sent.append(orjson.loads(frame)))
    subs.on_ack(sent[-1]["id"])  # type: ignore[arg-type]
    subs.disconnected()
    assert subs.acked == set()
    subs.replay(lambda frame: sent.append(orjson.loads(frame)))
    assert sent[-1]["params"] == ["a@trade"] and sent[-1]["id"] != sent[0]["id"]


def test_add_and_remove_while_connected_send_at_once_and_unknown_ids_are_refused() -> None:
    subs = Subscriptions(_encode)
    sent: list[dict[str, object]] = []
    subs.replay(lambda frame: sent.append(orjson.loads(frame)))
    assert sent == [] and subs.wait_settled(0)
    subs.add(["x@bookTicker"])
    subs.remove(["x@bookTicker", "never@trade"])
    assert [(m["method"], m["params"]) for m in sent] == [
        (SUBSCRIBE, ["x@bookTicker"]),
        (UNSUBSCRIBE, ["x@bookTicker"]),
    ]
    assert not subs.on_ack(999) and not subs.on_ack("abc")
    assert subs.on_error(sent[1]["id"], 2, "Invalid request")  # type: ignore[arg-type]
    assert subs.errors == [(sent[1]["id"], 2, "Invalid request")]


def test_more_streams_than_a_connection_carries_is_a_config_error() -> None:
    subs = Subscriptions(_encode, max_streams=2)
    subs.add(["a", "b"])
    assert subs.room == 0
    with pytest.raises(ConfigError):
        subs.add(["c"])


def test_acks_that_name_their_streams_settle_the_requests_that_asked_for_them() -> None:
    subs = Subscriptions(_encode, batch_size=2, ack_mode=AckMode.STREAMS)
    subs.add(["book.A", "book.B", "book.C"])
    subs.replay(lambda frame: None)
    assert subs.on_ack_streams(["book.A"]) and not subs.wait_settled(0)  # one of two pending
    assert not subs.on_ack_streams(["book.X"])  # nothing asked for it
    assert subs.on_ack_streams(["book.B", "book.C"]) and subs.wait_settled(0)
    assert subs.all_acked
    subs.remove(["book.A"])
    assert subs.on_ack_streams(["book.A"], subscribed=False)
    assert subs.acked == {"book.B", "book.C"} and subs.all_acked


def test_venues_that_never_acknowledge_count_a_request_as_acked_once_sent() -> None:
    subs = Subscriptions(_encode, ack_mode=AckMode.NONE)
    subs.add(["book.A"])
    sent: list[str] = []
    subs.replay(sent.append)
    assert len(sent) == 1 and subs.wait_settled(0) and subs.all_acked
    subs.remove(["book.A"])
    assert subs.acked == set() and len(sent) == 2


def test_resubscribe_sends_unsubscribe_then_subscribe_and_the_streams_stay_desired() -> None:
    subs = Subscriptions(_encode, ack_mode=AckMode.STREAMS)
    subs.add(["book.a", "book.b"])
    subs.resubscribe(["book.a"])  # not connected: nothing to send, the replay covers it
    sent: list[dict[str, object]] = []
    subs.replay(lambda frame: sent.append(orjson.loads(frame)))
    subs.on_ack_streams(["book.a", "book.b"])
    subs.resubscribe(["book.a", "book.gone"])  # only what is desired
    assert [(m["method"], m["params"]) for m in sent[1:]] == [
        (UNSUBSCRIBE, ["book.a"]),
        (SUBSCRIBE, ["book.a"]),
    ]
    assert list(subs.desired) == ["book.a", "book.b"]
    assert subs.on_ack_streams(["book.a"], subscribed=False) and "book.a" not in subs.acked
    assert subs.on_ack_streams(["book.a"]) and subs.all_acked


def test_a_resubscribe_whose_frame_fails_keeps_the_streams_for_the_next_replay() -> None:
    subs = Subscriptions(_encode)
    subs.add(["book.a"])

    dead: list[bool] = []

    def send(frame: str) -> None:
        if dead:
            raise ConnectionLost("gone")

    subs.replay(send)
    dead.append(True)  # the connection dies after the replay
    with pytest.raises(ConnectionLost):
        subs.resubscribe(["book.a"])
    assert list(subs.desired) == ["book.a"]
