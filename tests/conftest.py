"""The fixtures of tests/support/fixtures.py, for every test (see tests/support/__init__.py)."""

pytest_plugins = ["tests.support.fixtures"]
