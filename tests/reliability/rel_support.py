"""What the reliability tests share: the black-box harness (tests/blackbox/conftest.py, loaded under a
name of its own) with a server that takes extra environment variables, sequence-numbered producers
that retry until acknowledged, a check of what a sink received against the log (in order, at least
once, with the duplicates of each restart counted), a reader of the whole log, and the connectors
receiver with the faults it lacks (a connection reset, an answer sent byte by byte, a request held
without an answer)."""

import collections
import importlib.util
import json
import os
import random
import socket
import struct
import subprocess
import sys
import threading
import time
import uuid

import pytest
import requests

HERE = os.path.dirname(os.path.abspath(__file__))
BLACKBOX = os.path.abspath(os.path.join(HERE, "..", "blackbox"))
for _path in (BLACKBOX, HERE):
    if _path not in sys.path:
        sys.path.insert(0, _path)

from connectors.connectors_client import ConnectorsApi  # noqa: E402,F401  (re-exported for the tests)
from connectors.receiver import HUNG, REASONS, Receiver, _Handler, _Server  # noqa: E402
from sluice_client import Api, describe  # noqa: E402


def _load_blackbox_conftest():
    """tests/blackbox/conftest.py as a module named `sluice_blackbox_conftest`: pytest imports every
    conftest.py outside a package as `conftest`, so that name cannot be relied on."""
    name = "sluice_blackbox_conftest"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, os.path.join(BLACKBOX, "conftest.py"))
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


harness = _load_blackbox_conftest()
Server = harness.Server
ServerError = harness.ServerError
STRICT = os.environ.get("SLUICE_RELIABILITY_STRICT") == "1"


def env_int(name, default):
    value = os.environ.get(name, "")
    return int(value) if value.strip() else default


def known_defect(ident, what):
    """Marks the running test as hitting a known, documented defect (docs/reliability.md, `ident`):
    xfail, or a failure with SLUICE_RELIABILITY_STRICT=1. Called only once the defect is observed,
    so the test passes again by itself once the defect is fixed."""
    message = f"known defect {ident} (docs/reliability.md): {what}"
    if STRICT:
        pytest.fail(message, pytrace=False)
    pytest.xfail(message)


class EnvServer(Server):
    """A Server whose process gets extra environment variables (`env`, changeable between starts)."""

    def __init__(self, *args, env=None, **kw):
        super().__init__(*args, **kw)
        self.env = dict(env or {})

    def _spawn(self):
        environ = dict(os.environ)
        environ.update(self.env)
        with open(self.log_path, "ab") as log:
            shown = " ".join(f"{k}={v}" for k, v in self.env.items())
            log.write(f"\n=== {shown} {' '.join(self.command())}\n".encode())
            log.flush()
            self.proc = subprocess.Popen(
                self.command(),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=environ,
                preexec_fn=harness._die_with_parent,
            )


def rss_kib(pid):
    """The resident memory of a process from /proc/<pid>/status, in KiB: {"VmRSS", "RssAnon", "RssFile"}.
    RssFile counts the pages of data.mdb mapped in by reads; RssAnon is the heap and the stacks."""
    out = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            name, _, value = line.partition(":")
            if name in ("VmRSS", "RssAnon", "RssFile"):
                out[name] = int(value.split()[0])
    assert "VmRSS" in out, f"no VmRSS for pid {pid}"
    return out


# ---------------------------------------------------------------------------
# Producers


class Append:
    """One append as a producer made it: acknowledged once `ack` is set."""

    __slots__ = ("producer", "stream", "seqs", "ids", "types", "attempts", "ack")

    def __init__(self, producer, stream, seqs, ids, types):
        self.producer = producer
        self.stream = stream
        self.seqs = seqs
        self.ids = ids
        self.types = types
        self.attempts = 0
        self.ack = None


class Producers:
    """`threads` producers appending to streams of their own (so that a retry after a crash re-appends
    the stream's last events, which idempotency recognises with Expected-Revision `any`).

    Producer p writes streams `{prefixes[j % len(prefixes)]}{p}-{j}`, 1-3 events per append, event types
    cycling through `types`, each event's data `{"p", "seq", "stream"}` with `seq` counting the producer's
    events. An append that is not answered 201 (refused, reset, timed out, 503 while shutting down) is
    sent again with the same event ids until it is; only then does the producer go on."""

    def __init__(self, base_url, prefixes, threads=3, streams_per_thread=8, types=("Alpha", "Beta"),
                 pause_s=0.005, seed=1, request_timeout=10.0):
        self.base_url = base_url
        self.prefixes = list(prefixes)
        self.threads = threads
        self.streams_per_thread = streams_per_thread
        self.types = types
        self.pause_s = pause_s
        self.request_timeout = request_timeout
        self.rng = random.Random(seed)
        self.appends = []  # acknowledged, in acknowledgement order per producer
        self.errors = []
        self.retries = 0
        self.lock = threading.Lock()
        self._stop = threading.Event()
        self._threads = []

    def stream_of(self, p, j):
        return f"{self.prefixes[j % len(self.prefixes)]}{p}-{j}"

    def start(self):
        for p in range(self.threads):
            t = threading.Thread(target=self._run, args=(p, self.rng.randrange(1 << 30)), daemon=True,
                                 name=f"producer-{p}")
            t.start()
            self._threads.append(t)

    def stop(self, timeout=120):
        """Asks every producer to stop after its append in flight is acknowledged, and waits."""
        self._stop.set()
        for t in self._threads:
            t.join(timeout)
        alive = [t.name for t in self._threads if t.is_alive()]
        assert not alive, f"producers did not stop within {timeout} s: {alive}"
        assert not self.errors, f"producers saw unexpected answers: {self.errors[:5]}"

    def _run(self, p, seed):
        rng = random.Random(seed)
        api = Api(self.base_url)
        seq = 0
        j = 0
        while not self._stop.is_set():
            stream = self.stream_of(p, j % self.streams_per_thread)
            j += 1
            n = rng.randint(1, 3)
            seqs = list(range(seq, seq + n))
            seq += n
            ids = [str(uuid.uuid4()) for _ in seqs]
            types = [self.types[s % len(self.types)] for s in seqs]
            a = Append(p, stream, seqs, ids, types)
            body = json.dumps([{"eventId": i, "eventType": t, "data": {"p": p, "seq": s, "stream": stream}}
                               for i, t, s in zip(ids, types, seqs)])
            if not self._send_until_acknowledged(api, a, body):
                return
            with self.lock:
                self.appends.append(a)
            if self.pause_s:
                time.sleep(self.pause_s)

    def _send_until_acknowledged(self, api, a, body):
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            a.attempts += 1
            if a.attempts > 1:
                with self.lock:
                    self.retries += 1
            try:
                r = api.append(a.stream, body, timeout=self.request_timeout)
            except requests.RequestException:
                api = Api(self.base_url)  # a fresh connection after a refused or cut one
                time.sleep(0.05)
                continue
            if r.status_code == 201:
                a.ack = r.json()
                return True
            if r.status_code in (502, 503, 504):
                time.sleep(0.05)
                continue
            with self.lock:
                self.errors.append(f"append of {a.ids} to {a.stream} (attempt {a.attempts}): {describe(r)}")
            return False
        with self.lock:
            self.errors.append(f"append of {a.ids} to {a.stream} not acknowledged within 300 s")
        return False

    # -- what was acknowledged --
    def acknowledged(self):
        with self.lock:
            return list(self.appends)

    def event_count(self):
        with self.lock:
            return sum(len(a.ids) for a in self.appends)


# ---------------------------------------------------------------------------
# The log


def read_log(base_url, filter=None, count=1000):
    """Every event of `$all` (with `filter` when given), following `next` page by page."""
    api = Api(base_url)
    params = {"from": "start", "count": count}
    if filter:
        params["filter"] = filter
    out = []
    for _ in range(100_000):
        r = api.read("$all", **params)
        assert r.status_code == 200, describe(r)
        page = r.json()
        out.extend(page["events"])
        if page["next"] is None:
            return out
        params["from"] = page["next"]
    raise AssertionError("reading $all did not end")


def check_store_holds_each_acknowledged_event_once(log, appends):
    """Every acknowledged event is in the log exactly once, nothing else of the producers' is, each
    stream holds its producer's events in the order they were acknowledged, and each append's answer
    names the position of its last event. Returns the number of events checked."""
    counts = collections.Counter(e["eventId"] for e in log)
    dups = {i: c for i, c in counts.items() if c > 1}
    assert not dups, f"{len(dups)} event ids are in the log more than once, e.g. {list(dups.items())[:5]}"
    by_id = {e["eventId"]: e for e in log}
    acked_ids = [i for a in appends for i in a.ids]
    missing = [i for i in acked_ids if i not in by_id]
    assert not missing, (f"{len(missing)} of {len(acked_ids)} acknowledged events are not in the log, "
                         f"e.g. {missing[:5]}")
    extra = set(by_id) - set(acked_ids)
    assert not extra, f"{len(extra)} events in the log that no producer had acknowledged, e.g. {list(extra)[:5]}"
    for a in appends:
        last = by_id[a.ids[-1]]
        assert a.ack["position"] == last["position"], \
            f"append {a.ids} was acknowledged with position {a.ack['position']} but its last event is at {last}"
        positions = [by_id[i]["position"] for i in a.ids]
        assert positions == list(range(positions[0], positions[0] + len(positions))), \
            f"the events of one append are not contiguous in $all: {positions}"
        for i, s in zip(a.ids, a.seqs):
            assert by_id[i]["data"] == {"p": a.producer, "seq": s, "stream": a.stream}, by_id[i]
    per_stream = collections.defaultdict(list)
    for e in log:
        per_stream[e["streamId"]].append(e)
    for stream, evs in per_stream.items():
        revs = [e["revision"] for e in evs]
        assert revs == list(range(len(evs))), f"{stream}: revisions {revs[:20]}... are not 0, 1, 2, ..."
        seqs = [e["data"]["seq"] for e in evs]
        assert seqs == sorted(seqs), f"{stream}: a producer's sequence is out of order: {seqs[:20]}..."
    return len(acked_ids)


# ---------------------------------------------------------------------------
# What a sink received


class DeliveryError(AssertionError):
    pass


def analyse_delivery(received, expected):
    """Checks `received` (record ids in arrival order) against `expected` (the matching record ids in
    `$all` order): every expected id at least once, no id that was not expected, and no gap: the
    sequence is made of runs of consecutive expected ids, each starting at most one past the highest
    id delivered before it. A run that starts at or below that highest id is a restart that re-sent
    records. Returns the runs as dicts {"at": index in received, "from": index in expected, "dups"}."""
    index = {k: i for i, k in enumerate(expected)}
    if len(index) != len(expected):
        raise DeliveryError("expected ids are not unique")
    high = -1
    prev = None
    runs = []
    run = None
    for n, k in enumerate(received):
        j = index.get(k)
        if j is None:
            raise DeliveryError(f"received {k!r} (request #{n}), which is not a matching event of the log")
        if prev is None or j != prev + 1:
            if j > high + 1:
                raise DeliveryError(
                    f"gap at request #{n}: after record #{high} ({expected[high] if high >= 0 else None}) came "
                    f"#{j} ({k}); {j - high - 1} matching record(s) skipped")
            run = {"at": n, "from": j, "dups": 0}
            runs.append(run)
        if j <= high:
            run["dups"] += 1
        else:
            high = j
        prev = j
    if high != len(expected) - 1:
        raise DeliveryError(f"{len(expected) - high - 1} of {len(expected)} matching records never arrived; "
                            f"the first missing is {expected[high + 1]!r}")
    return runs


def record_ids(rx):
    """The esdb-record-id of each request the receiver answered 2xx, in arrival order."""
    return [r.headers.get("esdb-record-id") for r in rx.delivered()]


def wait_until_delivered(rx, expected_ids, timeout):
    """Waits until the receiver has answered 2xx to every expected id at least once."""
    want = set(expected_ids)
    deadline = time.monotonic() + timeout
    while True:
        got = set(record_ids(rx))
        left = want - got
        if not left:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"receiver on port {rx.port}: {len(left)} of {len(want)} records not delivered "
                                 f"within {timeout} s")
        time.sleep(0.1)


# ---------------------------------------------------------------------------
# The receiver, with faults it does not have


RESET = "reset"
TRICKLE = "trickle"
HOLD = "hold"


class _Fault:
    def __init__(self, kind, predicate, count, status=200, byte_delay=0.0, hold_s=0.0, headers=None):
        self.kind = kind
        self.predicate = predicate
        self.count = count
        self.status = status
        self.byte_delay = byte_delay
        self.hold_s = hold_s
        self.headers = dict(headers or {})


class _FaultHandler(_Handler):
    """The receiver's handler, with faults: a matching request is read and recorded, then answered by
    a connection reset, by an answer sent one byte at a time, or held unanswered and dropped."""

    def _read_body(self):
        cached = getattr(self, "_cached_body", None)
        if cached is not None:
            self._cached_body = None
            return cached
        return super()._read_body()

    def _handle(self):
        try:
            body = _Handler._read_body(self)
        except (ConnectionError, ValueError, OSError):
            self.close_connection = True
            return
        rx = self.server.receiver
        fault = rx._take_fault(self.headers, body)
        if fault is None:
            self._cached_body = body
            return super()._handle()
        req = rx._record(self.command, self.path, list(self.headers.items()), body, self.conn_id)
        self.close_connection = True
        if fault.kind == RESET:
            rx._outcome(req, RESET)
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            try:
                self.connection.close()
            except OSError:
                pass
            return
        if fault.kind == HOLD:
            rx._outcome(req, HUNG)
            rx._closed.wait(fault.hold_s)
            try:
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            return
        # TRICKLE: the whole answer, one byte at a time.
        payload = json.dumps({"status": fault.status}).encode()
        head = f"HTTP/1.1 {fault.status} {REASONS.get(fault.status, 'X')}\r\n"
        for name, value in fault.headers.items():
            head += f"{name}: {value}\r\n"
        head += f"Content-Type: application/json\r\nContent-Length: {len(payload)}\r\nConnection: close\r\n\r\n"
        data = head.encode() + payload
        rx._outcome(req, TRICKLE)
        try:
            for i in range(len(data)):
                self.connection.sendall(data[i:i + 1])
                if rx._closed.wait(fault.byte_delay):
                    return
        except OSError:
            rx._outcome(req, "cut")
            return
        rx._answered(req, fault.status)


class FaultReceiver(Receiver):
    """The connectors Receiver with three more behaviours, for the requests matching `predicate`:
        rx.reset_next(n, predicate)                      reset the connection (RST), no answer
        rx.trickle_next(n, predicate, status, delay)     send the answer one byte every `delay` s
        rx.hold_next(n, predicate, seconds)              never answer; drop the connection after `seconds`
    A request given a fault gets the outcome "reset", "trickle" (then its status once fully sent, or
    "cut" when the client went away) or "hung"."""

    def __init__(self, **kw):
        self._faults = []
        super().__init__(**kw)

    def _listen(self):
        httpd = _Server((self.host, self.port), _FaultHandler)
        httpd.receiver = self
        self.port = httpd.server_address[1]
        thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True,
                                  name=f"fault-receiver-{self.port}")
        thread.start()
        self._httpd, self._thread = httpd, thread

    def _add(self, fault):
        with self._cond:
            self._faults.append(fault)

    def reset_next(self, count, predicate=None):
        self._add(_Fault(RESET, predicate, count))

    def trickle_next(self, count, predicate=None, status=200, byte_delay=0.02, headers=None):
        self._add(_Fault(TRICKLE, predicate, count, status=status, byte_delay=byte_delay, headers=headers))

    def hold_next(self, count, predicate=None, seconds=30.0):
        self._add(_Fault(HOLD, predicate, count, hold_s=seconds))

    def clear_faults(self):
        with self._cond:
            self._faults.clear()

    def _take_fault(self, headers, body):
        with self._cond:
            for f in list(self._faults):
                if f.predicate is not None and not f.predicate(body):
                    continue
                f.count -= 1
                if f.count <= 0:
                    self._faults.remove(f)
                return f
        return None

    def _outcome(self, req, outcome):
        with self._cond:
            req.outcome = outcome
            req.answered_at = time.monotonic()
            self._cond.notify_all()


def connector_settings(url, **extra):
    """An http-sink from the start of the log; keys with `:` as they are, values as strings."""
    s = {"instanceTypeName": "http-sink", "url": url, "subscription:initialPosition": "earliest"}
    s.update({k: str(v) for k, v in extra.items()})
    return s
