#!/usr/bin/env python3
"""Writes the seed corpora of the fuzz targets under tests/fuzz/corpus/ (records come from
seed_records.c, which uses the real encoder: build-fuzz/tests/fuzz/seed_records DIR).

Seeds are small and each shows one thing the target should start from: real requests, real append
bodies, real connector settings, a valid call of every gRPC method. Re-running it rewrites the same files."""
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
CORPUS = os.path.join(HERE, "corpus")


def write(target, name, data):
    d = os.path.join(CORPUS, target)
    os.makedirs(d, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


# ---- fuzz_http_request: two control bytes, then what the client sends --------------------------
# Control byte: bits 0-1 limits, 2-3 handler habit (now, later, stream, mixed), 4-5 chunking
# (whole, tiny, up to 256, mixed), 6-7 ending (answer then close, close while held, EOF then
# answer, answer then EOF).
def ctl(limits=0, habit=0, chunking=0, ending=0):
    return bytes([limits | habit << 2 | chunking << 4 | ending << 6])


def http_seeds():
    events = json.dumps([{"eventType": "OrderPlaced", "data": {"id": 1}}])
    meta = json.dumps({"$maxCount": 10, "$maxAge": 3600})
    create = json.dumps({"settings": {"instanceTypeName": "http-sink", "url": "http://localhost:8080/{stream}"}})
    req = {
        "get_health": "GET /health/live HTTP/1.1\r\nHost: localhost\r\n\r\n",
        "get_stream": "GET /streams/orders-1?from=start&count=20&direction=forwards HTTP/1.1\r\nHost: a\r\n\r\n",
        "get_backwards": "GET /streams/orders-1?from=end&direction=backwards&count=5 HTTP/1.1\r\nHost: a\r\n\r\n",
        "get_all_filter": "GET /streams/%24all?filter=streamPrefix%3Aorders-%2Ccustomers-&count=100 HTTP/1.1\r\n"
        "Host: a\r\n\r\n",
        "get_all_regex": "GET /streams/$all?filter=eventTypeRegex:%5EOrder.%2A%24 HTTP/1.1\r\nHost: a\r\n\r\n",
        "append": "POST /streams/orders-1 HTTP/1.1\r\nHost: a\r\nContent-Type: application/json\r\n"
        f"Expected-Revision: no_stream\r\nContent-Length: {len(events)}\r\n\r\n{events}",
        "append_single": "POST /streams/orders-1 HTTP/1.1\r\nHost: a\r\nES-EventType: Pinged\r\n"
        "ES-EventId: 0b9f8e8a-3c2d-4e5f-8a9b-0c1d2e3f4a5b\r\nContent-Type: application/json\r\n"
        "Content-Length: 11\r\n\r\n{\"ok\":true}",
        "chunked": "POST /streams/s HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
        "5\r\n[{\"ev\r\n1a\r\nentType\":\"T\",\"data\":{}}]\r\n0\r\n\r\n",
        "chunked_ext_trailer": "POST /streams/s HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
        "4;ext=1\r\nabcd\r\n0\r\nX-Trailer: 1\r\n\r\n",
        "chunked_trailers": "POST /streams/s HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n[]\r\n0\r\n"
        "ES-EventType: Trailer\r\nExpected-Revision: 7\r\nLast: 1\r\n\r\nGET /health/live HTTP/1.1\r\n\r\n",
        "expect_continue": "POST /streams/s HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\n"
        "Content-Length: 2\r\n\r\n[]",
        "pipelined": "GET /health/live HTTP/1.1\r\n\r\nGET /health/ready HTTP/1.1\r\n\r\n"
        "GET /metrics HTTP/1.1\r\nConnection: close\r\n\r\n",
        "pipelined_bodies": "POST /streams/a HTTP/1.1\r\nContent-Length: 3\r\n\r\nabcPOST /streams/b HTTP/1.1\r\n"
        "Content-Length: 4\r\n\r\ndefgDELETE /streams/a?hard=true HTTP/1.1\r\nExpected-Revision: 3\r\n\r\n",
        "http10": "GET /streams/x HTTP/1.0\r\n\r\n",
        "http10_keepalive": "GET /streams/x HTTP/1.0\r\nConnection: keep-alive\r\n\r\nGET /streams/y HTTP/1.0\r\n\r\n",
        "absolute_form": "GET http://localhost:2113/streams/x?from=3 HTTP/1.1\r\nHost: localhost\r\n\r\n",
        "absolute_no_path": "GET http://localhost?count=1 HTTP/1.1\r\n\r\n",
        "asterisk": "OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n",
        "head": "HEAD /streams/x HTTP/1.1\r\n\r\nGET /streams/x HTTP/1.1\r\n\r\n",
        "metadata_put": "PUT /streams/orders/metadata HTTP/1.1\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(meta)}\r\n\r\n{meta}",
        "subscribe": "GET /subscriptions/%24all?from=end&filter=excludeSystemEvents HTTP/1.1\r\n"
        "Accept: text/event-stream\r\nLast-Event-ID: 42\r\n\r\n",
        "percent_names": "GET /streams/caf%C3%A9%2Fbar%20baz HTTP/1.1\r\n\r\nGET /streams/bad%zz HTTP/1.1\r\n\r\n"
        "GET /streams/trail% HTTP/1.1\r\n\r\n",
        "query_forms": "GET /streams/x?a=1&a=2&b&=empty&c=%41%4a+z&%66rom=end&count=10001&x=%g0 HTTP/1.1\r\n\r\n",
        "headers_many": "GET / HTTP/1.1\r\nX-Mixed-Case: Value  \r\nx-empty:\r\nFolded: a\r\n b\r\n"
        "Expected-Revision: stream_exists\r\nACCEPT: */*\r\n\r\n",
        "fragment": "GET /streams/x#frag?no=1 HTTP/1.1\r\n\r\n",
        "connect": "CONNECT localhost:443 HTTP/1.1\r\nHost: localhost\r\n\r\n",
        "upgrade": "GET /subscriptions/x HTTP/1.1\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\nxxxx",
        "bad_version": "GET / HTTP/9.9\r\n\r\n",
        "bad_content_length": "POST /streams/x HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab",
        "too_large_body": "POST /streams/x HTTP/1.1\r\nContent-Length: 999999999\r\n\r\n",
        "connectors_create": "POST /connectors/my-sink HTTP/1.1\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(create)}\r\n\r\n{create}",
        "connectors_list": "GET /connectors?state=CONNECTOR_STATE_RUNNING&includeSettings=true&page=1&pageSize=10"
        " HTTP/1.1\r\nAuthorization: Bearer secret\r\n\r\n",
    }
    # Each request under a few ways of driving the connection.
    drives = [
        ("now", ctl(0, 0, 0, 0)),
        ("held_tiny", ctl(0, 1, 1, 2)),
        ("mixed", ctl(2, 3, 2, 3)),
    ]
    for name, text in req.items():
        for i, (dname, c) in enumerate(drives):
            if i > 0 and name not in ("pipelined", "pipelined_bodies", "chunked", "expect_continue", "append",
                                      "http10_keepalive", "head", "subscribe"):
                continue
            write("fuzz_http_request", f"{name}.{dname}", c + bytes([7 * i + 1]) + text.encode())
    write("fuzz_http_request", "tiny_limits", ctl(1, 0, 0, 0) + b"\x05" +
          b"GET /streams/x?from=start HTTP/1.1\r\nX-Long-Header: " + b"v" * 120 + b"\r\n\r\n")
    write("fuzz_http_request", "zero_timeouts", ctl(3, 3, 2, 0) + b"\x09" +
          b"POST /streams/x HTTP/1.1\r\nContent-Length: 10\r\n\r\nabc")
    write("fuzz_http_request", "stream_close", ctl(0, 2, 0, 1) + b"\x02" +
          b"GET /subscriptions/x HTTP/1.1\r\n\r\nGET /ignored HTTP/1.1\r\n\r\n")


# ---- fuzz_event_json: append bodies ---------------------------------------------------------
def event_seeds():
    bodies = {
        "one": [{"eventType": "OrderPlaced", "data": {"orderId": "o-1", "total": 12.5}}],
        "with_id_meta": [{"eventId": "0b9f8e8a-3c2d-4e5f-8a9b-0c1d2e3f4a5b", "eventType": "T",
                          "data": {"a": [1, 2, {"b": None}]}, "metadata": {"$correlationId": "c", "user": "u"}}],
        "binary": [{"eventType": "Blob", "contentType": "application/octet-stream", "data": "aGVsbG8gd29ybGQ=",
                    "metadata": "AAEC"}],
        "mixed": [{"eventType": "A", "data": 1}, {"eventType": "B", "data": "s", "metadata": None},
                  {"eventType": "C", "data": [True, False, None]}],
        "unicode": [{"eventType": "Café", "data": {"text": "naïve — 日本 😀", "esc": "a\"b\\c\n\t\u0001"}}],
        "numbers": [{"eventType": "N", "data": {"big": 12345678901234567, "neg": -0.0, "exp": 1e-300}}],
        "string_data": [{"eventType": "S", "data": "just a string"}],
        "nested_data_key": [{"eventType": "T", "data": {"data": {"metadata": 1}}, "metadata": {"data": 2}}],
    }
    for name, body in bodies.items():
        write("fuzz_event_json", name, json.dumps(body, ensure_ascii=False))
    raw = {
        "whitespace": '[\n  {\n    "eventType" : "T" ,\r\n    "data" : { "x" : [ 1 , 2 ] }\n  }\n]\n',
        "escaped_key": '[{"eventType":"T","d\\u0061ta":{"x":1},"met\\u0061data":[1]}]',
        "numbers_raw": '[{"eventType":"T","data":0.1,"metadata":1.0e+2}]',
        "big_integers": '[{"eventType":"Big","data":{"n":123456789012345678901234567890,"m":-9223372036854775809}}]',
        "dup_keys": '[{"eventType":"T","data":1,"data":2}]',
        "escaped_quotes": '[{"eventType":"T","data":"a\\"b\\\\","metadata":{"k\\"":"}]"}}]',
        "empty_array": "[]",
        "not_array": '{"eventType":"T","data":{}}',
        "truncated": '[{"eventType":"T","data":{"a":[1,2',
        "base64_padding": "QUJDRA==",
        "base64_unpadded": "QUJDREU",
        "utf8_invalid": b"\xc3\x28 \xe2\x82 \xf0\x9f\x98 \xed\xa0\x80 \xf4\x90\x80\x80 \xc0\xaf ok",
        "utf8_valid": "é€😀\u07ff\uffff",
        "control_chars": "\x00\x01\x1f\"\\/\x7f",
    }
    for name, body in raw.items():
        write("fuzz_event_json", name, body)


# ---- fuzz_connector_settings: create bodies' settings and configuration ---------------------------
def settings_seeds():
    flat = {
        "http_minimal": {"instanceTypeName": "http-sink", "url": "http://localhost:8080/events"},
        "http_full": {
            "instanceTypeName": "HttpSink", "url": "https://example.com/{stream}/{event-type}?s={schema-subject}",
            "method": "put", "defaultHeaders:X-Api-Key": "k", "defaultHeaders:Accept": "application/json",
            "authentication:method": "basic", "authentication:basic:username": "u",
            "authentication:basic:password": "p", "timeoutMs": "5000", "batching:maxRecords": "100",
            "batching:maxBytes": "65536", "batching:maxDelayMs": "50", "tls:verify": "false",
        },
        "http_bearer": {"instanceTypeName": "http", "url": "http://h/", "authentication:method": "Bearer",
                        "authentication:bearer:token": "t0k3n"},
        "log_sink": {"instanceTypeName": "serilog-sink", "includeRecordData": "false"},
        "log_alias_path": {"instanceTypeName": "log-sink", "path": "/tmp/sluice-fuzz-never-written.log"},
        "filter_stream_prefix": {"instanceTypeName": "log-sink", "subscription:filter:scope": "stream",
                                 "subscription:filter:filterType": "prefix",
                                 "subscription:filter:expression": "orders-, customers-"},
        "filter_record_regex": {"instanceTypeName": "log-sink", "subscription:filter:scope": "record",
                                "subscription:filter:filterType": "regex",
                                "subscription:filter:expression": "^Order(Placed|Shipped)$"},
        "filter_stream_id": {"instanceTypeName": "log-sink", "subscription:filter:filterType": "streamId",
                             "subscription:filter:expression": "orders-1"},
        "filter_inferred": {"instanceTypeName": "log-sink", "subscription:filter:expression": "[unclosed"},
        "filter_jsonpath": {"instanceTypeName": "log-sink", "subscription:filter:expression": "$[?(@.x)]"},
        "resilience_staircase": {
            "instanceTypeName": "log-sink", "resilience:enabled": "true", "resilience:backoff": "staircase",
            "resilience:firstDelayBound:upperLimitMs": "60000", "resilience:firstDelayBound:delayMs": "5000",
            "resilience:secondDelayBound:upperLimitMs": "3600000", "resilience:secondDelayBound:delayMs": "600000",
            "resilience:thirdDelayBound:upperLimitMs": "-1", "resilience:thirdDelayBound:delayMs": "3600000",
        },
        "resilience_exponential": {
            "instanceTypeName": "log-sink", "resilience:backoff": "exponential", "resilience:initialDelayMs": "500",
            "resilience:maxDelayMs": "60000", "resilience:maxRetries": "10", "resilience:onExhausted": "dead-letter",
        },
        "autocommit": {"instanceTypeName": "log-sink", "autocommit:enabled": "TRUE", "autocommit:interval": "1000",
                       "autocommit:recordsThreshold": "10", "headers:ignoreSystem": "false",
                       "logging:enabled": "false", "subscription:initialPosition": "earliest"},
        "transformer": {"instanceTypeName": "log-sink", "transformer:enabled": "true",
                        "transformer:function": "ZnVuY3Rpb24gdHJhbnNmb3JtKHIpIHt9"},
        "invalid_values": {"instanceTypeName": "kafka-sink", "timeoutMs": "abc", "resilience:maxRetries": "-2",
                           "method": "GET", "url": "ftp://x", "transformer:function": "***"},
        "missing_type": {"url": "http://x"},
        "bad_header": {"instanceTypeName": "http-sink", "url": "http://h/{nope}", "defaultHeaders:Bad Name": "v\r\n"},
        "case_keys": {"INSTANCETYPENAME": "HTTP-SINK", "URL": "HTTP://H/", "Method": "Patch"},
        "numbers_bools": {"instanceTypeName": "log-sink", "autocommit:interval": 5000, "resilience:enabled": True,
                          "logging:enabled": None, "autocommit:recordsThreshold": 1.5},
    }
    for name, s in flat.items():
        write("fuzz_connector_settings", name, json.dumps(s))
    nested = {
        "nested_http": {"instanceTypeName": "http-sink", "url": "http://localhost/hook",
                        "authentication": {"method": "bearer", "bearer": {"token": "x"}},
                        "defaultHeaders": {"X-One": "1", "X-Two": 2},
                        "batching": {"maxRecords": 10, "maxDelayMs": 0}},
        "nested_filter": {"instanceTypeName": "serilog-sink",
                          "subscription": {"filter": {"scope": "record", "filterType": "prefix",
                                                      "expression": "Order"}, "initialPosition": "latest"},
                          "resilience": {"firstDelayBound": {"upperLimitMs": 1, "delayMs": 1}}},
        "nested_array": {"instanceTypeName": "log-sink", "list": [1, [2, 3], {"k": "v"}]},
        "nested_deep": {"instanceTypeName": "log-sink", "a": {"b": {"c": {"d": {"e": {"f": {"g": {"h": {
            "i": {"j": {"k": {"l": {"m": {"n": {"o": {"p": {"q": {"r": 1}}}}}}}}}}}}}}}}}},
    }
    for name, s in nested.items():
        write("fuzz_connector_settings", name, json.dumps(s))
    long_key = "defaultHeaders:" + "é" * 300
    write("fuzz_connector_settings", "long_header_key",
          json.dumps({"instanceTypeName": "http-sink", "url": "http://h/", "defaultHeaders": {"é" * 300: "v"}},
                     ensure_ascii=False))
    write("fuzz_connector_settings", "long_flat_key",
          json.dumps({"instanceTypeName": "http-sink", "url": "http://h/", long_key: "v"}, ensure_ascii=False))
    write("fuzz_connector_settings", "not_object", "[1,2,3]")
    write("fuzz_connector_settings", "empty", "{}")


# ---- fuzz_record_decode: damaged copies of the encoder's records -----------------------------------
def record_variants():
    d = os.path.join(CORPUS, "fuzz_record_decode")
    for name in ("json_event", "json_with_meta", "binary_meta", "unicode_names"):
        path = os.path.join(d, name)
        if not os.path.exists(path):
            continue  # seed_records has not written them yet
        rec = open(path, "rb").read()
        write("fuzz_record_decode", name + ".truncated", rec[:-1])
        write("fuzz_record_decode", name + ".extra_byte", rec + b"\0")
        write("fuzz_record_decode", name + ".bad_version", b"\x7f" + rec[1:])
        write("fuzz_record_decode", name + ".huge_type_len", rec[:4] + b"\xff\xff\xff\xff" + rec[8:])
    # Version 2, a 52-byte header and nothing after it; a checksum of zeros.
    write("fuzz_record_decode", "header_only_zeros", b"\x02" + b"\0" * 51)
    write("fuzz_record_decode", "short", b"\x02\x00\x05")


# ---- fuzz_h2_grpc: two control bytes, then operations that become HTTP/2 frames -------------------
# Control byte: bits 0-1 limits (normal, 512-byte header blocks, idle timeout 0), 2-3 ending (the server
# closes, the client half-closes, the client vanishes, GOAWAY then half-close), 4 chunked feeding,
# 5 no SETTINGS ACK, 6 a 1 MiB initial window, 7 an HPACK table of 0. Then operations (fuzz_h2_grpc.c,
# enum op): an opcode byte, a variant byte (below 192 well-formed; its bits are flags), arguments.
def h2_ctl(limits=0, ending=0, chunked=False, no_ack=False, big_window=False, table0=False):
    return bytes([limits | ending << 2 | chunked << 4 | no_ack << 5 | big_window << 6 | table0 << 7])


# The order of methods[] in fuzz_h2_grpc.c.
H2_METHODS = ["Read", "Append", "BatchAppend", "Delete", "Tombstone", "GetSupportedMethods", "Create",
              "Reconfigure", "ConnectorDelete", "Start", "Reset", "Stop", "Rename", "List", "GetSettings",
              "GetConfiguration", "Unknown"]


def m(name):
    return H2_METHODS.index(name)


def op_open(method, variant=0):
    return bytes([0, variant, method])


def op_msg(payload, end=False, sel=0, variant=0, frames=1):
    v = variant | (1 if end else 0) | (frames - 1) << 1
    if len(payload) > 255:
        return bytes([1, v | 0x20, sel, len(payload) >> 8, len(payload) & 255]) + payload
    return bytes([1, v, sel, len(payload)]) + payload


def op_end(sel=0, trailers=False, variant=0):
    return bytes([2, variant | trailers, sel])


def op_rst(sel=0, code=8, variant=0):
    return bytes([3, variant, sel, code])


def op_window(increment, sel=0, conn=False, variant=0):
    inc = increment - 1
    return bytes([4, variant | conn, sel, inc >> 16 & 255, inc >> 8 & 255, inc & 255])


def op_ping(data=b"12345678", ack=False, variant=0):
    return bytes([5, variant | ack]) + data


def op_settings(entries=(), ack=False, variant=0):
    # entries: (id byte, value); id byte % 7 picks table size, push, streams, window, frame size, list size,
    # unknown.
    out = bytes([6, variant | ack, len(entries)])
    for i, v in entries:
        out += bytes([i]) + v.to_bytes(4, "big")
    return out


def op_goaway(code=0, debug=b"", variant=0):
    return bytes([7, variant, code, len(debug)]) + debug


def op_priority(sel=0, dep=1, weight=15, variant=0):
    return bytes([8, variant, sel, dep, weight])


def op_raw(data):
    return bytes([9, 0, len(data)]) + data


def op_wait(ms=2):
    return bytes([10, ms - 1])


def u64(v):
    return (v & (2**64 - 1)).to_bytes(8, "big")


def op_request(shape, a=0, b=0, c=0, name=b"", end=True, sel=0, frames=1):
    # REQUEST: a valid request for the stream's method from these values (fuzz_h2_grpc.c, build_request()).
    if isinstance(name, str):
        name = name.encode()
    v = (1 if end else 0) | (frames - 1) << 1
    return bytes([11, v, sel, shape]) + u64(a) + u64(b) + u64(c) + bytes([len(name)]) + name


# A little protobuf encoder: enough for the requests.
def pb_varint(n):
    out = b""
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out += bytes([b | 0x80])
        else:
            return out + bytes([b])


def pb_int(field, n):
    return pb_varint(field << 3) + pb_varint(n)


def pb_bytes(field, data):
    if isinstance(data, str):
        data = data.encode()
    return pb_varint(field << 3 | 2) + pb_varint(len(data)) + data


def pb_msg(field, *parts):
    return pb_bytes(field, b"".join(parts))


EMPTY = b""


def stream_id(name):
    return pb_bytes(3, name)  # StreamIdentifier.stream_name


def uuid_string(field, text):
    return pb_msg(field, pb_bytes(2, text))  # UUID{string}


def string_map(field, pairs):
    return b"".join(pb_msg(field, pb_bytes(1, k), pb_bytes(2, v)) for k, v in pairs)


def read_req(stream=None, count=10, backwards=False, subscribe=False, start="start", filter_prefix=None,
             regex=None, resolve_links=False, structured=False):
    if stream is None:
        where = pb_msg(2, pb_msg(2 if start == "start" else 3, EMPTY))  # AllOptions{start|end}
    elif isinstance(start, int):
        where = pb_msg(1, pb_msg(1, stream_id(stream)), pb_int(2, start))  # StreamOptions{revision}
    else:
        where = pb_msg(1, pb_msg(1, stream_id(stream)), pb_msg(3 if start == "start" else 4, EMPTY))
    parts = [where, pb_int(3, 1 if backwards else 0), pb_int(4, 1 if resolve_links else 0)]
    parts.append(pb_msg(6, EMPTY) if subscribe else pb_int(5, count))
    if filter_prefix or regex:
        expr = pb_bytes(1, regex) if regex else b"".join(pb_bytes(2, p) for p in filter_prefix)
        parts.append(pb_msg(7, pb_msg(1, expr), pb_int(3, 4), pb_int(5, 1)))  # FilterOptions
    else:
        parts.append(pb_msg(8, EMPTY))  # no_filter
    parts.append(pb_msg(9, pb_msg(1 if structured else 2, EMPTY)))  # uuid_option{structured|string}
    parts.append(pb_msg(10, pb_int(1, 1)))  # control_option{compatibility}
    return pb_msg(1, *parts)


def expected(kind):
    # AppendReq.Options / DeleteReq.Options: revision 2, no_stream 3, any 4, stream_exists 5
    if isinstance(kind, int):
        return pb_int(2, kind)
    return pb_msg({"no_stream": 3, "any": 4, "exists": 5}[kind], EMPTY)


def append_options(stream, kind="any"):
    return pb_msg(1, pb_msg(1, stream_id(stream)), expected(kind))


def proposed(event_id, event_type, data, content_type="application/json", meta=b""):
    return b"".join([uuid_string(1, event_id),
                     string_map(2, [("type", event_type), ("content-type", content_type)]),
                     pb_bytes(3, meta), pb_bytes(4, data)])


def append_event(event_id, event_type, data, **kw):
    return pb_msg(2, proposed(event_id, event_type, data, **kw))


def batch_append(cid, stream, events, final=True, kind="any", with_options=True, deadline=None, timeout=10):
    parts = [uuid_string(1, cid)]
    if with_options:
        # BatchAppendReq.Options: any 4; deadline_21_10_0 6 (Timestamp{seconds}), deadline 7 (Duration{seconds})
        when = pb_msg(6, pb_int(1, deadline)) if deadline is not None else pb_msg(7, pb_int(1, timeout))
        parts.append(pb_msg(2, pb_msg(1, stream_id(stream)), pb_msg(4, EMPTY), when))
    parts += [pb_msg(3, proposed(*e)) for e in events]
    if final:
        parts.append(pb_int(4, 1))
    return b"".join(parts)


def delete_req(stream, kind="any"):
    return pb_msg(1, pb_msg(1, stream_id(stream)), expected(kind))


def connector_settings(field, pairs):
    # map<string, StringValue>
    return b"".join(pb_msg(field, pb_bytes(1, k), pb_msg(2, pb_bytes(1, v))) for k, v in pairs)


LOG_SINK = [("instanceTypeName", "log-sink"), ("includeRecordData", "false")]


def h2_seeds():
    ids = ["0b9f8e8a-3c2d-4e5f-8a9b-0c1d2e3f4a5b", "1c0a9f9b-4d3e-4f60-9bac-1d2e3f4a5b6c",
           "2d1b0a0c-5e4f-4071-8cbd-2e3f4a5b6c7d"]
    order = append_event(ids[0], "OrderPlaced", b'{"orderId":"o-1","total":12.5}')
    start = h2_ctl()
    seeds = {
        # One valid call of every method.
        "read_stream": op_open(m("Read")) + op_msg(read_req("orders-1"), end=True) + op_wait(),
        "read_stream_backwards": op_open(m("Read")) +
        op_msg(read_req("orders-1", count=5, backwards=True, start="end"), end=True) + op_wait(),
        "read_all": op_open(m("Read")) + op_msg(read_req(None, count=100), end=True) +
        op_window(1 << 20, conn=True) + op_window(1 << 20) + op_wait(),
        "read_all_regex": op_open(m("Read")) + op_msg(read_req(None, count=20, regex="^Order"), end=True) + op_wait(),
        "subscribe_all": op_open(m("Read")) +
        op_msg(read_req(None, subscribe=True, filter_prefix=["orders-", "customers-"]), end=True) + op_wait() +
        op_open(m("Append")) + op_msg(append_options("orders-7")) + op_msg(order, end=True) + op_wait(4),
        "subscribe_stream": op_open(m("Read")) + op_msg(read_req("orders-7", subscribe=True, start="end"), end=True) +
        op_wait() + op_open(m("Append")) + op_msg(append_options("orders-7")) + op_msg(order, end=True) + op_wait(4),
        "append": op_open(m("Append")) + op_msg(append_options("orders-1", "any")) + op_msg(order) + op_end() +
        op_wait(4),
        "append_no_stream": op_open(m("Append")) + op_msg(append_options("fresh-1", "no_stream")) +
        op_msg(append_event(ids[1], "Blob", b"\x00\x01\x02", content_type="application/octet-stream",
                            meta=b'{"m":1}')) + op_msg(order, end=True) + op_wait(4),
        "append_wrong_revision": op_open(m("Append")) + op_msg(append_options("orders-1", 1000)) + op_msg(order) +
        op_end(trailers=True) + op_wait(4),
        "append_empty": op_open(m("Append")) + op_msg(append_options("orders-1", "exists"), end=True) + op_wait(),
        "batch_append": op_open(m("BatchAppend")) +
        op_msg(batch_append(ids[2], "orders-2", [(ids[0], "OrderPlaced", b'{"a":1}')])) + op_wait(4) +
        op_msg(batch_append(ids[1], "orders-3", [(ids[1], "T", b"{}")], final=False)) +
        op_msg(batch_append(ids[1], "orders-3", [(ids[2], "T", b"[]")], with_options=False)) + op_wait(4) + op_end() +
        op_wait(4),
        "delete": op_open(m("Append")) + op_msg(append_options("doomed-1")) + op_msg(order, end=True) + op_wait(4) +
        op_open(m("Delete")) + op_msg(delete_req("doomed-1"), end=True) + op_wait(4),
        "tombstone": op_open(m("Tombstone")) + op_msg(delete_req("tomb-1", "any"), end=True) + op_wait(4) +
        op_open(m("Read")) + op_msg(read_req("tomb-1"), end=True) + op_wait(),
        "supported_methods": op_open(m("GetSupportedMethods")) + op_msg(EMPTY, end=True) + op_wait(),
        "supported_methods_half_close": op_open(m("GetSupportedMethods"), variant=0x01) + op_wait(),
        "connector_create": op_open(m("Create")) +
        op_msg(pb_bytes(1, "fuzz-sink-1") + pb_bytes(3, "Fuzz") + connector_settings(5, LOG_SINK), end=True) +
        op_wait(4),
        "connector_reconfigure": op_open(m("Reconfigure")) +
        op_msg(pb_bytes(1, "fuzz-sink-1") + connector_settings(3, LOG_SINK + [("logging:enabled", "true")]),
               end=True) + op_wait(4),
        "connector_delete": op_open(m("ConnectorDelete")) + op_msg(pb_bytes(1, "fuzz-sink-1"), end=True) + op_wait(4),
        "connector_start": op_open(m("Start")) + op_msg(pb_bytes(1, "fuzz-sink-1") + pb_msg(3, pb_int(1, 1)),
                                                         end=True) + op_wait(4),
        "connector_reset": op_open(m("Reset")) + op_msg(pb_bytes(1, "fuzz-sink-1"), end=True) + op_wait(4),
        "connector_stop": op_open(m("Stop")) + op_msg(pb_bytes(1, "fuzz-sink-1"), end=True) + op_wait(4),
        "connector_rename": op_open(m("Rename")) + op_msg(pb_bytes(1, "fuzz-sink-1") + pb_bytes(3, "Renamed"),
                                                           end=True) + op_wait(4),
        "connector_list": op_open(m("List"), variant=0x10) +
        op_msg(pb_int(4, 1) + pb_int(5, 1) + pb_msg(6, pb_int(1, 1), pb_int(2, 10)) + pb_int(7, 1), end=True) +
        op_wait(),
        "connector_get_settings": op_open(m("GetSettings"), variant=0x10) + op_msg(pb_bytes(1, "fuzz-sink-1"),
                                                                                    end=True) + op_wait(),
        "connector_get_configuration": op_open(m("GetConfiguration")) + op_msg(pb_bytes(1, "fuzz-sink-1"),
                                                                                 end=True) + op_wait(),
        "connector_lifecycle": op_open(m("Create")) +
        op_msg(pb_bytes(1, "fuzz-sink-2") + connector_settings(5, LOG_SINK), end=True) + op_wait(4) +
        op_open(m("GetSettings")) + op_msg(pb_bytes(1, "fuzz-sink-2"), end=True) +
        op_open(m("Rename")) + op_msg(pb_bytes(1, "fuzz-sink-2") + pb_bytes(3, "Two"), end=True) + op_wait(4) +
        op_open(m("ConnectorDelete")) + op_msg(pb_bytes(1, "fuzz-sink-2"), end=True) + op_wait(4),
        "unknown_method": op_open(m("Unknown")) + op_msg(EMPTY, end=True) + op_wait(),
        # Framing: split messages, two messages in a row, the prefix split over frames, padding, CONTINUATION.
        "split_frames": op_open(m("Append"), variant=0x02 | 0x04 | 0x08) +
        op_msg(append_options("orders-1"), frames=4) + op_msg(order, frames=3, variant=0x08) + op_end() + op_wait(4),
        "many_streams": b"".join(op_open(m("GetSupportedMethods"), variant=0x40 if i == 2 else 0) +
                                 op_msg(EMPTY, end=True) for i in range(6)) + op_wait(),
        "flow_control": op_settings([(3, 16), (4, 20000)]) + op_open(m("Read")) +
        op_msg(read_req(None, count=1000), end=True) + op_wait() + op_window(100) + op_wait() +
        op_window(1 << 16, conn=True) + op_window(1 << 16) + op_wait(),
        "settings_table": op_settings([(0, 0), (1, 0), (2, 50), (5, 8192), (6, 7)]) + op_open(m("Read")) +
        op_msg(read_req("orders-1"), end=True) + op_wait() + op_settings([(0, 4096)]) +
        op_open(m("GetSupportedMethods"), variant=1) + op_wait(),
        "ping_priority": op_ping() + op_ping(b"abcdefgh", ack=True) + op_open(m("Read")) + op_priority(0, 0, 200) +
        op_priority(0, 1, 16, variant=1) + op_msg(read_req("orders-1"), end=True) + op_wait(),
        "rst_streams": op_open(m("Read")) + op_msg(read_req(None, subscribe=True), end=True) + op_wait() +
        op_rst(code=8) + op_open(m("Append")) + op_msg(append_options("orders-9")) + op_rst(code=0) + op_wait(),
        "goaway": op_open(m("Read")) + op_msg(read_req("orders-1"), end=True) + op_goaway(0, b"bye") + op_wait() +
        op_open(m("GetSupportedMethods"), variant=1) + op_wait(),
        "raw": op_open(m("GetSupportedMethods")) + op_raw(b"\x00\x00\x05\x00\x01\x00\x00\x00\x01\x00\x00\x00\x00\x00")
        + op_wait(),
        # What the fuzz target writes to the store before the first input (seed_store()).
        "read_big_windows": op_open(m("Read")) + op_msg(read_req("seed-big", count=400), end=True) +
        op_window(1 << 24, conn=True) + op_window(1 << 24) + op_wait(4) + op_wait(4) + op_wait(4) + op_wait(4) +
        op_wait(4),
        "read_big_paused": op_open(m("Read")) + op_msg(read_req("seed-big", count=400), end=True) +
        op_window(1 << 24, conn=True) + op_window(1 << 24) + bytes([10, 128 + 3]) + op_wait(4) +
        bytes([10, 128 + 3]) + op_wait(4) + op_wait(4),
        "read_all_long": op_open(m("Read")) + op_msg(read_req(None, count=3000), end=True) +
        op_window(1 << 24, conn=True) + op_window(1 << 24) + op_wait(4) + op_wait(4) + op_wait(4),
        "read_all_backwards_filtered": op_open(m("Read")) +
        op_msg(read_req(None, count=3000, backwards=True, start="end", filter_prefix=["seed-3"]), end=True) +
        op_window(1 << 20, conn=True) + op_window(1 << 20) + op_wait(4),
        "subscribe_all_catch_up": op_open(m("Read")) + op_msg(read_req(None, subscribe=True), end=True) +
        op_window(1 << 24, conn=True) + op_window(1 << 24) + op_wait(4) + op_wait(4) + op_wait(4),
        "subscribe_stream_catch_up": op_open(m("Read")) + op_msg(read_req("seed-0", subscribe=True), end=True) +
        op_window(1 << 20, conn=True) + op_window(1 << 20) + op_wait(4),
        "read_links": op_open(m("Read")) + op_msg(read_req("seed-links", resolve_links=True, structured=True),
                                                  end=True) + op_wait(),
        "read_max_count": op_open(m("Read")) + op_msg(read_req("seed-2", count=100), end=True) + op_wait(),
        "read_deleted": op_open(m("Read")) + op_msg(read_req("seed-deleted"), end=True) + op_open(m("Read")) +
        op_msg(read_req("seed-tombstoned"), end=True) + op_open(m("Read")) +
        op_msg(read_req("seed-binary", start=5), end=True) + op_wait(),
        "batch_deadlines": op_open(m("BatchAppend")) +
        op_msg(batch_append(ids[0], "orders-5", [(ids[1], "T", b"{}")], deadline=253402300799)) +
        op_msg(batch_append(ids[1], "orders-5", [(ids[2], "T", b"{}")], deadline=1)) +
        op_msg(batch_append(ids[2], "orders-5", [(ids[0], "T", b"{}")], timeout=86400)) + op_wait(4) + op_end() +
        op_wait(4),
        "client_trailers": op_open(m("BatchAppend")) +
        op_msg(batch_append(ids[0], "orders-4", [(ids[1], "T", b"{}")])) + op_end(trailers=True) + op_wait(4),
    }
    # REQUEST: the target builds the message; shape bits per method are in build_request().
    def req_call(method, *args, **kw):
        return op_open(m(method)) + op_request(*args, **kw) + op_wait(4)
    seeds.update({
        "request_read_stream_from_revision": req_call("Read", 0x04, a=10, b=20, c=2, name="seed-0"),
        "request_read_all_backwards_prefix": req_call("Read", 0x4d, a=1000, b=50, c=32 << 32 | 2, name="seed-1"),
        "request_subscribe_all_type_regex": req_call("Read", 0xa3, c=4 << 32 | 2, name="^Order"),
        "request_subscribe_links": req_call("Read", 0x30, name="seed-links"),
        "request_append": op_open(m("Append")) + op_request(0x05, name="req-append-1", end=False) +
        op_request(0x04, b=1, c=7, name='{"a":1}', end=False) + op_end() + op_wait(4),
        "request_batch_timestamp": req_call("BatchAppend", 0x8d, b=253402300799, c=11, name='{"b":2}'),
        "request_batch_duration": req_call("BatchAppend", 0x95, b=30, c=12, name='{"b":3}'),
        "request_delete": req_call("Delete", 0x02, name="req-append-1"),
        "request_tombstone": req_call("Tombstone", 0x02, name="req-tomb-1"),
        "request_features": req_call("GetSupportedMethods", 0),
        "request_connectors": req_call("Create", 0x09, name="req-conn-1") +
        req_call("Reconfigure", 0x0a, name="req-conn-1") + req_call("GetSettings", 0, name="req-conn-1") +
        req_call("GetConfiguration", 0, name="req-conn-1") + req_call("Start", 0x01, a=1, name="req-conn-1") +
        req_call("Reset", 0, name="req-conn-1") + req_call("Stop", 0, name="req-conn-1") +
        req_call("Rename", 0, name="req-conn-1New Name!!") + req_call("List", 0x68, a=1, b=10) +
        req_call("ConnectorDelete", 0, name="req-conn-1"),
        "request_unknown": req_call("Unknown", 0),
    })
    for name, ops in seeds.items():
        write("fuzz_h2_grpc", name, start + bytes([len(name)]) + ops)
    # The same calls under other limits and endings.
    variants = {
        "small_headers": h2_ctl(limits=1),
        "idle_zero": h2_ctl(limits=2, ending=1),
        "client_eof": h2_ctl(ending=1),
        "client_vanishes": h2_ctl(ending=2),
        "client_goaway": h2_ctl(ending=3, big_window=True),
        "chunked_no_ack": h2_ctl(chunked=True, no_ack=True, table0=True),
    }
    for vname, c in variants.items():
        for name in ("subscribe_all", "batch_append", "append", "supported_methods", "connector_lifecycle"):
            write("fuzz_h2_grpc", f"{name}.{vname}", c + b"\x07" + seeds[name])
    write("fuzz_h2_grpc", "small_headers_with_metadata", h2_ctl(limits=1) + b"\x03" +
          op_open(m("GetSupportedMethods"), variant=0x10) + op_msg(EMPTY, end=True) + op_wait())
    # Every malformation of OPEN and of a message, once each.
    for k in range(18):
        ops = op_open(m("Read"), variant=192 + k)
        if k == 13:  # :path from the input
            ops += bytes([len(b"/event_store.client.streams.Streams/Read")]) + b"/event_store.client.streams.Streams/Read"
        if k == 10:  # header block from the input
            ops += bytes([4]) + b"\x83\x86\x84\x41"
        ops += op_msg(read_req("orders-1"), end=True) + op_wait()
        write("fuzz_h2_grpc", f"bad_open_{k + 1:02d}", start + bytes([k]) + ops)
    for k in range(10):
        ops = op_open(m("Append")) + op_msg(append_options("orders-1"), variant=192 + k) + op_end() + op_wait()
        write("fuzz_h2_grpc", f"bad_message_{k + 1:02d}", start + bytes([k]) + ops)
    small_bad = {
        "bad_end": [op_end(variant=192 + k) for k in range(3)],
        "bad_rst": [op_rst(variant=192 + k) for k in range(3)],
        "bad_window": [op_window(10, variant=192 + k) for k in range(4)],
        "bad_ping": [op_ping(variant=192 + k) for k in range(2)],
        "bad_settings": [op_settings([(3, 100)], variant=192 + k) for k in range(6)],
        "bad_goaway": [op_goaway(variant=192 + k) for k in range(2)],
        "bad_priority": [op_priority(variant=192 + k) for k in range(3)],
    }
    for name, ops_list in small_bad.items():
        for k, bad in enumerate(ops_list):
            ops = op_open(m("Read")) + bad + op_msg(read_req("orders-1"), end=True) + op_wait()
            write("fuzz_h2_grpc", f"{name}_{k + 1}", start + bytes([k]) + ops)


def main():
    http_seeds()
    event_seeds()
    settings_seeds()
    record_variants()
    h2_seeds()
    return 0


if __name__ == "__main__":
    sys.exit(main())
