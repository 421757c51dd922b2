"""When the external system fails (spec/connectors.md §1-2, §6): retries and their timing, Retry-After,
non-retryable answers (stop or dead-letter), a hanging receiver, and a server killed mid-delivery.

In order, at least once: event x is not handed to the sink until every earlier matching event was
acknowledged, and a failure never loses an event."""

import email.utils
import json
import statistics
import threading
import time

import pytest

from sluice_client import event

from .connectors_client import (
    EVENTS,
    RUNNING,
    STOPPED,
    ConnectorsApi,
    append_spread,
    as_int,
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


# ---------------------------------------------------------------------------
# how the receiver handles its connections is not a failure


def test_a_receiver_that_closes_every_connection_gets_every_event_once(conns, receiver):
    prefix = f"cc-{tag()}-"
    receiver.answer_next(20, 200, close=True)
    cid = new_id()
    conns.create_ok(cid, settings=http_sink(receiver.url, prefix=prefix))
    conns.start_running(cid)
    append_n(conns.api, prefix, 20)
    expected = [e["position"] for e in log_events(conns.api, prefix)]
    t0 = time.monotonic()
    receiver.wait_for(20, timeout=30)
    receiver.quiet_for(0.3, timeout=5)
    assert delivered_positions(receiver.delivered()) == expected
    assert receiver.connection_count() >= 20
    assert time.monotonic() - t0 < 4.5, "a closed connection cost a retry delay (5 s by default)"


def test_chunked_and_large_answers_are_read_and_the_connection_kept(conns, receiver):
    prefix = f"ch-{tag()}-"
    receiver.answer_next(10, 200, body=b"[" + b"0," * 100000 + b"0]", chunked=True)
    cid = new_id()
    conns.create_ok(cid, settings=http_sink(receiver.url, prefix=prefix))
    conns.start_running(cid)
    append_n(conns.api, prefix, 15)
    expected = [e["position"] for e in log_events(conns.api, prefix)]
    receiver.wait_for(15, timeout=30)
    receiver.quiet_for(0.3, timeout=5)
    assert delivered_positions(receiver.delivered()) == expected
    assert receiver.connection_count() <= 2, "a keep-alive connection survives chunked answers"


def test_a_keep_alive_connection_the_receiver_dropped_is_not_a_failure(conns, receiver):
    prefix = f"ka-{tag()}-"
    cid = new_id()
    conns.create_ok(cid, settings=http_sink(receiver.url, prefix=prefix))  # default retry delay: 5 s
    conns.start_running(cid)
    for round_ in range(3):
        append_n(conns.api, prefix, 2, label=f"r{round_}")
        receiver.wait_for(2 * (round_ + 1), timeout=30)
        time.sleep(0.2)
        receiver.drop_connections()  # as an idle timeout does
        time.sleep(0.2)
    t0 = time.monotonic()
    append_n(conns.api, prefix, 2, label="last")
    receiver.wait_for(8, timeout=30)
    took = time.monotonic() - t0
    expected = [e["position"] for e in log_events(conns.api, prefix)]
    receiver.quiet_for(0.3, timeout=5)
    assert delivered_positions(receiver.delivered()) == expected
    item = conns.get_ok(cid)
    print(f"delivered {took:.2f} s after the append, on a dropped keep-alive connection; {item['failed']} failed")
    assert took < 4.0, f"a dropped keep-alive connection cost {took:.1f} s (a retry delay?)"


# ---------------------------------------------------------------------------
# checkpoints and stops while a record is failing


@pytest.mark.time_limit(90)
def test_a_checkpoint_never_passes_a_record_the_sink_has_not_acknowledged(fresh_server, receiver):
    c = ConnectorsApi(fresh_server.base_url)
    prefix = f"cpn-{tag()}-"
    cid = new_id()
    c.create_ok(cid, settings=http_sink(receiver.url, prefix=prefix, **{
        "autocommit:interval": "100", "autocommit:recordsThreshold": "1", **FAST_RETRY}))
    c.start_running(cid)
    append_n(c.api, prefix, 3, label="ok")
    receiver.wait_for(3, timeout=30)
    receiver.answer_for(600, 503)
    stuck = c.api.append_ok(prefix + "0", [event("Stuck", {"stuck": True})])
    for i in range(20):  # a long run of events the filter does not match
        c.api.append_ok(f"other-{tag()}", [event("Other", {"i": i, "k": k}) for k in range(10)])
    receiver.wait_for(3, timeout=20, predicate=lambda r: r.status == 503)
    time.sleep(1.0)  # ten autocommit intervals
    item = c.get_ok(cid)
    assert item["position"] is None or as_int(item["position"]) < stuck["position"], \
        f"the checkpoint passed the unacknowledged record at {stuck['position']}: {item}"
    cps = read_connector_stream(c.api, cid, "/checkpoints")
    assert cps and all(e["data"]["position"] < stuck["position"] for e in cps), [e["data"] for e in cps]

    fresh_server.kill()
    receiver.answer_normally()
    fresh_server.start()
    receiver.wait_until(lambda reqs: any(r.is_delivered and b"stuck" in r.body for r in reqs), timeout=30,
                        what="the stuck record after the restart")


@pytest.mark.time_limit(60)
def test_stop_during_a_long_retry_delay_is_prompt(conns, receiver):
    prefix = f"sld-{tag()}-"
    cid = new_id()
    conns.create_ok(cid, settings=http_sink(receiver.url, prefix=prefix, **{
        "resilience:firstDelayBound:delayMs": "60000"}))
    conns.start_running(cid)
    receiver.answer_for(600, 503)
    append_n(conns.api, prefix, 1)
    receiver.wait_for(1, timeout=20, predicate=lambda r: r.status == 503)
    time.sleep(0.3)
    t0 = time.monotonic()
    conns.stop_ok(cid)
    conns.wait_state(cid, STOPPED, timeout=20)
    took = time.monotonic() - t0
    assert took < 10, f"stopping took {took:.1f} s: the stop waited for the 60 s retry delay"


@pytest.mark.time_limit(120)
def test_sigterm_with_stuck_connectors_exits_cleanly_and_they_run_again(fresh_server, receiver_factory):
    c = ConnectorsApi(fresh_server.base_url)
    failing, hanging = receiver_factory(), receiver_factory()
    prefix = f"term-{tag()}-"
    a, b = new_id("fail"), new_id("hang")
    c.create_ok(a, settings=http_sink(failing.url, prefix=prefix, **{"resilience:firstDelayBound:delayMs": "60000"}))
    c.create_ok(b, settings=http_sink(hanging.url, prefix=prefix, timeoutMs="120000"))
    c.start_running(a)
    c.start_running(b)
    failing.answer_for(600, 503)
    hanging.hang_for(600)
    append_n(c.api, prefix, 3)
    failing.wait_for(1, timeout=20, predicate=lambda r: r.status == 503)
    hanging.wait_for(1, timeout=20, predicate=lambda r: r.outcome == "hung")

    t0 = time.monotonic()
    rc = fresh_server.stop(timeout=20)
    took = time.monotonic() - t0
    assert rc == 0 and not fresh_server.unclean_exits, f"exit status {rc} after {took:.1f} s"
    print(f"SIGTERM to exit: {took:.2f} s with a connector in a retry delay and one on a hung request")

    failing.answer_normally()
    hanging.stop_hanging()
    fresh_server.start()
    c = ConnectorsApi(fresh_server.base_url)
    c.wait_state(a, RUNNING, timeout=30)
    c.wait_state(b, RUNNING, timeout=30)
    expected = [e["position"] for e in log_events(c.api, prefix)]
    for rx in (failing, hanging):
        rx.wait_for(3, timeout=30)
        rx.quiet_for(0.3, timeout=5)
        assert delivered_positions(rx.delivered()) == expected


@pytest.mark.time_limit(120)
def test_concurrent_commands_on_one_connector_leave_it_consistent(conns, tmp_path):
    cid = new_id()
    base = {"instanceTypeName": "serilog-sink", "path": str(tmp_path / "c.log"),
            "subscription:filter:scope": "stream", "subscription:filter:filterType": "prefix",
            "subscription:filter:expression": f"none-{tag()}-"}
    conns.create_ok(cid, settings=base)
    statuses = []
    lock = threading.Lock()

    def hammer(k):
        api = ConnectorsApi(conns.base)
        for i in range(15):
            for r in (api.start(cid), api.rename(cid, f"name {k}-{i}"),
                      api.reconfigure(cid, dict(base, **{"autocommit:recordsThreshold": str(k * 100 + i + 1)})),
                      api.stop(cid), api.list(connectorId=cid, includeSettings=True), api.settings(cid),
                      api.reset(cid)):
                with lock:
                    statuses.append((r.request.method, r.request.path_url.split("?")[0], r.status_code))

    threads = [threading.Thread(target=hammer, args=(k,)) for k in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(100)
    assert not any(t.is_alive() for t in threads)
    bad = [s for s in statuses if s[2] not in (200, 400)]
    assert not bad, bad[:10]
    assert not [s for s in statuses if s[2] == 400 and not s[1].endswith("/reset")], "only a reset may be refused"
    conns.stop_ok(cid)
    item = conns.wait_state(cid, STOPPED, timeout=20)
    assert item["name"].startswith("name ")
    assert conns.delete(cid).status_code == 200


# ---------------------------------------------------------------------------
# the retry schedules


@pytest.mark.time_limit(60)
def test_the_staircase_schedule_moves_to_its_second_step(conns, receiver):
    prefix = f"stair-{tag()}-"
    cid = new_id()
    conns.create_ok(cid, settings=http_sink(receiver.url, prefix=prefix, **{
        "resilience:firstDelayBound:upperLimitMs": "1500", "resilience:firstDelayBound:delayMs": "100",
        "resilience:secondDelayBound:upperLimitMs": "60000", "resilience:secondDelayBound:delayMs": "1000"}))
    conns.start_running(cid)
    receiver.answer_for(5.0, 503)
    append_n(conns.api, prefix, 1)
    receiver.wait_for(1, timeout=30)
    attempts = [r.at for r in failed_with(receiver, 503)]
    first = attempts[0]
    gaps = [(a - first, b - a) for a, b in zip(attempts, attempts[1:])]
    print("retries (since the first failure, gap):", " ".join(f"{t:.1f}/{g:.2f}" for t, g in gaps))
    early = [g for t, g in gaps if t < 1.2]
    late = [g for t, g in gaps if t > 2.0]
    assert len(early) >= 5 and max(early) < 0.5, f"first step: every 100 ms until 1.5 s: {gaps}"
    assert late and min(late) > 0.7, f"second step: every 1000 ms: {gaps}"


def test_with_resilience_disabled_a_failure_is_final_at_once(conns, receiver):
    prefix = f"nores-{tag()}-"
    cid = new_id()
    conns.create_ok(cid, settings=http_sink(receiver.url, prefix=prefix, **{
        "resilience:enabled": "false", "resilience:onExhausted": "dead-letter"}))
    conns.start_running(cid)
    receiver.answer_when(is_poison, 503)
    poison_plan(conns.api, prefix)
    receiver.wait_for(6, timeout=30)
    assert [json.loads(b)["n"] for b in receiver.bodies()] == [0, 1, 2, 4, 5, 6]
    assert len(failed_with(receiver, 503)) == 1, "no retry when resilience is disabled"


@pytest.mark.parametrize("status", [201, 202, 204])
def test_every_2xx_answer_is_a_delivery(conns, receiver, status):
    prefix = f"r{status}-{tag()}-"
    receiver.answer_next(3, status)
    cid = new_id()
    conns.create_ok(cid, settings=http_sink(receiver.url, prefix=prefix, **FAST_RETRY))
    conns.start_running(cid)
    append_n(conns.api, prefix, 4)
    expected = [e["position"] for e in log_events(conns.api, prefix)]
    receiver.wait_for(4, timeout=30)
    receiver.quiet_for(0.3, timeout=5)
    assert delivered_positions(receiver.delivered()) == expected, "no 2xx is retried"


@pytest.mark.time_limit(60)
def test_429_with_retry_after_as_an_http_date_is_honoured(conns, receiver):
    prefix = f"r429d-{tag()}-"
    cid = new_id()
    conns.create_ok(cid, settings=http_sink(receiver.url, prefix=prefix, **{
        "resilience:firstDelayBound:delayMs": "100"}))
    conns.start_running(cid)
    when = email.utils.formatdate(time.time() + 3, usegmt=True)  # whole seconds: 2 to 3 s from now
    receiver.answer_next(1, 429, headers={"Retry-After": when})
    append_n(conns.api, prefix, 1)
    receiver.wait_for(1, timeout=30)
    (throttled,) = failed_with(receiver, 429)
    gap = receiver.delivered()[0].at - throttled.at
    print(f"gap after 429 with Retry-After: {when} -> {gap:.2f} s")
    assert gap >= 1.5, f"retried {gap:.2f} s after a 429 asking to wait until {when}"
    assert gap < 10


@pytest.mark.time_limit(180)
def test_kill_9_mid_batched_delivery_redelivers_whole_batches_in_order(fresh_server, receiver):
    c = ConnectorsApi(fresh_server.base_url)
    plan, prefix = orders_plan(tag(), total=1200, streams=12)
    append_spread(fresh_server.base_url, plan)
    expected = [e["position"] for e in log_events(c.api, prefix)]
    cid = new_id()
    c.create_ok(cid, settings=http_sink(receiver.url, prefix=prefix, **{
        "batching:maxRecords": "20", "autocommit:recordsThreshold": "100"}))
    receiver.slow(0.02)
    c.start_ok(cid)
    receiver.wait_for(len(expected) // 20 // 3, timeout=60)
    fresh_server.kill()
    receiver.slow(0)
    fresh_server.start()

    def positions(reqs):
        return [int(el["headers"]["esdb-record-log-position"]) for r in reqs if r.is_delivered
                for el in json.loads(r.body)]

    receiver.wait_until(lambda reqs: len(set(positions(reqs))) >= len(expected), timeout=90,
                        what="every record after the restart")
    receiver.quiet_for(0.5, timeout=5)
    dups, windows = assert_in_order_at_least_once(positions(receiver.delivered()), expected, window=100 + 20)
    print(f"{dups} duplicates in windows {windows}")
