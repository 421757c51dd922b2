"""Fixtures of the connector tests: HTTP receivers, and a connectors client that stops what it
created when the test ends. The server fixtures (`server`, `fresh_server`) come from the parent."""

import subprocess

import pytest

from .connectors_client import ConnectorsApi
from .receiver import Receiver


@pytest.fixture
def receiver_factory():
    """Receivers started by the test: factory(**kw) -> Receiver; all closed afterwards."""
    made = []

    def factory(**kw):
        rx = Receiver(**kw)
        made.append(rx)
        return rx

    yield factory
    for rx in made:
        rx.close()


@pytest.fixture
def receiver(receiver_factory):
    return receiver_factory()


@pytest.fixture
def conns(server):
    """The connectors API of the module's server; stops the test's connectors afterwards."""
    c = ConnectorsApi(server.base_url)
    yield c
    if server.is_running():
        c.cleanup()


@pytest.fixture
def fresh_conns(fresh_server):
    """The connectors API of a server of the test's own (stopped with it)."""
    return ConnectorsApi(fresh_server.base_url)


def make_certificate(directory, name, san):
    """A self-signed certificate (its own CA) for `san` (e.g. "IP:127.0.0.1"); returns (cert, key)."""
    cert, key = directory / f"{name}.pem", directory / f"{name}.key"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                    "-subj", f"/CN={name}", "-addext", f"subjectAltName={san}",
                    "-addext", "basicConstraints=critical,CA:TRUE",
                    "-keyout", str(key), "-out", str(cert)],
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=60)
    return str(cert), str(key)


@pytest.fixture(scope="session")
def tls_files(tmp_path_factory):
    """Certificates for HTTPS receivers: `cert`/`key` valid for 127.0.0.1, `other_cert`/`other_key`
    valid only for the name other.invalid."""
    d = tmp_path_factory.mktemp("tls")
    cert, key = make_certificate(d, "receiver", "IP:127.0.0.1")
    other_cert, other_key = make_certificate(d, "other", "DNS:other.invalid")
    return {"cert": cert, "key": key, "other_cert": other_cert, "other_key": other_key}
