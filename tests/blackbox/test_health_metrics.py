"""Health checks and Prometheus metrics."""

import re

from sluice_client import describe, events, unique

SAMPLE = re.compile(
    r"^(?P<name>[a-zA-Z_:][a-zA-Z0-9_:]*)(?P<labels>\{[^}]*\})?\s+(?P<value>[-+]?(\d+(\.\d*)?([eE][-+]?\d+)?|\.\d+|NaN|[-+]?Inf))(\s+-?\d+)?$"
)
TYPE = re.compile(r"^# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (counter|gauge|histogram|summary|untyped)$")


def scrape(api):
    """The metrics page as {series (name and labels): value}, after checking every line's syntax."""
    r = api.get("/metrics")
    assert r.status_code == 200, describe(r)
    assert r.headers.get("Content-Type", "").startswith("text/plain"), r.headers
    series = {}
    types = {}
    for line in r.text.splitlines():
        if not line.strip():
            continue
        if line.startswith("#"):
            m = TYPE.match(line)
            if m:
                types[m.group(1)] = m.group(2)
            else:
                assert line.startswith("# HELP ") or line.startswith("# "), line
            continue
        m = SAMPLE.match(line)
        assert m, f"not a Prometheus sample line: {line!r}"
        series[m.group("name") + (m.group("labels") or "")] = float(m.group("value"))
    return series, types


def totals(series, word):
    """Sum of every series whose metric name contains `word`, by metric name."""
    out = {}
    for key, value in series.items():
        name = key.split("{")[0]
        if word in name:
            out[name] = out.get(name, 0.0) + value
    return out


def test_liveness_answers_200(api):
    assert api.get("/health/live").status_code == 200


def test_readiness_answers_200_with_status_ready(api):
    r = api.get("/health/ready")
    assert r.status_code == 200, describe(r)
    assert r.json() == {"status": "ready"}


def test_metrics_is_prometheus_text_with_typed_counters(api):
    series, types = scrape(api)
    assert series, "no samples"
    assert "counter" in types.values(), types
    for name in types:
        assert re.match(r"^[a-zA-Z_:][a-zA-Z0-9_:]*$", name)


def test_append_and_event_counters_move_after_appends(api):
    """A counter of appends (or writes) grows by one per append, one of events by one per event."""
    before, types = scrape(api)
    s = unique("metrics")
    api.append_ok(s, events(2))
    api.append_ok(s, events(2))
    api.append_ok(s, events(3))
    after, _ = scrape(api)
    counters = {n for n, t in types.items() if t == "counter"}
    counters |= {n + "_total" for n in counters}
    appends = {}
    for word in ("append", "write"):
        appends.update({n: v - totals(before, word).get(n, 0.0) for n, v in totals(after, word).items()})
    appends = {n: d for n, d in appends.items() if n in counters and "event" not in n and "error" not in n}
    evs = {n: v - totals(before, "event").get(n, 0.0) for n, v in totals(after, "event").items() if n in counters}
    assert 3 in appends.values(), f"no counter of appends (or writes) grew by 3: {appends}"
    assert 7 in evs.values(), f"no counter of events grew by 7: {evs}"


def test_metrics_never_go_backwards_for_counters(api):
    first, types = scrape(api)
    api.append_ok(unique("metrics"), events(1))
    second, _ = scrape(api)
    counters = {n for n, t in types.items() if t == "counter"}
    for key, value in first.items():
        name = key.split("{")[0]
        if name in counters or name.removesuffix("_total") in counters:
            assert second.get(key, value) >= value, key


def test_store_latency_histograms_count_every_commit_and_every_write(api):
    """sluice_store_commit_duration_seconds counts commits, sluice_store_write_duration_seconds writes;
    buckets are cumulative and end at the count."""
    s = unique("latency")
    for i in range(5):
        api.append_ok(s, events(1))
    series, types = scrape(api)
    for name, per in (("sluice_store_commit_duration_seconds", "sluice_store_commits_total"),
                      ("sluice_store_write_duration_seconds", None)):
        assert types.get(name) == "histogram", types.get(name)
        buckets = sorted(((float(k.split('le="')[1].rstrip('"}')), v) for k, v in series.items()
                          if k.startswith(name + "_bucket{")), key=lambda b: b[0])
        assert len(buckets) >= 10, buckets
        counts = [v for _, v in buckets]
        assert counts == sorted(counts), f"{name} buckets are not cumulative: {buckets}"
        assert buckets[-1][0] == float("inf") and buckets[-1][1] == series[name + "_count"]
        assert series[name + "_count"] >= 5 and series[name + "_sum"] > 0
        if per:  # the two are updated one after the other, not together
            assert abs(series[name + "_count"] - series[per]) <= 1, (series[name + "_count"], series[per])
