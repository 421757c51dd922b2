"""When the external system fails (spec/connectors.md §1-2, §6): retries and their timing, Retry-After,
non-retryable answers (stop or dead-letter), a hanging receiver, and a server killed mid-delivery.

In order, at least once: event x is not handed to the sink until every earlier matching event was
acknowledged, and a failure never loses an event."""

import json
import statistics
import time

import pytest

from sluice_client import event

from .connectors_client import (
    EVENTS,
    RUNNING,
    STOPPED,
    ConnectorsApi,
    append_spread,
    assert_in_order_at_least_once,
    delivered_positions,
    http_sink,
    log_events,
    new_id,
    orders_plan,
    read_connector_stream,
    tag,
)

FAST_RETRY = {"resilience:firstDelayBound:delayMs": "300"}


def append_n(api, prefix, n, label="e", streams=3):
    for i in range(n):
        api.append_ok(f"{prefix}{i % streams}", [event("Tick", {"label": label, "i": i})])


def failed_with(receiver, status):
    return [r for r in receiver.requests() if r.status == status]


# ---------------------------------------------------------------------------
# retryable failures


@pytest.mark.time_limit(90)
def test_503_for_six_seconds_then_200_loses_nothing_and_keeps_order(conns, receiver):
    prefix = f"r503-{tag()}-"
    cid = new_id()
    conns.create_ok(cid, settings=http_sink(receiver.url, prefix=prefix, **FAST_RETRY))
    conns.start_running(cid)
    receiver.answer_for(6.0, 503)
    t0 = time.monotonic()
    append_n(conns.api, prefix, 40)
    expected = [e["position"] for e in log_events(conns.api, prefix)]
    got = receiver.wait_for(40, timeout=60)
    receiver.quiet_for(0.5, timeout=5)
    got = receiver.delivered()
    assert delivered_positions(got) == expected, "nothing lost, nothing repeated, in order"
    refused = failed_with(receiver, 503)
    assert len(refused) >= 3, f"only {len(refused)} attempts during 6 s of 503"
    assert {r.headers["esdb-record-log-position"] for r in refused} == {str(expected[0])}, \
        "while the first record fails, no later record is handed to the sink"
    assert got[0].at - t0 >= 5.5
    print(f"{len(refused)} attempts answered 503; first delivery after {got[0].at - t0:.1f} s")


@pytest.mark.parametrize("status", [408, 500, 502])
def test_408_and_5xx_answers_are_retried(conns, receiver, status):
    prefix = f"r{status}-{tag()}-"
    cid = new_id()
    conns.create_ok(cid, settings=http_sink(receiver.url, prefix=prefix, **FAST_RETRY))
    conns.start_running(cid)
    receiver.answer_next(2, status)
    append_n(conns.api, prefix, 5)
    expected = [e["position"] for e in log_events(conns.api, prefix)]
    receiver.wait_for(5, timeout=30)
    receiver.quiet_for(0.3, timeout=5)
    assert delivered_positions(receiver.delivered()) == expected
    assert len(failed_with(receiver, status)) == 2


@pytest.mark.time_limit(90)
def test_exponential_backoff_makes_the_retry_gaps_grow(conns, receiver):
    prefix = f"rexp-{tag()}-"
    cid = new_id()
    conns.create_ok(cid, settings=http_sink(receiver.url, prefix=prefix, **{
        "resilience:backoff": "exponential", "resilience:initialDelayMs": "200", "resilience:maxDelayMs": "3000"}))
    conns.start_running(cid)
    receiver.answer_for(7.0, 503)
    window_end = time.monotonic() + 7.0
    append_n(conns.api, prefix, 1)
    (ok,) = receiver.wait_for(1, timeout=40)
    attempts = [r.at for r in failed_with(receiver, 503)]
    gaps = [b - a for a, b in zip(attempts, attempts[1:])]
    print("retry gaps (s):", " ".join(f"{g:.2f}" for g in gaps))
    assert len(attempts) >= 3, attempts
    assert len(attempts) <= 20, f"{len(attempts)} attempts in 7 s: the delay does not grow (200 ms fixed = 35)"
    assert max(gaps) >= 0.8, f"no gap reached 4 x the initial delay: {gaps}"
    assert statistics.mean(gaps[len(gaps) // 2:]) > statistics.mean(gaps[:2]), gaps
    assert ok.at - window_end <= 3.0 + 1.5, "the next try comes within resilience:maxDelayMs"


@pytest.mark.time_limit(60)
def test_429_with_retry_after_is_honoured(conns, receiver):
    prefix = f"r429-{tag()}-"
    cid = new_id()
    conns.create_ok(cid, settings=http_sink(receiver.url, prefix=prefix, **{
        "resilience:firstDelayBound:delayMs": "100"}))
    conns.start_running(cid)
    receiver.answer_next(1, 429, headers={"Retry-After": "2"})
    append_n(conns.api, prefix, 3)
    receiver.wait_for(3, timeout=30)
    (throttled,) = failed_with(receiver, 429)
    first_ok = receiver.delivered()[0]
    gap = first_ok.at - throttled.at
    print(f"gap after 429 with Retry-After: 2 -> {gap:.2f} s")
    assert first_ok.headers["esdb-record-id"] == throttled.headers["esdb-record-id"]
    assert gap >= 1.9, f"retried {gap:.2f} s after a 429 with Retry-After: 2"
    assert gap < 10


@pytest.mark.time_limit(60)
def test_refused_connections_are_retried_until_the_receiver_listens_again(conns, receiver):
    prefix = f"rref-{tag()}-"
    cid = new_id()
    conns.create_ok(cid, settings=http_sink(receiver.url, prefix=prefix, **FAST_RETRY))
    conns.start_running(cid)
    append_n(conns.api, prefix, 3, label="before")
    receiver.wait_for(3, timeout=30)
    receiver.refuse_for(4.0)
    t0 = time.monotonic()
    append_n(conns.api, prefix, 10, label="during")
    expected = [e["position"] for e in log_events(conns.api, prefix)]
    receiver.wait_for(13, timeout=40)
    receiver.quiet_for(0.3, timeout=5)
    got = receiver.delivered()
    assert delivered_positions(got) == expected
    assert got[3].at - t0 >= 3.5, "delivered while the receiver refused connections?"


@pytest.mark.time_limit(60)
def test_a_request_that_times_out_is_retried(conns, receiver):
    prefix = f"rto-{tag()}-"
    cid = new_id()
    conns.create_ok(cid, settings=http_sink(receiver.url, prefix=prefix, timeoutMs="1000", **FAST_RETRY))
    conns.start_running(cid)
    receiver.hang_for(2.5)
    append_n(conns.api, prefix, 5)
    expected = [e["position"] for e in log_events(conns.api, prefix)]
    receiver.wait_for(5, timeout=40)
    receiver.quiet_for(0.3, timeout=5)
    assert delivered_positions(receiver.delivered()) == expected
    hung = [r for r in receiver.requests() if r.outcome == "hung"]
    assert hung, "no request reached the receiver while it hung"
    assert {r.headers["esdb-record-log-position"] for r in hung} == {str(expected[0])}


# ---------------------------------------------------------------------------
# non-retryable failures and exhausted retries


def poison_plan(api, prefix):
    """3 good events, a poisoned one, 3 good ones; returns the events as stored."""
    api.append_ok(prefix + "1", [event("Good", {"n": n}) for n in range(3)])
    api.append_ok(prefix + "1", [event("Bad", {"poison": True, "n": 3})])
    api.append_ok(prefix + "1", [event("Good", {"n": n}) for n in range(4, 7)])
    return log_events(api, prefix)


def is_poison(req):
    return b"poison" in req.body


@pytest.mark.parametrize("status", [400, 401, 404, 409, 413])
def test_a_non_retryable_4xx_with_dead_letter_lands_in_the_dlq_and_delivery_goes_on(conns, receiver, status):
    prefix = f"rdl{status}-{tag()}-"
    cid = new_id()
    conns.create_ok(cid, settings=http_sink(receiver.url, prefix=prefix, **{
        "resilience:onExhausted": "dead-letter", **FAST_RETRY}))
    conns.start_running(cid)
    receiver.answer_when(is_poison, status)
    stored = poison_plan(conns.api, prefix)
    receiver.wait_for(6, timeout=30)
    receiver.quiet_for(0.5, timeout=5)
    assert [json.loads(b)["n"] for b in receiver.bodies()] == [0, 1, 2, 4, 5, 6]
    assert len(failed_with(receiver, status)) == 1, f"a {status} is not retried"

    deadline = time.monotonic() + 10
    dlq = []
    while not dlq and time.monotonic() < deadline:
        dlq = read_connector_stream(conns.api, cid, "/dlq")
        time.sleep(0.05)
    assert len(dlq) == 1, f"dead letters: {dlq}"
    text = json.dumps(dlq[0])
    poisoned = stored[3]
    assert poisoned["eventId"] in text or "poison" in text, f"the dead letter does not identify the record: {text}"
    assert str(status) in text, f"the dead letter does not carry the error: {text}"
    item = conns.get_ok(cid)
    assert item["state"] == RUNNING and not item.get("errorDetails"), item


@pytest.mark.time_limit(60)
def test_a_400_stops_the_connector_with_error_details_by_default(conns, receiver):
    prefix = f"rstop-{tag()}-"
    cid = new_id()
    conns.create_ok(cid, settings=http_sink(receiver.url, prefix=prefix, **FAST_RETRY))
    conns.start_running(cid)
    receiver.answer_when(is_poison, 400)
    poison_plan(conns.api, prefix)
    item = conns.wait_state(cid, STOPPED, timeout=30)
    details = item.get("errorDetails")
    assert isinstance(details, dict) and details.get("message"), f"no errorDetails on a failed connector: {item}"
    assert "400" in json.dumps(details), details
    assert [json.loads(b)["n"] for b in receiver.bodies()] == [0, 1, 2], "nothing after the failed record"
    assert len(failed_with(receiver, 400)) == 1
    assert read_connector_stream(conns.api, cid, "/dlq") == [], "stop does not dead-letter"

    receiver.answer_normally()
    item = conns.start_running(cid)
    receiver.wait_for(7, timeout=30)
    receiver.quiet_for(0.3, timeout=5)
    assert [json.loads(b)["n"] for b in receiver.bodies()] == list(range(7)), \
        "after a restart the failed record is sent again, then the rest"
    assert not conns.get_ok(cid).get("errorDetails"), "errorDetails clear on the next Running"
    types = [e["eventType"] for e in read_connector_stream(conns.api, cid)]
    assert "$conn-mngt-connector-failed" in types or "$conn-mngt-connector-stopped" in types, types


@pytest.mark.time_limit(60)
def test_exhausted_retries_stop_the_connector(conns, receiver):
    prefix = f"rmax-{tag()}-"
    cid = new_id()
    conns.create_ok(cid, settings=http_sink(receiver.url, prefix=prefix, **{
        "resilience:maxRetries": "2", "resilience:firstDelayBound:delayMs": "100"}))
    conns.start_running(cid)
    receiver.answer_for(60, 503)
    append_n(conns.api, prefix, 2)
    item = conns.wait_state(cid, STOPPED, timeout=30)
    assert item.get("errorDetails"), item
    time.sleep(0.5)
    assert len(failed_with(receiver, 503)) == 3, "one attempt and 2 retries"


@pytest.mark.time_limit(60)
def test_exhausted_retries_with_dead_letter_move_on(conns, receiver):
    prefix = f"rmaxdl-{tag()}-"
    cid = new_id()
    conns.create_ok(cid, settings=http_sink(receiver.url, prefix=prefix, **{
        "resilience:maxRetries": "1", "resilience:firstDelayBound:delayMs": "100",
        "resilience:onExhausted": "dead-letter"}))
    conns.start_running(cid)
    receiver.answer_when(is_poison, 503)
    poison_plan(conns.api, prefix)
    receiver.wait_for(6, timeout=30)
    assert [json.loads(b)["n"] for b in receiver.bodies()] == [0, 1, 2, 4, 5, 6]
    assert len(failed_with(receiver, 503)) == 2
    deadline = time.monotonic() + 10
    while not read_connector_stream(conns.api, cid, "/dlq") and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(read_connector_stream(conns.api, cid, "/dlq")) == 1


# ---------------------------------------------------------------------------
# one dead sink does not hurt the rest


def timed_appends(api, prefix, n, label):
    latencies = []
    for i in range(n):
        t0 = time.monotonic()
        api.append_ok(f"{prefix}{i % 4}", [event("Tick", {"label": label, "i": i}), event("Tock", {"i": i})])
        latencies.append(time.monotonic() - t0)
    return latencies


def summary(lat):
    lat = sorted(lat)
    return f"p50 {lat[len(lat) // 2] * 1000:.1f} ms, p95 {lat[int(len(lat) * 0.95)] * 1000:.1f} ms, " \
           f"max {lat[-1] * 1000:.1f} ms"


@pytest.mark.time_limit(120)
def test_a_hanging_receiver_slows_neither_appends_nor_other_connectors(conns, receiver_factory):
    stuck, healthy = receiver_factory(), receiver_factory()
    prefix = f"hang-{tag()}-"
    a, b = new_id("stuck"), new_id("healthy")
    conns.create_ok(a, settings=http_sink(stuck.url, prefix=prefix, timeoutMs="60000"))
    conns.create_ok(b, settings=http_sink(healthy.url, prefix=prefix))
    conns.start_running(a)
    conns.start_running(b)

    before = timed_appends(conns.api, prefix, 50, "before")
    stuck.wait_for(100, timeout=30)
    healthy.wait_for(100, timeout=30)
    stuck.hang_for(600)
    during = timed_appends(conns.api, prefix, 100, "during")
    t0 = time.monotonic()
    healthy.wait_for(300, timeout=60)
    print(f"appends before the hang: {summary(before)}; during: {summary(during)}; healthy connector caught up "
          f"{time.monotonic() - t0:.1f} s after the last append")
    assert stuck.count() == 100, "the hanging receiver answered nothing more"
    assert statistics.median(during) < 1.0, summary(during)
    assert max(during) < 10.0, summary(during)
    assert conns.get_ok(b)["state"] == RUNNING


@pytest.mark.time_limit(60)
def test_stop_interrupts_a_request_to_a_hanging_receiver(conns, receiver):
    prefix = f"hstop-{tag()}-"
    cid = new_id()
    conns.create_ok(cid, settings=http_sink(receiver.url, prefix=prefix, timeoutMs="60000"))
    conns.start_running(cid)
    receiver.hang_for(600)
    append_n(conns.api, prefix, 1)
    receiver.wait_for(1, timeout=20, predicate=lambda r: r.outcome == "hung")
    t0 = time.monotonic()
    conns.stop_ok(cid)
    conns.wait_state(cid, STOPPED, timeout=20)
    print(f"stopped {time.monotonic() - t0:.2f} s after the stop command, with a request hanging")


# ---------------------------------------------------------------------------
# kill -9 in the middle of a delivery


@pytest.mark.time_limit(240)
def test_kill_9_mid_delivery_then_restart_delivers_every_event_at_least_once_in_order(fresh_server, receiver):
    threshold = 100
    c = ConnectorsApi(fresh_server.base_url)
    plan, prefix = orders_plan(tag(), total=max(400, EVENTS // 2), streams=20)
    append_spread(fresh_server.base_url, plan)
    expected = [e["position"] for e in log_events(c.api, prefix)]
    cid = new_id()
    c.create_ok(cid, settings=http_sink(receiver.url, prefix=prefix, **{"autocommit:recordsThreshold": threshold}))
    receiver.slow(0.004)
    c.start_ok(cid)
    receiver.wait_for(len(expected) // 3, timeout=120)
    fresh_server.kill()
    at_kill = receiver.count()
    time.sleep(0.2)
    receiver.slow(0)

    fresh_server.start()
    c = ConnectorsApi(fresh_server.base_url)
    c.wait_state(cid, RUNNING, timeout=30)
    more = [(f"{prefix}after", [event("After", {"i": i}) for i in range(10)])]
    append_spread(fresh_server.base_url, more, threads=1)
    expected = [e["position"] for e in log_events(c.api, prefix)]
    receiver.wait_until(lambda reqs: len({r.headers["esdb-record-log-position"] for r in reqs if r.is_delivered})
                        >= len(expected), timeout=120, what="every record after the restart")
    receiver.quiet_for(0.5, timeout=5)
    got = delivered_positions(receiver.delivered())
    dups, windows = assert_in_order_at_least_once(got, expected, window=threshold + 10)
    print(f"killed after {at_kill} of {len(expected)} records; {dups} duplicates in windows {windows}")


# ---------------------------------------------------------------------------
# failures that are not the receiver's


def test_an_unwritable_log_path_fails_the_connector_not_the_server(conns, tmp_path):
    prefix = f"unw-{tag()}-"
    conns.api.append_ok(prefix + "1", [event("E", {})])
    cid = new_id()
    settings = {"instanceTypeName": "serilog-sink", "path": str(tmp_path / "no" / "such" / "dir" / "x.log"),
                "subscription:initialPosition": "earliest", "subscription:filter:scope": "stream",
                "subscription:filter:filterType": "prefix", "subscription:filter:expression": prefix,
                "resilience:maxRetries": "1", "resilience:firstDelayBound:delayMs": "100"}
    r = conns.create(cid, settings=settings)
    if r.status_code == 400:
        return  # refused at validation: fine
    assert r.status_code == 200, r.text
    conns.start_ok(cid)
    item = conns.wait_state(cid, STOPPED, timeout=30)
    assert item.get("errorDetails"), item
    assert conns.api.get("/health/ready").status_code == 200


@pytest.mark.time_limit(90)
def test_a_failed_connector_stays_failed_across_a_restart(fresh_server, receiver):
    c = ConnectorsApi(fresh_server.base_url)
    prefix = f"ff-{tag()}-"
    cid = new_id()
    c.create_ok(cid, settings=http_sink(receiver.url, prefix=prefix))
    c.start_running(cid)
    receiver.answer_when(is_poison, 400)
    poison_plan(c.api, prefix)
    failed = c.wait_state(cid, STOPPED, timeout=30)
    assert failed.get("errorDetails"), failed
    fresh_server.restart()
    c = ConnectorsApi(fresh_server.base_url)
    time.sleep(1.0)  # a connector that was running would be running again by now
    item = c.get_ok(cid)
    assert item["state"] == STOPPED, item
    assert item.get("errorDetails") == failed["errorDetails"], item
    assert receiver.count() == 3, "nothing delivered after the restart"
