"""State manager throughput on a realistic mixed history, side by side with nautilus_trader.

Command (from the repository root)::

    /work/venv/bin/python benchmarks/state.py [--orders 10000] [--seed 7] [--repeat 3]
        [--nautilus-python /work/venv-naut/bin/python]

The history (generated from the seed, identical for every consumer): orders registered by
us, acknowledged, filled in one to three parts or canceled after partial fills, about fifty
alive at once, with a balance report after every fill. Every venue report reaches us over
the user stream, and also over FIX and REST with probability 1/4 each (so about a third of
what arrives is a duplicate), the copies delayed by up to 30 positions (reordered).

Measured, every input built before the timer starts:

- ``ours_memory``: every input through ``StateManager`` journaling to a ``MemoryJournal``;
- ``ours_file``: the same with a ``FileJournal`` (``fsync=False``: survives a process crash;
  with ``fsync=True`` each record waits for the disk and the figure is the disk's);
- ``ours_order_events`` and ``nautilus``: only the order events nautilus_trader's
  ``ExecutionEngine.process`` consumes (submitted, accepted, filled, pending cancel,
  canceled; duplicates included), applied to ours and, in a separate interpreter where
  nautilus-trader is installed, to its engine with its ``Cache``.

Each figure is the best of ``--repeat`` runs on fresh state, in CPU time of the process
(``time.process_time``: the machine is shared, so wall time would measure the neighbours),
with the garbage collector on and the prepared inputs frozen out of it. Both final states
are compared with the venue's truth (status and filled quantity of every order, fills,
balance). Targets (issue 9): ours_memory >= 300,000 updates/s, and >= 1x nautilus on the
same events. The last line is a JSON object.
"""

from __future__ import annotations

import argparse
import gc
import json
import random
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run from a checkout without installing

DEFAULT_NAUTILUS_PYTHON = "/work/venv-naut/bin/python"
TARGET_MEMORY = 300_000

# A venue report or local action as plain tuples, shared with the nautilus interpreter:
# ("reg", cid, qty) | ("cancel", cid) | ("upd", src, cid, status, cum, ts)
# | ("fill", src, cid, trade_id, qty, ts) | ("bal", src, free, ts)


def history(orders: int, seed: int) -> tuple[list[tuple[Any, ...]], dict[str, Any]]:
    """Return the delivered inputs and the venue's truth."""
    rng = random.Random(seed)
    reports: list[tuple[Any, ...]] = []
    truth: dict[str, Any] = {"orders": {}, "trades": 0}
    free = 10**9
    lives = [_life(f"botp1-{n}", rng) for n in range(orders)]
    active: list[list[tuple[Any, ...]]] = []
    ts = 0
    while lives or active:
        while lives and len(active) < 50:
            active.append(lives.pop())
        life = rng.choice(active)
        ts += 1
        step = life.pop(0)
        if step[0] == "fill":
            free -= step[3] * 100
            truth["trades"] += 1
        reports.append((*step, ts, free))
        if not life:
            active.remove(life)
    for cid, status, cum in _finals(reports):
        truth["orders"][cid] = (status, cum)
    truth["free"] = free
    return _deliver(reports, rng), truth


def _life(cid: str, rng: random.Random) -> list[tuple[Any, ...]]:
    qty = rng.randint(2, 9)
    steps: list[tuple[Any, ...]] = [("reg", cid, qty), ("upd", cid, "NEW", 0)]
    cum = 0
    parts = rng.randint(1, 3)
    cancel = rng.random() < 0.4
    for part in range(parts):
        if cum == qty:
            break
        last = part == parts - 1 and not cancel
        size = qty - cum if last else max(1, (qty - cum) // 2 - 1)
        if cum + size >= qty and cancel:
            break
        cum += size
        steps.append(("fill", cid, f"{cid}-t{part}", size))
        steps.append(("upd", cid, "FILLED" if cum == qty else "PARTIALLY_FILLED", cum))
    if cum < qty:
        steps += [("cancel", cid), ("upd", cid, "CANCELED", cum)]
    return steps


def _finals(reports: list[tuple[Any, ...]]) -> list[tuple[str, str, int]]:
    last: dict[str, tuple[str, int]] = {}
    for report in reports:
        if report[0] == "upd":
            last[report[1]] = (report[2], report[3])
    return [(cid, status, cum) for cid, (status, cum) in last.items()]


def _deliver(reports: list[tuple[Any, ...]], rng: random.Random) -> list[tuple[Any, ...]]:
    slots: list[tuple[float, int, tuple[Any, ...]]] = []
    for position, report in enumerate(reports):
        kind, ts, free = report[0], report[-2], report[-1]
        if kind in ("reg", "cancel"):
            slots.append((position, 0, report[:2] if kind == "cancel" else report[:3]))
            continue
        for copy, source in enumerate(("ws", "fix", "rest")):
            if copy and rng.random() >= 0.25:
                continue
            at = position + (rng.uniform(0, 30) if copy else 0)
            if kind == "upd":
                slots.append((at, copy, ("upd", source, report[1], report[2], report[3], ts)))
            else:
                slots.append((at, copy, ("fill", source, report[1], report[2], report[3], ts)))
                slots.append((at, copy, ("bal", source, free, ts)))
    slots.sort(key=lambda slot: (slot[0], slot[1]))
    return [item for _, _, item in slots]


def _freeze_inputs() -> None:
    """Move everything built so far (the inputs) out of the GC's way, for both engines alike.

    The prepared inputs are hundreds of thousands of tracked objects a live process never
    holds at once; without this, every full collection during the timed loop walks them.
    """
    gc.collect()
    gc.freeze()


# -- ours ------------------------------------------------------------------------------------------
def _ours_inputs(items: list[tuple[Any, ...]], order_events_only: bool) -> list[tuple[int, Any]]:
    from connectivity.core.models import (
        BalanceUpdate,
        Fill,
        Liquidity,
        OrderRequest,
        OrderStatus,
        OrderType,
        OrderUpdate,
        Side,
    )

    price = Decimal(100)
    prepared: list[tuple[int, Any]] = []
    for item in items:
        kind = item[0]
        if kind == "reg":
            request = OrderRequest(
                item[1], "BTC-USDT", Side.BUY, OrderType.LIMIT, Decimal(item[2]), price
            )
            prepared.append((1, request))
        elif kind == "cancel":
            prepared.append((2, item[1]))
        elif kind == "upd":
            _, source, cid, status, cum, ts = item
            if order_events_only and status not in ("NEW", "CANCELED"):
                continue  # nautilus learns fills from fill events only
            update = OrderUpdate(
                "sim", "BTC-USDT", cid, OrderStatus(status), Decimal(cum), source, ts, ts,
                venue_order_id=f"v{cid}",
            )  # fmt: skip
            prepared.append((0, update))
        elif kind == "fill":
            _, source, cid, trade_id, qty, ts = item
            fill = Fill(
                "sim", "BTC-USDT", "" if source == "rest" else cid, trade_id, Side.BUY, price,
                Decimal(qty), Decimal("0.01"), "BNB", Liquidity.MAKER, ts, ts,
                venue_order_id=f"v{cid}",
            )  # fmt: skip
            prepared.append((0, fill))
        elif not order_events_only:
            _, source, free, ts = item
            prepared.append((0, BalanceUpdate("sim", "USDT", ts, ts, source, free=Decimal(free))))
    return prepared


def _run_ours(prepared: list[tuple[int, Any]], journal: Any) -> tuple[float, Any]:
    from connectivity.core.order_rules import ClientOrderIds
    from connectivity.core.state import StateManager

    state = StateManager("sim", ClientOrderIds("bot", "p1-"), journal=journal)
    apply, register, cancel = state.apply, state.register, state.cancel_requested
    _freeze_inputs()
    start = time.process_time()
    for kind, item in prepared:
        if kind == 0:
            apply(item)
        elif kind == 1:
            register(item, 0)
        else:
            cancel(item, 0)
    return time.process_time() - start, state


def _ours_matches(state: Any, truth: dict[str, Any], balances: bool) -> bool:
    for cid, (status, cum) in truth["orders"].items():
        order = state.order(cid)
        if order is None or order.status.value != status or order.filled_quantity != cum:
            return False
    if sum(len(record[24]) for record in state.records().values()) != truth["trades"]:
        return False  # every trade counted, once
    return not balances or state.balance("USDT").free == truth["free"]


def measure_ours(
    items: list[tuple[Any, ...]], truth: dict[str, Any], repeat: int, tmp: Path
) -> dict[str, Any]:
    """Time our StateManager on the full history (memory, file) and on order events only."""
    from connectivity.core.journal import FileJournal, MemoryJournal

    full = _ours_inputs(items, order_events_only=False)
    orders_only = _ours_inputs(items, order_events_only=True)
    results: dict[str, Any] = {}
    for name, prepared, make in (
        ("ours_memory", full, MemoryJournal),
        ("ours_file", full, None),
        ("ours_order_events", orders_only, MemoryJournal),
    ):
        best, ok = float("inf"), True
        for run in range(repeat):
            if make is None:
                path = tmp / f"state-bench-{run}.journal"
                path.unlink(missing_ok=True)
                journal = FileJournal(path, fsync=False)
            else:
                journal = make()
            elapsed, state = _run_ours(prepared, journal)
            ok = ok and _ours_matches(state, truth, balances=name != "ours_order_events")
            state.close()
            best = min(best, elapsed)
        results[name] = {
            "inputs": len(prepared),
            "updates_per_s": round(len(prepared) / best),
            "matches_truth": ok,
        }
    return results


# -- nautilus_trader (run in its own interpreter) --------------------------------------------
def nautilus_worker(orders: int, seed: int, repeat: int) -> dict[str, Any]:
    """Apply the order events through nautilus_trader's ExecutionEngine; return the figures."""
    import nautilus_trader
    from nautilus_trader.cache.cache import Cache
    from nautilus_trader.common.component import MessageBus, TestClock
    from nautilus_trader.common.factories import OrderFactory
    from nautilus_trader.execution.engine import ExecutionEngine
    from nautilus_trader.model.enums import OrderSide, OrderStatus
    from nautilus_trader.model.identifiers import TradeId, VenueOrderId
    from nautilus_trader.model.objects import Price, Quantity
    from nautilus_trader.test_kit.providers import TestInstrumentProvider
    from nautilus_trader.test_kit.stubs.events import TestEventStubs
    from nautilus_trader.test_kit.stubs.identifiers import TestIdStubs

    items, truth = history(orders, seed)
    best, matches, count = float("inf"), True, 0
    for _ in range(repeat):
        clock = TestClock()
        trader_id = TestIdStubs.trader_id()
        msgbus = MessageBus(trader_id=trader_id, clock=clock)
        cache = Cache()
        engine = ExecutionEngine(msgbus=msgbus, cache=cache, clock=clock)
        instrument = TestInstrumentProvider.btcusdt_binance()
        cache.add_instrument(instrument)
        factory = OrderFactory(
            trader_id=trader_id, strategy_id=TestIdStubs.strategy_id(), clock=clock
        )
        by_cid: dict[str, Any] = {}
        events: list[Any] = []
        price = Price.from_str("100.00")
        for item in items:  # built outside the timer
            kind, cid = item[0], item[1] if item[0] in ("reg", "cancel") else item[2]
            if kind == "bal":
                continue  # balances are not ExecutionEngine events
            if kind == "reg":
                order = factory.limit(
                    instrument.id, OrderSide.BUY, Quantity.from_int(item[2]), price
                )
                cache.add_order(order)
                by_cid[cid] = order
                events.append(TestEventStubs.order_submitted(order))
                continue
            order = by_cid[cid]
            vid = VenueOrderId(f"v{cid}")
            if kind == "cancel":
                events.append(TestEventStubs.order_pending_cancel(order))
            elif kind == "fill":
                events.append(TestEventStubs.order_filled(
                    order, instrument, venue_order_id=vid, trade_id=TradeId(item[3]),
                    last_qty=Quantity.from_int(item[4]), last_px=price,
                ))  # fmt: skip
            elif kind == "upd" and item[3] == "NEW":
                events.append(TestEventStubs.order_accepted(order, venue_order_id=vid))
            elif kind == "upd" and item[3] == "CANCELED":
                events.append(TestEventStubs.order_canceled(order))
        process = engine.process
        _freeze_inputs()
        start = time.process_time()
        for event in events:
            process(event)
        best = min(best, time.process_time() - start)
        count = len(events)
        names = {"NEW": OrderStatus.ACCEPTED, "PARTIALLY_FILLED": OrderStatus.PARTIALLY_FILLED,
                 "FILLED": OrderStatus.FILLED, "CANCELED": OrderStatus.CANCELED}  # fmt: skip
        for cid, (status, cum) in truth["orders"].items():
            order = by_cid[cid]
            matches = (
                matches and order.status == names[status] and order.filled_qty.as_double() == cum
            )
    return {
        "version": nautilus_trader.__version__,
        "inputs": count,
        "updates_per_s": round(count / best),
        "matches_truth": matches,
    }


def measure_nautilus(python: str, orders: int, seed: int, repeat: int) -> dict[str, Any]:
    """Run :func:`nautilus_worker` in the interpreter where nautilus-trader is installed."""
    if not Path(python).exists():
        return {"available": False, "why": f"{python} not found (see the bench extra)"}
    command = [python, __file__, "--nautilus-worker", "--orders", str(orders), "--seed", str(seed),
               "--repeat", str(repeat)]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, timeout=1800)
    if done.returncode != 0:
        return {"available": False, "why": done.stderr.strip().splitlines()[-1:]}
    return {"available": True, **json.loads(done.stdout.strip().splitlines()[-1])}


def main() -> None:
    """Run the benchmark and print the JSON summary last."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--nautilus-python", default=DEFAULT_NAUTILUS_PYTHON)
    parser.add_argument("--nautilus-worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--tmp", default="/tmp")
    args = parser.parse_args()
    if args.nautilus_worker:
        print(json.dumps(nautilus_worker(args.orders, args.seed, args.repeat)))
        return
    items, truth = history(args.orders, args.seed)
    unique = {item if item[0] in ("reg", "cancel") else item[:1] + item[2:] for item in items}
    duplicates = 1 - len(unique) / len(items)
    ours = measure_ours(items, truth, args.repeat, Path(args.tmp))
    nautilus = measure_nautilus(args.nautilus_python, args.orders, args.seed, args.repeat)
    summary: dict[str, Any] = {
        "orders": args.orders,
        "inputs": len(items),
        "duplicate_share": round(duplicates, 3),
        **ours,
        "nautilus": nautilus,
    }
    if nautilus.get("available"):
        ratio = ours["ours_order_events"]["updates_per_s"] / nautilus["updates_per_s"]
        summary["ratio_vs_nautilus"] = round(ratio, 2)
    summary["targets_met"] = {
        "memory_300k": ours["ours_memory"]["updates_per_s"] >= TARGET_MEMORY,
        "vs_nautilus_1x": summary.get("ratio_vs_nautilus", 0) >= 1,
    }
    for name in ("ours_memory", "ours_file", "ours_order_events"):
        print(f"{name:>18}: {ours[name]['updates_per_s']:>10,} updates/s")
    if nautilus.get("available"):
        print(f"{'nautilus':>18}: {nautilus['updates_per_s']:>10,} updates/s")
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
