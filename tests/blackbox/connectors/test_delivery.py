"""Delivery through sinks (spec/connectors.md §1, §5-7): what the http-sink sends, in which order,
with which headers; where delivery resumes after stop, start and reset; batching; the log sink."""

import base64
import json
import os
import time
import urllib.parse
import uuid

import pytest

from sluice_client import describe, event

from .connectors_client import (
    EVENTS,
    RUNNING,
    append_spread,
    assert_in_order_at_least_once,
    body_matches,
    delivered_positions,
    http_sink,
    log_events,
    log_sink,
    new_id,
    orders_plan,
    tag,
)

# ---------------------------------------------------------------------------
# the http-sink: content, order, headers


@pytest.mark.time_limit(300)
def test_http_sink_delivers_exactly_the_matching_events_in_log_order(conns, receiver):
    t = tag()
    plan, prefix = orders_plan(t, total=EVENTS)
    half = len(plan) // 2
    t0 = time.monotonic()
    append_spread(conns.api.base, plan[:half])
    cid = new_id()
    conns.create_ok(cid, settings=http_sink(receiver.url, prefix=prefix))
    conns.start_ok(cid)
    append_spread(conns.api.base, plan[half:])  # while the connector catches up: history, then live
    expected = log_events(conns.api, prefix)
    sent = sum(len(evs) for s, evs in plan if s.startswith(prefix))
    assert len(expected) == sent

    got = receiver.wait_for(len(expected), timeout=240)
    receiver.quiet_for(0.5, timeout=5)
    got = receiver.delivered()
    print(f"{len(expected)} of {sum(len(e) for _, e in plan)} events matched; delivered in "
          f"{time.monotonic() - t0:.1f} s over {receiver.connection_count()} connection(s)")

    assert len(got) == len(expected), f"{len(got)} requests for {len(expected)} matching events"
    assert delivered_positions(got) == [e["position"] for e in expected], "not exactly the matching events in order"
    for req, ev in zip(got, expected):
        assert req.method == "POST"
        assert req.headers["esdb-record-id"].lower() == ev["eventId"].lower()
        assert req.headers["esdb-record-stream-id"] == ev["streamId"]
        assert body_matches(req, ev), f"body {req.body[:200]!r} is not the data of {ev}"
    assert all(r.headers["esdb-connector-id"] == cid for r in got)


def test_http_sink_sends_the_esdb_headers_and_the_event_content_type(conns, receiver):
    t = tag()
    prefix = f"hdr-{t}-"
    stream = f"{prefix}a"
    meta = {"tenant": "acme", "traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "$correlationId": "c-1", "$causationId": "c-0"}
    binary = os.urandom(64)
    evs = [
        event("OrderPlaced", {"id": 1, "total": 9.5}, metadata=meta),
        {"eventId": str(uuid.uuid4()), "eventType": "Blob", "contentType": "application/octet-stream",
         "data": base64.b64encode(binary).decode()},
        event("OrderPaid", {"id": 1}),
    ]
    conns.api.append_ok(stream, evs)
    cid = new_id()
    conns.create_ok(cid, settings=http_sink(receiver.url, prefix=prefix))
    conns.start_ok(cid)
    got = receiver.wait_for(3, timeout=30)
    stored = log_events(conns.api, prefix)

    for req, ev in zip(got, stored):
        h = req.headers
        assert h["esdb-connector-id"] == cid
        assert h["esdb-record-id"].lower() == ev["eventId"].lower()
        assert h["esdb-record-stream-id"] == stream
        assert int(h["esdb-record-stream-revision"]) == ev["revision"]
        assert int(h["esdb-record-log-position"]) == ev["position"]
        assert h["esdb-record-schema-subject"] == ev["eventType"]
        for name in ("esdb-request-id", "esdb-request-date", "esdb-record-timestamp", "esdb-record-schema-type"):
            assert h.get(name), f"no {name} header in {req.header_list}"
        assert h["content-type"].split(";")[0].strip() == ev["contentType"], h["content-type"]
        assert body_matches(req, ev)

    placed, blob, paid = got
    assert placed.headers["esdb-record-headers-tenant"] == "acme"
    assert placed.headers["esdb-record-headers-traceparent"] == meta["traceparent"]
    assert not [n for n in placed.headers if n.startswith("esdb-record-headers-$")], \
        f"$-prefixed metadata keys are dropped by default: {placed.header_list}"
    assert not [n for n in paid.headers if n.startswith("esdb-record-headers-")], "no metadata, no record headers"
    assert blob.body == binary
    assert "json" in placed.headers["esdb-record-schema-type"].lower()
    assert "json" not in blob.headers["esdb-record-schema-type"].lower()


def test_system_metadata_headers_are_sent_when_ignore_system_is_false(conns, receiver):
    prefix = f"hsys-{tag()}-"
    conns.api.append_ok(prefix + "1", [event("E", {}, metadata={"$correlationId": "corr-9", "who": "me"})])
    cid = new_id()
    conns.create_ok(cid, settings=http_sink(receiver.url, prefix=prefix, **{"headers:ignoreSystem": "false"}))
    conns.start_ok(cid)
    (req,) = receiver.wait_for(1, timeout=30)
    assert req.headers.get("esdb-record-headers-$correlationid") == "corr-9", req.header_list
    assert req.headers.get("esdb-record-headers-who") == "me"


def test_default_headers_method_and_basic_authentication_are_applied(conns, receiver):
    prefix = f"auth-{tag()}-"
    conns.api.append_ok(prefix + "1", [event("E", {"n": 1})])
    cid = new_id()
    conns.create_ok(cid, settings=http_sink(receiver.url_for("/hook"), prefix=prefix, **{
        "method": "PUT",
        "defaultHeaders:X-Team": "billing",
        "authentication:method": "basic",
        "authentication:basic:username": "ann",
        "authentication:basic:password": "pw:with:colons",
    }))
    conns.start_ok(cid)
    (req,) = receiver.wait_for(1, timeout=30)
    assert req.method == "PUT" and req.path == "/hook"
    assert req.headers["x-team"] == "billing"
    assert req.headers["authorization"] == "Basic " + base64.b64encode(b"ann:pw:with:colons").decode()


def test_bearer_authentication_sends_the_token(conns, receiver):
    prefix = f"bear-{tag()}-"
    conns.api.append_ok(prefix + "1", [event("E", {"n": 1})])
    cid = new_id()
    conns.create_ok(cid, settings=http_sink(receiver.url, prefix=prefix, **{
        "authentication:method": "bearer", "authentication:bearer:token": "tok-abc"}))
    conns.start_ok(cid)
    (req,) = receiver.wait_for(1, timeout=30)
    assert req.headers["authorization"] == "Bearer tok-abc"


def test_url_template_expands_stream_and_schema_subject(conns, receiver):
    t = tag()
    prefix = f"tpl-{t}-"
    conns.api.append_ok(prefix + "one", [event("OrderPlaced", {"n": 1}), event("OrderPaid", {"n": 2})])
    conns.api.append_ok(prefix + "two", [event("OrderShipped", {"n": 3})])
    cid = new_id()
    conns.create_ok(cid, settings=http_sink(receiver.url + "/{stream}/{schema-subject}", prefix=prefix))
    conns.start_ok(cid)
    got = receiver.wait_for(3, timeout=30)
    assert [r.path for r in got] == [f"/{prefix}one/order-placed", f"/{prefix}one/order-paid",
                                     f"/{prefix}two/order-shipped"]


def test_url_template_event_type_is_an_alias_of_schema_subject(conns, receiver):
    prefix = f"tpl2-{tag()}-"
    conns.api.append_ok(prefix + "s", [event("InvoiceIssued", {})])
    cid = new_id()
    conns.create_ok(cid, settings=http_sink(receiver.url + "/hooks/{event-type}", prefix=prefix))
    conns.start_ok(cid)
    (req,) = receiver.wait_for(1, timeout=30)
    assert req.path == "/hooks/invoice-issued"


# ---------------------------------------------------------------------------
# filters


def test_a_record_scope_filter_matches_on_event_type(conns, receiver):
    t = tag()
    stream = f"rec-{t}"
    evs = [event(f"Inv{t}Issued" if i % 3 == 0 else f"Other{t}", {"i": i}) for i in range(30)]
    conns.api.append_ok(stream, evs)
    cid = new_id()
    conns.create_ok(cid, settings={
        "instanceTypeName": "http-sink", "url": receiver.url, "subscription:initialPosition": "earliest",
        "subscription:filter:scope": "record", "subscription:filter:filterType": "prefix",
        "subscription:filter:expression": f"Inv{t}"})
    conns.start_ok(cid)
    receiver.wait_for(10, timeout=30)
    receiver.quiet_for(0.5, timeout=5)
    assert [json.loads(r.body)["i"] for r in receiver.delivered()] == list(range(0, 30, 3))


def test_a_regex_stream_filter_delivers_only_matching_streams(conns, receiver):
    t = tag()
    for name in ("a", "b", "c", "ab"):
        conns.api.append_ok(f"rx-{t}-{name}", [event("E", {"s": name, "k": k}) for k in range(3)])
    cid = new_id()
    conns.create_ok(cid, settings={
        "instanceTypeName": "http-sink", "url": receiver.url, "subscription:initialPosition": "earliest",
        "subscription:filter:scope": "stream", "subscription:filter:filterType": "regex",
        "subscription:filter:expression": f"^rx-{t}-(a|c)$"})
    conns.start_ok(cid)
    receiver.wait_for(6, timeout=30)
    receiver.quiet_for(0.5, timeout=5)
    assert [json.loads(r.body)["s"] for r in receiver.delivered()] == ["a"] * 3 + ["c"] * 3


def test_an_empty_filter_delivers_every_event_but_system_ones(conns, receiver):
    t = tag()
    cid = new_id()
    conns.create_ok(cid, settings={"instanceTypeName": "http-sink", "url": receiver.url,
                                   "subscription:initialPosition": "latest"})
    conns.start_running(cid)
    for i in range(5):
        conns.api.append_ok(f"any-{t}-{i}", [event("Mine", {"t": t, "i": i})])
    receiver.wait_until(lambda reqs: sum(1 for r in reqs if r.is_delivered and t.encode() in r.body) >= 5,
                        timeout=30, what="my 5 events")
    got = receiver.delivered()
    system = [r for r in got if r.headers["esdb-record-stream-id"].startswith("$")
              or r.headers["esdb-record-schema-subject"].startswith("$")]
    assert not system, f"system events delivered: {system[:3]}"
    mine = [json.loads(r.body)["i"] for r in got if t.encode() in r.body]
    assert mine == list(range(5))


def test_initial_position_latest_skips_history(conns, receiver):
    prefix = f"lat-{tag()}-"
    conns.api.append_ok(prefix + "1", [event("Old", {"old": True})])
    cid = new_id()
    settings = http_sink(receiver.url, prefix=prefix)
    settings["subscription:initialPosition"] = "latest"
    conns.create_ok(cid, settings=settings)
    conns.start_running(cid)
    conns.api.append_ok(prefix + "1", [event("New", {"old": False})])
    (req,) = receiver.wait_for(1, timeout=30)
    receiver.quiet_for(0.5, timeout=5)
    assert [json.loads(r.body) for r in receiver.delivered()] == [{"old": False}]


# ---------------------------------------------------------------------------
# stop, start, reset


def append_batches(api, prefix, n, label, streams=5, per_append=10):
    for i in range(0, n, per_append):
        api.append_ok(f"{prefix}{(i // per_append) % streams}",
                      [event("Tick", {"label": label, "i": i + k}) for k in range(min(per_append, n - i))])


@pytest.mark.time_limit(120)
def test_stop_append_start_resumes_after_the_last_checkpoint(conns, receiver):
    t = tag()
    prefix = f"ssr-{t}-"
    threshold = 50
    cid = new_id()
    conns.create_ok(cid, settings=http_sink(receiver.url, prefix=prefix,
                                            **{"autocommit:recordsThreshold": threshold}))
    conns.start_running(cid)
    append_batches(conns.api, prefix, 300, "first")
    receiver.wait_for(300, timeout=60)
    conns.wait_position(cid, log_events(conns.api, prefix)[-1]["position"])  # the last answer was read
    conns.stop_stopped(cid)
    before = receiver.count()

    append_batches(conns.api, prefix, 300, "second")
    time.sleep(1.0)  # a stopped connector delivers nothing
    assert receiver.count() == before, "delivered while stopped"

    conns.start_running(cid)
    expected = [e["position"] for e in log_events(conns.api, prefix)]
    receiver.wait_until(lambda reqs: len({r.headers["esdb-record-log-position"] for r in reqs if r.is_delivered})
                        >= len(expected), timeout=60, what="every record")
    receiver.quiet_for(0.5, timeout=5)
    dups, windows = assert_in_order_at_least_once(delivered_positions(receiver.delivered()), expected, threshold)
    assert dups == 0, f"a clean stop commits the checkpoint of everything acknowledged; re-sent: {windows}"


@pytest.mark.time_limit(120)
def test_reset_at_a_position_redelivers_from_there(conns, receiver):
    prefix = f"rst-{tag()}-"
    append_batches(conns.api, prefix, 100, "x")
    expected = [e["position"] for e in log_events(conns.api, prefix)]
    cid = new_id()
    conns.create_ok(cid, settings=http_sink(receiver.url, prefix=prefix))
    conns.start_ok(cid)
    receiver.wait_for(100, timeout=60)
    conns.stop_stopped(cid)
    mark = receiver.count()

    k = 60
    r = conns.reset(cid, expected[k])
    assert r.status_code == 200, describe(r)
    conns.wait_state(cid, RUNNING)
    receiver.wait_until(lambda reqs: sum(1 for r in reqs if r.is_delivered) >= mark + len(expected) - k,
                        timeout=60, what="re-delivery")
    receiver.quiet_for(0.5, timeout=5)
    again = delivered_positions(receiver.delivered()[mark:])
    assert again == expected[k:], f"after reset at {expected[k]} (inclusive): {again[:5]}..."


@pytest.mark.time_limit(120)
def test_reset_without_a_position_redelivers_from_the_beginning(conns, receiver):
    prefix = f"rs0-{tag()}-"
    append_batches(conns.api, prefix, 50, "x")
    expected = [e["position"] for e in log_events(conns.api, prefix)]
    cid = new_id()
    conns.create_ok(cid, settings=http_sink(receiver.url, prefix=prefix))
    conns.start_ok(cid)
    receiver.wait_for(50, timeout=60)
    conns.stop_stopped(cid)
    assert conns.reset(cid).status_code == 200
    receiver.wait_for(100, timeout=60)
    receiver.quiet_for(0.5, timeout=5)
    assert delivered_positions(receiver.delivered()) == expected + expected


@pytest.mark.time_limit(120)
def test_start_at_a_position_overrides_the_checkpoint(conns, receiver):
    prefix = f"sap-{tag()}-"
    append_batches(conns.api, prefix, 40, "x")
    expected = [e["position"] for e in log_events(conns.api, prefix)]
    cid = new_id()
    conns.create_ok(cid, settings=http_sink(receiver.url, prefix=prefix))
    conns.start_ok(cid)
    receiver.wait_for(40, timeout=60)
    conns.stop_stopped(cid)
    mark = receiver.count()
    conns.start_running(cid, position=expected[10])
    receiver.wait_for(mark + 30, timeout=60)
    receiver.quiet_for(0.5, timeout=5)
    again = delivered_positions(receiver.delivered()[mark:])
    assert again == expected[10:], f"after a start at {expected[10]} (inclusive): {again[:5]}..."
    conns.stop_stopped(cid)


# ---------------------------------------------------------------------------
# batching


def batch_elements(req):
    body = json.loads(req.body)
    assert isinstance(body, list), f"a batched body is a JSON array: {req.body[:200]!r}"
    return body


def element_value(el):
    assert isinstance(el, dict), el
    for key in ("value", "data", "payload", "body"):
        if key in el:
            return el[key]
    raise AssertionError(f"no payload in batch element {json.dumps(el)[:300]}")


def element_headers(el):
    h = el.get("headers")
    assert isinstance(h, dict), f"no headers in batch element {json.dumps(el)[:300]}"
    return {k.lower(): v for k, v in h.items()}


@pytest.mark.time_limit(120)
def test_batching_delivers_the_same_events_in_order_in_far_fewer_requests(conns, receiver):
    prefix = f"bat-{tag()}-"
    n = 600
    append_batches(conns.api, prefix, n, "b", streams=7, per_append=20)
    expected = log_events(conns.api, prefix)
    cid = new_id()
    conns.create_ok(cid, settings=http_sink(receiver.url, prefix=prefix, **{"batching:maxRecords": 100}))
    conns.start_ok(cid)
    receiver.wait_until(lambda reqs: sum(len(json.loads(r.body)) for r in reqs if r.is_delivered) >= n,
                        timeout=60, what=f"{n} batched records")
    receiver.quiet_for(0.5, timeout=5)
    got = receiver.delivered()
    elements = [el for req in got for el in batch_elements(req)]
    assert [element_value(el) for el in elements] == [e["data"] for e in expected]
    assert [int(element_headers(el)["esdb-record-log-position"]) for el in elements] == \
        [e["position"] for e in expected]
    assert all(element_headers(el)["esdb-record-id"].lower() == e["eventId"].lower()
               for el, e in zip(elements, expected))
    assert max(len(batch_elements(r)) for r in got) <= 100
    assert len(got) <= n // 10, f"{len(got)} requests for {n} records with batching:maxRecords=100"
    print(f"{n} records in {len(got)} requests")


# ---------------------------------------------------------------------------
# the log sink


def wait_lines(path, marker, count, timeout):
    deadline = time.monotonic() + timeout
    lines = []
    while time.monotonic() < deadline:
        try:
            with open(path, encoding="utf-8", errors="replace") as f:
                lines = [line.rstrip("\n") for line in f if marker in line]
        except FileNotFoundError:
            lines = []
        if len(lines) >= count:
            return lines
        time.sleep(0.1)
    raise AssertionError(f"{len(lines)} of {count} lines with {marker!r} in {path} within {timeout} s")


@pytest.mark.parametrize("type_name", ["serilog-sink", "log-sink"])
def test_log_sink_writes_one_line_per_record_to_its_file(conns, tmp_path, type_name):
    t = tag()
    prefix = f"log-{t}-"
    path = tmp_path / "records.log"
    for i in range(4):
        conns.api.append_ok(f"{prefix}{i}", [event("Logged", {"mark": f"m{t}-{i}-{k}"}) for k in range(10)])
    expected = log_events(conns.api, prefix)
    cid = new_id()
    conns.create_ok(cid, settings=log_sink(path, prefix=prefix, type_name=type_name))
    conns.start_ok(cid)
    lines = wait_lines(path, prefix, 40, timeout=30)
    time.sleep(0.3)
    lines = wait_lines(path, prefix, 40, timeout=1)
    assert len(lines) == 40, "one line per record"
    for line, ev in zip(lines, expected):
        assert f"{ev['eventId']} {ev['streamId']}@{ev['position']} {ev['eventType']}" in line, (line, ev)
        assert ev["data"]["mark"] in line, f"includeRecordData defaults to true: {line}"


def test_log_sink_without_record_data_writes_only_the_record_line(conns, tmp_path):
    t = tag()
    prefix = f"lognd-{t}-"
    path = tmp_path / "records.log"
    conns.api.append_ok(prefix + "1", [event("Logged", {"secret-ish": f"payload-{t}"}) for _ in range(3)])
    cid = new_id()
    conns.create_ok(cid, settings=log_sink(path, prefix=prefix, includeRecordData="false"))
    conns.start_ok(cid)
    lines = wait_lines(path, prefix, 3, timeout=30)
    assert not [line for line in lines if f"payload-{t}" in line], lines


def test_a_log_sink_resumes_after_stop_and_start(conns, tmp_path):
    t = tag()
    prefix = f"logss-{t}-"
    path = tmp_path / "records.log"
    cid = new_id()
    conns.create_ok(cid, settings=log_sink(path, prefix=prefix))
    conns.start_running(cid)
    conns.api.append_ok(prefix + "1", [event("A", {"k": k}) for k in range(5)])
    wait_lines(path, prefix, 5, timeout=30)
    conns.stop_stopped(cid)
    conns.api.append_ok(prefix + "1", [event("B", {"k": k}) for k in range(5)])
    conns.start_running(cid)
    expected = log_events(conns.api, prefix)
    wait_lines(path, expected[-1]["eventId"], 1, timeout=30)
    ids = [next((e["eventId"] for e in expected if e["eventId"] in line), None)
           for line in wait_lines(path, prefix, 10, timeout=1)]
    assert_in_order_at_least_once(ids, [e["eventId"] for e in expected], window=1000)


@pytest.mark.time_limit(120)
def test_a_clean_stop_during_delivery_redelivers_nothing(conns, receiver):
    """docs/connectors.md: a stop commits the checkpoint of everything acknowledged, and after a clean stop
    nothing is re-sent. A request in flight when the stop comes is answered 200 by the receiver."""
    prefix = f"cln-{tag()}-"
    append_batches(conns.api, prefix, 100, "x")
    expected = [e["position"] for e in log_events(conns.api, prefix)]
    cid = new_id()
    conns.create_ok(cid, settings=http_sink(receiver.url, prefix=prefix))
    receiver.slow(0.05)
    conns.start_ok(cid)
    receiver.wait_for(20, timeout=60)
    conns.stop_stopped(cid)
    receiver.slow(0)
    stopped_at = receiver.count()
    conns.start_running(cid)
    receiver.wait_until(lambda reqs: len({r.headers["esdb-record-log-position"] for r in reqs if r.is_delivered})
                        >= len(expected), timeout=60, what="every record")
    receiver.quiet_for(0.5, timeout=5)
    dups, windows = assert_in_order_at_least_once(delivered_positions(receiver.delivered()), expected, 1000)
    assert dups == 0, f"stopped after {stopped_at} deliveries; re-sent after the start: {windows}"


# ---------------------------------------------------------------------------
# more filters, reconfiguration, hostile values, sizes, many connectors


def test_a_stream_id_filter_matches_one_stream_exactly(conns, receiver):
    t = tag()
    for name in (f"sid-{t}", f"sid-{t}2", f"x-sid-{t}"):
        conns.api.append_ok(name, [event("E", {"s": name})])
    cid = new_id()
    conns.create_ok(cid, settings={
        "instanceTypeName": "http-sink", "url": receiver.url, "subscription:initialPosition": "earliest",
        "subscription:filter:scope": "stream", "subscription:filter:filterType": "streamId",
        "subscription:filter:expression": f"sid-{t}"})
    conns.start_ok(cid)
    receiver.wait_for(1, timeout=30)
    receiver.quiet_for(0.5, timeout=5)
    assert [json.loads(b)["s"] for b in receiver.bodies()] == [f"sid-{t}"]


def test_comma_separated_prefixes_match_any_of_them(conns, receiver):
    t = tag()
    for name in (f"pa-{t}-1", f"pb-{t}-1", f"pc-{t}-1", f"pa-{t}-2"):
        conns.api.append_ok(name, [event("E", {"s": name})])
    cid = new_id()
    conns.create_ok(cid, settings={
        "instanceTypeName": "http-sink", "url": receiver.url, "subscription:initialPosition": "earliest",
        "subscription:filter:scope": "stream", "subscription:filter:filterType": "prefix",
        "subscription:filter:expression": f"pa-{t}-,pc-{t}-"})
    conns.start_ok(cid)
    receiver.wait_for(3, timeout=30)
    receiver.quiet_for(0.5, timeout=5)
    assert [json.loads(b)["s"] for b in receiver.bodies()] == [f"pa-{t}-1", f"pc-{t}-1", f"pa-{t}-2"]


def test_an_unspecified_filter_type_reads_a_regex_as_a_regex(conns, receiver):
    t = tag()
    for name in ("a", "b", "ab"):
        conns.api.append_ok(f"inf-{t}-{name}", [event("E", {"s": name})])
    cid = new_id()
    conns.create_ok(cid, settings={
        "instanceTypeName": "http-sink", "url": receiver.url, "subscription:initialPosition": "earliest",
        "subscription:filter:scope": "stream", "subscription:filter:expression": f"^inf-{t}-(a|b)$"})
    conns.start_ok(cid)
    receiver.wait_for(2, timeout=30)
    receiver.quiet_for(0.5, timeout=5)
    assert [json.loads(b)["s"] for b in receiver.bodies()] == ["a", "b"]


def test_an_empty_expression_with_a_scope_includes_system_events(conns, receiver):
    cid = new_id()
    conns.create_ok(cid, settings={"instanceTypeName": "http-sink", "url": receiver.url,
                                   "subscription:initialPosition": "latest", "subscription:filter:scope": "stream"})
    conns.start_running(cid)
    other = new_id("sys")
    conns.create_ok(other, settings=http_sink("http://127.0.0.1:9/", prefix=f"none-{tag()}-"))
    receiver.wait_until(lambda reqs: any(r.is_delivered and r.headers.get("esdb-record-stream-id") ==
                                         f"$connectors/{other}" for r in reqs),
                        timeout=30, what=f"the $connectors/{other} created event")


@pytest.mark.time_limit(60)
def test_reconfigure_of_a_running_connector_applies_on_the_next_start(conns, receiver_factory):
    first, second = receiver_factory(), receiver_factory()
    prefix = f"rcf-{tag()}-"
    cid = new_id()
    conns.create_ok(cid, settings=http_sink(first.url, prefix=prefix))
    conns.start_running(cid)
    r = conns.reconfigure(cid, http_sink(second.url, prefix=prefix))
    assert r.status_code == 200, describe(r)
    conns.api.append_ok(prefix + "1", [event("E", {"n": 1})])
    first.wait_for(1, timeout=30)
    conns.wait_position(cid, log_events(conns.api, prefix)[-1]["position"])
    conns.stop_stopped(cid)
    conns.start_running(cid)
    conns.api.append_ok(prefix + "1", [event("E", {"n": 2})])
    second.wait_for(1, timeout=30)
    first.quiet_for(0.3, timeout=5)
    assert [json.loads(b)["n"] for b in first.bodies()] == [1]
    assert [json.loads(b)["n"] for b in second.bodies()] == [2]


def test_stream_names_types_and_metadata_cannot_inject_http_headers(conns, receiver):
    t = tag()
    prefix = f"inj-{t}-"
    conns.api.append_ok(prefix + "a\r\nX-Evil-Stream: 1", [
        event("Type\r\nX-Evil-Type: 1", {"n": 1},
              metadata={"k": "v\r\nX-Evil-Meta: 1", "bad key\r\nX-Evil-Key: 1": "x", "n": 5, "o": {"a": 1}})])
    conns.api.append_ok(prefix + "b", [event("After", {"n": 2})])
    cid = new_id()
    conns.create_ok(cid, settings=http_sink(receiver.url, prefix=prefix))
    conns.start_ok(cid)
    got = receiver.wait_for(2, timeout=30)
    for req in got:
        evil = [name for name, _ in req.header_list if name.lower().startswith("x-evil")]
        assert not evil, f"injected headers {evil}: {req.header_list}"
        assert not any("\r" in v or "\n" in v for _, v in req.header_list), req.header_list
    assert [json.loads(r.body)["n"] for r in got] == [1, 2]


def test_url_template_escapes_what_it_expands(conns, receiver):
    prefix = f"esc-{tag()}-"
    stream = prefix + "a b/c?d#e%"
    conns.api.append_ok(stream, [event("E", {})])
    cid = new_id()
    conns.create_ok(cid, settings=http_sink(receiver.url + "/in/{stream}", prefix=prefix))
    conns.start_ok(cid)
    (req,) = receiver.wait_for(1, timeout=30)
    path = req.path
    assert path.startswith("/in/") and "?" not in path and "#" not in path, path
    assert urllib.parse.unquote(path[len("/in/"):]) == stream, path


def test_a_large_event_is_delivered_intact(conns, receiver):
    prefix = f"big-{tag()}-"
    blob = os.urandom(3 * 1024 * 1024)
    conns.api.append_ok(prefix + "1", [{"eventId": str(uuid.uuid4()), "eventType": "Big",
                                        "contentType": "application/octet-stream",
                                        "data": base64.b64encode(blob).decode()}])
    conns.api.append_ok(prefix + "1", [event("Small", {"n": 1})])
    cid = new_id()
    conns.create_ok(cid, settings=http_sink(receiver.url, prefix=prefix))
    conns.start_ok(cid)
    big, small = receiver.wait_for(2, timeout=60)
    assert big.body == blob
    assert json.loads(small.body) == {"n": 1}


@pytest.mark.time_limit(60)
def test_batches_respect_max_bytes(conns, receiver):
    prefix = f"mb-{tag()}-"
    append_batches(conns.api, prefix, 100, "p" * 200)
    expected = log_events(conns.api, prefix)
    cid = new_id()
    conns.create_ok(cid, settings=http_sink(receiver.url, prefix=prefix, **{
        "batching:maxRecords": 100, "batching:maxBytes": 4000}))
    conns.start_ok(cid)
    receiver.wait_until(lambda reqs: sum(len(json.loads(r.body)) for r in reqs if r.is_delivered) >= 100,
                        timeout=60, what="100 batched records")
    got = receiver.delivered()
    assert all(len(r.body) <= 4000 for r in got), [len(r.body) for r in got]
    assert len(got) >= 100 * 250 // 4000, "batches are cut by size"
    assert [element_value(el) for r in got for el in batch_elements(r)] == [e["data"] for e in expected]


@pytest.mark.time_limit(120)
def test_many_connectors_on_the_same_events_each_deliver_everything(conns, receiver_factory):
    prefix = f"many-{tag()}-"
    rxs = [receiver_factory() for _ in range(8)]
    ids = [new_id(f"m{k}") for k in range(8)]
    for cid, rx in zip(ids, rxs):
        conns.create_ok(cid, settings=http_sink(rx.url, prefix=prefix))
        conns.start_ok(cid)
    append_batches(conns.api, prefix, 200, "m")
    expected = [e["position"] for e in log_events(conns.api, prefix)]
    for rx in rxs:
        rx.wait_for(200, timeout=60)
    for cid, rx in zip(ids, rxs):
        rx.quiet_for(0.2, timeout=5)
        assert delivered_positions(rx.delivered()) == expected, cid
        assert {r.headers["esdb-connector-id"] for r in rx.delivered()} == {cid}


@pytest.mark.time_limit(60)
def test_batching_max_delay_gathers_a_trickle_into_few_requests(conns, receiver):
    prefix = f"trk-{tag()}-"
    cid = new_id()
    conns.create_ok(cid, settings=http_sink(receiver.url, prefix=prefix, **{
        "batching:maxRecords": 100, "batching:maxDelayMs": 1500}))
    conns.start_running(cid)
    t0 = time.monotonic()
    for i in range(10):
        conns.api.append_ok(prefix + "1", [event("E", {"i": i})])
    appended = time.monotonic() - t0
    receiver.wait_until(lambda reqs: sum(len(json.loads(r.body)) for r in reqs if r.is_delivered) >= 10,
                        timeout=30, what="10 batched records")
    got = receiver.delivered()
    print(f"10 appends in {appended:.2f} s arrived in {len(got)} request(s)")
    assert [element_value(el)["i"] for r in got for el in batch_elements(r)] == list(range(10))
    if appended < 1.0:
        assert len(got) <= 2, f"{len(got)} requests: the batch did not wait for batching:maxDelayMs"


@pytest.mark.time_limit(60)
def test_a_checkpoint_wins_over_initial_position_latest(conns, receiver):
    prefix = f"cpl-{tag()}-"
    cid = new_id()
    settings = http_sink(receiver.url, prefix=prefix)
    settings["subscription:initialPosition"] = "latest"
    conns.create_ok(cid, settings=settings)
    conns.start_running(cid)
    append_batches(conns.api, prefix, 10, "first")
    receiver.wait_for(10, timeout=30)
    conns.stop_stopped(cid)
    append_batches(conns.api, prefix, 10, "while-stopped")
    conns.start_running(cid)
    append_batches(conns.api, prefix, 10, "after")
    expected = [e["position"] for e in log_events(conns.api, prefix)]
    receiver.wait_for(30, timeout=30)
    receiver.quiet_for(0.3, timeout=5)
    assert delivered_positions(receiver.delivered()) == expected, "what came while stopped is delivered"


@pytest.mark.time_limit(60)
def test_reset_without_a_position_starts_from_the_beginning_even_with_latest(conns, receiver):
    prefix = f"rsl-{tag()}-"
    append_batches(conns.api, prefix, 10, "history")
    cid = new_id()
    settings = http_sink(receiver.url, prefix=prefix)
    settings["subscription:initialPosition"] = "latest"
    conns.create_ok(cid, settings=settings)
    conns.start_running(cid)
    append_batches(conns.api, prefix, 5, "live")
    receiver.wait_for(5, timeout=30)
    conns.stop_stopped(cid)
    assert conns.reset(cid).status_code == 200
    expected = [e["position"] for e in log_events(conns.api, prefix)]
    receiver.wait_for(5 + 15, timeout=30)
    receiver.quiet_for(0.3, timeout=5)
    assert delivered_positions(receiver.delivered()[5:]) == expected


def test_json_data_of_any_shape_is_delivered_exactly(conns, receiver):
    prefix = f"shape-{tag()}-"
    values = ["text", 42, [1, 2, {"x": None}], None, True,
              {"big": 9223372036854775807, "neg": -9223372036854775808, "f": 0.1, "u": "ü\u2028😀", "e": ""}]
    conns.api.append_ok(prefix + "1", [event("Shape", v, metadata=m)
                                       for v, m in zip(values, [None, [1, 2], "a string", 7, {}, {"k": "v"}])])
    cid = new_id()
    conns.create_ok(cid, settings=http_sink(receiver.url, prefix=prefix))
    conns.start_ok(cid)
    got = receiver.wait_for(len(values), timeout=30)
    assert [json.loads(r.body) for r in got] == values
    assert [sorted(n for n in r.headers if n.startswith("esdb-record-headers-")) for r in got] == \
        [[]] * 5 + [["esdb-record-headers-k"]]
