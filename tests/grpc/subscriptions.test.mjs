// subscribeToStream and subscribeToAll through the official client (its
// grpc-js stack): catch-up from the start, from a revision or position
// (exclusive) and from the end, caughtUp, live events, filters, and the
// checkpoints of filtered $all subscriptions.
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, before, describe, test } from "node:test";

import {
  BACKWARDS,
  END,
  NO_STREAM,
  START,
  StreamDeletedError,
  eventTypeFilter,
  excludeSystemEvents,
  jsonEvent,
  streamNameFilter,
} from "@kurrent/kurrentdb-client";

import { SubscriptionLog, collect, readAllOf, sleep, startServer, uniqueStream, waitFor } from "./helpers.mjs";

const T = { timeout: 60_000 };
let server;
let client;
const subscriptions = [];

before(async () => {
  server = await startServer({ name: "subs" });
  client = server.client();
});
after(async () => {
  await Promise.all(subscriptions.map((s) => s.stop()));
  await server?.close();
});

function follow(subscription) {
  const log = new SubscriptionLog(subscription);
  subscriptions.push(log);
  return log;
}

const numbered = (n, type = "sub", from = 0) =>
  Array.from({ length: n }, (_, i) => jsonEvent({ type, data: { i: from + i } }));

const near = (date, what) => {
  assert.ok(date instanceof Date, `${what}: a date`);
  assert.ok(Math.abs(date.getTime() - Date.now()) < 60_000, `${what}: ${date.toISOString()} is within a minute of now`);
};

describe("subscribeToStream", () => {
  test("from the start: history, caughtUp with the last revision, then live events", T, async () => {
    const s = uniqueStream("sub-start");
    const history = numbered(5);
    await client.appendToStream(s, history, { streamState: NO_STREAM });

    const log = follow(client.subscribeToStream(s, { fromRevision: START }));
    await log.waitForEvents(5, 15_000);
    await log.waitForCaughtUp();
    assert.equal(log.caughtUp[0].revision, 4n, "caughtUp names the last revision sent");
    near(log.caughtUp[0].date, "caughtUp date");

    const live = numbered(3, "sub", 5);
    await client.appendToStream(s, live, { streamState: 4n });
    await log.waitForEvents(8, 15_000);
    assert.deepEqual(log.events.map((e) => e.event.revision), [...Array(8).keys()].map(BigInt));
    assert.deepEqual(log.events.map((e) => e.event.id), [...history, ...live].map((e) => e.id));
    assert.deepEqual(log.events.map((e) => e.event.data.i), [...Array(8).keys()]);
    assert.ok(log.events.every((e) => e.event.streamId === s && e.event.type === "sub"));
    assert.equal(log.errors.length, 0);
    await log.stop();
  });

  test("from a revision: only the events after it", T, async () => {
    const s = uniqueStream("sub-rev");
    await client.appendToStream(s, numbered(6), { streamState: NO_STREAM });
    const log = follow(client.subscribeToStream(s, { fromRevision: 2n }));
    await log.waitForCaughtUp();
    await log.waitForEvents(3, 10_000);
    await sleep(200);
    assert.deepEqual(log.events.map((e) => e.event.revision), [3n, 4n, 5n], "the start revision is exclusive");
    assert.equal(log.caughtUp[0].revision, 5n);
    await client.appendToStream(s, numbered(1, "sub", 6));
    await log.waitForEvents(4, 10_000);
    assert.equal(log.events[3].event.revision, 6n);
    await log.stop();
  });

  test("from the end: only events appended after subscribing", T, async () => {
    const s = uniqueStream("sub-end");
    await client.appendToStream(s, numbered(4), { streamState: NO_STREAM });
    const log = follow(client.subscribeToStream(s, { fromRevision: END }));
    await log.waitForCaughtUp();
    await sleep(200);
    assert.equal(log.events.length, 0, "no history from the end");
    const live = numbered(2, "sub", 4);
    await client.appendToStream(s, live);
    await log.waitForEvents(2, 10_000);
    assert.deepEqual(log.events.map((e) => e.event.revision), [4n, 5n]);
    assert.deepEqual(log.events.map((e) => e.event.id), live.map((e) => e.id));
    await log.stop();
  });

  test("a stream that does not exist yet is waited for", T, async () => {
    const s = uniqueStream("sub-later");
    const log = follow(client.subscribeToStream(s, { fromRevision: START }));
    await log.waitForCaughtUp();
    assert.equal(log.caughtUp[0].revision, undefined, "no revision for an empty stream");
    await sleep(200);
    assert.equal(log.events.length, 0);
    assert.equal(log.errors.length, 0, "no error for a missing stream");
    await client.appendToStream(s, numbered(2), { streamState: NO_STREAM });
    await log.waitForEvents(2, 10_000);
    assert.deepEqual(log.events.map((e) => e.event.revision), [0n, 1n]);
    await log.stop();
  });

  test("events from other streams are not delivered", T, async () => {
    const s = uniqueStream("sub-mine");
    const log = follow(client.subscribeToStream(s, { fromRevision: START }));
    await log.waitForCaughtUp();
    await client.appendToStream(uniqueStream("sub-other"), numbered(3));
    await client.appendToStream(s, numbered(1));
    await log.waitForEvents(1, 10_000);
    await sleep(200);
    assert.equal(log.events.length, 1);
    assert.equal(log.events[0].event.streamId, s);
    await log.stop();
  });

  test("catch-up hands over to live with no gap and no duplicate while appends go on", { timeout: 120_000 }, async () => {
    const s = uniqueStream("handover");
    const writer = server.client();
    const batch = (from, n) => Array.from({ length: n }, (_, i) => jsonEvent({ type: "h", data: { i: from + i } }));
    for (let n = 0; n < 3000; n += 500) await writer.appendToStream(s, batch(n, 500));
    // Subscribe while another client keeps appending in small batches.
    const appending = (async () => {
      for (let n = 3000; n < 5000; n += 50) await writer.appendToStream(s, batch(n, 50));
    })();
    const toStream = follow(client.subscribeToStream(s, { fromRevision: START }));
    const toAll = follow(client.subscribeToAll({ fromPosition: START, filter: streamNameFilter({ prefixes: [s] }) }));
    await appending;
    await toStream.waitForEvents(5000, 60_000);
    await toAll.waitForEvents(5000, 60_000);
    await sleep(300);
    for (const [label, log] of [["stream", toStream], ["$all", toAll]]) {
      assert.equal(log.events.length, 5000, `${label}: no duplicate`);
      log.events.forEach((e, i) => {
        if (e.event.data.i !== i) assert.fail(`${label}: event ${i} is number ${e.event.data.i}`);
      });
    }
    await toStream.stop();
    await toAll.stop();
  });

  test("subscribing to a tombstoned stream fails with StreamDeletedError", T, async () => {
    const s = uniqueStream("sub-tomb");
    await client.appendToStream(s, numbered(1));
    await client.tombstoneStream(s);
    const log = follow(client.subscribeToStream(s, { fromRevision: START }));
    await waitFor(() => log.errors.length > 0, 10_000, "the subscription's error");
    assert.ok(log.errors[0] instanceof StreamDeletedError, `got ${log.errors[0]?.constructor?.name}: ${log.errors[0]?.message}`);
  });

  test("a tombstone ends a live subscription with StreamDeletedError", T, async () => {
    const s = uniqueStream("sub-live-tomb");
    await client.appendToStream(s, numbered(1));
    const log = follow(client.subscribeToStream(s, { fromRevision: START }));
    await log.waitForCaughtUp();
    await client.tombstoneStream(s);
    await waitFor(() => log.errors.length > 0, 10_000, "the subscription's error");
    assert.ok(log.errors[0] instanceof StreamDeletedError, `got ${log.errors[0]?.constructor?.name}: ${log.errors[0]?.message}`);
  });

  test("a subscription that is cancelled leaves the others and the server working", T, async () => {
    const s = uniqueStream("sub-cancel");
    const first = follow(client.subscribeToStream(s, { fromRevision: START }));
    const second = follow(client.subscribeToStream(s, { fromRevision: START }));
    await first.waitForCaughtUp();
    await second.waitForCaughtUp();
    await first.stop();
    await client.appendToStream(s, numbered(2));
    await second.waitForEvents(2, 10_000);
    assert.deepEqual(second.events.map((e) => e.event.revision), [0n, 1n]);
    await second.stop();
    await server.assertHealthy();
  });
});

describe("subscribeToAll", () => {
  test("from the start: history in $all order, caughtUp with a position, then live events", T, async () => {
    const s = uniqueStream("all-start");
    const history = numbered(3, "all-sub");
    const res = await client.appendToStream(s, history, { streamState: NO_STREAM });

    const log = follow(client.subscribeToAll({ fromPosition: START }));
    await log.waitForCaughtUp(15_000);
    const mineOf = () => log.events.filter((e) => e.event?.streamId === s);
    assert.deepEqual(mineOf().map((e) => e.event.id), history.map((e) => e.id));
    const cu = log.caughtUp[0];
    near(cu.date, "caughtUp date");
    assert.ok(cu.position, "caughtUp of $all carries a position");
    assert.ok(cu.position.commit >= res.position.commit, "caughtUp is at or after the last event sent");

    const live = numbered(2, "all-sub", 3);
    await client.appendToStream(s, live);
    await waitFor(() => mineOf().length === 5, 10_000, "live events on $all");
    assert.deepEqual(mineOf().map((e) => e.event.id), [...history, ...live].map((e) => e.id));
    const positions = log.events.map((e) => e.event.position.commit);
    for (let i = 1; i < positions.length; i++) assert.ok(positions[i] > positions[i - 1], "$all subscription in position order");
    await log.stop();
  });

  test("from a position: only the events after it", T, async () => {
    const s = uniqueStream("all-pos");
    const batch = numbered(5, "all-pos");
    await client.appendToStream(s, batch, { streamState: NO_STREAM });
    const read = (await readAllOf(client, s)).map((r) => r.event);

    const log = follow(client.subscribeToAll({ fromPosition: read[1].position, filter: streamNameFilter({ prefixes: [s] }) }));
    await log.waitForCaughtUp(15_000);
    await log.waitForEvents(3, 10_000);
    await sleep(200);
    assert.deepEqual(log.events.map((e) => e.event.id), batch.slice(2).map((e) => e.id), "the start position is exclusive");
    await log.stop();
  });

  test("from the end: only new events", T, async () => {
    const s = uniqueStream("all-end");
    await client.appendToStream(s, numbered(3), { streamState: NO_STREAM });
    const log = follow(client.subscribeToAll({ fromPosition: END, filter: streamNameFilter({ prefixes: [s] }) }));
    await log.waitForCaughtUp();
    await sleep(200);
    assert.equal(log.events.length, 0);
    const live = numbered(2, "sub", 3);
    await client.appendToStream(s, live);
    await log.waitForEvents(2, 10_000);
    assert.deepEqual(log.events.map((e) => e.event.id), live.map((e) => e.id));
    await log.stop();
  });

  test("filters by stream-name prefix, event-type prefix and event-type regex", T, async () => {
    const tag = randomUUID().slice(0, 8);
    const streamA = `flt${tag}-a`;
    const streamB = `other${tag}`;
    const byStream = follow(client.subscribeToAll({ fromPosition: START, filter: streamNameFilter({ prefixes: [`flt${tag}-`] }) }));
    const byType = follow(client.subscribeToAll({ fromPosition: START, filter: eventTypeFilter({ prefixes: [`kept-${tag}`] }) }));
    const byRegex = follow(client.subscribeToAll({ fromPosition: START, filter: eventTypeFilter({ regex: `^(kept|also)-${tag}$` }) }));
    await Promise.all([byStream, byType, byRegex].map((l) => l.waitForCaughtUp(15_000)));

    const kinds = [
      [streamA, `kept-${tag}`],
      [streamB, `kept-${tag}`],
      [streamA, `dropped-${tag}`],
      [streamB, `also-${tag}`],
      [streamA, `also-${tag}`],
    ];
    const written = [];
    for (const [stream, type] of kinds) {
      const e = jsonEvent({ type, data: { stream, type } });
      await client.appendToStream(stream, e);
      written.push({ id: e.id, stream, type });
    }
    const expect = (pred) => written.filter(pred).map((w) => w.id);
    await byStream.waitForEvents(3, 10_000);
    await byType.waitForEvents(2, 10_000);
    await byRegex.waitForEvents(4, 10_000);
    await sleep(300);
    assert.deepEqual(byStream.events.map((e) => e.event.id), expect((w) => w.stream === streamA));
    assert.deepEqual(byType.events.map((e) => e.event.id), expect((w) => w.type === `kept-${tag}`));
    assert.deepEqual(byRegex.events.map((e) => e.event.id), expect((w) => w.type !== `dropped-${tag}`));
    await Promise.all([byStream, byType, byRegex].map((l) => l.stop()));
  });

  test("excludeSystemEvents leaves out $-typed events; an invalid regex fails the subscription", T, async () => {
    const s = uniqueStream("nosys");
    const log = follow(client.subscribeToAll({ fromPosition: END, filter: excludeSystemEvents() }));
    await log.waitForCaughtUp();
    await client.setStreamMetadata(s, { maxCount: 5 });
    await client.appendToStream(s, numbered(2));
    await waitFor(() => log.events.filter((e) => e.event.streamId === s).length === 2, 10_000, "the user events");
    assert.ok(log.events.every((e) => !e.event.type.startsWith("$")), `no $-typed event: ${log.events.map((e) => e.event.type)}`);
    await log.stop();

    const bad = follow(client.subscribeToAll({ filter: eventTypeFilter({ regex: "(unclosed" }) }));
    await waitFor(() => bad.errors.length > 0, 10_000, "the subscription's error");
    assert.equal(bad.events.length, 0);
  });

  test("maxSearchWindow sets how many scanned events a checkpoint covers", T, async () => {
    const tag = randomUUID().slice(0, 8);
    const checkpoints = [];
    const filter = eventTypeFilter({
      prefixes: [`never-${tag}`],
      maxSearchWindow: 10,
      checkpointInterval: 1,
      checkpointReached: (_sub, position) => {
        checkpoints.push(position);
      },
    });
    const log = follow(client.subscribeToAll({ fromPosition: END, filter }));
    await log.waitForCaughtUp();
    await sleep(200);
    const before = checkpoints.length;
    await client.appendToStream(uniqueStream("window"), Array.from({ length: 100 }, (_, i) => jsonEvent({ type: `noise-${tag}`, data: { i } })));
    await waitFor(() => checkpoints.length - before >= 9, 15_000, "a checkpoint every 10 events");
    await sleep(300);
    const live = checkpoints.length - before;
    assert.ok(live >= 9 && live <= 11, `${live} checkpoints over 100 live events with a window of 10`);
    await log.stop();
  });

  test("a filtered $all subscription reaches checkpoints while catching up and live", T, async (t) => {
    const tag = randomUUID().slice(0, 8);
    const matching = `match-${tag}`;
    // 384 events, 1 in 8 matching, before subscribing.
    for (let b = 0; b < 4; b++) {
      const batch = Array.from({ length: 96 }, (_, i) =>
        jsonEvent({ type: i % 8 === 0 ? matching : `noise-${tag}`, data: { b, i } }));
      await client.appendToStream(uniqueStream("cp"), batch);
    }
    const total = (await collect(client.readAll({ fromPosition: START }), 60_000, "readAll")).length;
    const head = (await collect(client.readAll({ fromPosition: END, direction: BACKWARDS, maxCount: 1 })))[0].event.position;

    const checkpoints = [];
    const filter = eventTypeFilter({
      prefixes: [matching],
      checkpointInterval: 2,
      checkpointReached: (_sub, position) => {
        checkpoints.push(position);
      },
    });
    const log = follow(client.subscribeToAll({ fromPosition: START, filter }));
    await log.waitForCaughtUp(20_000);
    await log.waitForEvents(48, 10_000);
    await sleep(300);
    assert.equal(log.events.length, 48, "only the matching events");
    assert.ok(log.events.every((e) => e.event.type === matching));

    // A checkpoint after every 32 × 2 events scanned, and one when catch-up ends.
    const catchUpCheckpoints = checkpoints.length;
    t.diagnostic(`${catchUpCheckpoints} checkpoints over ${total} events while catching up`);
    const expected = Math.floor(total / 64);
    assert.ok(
      catchUpCheckpoints >= expected && catchUpCheckpoints <= expected + 2,
      `${catchUpCheckpoints} checkpoints while catching up over ${total} events; expected ${expected} to ${expected + 2}`,
    );
    for (let i = 1; i < checkpoints.length; i++) {
      assert.ok(checkpoints[i].commit >= checkpoints[i - 1].commit, "checkpoints never go back");
    }
    for (const cp of checkpoints) {
      assert.ok(cp.commit <= head.commit, "a checkpoint is never past the last event scanned");
      assert.ok(cp.commit >= cp.prepare, "commit >= prepare");
    }
    assert.ok(checkpoints[checkpoints.length - 1].commit >= log.events[log.events.length - 1].event.position.commit);

    // Live: 130 more events that do not match still move the checkpoint forward.
    const liveBatch = Array.from({ length: 130 }, (_, i) => jsonEvent({ type: `noise-${tag}`, data: { i } }));
    const res = await client.appendToStream(uniqueStream("cp-live"), liveBatch);
    await waitFor(() => checkpoints.length >= catchUpCheckpoints + 1, 15_000, "a live checkpoint");
    const lastCp = checkpoints[checkpoints.length - 1];
    assert.ok(lastCp.commit > head.commit, "the live checkpoint is past the catch-up head");
    assert.ok(lastCp.commit <= res.position.commit);
    assert.equal(log.events.length, 48, "no noise delivered");
    await log.stop();
  });
});
