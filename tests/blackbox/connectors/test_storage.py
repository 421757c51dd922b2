"""Connectors kept in the store (spec/connectors.md §4): event-sourced definitions, checkpoints, and
what survives a restart."""

import json
import time

import pytest

from sluice_client import describe, event

from .connectors_client import (
    CHECKPOINT_TYPE,
    MNGT,
    RUNNING,
    STOPPED,
    ConnectorsApi,
    as_int,
    delivered_positions,
    http_sink,
    log_events,
    new_id,
    read_connector_stream,
    tag,
)


def types_of(evs):
    return [e["eventType"] for e in evs]


def assert_subsequence(wanted, got):
    it = iter(got)
    missing = [w for w in wanted if not any(g == w for g in it)]
    assert not missing, f"{wanted} is not in order in {got}"


def checkpoint_position(ev):
    """The committed log position an `$conn-ctrl-checkpoint` event holds (a number somewhere in its data)."""
    data = ev["data"]
    if isinstance(data, (int, str)):
        return as_int(data, "checkpoint data")
    assert isinstance(data, dict), ev

    def numbers(obj):
        for k, v in obj.items():
            if isinstance(v, dict):
                yield from numbers(v)
            elif "position" in k.lower() or k.lower() in ("commit", "prepare"):
                yield as_int(v, k)

    found = list(numbers(data))
    assert found, f"no position in checkpoint {json.dumps(ev)[:400]}"
    return max(found)


def test_management_commands_are_stored_as_events_in_the_connector_stream(conns, receiver):
    cid = new_id()
    t = tag()
    conns.create_ok(cid, settings=http_sink(receiver.url, prefix=f"ev-{t}-"))
    assert types_of(read_connector_stream(conns.api, cid)) == [MNGT + "created"]
    assert conns.reconfigure(cid, http_sink(receiver.url_for("/v2"), prefix=f"ev-{t}-")).status_code == 200
    conns.start_running(cid)
    assert conns.rename(cid, "renamed one").status_code == 200
    conns.stop_stopped(cid)
    assert conns.delete(cid).status_code == 200

    evs = read_connector_stream(conns.api, cid)
    assert evs, "no $connectors/{id} stream"
    assert all(e["streamId"] == f"$connectors/{cid}" for e in evs)
    assert_subsequence([MNGT + s for s in ("created", "reconfigured", "activating", "running", "renamed",
                                           "deactivating", "stopped", "deleted")], types_of(evs))
    assert all(e["eventType"].startswith(MNGT) for e in evs), types_of(evs)
    created = evs[0]
    assert created["eventType"] == MNGT + "created"
    assert receiver.url in json.dumps(created["data"]), f"the created event holds the settings: {created}"


def test_the_connector_stream_is_addressed_with_a_percent_encoded_slash(conns, receiver):
    cid = new_id()
    conns.create_ok(cid, settings=http_sink(receiver.url, prefix=f"enc-{tag()}-"))
    r = conns.api.get(f"/streams/%24connectors%2F{cid}", params={"from": "start", "count": 10})
    assert r.status_code == 200, describe(r)
    assert [e["eventType"] for e in r.json()["events"]] == [MNGT + "created"]


@pytest.mark.time_limit(90)
def test_checkpoints_hold_the_committed_position_and_keep_at_most_10(conns, receiver):
    cid = new_id()
    t = tag()
    prefix = f"cp-{t}-"
    conns.create_ok(cid, settings=http_sink(receiver.url, prefix=prefix, **{"autocommit:recordsThreshold": 10}))
    conns.start_running(cid)
    for i in range(20):
        conns.api.append_ok(f"{prefix}{i % 3}", [event("Tick", {"i": i, "k": k}) for k in range(10)])
    expected = log_events(conns.api, prefix)
    receiver.wait_for(len(expected), timeout=60)
    last = expected[-1]["position"]
    item = conns.wait_position(cid, last)

    cps = read_connector_stream(conns.api, cid, "/checkpoints")
    assert cps, "no checkpoints stream"
    assert all(e["eventType"] == CHECKPOINT_TYPE for e in cps), types_of(cps)
    meta = conns.api.get_metadata(f"$connectors/{cid}/checkpoints")
    assert meta.status_code == 200, describe(meta)
    assert meta.json().get("$maxCount") == 10, meta.json()
    assert len(cps) <= 10, f"{len(cps)} checkpoints readable; $maxCount is 10"
    head = conns.api.read_ok(f"$connectors/{cid}/checkpoints", **{"from": "end", "direction": "backwards",
                                                                   "count": 1})["events"][0]
    assert head["revision"] >= 10, "200 records with a threshold of 10 make more than 10 checkpoints"
    positions = [checkpoint_position(e) for e in cps]
    assert positions == sorted(positions), "checkpoints only move forwards"
    assert positions[-1] >= last
    assert as_int(item["position"]) >= last


def test_a_checkpoint_is_committed_when_the_connector_catches_up(conns, receiver):
    cid = new_id()
    prefix = f"cu-{tag()}-"
    conns.create_ok(cid, settings=http_sink(receiver.url, prefix=prefix, **{
        "autocommit:interval": "60000", "autocommit:recordsThreshold": "1000"}))
    conns.start_running(cid)
    ack = conns.api.append_ok(prefix + "1", [event("E", {"k": k}) for k in range(5)])
    receiver.wait_for(5, timeout=20)
    t0 = time.monotonic()
    item = conns.wait_position(cid, ack["position"], timeout=5)
    print(f"checkpoint committed {time.monotonic() - t0:.2f} s after the last delivery")
    assert item.get("positionUpdateTime"), item


def test_a_checkpoint_moves_through_a_long_run_of_non_matching_events(conns, receiver):
    cid = new_id()
    t = tag()
    conns.create_ok(cid, settings=http_sink(receiver.url, prefix=f"rare-{t}-"))
    conns.start_running(cid)
    conns.api.append_ok(f"rare-{t}-1", [event("Rare")])
    receiver.wait_for(1, timeout=20)
    last = None
    for i in range(30):
        last = conns.api.append_ok(f"common-{t}-{i}", [event("Common", {"i": i, "k": k}) for k in range(20)])
    conns.wait_position(cid, last["position"], timeout=30)
    assert receiver.count() == 1


def test_an_idle_connector_writes_no_checkpoints(fresh_server, receiver):
    conns = ConnectorsApi(fresh_server.base_url)
    cid = new_id()
    prefix = f"idle-{tag()}-"
    conns.create_ok(cid, settings=http_sink(receiver.url, prefix=prefix, **{"autocommit:interval": "200"}))
    conns.start_running(cid)
    ack = conns.api.append_ok(prefix + "1", [event("Once")])
    receiver.wait_for(1, timeout=20)
    conns.wait_position(cid, ack["position"])
    time.sleep(0.5)
    before = read_connector_stream(conns.api, cid, "/checkpoints")
    time.sleep(2.0)  # ten autocommit intervals
    after = read_connector_stream(conns.api, cid, "/checkpoints")
    assert [e["eventId"] for e in after] == [e["eventId"] for e in before], \
        f"an idle connector wrote {len(after) - len(before)} checkpoint(s)"


@pytest.mark.time_limit(120)
def test_a_restart_keeps_every_connector_and_running_ones_run_again(fresh_server, receiver, tmp_path):
    c = ConnectorsApi(fresh_server.base_url)
    t = tag()
    prefix = f"rs-{t}-"
    running, stopped, renamed, deleted = (new_id("run"), new_id("stp"), new_id("ren"), new_id("del"))
    settings = {cid: http_sink(receiver.url_for("/" + cid), prefix=prefix) for cid in (running, stopped, renamed,
                                                                                       deleted)}
    for cid in (running, stopped, renamed, deleted):
        c.create_ok(cid, settings=settings[cid], name=f"name of {cid}")
    assert c.reconfigure(stopped, dict(settings[stopped], **{"method": "PUT"})).status_code == 200
    settings[stopped]["method"] = "PUT"
    c.start_running(running)
    c.start_running(renamed)
    assert c.rename(renamed, "after rename").status_code == 200
    assert c.delete(deleted).status_code == 200

    for i in range(10):
        c.api.append_ok(f"{prefix}{i}", [event("Before", {"i": i})])
    on_running = lambda r: r.path == "/" + running  # noqa: E731
    receiver.wait_for(10, timeout=30, predicate=lambda r: r.is_delivered and on_running(r))
    before = {cid: c.get_ok(cid, include_settings=True, show_deleted=True) for cid in (running, stopped, renamed,
                                                                                        deleted)}

    fresh_server.restart()
    c = ConnectorsApi(fresh_server.base_url)

    c.wait_state(running, RUNNING, timeout=30)
    c.wait_state(renamed, RUNNING, timeout=30)
    assert c.get_ok(stopped)["state"] == STOPPED
    assert c.get(deleted) is None and c.get(deleted, show_deleted=True) is not None
    times_changed = []
    for cid in (running, stopped, renamed):
        assert c.settings_ok(cid)["settings"] == settings[cid]
        after = c.get_ok(cid)
        assert after["name"] == before[cid]["name"]
        for key in ("createTime", "settingsUpdateTime"):
            if after[key] != before[cid][key]:
                times_changed.append(f"{cid} {key}: {before[cid][key]} before, {after[key]} after")
    assert c.get_ok(renamed)["name"] == "after rename"

    for i in range(10):
        c.api.append_ok(f"{prefix}{i}", [event("After", {"i": i})])
    expected = [e["position"] for e in log_events(c.api, prefix)]
    receiver.wait_until(
        lambda reqs: len({r.headers.get("esdb-record-log-position") for r in reqs
                          if r.is_delivered and on_running(r)}) >= 20,
        timeout=30, what="20 distinct records on the running connector")
    positions = delivered_positions([r for r in receiver.delivered() if on_running(r)])
    assert sorted(set(positions)) == expected, "the running connector delivers from its checkpoint on"
    assert not [r for r in receiver.delivered() if r.path in ("/" + stopped, "/" + deleted)]
    assert not times_changed, "a restart changes recorded times:\n" + "\n".join(times_changed)


@pytest.mark.time_limit(60)
def test_connector_commands_stay_consistent_after_many_quick_commands(conns):
    """Commands apply in order: a burst of start/stop on one connector ends in the last one's state."""
    cid = new_id()
    conns.create_ok(cid, settings=http_sink("http://127.0.0.1:9/", prefix=f"none-{tag()}-"))
    for _ in range(5):
        assert conns.start(cid).status_code == 200
        assert conns.stop(cid).status_code == 200
    conns.wait_state(cid, STOPPED)
    time.sleep(0.5)
    assert conns.get_ok(cid)["state"] == STOPPED


@pytest.mark.time_limit(120)
def test_many_connectors_survive_a_restart(fresh_server, tmp_path):
    c = ConnectorsApi(fresh_server.base_url)
    ids = [f"many-{k:02d}-{tag()[:6]}" for k in range(60)]
    for k, cid in enumerate(ids):
        c.create_ok(cid, settings={"instanceTypeName": "serilog-sink", "path": str(tmp_path / f"{k}.log"),
                                   "subscription:filter:scope": "stream",
                                   "subscription:filter:filterType": "prefix",
                                   "subscription:filter:expression": f"none-{k}-"}, name=f"connector {k}")
    for cid in ids[:10]:
        c.start_running(cid)
    for cid in ids[50:]:
        assert c.delete(cid).status_code == 200
    fresh_server.restart()
    c = ConnectorsApi(fresh_server.base_url)
    body = c.list_ok(pageSize=100)
    assert as_int(body["totalSize"]) == 50
    assert sorted(i["connectorId"] for i in body["items"]) == sorted(ids[:50])
    for cid in ids[:10]:
        c.wait_state(cid, RUNNING, timeout=30)
    assert {i["connectorId"] for i in c.list_ok(state=STOPPED, pageSize=100)["items"]} == set(ids[10:50])
    assert as_int(c.list_ok(showDeleted=True)["totalSize"]) == 60
