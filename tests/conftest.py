"""The fixtures of tests/support/ (fixtures.py, fleet/fixtures.py), for every test."""

pytest_plugins = ["tests.support.fixtures", "tests.support.fleet.fixtures"]
