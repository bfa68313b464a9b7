"""Test-wide setup: gevent patching first, and no greenlet may outlive its test."""

from connectivity.runtime import patch

patch()  # before anything imports socket, ssl, threading or time

import gc  # noqa: E402
from collections.abc import Iterator  # noqa: E402
from pathlib import Path  # noqa: E402

import gevent  # noqa: E402
import pytest  # noqa: E402

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def shared_data(*parts: str) -> Path:
    """Return a path under ``../shared/data``, skipping the test when it is absent."""
    path = SHARED_DATA.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"shared test data not available: {path} (outside this workplace)")
    return path


def _live_greenlets() -> set[gevent.Greenlet]:
    return {obj for obj in gc.get_objects() if isinstance(obj, gevent.Greenlet) and obj}


@pytest.fixture(autouse=True)
def no_leaked_greenlets() -> Iterator[None]:
    """Fail any test that leaves a started greenlet alive (owners must close and join)."""
    before = _live_greenlets()
    yield
    leaked: set[gevent.Greenlet] = set()
    for _ in range(20):  # a short grace period for greenlets that are already exiting
        leaked = _live_greenlets() - before
        if not leaked:
            return
        gevent.sleep(0.01)
    names = sorted(str(getattr(g, "name", g)) for g in leaked)
    gevent.killall(list(leaked), timeout=2)
    pytest.fail(f"test leaked {len(leaked)} live greenlet(s): {names}")
