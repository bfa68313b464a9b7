"""Process runtime: gevent patching for entry points, and greenlet ownership.

:func:`patch` is called by entry points only (``scripts/*``, ``tests/conftest.py``, a bot's
``main``), never on import. :class:`Supervisor` owns greenlets: each one it spawns is killed and
joined by :meth:`Supervisor.close`, and a greenlet that dies with an exception is reported to the
owner's ``on_failure`` callback and counted in :attr:`Supervisor.failure_count`, never lost; the
most recent ones are kept in :attr:`Supervisor.failures` (a bounded record: a server whose
connection greenlets keep failing must not grow it for ever).
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable
from typing import Any

import gevent
import gevent.pool
from gevent import Greenlet

from connectivity.errors import ClosedError

__all__ = ["Supervisor", "patch"]

log = logging.getLogger(__name__)


def patch() -> None:
    """Monkey-patch the standard library for gevent (idempotent); call first in a main."""
    from gevent import monkey

    if not monkey.is_module_patched("socket"):
        monkey.patch_all()


FailureHandler = Callable[[str, BaseException], None]


class Supervisor:
    """Own a set of greenlets: spawn them, surface their failures, kill and join on close."""

    def __init__(
        self, name: str, on_failure: FailureHandler | None = None, *, keep_failures: int = 100
    ) -> None:
        self.name = name
        self._on_failure = on_failure
        self._group = gevent.pool.Group()
        self._closed = False
        self._failures: deque[tuple[str, BaseException]] = deque(maxlen=keep_failures)
        self.failure_count = 0

    def spawn(self, func: Callable[..., Any], *args: Any, name: str | None = None) -> Greenlet:
        """Start ``func(*args)`` in a greenlet owned by this supervisor."""
        if self._closed:
            raise ClosedError(f"supervisor {self.name!r} is closed")
        greenlet = Greenlet(func, *args)
        greenlet.name = f"{self.name}/{name or getattr(func, '__name__', 'task')}"
        greenlet.link_exception(self._failed)
        self._group.start(greenlet)
        return greenlet

    def _failed(self, greenlet: Greenlet) -> None:
        exc = greenlet.exception
        if exc is None or isinstance(exc, gevent.GreenletExit):
            return
        name = str(greenlet.name)
        self._failures.append((name, exc))
        self.failure_count += 1
        log.error("greenlet %s failed: %r", name, exc)
        if self._on_failure is not None:
            try:
                self._on_failure(name, exc)
            except Exception:  # the failure hook must never take the supervisor down
                log.exception("on_failure hook of %s raised", self.name)

    @property
    def failures(self) -> list[tuple[str, BaseException]]:
        """Return the most recent failures (name, exception), oldest first."""
        return list(self._failures)

    def __len__(self) -> int:
        return len(self._group)

    @property
    def closed(self) -> bool:
        """Return True once :meth:`close` has run."""
        return self._closed

    def join(self, timeout: float) -> bool:
        """Wait up to ``timeout`` seconds for every greenlet to finish; True if all did."""
        return bool(self._group.join(timeout=timeout))

    def close(self, timeout: float = 5.0) -> None:
        """Kill every owned greenlet and wait up to ``timeout`` seconds for them to exit."""
        self._closed = True
        self._group.kill(block=True, timeout=timeout)
        alive = [str(g.name) for g in self._group if not g.dead]
        if alive:
            log.error("supervisor %s: greenlets still alive after close: %s", self.name, alive)

    def __enter__(self) -> Supervisor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Supervisor({self.name!r}, greenlets={len(self._group)}, closed={self._closed})"
