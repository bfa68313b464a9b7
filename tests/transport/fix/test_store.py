"""Session stores: memory and crash-safe file store, including torn writes on reopen."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from connectivity.core.store import AppendLog, FileStore, MemoryStore, Store
from connectivity.errors import ConfigError


@pytest.fixture(params=["memory", "file"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    opened: Store = (
        MemoryStore() if request.param == "memory" else FileStore(tmp_path, "S1", fsync=False)
    )
    yield opened
    opened.close()


def test_new_store_starts_at_one_and_one(store: Store) -> None:
    assert isinstance(store, Store)
    assert (store.next_sender_seq(), store.next_target_seq()) == (1, 1)


def test_sent_messages_come_back_by_range_in_order(store: Store) -> None:
    for seq in (1, 2, 3, 5):
        store.save_sent(seq, b"msg%d" % seq)
    assert store.get_sent(2, 5) == [(2, b"msg2"), (3, b"msg3"), (5, b"msg5")]
    assert store.get_sent(4, 4) == []
    assert store.get_sent(1, 10**6) == [(1, b"msg1"), (2, b"msg2"), (3, b"msg3"), (5, b"msg5")]


def test_reset_returns_to_one_and_forgets_messages(store: Store) -> None:
    store.set_next_sender_seq(7)
    store.set_next_target_seq(9)
    store.save_sent(6, b"x")
    store.reset()
    assert (store.next_sender_seq(), store.next_target_seq()) == (1, 1)
    assert store.get_sent(1, 100) == []


def test_file_store_resumes_numbers_and_messages_after_reopen(tmp_path: Path) -> None:
    first = FileStore(tmp_path, "S1")
    first.save_sent(1, b"logon")
    first.save_sent(2, b"order")
    first.set_next_sender_seq(3)
    first.set_next_target_seq(5)
    first.close()
    second = FileStore(tmp_path, "S1")
    assert (second.next_sender_seq(), second.next_target_seq()) == (3, 5)
    assert second.get_sent(1, 2) == [(1, b"logon"), (2, b"order")]
    second.close()


def test_torn_tail_of_message_log_is_cut_and_earlier_messages_survive(tmp_path: Path) -> None:
    store = FileStore(tmp_path, "S1", fsync=False)
    store.save_sent(1, b"one")
    store.save_sent(2, b"two-two-two")
    store.set_next_sender_seq(3)
    store.close()
    path = tmp_path / "S1.messages"
    size = path.stat().st_size
    for cut in range(1, 16 + len(b"two-two-two")):  # every possible torn length of record 2
        with open(path, "r+b") as handle:
            handle.truncate(size - cut)
        reopened = FileStore(tmp_path, "S1", fsync=False)
        assert reopened.get_sent(1, 10) == [(1, b"one")]
        assert reopened.dropped_bytes == size - cut - (16 + 3)
        assert reopened.next_sender_seq() == 3  # the numbers file still says 3
        reopened.save_sent(2, b"again")  # appending after recovery works
        reopened.close()
        again = FileStore(tmp_path, "S1", fsync=False)
        assert again.get_sent(1, 10) == [(1, b"one"), (2, b"again")]
        again.close()
        with open(path, "r+b") as handle:  # restore the original tail for the next cut
            handle.truncate(16 + 3)
            handle.seek(0, os.SEEK_END)
        rebuilt = FileStore(tmp_path, "S1", fsync=False)
        rebuilt.save_sent(2, b"two-two-two")
        rebuilt.close()


def test_corrupted_record_fails_crc_and_ends_the_log(tmp_path: Path) -> None:
    journal = AppendLog(tmp_path / "j.log", fsync=False)
    journal.append(1, b"alpha")
    journal.append(2, b"beta")
    journal.append(3, b"gamma")
    journal.close()
    data = bytearray((tmp_path / "j.log").read_bytes())
    data[16 + 5 + 16] ^= 0xFF  # flip the first payload byte of record 2
    (tmp_path / "j.log").write_bytes(bytes(data))
    reopened = AppendLog(tmp_path / "j.log", fsync=False)
    assert list(reopened) == [(1, b"alpha")]
    assert reopened.dropped_bytes > 0
    reopened.close()


def test_crash_after_logging_but_before_number_update_never_reuses_a_seq(tmp_path: Path) -> None:
    store = FileStore(tmp_path, "S1", fsync=False)
    store.set_next_sender_seq(4)
    store.save_sent(4, b"maybe-sent")  # crash here: the numbers file still says 4
    store.close()
    reopened = FileStore(tmp_path, "S1", fsync=False)
    assert reopened.next_sender_seq() == 5
    reopened.close()


def test_torn_write_of_the_newest_numbers_slot_falls_back_to_the_previous_pair(
    tmp_path: Path,
) -> None:
    store = FileStore(tmp_path, "S1", fsync=False)
    store.set_next_target_seq(8)  # generation 1 -> slot 1
    store.set_next_target_seq(9)  # generation 2 -> slot 0
    store.close()
    path = tmp_path / "S1.seqnums"
    data = bytearray(path.read_bytes())
    data[8:20] = b"\xff" * 12  # power loss in the middle of writing slot 0
    path.write_bytes(bytes(data))
    reopened = FileStore(tmp_path, "S1", fsync=False)
    assert (reopened.next_sender_seq(), reopened.next_target_seq()) == (1, 8)
    reopened.set_next_target_seq(10)  # the next write goes to the spoiled slot and heals it
    reopened.close()
    again = FileStore(tmp_path, "S1", fsync=False)
    assert again.next_target_seq() == 10
    again.close()


def test_numbers_file_written_in_place_survives_many_updates(tmp_path: Path) -> None:
    store = FileStore(tmp_path, "S1", fsync=False)
    for seq in range(2, 1002):
        store.set_next_sender_seq(seq)
        store.set_next_target_seq(seq + 5)
    store.close()
    assert (tmp_path / "S1.seqnums").stat().st_size == 64  # two slots, rewritten in place
    reopened = FileStore(tmp_path, "S1", fsync=False)
    assert (reopened.next_sender_seq(), reopened.next_target_seq()) == (1001, 1006)
    reopened.close()


def test_garbage_numbers_file_is_a_config_error(tmp_path: Path) -> None:
    (tmp_path / "S1.seqnums").write_text("banana\n")
    with pytest.raises(ConfigError):
        FileStore(tmp_path, "S1")


def test_store_name_with_path_separator_is_rejected(tmp_path: Path) -> None:
    with pytest.raises(ConfigError):
        FileStore(tmp_path, "../escape")


def test_reset_survives_reopen(tmp_path: Path) -> None:
    store = FileStore(tmp_path, "S1", fsync=False)
    store.save_sent(1, b"a")
    store.set_next_sender_seq(2)
    store.reset()
    store.close()
    reopened = FileStore(tmp_path, "S1", fsync=False)
    assert (reopened.next_sender_seq(), reopened.get_sent(1, 5)) == (1, [])
    reopened.close()


def test_append_log_replays_records_as_an_order_journal(tmp_path: Path) -> None:
    journal = AppendLog(tmp_path / "orders.journal")
    for key, payload in enumerate([b'{"new":"A"}', b'{"fill":"A"}', b""]):
        journal.append(key, payload)
    journal.close()
    reopened = AppendLog(tmp_path / "orders.journal")
    assert list(reopened) == [(0, b'{"new":"A"}'), (1, b'{"fill":"A"}'), (2, b"")]
    assert reopened.last_key() == 2
    reopened.close()
