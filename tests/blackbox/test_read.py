"""Reading streams and the log: GET /streams/{stream} and GET /streams/$all."""

import datetime
import re

import pytest

from conftest import finish, make_server
from sluice_client import JSON, RFC3339_MICROS, EVENT_FIELDS, assert_error, event, events, unique

BAD_INPUT = ("invalid-argument", "invalid-json")


@pytest.fixture(scope="module")
def stream25(server):
    """A stream of 25 events, revisions 0..24, with data {"n": revision}."""
    api = server.api
    s = unique("read25")
    api.append_ok(s, events(10))
    api.append_ok(s, events(15, start=10))
    return s


def revs(page):
    return [e["revision"] for e in page["events"]]


# -- one stream ----------------------------------------------------------------


def test_read_forwards_by_default_returns_the_first_twenty_events_and_the_next_revision(api, stream25):
    page = api.read_ok(stream25)
    assert revs(page) == list(range(20))
    assert [e["data"] for e in page["events"]] == [{"n": i} for i in range(20)]
    assert page["next"] == 20


def test_read_forwards_from_a_revision_returns_the_rest_and_next_null(api, stream25):
    page = api.read_ok(stream25, **{"from": 20})
    assert revs(page) == [20, 21, 22, 23, 24]
    assert page["next"] is None


def test_read_forwards_from_start_with_count_returns_that_many(api, stream25):
    page = api.read_ok(stream25, **{"from": "start", "count": 3})
    assert revs(page) == [0, 1, 2]
    assert page["next"] == 3


def test_read_with_count_from_a_middle_revision_includes_that_revision(api, stream25):
    page = api.read_ok(stream25, **{"from": 5, "count": 3, "direction": "forwards"})
    assert revs(page) == [5, 6, 7]
    assert page["next"] == 8


def test_read_backwards_by_default_starts_at_the_last_event(api, stream25):
    page = api.read_ok(stream25, direction="backwards")
    assert revs(page) == list(range(24, 4, -1))
    assert page["next"] == 4


def test_read_backwards_from_end_with_count_returns_the_newest_events(api, stream25):
    page = api.read_ok(stream25, **{"from": "end", "direction": "backwards", "count": 2})
    assert revs(page) == [24, 23]
    assert page["next"] == 22


def test_read_backwards_from_a_revision_includes_it_and_ends_with_next_null(api, stream25):
    page = api.read_ok(stream25, **{"from": 4, "direction": "backwards", "count": 10})
    assert revs(page) == [4, 3, 2, 1, 0]
    assert page["next"] is None


def test_following_next_forwards_visits_every_event_once(api, stream25):
    assert [e["revision"] for e in api.read_everything(stream25, count=7)] == list(range(25))


def test_following_next_backwards_visits_every_event_once(api, stream25):
    got = api.read_everything(stream25, direction="backwards", count=7)
    assert [e["revision"] for e in got] == list(range(24, -1, -1))


def test_read_forwards_past_the_last_revision_returns_no_events(api, stream25):
    page = api.read_ok(stream25, **{"from": 100})
    assert page["events"] == []
    assert page["next"] is None


def test_read_of_a_missing_stream_answers_stream_not_found(api):
    assert_error(api.read(unique("missing")), 404, "stream-not-found")


def test_read_of_a_tombstoned_stream_answers_stream_deleted(api):
    s = unique()
    api.append_ok(s, events(2))
    assert api.delete(s, hard=True).status_code == 204
    assert_error(api.read(s), 410, "stream-deleted")
    assert_error(api.read(s, direction="backwards"), 410, "stream-deleted")


@pytest.mark.parametrize(
    "params,field",
    [
        ({"from": "abc"}, "from"),
        ({"from": "-1"}, "from"),
        ({"from": "1.5"}, "from"),
        ({"count": "abc"}, "count"),
        ({"count": "-1"}, "count"),
        ({"direction": "sideways"}, "direction"),
    ],
    ids=["from abc", "from -1", "from 1.5", "count abc", "count -1", "direction sideways"],
)
def test_stream_read_with_a_bad_parameter_is_refused_naming_it(api, stream25, params, field):
    assert_error(api.read(stream25, **params), 400, BAD_INPUT, field=field)


@pytest.mark.parametrize(
    "path", ["/streams/bad%FFname", "/streams/bad%00name", "/streams/" + "a" * 1025], ids=["invalid UTF-8", "NUL", "1025 bytes"]
)
def test_read_of_an_invalid_stream_name_is_refused_naming_the_stream(api, path):
    assert_error(api.get(path), 400, BAD_INPUT, field="stream")


def test_event_as_read_has_every_documented_field(api):
    s = unique("shape")
    before = datetime.datetime.now(datetime.timezone.utc)
    sent = event("ShapeChecked", data={"k": [1, "two"]}, metadata={"trace": "abc"})
    body = api.append_ok(s, [sent])
    after = datetime.datetime.now(datetime.timezone.utc)
    e = api.read_ok(s)["events"][0]
    for field in EVENT_FIELDS:
        assert field in e, f"{field} missing from {e}"
    assert e["streamId"] == s
    assert e["revision"] == 0
    assert e["position"] == body["position"]
    assert e["eventId"] == sent["eventId"]
    assert e["eventType"] == "ShapeChecked"
    assert e["contentType"] == JSON
    assert e["data"] == {"k": [1, "two"]}
    assert e["metadata"] == {"trace": "abc"}
    assert isinstance(e["created"], str) and RFC3339_MICROS.match(e["created"]), e["created"]
    created = datetime.datetime.fromisoformat(e["created"].replace("Z", "+00:00"))
    slack = datetime.timedelta(seconds=2)
    assert before - slack <= created <= after + slack, (before, e["created"], after)


def test_event_read_through_the_log_equals_the_event_read_through_its_stream(api):
    s = unique("same")
    api.append_ok(s, [event("Same", {"v": 1}, metadata={"m": 2})])
    from_stream = api.read_ok(s)["events"][0]
    from_log = api.read_ok("$all", **{"from": from_stream["position"], "count": 1})["events"][0]
    assert from_log == from_stream


def test_events_of_one_commit_and_later_commits_have_non_decreasing_created_times(api):
    s = unique("created")
    api.append_ok(s, events(3))
    api.append_ok(s, events(2))
    created = [e["created"] for e in api.read_ok(s)["events"]]
    assert all(RFC3339_MICROS.match(c) for c in created), created
    assert created == sorted(created)


# -- the log ($all) -------------------------------------------------------------


class Log:
    """A server holding a known set of events, read by the $all tests (which only read)."""

    def __init__(self, server):
        self.server = server
        self.api = server.api
        self.ids = []  # every appended event id, in append order
        api = self.api
        for stream, types in [
            ("acct-1", ["Opened"]),
            ("ord-1", ["OrderPlaced"]),
            ("acct-2", ["Opened", "Withdrawn"]),
            ("misc", ["Other", "Other", "Other"]),
            ("acct-1", ["Deposited", "Deposited"]),
            ("ord-1", ["OrderShipped"]),
            ("acct-22x", ["Opened"]),
        ]:
            evs = [event(t, {"stream": stream}) for t in types]
            api.append_ok(stream, evs)
            self.ids += [e["eventId"] for e in evs]
        r = api.put_metadata("acct-1", {"owner": "ops"})
        assert r.status_code == 201, r.text
        evs = [event("Other", {"stream": "misc"}) for _ in range(2)]
        api.append_ok("misc", evs)
        self.ids += [e["eventId"] for e in evs]
        self.full = api.read_everything("$all", count=10_000)


@pytest.fixture(scope="module")
def log(tmp_path_factory):
    srv, data_dir = make_server(tmp_path_factory, "log")
    srv.start()
    yield Log(srv)
    finish(srv, data_dir)


def ids_of(evs):
    return [e["eventId"] for e in evs]


def test_log_forwards_lists_every_event_once_in_append_order_with_increasing_positions(log):
    full = log.full
    assert [i for i in ids_of(full) if i in set(log.ids)] == log.ids
    positions = [e["position"] for e in full]
    assert positions[0] >= 1
    assert all(a < b for a, b in zip(positions, positions[1:])), positions
    assert len(set(ids_of(full))) == len(full)


def test_log_holds_the_metadata_event_of_a_stream_in_its_metadata_stream(log):
    meta = [e for e in log.full if e["streamId"] == "$$acct-1"]
    assert len(meta) == 1
    assert meta[0]["data"] == {"owner": "ops"}


def test_log_backwards_from_end_lists_the_log_in_reverse(log):
    back = log.api.read_everything("$all", direction="backwards", count=10_000)
    assert back == list(reversed(log.full))


def test_log_forwards_from_a_position_includes_that_position(log):
    k = 4
    page = log.api.read_ok("$all", **{"from": log.full[k]["position"], "count": 3})
    assert ids_of(page["events"]) == ids_of(log.full[k : k + 3])


def test_log_backwards_from_a_position_excludes_that_position(log):
    k = 4
    page = log.api.read_ok("$all", **{"from": log.full[k]["position"], "direction": "backwards", "count": 3})
    assert ids_of(page["events"]) == ids_of([log.full[k - 1], log.full[k - 2], log.full[k - 3]])


def test_log_backwards_from_end_includes_the_head(log):
    page = log.api.read_ok("$all", **{"from": "end", "direction": "backwards", "count": 1})
    assert ids_of(page["events"]) == ids_of(log.full[-1:])


def test_log_paging_forwards_with_next_visits_every_event_once(log):
    pages = []
    page = log.api.read_ok("$all", **{"from": "start", "count": 3})
    while True:
        assert len(page["events"]) <= 3
        pages.append(page["events"])
        if page["next"] is None:
            break
        assert len(pages) < 100
        page = log.api.read_ok("$all", **{"from": page["next"], "count": 3})
    assert len(pages) >= 4
    assert [e for p in pages for e in p] == log.full


def test_log_paging_backwards_with_next_visits_every_event_once(log):
    assert log.api.read_everything("$all", direction="backwards", count=3) == list(reversed(log.full))


def test_log_page_that_reaches_the_head_has_next_null(log):
    page = log.api.read_ok("$all", **{"from": "start", "count": len(log.full) + 5})
    assert ids_of(page["events"]) == ids_of(log.full)
    assert page["next"] is None
    first = log.api.read_ok("$all", **{"from": "start", "count": 2})
    assert first["next"] is not None


def test_log_forwards_from_beyond_the_head_returns_no_events(log):
    page = log.api.read_ok("$all", **{"from": log.full[-1]["position"] + 1})
    assert page["events"] == []


FILTERS = {
    "streamPrefix:acct-,ord-": lambda e: e["streamId"].startswith(("acct-", "ord-")),
    "streamRegex:^acct-[0-9]+$": lambda e: re.search(r"^acct-[0-9]+$", e["streamId"]) is not None,
    "eventTypePrefix:Order": lambda e: e["eventType"].startswith("Order"),
    "eventTypePrefix:Opened,Other": lambda e: e["eventType"].startswith(("Opened", "Other")),
    "eventTypeRegex:^(Opened|Withdrawn)$": lambda e: re.search(r"^(Opened|Withdrawn)$", e["eventType"]) is not None,
}


@pytest.mark.parametrize("flt", list(FILTERS))
def test_filtered_log_read_returns_exactly_the_matching_events_in_order(log, flt):
    expected = [e for e in log.full if FILTERS[flt](e)]
    assert 0 < len(expected) < len(log.full)
    got = log.api.read_everything("$all", count=2, filter=flt)
    assert ids_of(got) == ids_of(expected)


def test_filtered_log_read_backwards_returns_the_matching_events_in_reverse(log):
    expected = [e for e in reversed(log.full) if e["streamId"].startswith("ord-")]
    got = log.api.read_everything("$all", direction="backwards", count=1, filter="streamPrefix:ord-")
    assert ids_of(got) == ids_of(expected) and len(expected) == 2


def test_filtered_log_read_never_returns_more_than_count(log):
    page = log.api.read_ok("$all", **{"from": "start", "count": 2, "filter": "streamPrefix:misc"})
    assert 0 < len(page["events"]) <= 2
    assert all(e["streamId"] == "misc" for e in page["events"])
    assert page["next"] is not None


def test_log_read_excluding_system_events_leaves_out_metadata_events_only(log):
    assert any(e["streamId"].startswith("$$") for e in log.full), "no system event to exclude"
    got = log.api.read_everything("$all", count=4, filter="excludeSystemEvents")
    assert not [e for e in got if e["streamId"].startswith("$$") or e["eventType"].startswith("$")]
    users = [e for e in log.full if not e["streamId"].startswith("$") and not e["eventType"].startswith("$")]
    assert set(ids_of(users)) <= set(ids_of(got))
    assert [i for i in ids_of(got) if i in set(log.ids)] == log.ids


@pytest.mark.parametrize(
    "flt",
    ["bogus:x", "streamRegex:(unclosed", "eventTypeRegex:[a-"],
)
def test_log_read_with_a_bad_filter_is_refused_naming_the_filter(log, flt):
    assert_error(log.api.read("$all", filter=flt), 400, BAD_INPUT, field="filter")


@pytest.mark.parametrize(
    "params,field",
    [({"from": "abc"}, "from"), ({"from": "-3"}, "from"), ({"count": "x"}, "count"), ({"count": "-2"}, "count")],
    ids=["from abc", "from -3", "count x", "count -2"],
)
def test_log_read_with_a_bad_parameter_is_refused_naming_it(log, params, field):
    assert_error(log.api.read("$all", **params), 400, BAD_INPUT, field=field)
