"""Bounce: producers append while two connectors deliver, and the server is killed with SIGKILL at
random moments, again and again, on the same data directory and port.

What must hold (spec/streams.md "Durability", spec/connectors.md §1 and §4):
- every acknowledged append is in the store exactly once (the producers retry what was not
  acknowledged with the same event ids; idempotency makes the retry safe);
- each connector delivers every matching event at least once, in `$all` order; what it delivers again
  after a kill is one contiguous replay from its last checkpoint: at most recordsThreshold records plus
  the one in flight (batching:maxRecords is 1);
- a clean restart (SIGTERM) delivers nothing twice.

SLUICE_BOUNCE_KILLS sets the number of kills (5 by default, for `make test`; 30 for a long run) and
SLUICE_BOUNCE_SEED the random moments."""

import random
import time

import pytest

from rel_support import (
    ConnectorsApi,
    Producers,
    Receiver,
    analyse_delivery,
    check_store_holds_each_acknowledged_event_once,
    connector_settings,
    env_int,
    read_log,
    record_ids,
    wait_until_delivered,
)

KILLS = env_int("SLUICE_BOUNCE_KILLS", 5)
SEED = env_int("SLUICE_BOUNCE_SEED", int(time.time()) % 100000)
THRESHOLD = 50
IN_FLIGHT = 1  # batching:maxRecords = 1: one record per request
CLEAN_RESTARTS = 2


def expected_ids(log, match):
    return [e["eventId"] for e in log if match(e)]


@pytest.mark.time_limit(180 + 12 * KILLS)
def test_kill_9_at_random_moments_loses_no_acknowledged_event_and_connectors_replay_only_one_window(
        fresh_server):
    srv = fresh_server
    rng = random.Random(SEED)
    run = f"{SEED:05d}{rng.randrange(1000):03d}"
    prefix_a, prefix_b = f"ba-{run}-", f"bb-{run}-"
    rx_a, rx_b = Receiver(), Receiver()
    try:
        conns = ConnectorsApi(srv.base_url)
        # A: the streams of prefix ba-; B: every event of type Beta, in both families of streams.
        conns.create_ok("bounce-a", settings=connector_settings(
            rx_a.url, **{"subscription:filter:scope": "stream", "subscription:filter:filterType": "prefix",
                         "subscription:filter:expression": prefix_a,
                         "autocommit:recordsThreshold": THRESHOLD}))
        conns.create_ok("bounce-b", settings=connector_settings(
            rx_b.url, **{"subscription:filter:scope": "record", "subscription:filter:filterType": "regex",
                         "subscription:filter:expression": "^Beta$",
                         "autocommit:recordsThreshold": THRESHOLD}))
        conns.start_running("bounce-a")
        conns.start_running("bounce-b")

        producers = Producers(srv.base_url, [prefix_a, prefix_b], threads=3, streams_per_thread=8,
                              seed=SEED, pause_s=0.004)
        producers.start()
        downtime = []
        t_start = time.monotonic()
        for k in range(KILLS):
            time.sleep(rng.uniform(0.3, 2.5))
            srv.kill()
            t0 = time.monotonic()
            time.sleep(rng.uniform(0.0, 0.3))
            srv.start()
            downtime.append(time.monotonic() - t0)
        kills_done = len(downtime)
        time.sleep(1.0)
        producers.stop()
        bounce_seconds = time.monotonic() - t_start

        # -- the store: every acknowledged event exactly once --
        log = read_log(srv.base_url, filter=f"streamPrefix:{prefix_a},{prefix_b}")
        checked = check_store_holds_each_acknowledged_event_once(log, producers.acknowledged())

        # -- the connectors: everything, in order, one window of duplicates per kill at most --
        want_a = expected_ids(log, lambda e: e["streamId"].startswith(prefix_a))
        want_b = expected_ids(log, lambda e: e["eventType"] == "Beta")
        wait_until_delivered(rx_a, want_a, timeout=120)
        wait_until_delivered(rx_b, want_b, timeout=120)
        rx_a.quiet_for(1.0, timeout=10)
        rx_b.quiet_for(1.0, timeout=10)
        figures = {}
        for name, rx, want in (("bounce-a", rx_a, want_a), ("bounce-b", rx_b, want_b)):
            runs = analyse_delivery(record_ids(rx), want)
            restarts = [r for r in runs[1:] if r["dups"] > 0]
            figures[name] = {"delivered": len(want), "requests": len(record_ids(rx)),
                             "dups": [r["dups"] for r in restarts]}
            assert len(restarts) <= kills_done, \
                f"{name}: {len(restarts)} replays after {kills_done} kills: {restarts}"
            too_long = [r for r in restarts if r["dups"] > THRESHOLD + IN_FLIGHT]
            assert not too_long, (f"{name}: a replay after a kill re-sent more than recordsThreshold "
                                  f"({THRESHOLD}) + {IN_FLIGHT} in flight: {too_long}")
            assert conns.get_ok(name)["state"] == "CONNECTOR_STATE_RUNNING"

        # -- clean restarts under load: nothing delivered twice --
        marks = {"bounce-a": len(record_ids(rx_a)), "bounce-b": len(record_ids(rx_b))}
        producers2 = Producers(srv.base_url, [prefix_a, prefix_b], threads=3, streams_per_thread=8,
                               seed=SEED + 1, pause_s=0.004)
        # New streams for the second round: a producer's streams are its own.
        producers2.stream_of = lambda p, j: f"{producers2.prefixes[j % 2]}{p}-clean-{j}"
        producers2.start()
        for _ in range(CLEAN_RESTARTS):
            time.sleep(rng.uniform(0.5, 1.5))
            srv.restart()
        time.sleep(1.0)
        producers2.stop()
        log = read_log(srv.base_url, filter=f"streamPrefix:{prefix_a},{prefix_b}")
        checked = check_store_holds_each_acknowledged_event_once(
            log, producers.acknowledged() + producers2.acknowledged())
        want_a = expected_ids(log, lambda e: e["streamId"].startswith(prefix_a))
        want_b = expected_ids(log, lambda e: e["eventType"] == "Beta")
        wait_until_delivered(rx_a, want_a, timeout=120)
        wait_until_delivered(rx_b, want_b, timeout=120)
        rx_a.quiet_for(1.0, timeout=10)
        rx_b.quiet_for(1.0, timeout=10)
        clean_dups = {}
        for name, rx, want in (("bounce-a", rx_a, want_a), ("bounce-b", rx_b, want_b)):
            runs = analyse_delivery(record_ids(rx), want)
            clean_dups[name] = sum(r["dups"] for r in runs if r["at"] >= marks[name])
            figures[name]["delivered"] = len(want)

        print(f"\nbounce: seed {SEED}, {kills_done} kill -9 survived in {bounce_seconds:.1f} s "
              f"(down {min(downtime):.2f}-{max(downtime):.2f} s each), then {CLEAN_RESTARTS} SIGTERM restarts; "
              f"{checked} acknowledged events checked in the store "
              f"({producers.retries + producers2.retries} append retries)")
        for name, f in figures.items():
            d = f["dups"]
            print(f"  {name}: {f['delivered']} matching events delivered; duplicates after kills: "
                  f"{sum(d)} in {len(d)} replays (per replay: {d}; max {max(d) if d else 0}, "
                  f"bound {THRESHOLD + IN_FLIGHT}); after clean restarts: {clean_dups[name]}")
        for name, n in clean_dups.items():
            assert n == 0, f"{name}: {n} records delivered twice across clean (SIGTERM) restarts"
    finally:
        rx_a.close()
        rx_b.close()
