"""Fixtures for the black-box tests: the real `sluice` binary ($SLUICE_BIN), started on a
free port with a fresh data directory, stopped and cleaned up afterwards.

A failing test gets the server's output (stdout and stderr) appended to its report. A
server whose output holds a sanitizer report, or that does not exit cleanly on SIGTERM,
fails the test that owned it. Every test has a time limit (60 s unless marked
`time_limit(seconds)`), and every server is killed when the test process ends.

Environment:
  SLUICE_BIN                 the binary (default: build-test/sluice of the repository)
  SLUICE_TEST_LOAD_SECONDS   how long the concurrency test's load runs (default 10)
  SLUICE_TEST_APPENDERS      how many concurrent appenders it runs (default 200)
  SLUICE_TEST_LOG_LEVEL      passed to the servers as --log-level when set"""

import atexit
import ctypes
import os
import shutil
import signal
import socket
import subprocess
import sys
import time

import pytest
import requests

sys.path.insert(0, os.path.dirname(__file__))

from sluice_client import Api  # noqa: E402

READY_TIMEOUT = 30.0  # a sanitized build on a busy machine starts slowly
STOP_TIMEOUT = 20.0
DEFAULT_TEST_SECONDS = 60
LOAD_SECONDS = float(os.environ.get("SLUICE_TEST_LOAD_SECONDS", "10"))
SANITIZER_MARKS = (
    "ERROR: AddressSanitizer",
    "ERROR: LeakSanitizer",
    "WARNING: AddressSanitizer",
    "runtime error:",
    "ERROR: ThreadSanitizer",
    "WARNING: ThreadSanitizer",
)

ALL_SERVERS = []
_ports_given = set()


def sluice_bin():
    path = os.environ.get("SLUICE_BIN")
    if not path:
        here = os.path.dirname(os.path.abspath(__file__))
        path = os.path.join(here, "..", "..", "build-test", "sluice")
    path = os.path.abspath(path)
    if not os.access(path, os.X_OK):
        pytest.fail(f"no sluice binary at {path}: set SLUICE_BIN to the built binary", pytrace=False)
    return path


def free_port():
    """A TCP port that was free a moment ago and that this run has not handed out before."""
    for _ in range(50):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        if port not in _ports_given:
            _ports_given.add(port)
            return port
    raise RuntimeError("could not find a free port")


try:
    _prctl = ctypes.CDLL(None, use_errno=True).prctl  # resolved here: the child must not load libraries
except (OSError, AttributeError):
    _prctl = None


def _die_with_parent():
    """In the child before exec: be killed if the test process dies, however it dies."""
    if _prctl is not None:
        _prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


class ServerError(Exception):
    pass


class Server:
    """One `sluice serve` process on a data directory and port that survive restarts."""

    def __init__(self, data_dir, log_path, port=None, extra_args=(), log_level=None):
        self.data_dir = str(data_dir)
        self.log_path = str(log_path)
        self.port = port
        self.extra_args = list(extra_args)
        self.log_level = log_level or os.environ.get("SLUICE_TEST_LOG_LEVEL")
        self.proc = None
        self.unclean_exits = []  # exit statuses after SIGTERM other than 0
        self.starts = 0
        open(self.log_path, "ab").close()
        ALL_SERVERS.append(self)
        self._api = None

    # -- addresses --
    @property
    def base_url(self):
        return f"http://127.0.0.1:{self.port}"

    @property
    def api(self):
        """An Api on a keep-alive session; renewed on each start."""
        if self._api is None:
            self._api = Api(self.base_url)
        return self._api

    def new_api(self):
        return Api(self.base_url)

    # -- lifecycle --
    def command(self):
        cmd = [sluice_bin(), "serve", "--data-dir", self.data_dir, "--listen", f"127.0.0.1:{self.port}"]
        if self.log_level:
            cmd += ["--log-level", self.log_level]
        return cmd + self.extra_args

    def start(self, timeout=READY_TIMEOUT):
        """Starts the process and waits until /health/ready answers 200."""
        assert not self.is_running(), "server already running"
        attempts = 3 if self.port is None else 1
        for attempt in range(attempts):
            if self.port is None or (attempt > 0 and self.starts == 0):
                self.port = free_port()
            self._spawn()
            try:
                self.wait_ready(timeout)
                self.starts += 1
                self._api = None
                return self
            except ServerError:
                if attempt + 1 < attempts and self.starts == 0 and "in use" in self.log_tail(20).lower():
                    continue
                raise

    def _spawn(self):
        with open(self.log_path, "ab") as log:
            log.write(f"\n=== {' '.join(self.command())}\n".encode())
            log.flush()
            self.proc = subprocess.Popen(
                self.command(),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                preexec_fn=_die_with_parent,
            )

    def wait_ready(self, timeout=READY_TIMEOUT):
        deadline = time.monotonic() + timeout
        url = self.base_url + "/health/ready"
        last = None
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise ServerError(f"sluice exited with status {self.proc.returncode} while starting:\n{self.log_tail(40)}")
            try:
                r = requests.get(url, timeout=1)
                if r.status_code == 200:
                    return
                last = f"{r.status_code} {r.text[:200]}"
            except requests.RequestException as e:
                last = repr(e)
            time.sleep(0.02)
        self.kill()
        raise ServerError(f"sluice not ready within {timeout} s (last: {last}):\n{self.log_tail(40)}")

    def is_running(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self, timeout=STOP_TIMEOUT):
        """SIGTERM, then waits; SIGKILL (and an unclean exit is recorded) after `timeout`."""
        if not self.is_running():
            return None if self.proc is None else self.proc.returncode
        self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)
            self.unclean_exits.append(f"did not exit within {timeout} s of SIGTERM (killed)")
            return self.proc.returncode
        if rc != 0:
            self.unclean_exits.append(f"exited with status {rc} after SIGTERM")
        return rc

    def kill(self):
        """kill -9, and waits until the process is gone."""
        if self.is_running():
            self.proc.kill()
            self.proc.wait(10)

    def restart(self, hard=False):
        """Stops (SIGTERM, or SIGKILL when `hard`) and starts again on the same data directory and port."""
        if hard:
            self.kill()
        else:
            self.stop()
        return self.start()

    # -- output --
    def log_bytes(self, start=0):
        try:
            with open(self.log_path, "rb") as f:
                f.seek(start)
                return f.read()
        except OSError:
            return b""

    def log_size(self):
        try:
            return os.path.getsize(self.log_path)
        except OSError:
            return 0

    def log_tail(self, lines=200, start=0):
        text = self.log_bytes(start).decode("utf-8", "replace")
        return "\n".join(text.splitlines()[-lines:])

    def sanitizer_report(self):
        text = self.log_bytes().decode("utf-8", "replace")
        for mark in SANITIZER_MARKS:
            i = text.find(mark)
            if i >= 0:
                return text[max(0, i - 200) : i + 6000]
        return None


def _cleanup_all():
    for s in ALL_SERVERS:
        if s.is_running():
            s.proc.kill()


atexit.register(_cleanup_all)


def finish(server, data_dir):
    """Stops a fixture's server, removes its data and fails on a sanitizer report or an unclean exit."""
    server.stop()
    shutil.rmtree(data_dir, ignore_errors=True)
    problems = list(server.unclean_exits)
    report = server.sanitizer_report()
    if report:
        problems.append("sanitizer report in the server's output:\n" + report)
    if problems:
        pytest.fail(f"sluice on port {server.port}: " + "\n".join(problems), pytrace=False)


def make_server(tmp_path_factory, name, extra_args=()):
    data_dir = tmp_path_factory.mktemp(f"{name}-data")
    log_dir = tmp_path_factory.mktemp(f"{name}-log")
    return Server(data_dir, log_dir / "sluice.log", extra_args=extra_args), data_dir


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """One server for the whole test module; tests keep apart by using their own stream names."""
    srv, data_dir = make_server(tmp_path_factory, "module")
    srv.start()
    yield srv
    finish(srv, data_dir)


@pytest.fixture
def fresh_server(tmp_path_factory):
    """A server of the test's own, on an empty data directory."""
    srv, data_dir = make_server(tmp_path_factory, "fresh")
    srv.start()
    yield srv
    finish(srv, data_dir)


@pytest.fixture
def server_factory(tmp_path_factory):
    """Servers with extra command-line flags, started by the test: factory(*args) -> Server."""
    made = []

    def factory(*extra_args, start=True):
        srv, data_dir = make_server(tmp_path_factory, "custom", extra_args)
        made.append((srv, data_dir))
        if start:
            srv.start()
        return srv

    yield factory
    for srv, data_dir in made:
        finish(srv, data_dir)


@pytest.fixture
def api(server):
    return server.api


# ---------------------------------------------------------------------------
# Time limit per test, and the server's output in the report of a failed test.


class TestTimeLimitExceeded(Exception):
    pass


def pytest_configure(config):
    config.addinivalue_line("markers", "time_limit(seconds): fail the test when it runs longer than this")


@pytest.fixture(autouse=True)
def _time_limit(request):
    marker = request.node.get_closest_marker("time_limit")
    seconds = marker.args[0] if marker else DEFAULT_TEST_SECONDS

    def on_alarm(signum, frame):
        raise TestTimeLimitExceeded(f"{request.node.nodeid} ran longer than {seconds} s")

    previous = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


@pytest.fixture(autouse=True)
def _log_marks(request):
    request.node._sluice_log_marks = {id(s): s.log_size() for s in ALL_SERVERS}
    yield


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    if not rep.failed:
        return
    marks = getattr(item, "_sluice_log_marks", {})
    for s in ALL_SERVERS:
        start = marks.get(id(s), 0)
        if s.log_size() > start:
            rep.sections.append((f"sluice output (port {s.port}, {s.log_path})", s.log_tail(150, start)))
