"""Client helpers for the connectors API (spec/connectors.md §3) and for checking what a sink received."""

import base64
import json
import os
import re
import threading
import time
import urllib.parse
import uuid

import requests

from sluice_client import Api, describe

STOPPED = "CONNECTOR_STATE_STOPPED"
RUNNING = "CONNECTOR_STATE_RUNNING"
ACTIVATING = "CONNECTOR_STATE_ACTIVATING"
DEACTIVATING = "CONNECTOR_STATE_DEACTIVATING"
STATES = (STOPPED, RUNNING, ACTIVATING, DEACTIVATING)

# gRPC status codes the error bodies carry
GRPC_INVALID_ARGUMENT = 3
GRPC_NOT_FOUND = 5
GRPC_ALREADY_EXISTS = 6
GRPC_FAILED_PRECONDITION = 9

MNGT = "$conn-mngt-connector-"
CHECKPOINT_TYPE = "$conn-ctrl-checkpoint"

EVENTS = int(os.environ.get("SLUICE_TEST_CONNECTOR_EVENTS", "2000"))
STREAMS = int(os.environ.get("SLUICE_TEST_CONNECTOR_STREAMS", "100"))


def new_id(prefix="c"):
    """A connector id no other test uses (5-50 chars of [A-Za-z0-9_-])."""
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def tag():
    return uuid.uuid4().hex[:10]


def as_int(value, what="value"):
    """An integer that JSON may carry as a number or as a decimal string (uint64 in gRPC JSON)."""
    if isinstance(value, bool):
        raise AssertionError(f"{what} is a boolean: {value!r}")
    if isinstance(value, int):
        return value
    if isinstance(value, str) and re.fullmatch(r"-?\d+", value):
        return int(value)
    raise AssertionError(f"{what} is not an integer: {value!r}")


def http_sink(url, prefix=None, **extra):
    """Flat settings of an http-sink connector filtered on stream-name `prefix`, from the start of the log."""
    s = {"instanceTypeName": "http-sink", "url": url, "subscription:initialPosition": "earliest"}
    if prefix is not None:
        s.update({
            "subscription:filter:scope": "stream",
            "subscription:filter:filterType": "prefix",
            "subscription:filter:expression": prefix,
        })
    s.update({k: str(v) for k, v in extra.items()})
    return s


def log_sink(path, prefix=None, type_name="serilog-sink", **extra):
    s = {"instanceTypeName": type_name, "path": str(path), "subscription:initialPosition": "earliest"}
    if prefix is not None:
        s.update({
            "subscription:filter:scope": "stream",
            "subscription:filter:filterType": "prefix",
            "subscription:filter:expression": prefix,
        })
    s.update({k: str(v) for k, v in extra.items()})
    return s


def kv(**pairs):
    """Settings keys with `:` from keyword arguments: kv(autocommit__recordsThreshold=100)."""
    return {k.replace("__", ":"): str(v) for k, v in pairs.items()}


def assert_connector_error(resp, status, codes=None, fields=None):
    """A connectors API error: the HTTP status and a JSON body {"code": <gRPC code>, "message", "details"?}
    whose details, when `fields` is given, name each of those fields (case-insensitive)."""
    assert resp.status_code == status, describe(resp)
    assert "json" in resp.headers.get("Content-Type", ""), f"error body is not labelled JSON: {describe(resp)}"
    body = resp.json()
    assert isinstance(body, dict), describe(resp)
    assert isinstance(body.get("code"), int) and not isinstance(body.get("code"), bool), \
        f"`code` is not a gRPC status number: {describe(resp)}"
    if codes is not None:
        allowed = (codes,) if isinstance(codes, int) else tuple(codes)
        assert body["code"] in allowed, f"code {body['code']} not in {allowed}: {describe(resp)}"
    assert isinstance(body.get("message"), str) and body["message"].strip(), describe(resp)
    details = body.get("details", [])
    assert isinstance(details, list), describe(resp)
    for d in details:
        assert isinstance(d, dict) and isinstance(d.get("field"), str) and isinstance(d.get("description"), str), \
            f"a detail without field/description: {describe(resp)}"
        assert d["description"].strip(), describe(resp)
    if fields:
        named = {d["field"].lower() for d in details}
        missing = [f for f in fields if f.lower() not in named]
        assert not missing, f"details do not name {missing}: {describe(resp)}"
    return body


def detail_for(body, field):
    """The descriptions of the details naming `field` (case-insensitive), joined."""
    return " ".join(d["description"] for d in body.get("details", []) if d["field"].lower() == field.lower())


class ConnectorsApi:
    """The connectors management API of one server (one keep-alive session; not thread-safe)."""

    def __init__(self, base_url):
        self.base = base_url
        self.api = Api(base_url)
        self.created = []

    def _req(self, method, path, **kw):
        kw.setdefault("timeout", 30)
        return self.api.request(method, path, **kw)

    @staticmethod
    def path(cid, *rest):
        p = "/connectors/" + urllib.parse.quote(cid, safe="")
        for part in rest:
            p += "/" + urllib.parse.quote(str(part), safe="")
        return p

    # -- commands --
    def create(self, cid, settings=None, configuration=None, name=None, raw=None):
        body = {} if raw is None else raw
        if raw is None:
            if name is not None:
                body["name"] = name
            if settings is not None:
                body["settings"] = settings
            if configuration is not None:
                body["configuration"] = configuration
        r = self._req("POST", self.path(cid), data=json.dumps(body), headers={"Content-Type": "application/json"})
        if r.status_code == 200:
            self.created.append(cid)
        return r

    def create_ok(self, cid, settings=None, configuration=None, name=None):
        r = self.create(cid, settings, configuration, name)
        assert r.status_code == 200, describe(r)
        return r

    def reconfigure(self, cid, settings):
        return self._req("PUT", self.path(cid, "settings"), data=json.dumps(settings),
                         headers={"Content-Type": "application/json"})

    def reconfigure_nested(self, cid, configuration):
        return self._req("PUT", self.path(cid, "configuration"), data=json.dumps(configuration),
                         headers={"Content-Type": "application/json"})

    def start(self, cid, position=None):
        return self._req("POST", self.path(cid, "start") if position is None else self.path(cid, "start", position))

    def start_ok(self, cid, position=None):
        r = self.start(cid, position)
        assert r.status_code == 200, describe(r)
        return r

    def stop(self, cid):
        return self._req("POST", self.path(cid, "stop"))

    def stop_ok(self, cid):
        r = self.stop(cid)
        assert r.status_code == 200, describe(r)
        return r

    def reset(self, cid, position=None):
        return self._req("POST", self.path(cid, "reset") if position is None else self.path(cid, "reset", position))

    def rename(self, cid, name):
        return self._req("PUT", self.path(cid, "rename"), data=json.dumps({"name": name}),
                         headers={"Content-Type": "application/json"})

    def delete(self, cid):
        return self._req("DELETE", self.path(cid))

    # -- queries --
    def list(self, **params):
        q = {k: (str(v).lower() if isinstance(v, bool) else v) for k, v in params.items() if v is not None}
        return self._req("GET", "/connectors", params=q)

    def list_ok(self, **params):
        r = self.list(**params)
        assert r.status_code == 200, describe(r)
        body = r.json()
        assert isinstance(body.get("items"), list), describe(r)
        assert "totalSize" in body, describe(r)
        return body

    def get(self, cid, include_settings=False, show_deleted=False):
        """The connector as the list shows it, or None."""
        body = self.list_ok(connectorId=cid, includeSettings=include_settings, showDeleted=show_deleted)
        items = [c for c in body["items"] if c.get("connectorId") == cid]
        assert len(items) <= 1, body
        return items[0] if items else None

    def get_ok(self, cid, **kw):
        item = self.get(cid, **kw)
        assert item is not None, f"connector {cid} not in the list"
        return item

    def state(self, cid):
        return self.get_ok(cid)["state"]

    def _query(self, what, cid, show_secrets=None, token=None):
        params = {"showSecrets": "true"} if show_secrets else None
        headers = {"Authorization": f"Bearer {token}"} if token else None
        return self._req("GET", self.path(cid, what), params=params, headers=headers)

    def settings(self, cid, show_secrets=None, token=None):
        return self._query("settings", cid, show_secrets, token)

    def settings_ok(self, cid, show_secrets=None, token=None):
        r = self.settings(cid, show_secrets, token)
        assert r.status_code == 200, describe(r)
        body = r.json()
        assert isinstance(body.get("settings"), dict), describe(r)
        assert "settingsUpdateTime" in body, describe(r)
        return body

    def configuration(self, cid, show_secrets=None, token=None):
        return self._query("configuration", cid, show_secrets, token)

    def wait_state(self, cid, states, timeout=20.0):
        """Waits until the connector is in one of `states` and returns it as the list shows it."""
        states = (states,) if isinstance(states, str) else tuple(states)
        deadline = time.monotonic() + timeout
        item = None
        while time.monotonic() < deadline:
            item = self.get(cid)
            if item is not None and item.get("state") in states:
                return item
            time.sleep(0.05)
        raise AssertionError(f"connector {cid} not in {states} within {timeout} s: {item}")

    def wait_position(self, cid, at_least, timeout=20.0):
        """Waits until the connector's committed position is >= `at_least`."""
        deadline = time.monotonic() + timeout
        item = None
        while time.monotonic() < deadline:
            item = self.get(cid)
            if item is not None and item.get("position") is not None and as_int(item["position"]) >= at_least:
                return item
            time.sleep(0.1)
        raise AssertionError(f"connector {cid}: position not >= {at_least} within {timeout} s: {item}")

    def start_running(self, cid, position=None, timeout=20.0):
        self.start_ok(cid, position)
        return self.wait_state(cid, RUNNING, timeout)

    def stop_stopped(self, cid, timeout=20.0):
        self.stop_ok(cid)
        return self.wait_state(cid, STOPPED, timeout)

    def cleanup(self):
        """Stops every connector this client created (best effort)."""
        for cid in self.created:
            try:
                self.stop(cid)
            except requests.RequestException:
                pass


# ---------------------------------------------------------------------------
# Appending test data


def append_spread(base_url, plan, threads=4):
    """Appends `plan` (a list of (stream, events)) from `threads` connections at once, so that streams
    interleave in the log. Returns the append latencies in seconds."""
    chunks = [plan[i::threads] for i in range(threads)]
    errors = []
    latencies = []
    lock = threading.Lock()

    def worker(part):
        api = Api(base_url)
        for stream, evs in part:
            t0 = time.monotonic()
            try:
                r = api.append(stream, evs)
            except requests.RequestException as e:
                errors.append(repr(e))
                return
            dt = time.monotonic() - t0
            if r.status_code != 201:
                errors.append(describe(r))
                return
            with lock:
                latencies.append(dt)

    ts = [threading.Thread(target=worker, args=(c,), daemon=True) for c in chunks if c]
    for t in ts:
        t.start()
    for t in ts:
        t.join(120)
    assert not any(t.is_alive() for t in ts), "appenders did not finish within 120 s"
    assert not errors, errors[:5]
    return latencies


def orders_plan(t, total=None, streams=None, per_append=5):
    """About `total` events over `streams` streams, half of them named with the prefix
    `orders-{t}-` (which a connector matches), half with names close to it that do not match.
    Returns (plan, matching prefix)."""
    total = EVENTS if total is None else total
    streams = STREAMS if streams is None else streams
    prefix = f"orders-{t}-"
    names = []
    for i in range(streams):
        if i % 2 == 0:
            names.append(f"{prefix}{i}")
        elif i % 4 == 1:
            names.append(f"orders_{t}-{i}")  # close to the prefix, not matching
        else:
            names.append(f"x-orders-{t}-{i}")  # contains it, not as a prefix
    per_stream = max(1, total // streams)
    plan = []
    seq = 0
    rounds = (per_stream + per_append - 1) // per_append
    for rnd in range(rounds):
        n = min(per_append, per_stream - rnd * per_append)
        for s in names:
            evs = []
            for _ in range(n):
                evs.append({
                    "eventId": str(uuid.uuid4()),
                    "eventType": "OrderPlaced" if seq % 3 else "OrderPaid",
                    "data": {"seq": seq, "stream": s, "tag": t},
                    "metadata": {"tenant": "acme", "seq": str(seq), "$correlationId": str(uuid.uuid4())},
                })
                seq += 1
            plan.append((s, evs))
    return plan, prefix


def log_events(api, prefix):
    """Every event of the log whose stream starts with `prefix`, in log order."""
    return api.read_everything("$all", filter=f"streamPrefix:{prefix}")


def stream_events(api, stream):
    r = api.read(stream, **{"from": "start", "count": 10000})
    if r.status_code == 404:
        return []
    assert r.status_code == 200, describe(r)
    return r.json()["events"]


def read_connector_stream(api, cid, suffix=""):
    return stream_events(api, f"$connectors/{cid}{suffix}")


# ---------------------------------------------------------------------------
# What a sink received


def delivered_positions(requests_):
    return [int(r.headers["esdb-record-log-position"]) for r in requests_]


def assert_in_order_at_least_once(received, expected, window):
    """`received` (a list of keys as they arrived) holds every key of `expected` at least once, in
    order; a key seen again starts a re-sent window: a contiguous replay of already delivered keys
    up to the highest one, at most `window` long. Returns the number of duplicates."""
    index = {k: i for i, k in enumerate(expected)}
    assert len(index) == len(expected), "expected keys are not unique"
    high = -1
    dups = 0
    i = 0
    windows = []
    while i < len(received):
        k = received[i]
        assert k in index, f"received {k!r}, which was not expected (at {i})"
        j = index[k]
        if j == high + 1:
            high = j
            i += 1
            continue
        assert j <= high, (f"gap: after {expected[high]!r} (#{high}) came {k!r} (#{j}); "
                           f"{j - high - 1} expected record(s) skipped")
        length = high - j + 1
        replay = received[i:i + length]
        assert replay == expected[j:j + len(replay)], (
            f"re-sent window from #{j} is not a contiguous replay: {replay[:10]!r}... vs {expected[j:j + 10]!r}...")
        windows.append(len(replay))
        assert len(replay) <= window, f"re-sent window of {len(replay)} records is longer than {window}"
        dups += len(replay)
        i += len(replay)
    assert high == len(expected) - 1, (f"{len(expected) - high - 1} of {len(expected)} expected records never "
                                       f"arrived; first missing {expected[high + 1]!r}")
    return dups, windows


def body_matches(req, ev):
    """The request body is the event's data (JSON compared as values, binary as bytes)."""
    if ev.get("contentType", "application/json") == "application/json":
        try:
            return json.loads(req.body) == ev["data"]
        except ValueError:
            return False
    return req.body == base64.b64decode(ev["data"])


# ---------------------------------------------------------------------------
# Prometheus text


SAMPLE = re.compile(r"^(?P<name>[a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(?P<labels>[^}]*)\})?\s+(?P<value>\S+)(\s+-?\d+)?$")
LABEL = re.compile(r'\s*([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"\s*,?')


def scrape(api):
    """The metrics page as a list of (name, {label: value}, float)."""
    r = api.get("/metrics")
    assert r.status_code == 200, describe(r)
    out = []
    for line in r.text.splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        m = SAMPLE.match(line)
        assert m, f"not a Prometheus sample line: {line!r}"
        labels = dict(LABEL.findall(m.group("labels") or ""))
        out.append((m.group("name"), labels, float(m.group("value"))))
    return out


def metric(samples, name, **labels):
    """The samples of `name` whose labels include `labels`."""
    return [(lb, v) for n, lb, v in samples if n == name and all(lb.get(k) == want for k, want in labels.items())]


def stat(item, name):
    """A per-connector count (`delivered`, `filtered`, `failed`, `lag`) from a list item: a top-level
    key, or one inside a nested object (e.g. "stats")."""
    if name in item:
        return as_int(item[name], name)
    for value in item.values():
        if isinstance(value, dict) and name in value:
            return as_int(value[name], name)
    raise AssertionError(f"no `{name}` in connector {json.dumps(item)[:600]}")
