"""The suite's own guard: a test that leaks a live greenlet must fail."""

from pathlib import Path

import pytest

pytest_plugins = ["pytester"]


def test_a_test_that_leaks_a_greenlet_is_reported(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PYTHONPATH", str(Path(__file__).resolve().parents[1]))
    pytester.makeconftest((Path(__file__).parent / "conftest.py").read_text())
    pytester.makepyfile(
        """
        import gevent

        def test_leaks():
            gevent.spawn(gevent.sleep, 30)

        def test_clean():
            g = gevent.spawn(gevent.sleep, 0)
            g.join(timeout=1)
        """
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=2, errors=1)
    result.stdout.fnmatch_lines(["*test leaked 1 live greenlet*"])


def test_a_hung_test_times_out_in_its_own_greenlet_and_the_run_goes_on(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Three ways to hang: the hub waiting on a socket, the test spinning, and a spawned greenlet
    # spinning (the alarm then fires in that greenlet, not in the test).
    monkeypatch.setenv("PYTHONPATH", str(Path(__file__).resolve().parents[1]))
    pytester.makeconftest((Path(__file__).parent / "conftest.py").read_text())
    pytester.makepyfile(
        """
        import socket

        import gevent

        def test_waits_on_a_socket_forever():
            a, b = socket.socketpair()
            try:
                a.recv(1)
            finally:
                a.close()
                b.close()

        def test_spins():
            while True:
                pass

        def test_joins_a_spinning_greenlet():
            def spin():
                while True:
                    pass

            gevent.spawn(spin).join()

        def test_after_the_hangs():
            pass
        """
    )
    result = pytester.runpytest_subprocess(
        "-p", "no:cacheprovider", "-o", "timeout=1", "-o", "timeout_method=signal"
    )
    # The spinning greenlet is still alive when the test unwinds: the leak guard reports it.
    result.assert_outcomes(passed=1, failed=3, errors=1)
    result.stdout.fnmatch_lines(["*Timeout (>1.0s); live greenlets:*", "*in spin*"])
