"""Fixtures of the reliability tests: the black-box harness's (tests/blackbox/conftest.py: servers on a
free port and a fresh data directory, a time limit per test, the server's output in the report of a
failed test, a failure on a sanitizer report or an unclean exit), registered for this directory too,
and servers started with extra environment variables (the disk-fault shim).

Environment (the defaults are the short settings `make test` uses):
  SLUICE_BIN                  the binary (default: build-test/sluice of the repository)
  SLUICE_BOUNCE_KILLS         kill -9 rounds of test_bounce.py (default 5; 30 for a long run)
  SLUICE_FAULT_POINTS         the disk-fault tests fail the N-th disk call for N = 1..this (default 7)
  SLUICE_CORRUPTION_FLIPS     random byte flips of test_corruption.py's sweep (default 6)
  SLUICE_ISOLATION_SECONDS    how long test_isolation.py's dead sink stays dead (default 10; 60 long)
  SLUICE_RELIABILITY_STRICT   1: a known defect fails its test instead of marking it xfail"""

import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import rel_support  # noqa: E402,F401  (puts tests/blackbox on sys.path too)
from rel_support import EnvServer, harness  # noqa: E402

fresh_server = harness.fresh_server
server_factory = harness.server_factory
_time_limit = harness._time_limit
_log_marks = harness._log_marks
pytest_configure = harness.pytest_configure
pytest_runtest_makereport = harness.pytest_runtest_makereport


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """One server for the whole test module; tests keep apart by using their own streams and connectors."""
    srv, data_dir = harness.make_server(tmp_path_factory, "module")
    srv.start()
    yield srv
    harness.finish(srv, data_dir)


@pytest.fixture
def env_server_factory(tmp_path_factory):
    """Servers with extra environment variables, not started: factory(env, *extra_args) -> EnvServer."""
    made = []

    def factory(env=None, *extra_args):
        data_dir = tmp_path_factory.mktemp("env-data")
        log_dir = tmp_path_factory.mktemp("env-log")
        srv = EnvServer(data_dir, log_dir / "sluice.log", extra_args=extra_args, env=env)
        made.append((srv, data_dir))
        return srv

    yield factory
    for srv, data_dir in made:
        harness.finish(srv, data_dir)

