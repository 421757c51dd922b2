"""Hostile and malformed input: the server answers with a JSON error or closes the
connection, never crashes, and goes on serving everyone else."""

import json
import re
import socket
import struct
import subprocess
import time

import pytest

from conftest import sluice_bin
from sluice_client import (
    JSON,
    ConnectionClosed,
    RawConnection,
    assert_error,
    assert_error_body,
    describe,
    events,
    raw_request,
    stream_path,
    unique,
)

BAD_INPUT = ("invalid-argument", "invalid-json")
DEFAULT_HEADER_TIMEOUT = 10.0


def assert_still_serves(server):
    """Health answers, and an append is written and read back."""
    api = server.new_api()
    assert api.get("/health/live").status_code == 200
    s = unique("alive")
    api.append_ok(s, events(2))
    assert api.revisions(s) == [0, 1]


def exchange(server, data, timeout=10):
    """Sends raw bytes and returns the response, or None when the server closed without one."""
    with RawConnection(server.port, timeout=timeout) as conn:
        conn.send(data)
        try:
            return conn.read_response(timeout=timeout)
        except ConnectionClosed:
            return None


# -- bodies ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        b"{",
        b'[{"eventType": "T", "data": {}',
        b'[{"eventType": "T", "data": {}}]]',
        b"[{eventType: 'T'}]",
        b'[{"eventType": "T", "data": NaN}]',
        b"\x00\x01\x02\x03",
        b'[{"eventType": "T", "data": "\xc3\x28"}]',
        b"[" * 100_000 + b"]" * 100_000,
    ],
    ids=["lone brace", "unterminated", "extra bracket", "unquoted keys", "NaN", "binary", "invalid UTF-8", "deep nesting"],
)
def test_malformed_json_body_is_refused_with_a_json_error(server, body):
    api = server.api
    s = unique("hostile")
    assert_error(api.append(s, body), 400, BAD_INPUT)
    assert_error(api.read(s), 404, "stream-not-found")
    assert_still_serves(server)


@pytest.mark.parametrize(
    "body",
    [
        [{"eventType": ["T"], "data": {}}],
        [{"eventType": None, "data": {}}],
        [[]],
        [None],
        {"events": []},
        True,
    ],
    ids=["eventType array", "eventType null", "event array", "event null", "object", "true"],
)
def test_wrong_json_types_are_refused_with_a_json_error(server, body):
    s = unique("hostile")
    assert_error(server.api.append(s, json.dumps(body)), 400, BAD_INPUT)
    assert_still_serves(server)


def test_declared_body_over_the_limit_is_refused_without_waiting_for_it(server):
    head = raw_request("POST", stream_path(unique("huge")), {"Content-Type": JSON, "Content-Length": str(1 << 30)})
    with RawConnection(server.port, timeout=10) as conn:
        conn.send(head + b"[")
        resp = conn.read_response(timeout=10)
    assert resp.status == 413, resp
    assert assert_error_body(resp.body)["error"] == "too-large"
    assert_still_serves(server)


def test_chunked_body_over_the_limit_is_refused(server):
    s = unique("huge")
    head = (f"POST {stream_path(s)} HTTP/1.1\r\nHost: x\r\nContent-Type: {JSON}\r\nTransfer-Encoding: chunked\r\n\r\n").encode()
    piece = b"x" * (1 << 20)
    chunk = b"%x\r\n" % len(piece) + piece + b"\r\n"
    with RawConnection(server.port, timeout=30) as conn:
        conn.send(head)
        conn.send_until_answered(chunk * 18)
        try:
            resp = conn.read_response(timeout=30)
        except ConnectionClosed:
            resp = None
    if resp is not None:
        assert resp.status == 413, resp
        assert_error_body(resp.body)
    assert_error(server.api.read(s), 404, "stream-not-found")
    assert_still_serves(server)


# -- names ---------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["%FF", "%C3%28", "%F4%90%80%80", "x%00", "%E2%82"])
def test_invalid_bytes_in_a_stream_name_are_refused_everywhere(server, name):
    api = server.api
    wrong = []
    for method, path, body in [
        ("POST", f"/streams/{name}", json.dumps(events(1))),
        ("GET", f"/streams/{name}", None),
        ("DELETE", f"/streams/{name}", None),
        ("GET", f"/streams/{name}/metadata", None),
        ("PUT", f"/streams/{name}/metadata", "{}"),
    ]:
        r = api.request(method, path, data=body, headers={"Content-Type": JSON})
        try:
            assert_error(r, 400, BAD_INPUT, field="stream")
        except AssertionError as e:
            wrong.append(str(e).splitlines()[0])
    assert not wrong, "\n".join(wrong)
    assert_still_serves(server)


# -- headers --------------------------------------------------------------------------


def test_request_with_thousands_of_headers_is_refused_with_431(server):
    headers = {f"X-Header-{i:05d}": "value-value" for i in range(10_000)}  # ~270 KB of headers
    resp = exchange(server, raw_request("GET", "/health/live", headers))
    assert resp is not None, "closed without an answer"
    assert resp.status == 431, resp
    assert_error_body(resp.body)
    assert_still_serves(server)


def test_request_with_2000_small_headers_is_served_or_refused_cleanly(server):
    headers = {f"X-H{i}": "v" for i in range(2_000)}  # ~16 KB, under the block limit
    resp = exchange(server, raw_request("GET", "/health/live", headers))
    assert resp is not None, "closed without an answer"
    assert resp.status in (200, 431), resp
    if resp.status == 431:
        assert_error_body(resp.body)
    assert_still_serves(server)


def test_header_block_of_100_kb_is_refused_with_431(server):
    resp = exchange(server, raw_request("GET", "/health/live", {"X-Big": "a" * 100_000}))
    assert resp is not None, "closed without an answer"
    assert resp.status == 431, resp
    assert_error_body(resp.body)
    assert_still_serves(server)


def test_header_block_just_under_64_kib_is_served(server):
    resp = exchange(server, raw_request("GET", "/health/live", {"X-Big": "a" * 60_000}))
    assert resp is not None and resp.status == 200, resp
    assert_still_serves(server)


@pytest.mark.parametrize(
    "data",
    [
        b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + bytes(range(256)) + b"\r\n\r\n",
        b"GARBAGE GARBAGE GARBAGE\r\n\r\n",
        b"GET /health/live HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n",
        b"POST /streams/x HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\n",
        b"GET /health/live HTTP/1.1\r\nBad Header Without Colon\r\n\r\n",
        b"\r\n\r\n\r\n\x00\x00\x00\r\n\r\n",
    ],
    ids=["tls hello", "words", "length abc", "length negative", "no colon", "nul bytes"],
)
def test_garbage_instead_of_http_is_refused_or_closed(server, data):
    started = time.monotonic()
    resp = exchange(server, data, timeout=8)
    assert time.monotonic() - started < 8
    if resp is not None:
        assert 400 <= resp.status < 500, resp
        assert_error_body(resp.body)
    assert_still_serves(server)


def test_pipelined_requests_are_answered_in_order(server):
    s = unique("pipe")
    body1 = json.dumps(events(1)).encode()
    body2 = json.dumps(events(2)).encode()
    data = (
        raw_request("POST", stream_path(s), {"Content-Type": JSON}, body1)
        + raw_request("POST", stream_path(s), {"Content-Type": JSON}, body2)
        + raw_request("GET", stream_path(s))
        + raw_request("GET", "/nope")
    )
    with RawConnection(server.port, timeout=10) as conn:
        conn.send(data)
        answers = [conn.read_response() for _ in range(4)]
    assert [a.status for a in answers] == [201, 201, 200, 404]
    assert [a.json()["nextExpectedRevision"] for a in answers[:2]] == [0, 2]
    assert [e["revision"] for e in answers[2].json()["events"]] == [0, 1, 2]


# -- slow clients -----------------------------------------------------------------------


def timeout_flag(kind):
    """The serve flag that sets a timeout (`header`, `request` or `idle`) if the binary has one."""
    try:
        out = subprocess.run([sluice_bin(), "serve", "--help"], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return None
    m = re.search(rf"(--{kind}[-_]timeout(?:[-_]ms)?)\b", out.stdout + out.stderr)
    return m.group(1) if m else None


def flag_value(flag, seconds):
    return str(int(seconds * 1000)) if flag.endswith("ms") else str(int(seconds))


@pytest.mark.time_limit(60)
def test_client_sending_a_byte_a_second_is_cut_off_while_others_are_served(server, server_factory):
    flag = timeout_flag("header")
    limit = DEFAULT_HEADER_TIMEOUT
    if flag:
        limit = 2.0
        server = server_factory(flag, flag_value(flag, limit))
    trickle = b"GET /health/live HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"s" * 200
    others = server.new_api()
    served = []
    with RawConnection(server.port, timeout=5) as slow:
        started = time.monotonic()
        cut_after = None
        for byte in trickle:
            if not slow.send(bytes([byte])):
                cut_after = time.monotonic() - started
                break
            t0 = time.monotonic()
            r = others.get("/health/live", timeout=5)
            served.append((r.status_code, time.monotonic() - t0))
            if slow.wait_closed(max(0.0, 1.0 - (time.monotonic() - t0))) or slow.buf:
                cut_after = time.monotonic() - started
                break
            if time.monotonic() - started > limit + 6:
                break
        answer = slow.buf
    assert cut_after is not None, f"a client trickling headers was not cut off within {limit + 6:.0f} s"
    assert limit * 0.75 <= cut_after <= limit + 5, cut_after
    if answer:
        assert re.match(rb"HTTP/1\.[01] 408 ", answer), answer[:200]
        head, _, body = answer.partition(b"\r\n\r\n")
        if body and b"chunked" not in head.lower():
            assert_error_body(body)
    assert len(served) >= int(limit * 0.8), served
    assert all(status == 200 and took < 2.0 for status, took in served), served
    assert_still_serves(server)


def test_client_sending_its_body_too_slowly_is_cut_off(server_factory):
    flag = timeout_flag("request")
    if not flag:
        pytest.skip("no request timeout flag; the default of 60 s is too long to wait for")
    limit = 2.0
    server = server_factory(flag, flag_value(flag, limit))
    s = unique("slowbody")
    body = json.dumps(events(1)).encode()
    with RawConnection(server.port, timeout=5) as slow:
        slow.send(raw_request("POST", stream_path(s), {"Content-Type": JSON}, body)[: -len(body)])
        started = time.monotonic()
        cut_after = None
        for byte in body:
            if not slow.send(bytes([byte])) or slow.wait_closed(0.5) or slow.buf:
                cut_after = time.monotonic() - started
                break
    assert cut_after is not None, "a client trickling its body was not cut off"
    assert limit * 0.5 <= cut_after <= limit + 5, cut_after
    assert_error(server.api.read(s), 404, "stream-not-found")
    assert_still_serves(server)


def test_idle_keep_alive_connection_is_closed_after_the_idle_timeout(server_factory):
    flag = timeout_flag("idle")
    if not flag:
        pytest.skip("no idle timeout flag; the default of 60 s is too long to wait for")
    limit = 1.0
    server = server_factory(flag, flag_value(flag, limit))
    with RawConnection(server.port, timeout=5) as conn:
        conn.send(raw_request("GET", "/health/live"))
        assert conn.read_response().status == 200
        served = time.monotonic()
        assert conn.wait_closed(limit + 5), "an idle keep-alive connection stayed open"
        idle_for = time.monotonic() - served
    assert limit * 0.75 <= idle_for <= limit + 5, idle_for
    assert_still_serves(server)


def test_keep_alive_connection_serves_many_requests(server):
    s = unique("keep")
    with RawConnection(server.port, timeout=10) as conn:
        for i in range(50):
            conn.send(raw_request("POST", stream_path(s), {"Content-Type": JSON}, json.dumps(events(1)).encode()))
            resp = conn.read_response()
            assert resp.status == 201, resp
            assert resp.json()["nextExpectedRevision"] == i


# -- routing ------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/nope", "/health/nope", "/streamz/x", "/subscriptions", "/"])
def test_unknown_path_answers_404_with_a_json_error(server, path):
    assert_error(server.api.get(path), 404)
    assert_still_serves(server)


@pytest.mark.parametrize(
    "method,path",
    [
        ("PATCH", "/streams/x"),
        ("PUT", "/streams/x"),
        ("POST", "/health/live"),
        ("DELETE", "/metrics"),
        ("POST", "/streams/x/metadata"),
    ],
)
def test_wrong_method_answers_405_with_a_json_error(server, method, path):
    r = server.api.request(method, path, data=b"{}", headers={"Content-Type": JSON})
    assert_error(r, 405)
    assert_still_serves(server)


def test_many_idle_connections_do_not_stop_others_being_served(server):
    conns = [RawConnection(server.port, timeout=5) for _ in range(200)]
    try:
        for c in conns[:100]:
            c.send(b"GET /health/live HTTP/1.1\r\nHost: x\r\n")  # headers never finished
        assert_still_serves(server)
    finally:
        for c in conns:
            c.close()


def test_client_vanishing_mid_request_does_not_disturb_the_server(server):
    s = unique("vanish")
    body = json.dumps(events(3)).encode()
    for cut in (10, len(body) // 2, len(body) - 1):
        with RawConnection(server.port, timeout=5) as conn:
            conn.send(raw_request("POST", stream_path(s), {"Content-Type": JSON}, body)[: -len(body) + cut])
    assert_error(server.api.read(s), 404, "stream-not-found")
    assert_still_serves(server)


def test_every_error_answer_is_json_with_error_and_message(server):
    api = server.api
    s = unique("errors")
    api.append_ok(s, events(1))
    answers = [
        api.append(s, b"nope"),
        api.append(s, events(1), expected="no_stream"),
        api.read(unique("missing")),
        api.read(s, count="lots"),
        api.get("/nope"),
        api.request("PATCH", stream_path(s)),
        api.put_metadata(s, {"$maxCount": -1}),
    ]
    for r in answers:
        assert r.status_code >= 400, describe(r)
        assert_error(r, r.status_code)


def test_server_survives_a_burst_of_connections_that_close_at_once(server):
    for _ in range(300):
        c = RawConnection(server.port, timeout=5)
        c.send(b"GET /health/live HTTP/1.1\r\nHost: x\r\n\r\n")
        c.close()
    assert_still_serves(server)


def test_connection_reset_mid_response_does_not_disturb_the_server(server):
    api = server.api
    s = unique("reset")
    api.append_ok(s, events(200))
    for _ in range(20):
        c = RawConnection(server.port, timeout=5)
        c.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        c.send(raw_request("GET", stream_path(s) + "?count=200"))
        c.close()  # RST before reading the answer
    assert api.revisions(s) == list(range(200))
    assert_still_serves(server)
