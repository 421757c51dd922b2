"""Isolation: one connector's sink is dead (its port refuses connections) for a while; the other
connector keeps its throughput, appends go on, and the server's memory stays bounded
(spec/connectors.md §1: "A slow or dead sink never slows appends or other connectors").

Three phases of SLUICE_ISOLATION_SECONDS each (10 s by default, for `make test`; 60 for a long run):
both sinks up, one refusing connections, both up again. Producers append at a steady pace throughout;
the healthy connector's deliveries per second and lag are measured in each phase, and VmRSS of the
server at each boundary. At the end both connectors have delivered every matching event, in order."""

import os
import time

import pytest

from rel_support import (
    ConnectorsApi,
    Producers,
    Receiver,
    analyse_delivery,
    connector_settings,
    env_int,
    read_log,
    record_ids,
    rss_kib,
    wait_until_delivered,
)

PHASE_S = env_int("SLUICE_ISOLATION_SECONDS", 10)
RSS_GROWTH_LIMIT_KIB = 64 * 1024  # generous: the dead connector holds one read batch, not its backlog
# Bounded: the heap (RssAnon). VmRSS also counts the pages of data.mdb that reads map in (RssFile), which grow
# with the log whatever the sinks do.
# A sanitized build keeps freed memory in quarantine (256 MiB by default), which would hide growth.
SMALL_QUARANTINE = "quarantine_size_mb=4:thread_local_quarantine_size_kb=64"


def delivered_count(rx):
    return len(rx.delivered())


def lag_of(conns, cid):
    item = conns.get_ok(cid)
    return int(item.get("lag", -1))


@pytest.mark.time_limit(120 + 4 * PHASE_S)
def test_a_dead_sink_slows_neither_the_other_connector_nor_appends_and_memory_stays_bounded(env_server_factory):
    options = os.environ.get("ASAN_OPTIONS", "")
    srv = env_server_factory({"ASAN_OPTIONS": (options + ":" if options else "") + SMALL_QUARANTINE})
    srv.start()
    dead, healthy = Receiver(), Receiver()
    try:
        conns = ConnectorsApi(srv.base_url)
        prefix = f"iso-{int(time.time()) % 100000}-"
        common = {"subscription:filter:scope": "stream", "subscription:filter:filterType": "prefix",
                  "subscription:filter:expression": prefix, "autocommit:recordsThreshold": 100}
        # The dead one retries every 100 ms for the whole outage (the staircase's first step would
        # otherwise end after 60 s, and its second waits 10 min), working as hard as it can at failing.
        conns.create_ok("iso-dead", settings=connector_settings(dead.url, **common, **{
            "resilience:firstDelayBound:delayMs": 100, "resilience:firstDelayBound:upperLimitMs": 3600000,
            "timeoutMs": 2000}))
        conns.create_ok("iso-healthy", settings=connector_settings(healthy.url, **common))
        conns.start_running("iso-dead")
        conns.start_running("iso-healthy")
        producers = Producers(srv.base_url, [prefix], threads=2, streams_per_thread=4, pause_s=0.004)
        producers.start()
        pid = srv.proc.pid

        phases = []

        def run_phase(name):
            t0 = time.monotonic()
            n0, e0 = delivered_count(healthy), producers.event_count()
            rss0 = rss_kib(pid)
            time.sleep(PHASE_S)
            dt = time.monotonic() - t0
            phase = {"name": name, "delivered_per_s": (delivered_count(healthy) - n0) / dt,
                     "appended_per_s": (producers.event_count() - e0) / dt,
                     "healthy_lag": lag_of(conns, "iso-healthy"), "dead_lag": lag_of(conns, "iso-dead"),
                     "rss_start": rss0, "rss_end": rss_kib(pid)}
            phases.append(phase)
            return phase

        time.sleep(1.0)  # warm up: both connectors caught up with the producers
        before = run_phase("both sinks up")
        dead.refuse_for(PHASE_S + 0.5)
        during = run_phase("one sink refusing connections")
        assert dead.count() == delivered_count(dead), "the dead receiver answered nothing while refusing"
        time.sleep(0.5)
        after = run_phase("both sinks up again")
        producers.stop()

        log = read_log(srv.base_url, filter=f"streamPrefix:{prefix}")
        want = [e["eventId"] for e in log]
        print(f"\nisolation: {PHASE_S} s per phase, {len(want)} events")
        for p in phases:
            a, b = p["rss_start"], p["rss_end"]
            print(f"  {p['name']}: appends {p['appended_per_s']:.0f}/s, healthy connector delivered "
                  f"{p['delivered_per_s']:.0f}/s (lag {p['healthy_lag']}), dead one's lag {p['dead_lag']}, "
                  f"VmRSS {a['VmRSS'] // 1024} -> {b['VmRSS'] // 1024} MiB (heap {a.get('RssAnon', 0) // 1024} -> "
                  f"{b.get('RssAnon', 0) // 1024} MiB, data.mdb pages {a.get('RssFile', 0) // 1024} -> "
                  f"{b.get('RssFile', 0) // 1024} MiB)")
        t0 = time.monotonic()
        wait_until_delivered(healthy, want, timeout=60)
        wait_until_delivered(dead, want, timeout=60 + 2 * PHASE_S)
        print(f"  the recovered connector had delivered everything {time.monotonic() - t0:.1f} s after the "
              f"producers stopped")
        dead.quiet_for(0.5, timeout=10)
        healthy.quiet_for(0.5, timeout=10)
        for rx in (dead, healthy):
            analyse_delivery(record_ids(rx), want)

        assert during["delivered_per_s"] >= 0.7 * before["delivered_per_s"], \
            f"the healthy connector slowed down while the other sink was dead: {phases}"
        assert during["appended_per_s"] >= 0.7 * before["appended_per_s"], \
            f"appends slowed down while a sink was dead: {phases}"
        assert during["healthy_lag"] < max(200, 0.5 * during["appended_per_s"]), \
            f"the healthy connector fell behind while the other sink was dead: {phases}"
        assert during["dead_lag"] > 0, "the dead connector's lag should grow while its sink refuses"
        heap = "RssAnon" if "RssAnon" in before["rss_start"] else "VmRSS"
        growth = during["rss_end"][heap] - during["rss_start"][heap]
        assert growth < RSS_GROWTH_LIMIT_KIB, f"{heap} grew by {growth // 1024} MiB while a sink was dead: {phases}"
        growth = after["rss_end"][heap] - before["rss_end"][heap]
        assert growth < RSS_GROWTH_LIMIT_KIB, f"{heap} grew by {growth // 1024} MiB over the outage: {phases}"
        assert after["delivered_per_s"] > 0
    finally:
        dead.close()
        healthy.close()
