"""The state journal: restart rebuilds the same state, a torn tail at any byte is survived."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

from connectivity.core.journal import FileJournal, MemoryJournal, Record
from connectivity.core.models import OrderStatus
from connectivity.core.state import StateManager
from tests.core.state_helpers import balance, fill, manager, request, upd

S = OrderStatus
SECOND = 1_000_000_000


def history(state: StateManager) -> list[Callable[[], object]]:
    """Return the steps of a history touching every kind of journal record."""
    return [
        lambda: state.register(request("botp1-1"), 1),
        lambda: state.apply(upd("botp1-1", S.NEW, ts=2, vid="v1")),
        lambda: state.apply(balance("USDT", "1000", "0", ts=2)),
        lambda: state.apply(fill("", "t1", "4", vid="v1", ts=3)),
        lambda: state.apply(fill("", "t9", "1", vid="v9", ts=3)),  # parked: order unknown
        lambda: state.apply(upd("web_1", S.NEW, ts=3, vid="v9")),  # foreign; unparks t9
        lambda: state.register(request("botp1-2", qty="2"), 4),
        lambda: state.outcome_unknown("botp1-2", "submit", "timeout", 5),
        lambda: state.not_found("botp1-2", "rest-query", 6),
        lambda: state.apply(balance("USDT", delta="-3", ts=7)),
        lambda: state.cancel_requested("botp1-1", 8),
        lambda: state.apply(upd("botp1-1", S.CANCELED, "4", ts=9)),
        lambda: state.apply(fill("botp1-2", "t2", "2", ts=10)),  # settles the doubt
    ]


def image(state: StateManager) -> tuple[Any, ...]:
    """Return everything the journal must preserve, comparable across managers."""
    parked = sorted(f.trade_id for f in state.parked_fills())
    balances = {asset: b.state() for asset, b in state.balances.assets.items()}
    return state.records(), parked, {k: tuple(map(str, v[:2])) + v[2:] for k, v in balances.items()}


class Recorder(FileJournal):
    """A file journal noting the file size and the manager's image after each record."""

    state: StateManager | None = None

    def __init__(self, path: Path) -> None:
        super().__init__(path, fsync=False)
        self.marks: list[tuple[int, tuple[Any, ...]]] = []

    def append(self, record: Record) -> None:
        super().append(record)
        assert self.state is not None
        self.marks.append((os.path.getsize(self.path), image(self.state)))


def _recorded(tmp_path: Path) -> tuple[StateManager, Recorder]:
    journal = Recorder(tmp_path / "state.journal")
    state, _ = manager(journal)
    journal.state = state
    for step in history(state):
        step()
    return state, journal


def _reopen(source: Path, size: int, tmp_path: Path) -> StateManager:
    copy = tmp_path / f"copy-{size}.journal"
    shutil.copyfile(source, copy)
    with open(copy, "r+b") as handle:
        handle.truncate(size)
    state, _ = manager(FileJournal(copy, fsync=False))
    return state


def test_restart_after_a_crash_at_every_record_boundary_rebuilds_the_state(tmp_path: Path) -> None:
    state, journal = _recorded(tmp_path)
    marks = [(0, image(manager()[0])), *journal.marks]
    for size, expected in marks:
        restarted = _reopen(journal.path, size, tmp_path)
        assert image(restarted) == expected, f"boundary at byte {size}"
        restarted.close()
    assert marks[-1][1] == image(state)


def test_restart_after_a_torn_last_record_at_every_byte_keeps_the_previous_state(
    tmp_path: Path,
) -> None:
    _, journal = _recorded(tmp_path)
    (before, expected), (end, _) = journal.marks[-2], journal.marks[-1]
    for size in range(before + 1, end):
        restarted = _reopen(journal.path, size, tmp_path)
        assert image(restarted) == expected, f"torn at byte {size}"
        restarted.close()


def test_restarted_manager_marks_live_orders_for_reconciliation_and_continues(
    tmp_path: Path,
) -> None:
    reference, _ = manager()
    steps = history(reference)
    for step in steps:
        step()
    journal = FileJournal(tmp_path / "j", fsync=False)
    first, _ = manager(journal)
    for step in history(first)[:8]:
        step()
    journal.close()
    second, events = manager(FileJournal(tmp_path / "j", fsync=False))
    assert sorted(second.pending_reconcile()) == ["botp1-1", "botp1-2", "web_1"]
    assert events == []  # rebuilding emits nothing: the bot saw those events before
    for step in history(second)[8:]:
        step()
    assert image(second) == image(reference)
    assert second.pending_reconcile() == ["web_1"]  # the others had venue evidence since
    second.apply(fill("", "t1", "4", vid="v1", ts=3))  # a duplicate from before the restart
    assert second.stats["duplicate_fill"] == 1


def test_memory_journal_rebuilds_a_new_manager_in_the_same_process() -> None:
    journal = MemoryJournal()
    first, _ = manager(journal)
    for step in history(first):
        step()
    second, _ = manager(journal)
    assert image(second) == image(first)


def test_compaction_forgets_old_terminal_orders_and_keeps_the_rest(tmp_path: Path) -> None:
    journal = FileJournal(tmp_path / "j", fsync=False)
    state, _ = manager(journal, compact_after_ns=100)
    for step in history(state):
        step()
    state.register(request("botp1-3"), 500)
    state.apply(upd("botp1-3", S.CANCELED, ts=500))
    assert state.compact(now_ns=550) == 2  # botp1-1 and botp1-2 ended long ago
    assert {o.client_order_id for o in state.orders()} == {"web_1", "botp1-3"}
    journal.close()
    reopened, _ = manager(FileJournal(tmp_path / "j", fsync=False))
    assert image(reopened) == image(state)
    assert len(list(FileJournal(tmp_path / "j", fsync=False).records())) == 3  # 2 orders + USDT
