"""Error counting shared by every component that must survive bad input: count, log sparingly.

A feed that meets a malformed frame, a raising callback or a refused request counts it by
type and goes on; a flood of the same error must not flood the log. :class:`ErrorCounter` is
that one policy (the connector base, the stream router and the websocket connection use it):
every error is counted; the first of each kind is logged, then at most one line per
``log_interval_ns`` per kind, saying how many were suppressed in between.
"""

from __future__ import annotations

import collections
import logging
from collections.abc import Callable

__all__ = ["ErrorCounter"]

DEFAULT_LOG_INTERVAL_NS = 10_000_000_000


class ErrorCounter(collections.Counter[str]):
    """Counts of errors by kind (a ``Counter``), with rate-limited logging."""

    def __init__(
        self,
        owner: str,
        now_ns: Callable[[], int],
        *,
        logger: logging.Logger | None = None,
        log_interval_ns: int = DEFAULT_LOG_INTERVAL_NS,
    ) -> None:
        super().__init__()
        self.owner = owner
        self._now_ns = now_ns
        self._log = logger or logging.getLogger(__name__)
        self.log_interval_ns = log_interval_ns
        self._logged: dict[str, tuple[int, int]] = {}  # kind -> (last log time, suppressed)

    def count(self, exc: BaseException, what: str, key: str | None = None) -> int:
        """Count ``exc`` under ``key`` (default: its type name); return the new count."""
        key = key or type(exc).__name__
        self[key] += 1
        now = self._now_ns()
        interval = self.log_interval_ns
        last, suppressed = self._logged.get(key, (now - interval, 0))
        if now - last < interval:
            self._logged[key] = (last, suppressed + 1)
        else:
            self._logged[key] = (now, 0)
            more = f" (+{suppressed} suppressed)" if suppressed else ""
            self._log.warning("%s: %s (%s #%d): %r%s", self.owner, what, key, self[key], exc, more)
        return self[key]

    def copy(self) -> ErrorCounter:
        """Return an independent snapshot of the counts, with the same logging policy."""
        clone = ErrorCounter(
            self.owner, self._now_ns, logger=self._log, log_interval_ns=self.log_interval_ns
        )
        clone.update(self)
        return clone
