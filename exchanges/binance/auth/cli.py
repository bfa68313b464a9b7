"""``python -m exchanges.binance.auth``: show exactly what Binance signing signs, for -1022 hunts.

Each command prints the payload it signed (byte for byte; SOH shown as ``|`` for FIX) and the
signature, so a user can compare them with what their own code sends:

- ``sign-rest --payload P``: the REST rule (query string + body, non-ASCII percent-encoded);
- ``sign-ws --params JSON``: the WS-API rule (every param but ``signature``, sorted by name,
  values as sent, not percent-encoded);
- ``sign-fix-logon --key-pem FILE --sender S --target T --seq N --sending-time TS``.

The HMAC secret comes from ``--secret S``, ``--secret -`` (one line on stdin) or the
``BINANCE_API_SECRET`` environment variable; ``--key-pem FILE`` signs with an Ed25519 or RSA
key instead. Bad input prints one line on stderr and exits with status 2.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
from collections.abc import Sequence
from decimal import Decimal
from typing import TextIO

from connectivity.cli import ArgumentParser, bounded_int
from connectivity.config import Credentials
from connectivity.errors import ConfigError
from exchanges.binance.auth import (
    SOH,
    BinanceSigner,
    fix_logon_payload,
    rest_payload,
    ws_api_payload,
)

__all__ = ["main"]

PROG = "python -m exchanges.binance.auth"
SECRET_ENV = "BINANCE_API_SECRET"
PASSWORD_ENV = "BINANCE_PRIVATE_KEY_PASSWORD"
COMP_ID = re.compile(r"[A-Za-z0-9_-]{1,8}")  # SenderCompID rule (specs/binance.md 6.2)
MAX_SEQ = 2**32 - 1  # SEQNUM is uint32 (specs/binance.md 6.2)
SENDING_TIME = re.compile(r"\d{8}-\d{2}:\d{2}:\d{2}(\.\d{3}|\.\d{6})?")
KEY_HELP = (
    f"HMAC secret; '-' reads it from stdin. Omitted: ${SECRET_ENV}. A secret typed on the "
    "command line stays in your shell history: prefer stdin or the environment."
)


class UsageError(Exception):
    """Bad input found after parsing: reported as one line on stderr, exit status 2."""


def _parser() -> ArgumentParser:
    parser = ArgumentParser(
        prog=PROG, description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    commands = parser.add_subparsers(dest="command", required=True, parser_class=ArgumentParser)
    rest = commands.add_parser("sign-rest", help="sign a REST payload (query string + body)")
    rest.add_argument("--payload", required=True, help="query string and body, as sent")
    ws = commands.add_parser("sign-ws", help="sign WS-API params (sorted, not percent-encoded)")
    ws.add_argument("--params", required=True, help='JSON object, e.g. \'{"symbol":"BTCUSDT"}\'')
    for sub in (rest, ws):
        sub.add_argument("--secret", help=KEY_HELP)
        sub.add_argument("--key-pem", help=f"Ed25519/RSA key file (password: ${PASSWORD_ENV})")
    fix = commands.add_parser("sign-fix-logon", help="sign a FIX Logon <A> (Ed25519 only)")
    fix.add_argument("--key-pem", required=True, help="Ed25519 private key file (PKCS#8 PEM)")
    fix.add_argument("--sender", required=True, help="SenderCompID (tag 49)")
    fix.add_argument("--target", default="SPOT", help="TargetCompID (tag 56), default SPOT")
    fix.add_argument("--seq", required=True, type=bounded_int(1, MAX_SEQ), help="MsgSeqNum (34)")
    fix.add_argument("--sending-time", required=True, help="SendingTime (tag 52), as sent")
    return parser


def _read_pem(path: str) -> bytes:
    try:
        with open(path, "rb") as handle:
            return handle.read()
    except OSError as exc:
        raise UsageError(f"cannot read key file {path!r}: {exc.strerror}") from None


def _signer(args: argparse.Namespace, stdin: TextIO) -> BinanceSigner:
    password = os.environ.get(PASSWORD_ENV)
    if getattr(args, "key_pem", None):
        if getattr(args, "secret", None):
            raise UsageError("give --secret or --key-pem, not both")
        creds = Credentials(
            api_key="",
            private_key_pem=_read_pem(args.key_pem),
            private_key_password=password.encode() if password else None,
        )
        return BinanceSigner(creds)
    secret = args.secret
    if secret == "-":
        secret = stdin.readline().rstrip("\r\n")
    elif secret is None:
        secret = os.environ.get(SECRET_ENV)
    if not secret:
        raise UsageError(f"no secret: give --secret, --secret - (stdin), ${SECRET_ENV}, --key-pem")
    return BinanceSigner(Credentials(api_key="", secret=secret))


def _ws_params(text: str) -> dict[str, object]:
    try:
        params = json.loads(text, parse_float=Decimal)  # keeps "0.01000000" as written
    except json.JSONDecodeError as exc:
        raise UsageError(f"--params is not JSON: {exc.msg} at position {exc.pos}") from None
    if not isinstance(params, dict):
        raise UsageError("--params must be a JSON object of parameter names to values")
    for name, value in params.items():
        if isinstance(value, (dict, list)) or value is None:
            raise UsageError(f"--params: {name!r} must be a string, number or boolean")
    return params


def _run(args: argparse.Namespace, out: TextIO, stdin: TextIO) -> None:
    if args.command == "sign-rest":
        signer = _signer(args, stdin)
        payload = rest_payload(args.payload)
        print(f"payload: {payload.decode('ascii')}", file=out)
        raw = signer.sign(payload)
        print(f"signature: {raw}", file=out)
        url_ready = signer.rest_signature(args.payload)
        if url_ready != raw:
            print(f"signature (percent-encoded, as sent in a URL): {url_ready}", file=out)
    elif args.command == "sign-ws":
        params = _ws_params(args.params)
        signer = _signer(args, stdin)
        print(f"payload: {ws_api_payload(params)}", file=out)
        print(f"signature: {signer.ws_api_signature(params)}", file=out)
    else:
        if not COMP_ID.fullmatch(args.sender):
            raise UsageError(f"--sender {args.sender!r}: 1-8 characters of A-Z a-z 0-9 - _")
        if not SENDING_TIME.fullmatch(args.sending_time):
            raise UsageError("--sending-time must look like YYYYMMDD-HH:MM:SS[.sss|.ssssss]")
        signer = _signer(args, stdin)
        logon = fix_logon_payload(args.sender, args.target, args.seq, args.sending_time)
        print(f"payload (SOH shown as |): {logon.replace(SOH, '|')}", file=out)
        signature = signer.fix_logon_signature(
            args.sender, args.target, args.seq, args.sending_time
        )
        print(f"signature: {signature}", file=out)


def main(
    argv: Sequence[str] | None = None, *, out: TextIO | None = None, stdin: TextIO | None = None
) -> int:
    """Run the command; return 0, or 2 after one line on stderr for bad input.

    Argument errors exit (status 2) from the parser, as in every entry point.
    """
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        _run(args, out or sys.stdout, stdin or sys.stdin)
    except (UsageError, ConfigError) as exc:
        return parser.fail(exc.message if isinstance(exc, ConfigError) else str(exc))
    return 0
