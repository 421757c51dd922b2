"""The http-sink over HTTPS (spec/connectors.md §6: TLS CA file): certificates are verified by
default, against `tls:caFile` when given; `tls:verify=false` turns that off on purpose."""

import time

import pytest

from sluice_client import event

from .connectors_client import (
    RUNNING,
    STOPPED,
    assert_connector_error,
    delivered_positions,
    http_sink,
    log_events,
    new_id,
    tag,
)
from .receiver import Receiver


@pytest.fixture
def https_receiver(tls_files):
    rx = Receiver(tls=(tls_files["cert"], tls_files["key"]))
    yield rx
    rx.close()


@pytest.fixture
def misnamed_receiver(tls_files):
    """An HTTPS receiver on 127.0.0.1 whose certificate names another host."""
    rx = Receiver(tls=(tls_files["other_cert"], tls_files["other_key"]))
    yield rx
    rx.close()


FAST_RETRY = {"resilience:firstDelayBound:delayMs": "200"}


def append_some(api, prefix, n=5):
    for i in range(n):
        api.append_ok(prefix + "1", [event("E", {"i": i})])
    return [e["position"] for e in log_events(api, prefix)]


def test_https_with_the_receivers_ca_file_delivers_in_order(conns, https_receiver, tls_files):
    prefix = f"tls-{tag()}-"
    cid = new_id()
    conns.create_ok(cid, settings=http_sink(https_receiver.url, prefix=prefix, **{"tls:caFile": tls_files["cert"]}))
    conns.start_running(cid)
    expected = append_some(conns.api, prefix)
    https_receiver.wait_for(5, timeout=30)
    https_receiver.quiet_for(0.3, timeout=5)
    assert delivered_positions(https_receiver.delivered()) == expected


def test_https_to_an_untrusted_certificate_delivers_nothing(conns, https_receiver):
    prefix = f"tlsu-{tag()}-"
    cid = new_id()
    conns.create_ok(cid, settings=http_sink(https_receiver.url, prefix=prefix, **FAST_RETRY))
    conns.start_running(cid)
    append_some(conns.api, prefix, 2)
    deadline = time.monotonic() + 10
    while https_receiver.tls_failures < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert https_receiver.tls_failures >= 2, "the sink did not try (and retry) the handshake"
    assert https_receiver.requests() == [], "a request was sent over an unverified connection"
    item = conns.get_ok(cid)
    assert item["state"] == RUNNING and item["delivered"] == 0 and item.get("lastErrorTime"), item


def test_https_to_a_certificate_for_another_name_delivers_nothing(conns, misnamed_receiver, tls_files):
    prefix = f"tlsn-{tag()}-"
    cid = new_id()
    conns.create_ok(cid, settings=http_sink(misnamed_receiver.url, prefix=prefix, **{
        "tls:caFile": tls_files["other_cert"], **FAST_RETRY}))
    conns.start_running(cid)
    append_some(conns.api, prefix, 2)
    deadline = time.monotonic() + 10
    while not conns.get_ok(cid).get("lastErrorTime") and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.5)
    assert conns.get_ok(cid).get("lastErrorTime"), "no delivery error reported"
    assert misnamed_receiver.requests() == [], "the certificate's name was not checked"


def test_tls_verify_false_delivers_to_an_untrusted_certificate(conns, https_receiver):
    prefix = f"tlsv-{tag()}-"
    cid = new_id()
    conns.create_ok(cid, settings=http_sink(https_receiver.url, prefix=prefix, **{"tls:verify": "false"}))
    conns.start_running(cid)
    expected = append_some(conns.api, prefix, 3)
    https_receiver.wait_for(3, timeout=30)
    assert delivered_positions(https_receiver.delivered()) == expected


def test_a_missing_ca_file_is_refused_or_fails_the_connector(conns, https_receiver, tmp_path):
    prefix = f"tlsm-{tag()}-"
    cid = new_id()
    r = conns.create(cid, settings=http_sink(https_receiver.url, prefix=prefix, **{
        "tls:caFile": str(tmp_path / "missing.pem"), "resilience:maxRetries": "1", **FAST_RETRY}))
    if r.status_code == 400:
        return
    assert r.status_code == 200, r.text
    r = conns.start(cid)
    if r.status_code == 400:  # refused when it starts
        assert_connector_error(r, 400, fields=["tls:caFile"])
        assert conns.get_ok(cid)["state"] == STOPPED
        return
    assert r.status_code == 200, r.text
    append_some(conns.api, prefix, 1)
    item = conns.wait_state(cid, STOPPED, timeout=30)
    assert item.get("errorDetails"), item
    assert https_receiver.requests() == []
