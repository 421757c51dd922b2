#!/usr/bin/env python3
"""Writes the seed corpora of the fuzz targets under tests/fuzz/corpus/ (records come from
seed_records.c, which uses the real encoder: build-fuzz/tests/fuzz/seed_records DIR).

Seeds are small and each shows one thing the target should start from: real requests, real append
bodies, real connector settings. Re-running it rewrites the same files."""
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


def main():
    http_seeds()
    event_seeds()
    settings_seeds()
    record_variants()
    return 0


if __name__ == "__main__":
    sys.exit(main())
