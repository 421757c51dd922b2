"""Many concurrent appenders: nothing lost, nothing duplicated, revisions and positions in order.

200 appenders (SLUICE_TEST_APPENDERS) run for SLUICE_TEST_LOAD_SECONDS (10 s by default),
each on its own keep-alive connection, each writing sequence-numbered events to a stream
of its own (with exact expected revisions) and to a few shared streams (with `any`)."""

import os
import threading
import time
import uuid

import pytest
import requests

from conftest import LOAD_SECONDS
from sluice_client import JSON, SseClient, event, stream_path

APPENDERS = int(os.environ.get("SLUICE_TEST_APPENDERS", "200"))
SHARED = 4


class Appender(threading.Thread):
    def __init__(self, base_url, index, shared, start_gate, stop):
        super().__init__(daemon=True, name=f"appender-{index}")
        self.base_url = base_url
        self.index = index
        self.own = f"own-{index}"
        self.shared = shared
        self.start_gate = start_gate
        self.stop = stop
        self.acks = []  # (stream, [event], answer)
        self.errors = []

    def run(self):
        session = requests.Session()
        revision = -1
        seq = 0
        try:
            self.start_gate.wait(120)
        except threading.BrokenBarrierError:
            self.errors.append("start barrier broken")
            return
        while not self.stop.is_set():
            n = 1 + seq % 3
            if seq % 3 == 2:
                stream, expected = self.shared[(self.index + seq) % len(self.shared)], "any"
            else:
                stream, expected = self.own, ("no_stream" if revision < 0 else str(revision))
            evs = [
                event("Seq", {"appender": self.index, "seq": seq, "k": k}, event_id=str(uuid.uuid4())) for k in range(n)
            ]
            try:
                r = session.post(
                    self.base_url + stream_path(stream),
                    json=evs,
                    headers={"Content-Type": JSON, "Expected-Revision": expected},
                    timeout=60,
                )
            except requests.RequestException as e:
                self.errors.append(f"{stream} seq {seq}: {e!r}")
                return
            if r.status_code != 201:
                self.errors.append(f"{stream} seq {seq} expected {expected}: {r.status_code} {r.text[:300]}")
                return
            answer = r.json()
            if stream == self.own:
                if answer["nextExpectedRevision"] != revision + n:
                    self.errors.append(f"{stream} seq {seq}: answered {answer} after revision {revision} + {n} events")
                    return
                if seq % 5 == 0:
                    # A client retrying an acknowledged append gets the same answer; nothing is written twice.
                    again = session.post(r.request.url, data=r.request.body, headers=r.request.headers, timeout=60)
                    if again.status_code != 201 or again.json() != answer:
                        self.errors.append(f"{stream} seq {seq}: retry answered {again.status_code} {again.text[:200]}, first {answer}")
                        return
                revision = answer["nextExpectedRevision"]
            self.acks.append((stream, evs, answer))
            seq += 1
        session.close()


@pytest.mark.time_limit(int(LOAD_SECONDS) + 240)
def test_concurrent_appenders_lose_nothing_duplicate_nothing_and_keep_order(fresh_server):
    shared = [f"shared-{k}" for k in range(SHARED)]
    stop = threading.Event()
    gate = threading.Barrier(APPENDERS + 1)
    appenders = [Appender(fresh_server.base_url, i, shared, gate, stop) for i in range(APPENDERS)]
    watcher = Subscriber(fresh_server.port)
    watcher.start()
    for a in appenders:
        a.start()
    gate.wait(120)
    started = time.monotonic()
    stop.wait(LOAD_SECONDS)
    stop.set()
    for a in appenders:
        a.join(max(1.0, started + LOAD_SECONDS + 120 - time.monotonic()))
    assert not [a.name for a in appenders if a.is_alive()], "appenders still running 120 s after the load ended"

    errors = [e for a in appenders for e in a.errors]
    assert not errors, f"{len(errors)} appends failed, e.g. {errors[:5]}"
    idle = [a.index for a in appenders if not a.acks]
    assert not idle, f"appenders with no acknowledged append: {idle[:20]}"

    log = verify(fresh_server.new_api(), [a.own for a in appenders] + shared, [ack for a in appenders for ack in a.acks])
    seen = watcher.wait_for(len(log), timeout=90)
    assert not watcher.errors, watcher.errors
    assert [e["eventId"] for e in seen] == [e["eventId"] for e in log], "the $all subscriber did not see exactly the log"


class Subscriber(threading.Thread):
    """Follows $all from the start while the appenders run."""

    def __init__(self, port):
        super().__init__(daemon=True, name="subscriber")
        self.sub = SseClient(port, "$all", {"from": "start"}, timeout=30)
        assert self.sub.status == 200, self.sub.error_body
        self.received = []
        self.errors = []
        self.done = threading.Event()

    def run(self):
        try:
            while not self.done.is_set():
                ev = self.sub.next_event(0.5)
                if ev is not None:
                    self.received.append(ev.json())
        except Exception as e:  # noqa: BLE001 - reported by the test
            self.errors.append(repr(e))
        finally:
            self.sub.close()

    def wait_for(self, n, timeout):
        deadline = time.monotonic() + timeout
        while len(self.received) < n and time.monotonic() < deadline and self.is_alive():
            time.sleep(0.05)
        time.sleep(0.2)  # anything beyond the log would be a duplicate: give it a moment to show
        self.done.set()
        self.join(5)
        return list(self.received)


def verify(api, streams, acks):
    """Every acknowledged event is stored exactly once, where and as it was acknowledged."""
    problems = []
    log = api.read_everything("$all", count=10_000)
    positions = [e["position"] for e in log]
    bad_order = [(a, b) for a, b in zip(positions, positions[1:]) if not a < b]
    if bad_order:
        problems.append(f"$all positions not strictly increasing: {bad_order[:5]}")
    index_in_log = {}
    for i, e in enumerate(log):
        if e["eventId"] in index_in_log:
            problems.append(f"event {e['eventId']} twice in $all")
        index_in_log[e["eventId"]] = i

    stored = {}
    for s in streams:
        read = api.read_everything(s, count=10_000)
        revisions = [e["revision"] for e in read]
        if revisions != list(range(len(read))):
            problems.append(f"{s}: revisions not contiguous from 0: {revisions[:10]}...")
        for e in read:
            if e["eventId"] in stored:
                problems.append(f"event {e['eventId']} stored twice")
            stored[e["eventId"]] = e

    acked_ids = set()
    for stream, evs, answer in acks:
        got = [stored.get(e["eventId"]) for e in evs]
        if any(g is None for g in got):
            problems.append(f"acknowledged event lost from {stream}: {[e['eventId'] for e, g in zip(evs, got) if g is None]}")
            continue
        acked_ids.update(e["eventId"] for e in evs)
        for e, g in zip(evs, got):
            if g["streamId"] != stream or g["data"] != e["data"] or g["eventType"] != e["eventType"]:
                problems.append(f"event {e['eventId']} stored as {g}, sent {e} to {stream}")
        revs = [g["revision"] for g in got]
        if revs != list(range(revs[0], revs[0] + len(revs))):
            problems.append(f"one append to {stream} got revisions {revs}")
        if (got[-1]["revision"], got[-1]["position"]) != (answer["nextExpectedRevision"], answer["position"]):
            problems.append(f"append to {stream} answered {answer}, stored at {got[-1]['revision']}/{got[-1]['position']}")
        where = [index_in_log.get(e["eventId"]) for e in evs]
        if None in where or where != list(range(where[0], where[0] + len(where))):
            problems.append(f"one append to {stream} is not contiguous in $all: {where}")
    unacked = set(stored) - acked_ids
    if unacked:
        problems.append(f"{len(unacked)} stored events were never acknowledged, e.g. {sorted(unacked)[:3]}")
    assert not problems, f"{len(problems)} problems with {len(acks)} acknowledged appends:\n" + "\n".join(problems[:30])
    assert len(acks) >= len(streams)
    return log


def race(n, fn):
    """Runs fn(i) in n threads released at once; returns their results in order."""
    gate = threading.Barrier(n)
    results = [None] * n

    def run(i):
        session = requests.Session()
        gate.wait(30)
        results[i] = fn(session, i)
        session.close()

    threads = [threading.Thread(target=run, args=(i,), daemon=True) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not any(t.is_alive() for t in threads)
    return results


@pytest.mark.time_limit(120)
def test_racing_appends_at_the_same_expected_revision_let_exactly_one_win(server):
    api = server.api
    s = "race-" + uuid.uuid4().hex[:8]
    api.append_ok(s, [event("Start")])
    for round_no in range(10):
        expected = round_no  # the stream's revision before this round

        def attempt(session, i):
            r = session.post(
                server.base_url + stream_path(s),
                json=[event("Racer", {"round": round_no, "racer": i})],
                headers={"Content-Type": JSON, "Expected-Revision": str(expected)},
                timeout=60,
            )
            return r.status_code, r.json()

        results = race(20, attempt)
        winners = [body for status, body in results if status == 201]
        losers = [body for status, body in results if status == 409]
        assert len(winners) == 1, results
        assert len(losers) == 19, results
        assert winners[0]["nextExpectedRevision"] == expected + 1
        assert all(b["error"] == "wrong-expected-version" and b["actual"] == expected + 1 for b in losers), losers
    assert api.revisions(s) == list(range(11))


@pytest.mark.time_limit(120)
def test_racing_identical_appends_are_written_once_and_all_get_the_same_answer(server):
    api = server.api
    for expected in ("no_stream", "any"):
        for _ in range(5):
            s = "twin-" + uuid.uuid4().hex[:8]
            evs = [event("Twin", {"k": k}) for k in range(3)]

            def attempt(session, i):
                r = session.post(
                    server.base_url + stream_path(s),
                    json=evs,
                    headers={"Content-Type": JSON, "Expected-Revision": expected},
                    timeout=60,
                )
                return r.status_code, r.json()

            results = race(10, attempt)
            assert {status for status, _ in results} == {201}, results
            assert len({json_key(body) for _, body in results}) == 1, results
            assert api.revisions(s) == [0, 1, 2]
            assert results[0][1]["nextExpectedRevision"] == 2


def json_key(body):
    return tuple(sorted(body.items()))
