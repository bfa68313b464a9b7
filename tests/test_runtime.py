import gevent
import pytest

from connectivity.errors import ClosedError
from connectivity.runtime import Supervisor


def test_failures_are_reported_to_the_owner_not_lost() -> None:
    seen: list[tuple[str, BaseException]] = []
    sup = Supervisor("feed", on_failure=lambda name, exc: seen.append((name, exc)))

    def boom() -> None:
        raise RuntimeError("reader died")

    g = sup.spawn(boom, name="reader")
    g.join(timeout=1)
    gevent.sleep(0)
    assert [(n, str(e)) for n, e in seen] == [("feed/reader", "reader died")]
    assert sup.failures == seen
    sup.close()


def test_close_kills_and_joins_every_greenlet() -> None:
    sup = Supervisor("owner")
    gs = [sup.spawn(gevent.sleep, 60, name=f"sleeper{i}") for i in range(3)]
    gevent.sleep(0)
    sup.close(timeout=1)
    assert all(g.dead for g in gs)
    assert sup.failures == []
    with pytest.raises(ClosedError):
        sup.spawn(gevent.sleep, 1)


def test_a_raising_failure_hook_does_not_break_the_supervisor() -> None:
    def bad_hook(name: str, exc: BaseException) -> None:
        raise ValueError("hook bug")

    with Supervisor("x", on_failure=bad_hook) as sup:
        g = sup.spawn(lambda: 1 / 0)
        g.join(timeout=1)
        gevent.sleep(0)
        assert len(sup.failures) == 1


def test_failures_are_all_counted_but_only_the_most_recent_are_kept() -> None:
    # A server whose connection greenlets keep failing must not grow the record for ever.
    def boom(i: int) -> None:
        raise RuntimeError(f"connection {i}")

    with Supervisor("server", keep_failures=3) as sup:
        for i in range(10):
            sup.spawn(boom, i, name="connection").join(timeout=1)
        gevent.sleep(0)
        assert sup.failure_count == 10
        assert [str(exc) for _, exc in sup.failures] == [f"connection {i}" for i in (7, 8, 9)]
