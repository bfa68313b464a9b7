"""Frozen configuration values; the only place that reads the environment.

Secrets live in :class:`Credentials`, whose secret fields are excluded from ``repr`` so they
cannot reach a log line, a traceback or an exception message by accident.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

import attrs

from connectivity.errors import ConfigError

__all__ = ["Credentials", "credentials_from_env"]


@attrs.frozen
class Credentials:
    """API key material. ``secret`` and ``private_key_pem`` never appear in ``repr``."""

    api_key: str = attrs.field(repr=lambda key: f"{key[:4]}..." if key else "''")
    secret: str | None = attrs.field(default=None, repr=False)
    private_key_pem: bytes | None = attrs.field(default=None, repr=False)
    private_key_password: bytes | None = attrs.field(default=None, repr=False)


def credentials_from_env(prefix: str, environ: Mapping[str, str] | None = None) -> Credentials:
    """Build credentials from ``<PREFIX>_API_KEY``, ``_API_SECRET`` or ``_PRIVATE_KEY_FILE``."""
    env = os.environ if environ is None else environ
    key = env.get(f"{prefix}_API_KEY")
    if not key:
        raise ConfigError(f"{prefix}_API_KEY is not set")
    secret = env.get(f"{prefix}_API_SECRET") or None
    pem: bytes | None = None
    path = env.get(f"{prefix}_PRIVATE_KEY_FILE")
    if path:
        try:
            with open(path, "rb") as handle:
                pem = handle.read()
        except OSError as exc:
            raise ConfigError(f"cannot read {prefix}_PRIVATE_KEY_FILE: {exc.strerror}") from exc
    if secret is None and pem is None:
        raise ConfigError(f"set {prefix}_API_SECRET or {prefix}_PRIVATE_KEY_FILE")
    password = env.get(f"{prefix}_PRIVATE_KEY_PASSWORD")
    return Credentials(
        api_key=key,
        secret=secret,
        private_key_pem=pem,
        private_key_password=password.encode() if password else None,
    )
