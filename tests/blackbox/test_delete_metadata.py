"""Deleting streams (soft and tombstone) and stream metadata."""

import datetime
import time

import pytest

from sluice_client import assert_error, describe, event, events, unique

BAD_INPUT = ("invalid-argument", "invalid-json")


def created_at(e):
    return datetime.datetime.fromisoformat(e["created"].replace("Z", "+00:00")).timestamp()


# -- soft delete ---------------------------------------------------------------


def test_soft_deleted_stream_reads_as_not_found(api):
    s = unique("soft")
    api.append_ok(s, events(3))
    r = api.delete(s)
    assert r.status_code == 204, describe(r)
    assert r.content == b""
    assert_error(api.read(s), 404, "stream-not-found")
    assert_error(api.read(s, direction="backwards"), 404, "stream-not-found")


def test_append_after_soft_delete_brings_the_stream_back_with_continuing_revisions(api):
    s = unique("soft")
    api.append_ok(s, events(3))
    assert api.delete(s).status_code == 204
    back = event("Back")
    body = api.append_ok(s, [back])
    assert body["nextExpectedRevision"] == 3
    read = api.read_ok(s)["events"]
    assert read[-1]["eventId"] == back["eventId"]
    assert read[-1]["revision"] == 3
    assert read[-1]["position"] == body["position"]


def test_events_from_before_a_soft_delete_stay_hidden_after_the_stream_comes_back(api):
    s = unique("soft")
    api.append_ok(s, events(3))
    assert api.delete(s).status_code == 204
    api.append_ok(s, events(1))
    assert api.revisions(s) == [3]


def test_append_with_no_stream_to_a_soft_deleted_stream_is_written(api):
    s = unique("soft")
    api.append_ok(s, events(2))
    assert api.delete(s).status_code == 204
    assert api.append_ok(s, events(1), expected="no_stream")["nextExpectedRevision"] == 2


def test_deleting_a_missing_stream_answers_not_found(api):
    assert_error(api.delete(unique("missing")), 404, "stream-not-found")


def test_soft_delete_with_stale_expected_revision_is_refused_and_deletes_nothing(api):
    s = unique("soft")
    api.append_ok(s, events(3))
    body = assert_error(api.delete(s, expected=1), 409, "wrong-expected-version")
    assert body["expected"] == "1"
    assert body["actual"] == 2
    assert api.revisions(s) == [0, 1, 2]


def test_soft_delete_with_matching_expected_revision_deletes(api):
    s = unique("soft")
    api.append_ok(s, events(3))
    r = api.delete(s, expected=2)
    assert r.status_code == 204, describe(r)
    assert_error(api.read(s), 404, "stream-not-found")


def test_tombstone_with_stale_expected_revision_is_refused_and_the_stream_lives_on(api):
    s = unique("hard")
    api.append_ok(s, events(2))
    body = assert_error(api.delete(s, hard=True, expected=0), 409, "wrong-expected-version")
    assert body["actual"] == 1
    assert api.append_ok(s, events(1))["nextExpectedRevision"] == 2


# -- tombstone -----------------------------------------------------------------


def test_tombstoned_stream_answers_stream_deleted_to_reads_and_appends(api):
    s = unique("hard")
    api.append_ok(s, events(2))
    r = api.delete(s, hard=True)
    assert r.status_code == 204, describe(r)
    assert_error(api.read(s), 410, "stream-deleted")
    assert_error(api.append(s, events(1)), 410, "stream-deleted")
    assert_error(api.append(s, events(1), expected="no_stream"), 410, "stream-deleted")


def test_tombstone_of_a_soft_deleted_stream_is_permanent(api):
    s = unique("hard")
    api.append_ok(s, events(1))
    assert api.delete(s).status_code == 204
    assert api.delete(s, hard=True).status_code == 204
    assert_error(api.read(s), 410, "stream-deleted")
    assert_error(api.append(s, events(1)), 410, "stream-deleted")


def test_deletes_survive_graceful_and_hard_restarts(fresh_server):
    api = fresh_server.api
    tomb, soft, kept = unique("hard"), unique("soft"), unique("kept")
    for s in (tomb, soft, kept):
        api.append_ok(s, events(2))
    assert api.delete(tomb, hard=True).status_code == 204
    assert api.delete(soft).status_code == 204
    for hard in (False, True):
        fresh_server.restart(hard=hard)
        api = fresh_server.api
        assert_error(api.read(tomb), 410, "stream-deleted")
        assert_error(api.append(tomb, events(1)), 410, "stream-deleted")
        assert_error(api.read(soft), 404, "stream-not-found")
        assert api.revisions(kept) == [0, 1]
    assert api.append_ok(soft, events(1))["nextExpectedRevision"] == 2


# -- metadata ------------------------------------------------------------------


def test_metadata_of_a_stream_without_any_is_an_empty_object(api):
    s = unique("meta")
    api.append_ok(s, events(1))
    r = api.get_metadata(s)
    assert r.status_code == 200, describe(r)
    assert r.json() == {}


def test_metadata_written_is_read_back_with_custom_keys_kept(api):
    s = unique("meta")
    api.append_ok(s, events(1))
    meta = {"$maxCount": 10, "$maxAge": 3600, "$tb": 0, "owner": "team-a", "nested": {"x": [1, 2]}}
    r = api.put_metadata(s, meta)
    assert r.status_code == 201, describe(r)
    body = r.json()
    assert body["nextExpectedRevision"] == 0
    assert isinstance(body["position"], int) and body["position"] >= 1
    got = api.get_metadata(s)
    assert got.status_code == 200, describe(got)
    assert got.json() == meta


def test_metadata_rewritten_replaces_the_previous_and_advances_the_metadata_stream(api):
    s = unique("meta")
    api.append_ok(s, events(1))
    assert api.put_metadata(s, {"a": 1}).status_code == 201
    r = api.put_metadata(s, {"b": 2})
    assert r.status_code == 201, describe(r)
    assert r.json()["nextExpectedRevision"] == 1
    assert api.get_metadata(s).json() == {"b": 2}


def test_metadata_is_stored_as_events_of_the_metadata_stream(api):
    s = unique("meta")
    api.append_ok(s, events(1))
    api.put_metadata(s, {"v": 1})
    second = api.put_metadata(s, {"v": 2}).json()
    read = api.read_ok("$$" + s)["events"]
    assert [e["data"] for e in read] == [{"v": 1}, {"v": 2}]
    assert [e["streamId"] for e in read] == ["$$" + s] * 2
    assert read[-1]["position"] == second["position"]


def test_metadata_write_with_expected_revision_applies_to_the_metadata_stream(api):
    s = unique("meta")
    api.append_ok(s, events(3))
    assert api.put_metadata(s, {"v": 1}, expected="no_stream").status_code == 201
    body = assert_error(api.put_metadata(s, {"v": 2}, expected="no_stream"), 409, "wrong-expected-version")
    assert body["actual"] == 0
    assert api.put_metadata(s, {"v": 3}, expected=0).status_code == 201
    assert api.get_metadata(s).json() == {"v": 3}


def test_max_count_keeps_only_the_newest_events_visible(api):
    s = unique("maxcount")
    api.append_ok(s, events(5))
    assert api.put_metadata(s, {"$maxCount": 2}).status_code == 201
    assert api.revisions(s) == [3, 4]
    assert [e["revision"] for e in api.read_ok(s, direction="backwards")["events"]] == [4, 3]
    api.append_ok(s, events(1))
    assert api.revisions(s) == [4, 5]


def test_truncate_before_hides_the_earlier_revisions(api):
    s = unique("tb")
    api.append_ok(s, events(5))
    assert api.put_metadata(s, {"$tb": 3}).status_code == 201
    assert api.revisions(s) == [3, 4]
    assert [e["revision"] for e in api.read_ok(s, direction="backwards", count=10)["events"]] == [4, 3]


@pytest.mark.time_limit(30)
def test_max_age_hides_events_older_than_the_age(api):
    s = unique("maxage")
    api.append_ok(s, events(2))
    assert api.put_metadata(s, {"$maxAge": 1}).status_code == 201
    old = api.read_ok(s)["events"]
    assert [e["revision"] for e in old] == [0, 1], "events younger than $maxAge must stay visible"
    # The age is a matter of wall-clock time: wait until the first events are well past it.
    wait_until = created_at(old[-1]) + 2.5
    while time.time() < wait_until:
        time.sleep(min(0.1, max(0.0, wait_until - time.time())))
    fresh = event("Fresh")
    api.append_ok(s, [fresh])
    read = api.read_ok(s)["events"]
    assert [e["eventId"] for e in read] == [fresh["eventId"]]
    assert read[0]["revision"] == 2


METADATA_ERRORS = {
    "$maxCount -1": ({"$maxCount": -1}, "$maxCount"),
    "$maxCount 0": ({"$maxCount": 0}, "$maxCount"),
    "$maxCount a string": ({"$maxCount": "5"}, "$maxCount"),
    "$maxCount a fraction": ({"$maxCount": 1.5}, "$maxCount"),
    "$maxAge 0": ({"$maxAge": 0}, "$maxAge"),
    "$maxAge a string": ({"$maxAge": "1h"}, "$maxAge"),
    "$tb -1": ({"$tb": -1}, "$tb"),
    "$tb a string": ({"$tb": "3"}, "$tb"),
    "an array": ([{"$maxCount": 1}], None),
    "a JSON string": ('"meta"', None),
    "invalid JSON": ('{"$maxCount": ', None),
}


@pytest.mark.parametrize("case", list(METADATA_ERRORS), ids=list(METADATA_ERRORS))
def test_invalid_metadata_is_refused_and_the_old_metadata_stays(api, case):
    meta, key = METADATA_ERRORS[case]
    s = unique("badmeta")
    api.append_ok(s, events(3))
    assert api.put_metadata(s, {"keep": True}).status_code == 201
    body = assert_error(api.put_metadata(s, meta), 400, BAD_INPUT)
    if key is not None:
        assert key in body.get("field", ""), f"field should name {key}: {body}"
    assert api.get_metadata(s).json() == {"keep": True}
    assert api.revisions(s) == [0, 1, 2]
