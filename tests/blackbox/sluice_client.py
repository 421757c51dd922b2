"""Client helpers for the black-box tests: the HTTP API as docs/http-api.md describes it,
a raw socket client for what requests cannot send, and a Server-Sent Events reader."""

import base64
import json
import re
import select
import socket
import time
import urllib.parse
import uuid

import requests

JSON = "application/json"
OCTET = "application/octet-stream"
EVENT_FIELDS = ("streamId", "revision", "position", "eventId", "eventType", "contentType", "created", "data", "metadata")
ERROR_CODE = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")
RFC3339_MICROS = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}(Z|\+00:00)$")
REQUEST_TIMEOUT = 60


def unique(prefix="s"):
    """A stream name no other test uses."""
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def stream_path(name):
    """The path of a stream, its name percent-encoded ($all stays as the API spells it)."""
    if name == "$all":
        return "/streams/$all"
    return "/streams/" + urllib.parse.quote(name, safe="$")


_EMPTY = object()


def event(event_type="TestEvent", data=_EMPTY, event_id=None, metadata=None, content_type=None, with_id=True):
    """One event of an append body ({} as data unless given; JSON null is a value like any
    other); a fresh UUID unless `with_id` is false."""
    e = {"eventType": event_type, "data": {} if data is _EMPTY else data}
    if with_id:
        e["eventId"] = event_id or str(uuid.uuid4())
    if metadata is not None:
        e["metadata"] = metadata
    if content_type is not None:
        e["contentType"] = content_type
    return e


def binary_event(raw, event_type="Blob", metadata_raw=None, event_id=None):
    e = event(event_type, data=b64(raw), event_id=event_id, content_type=OCTET)
    if metadata_raw is not None:
        e["metadata"] = b64(metadata_raw)
    return e


def events(n, event_type="TestEvent", start=0):
    return [event(event_type, data={"n": start + i}) for i in range(n)]


def b64(raw):
    return base64.b64encode(raw).decode("ascii")


def unb64(text):
    return base64.b64decode(text, validate=True)


def describe(resp):
    """A response, for assertion messages."""
    body = resp.content[:600]
    url = resp.request.url if len(resp.request.url) <= 160 else resp.request.url[:150] + "..."
    return f"{resp.request.method} {url} -> {resp.status_code} {body!r}"


def assert_error(resp, status, error=None, field=None, field_prefix=None):
    """Checks an error response: its status and a JSON body with a kebab-case `error`, a
    non-empty `message` and, when asked, the `error` code and the `field` at fault."""
    assert resp.status_code == status, describe(resp)
    assert "json" in resp.headers.get("Content-Type", ""), f"error body is not labelled JSON: {describe(resp)}"
    body = resp.json()
    assert isinstance(body, dict), describe(resp)
    assert isinstance(body.get("error"), str) and ERROR_CODE.match(body["error"]), describe(resp)
    assert isinstance(body.get("message"), str) and body["message"].strip(), describe(resp)
    if error is not None:
        allowed = (error,) if isinstance(error, str) else tuple(error)
        assert body["error"] in allowed, describe(resp)
    if field is not None:
        assert isinstance(body.get("field"), str), f"no `field` in {describe(resp)}"
        assert body["field"] == field, describe(resp)
    if field_prefix is not None:
        assert isinstance(body.get("field"), str), f"no `field` in {describe(resp)}"
        assert body["field"].startswith(field_prefix), describe(resp)
    return body


def assert_error_body(raw_body):
    """An error body as bytes must be JSON with `error` and `message`."""
    body = json.loads(raw_body)
    assert isinstance(body, dict) and isinstance(body.get("error"), str) and ERROR_CODE.match(body["error"]), raw_body
    assert isinstance(body.get("message"), str) and body["message"].strip(), raw_body
    return body


class Api:
    """The streams API of one server, over one keep-alive session (not thread-safe)."""

    def __init__(self, base_url, session=None):
        self.base = base_url
        self.session = session or requests.Session()

    def url(self, path):
        return self.base + path

    def get(self, path, **kw):
        kw.setdefault("timeout", REQUEST_TIMEOUT)
        return self.session.get(self.url(path), **kw)

    def request(self, method, path, **kw):
        kw.setdefault("timeout", REQUEST_TIMEOUT)
        return self.session.request(method, self.url(path), **kw)

    # -- appends --
    def append(self, stream, evs, expected=None, headers=None, timeout=REQUEST_TIMEOUT):
        h = {"Content-Type": JSON}
        if expected is not None:
            h["Expected-Revision"] = str(expected)
        if headers:
            h.update(headers)
        body = evs if isinstance(evs, (bytes, str)) else json.dumps(evs)
        return self.request("POST", stream_path(stream), data=body, headers=h, timeout=timeout)

    def append_ok(self, stream, evs, expected=None):
        """Appends and returns the 201 body, failing the test on anything else."""
        r = self.append(stream, evs, expected)
        assert r.status_code == 201, describe(r)
        body = r.json()
        assert isinstance(body.get("nextExpectedRevision"), int), describe(r)
        assert isinstance(body.get("position"), int), describe(r)
        return body

    def append_single(self, stream, body, event_type=None, event_id=None, content_type=JSON, expected=None):
        h = {"Content-Type": content_type}
        if event_type is not None:
            h["ES-EventType"] = event_type
        if event_id is not None:
            h["ES-EventId"] = event_id
        if expected is not None:
            h["Expected-Revision"] = str(expected)
        return self.request("POST", stream_path(stream), data=body, headers=h)

    # -- reads --
    def read(self, stream, **params):
        return self.get(stream_path(stream), params=params)

    def read_ok(self, stream, **params):
        r = self.read(stream, **params)
        assert r.status_code == 200, describe(r)
        body = r.json()
        assert isinstance(body.get("events"), list), describe(r)
        assert "next" in body, describe(r)
        return body

    def read_everything(self, stream, direction="forwards", count=1000, limit_pages=10_000, **params):
        """Follows `next` from the start (or the end, backwards) until it is null."""
        out = []
        start = "start" if direction == "forwards" else "end"
        page = self.read_ok(stream, **{"from": start, "direction": direction, "count": count, **params})
        for _ in range(limit_pages):
            out.extend(page["events"])
            if page["next"] is None:
                return out
            page = self.read_ok(stream, **{"from": page["next"], "direction": direction, "count": count, **params})
        raise AssertionError(f"reading {stream} did not end after {limit_pages} pages")

    def revisions(self, stream):
        return [e["revision"] for e in self.read_everything(stream)]

    def head_position(self):
        """The position of the last event in the log, or None when it is empty."""
        page = self.read_ok("$all", **{"from": "end", "direction": "backwards", "count": 1})
        return page["events"][0]["position"] if page["events"] else None

    # -- delete and metadata --
    def delete(self, stream, hard=False, expected=None):
        h = {}
        if expected is not None:
            h["Expected-Revision"] = str(expected)
        params = {"hard": "true"} if hard else None
        return self.request("DELETE", stream_path(stream), params=params, headers=h)

    def get_metadata(self, stream):
        return self.get(stream_path(stream) + "/metadata")

    def put_metadata(self, stream, meta, expected=None):
        h = {"Content-Type": JSON}
        if expected is not None:
            h["Expected-Revision"] = str(expected)
        body = meta if isinstance(meta, (bytes, str)) else json.dumps(meta)
        return self.request("PUT", stream_path(stream) + "/metadata", data=body, headers=h)


# ---------------------------------------------------------------------------
# Raw HTTP over a socket: for requests that a well-behaved client cannot send.


class RawResponse:
    def __init__(self, status, reason, headers, body):
        self.status = status
        self.reason = reason
        self.headers = headers
        self.body = body

    def json(self):
        return json.loads(self.body)

    def __repr__(self):
        return f"<{self.status} {self.reason} {self.body[:300]!r}>"


class ConnectionClosed(Exception):
    pass


class RawConnection:
    """One TCP connection to the server with a byte buffer; every wait is bounded."""

    def __init__(self, port, timeout=10.0):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.timeout = timeout
        self.buf = b""

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def send(self, data):
        """Sends everything; returns False when the server closed or reset the connection."""
        try:
            self.sock.sendall(data)
            return True
        except (BrokenPipeError, ConnectionResetError):
            return False

    def send_until_answered(self, data, chunk=64 * 1024):
        """Sends `data` piece by piece, stopping early once the server starts answering
        (or closes). Returns the number of bytes sent."""
        sent = 0
        while sent < len(data):
            readable, _, _ = select.select([self.sock], [], [], 0)
            if readable:
                break
            try:
                sent += self.sock.send(data[sent : sent + chunk])
            except (BrokenPipeError, ConnectionResetError):
                break
            except socket.timeout:
                break
        return sent

    def _fill(self, deadline):
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError("no answer from the server in time")
        self.sock.settimeout(remaining)
        try:
            chunk = self.sock.recv(65536)
        except socket.timeout:
            raise TimeoutError("no answer from the server in time") from None
        except ConnectionResetError:
            chunk = b""
        if not chunk:
            raise ConnectionClosed()
        self.buf += chunk

    def read_until(self, marker, deadline):
        while marker not in self.buf:
            self._fill(deadline)
        head, _, self.buf = self.buf.partition(marker)
        return head

    def read_exactly(self, n, deadline):
        while len(self.buf) < n:
            self._fill(deadline)
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def read_head(self, timeout=None):
        deadline = time.monotonic() + (timeout or self.timeout)
        head = self.read_until(b"\r\n\r\n", deadline)
        lines = head.split(b"\r\n")
        parts = lines[0].decode("latin-1").split(" ", 2)
        status = int(parts[1])
        reason = parts[2] if len(parts) > 2 else ""
        headers = {}
        for line in lines[1:]:
            name, _, value = line.decode("latin-1").partition(":")
            headers[name.strip().lower()] = value.strip()
        return status, reason, headers

    def read_response(self, timeout=None, method="GET"):
        """Reads one whole response (Content-Length, chunked or until close)."""
        deadline = time.monotonic() + (timeout or self.timeout)
        status, reason, headers = self.read_head(deadline - time.monotonic())
        body = self.read_body(status, headers, deadline, method)
        return RawResponse(status, reason, headers, body)

    def read_body(self, status, headers, deadline, method="GET"):
        if method == "HEAD" or status in (204, 304) or 100 <= status < 200:
            body = b""
        elif headers.get("transfer-encoding", "").lower() == "chunked":
            body = b""
            while True:
                size = int(self.read_until(b"\r\n", deadline).split(b";")[0], 16)
                if size == 0:
                    self.read_until(b"\r\n", deadline)
                    break
                body += self.read_exactly(size, deadline)
                self.read_exactly(2, deadline)
        elif "content-length" in headers:
            body = self.read_exactly(int(headers["content-length"]), deadline)
        else:
            try:
                while True:
                    self._fill(deadline)
            except ConnectionClosed:
                pass
            body, self.buf = self.buf, b""
        return body

    def wait_closed(self, timeout):
        """True when the server closes the connection within `timeout` (bytes it sends first are kept)."""
        deadline = time.monotonic() + timeout
        try:
            while True:
                self._fill(deadline)
        except ConnectionClosed:
            return True
        except TimeoutError:
            return False


def raw_request(method, path, headers=None, body=b"", host="127.0.0.1"):
    """The bytes of one HTTP/1.1 request."""
    lines = [f"{method} {path} HTTP/1.1", f"Host: {host}"]
    for k, v in (headers or {}).items():
        lines.append(f"{k}: {v}")
    has_length = any(k.lower() in ("content-length", "transfer-encoding") for k in (headers or {}))
    if not has_length and (body or method in ("POST", "PUT")):
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


# ---------------------------------------------------------------------------
# Server-Sent Events


class SseEvent:
    def __init__(self, id, data, event):
        self.id = id
        self.data = data
        self.event = event

    def json(self):
        return json.loads(self.data)

    def __repr__(self):
        return f"<SSE id={self.id} {self.data[:200]}>"


class SseClient:
    """A subscription read over a raw socket, so that every wait has a timeout.

    The constructor sends the request and reads the response head; when the status is
    not 200 the body is read into `error_body`."""

    def __init__(self, port, stream, params=None, headers=None, timeout=15.0):
        path = "/subscriptions/" + ("$all" if stream == "$all" else urllib.parse.quote(stream, safe="$"))
        if params:
            path += "?" + urllib.parse.urlencode(params)
        h = {"Accept": "text/event-stream"}
        h.update(headers or {})
        self.conn = RawConnection(port, timeout=timeout)
        self.conn.send(raw_request("GET", path, h))
        self.status, _, self.headers = self.conn.read_head(timeout)
        self.error_body = None
        self.chunked = self.headers.get("transfer-encoding", "").lower() == "chunked"
        self._chunk_left = None  # bytes left in the current chunk; None: a size line comes next
        self._text = b""  # decoded body not yet parsed into events
        self._fields = {}
        self.comments = 0
        self._ended = False
        if self.status != 200:
            self.error_body = self.conn.read_body(self.status, self.headers, time.monotonic() + timeout)

    def close(self):
        self.conn.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def _decode(self):
        """Moves bytes from the socket buffer to the decoded body, undoing chunked coding."""
        if not self.chunked:
            self._text += self.conn.buf
            self.conn.buf = b""
            return
        while True:
            if self._chunk_left is None:
                if b"\r\n" not in self.conn.buf:
                    return
                line, _, self.conn.buf = self.conn.buf.partition(b"\r\n")
                if not line.strip():
                    continue  # the CRLF after a chunk's data
                size = int(line.split(b";")[0], 16)
                if size == 0:
                    self._chunk_left = None
                    self._ended = True
                    return
                self._chunk_left = size
            take = self.conn.buf[: self._chunk_left]
            if not take:
                return
            self._text += take
            self.conn.buf = self.conn.buf[len(take) :]
            self._chunk_left -= len(take)
            if self._chunk_left == 0:
                self._chunk_left = None

    def _parse_one(self):
        while b"\n" in self._text:
            line, _, self._text = self._text.partition(b"\n")
            line = line.rstrip(b"\r").decode("utf-8")
            if line == "":
                if "data" in self._fields or "id" in self._fields:
                    f, self._fields = self._fields, {}
                    return SseEvent(f.get("id"), "\n".join(f.get("data", [])), f.get("event"))
                continue
            if line.startswith(":"):
                self.comments += 1
                continue
            name, _, value = line.partition(":")
            if value.startswith(" "):
                value = value[1:]
            if name == "data":
                self._fields.setdefault("data", []).append(value)
            elif name in ("id", "event", "retry"):
                self._fields[name] = value
        return None

    def next_event(self, timeout):
        """The next event, or None when none comes within `timeout`.
        Raises ConnectionClosed when the server ends the stream."""
        deadline = time.monotonic() + timeout
        while True:
            self._decode()
            ev = self._parse_one()
            if ev is not None:
                return ev
            try:
                self.conn._fill(deadline)
            except TimeoutError:
                return None

    def take(self, n, timeout):
        """Exactly `n` events within `timeout` seconds in all (fails the test otherwise)."""
        out = []
        deadline = time.monotonic() + timeout
        while len(out) < n:
            ev = self.next_event(max(0.0, deadline - time.monotonic()))
            if ev is None:
                raise AssertionError(f"received {len(out)} of {n} events within {timeout} s; last: {out[-1:]!r}")
            out.append(ev)
        return out
