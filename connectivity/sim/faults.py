"""Fault-injection knobs of the simulated venue, as plain data.

A test (or script) sets fields on a :class:`FaultKnobs`; the venue's dialect consumes them at
the right moment (when it is about to send a diff, answer a snapshot, ...). One-shot faults
are counters that the venue decrements with the ``take_*`` methods, so "drop the next diff of
BTCUSDT" is ``knobs.drop_diffs = 1; knobs.symbol = "BTCUSDT"``. Connection-level faults
(disconnect, shutdown notice, stall) are actions on the live connections and live on the
venue object, listed here in :class:`Fault` so every venue exposes the same vocabulary.
"""

from __future__ import annotations

import enum

import attrs

__all__ = ["Fault", "FaultKnobs"]


class Fault(enum.Enum):
    """Every fault a simulated market-data venue can inject."""

    GAP = "gap"  # a depth diff is never sent: the client must see U > bookId + 1 and resync
    DUPLICATE = "duplicate"  # a depth diff is sent twice
    STALL = "stall"  # open connections stop sending data but keep answering pings
    DISCONNECT = "disconnect"  # TCP dropped with no close frame
    SERVER_SHUTDOWN = "server_shutdown"  # the venue announces maintenance, then disconnects
    DELAYED_SNAPSHOT = "delayed_snapshot"  # the REST snapshot answers late; diffs keep flowing
    STALE_SNAPSHOT = "stale_snapshot"  # the snapshot predates the first buffered diff
    SNAPSHOT_ERROR = "snapshot_error"  # the snapshot request fails with a server error
    OVERSIZE_SNAPSHOT = "oversize_snapshot"  # the snapshot ignores its limit: the whole book
    FLOOD = "flood"  # a burst of diffs back to back, as fast as the socket takes them


@attrs.define
class FaultKnobs:
    """Mutable fault settings read by a venue dialect; all off by default."""

    symbol: str | None = None  # restrict per-symbol faults to this symbol (None: any)
    drop_diffs: int = 0  # the next N depth diffs are not sent (a gap)
    duplicate_diffs: int = 0  # the next N depth diffs are sent twice
    stale_snapshots: int = 0  # the next N snapshots are served from an older book state
    snapshot_delay_s: float = 0.0  # every snapshot waits this long before answering
    snapshot_errors: int = 0  # the next N snapshot requests fail with a server error
    oversize_snapshots: int = 0  # the next N snapshots ignore the requested limit
    flood_diffs: int = 0  # the next tick emits this many diffs back to back
    dropped: int = attrs.field(default=0, init=False)  # what was actually injected
    duplicated: int = attrs.field(default=0, init=False)
    stale_served: int = attrs.field(default=0, init=False)
    errors_served: int = attrs.field(default=0, init=False)
    oversize_served: int = attrs.field(default=0, init=False)

    def _applies(self, symbol: str) -> bool:
        return self.symbol is None or self.symbol == symbol

    def take_drop(self, symbol: str) -> bool:
        """Return True (and count it) if this diff of ``symbol`` must be dropped."""
        if self.drop_diffs > 0 and self._applies(symbol):
            self.drop_diffs -= 1
            self.dropped += 1
            return True
        return False

    def take_duplicate(self, symbol: str) -> bool:
        """Return True (and count it) if this diff of ``symbol`` must be sent twice."""
        if self.duplicate_diffs > 0 and self._applies(symbol):
            self.duplicate_diffs -= 1
            self.duplicated += 1
            return True
        return False

    def take_stale_snapshot(self, symbol: str) -> bool:
        """Return True (and count it) if this snapshot of ``symbol`` must be stale."""
        if self.stale_snapshots > 0 and self._applies(symbol):
            self.stale_snapshots -= 1
            self.stale_served += 1
            return True
        return False

    def take_snapshot_error(self, symbol: str) -> bool:
        """Return True (and count it) if this snapshot request of ``symbol`` must fail."""
        if self.snapshot_errors > 0 and self._applies(symbol):
            self.snapshot_errors -= 1
            self.errors_served += 1
            return True
        return False

    def take_oversize_snapshot(self, symbol: str) -> bool:
        """Return True (and count it) if this snapshot of ``symbol`` must ignore its limit."""
        if self.oversize_snapshots > 0 and self._applies(symbol):
            self.oversize_snapshots -= 1
            self.oversize_served += 1
            return True
        return False

    def take_flood(self) -> int:
        """Return how many diffs to flood now (and reset the knob)."""
        count, self.flood_diffs = self.flood_diffs, 0
        return count

    def reset(self) -> None:
        """Turn every fault off (counters of what was injected are kept)."""
        self.symbol = None
        self.drop_diffs = self.duplicate_diffs = self.stale_snapshots = self.flood_diffs = 0
        self.snapshot_errors = 0
        self.snapshot_delay_s = 0.0
