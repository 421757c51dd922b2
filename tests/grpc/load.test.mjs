// Load through the official client: 1 000 concurrent appends from 10 clients,
// and subscriptions that stay open while many events are appended.
//
// SLUICE_GRPC_SUB_EVENTS sets how many events the subscription test appends
// (default 100 000; about 17 s against the sanitized build).
import assert from "node:assert/strict";
import http2 from "node:http2";
import { after, before, describe, test } from "node:test";

import { NO_STREAM, START, jsonEvent, streamNameFilter } from "@kurrent/kurrentdb-client";

import {
  STREAMS,
  SubscriptionLog,
  describeCall,
  grpcFrame,
  grpcMessages,
  pb,
  rawGrpcCall,
  readAllOf,
  req,
  sleep,
  startServer,
  uniqueStream,
  withTimeout,
} from "./helpers.mjs";

let server;

before(async () => {
  server = await startServer({ name: "load" });
});
after(async () => {
  await server?.close();
});

describe("concurrency", () => {
  test("1 000 concurrent appends from 10 clients all succeed with contiguous revisions", { timeout: 120_000 }, async () => {
    const clients = Array.from({ length: 10 }, () => server.client());
    const streams = Array.from({ length: 10 }, () => uniqueStream("conc"));
    // Every client appends 100 times, 10 times to each stream, all at once.
    const jobs = [];
    for (const [ci, c] of clients.entries()) {
      for (let k = 0; k < 100; k++) {
        const stream = streams[(ci + k) % streams.length];
        const events = [jsonEvent({ type: "conc", data: { ci, k } }), ...(k % 4 === 0 ? [jsonEvent({ type: "conc", data: { ci, k, second: true } })] : [])];
        jobs.push({ stream, ids: events.map((e) => e.id), promise: c.appendToStream(stream, events) });
      }
    }
    const results = await withTimeout(Promise.allSettled(jobs.map((j) => j.promise)), 100_000, "1 000 appends");
    const failed = results.filter((r) => r.status === "rejected");
    assert.equal(failed.length, 0, `${failed.length} appends failed; first: ${failed[0]?.reason?.constructor?.name}: ${failed[0]?.reason?.message}`);

    for (const stream of streams) {
      const mine = jobs.map((j, i) => ({ ...j, res: results[i].value })).filter((j) => j.stream === stream);
      const expectedCount = mine.reduce((n, j) => n + j.ids.length, 0);
      const read = await readAllOf(clients[0], stream);
      assert.equal(read.length, expectedCount, `${stream}: every event written once`);
      read.forEach((r, i) => assert.equal(r.event.revision, BigInt(i), `${stream}: revision ${i} in place`));

      // Each append's events are adjacent, and its result names its last revision.
      const revisionOf = new Map(read.map((r) => [r.event.id, r.event.revision]));
      for (const j of mine) {
        const revsOfAppend = j.ids.map((id) => revisionOf.get(id));
        assert.ok(revsOfAppend.every((r) => r !== undefined), "every id was written");
        revsOfAppend.forEach((r, i) => i && assert.equal(r, revsOfAppend[i - 1] + 1n, "one append's events are contiguous"));
        assert.equal(j.res.nextExpectedRevision, revsOfAppend[revsOfAppend.length - 1], "the result names the append's last revision");
      }
    }
  });
});

describe("optimistic concurrency", () => {
  test("of 20 clients appending at the same expected revision, exactly one wins each round", { timeout: 120_000 }, async () => {
    const clients = Array.from({ length: 20 }, () => server.client());
    const s = uniqueStream("race");
    await clients[0].appendToStream(s, jsonEvent({ type: "seed", data: {} }), { streamState: NO_STREAM });
    for (let round = 0; round < 10; round++) {
      const expected = BigInt(round);
      const outcomes = await Promise.allSettled(clients.map((c, i) => c.appendToStream(s, jsonEvent({ type: "race", data: { round, i } }), { streamState: expected })));
      const winners = outcomes.filter((o) => o.status === "fulfilled");
      assert.equal(winners.length, 1, `round ${round}: ${winners.length} winners`);
      assert.equal(winners[0].value.nextExpectedRevision, expected + 1n);
      for (const o of outcomes.filter((x) => x.status === "rejected")) {
        assert.equal(o.reason?.constructor?.name, "WrongExpectedVersionError", `round ${round}: ${o.reason?.message}`);
        assert.equal(o.reason.actualState, expected + 1n);
      }
    }
    assert.equal((await readAllOf(clients[0], s)).length, 11);
  });
});

describe("many and slow subscribers", () => {
  test("200 subscriptions on one client all receive the live events", { timeout: 120_000 }, async () => {
    const c = server.client();
    const s = uniqueStream("fanout");
    const logs = Array.from({ length: 200 }, () => new SubscriptionLog(c.subscribeToStream(s, { fromRevision: START })));
    try {
      await Promise.all(logs.map((l) => l.waitForCaughtUp(30_000)));
      const events = Array.from({ length: 50 }, (_, i) => jsonEvent({ type: "fan", data: { i } }));
      await server.client().appendToStream(s, events, { streamState: NO_STREAM });
      await Promise.all(logs.map((l) => l.waitForEvents(50, 60_000)));
      for (const l of logs) assert.deepEqual(l.events.map((e) => e.event.data.i), [...Array(50).keys()]);
    } finally {
      await Promise.all(logs.map((l) => l.stop()));
    }
  });

  test("a subscriber that stops reading for a while gets everything in order when it resumes", { timeout: 120_000 }, async () => {
    const c = server.client();
    const s = uniqueStream("paused");
    const sub = c.subscribeToStream(s, { fromRevision: START });
    const log = new SubscriptionLog(sub, { keep: (e) => e.event.data.i });
    try {
      await log.waitForCaughtUp();
      sub.pause();
      // About 8 MB while nobody reads: far more than the HTTP/2 windows.
      const pad = "p".repeat(4000);
      const writer = server.client();
      for (let n = 0; n < 2000; n += 100) {
        await writer.appendToStream(s, Array.from({ length: 100 }, (_, i) => jsonEvent({ type: "slow", data: { i: n + i, pad } })));
      }
      await sleep(1000);
      await server.assertHealthy();
      // Other clients are served meanwhile.
      const other = uniqueStream("meanwhile");
      await writer.appendToStream(other, jsonEvent({ type: "x", data: {} }));
      assert.equal((await readAllOf(writer, other)).length, 1);
      sub.resume();
      await log.waitForEvents(2000, 60_000);
      assert.deepEqual(log.events, [...Array(2000).keys()]);
      assert.equal(log.errors.length, 0);
    } finally {
      await log.stop();
    }
  });
});

describe("calls the client abandons", () => {
  test("appends past their deadline, reads broken off and subscriptions dropped mid-stream leave the server serving", { timeout: 120_000 }, async () => {
    const c = server.client();
    const s = uniqueStream("abandon");
    await c.appendToStream(s, Array.from({ length: 1000 }, (_, i) => jsonEvent({ type: "a", data: { i, pad: "z".repeat(200) } })));

    // Appends with a 1 ms deadline: each fails on the client or succeeds; none may leave a half-written append.
    const rushed = await Promise.allSettled(
      Array.from({ length: 100 }, (_, k) => c.appendToStream(s, [jsonEvent({ type: "rushed", data: { k, part: 0 } }), jsonEvent({ type: "rushed", data: { k, part: 1 } })], { deadline: 1 })),
    );
    // Reads reset by the client after their first bytes, all on one connection, then a whole read on it.
    // (Raw calls: the official client does not cancel a readStream left early; it keeps the
    // call and its unread data until garbage collection.)
    const session = http2.connect(`http://127.0.0.1:${server.port}`);
    try {
      const readReq = grpcFrame(req.readStream(s, { count: 1000 }));
      for (let k = 0; k < 50; k++) {
        const r = await rawGrpcCall({ session, path: `${STREAMS}/Read`, chunks: [readReq], cancelAfterData: true });
        assert.ok(!r.timedOut && r.body.length > 0, describeCall(r));
      }
      const whole = await rawGrpcCall({ session, path: `${STREAMS}/Read`, chunks: [readReq], timeoutMs: 30_000 });
      assert.equal(whole.grpcStatus, 0, describeCall(whole));
      assert.equal(grpcMessages(whole.body).messages.filter((m) => pb.field(pb.decode(m), 1)).length, 1000);
    } finally {
      session.destroy();
    }
    // Subscriptions dropped while history is still flowing.
    const subs = Array.from({ length: 50 }, () => new SubscriptionLog(c.subscribeToStream(s, { fromRevision: START })));
    await Promise.all(subs.map((l) => l.waitForEvents(1, 30_000)));
    await Promise.all(subs.map((l) => l.stop()));

    await server.assertHealthy();
    const fresh = server.client();
    const read = await readAllOf(fresh, s);
    const parts = new Map();
    for (const r of read.filter((r) => r.event.type === "rushed")) parts.set(r.event.data.k, [...(parts.get(r.event.data.k) ?? []), r.event.data.part]);
    for (const [k, p] of parts) assert.deepEqual(p, [0, 1], `append ${k} was written whole`);
    read.forEach((r, i) => assert.equal(r.event.revision, BigInt(i)));
    const succeeded = rushed.filter((r) => r.status === "fulfilled").length;
    assert.ok(parts.size >= succeeded, `${succeeded} appends reported success, ${parts.size} found`);
    await fresh.appendToStream(s, jsonEvent({ type: "after", data: {} }));
  });
});

describe("long subscriptions", () => {
  const total = Number(process.env.SLUICE_GRPC_SUB_EVENTS || 100_000);

  test(`subscriptions stay open while ${total} events are appended and receive all in order`, { timeout: 240_000 }, async () => {
    const c = server.client();
    const s = uniqueStream("long");
    const seen = {};
    const toStream = new SubscriptionLog(c.subscribeToStream(s, { fromRevision: START }), {
      keep: (e) => e.event.revision,
    });
    const toAll = new SubscriptionLog(c.subscribeToAll({ fromPosition: START, filter: streamNameFilter({ prefixes: [s] }) }), {
      keep: (e) => e.event.data.n,
    });
    try {
      await toStream.waitForCaughtUp(15_000);
      await toAll.waitForCaughtUp(15_000);

      const batchSize = 250;
      const writer = server.client();
      for (let n = 0; n < total; n += batchSize) {
        const size = Math.min(batchSize, total - n);
        const batch = Array.from({ length: size }, (_, i) => jsonEvent({ type: "long", data: { n: n + i, pad: "x".repeat(40) } }));
        await writer.appendToStream(s, batch, { streamState: n === 0 ? NO_STREAM : BigInt(n - 1) });
      }

      await toStream.waitForEvents(total, 180_000, `${total} events on the stream subscription`);
      await toAll.waitForEvents(total, 180_000, `${total} events on the $all subscription`);
      seen.stream = toStream.events;
      seen.all = toAll.events;
      assert.equal(seen.stream.length, total, "no extra events");
      for (let i = 0; i < total; i++) {
        if (seen.stream[i] !== BigInt(i)) assert.fail(`stream subscription: event ${i} has revision ${seen.stream[i]}`);
        if (seen.all[i] !== i) assert.fail(`$all subscription: event ${i} is number ${seen.all[i]}`);
      }
      assert.equal(toStream.errors.length + toAll.errors.length, 0, "no subscription error");
    } finally {
      await toStream.stop();
      await toAll.stop();
    }
  });
});
