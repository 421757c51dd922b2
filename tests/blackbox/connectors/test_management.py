"""The connectors management API (spec/connectors.md §2-3): create, reconfigure, start, stop, reset,
rename, delete, list, settings and configuration, validation and errors.

Commands must be visible to the very next query: these tests never sleep between a command and
the query that checks it."""

import base64
import json
import urllib.parse
import uuid

import pytest

from conftest import finish, make_server
from sluice_client import describe

from .connectors_client import (
    ACTIVATING,
    DEACTIVATING,
    GRPC_ALREADY_EXISTS,
    GRPC_FAILED_PRECONDITION,
    GRPC_INVALID_ARGUMENT,
    GRPC_NOT_FOUND,
    RUNNING,
    STATES,
    STOPPED,
    ConnectorsApi,
    as_int,
    assert_connector_error,
    detail_for,
    http_sink,
    log_sink,
    new_id,
    tag,
)

BAD_REQUEST_CODES = (GRPC_INVALID_ARGUMENT, GRPC_FAILED_PRECONDITION)
URL = "http://127.0.0.1:9/never-called"  # nothing is delivered in these tests


def idle_sink(**extra):
    """http-sink settings that match nothing this suite appends."""
    return http_sink(URL, prefix=f"none-{tag()}-", **extra)


@pytest.fixture
def logfile(tmp_path):
    return tmp_path / "sink.log"


def runnable(logfile):
    """Settings of a connector that can run without anything external: a log sink to a file."""
    return log_sink(logfile, prefix=f"none-{tag()}-")


# ---------------------------------------------------------------------------
# create


def test_create_with_flat_settings_makes_a_stopped_connector(conns):
    cid = new_id()
    settings = idle_sink(**{"autocommit:recordsThreshold": "100"})
    r = conns.create(cid, settings=settings, name="orders to webhook")
    assert r.status_code == 200, describe(r)
    assert r.json() == {}, describe(r)

    item = conns.get_ok(cid, include_settings=True)
    assert item["connectorId"] == cid
    assert item["name"] == "orders to webhook"
    assert item["state"] == STOPPED
    assert item["instanceTypeName"].lower() in ("http-sink", "httpsink"), item
    for key in ("stateUpdateTime", "settingsUpdateTime", "createTime", "updateTime"):
        assert item.get(key), f"no {key} in {item}"
    assert item["settings"]["url"] == URL
    assert item["settings"]["autocommit:recordsThreshold"] == "100"

    body = conns.settings_ok(cid)
    assert body["settings"] == settings, body
    assert body["settingsUpdateTime"], body


def test_create_with_nested_configuration_is_flattened(conns):
    cid = new_id()
    configuration = {
        "instanceTypeName": "http-sink",
        "url": URL,
        "subscription": {"filter": {"scope": "stream", "filterType": "prefix", "expression": f"none-{tag()}-"},
                         "initialPosition": "earliest"},
        "autocommit": {"recordsThreshold": 100, "enabled": True},
        "resilience": {"firstDelayBound": {"delayMs": 250}},
    }
    conns.create_ok(cid, configuration=configuration)
    flat = conns.settings_ok(cid)["settings"]
    assert flat["instanceTypeName"] == "http-sink"
    assert flat["subscription:filter:scope"] == "stream"
    assert flat["subscription:filter:expression"] == configuration["subscription"]["filter"]["expression"]
    assert flat["subscription:initialPosition"] == "earliest"
    assert flat["autocommit:recordsThreshold"] == "100", "numbers become strings"
    assert flat["autocommit:enabled"] == "true", "booleans become strings"
    assert flat["resilience:firstDelayBound:delayMs"] == "250"
    assert all(isinstance(v, str) for v in flat.values()), flat


def test_configuration_wins_when_both_forms_are_given(conns):
    cid = new_id()
    settings = idle_sink()
    settings["url"] = "http://127.0.0.1:9/from-settings"
    configuration = dict(idle_sink())
    configuration["url"] = "http://127.0.0.1:9/from-configuration"
    conns.create_ok(cid, settings=settings, configuration=configuration)
    assert conns.settings_ok(cid)["settings"]["url"] == "http://127.0.0.1:9/from-configuration"


def test_create_without_a_name_names_the_connector_after_its_id(conns):
    cid = new_id()
    conns.create_ok(cid, settings=idle_sink())
    assert conns.get_ok(cid)["name"] == cid
    cid2 = new_id()
    conns.create_ok(cid2, settings=idle_sink(), name="")
    assert conns.get_ok(cid2)["name"] == cid2


def test_create_with_an_existing_id_answers_409_and_keeps_the_first(conns):
    cid = new_id()
    conns.create_ok(cid, settings=idle_sink(), name="first")
    r = conns.create(cid, settings=idle_sink(), name="second")
    assert_connector_error(r, 409, GRPC_ALREADY_EXISTS)
    assert conns.get_ok(cid)["name"] == "first"


@pytest.mark.parametrize("cid", ["abcd", "a" * 51, "bad.id", "bad id!", "bäd-id", "with:colon"])
def test_create_refuses_an_id_that_is_not_5_to_50_letters_digits_dash_underscore(conns, cid):
    r = conns.create(cid, settings=idle_sink())
    body = assert_connector_error(r, 400, GRPC_INVALID_ARGUMENT)
    assert body.get("details"), f"no details for a bad id: {describe(r)}"
    r = conns.settings(cid)
    assert r.status_code in (400, 404), describe(r)


@pytest.mark.parametrize("raw_id", ["abc%2Fdefgh", "abc%00defgh", "..%2F..%2Fx", "%24all-x"])
def test_an_encoded_id_that_is_not_allowed_is_refused(conns, raw_id):
    r = conns.api.request("POST", "/connectors/" + raw_id, data=json.dumps({"settings": idle_sink()}),
                          headers={"Content-Type": "application/json"})
    assert r.status_code in (400, 404), describe(r)
    assert_connector_error(r, r.status_code)
    assert conns.list_ok(connectorId=urllib.parse.unquote(raw_id))["items"] == []


@pytest.mark.parametrize("length", [5, 50])
def test_create_accepts_ids_of_5_and_50_chars(conns, length):
    cid = ("A_-" + uuid.uuid4().hex * 2)[:length]
    conns.create_ok(cid, settings=idle_sink())
    assert conns.get_ok(cid)["connectorId"] == cid


@pytest.mark.parametrize("name", ["ab", "n" * 51])
def test_create_refuses_a_name_shorter_than_3_or_longer_than_50(conns, name):
    cid = new_id()
    r = conns.create(cid, settings=idle_sink(), name=name)
    body = assert_connector_error(r, 400, GRPC_INVALID_ARGUMENT)
    assert any(d["field"].lower() == "name" for d in body.get("details", [])), describe(r)
    assert conns.settings(cid).status_code == 404


@pytest.mark.parametrize("name", ["é" * 50, "Zürich → 🚀 orders", "日本語"], ids=["50-accented", "emoji", "3-cjk"])
def test_names_count_characters_not_bytes(conns, name):
    cid = new_id()
    conns.create_ok(cid, settings=idle_sink(), name=name)
    assert conns.get_ok(cid)["name"] == name


def test_rename_counts_characters_not_bytes(conns):
    cid = new_id()
    conns.create_ok(cid, settings=idle_sink(), name="plain")
    r = conns.rename(cid, "ü" * 40)
    assert r.status_code == 200, describe(r)
    assert conns.get_ok(cid)["name"] == "ü" * 40


def test_a_two_character_name_of_multibyte_characters_is_refused(conns):
    r = conns.create(new_id(), settings=idle_sink(), name="日本")
    assert_connector_error(r, 400, GRPC_INVALID_ARGUMENT, fields=["name"])


@pytest.mark.parametrize("name", ["abc", "m" * 50])
def test_create_accepts_names_of_3_and_50_chars(conns, name):
    cid = new_id()
    conns.create_ok(cid, settings=idle_sink(), name=name)
    assert conns.get_ok(cid)["name"] == name


def test_invalid_settings_are_refused_with_every_violation_listed(conns):
    cid = new_id()
    settings = idle_sink()
    del settings["url"]
    settings["method"] = "FETCH"
    settings["autocommit:interval"] = "soon"
    settings["resilience:enabled"] = "perhaps"
    r = conns.create(cid, settings=settings)
    body = assert_connector_error(r, 400, GRPC_INVALID_ARGUMENT,
                                  fields=["url", "method", "autocommit:interval", "resilience:enabled"])
    assert len(body["details"]) >= 4, describe(r)
    assert conns.settings(cid).status_code == 404, "nothing was created"


def test_an_unknown_instance_type_is_refused(conns):
    cid = new_id()
    settings = idle_sink()
    settings["instanceTypeName"] = "no-such-sink"
    r = conns.create(cid, settings=settings)
    body = assert_connector_error(r, 400, GRPC_INVALID_ARGUMENT, fields=["instanceTypeName"])
    assert "no-such-sink" in json.dumps(body) or detail_for(body, "instanceTypeName"), describe(r)


def test_a_missing_instance_type_is_refused(conns):
    settings = idle_sink()
    del settings["instanceTypeName"]
    r = conns.create(new_id(), settings=settings)
    assert_connector_error(r, 400, GRPC_INVALID_ARGUMENT, fields=["instanceTypeName"])


def test_create_without_any_settings_is_refused(conns):
    r = conns.create(new_id(), raw={"name": "nothing at all"})
    assert_connector_error(r, 400, GRPC_INVALID_ARGUMENT)


def test_an_unknown_setting_is_refused_with_its_key_named(conns):
    settings = idle_sink()
    settings["subscription:filter:expresion"] = "typo"
    r = conns.create(new_id(), settings=settings)
    assert_connector_error(r, 400, GRPC_INVALID_ARGUMENT, fields=["subscription:filter:expresion"])


@pytest.mark.parametrize("body", [b"{not json", b"[]", b'{"settings": "url=x"}', b'{"name": 5, "settings": {}}'])
def test_a_malformed_create_body_is_refused_with_400_not_500(conns, body):
    r = conns.api.request("POST", conns.path(new_id()), data=body, headers={"Content-Type": "application/json"})
    assert_connector_error(r, 400, GRPC_INVALID_ARGUMENT)


def test_a_jsonpath_filter_is_refused_at_validation_with_a_clear_message(conns):
    settings = idle_sink()
    settings["subscription:filter:scope"] = "record"
    settings["subscription:filter:filterType"] = "jsonPath"
    settings["subscription:filter:expression"] = "$[?(@.value.total > 10)]"
    r = conns.create(new_id(), settings=settings)
    body = assert_connector_error(r, 400, GRPC_INVALID_ARGUMENT)
    fields = {d["field"].lower() for d in body["details"]}
    assert fields & {"subscription:filter:filtertype", "subscription:filter:expression"}, describe(r)
    assert "jsonpath" in json.dumps(body).lower(), f"the message does not say JSONPath is the problem: {describe(r)}"


def test_a_transformer_is_refused_at_validation_with_a_clear_message(conns):
    settings = idle_sink()
    settings["transformer:enabled"] = "true"
    settings["transformer:function"] = base64.b64encode(b"function transform(record) { }").decode()
    r = conns.create(new_id(), settings=settings)
    body = assert_connector_error(r, 400, GRPC_INVALID_ARGUMENT, fields=["transformer:enabled"])
    assert "transform" in detail_for(body, "transformer:enabled").lower() + body["message"].lower(), describe(r)


def test_keys_enum_values_and_sink_aliases_are_case_insensitive(conns):
    cid = new_id()
    settings = {
        "InstanceTypeName": "HttpSink",
        "URL": URL,
        "Subscription:Filter:Scope": "STREAM",
        "subscription:filter:FILTERTYPE": "Prefix",
        "subscription:filter:expression": f"none-{tag()}-",
        "Method": "put",
        "subscription:initialPosition": "Earliest",
    }
    r = conns.create(cid, settings=settings)
    assert r.status_code == 200, describe(r)
    assert conns.get_ok(cid)["instanceTypeName"].lower() in ("http-sink", "httpsink")


# ---------------------------------------------------------------------------
# reconfigure


def test_reconfigure_replaces_the_settings_and_bumps_the_update_time(conns):
    cid = new_id()
    conns.create_ok(cid, settings=idle_sink(**{"method": "PUT"}))
    before = conns.settings_ok(cid)
    new = idle_sink()
    new["url"] = "http://127.0.0.1:9/second"
    r = conns.reconfigure(cid, new)
    assert r.status_code == 200, describe(r)
    after = conns.settings_ok(cid)
    assert after["settings"] == new, "reconfigure replaces the whole map (method is gone)"
    assert after["settingsUpdateTime"] != before["settingsUpdateTime"]
    assert conns.get_ok(cid)["state"] == STOPPED, "reconfigure does not start the connector"


def test_reconfigure_with_a_nested_configuration(conns):
    cid = new_id()
    conns.create_ok(cid, settings=idle_sink())
    r = conns.reconfigure_nested(cid, {
        "instanceTypeName": "http-sink",
        "url": "http://127.0.0.1:9/nested",
        "subscription": {"filter": {"scope": "stream", "filterType": "prefix", "expression": "nested-"}},
        "autocommit": {"recordsThreshold": 7},
    })
    assert r.status_code == 200, describe(r)
    flat = conns.settings_ok(cid)["settings"]
    assert flat["url"] == "http://127.0.0.1:9/nested"
    assert flat["subscription:filter:expression"] == "nested-"
    assert flat["autocommit:recordsThreshold"] == "7"


def test_reconfigure_with_invalid_settings_is_refused_and_keeps_the_old_ones(conns):
    cid = new_id()
    settings = idle_sink()
    conns.create_ok(cid, settings=settings)
    bad = dict(settings)
    bad["method"] = "FETCH"
    del bad["url"]
    r = conns.reconfigure(cid, bad)
    assert_connector_error(r, 400, GRPC_INVALID_ARGUMENT, fields=["url", "method"])
    assert conns.settings_ok(cid)["settings"] == settings


def test_reconfigure_of_an_unknown_connector_answers_404(conns):
    assert_connector_error(conns.reconfigure(new_id(), idle_sink()), 404, GRPC_NOT_FOUND)


# ---------------------------------------------------------------------------
# start, stop, reset


def test_start_and_stop_are_visible_to_the_next_query(conns, logfile):
    cid = new_id()
    conns.create_ok(cid, settings=runnable(logfile))
    conns.start_ok(cid)
    assert conns.get_ok(cid)["state"] in (ACTIVATING, RUNNING)
    conns.wait_state(cid, RUNNING)
    conns.stop_ok(cid)
    assert conns.get_ok(cid)["state"] in (DEACTIVATING, STOPPED)
    conns.wait_state(cid, STOPPED)


def test_start_of_a_running_connector_is_a_no_op(conns, logfile):
    cid = new_id()
    conns.create_ok(cid, settings=runnable(logfile))
    before = conns.start_running(cid)
    r = conns.start(cid)
    assert r.status_code == 200, describe(r)
    after = conns.get_ok(cid)
    assert after["state"] == RUNNING
    assert after["stateUpdateTime"] == before["stateUpdateTime"], "a no-op changes nothing"


def test_stop_of_a_stopped_connector_is_a_no_op(conns):
    cid = new_id()
    conns.create_ok(cid, settings=idle_sink())
    before = conns.get_ok(cid)
    r = conns.stop(cid)
    assert r.status_code == 200, describe(r)
    after = conns.get_ok(cid)
    assert after["state"] == STOPPED
    assert after["stateUpdateTime"] == before["stateUpdateTime"], "a no-op changes nothing"


def test_start_at_a_position_is_accepted(conns, logfile):
    cid = new_id()
    conns.create_ok(cid, settings=runnable(logfile))
    head = conns.api.head_position() or 0
    r = conns.start(cid, head)
    assert r.status_code == 200, describe(r)
    conns.wait_state(cid, RUNNING)


@pytest.mark.parametrize("position", ["abc", "-5", "1.5"])
def test_start_at_a_position_that_is_not_a_number_is_refused(conns, position):
    cid = new_id()
    conns.create_ok(cid, settings=idle_sink())
    assert_connector_error(conns.start(cid, position), 400, GRPC_INVALID_ARGUMENT)
    assert conns.get_ok(cid)["state"] == STOPPED


def test_reset_of_a_running_connector_is_refused(conns, logfile):
    cid = new_id()
    conns.create_ok(cid, settings=runnable(logfile))
    conns.start_running(cid)
    assert_connector_error(conns.reset(cid), 400, BAD_REQUEST_CODES)
    assert conns.get_ok(cid)["state"] == RUNNING


def test_reset_of_a_stopped_connector_starts_it(conns, logfile):
    cid = new_id()
    conns.create_ok(cid, settings=runnable(logfile))
    r = conns.reset(cid)
    assert r.status_code == 200, describe(r)
    assert conns.get_ok(cid)["state"] in (ACTIVATING, RUNNING)
    conns.wait_state(cid, RUNNING)
    conns.stop_stopped(cid)
    r = conns.reset(cid, conns.api.head_position() or 0)
    assert r.status_code == 200, describe(r)
    conns.wait_state(cid, RUNNING)


def test_commands_on_an_unknown_connector_answer_404(conns):
    cid = new_id()
    for r in (conns.start(cid), conns.stop(cid), conns.reset(cid), conns.rename(cid, "new name"),
              conns.delete(cid), conns.settings(cid), conns.configuration(cid), conns.start(cid, 5),
              conns.reconfigure_nested(cid, {"instanceTypeName": "http-sink", "url": URL})):
        assert_connector_error(r, 404, GRPC_NOT_FOUND)
    assert conns.get(cid, show_deleted=True) is None


# ---------------------------------------------------------------------------
# rename and delete


def test_rename_changes_the_name_only(conns):
    cid = new_id()
    settings = idle_sink()
    conns.create_ok(cid, settings=settings, name="old name")
    r = conns.rename(cid, "new name")
    assert r.status_code == 200, describe(r)
    item = conns.get_ok(cid)
    assert item["name"] == "new name" and item["connectorId"] == cid and item["state"] == STOPPED
    assert conns.settings_ok(cid)["settings"] == settings


@pytest.mark.parametrize("name", ["ab", "x" * 51])
def test_rename_refuses_a_bad_name(conns, name):
    cid = new_id()
    conns.create_ok(cid, settings=idle_sink(), name="kept")
    assert_connector_error(conns.rename(cid, name), 400, GRPC_INVALID_ARGUMENT, fields=["name"])
    assert conns.get_ok(cid)["name"] == "kept"


def test_delete_of_a_running_connector_is_refused(conns, logfile):
    cid = new_id()
    conns.create_ok(cid, settings=runnable(logfile))
    conns.start_running(cid)
    assert_connector_error(conns.delete(cid), 400, BAD_REQUEST_CODES)
    assert conns.get_ok(cid)["state"] == RUNNING


def test_stop_then_delete_without_waiting_deletes_it(conns, logfile):
    """Commands apply in order per connector: a delete right after a stop sees a stopped connector."""
    cid = new_id()
    conns.create_ok(cid, settings=runnable(logfile))
    conns.start_running(cid)
    conns.stop_ok(cid)
    r = conns.delete(cid)
    assert r.status_code == 200, describe(r)


def test_a_deleted_connector_answers_404_and_is_listed_only_with_show_deleted(conns):
    cid = new_id()
    conns.create_ok(cid, settings=idle_sink())
    r = conns.delete(cid)
    assert r.status_code == 200, describe(r)
    assert r.json() == {}
    for resp in (conns.settings(cid), conns.configuration(cid), conns.start(cid), conns.rename(cid, "again"),
                 conns.reconfigure(cid, idle_sink())):
        assert_connector_error(resp, 404, GRPC_NOT_FOUND)
    assert conns.get(cid) is None, "the list hides deleted connectors"
    item = conns.get(cid, show_deleted=True)
    assert item is not None, "showDeleted=true lists it"
    assert item.get("deleteTime"), item


# ---------------------------------------------------------------------------
# settings, configuration and secrets


def test_get_configuration_answers_the_nested_form(conns):
    cid = new_id()
    settings = idle_sink(**{"autocommit:recordsThreshold": "10", "defaultHeaders:X-Team": "billing"})
    conns.create_ok(cid, settings=settings)
    r = conns.configuration(cid)
    assert r.status_code == 200, describe(r)
    conf = r.json()
    conf = conf.get("configuration", conf) if isinstance(conf, dict) else conf
    assert conf["instanceTypeName"] == "http-sink", conf
    assert conf["url"] == URL
    assert conf["subscription"]["filter"]["scope"] == "stream"
    assert conf["subscription"]["filter"]["expression"] == settings["subscription:filter:expression"]
    assert conf["autocommit"]["recordsThreshold"] == "10"
    assert conf["defaultHeaders"]["X-Team"] == "billing"


ADMIN_TOKEN = "admin-token-for-tests"


@pytest.fixture(scope="module")
def admin_server(tmp_path_factory):
    """A server of this module's own with an admin token, the only caller who may see secrets."""
    srv, data_dir = make_server(tmp_path_factory, "admin", extra_args=("--admin-token", ADMIN_TOKEN))
    srv.start()
    yield srv
    finish(srv, data_dir)


def masked_or_refused(resp, secret):
    """A non-admin asking for secrets gets them masked (200) or is refused (401/403); never in clear."""
    assert resp.status_code in (200, 401, 403), describe(resp)
    assert secret not in resp.text, f"a non-admin sees the secret: {describe(resp)}"


def test_secret_settings_are_masked_unless_an_admin_asks_with_show_secrets(admin_server):
    conns = ConnectorsApi(admin_server.base_url)
    cid = new_id()
    settings = idle_sink(**{
        "authentication:method": "basic",
        "authentication:basic:username": "ann",
        "authentication:basic:password": "s3cret-pw",
    })
    conns.create_ok(cid, settings=settings)
    shown = conns.settings_ok(cid)
    assert shown["settings"]["authentication:basic:password"] == "***"
    assert shown["settings"]["authentication:basic:username"] == "ann", "only secrets are masked"
    assert "s3cret-pw" not in json.dumps(shown)

    masked_or_refused(conns.settings(cid, show_secrets=True), "s3cret-pw")
    masked_or_refused(conns.settings(cid, show_secrets=True, token="wrong-token"), "s3cret-pw")
    masked_or_refused(conns.configuration(cid, show_secrets=True), "s3cret-pw")
    assert conns.settings_ok(cid, token=ADMIN_TOKEN)["settings"]["authentication:basic:password"] == "***", \
        "the admin sees secrets only when asking for them"
    clear = conns.settings_ok(cid, show_secrets=True, token=ADMIN_TOKEN)
    assert clear["settings"] == settings

    conf = conns.configuration(cid)
    assert conf.status_code == 200, describe(conf)
    assert "s3cret-pw" not in conf.text and "***" in conf.text, conf.text
    conf = conns.configuration(cid, show_secrets=True, token=ADMIN_TOKEN)
    assert conf.status_code == 200 and "s3cret-pw" in conf.text, describe(conf)

    listed = conns.get_ok(cid, include_settings=True)
    assert listed["settings"]["authentication:basic:password"] == "***"
    r = conns.list(connectorId=cid, includeSettings=True, showSecrets=True)
    assert r.status_code in (200, 401, 403) and "s3cret-pw" not in r.text, describe(r)


def test_a_bearer_token_is_masked_too(admin_server):
    conns = ConnectorsApi(admin_server.base_url)
    cid = new_id()
    conns.create_ok(cid, settings=idle_sink(**{"authentication:method": "bearer",
                                               "authentication:bearer:token": "tok-123456"}))
    assert conns.settings_ok(cid)["settings"]["authentication:bearer:token"] == "***"
    masked_or_refused(conns.settings(cid, show_secrets=True), "tok-123456")
    shown = conns.settings_ok(cid, show_secrets=True, token=ADMIN_TOKEN)
    assert shown["settings"]["authentication:bearer:token"] == "tok-123456"


def test_secrets_are_masked_on_a_server_without_an_admin_token(conns):
    cid = new_id()
    conns.create_ok(cid, settings=idle_sink(**{"authentication:method": "bearer",
                                               "authentication:bearer:token": "no-admin-here"}))
    masked_or_refused(conns.settings(cid, show_secrets=True), "no-admin-here")
    masked_or_refused(conns.settings(cid, show_secrets=True, token="anything"), "no-admin-here")


def test_reconfigure_keeps_a_secret_out_of_every_answer(conns):
    cid = new_id()
    conns.create_ok(cid, settings=idle_sink())
    new = idle_sink(**{"authentication:method": "bearer", "authentication:bearer:token": "rotated-777"})
    r = conns.reconfigure(cid, new)
    assert r.status_code == 200 and "rotated-777" not in r.text, describe(r)
    assert "rotated-777" not in conns.list(includeSettings=True, connectorId=cid).text


# ---------------------------------------------------------------------------
# errors


def test_error_bodies_carry_a_grpc_code_a_message_and_details(conns):
    body = assert_connector_error(conns.settings(new_id()), 404, GRPC_NOT_FOUND)
    assert "details" not in body or isinstance(body["details"], list)
    settings = idle_sink()
    settings["url"] = "not a url"
    body = assert_connector_error(conns.create(new_id(), settings=settings), 400, GRPC_INVALID_ARGUMENT,
                                  fields=["url"])
    assert detail_for(body, "url")


# ---------------------------------------------------------------------------
# list


def test_list_filters_pages_and_counts_total_matches(fresh_conns, tmp_path):
    c = fresh_conns
    http_ids = [f"http-{i}-{tag()[:4]}" for i in range(5)]
    log_ids = [f"logs-{i}-{tag()[:4]}" for i in range(3)]
    for cid in http_ids:
        c.create_ok(cid, settings=idle_sink())
    for k, cid in enumerate(log_ids):
        c.create_ok(cid, settings=log_sink(tmp_path / f"{k}.log", prefix=f"none-{tag()}-"))
    for cid in log_ids[:2]:
        c.start_running(cid)
    everyone = set(http_ids) | set(log_ids)

    body = c.list_ok()
    assert {i["connectorId"] for i in body["items"]} == everyone
    assert as_int(body["totalSize"]) == 8
    assert all(i["state"] in STATES for i in body["items"])
    assert all(not i.get("settings") for i in body["items"]), "settings only with includeSettings"

    body = c.list_ok(includeSettings=True)
    assert all(i["settings"]["instanceTypeName"] for i in body["items"])

    body = c.list_ok(state=RUNNING)
    assert {i["connectorId"] for i in body["items"]} == set(log_ids[:2])
    assert as_int(body["totalSize"]) == 2
    body = c.list_ok(state=STOPPED)
    assert {i["connectorId"] for i in body["items"]} == set(http_ids) | {log_ids[2]}

    body = c.list_ok(instanceTypeName="serilog-sink")
    assert {i["connectorId"] for i in body["items"]} == set(log_ids)
    assert as_int(body["totalSize"]) == 3

    body = c.list_ok(connectorId=http_ids[3])
    assert [i["connectorId"] for i in body["items"]] == [http_ids[3]]
    assert as_int(body["totalSize"]) == 1

    seen = []
    for page in (1, 2, 3):
        body = c.list_ok(page=page, pageSize=3)
        assert as_int(body["totalSize"]) == 8, "totalSize counts every match, not the page"
        assert len(body["items"]) == (3 if page < 3 else 2), body
        seen += [i["connectorId"] for i in body["items"]]
    assert sorted(seen) == sorted(everyone), "pages neither repeat nor skip"
    body = c.list_ok(page=4, pageSize=3)
    assert body["items"] == [] and as_int(body["totalSize"]) == 8

    c.stop_stopped(log_ids[0])
    assert c.delete(log_ids[0]).status_code == 200
    body = c.list_ok()
    assert as_int(body["totalSize"]) == 7 and log_ids[0] not in {i["connectorId"] for i in body["items"]}
    body = c.list_ok(showDeleted=True)
    assert as_int(body["totalSize"]) == 8


@pytest.mark.parametrize("params", [{"page": "x"}, {"pageSize": "many"}, {"state": "CONNECTOR_STATE_NAPPING"}])
def test_list_refuses_bad_parameters(conns, params):
    assert_connector_error(conns.list(**params), 400, GRPC_INVALID_ARGUMENT)


def test_the_list_shows_every_field_of_a_connector(conns, logfile):
    cid = new_id()
    settings = runnable(logfile)
    conns.create_ok(cid, settings=settings, name="all the fields")
    conns.start_running(cid)
    item = conns.get_ok(cid)
    for key in ("connectorId", "instanceTypeName", "name", "state", "stateUpdateTime", "settingsUpdateTime",
                "createTime", "updateTime"):
        assert key in item, f"no {key} in {item}"
    assert not item.get("errorDetails"), item
    ack = conns.api.append_ok(settings["subscription:filter:expression"] + "s", [{"eventType": "Nudge", "data": {}}])
    item = conns.wait_position(cid, ack["position"])
    assert item.get("positionUpdateTime"), item
