"""FIX in three pieces: codec (bytes), session (sans-I/O state machine), pump (greenlets).

- :mod:`.codec`: messages: fast parse with BodyLength/CheckSum validation, encode.
- :mod:`.framing`: :class:`FixFramer`, messages out of a byte stream in linear time.
- :mod:`.dictionary`: QuickFIX-format XML data dictionaries (FIX 4.4 and Binance's shipped);
  :mod:`.validation` checks messages against them (value :mod:`.formats`), and :mod:`.shapes`
  parses and validates messages of a known shape in one pass.
- :mod:`.session` (+ ``session_rules``, ``session_admin``, ``session_writer``): the sans-I/O
  session for both roles: logon, heartbeats, sequence numbers, resend, gap fill, reject.
- :mod:`.pump` / :mod:`.acceptor`: greenlets running sessions over TCP or TLS.
"""

from connectivity.transport.fix.acceptor import FixAcceptor
from connectivity.transport.fix.codec import (
    FixMessage,
    FixParseError,
    GarbledMessage,
    encode,
    parse_message,
)
from connectivity.transport.fix.dictionary import FixDictionary, FixValidationError
from connectivity.transport.fix.framing import FixFramer
from connectivity.transport.fix.pump import Backoff, FixAddress, FixInitiator
from connectivity.transport.fix.session import Session, SessionEvent, SessionEventKind
from connectivity.transport.fix.session_rules import (
    LogonContext,
    LogonHook,
    Role,
    SessionConfig,
    SessionPolicy,
)

__all__ = [
    "Backoff",
    "FixAcceptor",
    "FixAddress",
    "FixDictionary",
    "FixFramer",
    "FixInitiator",
    "FixMessage",
    "FixParseError",
    "FixValidationError",
    "GarbledMessage",
    "LogonContext",
    "LogonHook",
    "Role",
    "Session",
    "SessionConfig",
    "SessionEvent",
    "SessionEventKind",
    "SessionPolicy",
    "encode",
    "parse_message",
]
