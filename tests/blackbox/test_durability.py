"""Durability: kill -9 under load loses no acknowledged append and leaves no partial one."""

import os
import threading
import time
import uuid

import pytest
import requests

from sluice_client import JSON, OCTET, binary_event, describe, event, events, stream_path, unb64, unique

ROUNDS = 3
LOADERS = 16
SHARED = [f"dur-shared-{k}" for k in range(3)]


class Attempt:
    """One append as the client sent it; `answer` is set only once the server answered 201."""

    def __init__(self, stream, evs):
        self.stream = stream
        self.evs = evs
        self.answer = None


class Loader(threading.Thread):
    def __init__(self, base_url, name, ledger, stop, killed):
        super().__init__(daemon=True, name=name)
        self.base_url = base_url
        self.own = name
        self.ledger = ledger
        self.stop = stop
        self.killed = killed
        self.errors = []

    def run(self):
        session = requests.Session()
        revision = -1
        seq = 0
        while not self.stop.is_set():
            n = 1 + seq % 5
            if seq % 4 == 3:
                stream, expected = SHARED[seq % len(SHARED)], "any"
            else:
                stream, expected = self.own, ("no_stream" if revision < 0 else str(revision))
            evs = []
            for k in range(n):
                if k == 1:
                    evs.append(binary_event(os.urandom(16 + seq % 200), event_type="Bin", event_id=str(uuid.uuid4())))
                else:
                    evs.append(event("Seq", {"loader": self.own, "seq": seq, "k": k, "pad": "d" * (seq % 300)}))
            attempt = Attempt(stream, evs)
            self.ledger.append(attempt)
            try:
                r = session.post(
                    self.base_url + stream_path(stream),
                    json=evs,
                    headers={"Content-Type": JSON, "Expected-Revision": expected},
                    timeout=30,
                )
            except requests.RequestException as e:
                if not self.killed.is_set():
                    self.errors.append(f"{stream} seq {seq}: {e!r}")
                return
            if r.status_code != 201:
                if not self.killed.is_set():
                    self.errors.append(f"{stream} seq {seq}: {describe(r)}")
                return
            attempt.answer = r.json()
            if stream == self.own:
                revision = attempt.answer["nextExpectedRevision"]
            seq += 1


def same_contents(sent, stored):
    if stored["eventType"] != sent["eventType"]:
        return False
    if sent.get("contentType") == OCTET:
        return stored["contentType"] == OCTET and unb64(stored["data"]) == unb64(sent["data"])
    return stored["contentType"] == JSON and stored["data"] == sent["data"]


def verify(api, ledger):
    """Acknowledged appends are whole and as acknowledged; unacknowledged ones are whole or absent."""
    problems = []
    streams = sorted({a.stream for a in ledger})
    stored = {}
    by_stream = {}
    for s in streams:
        r = api.read(s)
        if r.status_code == 404:
            by_stream[s] = []
            continue
        assert r.status_code == 200, describe(r)
        read = api.read_everything(s, count=10_000)
        by_stream[s] = read
        if [e["revision"] for e in read] != list(range(len(read))):
            problems.append(f"{s}: revisions not contiguous from 0")
        for e in read:
            stored[e["eventId"]] = e

    log = api.read_everything("$all", count=10_000)
    positions = [e["position"] for e in log]
    if any(not a < b for a, b in zip(positions, positions[1:])):
        problems.append("$all positions not strictly increasing")
    index_in_log = {e["eventId"]: i for i, e in enumerate(log)}

    attempted = set()
    acked = 0
    for a in ledger:
        ids = [e["eventId"] for e in a.evs]
        attempted.update(ids)
        got = [stored.get(i) for i in ids]
        present = sum(g is not None for g in got)
        if a.answer is not None:
            acked += 1
            if present != len(ids):
                problems.append(f"acknowledged append to {a.stream} lost {len(ids) - present} of {len(ids)} events")
                continue
            last = got[-1]
            if (last["revision"], last["position"]) != (a.answer["nextExpectedRevision"], a.answer["position"]):
                problems.append(f"append to {a.stream} answered {a.answer}, stored at {last['revision']}/{last['position']}")
        elif present not in (0, len(ids)):
            problems.append(f"partial append to {a.stream}: {present} of {len(ids)} events stored")
            continue
        if present == 0:
            continue
        for sent, g in zip(a.evs, got):
            if g["streamId"] != a.stream or not same_contents(sent, g):
                problems.append(f"event {sent['eventId']} of {a.stream} stored differently: {str(g)[:300]}")
        revs = [g["revision"] for g in got]
        if revs != list(range(revs[0], revs[0] + len(revs))):
            problems.append(f"append to {a.stream} stored at revisions {revs}")
        where = [index_in_log.get(i) for i in ids]
        if None in where or where != list(range(where[0], where[0] + len(where))):
            problems.append(f"append to {a.stream} not contiguous in $all: {where}")
    foreign = set(stored) - attempted
    if foreign:
        problems.append(f"{len(foreign)} stored events were never sent")
    assert not problems, f"{len(problems)} problems ({acked} acknowledged appends):\n" + "\n".join(problems[:30])
    return acked


@pytest.mark.time_limit(240)
def test_acknowledged_appends_survive_repeated_kill_9_under_load_and_none_is_partial(fresh_server):
    ledger = []
    for round_no in range(ROUNDS):
        stop, killed = threading.Event(), threading.Event()
        loaders = [Loader(fresh_server.base_url, f"dur-r{round_no}-w{i}", ledger, stop, killed) for i in range(LOADERS)]
        before = sum(a.answer is not None for a in ledger)
        for t in loaders:
            t.start()
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            acked_now = sum(a.answer is not None for a in ledger) - before
            if acked_now >= 150 or (acked_now > 0 and time.monotonic() > deadline - 17):
                break
            if not any(t.is_alive() for t in loaders):
                break
            time.sleep(0.02)
        assert all(t.is_alive() for t in loaders), [e for t in loaders for e in t.errors][:5]
        killed.set()
        fresh_server.kill()
        stop.set()
        for t in loaders:
            t.join(60)
        assert not any(t.is_alive() for t in loaders)
        errors = [e for t in loaders for e in t.errors]
        assert not errors, errors[:5]
        assert sum(a.answer is not None for a in ledger) > before, f"round {round_no}: nothing acknowledged"
        fresh_server.start()
        verify(fresh_server.new_api(), ledger)
    fresh_server.restart()
    assert verify(fresh_server.new_api(), ledger) >= ROUNDS


def test_reappend_after_kill_9_returns_the_original_result_and_writes_nothing(fresh_server):
    s1, s2, s3 = unique("idem"), unique("idem"), unique("idem")
    api = fresh_server.api
    first = events(3)
    r_first = api.append_ok(s1, first, expected="no_stream")
    api.append_ok(s2, events(2))
    second = events(2)
    r_second = api.append_ok(s2, second, expected=1)
    api.append_ok(s3, events(1))
    third = events(2)
    r_third = api.append_ok(s3, third, expected="any")
    fresh_server.restart(hard=True)
    api = fresh_server.new_api()
    head = api.head_position()
    for stream, evs, expected, original in [
        (s1, first, "no_stream", r_first),
        (s2, second, 1, r_second),
        (s3, third, "any", r_third),
    ]:
        r = api.append(stream, evs, expected=expected)
        assert r.status_code == 201, describe(r)
        assert r.json() == original
    assert api.revisions(s1) == [0, 1, 2]
    assert api.revisions(s2) == [0, 1, 2, 3]
    assert api.revisions(s3) == [0, 1, 2]
    assert api.head_position() == head


def test_acknowledged_events_survive_a_graceful_restart_with_their_contents(fresh_server):
    api = fresh_server.api
    s = unique("restart")
    sent = [event("J", {"v": [1, "two", None]}, metadata={"m": 1}), binary_event(b"\x00\x01\xfe\xff", metadata_raw=b"\x07")]
    body = api.append_ok(s, sent)
    before = api.read_ok(s)["events"]
    fresh_server.restart()
    api = fresh_server.new_api()
    after = api.read_ok(s)["events"]
    assert after == before
    assert after[-1]["position"] == body["position"]
    assert api.append_ok(s, events(1))["nextExpectedRevision"] == 2
    assert api.read_ok("$all", **{"from": "end", "direction": "backwards", "count": 1})["events"][0]["position"] > body["position"]
