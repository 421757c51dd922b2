"""The test receiver itself: what the connector tests rely on it to do."""

import socket
import threading
import time

import pytest
import requests

from .receiver import Receiver


def post(rx, body=b"x", session=None, timeout=5, path="/in"):
    return (session or requests).post(rx.url_for(path), data=body, timeout=timeout)


def test_receiver_records_method_path_headers_body_and_connection(receiver):
    s = requests.Session()
    for i in range(3):
        r = s.post(receiver.url_for(f"/a/{i}"), data=f"body-{i}".encode(), headers={"X-Thing": str(i)}, timeout=5)
        assert r.status_code == 200
    got = receiver.wait_for(3, timeout=5)
    assert [g.path for g in got] == ["/a/0", "/a/1", "/a/2"]
    assert [g.body for g in got] == [b"body-0", b"body-1", b"body-2"]
    assert [g.headers["x-thing"] for g in got] == ["0", "1", "2"]
    assert all(g.method == "POST" for g in got)
    assert len({g.conn_id for g in got}) == 1, "keep-alive: one connection for one session"
    assert receiver.bodies() == [b"body-0", b"body-1", b"body-2"]


@pytest.mark.parametrize("status", [200, 201, 204, 400, 401, 404, 408, 409, 413, 500, 502, 503])
def test_receiver_answers_a_fixed_status_for_the_next_n_requests(receiver, status):
    receiver.answer_next(2, status)
    s = requests.Session()
    assert [post(receiver, session=s).status_code for _ in range(3)] == [status, status, 200]
    assert receiver.count() == (3 if 200 <= status < 300 else 1)


def test_receiver_answers_429_with_retry_after(receiver):
    receiver.answer_next(1, 429, headers={"Retry-After": "2"})
    r = post(receiver)
    assert r.status_code == 429 and r.headers["Retry-After"] == "2"


def test_receiver_answers_a_status_for_a_duration(receiver):
    receiver.answer_for(0.5, 503)
    assert post(receiver).status_code == 503
    time.sleep(0.6)
    assert post(receiver).status_code == 200


def test_receiver_answers_requests_matching_a_predicate(receiver):
    receiver.answer_when(lambda req: b"poison" in req.body, 400)
    assert [post(receiver, b).status_code for b in (b"ok", b"poison", b"ok")] == [200, 400, 200]


def test_receiver_hangs_without_answering_then_closes(receiver):
    receiver.hang_for(1.0)
    t0 = time.monotonic()
    with pytest.raises(requests.RequestException):
        post(receiver, timeout=3)
    assert time.monotonic() - t0 >= 0.9
    assert post(receiver).status_code == 200
    reqs = receiver.requests()
    assert reqs[0].outcome == "hung" and reqs[0].status is None


def test_receiver_refuses_connections_then_reopens_on_the_same_port(receiver):
    port = receiver.port
    receiver.refuse_for(1.0)
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    deadline = time.monotonic() + 5
    while receiver.is_refusing and time.monotonic() < deadline:
        time.sleep(0.05)
    assert receiver.port == port
    assert post(receiver).status_code == 200


def test_receiver_answers_slowly(receiver):
    receiver.slow(0.3)
    t0 = time.monotonic()
    assert post(receiver).status_code == 200
    assert time.monotonic() - t0 >= 0.28


def test_receiver_accessors_are_safe_from_many_threads(receiver):
    def client(k):
        s = requests.Session()
        for i in range(20):
            post(receiver, f"{k}-{i}".encode(), session=s)

    ts = [threading.Thread(target=client, args=(k,)) for k in range(4)]
    for t in ts:
        t.start()
    seen = 0
    while any(t.is_alive() for t in ts):
        seen = max(seen, len(receiver.requests()))
    for t in ts:
        t.join()
    assert len(receiver.wait_for(80, timeout=5)) == 80
    assert len(set(receiver.bodies())) == 80


def test_receiver_close_releases_hung_requests():
    rx = Receiver()
    rx.hang_for(60)
    errors = []

    def client():
        try:
            post(rx, timeout=10)
        except requests.RequestException as e:
            errors.append(e)

    t = threading.Thread(target=client)
    t.start()
    rx.wait_for(1, timeout=5, predicate=lambda r: True)
    t0 = time.monotonic()
    rx.close()
    t.join(5)
    assert not t.is_alive() and errors
    assert time.monotonic() - t0 < 3


def test_receiver_answers_chunked_and_closes_when_told(receiver):
    receiver.answer_next(1, 200, body=b"y" * 10000, chunked=True, close=True)
    s = requests.Session()
    r = s.post(receiver.url_for("/"), data=b"a", timeout=5)
    assert r.status_code == 200 and r.content == b"y" * 10000
    assert r.headers["Transfer-Encoding"] == "chunked" and r.headers["Connection"] == "close"
    assert s.post(receiver.url_for("/"), data=b"b", timeout=5).status_code == 200
    conns = [q.conn_id for q in receiver.requests()]
    assert conns[0] != conns[1], "the first connection was closed"


def test_receiver_drops_idle_connections_when_told(receiver):
    sock = socket.create_connection(("127.0.0.1", receiver.port), timeout=5)
    sock.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\n\r\nz")
    assert sock.recv(4096).startswith(b"HTTP/1.1 200")
    assert receiver.drop_connections() == 1
    sock.settimeout(5)
    assert sock.recv(4096) == b""
    sock.close()


def test_receiver_serves_https(tls_files):
    rx = Receiver(tls=(tls_files["cert"], tls_files["key"]))
    try:
        assert rx.url.startswith("https://")
        r = requests.post(rx.url_for("/s"), data=b"x", timeout=5, verify=tls_files["cert"])
        assert r.status_code == 200
        with pytest.raises(requests.exceptions.SSLError):
            requests.post(rx.url_for("/s"), data=b"x", timeout=5)
        deadline = time.monotonic() + 5
        while rx.tls_failures == 0 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert rx.tls_failures >= 1
    finally:
        rx.close()
