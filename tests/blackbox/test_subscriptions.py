"""Subscriptions: GET /subscriptions/{stream|$all} as Server-Sent Events."""

import threading
import time

import pytest

from sluice_client import Api, ConnectionClosed, SseClient, assert_error_body, event, events, unique

PAD = "p" * 1024  # makes the history big enough that catching up takes a while


class Appender(threading.Thread):
    """Appends `plan` (a list of (stream, events)) in order on its own connection, as fast as it can."""

    def __init__(self, base_url, plan):
        super().__init__(daemon=True)
        self.api = Api(base_url)
        self.plan = plan
        self.acks = []
        self.errors = []

    def run(self):
        for stream, evs in self.plan:
            try:
                r = self.api.append(stream, evs)
            except Exception as e:  # noqa: BLE001 - reported by the test
                self.errors.append(repr(e))
                return
            if r.status_code != 201:
                self.errors.append(f"{r.status_code} {r.text[:200]}")
                return
            self.acks.append(r.json())

    def finish(self, timeout=60):
        self.join(timeout)
        assert not self.is_alive(), "appender still running"
        assert not self.errors, self.errors


def live_plan(streams, batches, tag):
    """`batches` appends of 1-3 events spread over `streams`."""
    plan = []
    for i in range(batches):
        stream = streams[i % len(streams)]
        plan.append((stream, [event("Live", {"tag": tag, "i": i, "j": j}) for j in range(1 + i % 3)]))
    return plan


def assert_sse_ids_are_positions(received):
    for ev in received:
        assert ev.id is not None, ev
        assert int(ev.id) == ev.json()["position"], ev


def assert_nothing_more(sub, wait=0.3):
    extra = sub.next_event(wait)
    assert extra is None, f"unexpected extra event {extra}"


# -- catching up, then live -------------------------------------------------------


@pytest.mark.time_limit(120)
def test_stream_subscription_delivers_history_then_live_without_gap_or_duplicate(server):
    api = server.api
    s = unique("sub")
    for k in range(3):
        api.append_ok(s, [event("History", {"k": k, "i": i, "pad": PAD}) for i in range(500)])
    plan = live_plan([s], 150, "live")
    n_live = sum(len(evs) for _, evs in plan)
    with SseClient(server.port, s, {"from": "start"}) as sub:
        assert sub.status == 200, sub.error_body
        appender = Appender(server.base_url, plan)
        appender.start()
        received = sub.take(50, timeout=30)
        time.sleep(0.3)  # a slow reader: live appends land while the history is still being sent
        received += sub.take(1500 + n_live - 50, timeout=60)
        appender.finish()
        assert_nothing_more(sub)
    evs = [ev.json() for ev in received]
    assert [e["revision"] for e in evs] == list(range(1500 + n_live))
    assert [e["eventId"] for e in evs[1500:]] == [e["eventId"] for _, b in plan for e in b]
    assert {e["streamId"] for e in evs} == {s}
    assert_sse_ids_are_positions(received)


@pytest.mark.time_limit(120)
def test_log_subscription_delivers_exactly_the_log_history_then_live(fresh_server):
    api = fresh_server.api
    streams = [unique(f"all{i}") for i in range(4)]
    for i in range(8):
        api.append_ok(streams[i % 4], [event("History", {"i": i, "j": j, "pad": PAD}) for j in range(150)])
    plan = live_plan(streams, 120, "live")
    n_ours = 8 * 150 + sum(len(evs) for _, evs in plan)
    received = []
    with SseClient(fresh_server.port, "$all", {"from": "start"}) as sub:
        assert sub.status == 200, sub.error_body
        appender = Appender(fresh_server.base_url, plan)
        appender.start()
        received += sub.take(40, timeout=30)
        time.sleep(0.3)  # a slow reader: live appends land while the history is still being sent
        deadline = time.monotonic() + 60
        ours = sum(1 for ev in received if ev.json()["streamId"] in streams)
        while ours < n_ours:
            ev = sub.next_event(max(0.0, deadline - time.monotonic()))
            assert ev is not None, f"received {ours} of {n_ours} events of the test's streams in time"
            received.append(ev)
            ours += ev.json()["streamId"] in streams
        appender.finish()
        assert_nothing_more(sub)
    log = api.read_everything("$all", count=10_000)
    assert [ev.json()["eventId"] for ev in received] == [e["eventId"] for e in log]
    positions = [ev.json()["position"] for ev in received]
    assert all(a < b for a, b in zip(positions, positions[1:]))
    assert_sse_ids_are_positions(received)


def test_subscription_answers_as_an_event_stream_with_full_events(server):
    api = server.api
    s = unique("sub")
    sent = event("Shaped", {"x": 1}, metadata={"m": True})
    api.append_ok(s, [sent])
    with SseClient(server.port, s, {"from": "start"}) as sub:
        assert sub.status == 200, sub.error_body
        assert sub.headers.get("content-type", "").startswith("text/event-stream")
        ev = sub.take(1, timeout=10)[0]
    e = ev.json()
    assert e == api.read_ok(s)["events"][0]
    assert (e["eventId"], e["data"], e["metadata"]) == (sent["eventId"], {"x": 1}, {"m": True})


# -- where a subscription starts ----------------------------------------------------


def test_stream_subscription_from_end_delivers_only_new_events(server):
    api = server.api
    s = unique("sub")
    api.append_ok(s, events(3))
    with SseClient(server.port, s) as sub:  # from defaults to end
        assert sub.status == 200, sub.error_body
        assert_nothing_more(sub, wait=0.5)
        new = [event("New"), event("New")]
        api.append_ok(s, new)
        got = [ev.json() for ev in sub.take(2, timeout=10)]
    assert [e["eventId"] for e in got] == [e["eventId"] for e in new]
    assert [e["revision"] for e in got] == [3, 4]


def test_log_subscription_from_end_delivers_only_new_events(server):
    api = server.api
    s = unique("sub")
    api.append_ok(s, events(3))
    with SseClient(server.port, "$all", {"from": "end", "filter": f"streamPrefix:{s}"}) as sub:
        assert sub.status == 200, sub.error_body
        assert_nothing_more(sub, wait=0.5)
        new = event("New")
        api.append_ok(s, [new])
        got = sub.take(1, timeout=10)[0].json()
    assert got["eventId"] == new["eventId"]


def test_stream_subscription_from_a_revision_starts_at_that_revision(server):
    api = server.api
    s = unique("sub")
    api.append_ok(s, events(6))
    with SseClient(server.port, s, {"from": "3"}) as sub:
        got = [ev.json()["revision"] for ev in sub.take(3, timeout=10)]
        assert_nothing_more(sub)
    assert got == [3, 4, 5]


def test_log_subscription_from_a_position_includes_that_position(server):
    api = server.api
    s = unique("sub")
    api.append_ok(s, events(5))
    stored = api.read_ok(s)["events"]
    with SseClient(server.port, "$all", {"from": str(stored[2]["position"]), "filter": f"streamPrefix:{s}"}) as sub:
        got = [ev.json()["eventId"] for ev in sub.take(3, timeout=10)]
        assert_nothing_more(sub)
    assert got == [e["eventId"] for e in stored[2:]]


def test_last_event_id_on_a_log_subscription_resumes_strictly_after_that_event(server):
    api = server.api
    s = unique("sub")
    api.append_ok(s, events(5))
    stored = api.read_ok(s)["events"]
    headers = {"Last-Event-ID": str(stored[1]["position"])}
    params = {"from": "start", "filter": f"streamPrefix:{s}"}  # Last-Event-ID takes precedence over from
    with SseClient(server.port, "$all", params, headers=headers) as sub:
        got = [ev.json()["eventId"] for ev in sub.take(3, timeout=10)]
        assert_nothing_more(sub)
    assert got == [e["eventId"] for e in stored[2:]]


def test_last_event_id_on_a_stream_subscription_resumes_strictly_after_that_event(server):
    api = server.api
    s = unique("sub")
    api.append_ok(s, events(5))
    stored = api.read_ok(s)["events"]
    headers = {"Last-Event-ID": str(stored[2]["position"])}
    with SseClient(server.port, s, {"from": "0"}, headers=headers) as sub:
        got = [ev.json()["revision"] for ev in sub.take(2, timeout=10)]
        later = event("Later")
        api.append_ok(s, [later])
        assert sub.take(1, timeout=10)[0].json()["eventId"] == later["eventId"]
    assert got == [3, 4]


def test_resuming_with_the_last_received_id_loses_and_repeats_nothing(server):
    api = server.api
    s = unique("sub")
    api.append_ok(s, events(4))
    with SseClient(server.port, s, {"from": "start"}) as first:
        part1 = first.take(2, timeout=10)
    api.append_ok(s, events(3, start=4))
    with SseClient(server.port, s, {"from": "start"}, headers={"Last-Event-ID": part1[-1].id}) as second:
        part2 = second.take(5, timeout=10)
        assert_nothing_more(second)
    assert [ev.json()["revision"] for ev in part1 + part2] == list(range(7))


# -- filters and fan-out ---------------------------------------------------------------


def test_filtered_log_subscription_delivers_only_matching_events(server):
    api = server.api
    keep, drop = unique("keep"), unique("drop")
    api.append_ok(keep, events(2, "Old"))
    api.append_ok(drop, events(2, "Old"))
    with SseClient(server.port, "$all", {"from": "start", "filter": f"streamPrefix:{keep}"}) as sub:
        history = [ev.json() for ev in sub.take(2, timeout=10)]
        for i in range(5):
            api.append_ok(drop, events(1, "Live"))
            api.append_ok(keep, [event("Live", {"i": i})])
        live = [ev.json() for ev in sub.take(5, timeout=10)]
        assert_nothing_more(sub)
    assert [e["streamId"] for e in history + live] == [keep] * 7
    assert [e["revision"] for e in history + live] == list(range(7))


def test_log_subscription_filtered_by_event_type_delivers_only_that_type(server):
    api = server.api
    s = unique("typed")
    wanted = f"Wanted{s.replace('-', '')}"
    with SseClient(server.port, "$all", {"from": "end", "filter": f"eventTypePrefix:{wanted}"}) as sub:
        assert sub.status == 200, sub.error_body
        api.append_ok(s, [event("Unwanted"), event(wanted, {"i": 0}), event("Unwanted"), event(wanted, {"i": 1})])
        got = [ev.json() for ev in sub.take(2, timeout=10)]
        assert_nothing_more(sub)
    assert [(e["eventType"], e["data"]) for e in got] == [(wanted, {"i": 0}), (wanted, {"i": 1})]


@pytest.mark.time_limit(60)
def test_many_subscribers_each_receive_every_new_event(server):
    api = server.api
    s = unique("fan")
    subs = [SseClient(server.port, s, {"from": "start"}) for _ in range(20)]
    try:
        assert all(sub.status == 200 for sub in subs)
        sent = []
        for i in range(10):
            evs = events(3, start=3 * i)
            api.append_ok(s, evs)
            sent += [e["eventId"] for e in evs]
        for sub in subs:
            assert [ev.json()["eventId"] for ev in sub.take(30, timeout=20)] == sent
    finally:
        for sub in subs:
            sub.close()


def test_subscription_with_a_bad_from_is_refused_with_a_json_error(server):
    with SseClient(server.port, unique("sub"), {"from": "yesterday"}) as sub:
        assert sub.status == 400
        assert_error_body(sub.error_body)


def test_server_stops_promptly_with_subscriptions_open(fresh_server):
    api = fresh_server.api
    s = unique("sub")
    api.append_ok(s, events(1))
    subs = [SseClient(fresh_server.port, s, {"from": "start"}) for _ in range(3)]
    try:
        for sub in subs:
            assert len(sub.take(1, timeout=10)) == 1
        started = time.monotonic()
        rc = fresh_server.stop()
        assert time.monotonic() - started < 10
        assert rc == 0
        for sub in subs:
            with pytest.raises(ConnectionClosed):
                while sub.next_event(5) is not None:
                    pass
                raise AssertionError("subscription neither ended nor closed")
    finally:
        for sub in subs:
            sub.close()
