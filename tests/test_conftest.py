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
