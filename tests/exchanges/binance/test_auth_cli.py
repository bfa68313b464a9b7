"""``python -m exchanges.binance.auth`` reproduces the official signing examples."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from exchanges.binance.auth.cli import main

ROOT = Path(__file__).resolve().parents[3]
VECTORS = json.loads((Path(__file__).parent / "fixtures" / "signing_vectors.json").read_text())
SECRET = VECTORS["secret"]


def run(argv: list[str], stdin: str = "") -> tuple[int, list[str]]:
    out = io.StringIO()
    try:
        code = main(argv, out=out, stdin=io.StringIO(stdin))
    except SystemExit as exc:  # argument errors exit from the parser, status 2
        code = exc.code if isinstance(exc.code, int) else 1
    return code, out.getvalue().splitlines()


REST = [*VECTORS["rest_hmac"], VECTORS["rest_hmac_mixed"]]


@pytest.mark.parametrize("vector", REST, ids=lambda v: v["name"])
def test_sign_rest_prints_the_official_payload_and_signature(vector: dict[str, Any]) -> None:
    typed = vector["payload"].replace(
        "%EF%BC%91%EF%BC%92%EF%BC%93%EF%BC%94%EF%BC%95%EF%BC%96",
        "".join(chr(0xFF11 + i) for i in range(6)),  # as a user types it: unencoded
    )
    code, lines = run(["sign-rest", "--secret", SECRET, "--payload", typed])
    assert code == 0
    assert lines == [f"payload: {vector['payload']}", f"signature: {vector['signature']}"]


@pytest.mark.parametrize("vector", VECTORS["ws_hmac"], ids=lambda v: v["name"])
def test_sign_ws_prints_the_official_payload_and_signature(vector: dict[str, Any]) -> None:
    params = json.dumps({**vector["params"], "signature": "ignored"}, ensure_ascii=False)
    code, lines = run(["sign-ws", "--secret", "-", "--params", params], stdin=SECRET + "\n")
    assert code == 0
    assert lines == [f"payload: {vector['payload']}", f"signature: {vector['signature']}"]


def test_sign_ws_keeps_decimals_as_written() -> None:
    code, lines = run(["sign-ws", "--secret", "s", "--params", '{"price": 0.01000000, "q": 1}'])
    assert code == 0 and lines[0] == "payload: price=0.01000000&q=1"


def test_sign_fix_logon_reproduces_the_official_signature(tmp_path: Path) -> None:
    fix = VECTORS["fix_logon_ed25519"]
    pem = tmp_path / "key.pem"
    pem.write_text(fix["private_key_pem"])
    argv = ["sign-fix-logon", "--key-pem", str(pem), "--sender", fix["sender"]]
    argv += ["--target", fix["target"], "--seq", "1", "--sending-time", fix["sending_time"]]
    code, lines = run(argv)
    assert code == 0
    assert lines == [
        "payload (SOH shown as |): A|EXAMPLE|SPOT|1|20240627-11:17:25.223",
        f"signature: {fix['signature']}",
    ]


def test_sign_rest_with_an_ed25519_key_prints_the_url_encoded_form_too(tmp_path: Path) -> None:
    pem = tmp_path / "key.pem"
    pem.write_text(VECTORS["fix_logon_ed25519"]["private_key_pem"])
    code, lines = run(["sign-rest", "--key-pem", str(pem), "--payload", "a=1"])
    assert code == 0 and len(lines) == 3 and lines[2].startswith("signature (percent-encoded")


def test_secret_is_read_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BINANCE_API_SECRET", SECRET)
    vector = VECTORS["rest_hmac"][0]
    code, lines = run(["sign-rest", "--payload", vector["payload"]])
    assert code == 0 and lines[1] == f"signature: {vector['signature']}"


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["sign-rest", "--payload", "a=1"], "no secret"),
        (["sign-ws", "--secret", "s", "--params", "[1]"], "JSON object"),
        (["sign-ws", "--secret", "s", "--params", "{bad"], "not JSON"),
        (["sign-ws", "--secret", "s", "--params", '{"a": [1]}'], "'a'"),
        (["sign-rest", "--secret", "s", "--key-pem", "k", "--payload", "a"], "not both"),
        (
            [
                "sign-fix-logon",
                "--key-pem",
                "/nonexistent",
                "--sender",
                "A",
                "--seq",
                "1",
                "--sending-time",
                "20240627-11:17:25.223",
            ],
            "cannot read key file",
        ),
        (
            [
                "sign-fix-logon",
                "--key-pem",
                "k",
                "--sender",
                "TOO-LONG-ID",
                "--seq",
                "1",
                "--sending-time",
                "20240627-11:17:25.223",
            ],
            "--sender",
        ),
        (
            [
                "sign-fix-logon",
                "--key-pem",
                "k",
                "--sender",
                "A",
                "--seq",
                "x",
                "--sending-time",
                "20240627-11:17:25.223",
            ],
            "--seq",
        ),
        (
            [
                "sign-fix-logon",
                "--key-pem",
                "k",
                "--sender",
                "A",
                "--seq",
                "0",
                "--sending-time",
                "20240627-11:17:25.223",
            ],
            "--seq",
        ),
        (
            [
                "sign-fix-logon",
                "--key-pem",
                "k",
                "--sender",
                "A",
                "--seq",
                "1",
                "--sending-time",
                "2024-06-27 11:17",
            ],
            "--sending-time",
        ),
        (["frobnicate"], "invalid choice"),
        ([], "required"),
    ],
)
def test_bad_input_is_one_line_on_stderr_and_status_2(
    argv: list[str],
    needle: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("BINANCE_API_SECRET", raising=False)
    code, lines = run(argv)
    err = capsys.readouterr().err
    assert code == 2 and lines == []
    assert err.count("\n") == 1 and needle in err and err.startswith("python -m exchanges")


def test_a_bad_key_file_or_an_rsa_key_for_fix_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pem = tmp_path / "key.pem"
    pem.write_text("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n")
    code, _ = run(["sign-rest", "--key-pem", str(pem), "--payload", "a=1"])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "AAAA" not in err
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem.write_bytes(
        rsa_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    argv = ["sign-fix-logon", "--key-pem", str(pem), "--sender", "A", "--seq", "1"]
    code, _ = run([*argv, "--sending-time", "20240627-11:17:25.223"])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "Ed25519" in err


def test_help_says_where_else_the_secret_can_come_from(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["sign-rest", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "stdin" in text and "BINANCE_API_SECRET" in text and "history" in text


def test_module_runs_as_a_command() -> None:
    vector = VECTORS["rest_hmac"][0]
    env = {**os.environ, "BINANCE_API_SECRET": SECRET, "PYTHONWARNINGS": "error"}
    command = [sys.executable, "-m", "exchanges.binance.auth", "sign-rest"]
    done = subprocess.run(
        [*command, "--payload", vector["payload"]],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0 and done.stderr == ""
    assert done.stdout.splitlines()[1] == f"signature: {vector['signature']}"
