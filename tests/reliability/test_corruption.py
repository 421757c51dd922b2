"""Corruption: bytes of data.mdb flipped, or the file cut short, while the server is stopped.

What must hold: the server never serves damaged data as if it were whole. Either it refuses to start
(non-zero exit, a message naming the data file or directory), or, for damage outside what the open
check covers (it checks the file's length and the newest 10 000 records), every read that meets the
damage answers a 5xx JSON error (`corrupt-data` naming the position) instead of the bytes.

A record's bytes are found by searching data.mdb for a unique payload string; LMDB copies a page on
each change, so stale copies of a record may sit in free pages: every copy is flipped."""

import os
import random
import re
import shutil
import struct
import time
import uuid

import pytest

from rel_support import ConnectorsApi, Receiver, Server, connector_settings, env_int, harness, known_defect, read_log
from sluice_client import Api, ConnectionClosed, SseClient, describe

FLIPS = env_int("SLUICE_CORRUPTION_FLIPS", 6)
SEED = env_int("SLUICE_CORRUPTION_SEED", 1)
OPEN_CHECKED = 10_000  # src/store/open.c TAIL_RECORDS_CHECKED


def data_file(srv):
    return os.path.join(srv.data_dir, "data.mdb")


def flip_everywhere(path, needle, at=0, bit=0x01):
    """Flips one bit of byte `at` of every occurrence of `needle` in the file; returns how many."""
    with open(path, "r+b") as f:
        data = bytearray(f.read())
        offsets = [m.start() for m in re.finditer(re.escape(needle), data)]
        for o in offsets:
            data[o + at] ^= bit
        f.seek(0)
        f.write(data)
    return offsets


@pytest.fixture
def reopen(tmp_path):
    """reopen(srv) -> (probe, outcome): the data directory of `srv` (stopped) served again by a new
    Server with an output of its own, so that a crash expected as a known defect does not fail the
    test that owns `srv`. outcome: None once ready, or (exit status, output). Stopped afterwards; an
    unexpected sanitizer report or unclean exit fails the test."""
    probes = []

    def do(srv):
        probe = Server(srv.data_dir, tmp_path / f"reopen-{len(probes)}.log", port=srv.port)
        probe.is_crash_known = False
        probes.append(probe)
        return probe, start_or_refusal(probe)

    yield do
    problems = []
    for probe in probes:
        probe.stop()
        report = probe.sanitizer_report()
        if report and not probe.is_crash_known:
            problems.append(f"sanitizer report in the output of sluice on {probe.data_dir}:\n{report}")
        problems += probe.unclean_exits
    if problems:
        pytest.fail("\n".join(problems), pytrace=False)


def start_or_refusal(srv, timeout=30.0):
    """Starts the server; returns None once it is ready, or (exit status, its output) if it exits."""
    mark = srv.log_size()
    srv._spawn()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if srv.proc.poll() is not None:
            return srv.proc.returncode, srv.log_tail(60, mark)
        try:
            if Api(srv.base_url).get("/health/ready", timeout=1).status_code == 200:
                srv.starts += 1
                return None
        except Exception:
            pass
        time.sleep(0.05)
    srv.kill()
    raise AssertionError(f"sluice neither started nor exited within {timeout} s:\n{srv.log_tail(40, mark)}")


def assert_refused_naming_the_store(srv, outcome, what):
    assert outcome is not None, f"sluice started on {what}"
    rc, out = outcome
    assert rc != 0, f"sluice exited 0 on {what}:\n{out}"
    assert data_file(srv) in out or str(srv.data_dir) in out, f"the message does not name the data file:\n{out}"
    return rc, out


def is_sanitizer_crash(out):
    return any(mark in out for mark in harness.SANITIZER_MARKS) or "AddressSanitizer" in out


def marker_event(tag):
    marker = f"MARK-{tag}-{uuid.uuid4().hex}"
    return marker, {"eventId": str(uuid.uuid4()), "eventType": "Marked", "data": {"marker": marker}}


def filler(n, tag):
    return [{"eventId": str(uuid.uuid4()), "eventType": "Filler", "data": {"t": tag, "i": i}} for i in range(n)]


@pytest.fixture
def stopped_store(server_factory):
    """A server on a fresh data directory, for a test to fill, stop, damage and start again."""
    return server_factory()


def test_a_flipped_byte_in_a_recent_record_makes_the_server_refuse_to_start_naming_the_file(stopped_store, reopen):
    srv = stopped_store
    api = srv.api
    api.append_ok("recent-a", filler(50, "a"))
    marker, ev = marker_event("recent")
    api.append_ok("recent-target", [ev])
    api.append_ok("recent-b", filler(50, "b"))
    srv.stop()
    offsets = flip_everywhere(data_file(srv), marker.encode())
    assert offsets, "the record's payload is not in data.mdb"
    probe, outcome = reopen(srv)
    rc, out = assert_refused_naming_the_store(srv, outcome, "a damaged recent record")
    assert "checksum" in out or "damaged" in out, out
    print(f"\nrefused (exit {rc}): {out.strip().splitlines()[-1]}")


@pytest.mark.time_limit(120)
def test_a_damaged_record_outside_the_open_check_is_never_served(stopped_store, reopen):
    srv = stopped_store
    api = srv.api
    marker, ev = marker_event("old")
    api.append_ok("old-target", [filler(1, "before")[0], ev, filler(1, "after")[0]])
    for k in range(OPEN_CHECKED // 1000 + 1):
        api.append_ok(f"old-fill-{k}", filler(1000, k))
    target = api.read_ok("old-target")["events"][1]
    assert target["eventId"] == ev["eventId"]
    pos = target["position"]
    srv.stop()
    assert flip_everywhere(data_file(srv), marker.encode())
    probe, outcome = reopen(srv)
    if outcome is not None:
        rc, out = assert_refused_naming_the_store(srv, outcome, "a damaged old record")
        print(f"\nrefused at open (the check went further than required): {out.strip().splitlines()[-1]}")
        return
    api = Api(probe.base_url)

    def assert_corrupt(r, what):
        assert r.status_code != 200 or ev["eventId"] not in r.text, f"{what} served the damaged record: {describe(r)}"
        assert 500 <= r.status_code < 600, f"{what}: {describe(r)}"
        body = r.json()
        assert body.get("error") == "corrupt-data", f"{what}: {describe(r)}"
        assert str(pos) in body.get("message", ""), f"{what}: the message does not name position {pos}: {describe(r)}"

    assert_corrupt(api.read("old-target"), "a forward read of the stream")
    assert_corrupt(api.read("old-target", **{"from": "end", "direction": "backwards"}), "a backward read")
    assert_corrupt(api.read("$all", **{"from": "start", "count": 100}), "a read of $all")
    assert_corrupt(api.read("$all", **{"from": pos + 5, "direction": "backwards", "count": 100}),
                   "a backward read of $all")
    # A filtered read may first hand out the intact events before the damaged
    # one (with `next` set); the page that reaches the damage must fail.
    r = api.read("$all", **{"from": "start", "filter": "streamPrefix:old-target"})
    while r.status_code == 200 and ev["eventId"] not in r.text and r.json().get("next") is not None:
        r = api.read("$all", **{"from": r.json()["next"], "filter": "streamPrefix:old-target"})
    assert_corrupt(r, "a filtered read")
    # What is not damaged is still served.
    assert api.read_ok("old-fill-3", count=10)["events"]

    # A subscription from the start never hands out the damaged record.
    with SseClient(probe.port, "$all", params={"from": "start"}, timeout=10) as sse:
        assert sse.status == 200
        seen, ending = [], "went silent (no event for 3 s, stream still open)"
        try:
            while True:
                e = sse.next_event(3.0)
                if e is None:
                    break
                seen.append(e)
                assert ev["eventId"] not in e.data, f"a subscription served the damaged record: {e}"
        except ConnectionClosed:
            ending = "was ended by the server" + (" with an error event" if any(x.event for x in seen) else
                                                  ", with no error event")
    # A connector that reaches the damage does not deliver it: it stops and says why.
    rx = Receiver()
    try:
        conns = ConnectorsApi(probe.base_url)
        conns.create_ok("corrupt-conn", settings=connector_settings(rx.url, **{
            "subscription:filter:scope": "stream", "subscription:filter:filterType": "prefix",
            "subscription:filter:expression": "old-target"}))
        conns.start_ok("corrupt-conn")
        item = conns.wait_state("corrupt-conn", "CONNECTOR_STATE_STOPPED", timeout=20)
        delivered = rx.delivered()
        assert all(r.headers.get("esdb-record-id") != ev["eventId"] for r in delivered), \
            "a connector delivered the damaged record"
        assert len(delivered) <= 1, f"only the event before the damage may be delivered: {delivered}"
        details = item.get("errorDetails") or {}
        assert str(pos) in details.get("message", ""), f"the connector's errorDetails do not name {pos}: {item}"
    finally:
        rx.close()
    print(f"\ndamaged record at position {pos} (beyond the newest {OPEN_CHECKED}): reads answer 500 corrupt-data; "
          f"the subscription gave {len(seen)} events and {ending}; the connector delivered "
          f"{len(delivered)} and stopped: "
          f"{details.get('message', '')[:160]}")
    if not delivered:
        known_defect("D6", f"the intact event at position {pos - 1}, before the damaged one, was never delivered: "
                           "the connector's read of a batch fails as a whole at the damaged record")


@pytest.mark.parametrize("cut", ["half", "all-but-one-page", "two-pages", "one-page", "empty"])
def test_a_truncated_data_file_makes_the_server_refuse_to_start_naming_the_file(stopped_store, reopen, cut):
    srv = stopped_store
    api = srv.api
    for k in range(8):
        api.append_ok(f"trunc-{k}", filler(200, k))
    srv.stop()
    path = data_file(srv)
    size = os.path.getsize(path)
    new_size = {"half": size // 2 // 4096 * 4096, "all-but-one-page": size - 4096, "two-pages": 8192,
                "one-page": 4096, "empty": 0}[cut]
    os.truncate(path, new_size)
    probe, outcome = reopen(srv)
    if outcome is None:
        # Only what the file no longer holds may be missing from a store that opens: nothing, then.
        log = read_log(probe.base_url, filter="streamPrefix:trunc-")
        if cut == "empty" and not log:
            known_defect("D5", "data.mdb cut to 0 bytes opens as a new, empty store, with no warning: every "
                               "acknowledged event is silently gone")
        assert len(log) == 1600, f"data.mdb cut from {size} to {new_size} bytes: sluice started and serves " \
                                 f"{len(log)} of 1600 events"
        print(f"\ncut from {size} to {new_size} bytes: only unused pages were cut; every event served")
        return
    rc, out = outcome
    if is_sanitizer_crash(out) or rc < 0:
        probe.is_crash_known = True
        known_defect("D3", f"data.mdb cut from {size} to {new_size} bytes crashes sluice at open (exit {rc}) "
                           f"before the length check runs: {out.strip().splitlines()[-1][:200]}")
    assert_refused_naming_the_store(srv, outcome, f"data.mdb cut from {size} to {new_size} bytes")
    print(f"\ncut from {size} to {new_size} bytes: refused (exit {rc}): {out.strip().splitlines()[-1]}")


def find_index_entries(path, revision, position):
    """Offsets of the position in the value of each stream_index node (key: stream id, revision;
    value: position, event id), in LMDB's leaf-node layout: data size (4 bytes LE), flags (2), key
    size (2), key, data."""
    data = open(path, "rb").read()
    head = struct.pack("<IHH", 24, 0, 16)
    tail = struct.pack(">QQ", revision, position)
    return [m.start() + len(head) + 16 for m in re.finditer(re.escape(head) + b".{8}" + re.escape(tail), data,
                                                               re.DOTALL)]


@pytest.mark.parametrize("damage", ["points-nowhere", "points-at-another-stream"])
def test_a_damaged_stream_index_entry_is_not_served_as_a_plausible_stream(stopped_store, reopen, damage):
    srv = stopped_store
    api = srv.api
    for i in range(6):
        api.append_ok("idx-alpha", filler(1, f"a{i}"))
        api.append_ok("idx-beta", filler(1, f"b{i}"))
    alpha = api.read_ok("idx-alpha")["events"]
    beta = api.read_ok("idx-beta")["events"]
    victim = alpha[2]
    new_pos = {"points-nowhere": 1 << 40, "points-at-another-stream": beta[4]["position"]}[damage]
    srv.stop()
    path = data_file(srv)
    offsets = find_index_entries(path, victim["revision"], victim["position"])
    assert offsets, "the stream_index entry is not in data.mdb"
    with open(path, "r+b") as f:
        for o in offsets:
            f.seek(o)
            f.write(struct.pack(">Q", new_pos))
    probe, outcome = reopen(srv)
    if outcome is not None:
        assert_refused_naming_the_store(srv, outcome, "a damaged stream index")
        return
    r = Api(probe.base_url).read("idx-alpha")
    if r.status_code == 200:
        got = [(e["streamId"], e["revision"]) for e in r.json()["events"]]
        if got != [("idx-alpha", e["revision"]) for e in alpha]:
            known_defect("D4", f"the stream_index entry of idx-alpha@{victim['revision']} now {damage}: a read of "
                               f"idx-alpha answers 200 with {got}, next {r.json()['next']} (expected revisions "
                               "0-5 of idx-alpha or a 5xx corrupt-data error): the indexes are not checked against "
                               "the records")
    assert 500 <= r.status_code < 600 and r.json().get("error") == "corrupt-data", describe(r)


def describe_change(want, got):
    """How a read differs from what it answered before the damage."""
    if len(got) != len(want):
        ids = {g["eventId"] for g in got}
        missing = [f"{e['streamId']}@{e['revision']}" for e in want if e["eventId"] not in ids]
        return f"with {len(got)} of {len(want)} events (missing {missing[:5]}{'...' if len(missing) > 5 else ''})"
    for w, g in zip(want, got):
        if w != g:
            fields = [k for k in w if w.get(k) != g.get(k)]
            return f"with event {w['streamId']}@{w['revision']} changed in {fields}"
    return "changed"


@pytest.mark.time_limit(240)
def read_pages(api, name):
    """Reads `name` from the start, following `next` as a client pages through a stream: (the events
    served, 200 or the first error's status, the error). A server that meets damage may hand out the
    intact events before it and report the damage on the next page."""
    got, params = [], {"count": 1000}
    for _ in range(100):
        r = api.read(name, **params)
        if r.status_code != 200:
            return got, r.status_code, describe(r)
        body = r.json()
        got += body["events"]
        if body["next"] is None or len(got) >= 1000:
            return got, 200, None
        params = {"count": 1000 - len(got), "from": body["next"]}
    return got, 200, None


def test_random_byte_flips_never_make_the_server_serve_changed_data(tmp_path_factory):
    """Each flip on a copy of one store: the server refuses to start, or serves every read exactly as
    before or as a 5xx error; it never crashes and never serves a changed event."""
    pristine_dir = tmp_path_factory.mktemp("flip-pristine")
    log_dir = tmp_path_factory.mktemp("flip-log")
    srv = Server(pristine_dir, log_dir / "pristine.log")
    srv.start()
    api = srv.api
    for i in range(100):
        api.append_ok(f"flip-{i % 7}", [{"eventType": "T", "data": {"i": i, "pad": "x" * 40}},
                                        {"eventType": "U", "data": {"i": i}}])
    reads = {f"flip-{k}": api.read_ok(f"flip-{k}", count=1000)["events"] for k in range(7)}
    reads["$all"] = api.read_ok("$all", count=1000)["events"]
    assert srv.stop() == 0
    size = os.path.getsize(os.path.join(pristine_dir, "data.mdb"))
    rng = random.Random(SEED)
    results = []
    silent, crashes = [], []
    for k in range(FLIPS):
        d = tmp_path_factory.mktemp(f"flip-{k}")
        shutil.rmtree(d)
        shutil.copytree(pristine_dir, d)
        offset, bit = rng.randrange(size), 1 << rng.randrange(8)
        with open(os.path.join(d, "data.mdb"), "r+b") as f:
            f.seek(offset)
            byte = f.read(1)[0]
            f.seek(offset)
            f.write(bytes([byte ^ bit]))
        s = Server(d, log_dir / f"flip-{k}.log", port=srv.port)
        outcome = start_or_refusal(s)
        if outcome is not None:
            rc, out = outcome
            if is_sanitizer_crash(out) or rc < 0:
                crashes.append((offset, bit, out[-600:]))
            results.append(f"byte {offset} bit {bit}: refused ({out.strip().splitlines()[-1][-120:]})")
            continue
        verdicts = []
        for name, want in reads.items():
            got, status, error = read_pages(Api(s.base_url), name)
            if status == 200:
                if got != want:
                    verdicts.append(f"{name} answered 200 but {describe_change(want, got)}")
                    silent.append((offset, bit, name, describe_change(want, got)))
            else:
                assert 500 <= status < 600, f"byte {offset} bit {bit}: {error}"
                if got != want[:len(got)]:
                    verdicts.append(f"{name} served changed events before {status}: {describe_change(want, got)}")
                    silent.append((offset, bit, name, describe_change(want, got)))
                else:
                    verdicts.append(f"{name} {status} {error} after {len(got)} intact events")
        alive = s.is_running()
        rc = s.stop()
        if not alive or is_sanitizer_crash(s.log_tail(200)):
            crashes.append((offset, bit, s.log_tail(30)))
        s.unclean_exits.clear()
        results.append(f"byte {offset} bit {bit}: started; " + (", ".join(verdicts) or "every read identical")
                       + ("" if rc == 0 else f"; exit {rc}"))
        shutil.rmtree(d, ignore_errors=True)
    print(f"\n{FLIPS} random flips (seed {SEED}) of a {size}-byte data.mdb:")
    for line in results:
        print("  " + line)
    assert not crashes, f"sluice crashed on a flipped byte: {crashes[0]}"
    if silent:
        known_defect("D4", f"after a flipped byte a read answered 200 with changed events: {silent} "
                           "(the stream and log indexes are not checked against the records)")
