"""An HTTP receiver for the connector tests: a real server on 127.0.0.1 that records every request
and answers as the test tells it to, at run time.

    rx = Receiver()                      # listening on rx.port, answers 200 to everything
    rx.answer_next(3, 503)               # the next 3 requests get 503
    rx.answer_for(6.0, 503)              # every request in the next 6 s gets 503
    rx.answer_next(1, 429, headers={"Retry-After": "2"})
    rx.answer_when(lambda req: b"poison" in req.body, 400)
    rx.hang_for(5.0)                     # requests are read, then never answered (closed after 5 s)
    rx.refuse_for(3.0)                   # the listening socket is closed for 3 s, then reopened on the same port
    rx.slow(0.05)                        # every answer waits 50 ms
    rx.answer_next(5, 200, body=b"x" * 65536, chunked=True, close=True)
    rx.drop_connections()                # closes open connections, as an idle timeout does
    rx.wait_for(100, timeout=30)         # the first 100 requests answered 2xx
    rx.close()

The server is a ThreadingHTTPServer speaking HTTP/1.1 with keep-alive, served from a thread of the
test process. Every accessor is thread-safe and returns copies."""

import json
import socket
import ssl
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

REASONS = {
    200: "OK",
    201: "Created",
    202: "Accepted",
    204: "No Content",
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    408: "Request Timeout",
    409: "Conflict",
    413: "Payload Too Large",
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}

HUNG = "hung"  # the `outcome` of a request that was never answered


class Request:
    """One request as the receiver read it. `status` is None until it is answered (and stays None
    for a request that was hung); `answered_at` is the monotonic time of the answer."""

    __slots__ = ("seq", "at", "wall", "method", "path", "headers", "header_list", "body", "conn_id", "status",
                 "answered_at", "outcome")

    def __init__(self, seq, at, wall, method, path, header_list, body, conn_id):
        self.seq = seq
        self.at = at
        self.wall = wall
        self.method = method
        self.path = path
        self.header_list = header_list
        self.headers = {}
        for name, value in header_list:
            key = name.lower()
            self.headers[key] = value if key not in self.headers else self.headers[key] + ", " + value
        self.body = body
        self.conn_id = conn_id
        self.status = None
        self.answered_at = None
        self.outcome = None

    @property
    def is_delivered(self):
        return self.status is not None and 200 <= self.status < 300

    def json(self):
        return json.loads(self.body)

    def copy(self):
        c = Request(self.seq, self.at, self.wall, self.method, self.path, list(self.header_list), self.body,
                    self.conn_id)
        c.status, c.answered_at, c.outcome = self.status, self.answered_at, self.outcome
        return c

    def __repr__(self):
        return (f"<#{self.seq} conn {self.conn_id} {self.method} {self.path} -> {self.status or self.outcome} "
                f"{self.body[:120]!r}>")


class _Plan:
    """One instruction: answer `status` (with `headers`) to `count` requests, or until `until`, or to
    requests matching `when`."""

    def __init__(self, status, headers=None, count=None, until=None, when=None, body=None, chunked=False,
                 close=False):
        self.status = status
        self.headers = dict(headers or {})
        self.count = count
        self.until = until
        self.when = when
        self.body = body
        self.chunked = chunked
        self.close = close


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True
    request_queue_size = 64

    def handle_error(self, request, client_address):
        """Counts failed TLS handshakes; other errors of a connection (resets, closes) are expected."""
        import sys
        exc = sys.exc_info()[1]
        if isinstance(exc, ssl.SSLError):
            with self.receiver._cond:
                self.receiver.tls_failures += 1
                self.receiver._cond.notify_all()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "sluice-test-receiver"
    sys_version = ""
    disable_nagle_algorithm = True
    wbufsize = 64 * 1024  # the head and body of an answer leave in one write

    def setup(self):
        if isinstance(self.request, ssl.SSLSocket):
            self.request.settimeout(10)
            self.request.do_handshake()  # here, in the connection's thread, not in the accepting one
            self.request.settimeout(None)
        super().setup()
        self.receiver = self.server.receiver
        self.conn_id = self.receiver._connection_opened(self.connection)

    def finish(self):
        try:
            super().finish()
        finally:
            self.receiver._connection_closed(self.connection)

    def log_message(self, fmt, *args):  # quiet
        pass

    def do_POST(self):
        self._handle()

    do_PUT = do_PATCH = do_GET = do_DELETE = do_POST

    def _read_body(self):
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            out = b""
            while True:
                line = self.rfile.readline(65537)
                if not line:
                    raise ConnectionError("connection closed inside a chunked body")
                size = int(line.split(b";")[0].strip(), 16)
                if size == 0:
                    while self.rfile.readline(65537) not in (b"\r\n", b"\n", b""):
                        pass
                    return out
                out += self.rfile.read(size)
                self.rfile.readline(65537)
        length = int(self.headers.get("Content-Length", "0") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def _handle(self):
        try:
            body = self._read_body()
        except (ConnectionError, ValueError, OSError):
            self.close_connection = True
            return
        req = self.receiver._record(self.command, self.path, list(self.headers.items()), body, self.conn_id)
        action = self.receiver._decide(req)
        if action[0] == "hang":
            self.receiver._hang(req, action[1])
            self.close_connection = True
            return
        _, status, headers, delay, payload, chunked, close = action
        if delay > 0:
            self.receiver._closed.wait(delay)
        if payload is None:
            payload = b"" if status == 204 else json.dumps({"status": status}).encode()
        self.receiver._answered(req, status)
        try:
            self.send_response(status, REASONS.get(status))
            for name, value in headers.items():
                self.send_header(name, value)
            if close:
                self.send_header("Connection", "close")
                self.close_connection = True
            if status != 204:
                self.send_header("Content-Type", "application/json")
                if chunked:
                    self.send_header("Transfer-Encoding", "chunked")
                else:
                    self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            if status != 204 and chunked:
                for i in range(0, len(payload), 4096):
                    piece = payload[i:i + 4096]
                    self.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))
                self.wfile.write(b"0\r\n\r\n")
            elif status != 204:
                self.wfile.write(payload)
            self.wfile.flush()
        except OSError:
            self.close_connection = True


class Receiver:
    """A recording HTTP server; see the module docstring."""

    def __init__(self, default_status=200, host="127.0.0.1", port=0, tls=None):
        """`tls`: (certificate file, key file) to serve HTTPS."""
        self.host = host
        self.tls = tls
        self.tls_failures = 0
        self.default_status = default_status
        self._cond = threading.Condition()
        self._requests = []
        self._plans = []
        self._hang_until = 0.0
        self._delay = 0.0
        self._delay_until = None
        self._connections = {}
        self._next_conn_id = 0
        self._closed = threading.Event()
        self._refusing = False
        self._timers = []
        self._httpd = None
        self._thread = None
        self.port = port
        self._listen()

    # -- addresses --
    @property
    def url(self):
        return f"{'https' if self.tls else 'http'}://{self.host}:{self.port}"

    def url_for(self, path="/"):
        return self.url + (path if path.startswith("/") else "/" + path)

    # -- listening --
    def _listen(self):
        httpd = _Server((self.host, self.port), _Handler)
        httpd.receiver = self
        if self.tls:
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(*self.tls)
            httpd.socket = ctx.wrap_socket(httpd.socket, server_side=True, do_handshake_on_connect=False)
        self.port = httpd.server_address[1]
        thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True,
                                  name=f"receiver-{self.port}")
        thread.start()
        self._httpd, self._thread = httpd, thread

    def _unlisten(self, drop_connections=True):
        httpd, self._httpd = self._httpd, None
        if httpd is not None:
            httpd.shutdown()
            httpd.server_close()
        if drop_connections:
            with self._cond:
                socks = list(self._connections.values())
            for s in socks:
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def close(self):
        """Stops listening, drops every connection and releases hung requests."""
        self._closed.set()
        for t in self._timers:
            t.cancel()
        with self._cond:
            self._cond.notify_all()
        self._unlisten()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # -- instructions --
    def answer_next(self, count, status, headers=None, body=None, chunked=False, close=False):
        """The next `count` requests (after the ones already planned) get `status` (with `body`, sent
        chunked when asked, and closing the connection after the answer when `close`)."""
        with self._cond:
            self._plans.append(_Plan(status, headers, count=count, body=body, chunked=chunked, close=close))

    def answer_for(self, seconds, status, headers=None, body=None):
        """Every request in the next `seconds` gets `status`."""
        with self._cond:
            self._plans.append(_Plan(status, headers, until=time.monotonic() + seconds, body=body))

    def answer_when(self, predicate, status, headers=None, count=None, body=None):
        """Requests for which predicate(Request) is true get `status` (the first `count` of them, or all)."""
        with self._cond:
            self._plans.insert(0, _Plan(status, headers, count=count, when=predicate, body=body))

    def answer_normally(self):
        """Forgets every plan, hang and delay: answers `default_status` again."""
        with self._cond:
            self._plans.clear()
            self._hang_until = 0.0
            self._delay = 0.0
            self._cond.notify_all()

    def hang_for(self, seconds):
        """Requests arriving in the next `seconds` are read and never answered; their connections are
        closed when the time is up (or when the receiver closes)."""
        with self._cond:
            self._hang_until = time.monotonic() + seconds

    def stop_hanging(self):
        with self._cond:
            self._hang_until = 0.0
            self._cond.notify_all()

    def slow(self, seconds, duration=None):
        """Every answer waits `seconds` first (for `duration` seconds, or until told otherwise)."""
        with self._cond:
            self._delay = seconds
            self._delay_until = None if duration is None else time.monotonic() + duration

    def refuse_for(self, seconds):
        """Closes the listening socket (and drops open connections) now, so that connections are
        refused, and listens again on the same port after `seconds`."""
        with self._cond:
            self._refusing = True
        self._unlisten()
        timer = threading.Timer(seconds, self._reopen)
        timer.daemon = True
        self._timers.append(timer)
        timer.start()

    def _reopen(self):
        if self._closed.is_set():
            return
        deadline = time.monotonic() + 5
        while True:
            try:
                self._listen()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        with self._cond:
            self._refusing = False
            self._cond.notify_all()

    def drop_connections(self):
        """Closes every open connection now, without a word (as a server's idle timeout does)."""
        with self._cond:
            socks = list(self._connections.values())
        for sock in socks:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        return len(socks)

    @property
    def is_refusing(self):
        with self._cond:
            return self._refusing

    # -- the handler's side --
    def _connection_opened(self, sock):
        with self._cond:
            self._next_conn_id += 1
            self._connections[self._next_conn_id] = sock
            return self._next_conn_id

    def _connection_closed(self, sock):
        with self._cond:
            for k, v in list(self._connections.items()):
                if v is sock:
                    del self._connections[k]

    def _record(self, method, path, header_list, body, conn_id):
        with self._cond:
            req = Request(len(self._requests), time.monotonic(), time.time(), method, path, header_list, body,
                          conn_id)
            self._requests.append(req)
            self._cond.notify_all()
            return req

    def _decide(self, req):
        now = time.monotonic()
        with self._cond:
            if now < self._hang_until:
                return ("hang", self._hang_until)
            delay = self._delay
            if self._delay_until is not None and now >= self._delay_until:
                delay = self._delay = 0.0
                self._delay_until = None
            chosen = None
            for plan in list(self._plans):
                if plan.until is not None and now >= plan.until:
                    self._plans.remove(plan)
                    continue
                if plan.when is not None and not plan.when(req):
                    continue
                chosen = plan
                if plan.count is not None:
                    plan.count -= 1
                    if plan.count <= 0:
                        self._plans.remove(plan)
                break
            if chosen is None:
                return ("answer", self.default_status, {}, delay, None, False, False)
            return ("answer", chosen.status, chosen.headers, delay, chosen.body, chosen.chunked, chosen.close)

    def _hang(self, req, until):
        with self._cond:
            req.outcome = HUNG
            self._cond.notify_all()
            while not self._closed.is_set() and time.monotonic() < min(until, self._hang_until or until):
                self._cond.wait(min(0.1, max(0.0, until - time.monotonic())))
                if self._hang_until == 0.0:
                    break

    def _answered(self, req, status):
        with self._cond:
            req.status = status
            req.answered_at = time.monotonic()
            req.outcome = "answered"
            self._cond.notify_all()

    # -- accessors (thread-safe copies) --
    def requests(self):
        """Every request received so far, in arrival order."""
        with self._cond:
            return [r.copy() for r in self._requests]

    def delivered(self):
        """The requests answered 2xx, in arrival order."""
        with self._cond:
            return [r.copy() for r in self._requests if r.is_delivered]

    def bodies(self, delivered_only=True):
        with self._cond:
            return [r.body for r in self._requests if r.is_delivered or not delivered_only]

    def count(self, predicate=None):
        with self._cond:
            return sum(1 for r in self._requests if (predicate(r) if predicate else r.is_delivered))

    def wait_for(self, count, timeout, predicate=None):
        """Waits until `count` requests match `predicate` (default: answered 2xx) and returns them;
        fails the test with what did arrive when they do not come within `timeout` seconds."""
        match = predicate or (lambda r: r.is_delivered)
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                got = [r for r in self._requests if match(r)]
                if len(got) >= count:
                    return [r.copy() for r in got]
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    last = self._requests[-3:]
                    raise AssertionError(
                        f"receiver on port {self.port}: {len(got)} of {count} requests within {timeout} s "
                        f"({len(self._requests)} received in all; last: {last!r})")
                self._cond.wait(min(remaining, 0.2))

    def wait_until(self, condition, timeout, what="condition"):
        """Waits until condition(list of requests) is true."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                if condition(self._requests):
                    return
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(f"receiver on port {self.port}: no {what} within {timeout} s "
                                         f"({len(self._requests)} requests received)")
                self._cond.wait(min(remaining, 0.2))

    def quiet_for(self, seconds, timeout):
        """Waits until no request has arrived for `seconds` (at most `timeout` in all)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._cond:
                last = self._requests[-1].at if self._requests else 0.0
            if time.monotonic() - last >= seconds:
                return True
            time.sleep(0.05)
        return False

    def connection_count(self):
        with self._cond:
            return self._next_conn_id
