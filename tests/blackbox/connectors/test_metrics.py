"""What a connector reports about itself (spec/connectors.md §3, §8): Prometheus metrics and the
per-connector counts and lag of the list API."""

import time

import pytest

from sluice_client import event

from .connectors_client import (
    RUNNING,
    ConnectorsApi,
    as_int,
    http_sink,
    log_events,
    metric,
    new_id,
    scrape,
    stat,
    tag,
)


def wait_metric(api, name, value, timeout=15, **labels):
    deadline = time.monotonic() + timeout
    found = []
    while time.monotonic() < deadline:
        found = metric(scrape(api), name, **labels)
        if len(found) == 1 and found[0][1] == value:
            return found[0]
        time.sleep(0.1)
    raise AssertionError(f"{name}{labels}: {found}, wanted one series = {value}")


@pytest.mark.time_limit(90)
def test_metrics_count_the_records_each_connector_wrote(fresh_server, receiver_factory):
    c = ConnectorsApi(fresh_server.base_url)
    rx1, rx2 = receiver_factory(), receiver_factory()
    t = tag()
    a, b = new_id("ma"), new_id("mb")
    c.create_ok(a, settings=http_sink(rx1.url, prefix=f"ma-{t}-"))
    c.create_ok(b, settings=http_sink(rx2.url, prefix=f"mb-{t}-"))
    c.start_running(a)
    c.start_running(b)
    for i in range(30):
        c.api.append_ok(f"ma-{t}-{i % 3}", [event("A", {"i": i})])
    for i in range(12):
        c.api.append_ok(f"mb-{t}-{i % 3}", [event("B", {"i": i})])
    rx1.wait_for(30, timeout=30)
    rx2.wait_for(12, timeout=30)
    wait_metric(c.api, "kurrent_sink_written_total_records", float(rx1.count()), connector=a, sink="http-sink")
    wait_metric(c.api, "kurrent_sink_written_total_records", float(rx2.count()), connector=b, sink="http-sink")


@pytest.mark.time_limit(90)
def test_metrics_of_the_spec_are_labelled_by_connector_and_sink(fresh_server, receiver):
    c = ConnectorsApi(fresh_server.base_url)
    t = tag()
    cid = new_id()
    c.create_ok(cid, settings=http_sink(receiver.url, prefix=f"ml-{t}-", **{
        "resilience:firstDelayBound:delayMs": "100", "autocommit:recordsThreshold": "5"}))
    c.start_running(cid)
    receiver.answer_next(2, 503)
    for i in range(10):
        c.api.append_ok(f"ml-{t}-1", [event("E", {"i": i})])
    receiver.wait_for(10, timeout=30)
    wait_metric(c.api, "kurrent_sink_written_total_records", 10.0, connector=cid, sink="http-sink")
    samples = scrape(c.api)
    names = {n for n, lb, _ in samples if lb.get("connector") == cid and lb.get("sink") == "http-sink"}
    for family in ("kurrent_connector_active_total", "kurrent_sink_written_total_records", "kurrent_sink_errors_total",
                   "messaging_kurrent_consumer_lag"):
        assert family in names, f"no {family} for connector {cid}: {sorted(names)}"
    for histogram in ("kurrent_sink_write_latency_s", "messaging_kurrent_consumer_commit_latency_s"):
        assert {histogram + "_bucket", histogram + "_sum", histogram + "_count"} <= names, \
            f"no histogram {histogram} for connector {cid}: {sorted(names)}"
    (_, errors), = metric(samples, "kurrent_sink_errors_total", connector=cid, sink="http-sink")
    assert errors >= 2, "two 503 answers are two sink errors"
    (_, count), = metric(samples, "kurrent_sink_write_latency_s_count", connector=cid, sink="http-sink")
    assert count == 10
    active = metric(samples, "kurrent_connector_active_total", connector=cid, sink="http-sink")
    assert active and active[0][1] == 1.0


@pytest.mark.time_limit(90)
def test_the_list_reports_delivered_filtered_failed_counts_and_lag(fresh_server, receiver):
    c = ConnectorsApi(fresh_server.base_url)
    t = tag()
    prefix = f"st-{t}-"
    cid = new_id()
    c.create_ok(cid, settings=http_sink(receiver.url, prefix=prefix, **{
        "resilience:onExhausted": "dead-letter", "resilience:firstDelayBound:delayMs": "100"}))
    receiver.answer_when(lambda r: b"poison" in r.body, 400)
    for i in range(20):
        c.api.append_ok(f"{prefix}{i % 2}", [event("Match", {"i": i, "poison": True} if i == 7 else {"i": i})])
        c.api.append_ok(f"other-{t}", [event("NoMatch", {"i": i}), event("NoMatch", {"i": i})])
    c.start_running(cid)
    receiver.wait_for(19, timeout=30)

    deadline = time.monotonic() + 15
    item = None
    while time.monotonic() < deadline:
        item = c.get_ok(cid)
        if stat(item, "delivered") == 19 and stat(item, "lag") == 0:
            break
        time.sleep(0.1)
    print("connector as listed:", item)
    assert stat(item, "delivered") == 19 == receiver.count()
    assert stat(item, "deadLettered") == 1
    assert stat(item, "failed") in (0, 1), "the dead-lettered record is the only one that failed"
    assert stat(item, "filtered") >= 40, "40 non-matching events passed by"
    assert stat(item, "lag") <= 2, "caught up (its own latest checkpoint may still be ahead)"
    assert item.get("lastErrorTime"), f"a record failed, yet no lastErrorTime: {item}"

    c.stop_stopped(cid)
    for i in range(25):
        c.api.append_ok(f"{prefix}late", [event("Late", {"i": i})])
    c.start_running(cid)
    receiver.wait_for(44, timeout=30)
    # The receiver has the request before the connector has read its answer and counted it.
    deadline = time.monotonic() + 10
    item = c.get_ok(cid)
    while stat(item, "delivered") < 44 and time.monotonic() < deadline:
        time.sleep(0.05)
        item = c.get_ok(cid)
    assert stat(item, "delivered") >= 44
    head = c.api.head_position()
    assert item.get("position") is None or as_int(item["position"]) <= head
    assert c.get_ok(cid)["state"] == RUNNING
    assert log_events(c.api, prefix)[-1]["position"] <= head


@pytest.mark.time_limit(60)
def test_lag_grows_while_a_connector_is_stuck(conns, receiver):
    prefix = f"lag-{tag()}-"
    cid = new_id()
    conns.create_ok(cid, settings=http_sink(receiver.url, prefix=prefix, **{
        "resilience:firstDelayBound:delayMs": "200"}))
    conns.start_running(cid)
    receiver.answer_for(600, 503)
    for i in range(10):
        conns.api.append_ok(prefix + "1", [event("E", {"i": i, "k": k}) for k in range(5)])
    receiver.wait_for(2, timeout=20, predicate=lambda r: r.status == 503)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and stat(conns.get_ok(cid), "lag") < 49:
        time.sleep(0.1)
    lag = stat(conns.get_ok(cid), "lag")
    assert lag >= 49, f"50 events behind one that fails, yet lag = {lag}"
    series = metric(scrape(conns.api), "messaging_kurrent_consumer_lag", connector=cid)
    assert series and series[0][1] >= 49, series
    receiver.answer_normally()
    receiver.wait_for(50, timeout=30)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and stat(conns.get_ok(cid), "lag") > 2:
        time.sleep(0.1)
    assert stat(conns.get_ok(cid), "lag") <= 2
