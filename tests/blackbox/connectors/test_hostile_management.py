"""The management API under input no client should send, and under concurrent use: a clear 4xx,
never a 500, a crash or a half-made connector."""

import json
import threading

import pytest

from sluice_client import describe

from .connectors_client import (
    ConnectorsApi,
    as_int,
    assert_connector_error,
    http_sink,
    new_id,
    tag,
)

URL = "http://127.0.0.1:9/never-called"


def idle_sink(**extra):
    return http_sink(URL, prefix=f"none-{tag()}-", **extra)


def post_raw(conns, cid, body):
    return conns.api.request("POST", conns.path(cid), data=body, headers={"Content-Type": "application/json"})


def assert_alive(conns):
    r = conns.api.get("/health/live")
    assert r.status_code == 200, describe(r)


@pytest.mark.parametrize("value", [None, 12, 1.5, True, [], {}])
def test_a_url_that_is_not_a_string_is_refused_or_stringified_never_a_500(conns, value):
    settings = idle_sink()
    settings["url"] = value
    r = conns.create(new_id(), settings=settings)
    assert r.status_code in (200, 400), describe(r)
    if r.status_code == 400:
        assert_connector_error(r, 400)
    assert_alive(conns)


def test_a_deeply_nested_configuration_is_refused_not_a_crash(conns):
    depth = 5000
    body = '{"configuration": ' + '{"a": ' * depth + '"x"' + "}" * depth + "}"
    r = post_raw(conns, new_id(), body.encode())
    assert r.status_code == 400, describe(r)
    assert_alive(conns)


def test_a_configuration_nested_a_hundred_deep_is_flattened_or_refused(conns):
    conf = dict(idle_sink())
    node = conf
    for k in range(100):
        node[f"n{k}"] = {}
        node = node[f"n{k}"]
    node["leaf"] = "v"
    r = conns.create(new_id(), configuration=conf)
    assert r.status_code == 400, describe(r)  # an unknown key, named in the details
    body = assert_connector_error(r, 400)
    assert any(d["field"].startswith("n0:n1:n2") for d in body["details"]), describe(r)
    assert_alive(conns)


def test_many_settings_are_each_reported_but_the_answer_stays_bounded(conns):
    settings = idle_sink()
    for k in range(2000):
        settings[f"unknown:key:{k}"] = "v" * 50
    r = conns.create(new_id(), settings=settings)
    assert r.status_code in (400, 413), describe(r)
    assert len(r.content) < 4 * 1024 * 1024
    assert_alive(conns)


def test_a_huge_setting_value_is_refused_or_kept_whole(conns):
    cid = new_id()
    big = "h" * (512 * 1024)
    r = conns.create(cid, settings=idle_sink(**{"defaultHeaders:X-Big": big}))
    assert r.status_code in (200, 400, 413), describe(r)
    if r.status_code == 200:
        assert conns.settings_ok(cid)["settings"]["defaultHeaders:X-Big"] == big
    assert_alive(conns)


@pytest.mark.parametrize("position", ["18446744073709551616", "99999999999999999999999", "0x10", " 5", "5 "])
def test_a_start_position_out_of_range_or_malformed_is_refused(conns, position):
    cid = new_id()
    conns.create_ok(cid, settings=idle_sink())
    r = conns.api.request("POST", conns.path(cid) + "/start/" + position.replace(" ", "%20"))
    assert_connector_error(r, 400)
    assert conns.get_ok(cid)["state"] == "CONNECTOR_STATE_STOPPED"


@pytest.mark.parametrize("params", [{"pageSize": "100000000000000000000"}, {"page": "-1"},
                                    {"page": "99999999999999999999"}, {"pageSize": "-5"}])
def test_list_paging_values_out_of_range_are_refused_or_clamped_never_a_500(conns, params):
    r = conns.list(**params)
    assert r.status_code in (200, 400), describe(r)
    if r.status_code == 200:
        assert isinstance(r.json()["items"], list)
    else:
        assert_connector_error(r, 400)


@pytest.mark.parametrize("body", [b"", b"null", b'"just a string"', b'{"name": null}', b"{\"name\": \"ok\"}" * 2])
def test_a_rename_with_a_bad_body_is_refused(conns, body):
    cid = new_id()
    conns.create_ok(cid, settings=idle_sink(), name="kept")
    r = conns.api.request("PUT", conns.path(cid, "rename"), data=body, headers={"Content-Type": "application/json"})
    assert_connector_error(r, 400)
    assert conns.get_ok(cid)["name"] == "kept"


@pytest.mark.parametrize("body", [b"", b"[]", b'{"url": ["a"]}', b"{bad"])
def test_a_reconfigure_with_a_bad_body_is_refused_and_changes_nothing(conns, body):
    cid = new_id()
    settings = idle_sink()
    conns.create_ok(cid, settings=settings)
    r = conns.api.request("PUT", conns.path(cid, "settings"), data=body, headers={"Content-Type": "application/json"})
    assert_connector_error(r, 400)
    assert conns.settings_ok(cid)["settings"] == settings


def test_unknown_connector_routes_and_methods_are_not_500(conns):
    cid = new_id()
    conns.create_ok(cid, settings=idle_sink())
    for method, path in (("GET", conns.path(cid, "nothing")), ("PATCH", conns.path(cid)),
                         ("POST", conns.path(cid, "start", "1", "2")), ("DELETE", conns.path(cid, "settings")),
                         ("GET", conns.path(cid, "stop")), ("PUT", "/connectors")):
        r = conns.api.request(method, path)
        assert r.status_code in (400, 404, 405), f"{method} {path}: {describe(r)}"
        assert r.status_code != 500
    assert conns.get_ok(cid)["state"] == "CONNECTOR_STATE_STOPPED"


def test_the_same_id_created_at_once_from_many_clients_is_created_once(conns):
    cid = new_id()
    barrier = threading.Barrier(12)
    results = []
    lock = threading.Lock()

    def create(k):
        api = ConnectorsApi(conns.base)
        barrier.wait(10)
        r = api.create(cid, settings=idle_sink(), name=f"creator {k}")
        with lock:
            results.append(r.status_code)

    threads = [threading.Thread(target=create, args=(k,)) for k in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert sorted(results) == [200] + [409] * 11, results
    evs = conns.api.read_ok(f"$connectors/{cid}")["events"]
    assert [e["eventType"] for e in evs] == ["$conn-mngt-connector-created"], "one created event"


@pytest.mark.time_limit(120)
def test_creating_and_deleting_many_connectors_at_once_keeps_the_list_exact(fresh_server):
    base = fresh_server.base_url
    t = tag()
    errors = []

    def worker(k):
        api = ConnectorsApi(base)
        for i in range(10):
            cid = f"w{k}-{i}-{t}"
            r = api.create(cid, settings=idle_sink(), name=f"worker {k} #{i}")
            if r.status_code != 200:
                errors.append(describe(r))
            if i % 2:
                r = api.delete(cid)
                if r.status_code != 200:
                    errors.append(describe(r))

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(8)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(100)
    assert not errors, errors[:5]
    c = ConnectorsApi(base)
    body = c.list_ok(pageSize=1000)
    assert as_int(body["totalSize"]) == 40 == len(body["items"])
    assert as_int(c.list_ok(showDeleted=True, pageSize=1000)["totalSize"]) == 80
    fresh_server.restart()
    c = ConnectorsApi(base)
    assert as_int(c.list_ok(pageSize=1000)["totalSize"]) == 40
    assert json.dumps(sorted(i["connectorId"] for i in c.list_ok(pageSize=1000)["items"])) == \
        json.dumps(sorted(i["connectorId"] for i in body["items"]))
