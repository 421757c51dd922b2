"""Fixtures of the connector tests: HTTP receivers, and a connectors client that stops what it
created when the test ends. The server fixtures (`server`, `fresh_server`) come from the parent."""

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
