"""Appending to streams: POST /streams/{stream}."""

import json
import os
import time
import uuid

import pytest
import requests

from sluice_client import (
    JSON,
    OCTET,
    RawConnection,
    assert_error,
    assert_error_body,
    b64,
    binary_event,
    describe,
    event,
    events,
    stream_path,
    unb64,
    unique,
)

MiB = 1024 * 1024
BAD_INPUT = ("invalid-argument", "invalid-json")


def assert_stream_missing(api, stream):
    r = api.read(stream)
    assert_error(r, 404, "stream-not-found")


# -- writing ----------------------------------------------------------------


def test_append_of_one_event_to_a_new_stream_answers_revision_zero_and_its_position(api):
    s = unique()
    r = api.append(s, [event("Created", {"a": 1})])
    assert r.status_code == 201, describe(r)
    body = r.json()
    assert body["nextExpectedRevision"] == 0
    assert isinstance(body["position"], int) and body["position"] >= 1
    read = api.read_ok(s)["events"]
    assert [(e["revision"], e["position"]) for e in read] == [(0, body["position"])]


def test_append_of_several_events_writes_them_in_order_with_contiguous_revisions(api):
    s = unique()
    sent = [event(f"Type{i}", {"i": i}) for i in range(3)]
    first = api.append_ok(s, sent)
    assert first["nextExpectedRevision"] == 2
    more = api.append_ok(s, [event("Type3"), event("Type4")])
    assert more["nextExpectedRevision"] == 4
    assert more["position"] > first["position"]
    read = api.read_ok(s)["events"]
    assert [e["revision"] for e in read] == [0, 1, 2, 3, 4]
    assert [e["eventId"] for e in read[:3]] == [e["eventId"] for e in sent]
    assert [e["eventType"] for e in read] == ["Type0", "Type1", "Type2", "Type3", "Type4"]
    positions = [e["position"] for e in read]
    assert positions == sorted(set(positions))
    assert positions[2] == first["position"] and positions[4] == more["position"]


def test_events_of_one_append_stand_together_in_the_log(api):
    s = unique()
    sent = events(4)
    body = api.append_ok(s, sent)
    first_position = api.read_ok(s, count=1)["events"][0]["position"]
    log = api.read_ok("$all", **{"from": first_position, "count": 4})["events"]
    assert [e["eventId"] for e in log] == [e["eventId"] for e in sent]
    assert log[-1]["position"] == body["position"]


def test_append_to_a_stream_name_with_slash_space_and_unicode_keeps_the_decoded_name(api):
    s = unique("orders/2024 Q1 Überweisung ✓")
    body = api.append_ok(s, [event("Überwiesen ✓", {"betrag": "12,50 €"})])
    read = api.read_ok(s)["events"]
    assert len(read) == 1
    assert read[0]["streamId"] == s
    assert read[0]["eventType"] == "Überwiesen ✓"
    assert read[0]["data"] == {"betrag": "12,50 €"}
    assert read[0]["position"] == body["position"]


def test_stream_name_of_exactly_1024_bytes_is_accepted(api):
    name = "€" * 341 + "a"  # 341 * 3 + 1 = 1024 bytes of UTF-8
    assert len(name.encode()) == 1024
    api.append_ok(name, [event()])
    assert api.read_ok(name)["events"][0]["streamId"] == name


def test_append_with_a_chunked_request_body_is_written(api):
    s = unique()
    payload = json.dumps(events(3)).encode()
    r = api.session.post(
        api.url(stream_path(s)),
        data=iter([payload[:10], payload[10:]]),  # a generator body is sent chunked
        headers={"Content-Type": JSON},
        timeout=30,
    )
    assert r.status_code == 201, describe(r)
    assert r.json()["nextExpectedRevision"] == 2
    assert api.revisions(s) == [0, 1, 2]


# -- expected revision ------------------------------------------------------


def test_append_with_no_stream_to_a_new_stream_is_written(api):
    s = unique()
    assert api.append_ok(s, events(2), expected="no_stream")["nextExpectedRevision"] == 1


def test_append_with_no_stream_to_an_existing_stream_is_refused_with_actual_revision(api):
    s = unique()
    api.append_ok(s, events(2))
    r = api.append(s, events(1), expected="no_stream")
    body = assert_error(r, 409, "wrong-expected-version")
    assert body["expected"] == "no_stream"
    assert body["actual"] == 1
    assert api.revisions(s) == [0, 1]


def test_append_with_stream_exists_to_a_missing_stream_is_refused_with_actual_minus_one(api):
    s = unique()
    r = api.append(s, events(1), expected="stream_exists")
    body = assert_error(r, 409, "wrong-expected-version")
    assert body["expected"] == "stream_exists"
    assert body["actual"] == -1
    assert_stream_missing(api, s)


def test_append_with_stream_exists_to_an_existing_stream_is_written(api):
    s = unique()
    api.append_ok(s, events(1))
    assert api.append_ok(s, events(2), expected="stream_exists")["nextExpectedRevision"] == 2


def test_append_with_matching_expected_revision_is_written(api):
    s = unique()
    api.append_ok(s, events(3))
    assert api.append_ok(s, events(1), expected=2)["nextExpectedRevision"] == 3


def test_append_with_stale_expected_revision_is_refused_with_actual_revision(api):
    s = unique()
    api.append_ok(s, events(3))
    r = api.append(s, events(2), expected=0)
    body = assert_error(r, 409, "wrong-expected-version")
    assert body["expected"] == "0"
    assert body["actual"] == 2


def test_append_with_stale_expected_revision_writes_nothing(api):
    s = unique()
    api.append_ok(s, events(3))
    head = api.head_position()
    api.append(s, events(2), expected=1)
    assert api.revisions(s) == [0, 1, 2]
    assert api.head_position() == head


def test_append_with_expected_revision_ahead_of_the_stream_is_refused(api):
    s = unique()
    api.append_ok(s, events(3))
    body = assert_error(api.append(s, events(1), expected=7), 409, "wrong-expected-version")
    assert body["expected"] == "7"
    assert body["actual"] == 2


def test_append_with_expected_revision_to_a_missing_stream_is_refused_with_actual_minus_one(api):
    s = unique()
    body = assert_error(api.append(s, events(1), expected=0), 409, "wrong-expected-version")
    assert body["expected"] == "0"
    assert body["actual"] == -1
    assert_stream_missing(api, s)


def test_append_with_any_is_written_to_new_and_existing_streams(api):
    s = unique()
    assert api.append_ok(s, events(1), expected="any")["nextExpectedRevision"] == 0
    assert api.append_ok(s, events(2), expected="any")["nextExpectedRevision"] == 2


def test_append_without_expected_revision_header_behaves_as_any(api):
    s = unique()
    assert api.append_ok(s, events(1))["nextExpectedRevision"] == 0
    assert api.append_ok(s, events(1))["nextExpectedRevision"] == 1


@pytest.mark.parametrize("value", ["sometimes", "-7", "1.5", "12abc", "0x10", "99999999999999999999999"])
def test_append_with_malformed_expected_revision_header_is_refused_naming_the_header(api, value):
    s = unique()
    r = api.append(s, events(1), expected=value)
    assert_error(r, 400, BAD_INPUT, field="Expected-Revision")
    assert_stream_missing(api, s)


# -- idempotency ------------------------------------------------------------


def test_reappend_of_the_same_events_at_no_stream_returns_the_original_result_and_writes_nothing(api):
    s = unique()
    sent = events(2)
    original = api.append_ok(s, sent, expected="no_stream")
    head = api.head_position()
    again = api.append(s, sent, expected="no_stream")
    assert again.status_code == 201, describe(again)
    assert again.json() == original
    assert api.revisions(s) == [0, 1]
    assert api.head_position() == head


def test_reappend_of_the_same_events_at_an_exact_revision_returns_the_original_result(api):
    s = unique()
    api.append_ok(s, events(2))
    sent = events(3)
    original = api.append_ok(s, sent, expected=1)
    assert original["nextExpectedRevision"] == 4
    again = api.append(s, sent, expected=1)
    assert again.status_code == 201, describe(again)
    assert again.json() == original
    assert api.revisions(s) == [0, 1, 2, 3, 4]


def test_reappend_with_any_of_the_stream_last_events_returns_the_original_result(api):
    s = unique()
    api.append_ok(s, events(1))
    sent = events(2)
    original = api.append_ok(s, sent, expected="any")
    head = api.head_position()
    again = api.append(s, sent, expected="any")
    assert again.status_code == 201, describe(again)
    assert again.json() == original
    assert api.revisions(s) == [0, 1, 2]
    assert api.head_position() == head


def test_reappend_with_any_of_ids_standing_earlier_in_the_stream_returns_their_original_result(api):
    s = unique()
    first = events(2)
    original = api.append_ok(s, first)
    api.append_ok(s, events(2))
    head = api.head_position()
    again = api.append(s, first, expected="any")
    assert again.status_code == 201, describe(again)
    assert again.json() == original
    assert api.revisions(s) == [0, 1, 2, 3]
    assert api.head_position() == head


def test_events_without_event_id_get_distinct_generated_uuids(api):
    s = unique()
    api.append_ok(s, [event(with_id=False), event(with_id=False)])
    ids = [e["eventId"] for e in api.read_ok(s)["events"]]
    assert len(ids) == 2
    for i in ids:
        assert str(uuid.UUID(i)) == i.lower()
    assert ids[0] != ids[1]


def test_given_event_id_is_kept(api):
    s = unique()
    given = str(uuid.uuid4())
    api.append_ok(s, [event(event_id=given)])
    assert api.read_ok(s)["events"][0]["eventId"] == given


# -- contents ---------------------------------------------------------------


def test_json_data_and_metadata_are_read_back_as_the_same_json_values(api):
    s = unique()
    values = [{"a": [1, 2, {"b": None}], "c": "ü✓"}, "text", 42, -3.5, True, None, [], {"nested": {"deep": [[]]}}]
    sent = [event("Value", data=v, metadata={"i": i}) for i, v in enumerate(values)]
    sent.append(event("NoMetadata", data={"x": 1}))
    api.append_ok(s, sent)
    read = api.read_ok(s)["events"]
    assert [e["data"] for e in read] == values + [{"x": 1}]
    assert [e["metadata"] for e in read] == [{"i": i} for i in range(len(values))] + [None]
    assert {e["contentType"] for e in read} == {JSON}


def test_octet_stream_event_is_read_back_as_the_same_bytes(api):
    s = unique()
    data = bytes(range(256)) + b"\x00\x00\xff" + os.urandom(1000)
    meta = b"\x00meta\xfe"
    api.append_ok(s, [binary_event(data, metadata_raw=meta)])
    e = api.read_ok(s)["events"][0]
    assert e["contentType"] == OCTET
    assert unb64(e["data"]) == data
    assert unb64(e["metadata"]) == meta


def test_json_and_binary_events_can_share_one_append(api):
    s = unique()
    api.append_ok(s, [event("J", {"k": "v"}), binary_event(b"\x01\x02", event_type="B")])
    read = api.read_ok(s)["events"]
    assert [(e["eventType"], e["contentType"]) for e in read] == [("J", JSON), ("B", OCTET)]
    assert read[0]["data"] == {"k": "v"} and unb64(read[1]["data"]) == b"\x01\x02"


# -- the single-event form ----------------------------------------------------


def test_single_event_form_with_a_json_body_stores_a_json_event(api):
    s = unique()
    eid = str(uuid.uuid4())
    r = api.append_single(s, b'{"amount": 5}', event_type="Deposited", event_id=eid)
    assert r.status_code == 201, describe(r)
    assert r.json()["nextExpectedRevision"] == 0
    e = api.read_ok(s)["events"][0]
    assert (e["eventId"], e["eventType"], e["contentType"], e["data"]) == (eid, "Deposited", JSON, {"amount": 5})
    assert e["position"] == r.json()["position"]


def test_single_event_form_with_another_content_type_stores_the_raw_body_as_binary(api):
    s = unique()
    raw = b"plain \x00 bytes \xff\xfe"
    r = api.append_single(s, raw, event_type="Note", content_type="text/plain")
    assert r.status_code == 201, describe(r)
    e = api.read_ok(s)["events"][0]
    assert e["contentType"] == OCTET
    assert unb64(e["data"]) == raw
    uuid.UUID(e["eventId"])


def test_single_event_form_reappended_with_the_same_event_id_writes_once(api):
    s = unique()
    eid = str(uuid.uuid4())
    first = api.append_single(s, b"{}", event_type="Once", event_id=eid)
    second = api.append_single(s, b"{}", event_type="Once", event_id=eid)
    assert first.status_code == 201 and second.status_code == 201, (describe(first), describe(second))
    assert second.json() == first.json()
    assert api.revisions(s) == [0]


def test_single_event_form_honours_expected_revision(api):
    s = unique()
    api.append_ok(s, events(1))
    r = api.append_single(s, b"{}", event_type="Late", expected="no_stream")
    body = assert_error(r, 409, "wrong-expected-version")
    assert body["actual"] == 0


def test_single_event_form_with_invalid_json_body_is_refused(api):
    s = unique()
    r = api.append_single(s, b'{"amount": ', event_type="Broken")
    assert_error(r, 400, BAD_INPUT)
    assert_stream_missing(api, s)


def test_single_event_form_with_malformed_event_id_is_refused_naming_the_header(api):
    s = unique()
    r = api.append_single(s, b"{}", event_type="T", event_id="not-a-uuid")
    body = assert_error(r, 400, BAD_INPUT)
    assert body.get("field", "").lower() == "es-eventid", describe(r)
    assert_stream_missing(api, s)


# -- validation ---------------------------------------------------------------

ELEMENT_ERRORS = {
    "missing eventType": ([event(), event(), {"data": {}}], "[2].eventType"),
    "empty eventType": ([{"eventType": "", "data": {}}], "[0].eventType"),
    "eventType a number": ([{"eventType": 5, "data": {}}], "[0].eventType"),
    "missing data": ([{"eventType": "T"}], "[0].data"),
    "binary data not base64": ([{"eventType": "T", "contentType": OCTET, "data": "!!not base64!!"}], "[0].data"),
    "binary data not a string": ([{"eventType": "T", "contentType": OCTET, "data": {"a": 1}}], "[0].data"),
    "binary metadata not base64": ([{"eventType": "T", "contentType": OCTET, "data": "", "metadata": "%%%"}], "[0].metadata"),
    "eventId not a uuid": ([{"eventId": "not-a-uuid", "eventType": "T", "data": {}}], "[0].eventId"),
    "eventId a number": ([{"eventId": 12, "eventType": "T", "data": {}}], "[0].eventId"),
    "unknown contentType": ([event(), {"eventType": "T", "data": {}, "contentType": "text/plain"}], "[1].contentType"),
    "contentType a number": ([{"eventType": "T", "data": {}, "contentType": 7}], "[0].contentType"),
}


@pytest.mark.parametrize("case", list(ELEMENT_ERRORS), ids=list(ELEMENT_ERRORS))
def test_invalid_event_is_refused_naming_the_field_and_nothing_is_written(api, case):
    body, field = ELEMENT_ERRORS[case]
    s = unique()
    assert_error(api.append(s, body), 400, BAD_INPUT, field=field)
    assert_stream_missing(api, s)


def test_event_that_is_not_an_object_is_refused_naming_its_index(api):
    s = unique()
    assert_error(api.append(s, [event(), "just a string"]), 400, BAD_INPUT, field_prefix="[1]")
    assert_stream_missing(api, s)


BODY_ERRORS = {
    "an object": json.dumps(event()),
    "a string": '"events"',
    "a number": "42",
    "null": "null",
    "an empty array": "[]",
    "invalid JSON": '[{"eventType": "T", "data": ',
    "empty": "",
    "trailing garbage": json.dumps([event()]) + " xyz",
    "invalid UTF-8": b'[{"eventType": "\xff\xfe", "data": {}}]',
}


@pytest.mark.parametrize("case", list(BODY_ERRORS), ids=list(BODY_ERRORS))
def test_body_that_is_not_a_non_empty_array_of_events_is_refused(api, case):
    s = unique()
    assert_error(api.append(s, BODY_ERRORS[case]), 400, BAD_INPUT)
    assert_stream_missing(api, s)


BAD_NAMES = {
    "invalid UTF-8": "bad%FF%FEname",
    "overlong UTF-8": "bad%C0%AFname",
    "UTF-16 surrogate": "bad%ED%A0%80name",
    "NUL": "bad%00name",
    "1025 bytes": "a" * 1025,
    "1025 bytes of multi-byte characters": "%E2%82%AC" * 341 + "ab",
}


@pytest.mark.parametrize("case", list(BAD_NAMES), ids=list(BAD_NAMES))
def test_append_to_an_invalid_stream_name_is_refused_naming_the_stream(api, case):
    r = api.request("POST", "/streams/" + BAD_NAMES[case], data=json.dumps(events(1)), headers={"Content-Type": JSON})
    assert_error(r, 400, BAD_INPUT, field="stream")


# -- limits -------------------------------------------------------------------


# A sanitized build on a busy two-core machine appends 10 000 small events in well under
# a second when the work is linear; 10 s leaves room for everything but a quadratic cost.
# Each runs on a server of its own, killed when it does not answer in time, so that a
# stalled server does not slow down the tests after it.
BULK_SECONDS = 10


def bulk_append(srv, stream, n):
    """Appends n small events; returns (response, seconds), or fails the test after BULK_SECONDS."""
    body = [event("Bulk", {"i": i}) for i in range(n)]
    started = time.monotonic()
    try:
        r = srv.api.append(stream, body, timeout=BULK_SECONDS)
    except requests.Timeout:
        srv.kill()
        pytest.fail(f"no answer within {BULK_SECONDS} s to an append of {n} events", pytrace=False)
    return r, time.monotonic() - started


@pytest.mark.time_limit(30)
def test_append_of_10000_events_is_accepted_promptly(fresh_server):
    s = unique()
    r, took = bulk_append(fresh_server, s, 10_000)
    assert r.status_code == 201, describe(r)
    assert r.json()["nextExpectedRevision"] == 9_999
    assert fresh_server.api.read_ok(s, **{"from": 9_999})["events"][0]["data"] == {"i": 9_999}


@pytest.mark.time_limit(30)
def test_append_of_10001_events_is_refused_promptly_as_too_large_and_writes_nothing(fresh_server):
    s = unique()
    r, took = bulk_append(fresh_server, s, 10_001)
    assert_error(r, 413, "too-large")
    assert_stream_missing(fresh_server.api, s)


def test_event_over_8_mib_is_too_large_and_writes_nothing(api):
    s = unique()
    r = api.append(s, [event("Small"), event("Huge", data="x" * (8 * MiB + 16))])
    assert_error(r, 413, "too-large")
    assert_stream_missing(api, s)


@pytest.mark.time_limit(60)
def test_event_just_under_8_mib_is_accepted_and_read_back_whole(api):
    s = unique()
    big = "z" * (8 * MiB - 1024)
    body = api.append_ok(s, [event("Big", data=big)])
    e = api.read_ok(s)["events"][0]
    assert e["data"] == big
    assert e["position"] == body["position"]


def test_append_to_the_log_itself_is_refused_and_writes_nothing(api):
    head = api.head_position()
    r = api.request("POST", "/streams/$all", data=json.dumps(events(1)), headers={"Content-Type": JSON})
    assert 400 <= r.status_code < 500, describe(r)
    assert_error(r, r.status_code)
    assert api.head_position() == head


def test_body_over_16_mib_is_too_large_and_writes_nothing(server, api):
    s = unique()
    chunk = "y" * MiB
    body = json.dumps([event("Part", data=chunk) for _ in range(17)]).encode()
    assert len(body) > 16 * MiB
    head = (
        f"POST {stream_path(s)} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: {JSON}\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode()
    with RawConnection(server.port, timeout=30) as conn:
        conn.send(head)
        conn.send_until_answered(body)
        resp = conn.read_response(timeout=30)
    assert resp.status == 413, resp
    assert assert_error_body(resp.body)["error"] == "too-large"
    assert_stream_missing(api, s)


def test_append_to_a_tombstoned_stream_answers_stream_deleted(api):
    s = unique()
    api.append_ok(s, events(1))
    r = api.delete(s, hard=True)
    assert r.status_code == 204, describe(r)
    for expected in (None, "any", "no_stream", "0"):
        assert_error(api.append(s, events(1), expected=expected), 410, "stream-deleted")
    assert_error(api.append_single(s, b"{}", event_type="T"), 410, "stream-deleted")


def test_octet_stream_data_of_every_padding_length_is_read_back_as_standard_base64(api):
    s = unique()
    payloads = [b"a", b"ab", b"abc", b"abcd", b"\x00"]
    api.append_ok(s, [binary_event(p) for p in payloads])
    read = api.read_ok(s)["events"]
    assert [unb64(e["data"]) for e in read] == payloads
    assert [e["data"] for e in read] == [b64(p) for p in payloads]
