"""The part every loopback server of the simulator shares: bind, port, URL, start and stop.

:class:`LoopbackServer` binds 127.0.0.1 on an ephemeral port (unless told otherwise) through a
gevent server that a subclass builds in :meth:`LoopbackServer._make_server`, and names itself
by ``scheme://host:port``. :class:`~connectivity.sim.http.HttpServer` (REST) and
:class:`~connectivity.sim.wsserver.WebSocketServer` (streams) are the two subclasses; each
adds what it serves and what its :meth:`close` must also stop.
"""

from __future__ import annotations

from typing import Any, TypeVar

from gevent.baseserver import BaseServer

__all__ = ["LoopbackServer"]

S = TypeVar("S", bound="LoopbackServer")


class LoopbackServer:
    """A gevent server on loopback with a known port and URL (subclasses say what it serves)."""

    scheme = ""
    default_path = ""

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self._host = host
        self._requested_port = port
        self._server: BaseServer | None = None

    def _make_server(self, address: tuple[str, int]) -> BaseServer:
        """Return the (not started) gevent server listening on ``address``."""
        raise NotImplementedError

    def start(self) -> None:
        """Bind and start serving."""
        self._server = self._make_server((self._host, self._requested_port))
        self._server.start()

    def _stop_listening(self) -> None:
        if self._server is not None:
            self._server.stop(timeout=0)

    def close(self, timeout: float = 1.0) -> None:
        """Stop listening (subclasses also end what they serve)."""
        self._stop_listening()

    @property
    def port(self) -> int:
        """Return the bound port (after :meth:`start`)."""
        if self._server is None:
            raise RuntimeError("server not started")
        return int(self._server.server_port)

    def url(self, path: str | None = None) -> str:
        """Return ``scheme://host:port<path>``."""
        return (
            f"{self.scheme}://{self._host}:{self.port}{self.default_path if path is None else path}"
        )

    def __enter__(self: S) -> S:
        self.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def _describe(self) -> str:
        return ""

    def __repr__(self) -> str:
        port = self._server.server_port if self._server is not None else None
        return f"{type(self).__name__}(port={port}{self._describe()})"
