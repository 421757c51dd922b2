// readStream and readAll through the official client (its Rust stack):
// directions, start revisions and positions, counts, filters, positions that
// match the append results, and StreamNotFoundError.
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, before, describe, test } from "node:test";

import {
  BACKWARDS,
  END,
  FORWARDS,
  NO_STREAM,
  START,
  StreamNotFoundError,
  binaryEvent,
  eventTypeFilter,
  excludeSystemEvents,
  jsonEvent,
  streamNameFilter,
} from "@kurrent/kurrentdb-client";

import {
  STREAMS,
  SubscriptionLog,
  collect,
  describeCall,
  grpcFrame,
  grpcMessages,
  pb,
  rawGrpcCall,
  readAllOf,
  rejectionOf,
  req,
  startServer,
  uniqueStream,
} from "./helpers.mjs";

const T = { timeout: 60_000 };
let server;
let client;

before(async () => {
  server = await startServer({ name: "read" });
  client = server.client();
});
after(async () => {
  await server?.close();
});

async function appendNumbered(stream, n, type = "numbered") {
  const batch = Array.from({ length: n }, (_, i) => jsonEvent({ type, data: { i } }));
  const res = await client.appendToStream(stream, batch, { streamState: NO_STREAM });
  return { batch, res };
}

const revs = (read) => read.map((r) => r.event.revision);

describe("readStream", () => {
  test("forwards from the start returns every event in order", T, async () => {
    const s = uniqueStream("fwd");
    const { batch } = await appendNumbered(s, 10);
    const read = await readAllOf(client, s, { direction: FORWARDS, fromRevision: START });
    assert.deepEqual(revs(read), [...Array(10).keys()].map(BigInt));
    assert.deepEqual(read.map((r) => r.event.id), batch.map((e) => e.id));
    assert.deepEqual(read.map((r) => r.event.data.i), [...Array(10).keys()]);
    assert.ok(read.every((r) => r.event.type === "numbered" && r.event.streamId === s));
  });

  test("backwards from the end returns every event newest first", T, async () => {
    const s = uniqueStream("bwd");
    await appendNumbered(s, 10);
    const read = await readAllOf(client, s, { direction: BACKWARDS, fromRevision: END });
    assert.deepEqual(revs(read), [...Array(10).keys()].reverse().map(BigInt));
  });

  test("fromRevision is inclusive and maxCount bounds the result, both ways", T, async () => {
    const s = uniqueStream("range");
    await appendNumbered(s, 10);
    assert.deepEqual(revs(await readAllOf(client, s, { fromRevision: 3n, maxCount: 4 })), [3n, 4n, 5n, 6n]);
    assert.deepEqual(revs(await readAllOf(client, s, { fromRevision: 5n, maxCount: 3, direction: BACKWARDS })), [5n, 4n, 3n]);
    assert.deepEqual(revs(await readAllOf(client, s, { maxCount: 2 })), [0n, 1n]);
    assert.deepEqual(revs(await readAllOf(client, s, { fromRevision: END, maxCount: 1, direction: BACKWARDS })), [9n]);
    assert.deepEqual(revs(await readAllOf(client, s, { fromRevision: 8n, maxCount: 100 })), [8n, 9n]);
    assert.deepEqual(revs(await readAllOf(client, s, { fromRevision: 20n })), [], "past the end: nothing");
  });

  test("a stream of more than one batch (64) reads whole", T, async () => {
    const s = uniqueStream("batches");
    await appendNumbered(s, 300);
    const read = await readAllOf(client, s);
    assert.equal(read.length, 300);
    assert.deepEqual(revs(read), [...Array(300).keys()].map(BigInt));
  });

  test("a missing stream raises StreamNotFoundError", T, async () => {
    const s = uniqueStream("missing");
    const err = await rejectionOf(collect(client.readStream(s)));
    assert.ok(err instanceof StreamNotFoundError, `got ${err?.constructor?.name}: ${err?.message}`);
    const back = await rejectionOf(collect(client.readStream(s, { direction: BACKWARDS, fromRevision: END })));
    assert.ok(back instanceof StreamNotFoundError, `got ${back?.constructor?.name}: ${back?.message}`);
  });

  test("events carry their log position, the last one equal to the append result's", T, async () => {
    const s = uniqueStream("pos");
    const { res } = await appendNumbered(s, 3);
    const read = await readAllOf(client, s);
    const last = read[read.length - 1].event;
    assert.ok(last.position, "a stream read gives each event its position");
    assert.equal(last.position.commit, res.position.commit);
    assert.equal(last.position.prepare, res.position.prepare);
    for (let i = 1; i < read.length; i++) {
      assert.ok(read[i].event.position.commit > read[i - 1].event.position.commit, "positions increase");
    }
  });
});

describe("links", () => {
  test("a link event resolves to its target with resolveLinkTos, and stays a link without", T, async () => {
    const target = uniqueStream("target");
    const links = uniqueStream("links");
    const { batch } = await appendNumbered(target, 3);
    await client.appendToStream(links, binaryEvent({ type: "$>", data: Buffer.from(`1@${target}`) }));

    const [resolved] = await readAllOf(client, links, { resolveLinkTos: true });
    assert.equal(resolved.event.id, batch[1].id, "event is the target record");
    assert.equal(resolved.event.streamId, target);
    assert.equal(resolved.event.revision, 1n);
    assert.equal(resolved.link.streamId, links, "link is the link record");
    assert.equal(resolved.link.type, "$>");
    assert.equal(resolved.commitPosition, resolved.link.position.commit, "the position is the link's");

    const [plain] = await readAllOf(client, links);
    assert.equal(plain.event.type, "$>");
    assert.equal(plain.event.streamId, links);
    assert.equal(plain.link, undefined);

    const log = new SubscriptionLog(client.subscribeToStream(links, { fromRevision: START, resolveLinkTos: true }));
    try {
      await log.waitForEvents(1, 10_000);
      assert.equal(log.events[0].event.id, batch[1].id);
      assert.equal(log.events[0].link.streamId, links);
    } finally {
      await log.stop();
    }
  });
});

describe("readAll", () => {
  test("forwards includes the appended events in order, with their positions", T, async () => {
    const s = uniqueStream("all-fwd");
    const { batch, res } = await appendNumbered(s, 5);
    const all = await collect(client.readAll({ direction: FORWARDS, fromPosition: START }), 60_000, "readAll");
    const mine = all.filter((r) => r.event?.streamId === s);
    assert.deepEqual(mine.map((r) => r.event.id), batch.map((e) => e.id));
    assert.equal(mine[4].event.position.commit, res.position.commit, "the last event's commit is the append position");
    assert.equal(mine[4].event.position.prepare, res.position.prepare);
    for (let i = 1; i < all.length; i++) {
      const [a, b] = [all[i - 1].event.position, all[i].event.position];
      assert.ok(b.commit > a.commit || (b.commit === a.commit && b.prepare > a.prepare), `$all in position order at ${i}`);
    }
  });

  test("backwards from the end starts with the newest event", T, async () => {
    const s = uniqueStream("all-bwd");
    const { batch } = await appendNumbered(s, 5);
    const read = await collect(client.readAll({ direction: BACKWARDS, fromPosition: END, maxCount: 5 }));
    assert.deepEqual(read.map((r) => r.event.id), batch.map((e) => e.id).reverse());
  });

  test("fromPosition is inclusive forwards and exclusive backwards; maxCount bounds", T, async () => {
    const s = uniqueStream("all-from");
    const { batch } = await appendNumbered(s, 6);
    const mine = (await readAllOf(client, s)).map((r) => r.event);
    const pivot = mine[2].position;

    const fwd = await collect(client.readAll({ fromPosition: pivot, maxCount: 3 }));
    assert.deepEqual(fwd.map((r) => r.event.id), batch.slice(2, 5).map((e) => e.id));

    const bwd = await collect(client.readAll({ fromPosition: pivot, direction: BACKWARDS, maxCount: 2 }));
    assert.deepEqual(bwd.map((r) => r.event.id), [batch[1].id, batch[0].id]);
  });

  test("a stream-name prefix filter returns exactly the matching streams' events", T, async () => {
    const prefix = `pfx${randomUUID().slice(0, 8)}-`;
    const a = `${prefix}a`;
    const b = `${prefix}b`;
    const other = uniqueStream("nomatch");
    const ids = [];
    for (const [stream, n] of [[a, 2], [other, 3], [b, 2], [a, 1]]) {
      const batch = Array.from({ length: n }, (_, i) => jsonEvent({ type: "f", data: { stream, i } }));
      await client.appendToStream(stream, batch);
      if (stream !== other) ids.push(...batch.map((e) => e.id));
    }
    const read = await collect(client.readAll({ filter: streamNameFilter({ prefixes: [prefix] }) }));
    assert.deepEqual(read.map((r) => r.event.id), ids);

    const back = await collect(client.readAll({ filter: streamNameFilter({ prefixes: [prefix] }), direction: BACKWARDS, fromPosition: END }));
    assert.deepEqual(back.map((r) => r.event.id), [...ids].reverse());

    const two = await collect(client.readAll({ filter: streamNameFilter({ prefixes: [prefix] }), maxCount: 2 }));
    assert.deepEqual(two.map((r) => r.event.id), ids.slice(0, 2), "maxCount counts matching events");
  });

  test("forwards from the end is empty (raw requests: the client turns END into a backwards read)", T, async () => {
    const s = uniqueStream("end-fwd");
    await appendNumbered(s, 2);
    const allEndForwards = pb.msg(1, pb.msg(2, pb.empty(3)), pb.uint(5, 10), pb.empty(8), pb.msg(9, pb.empty(2)));
    const streamEndForwards = pb.msg(1, pb.msg(1, req.streamIdentifier(1, Buffer.from(s)), pb.empty(4)), pb.uint(5, 10), pb.empty(8), pb.msg(9, pb.empty(2)));
    for (const [what, body] of [["$all", allEndForwards], ["stream", streamEndForwards]]) {
      const r = await rawGrpcCall({ port: server.port, path: `${STREAMS}/Read`, chunks: [grpcFrame(body)] });
      assert.equal(r.grpcStatus, 0, `${what}: ${describeCall(r)}`);
      const events = grpcMessages(r.body).messages.filter((m) => pb.field(pb.decode(m), 1));
      assert.equal(events.length, 0, `${what}: no event forwards from the end`);
    }
  });

  test("excludeSystemEvents leaves out $-typed events", T, async () => {
    const s = uniqueStream("sys");
    await client.appendToStream(s, jsonEvent({ type: "user-event", data: {} }));
    await client.setStreamMetadata(s, { maxCount: 10 });
    const all = await collect(client.readAll());
    assert.ok(all.some((r) => r.event.type === "$metadata"), "the unfiltered log holds the $metadata event");
    const filtered = await collect(client.readAll({ filter: excludeSystemEvents() }));
    assert.ok(filtered.length > 0);
    assert.ok(filtered.every((r) => !r.event.type.startsWith("$")), "no $-typed event");
    assert.ok(filtered.some((r) => r.event.streamId === s));
  });

  test("a filter with an invalid regex is refused", T, async () => {
    const err = await rejectionOf(collect(client.readAll({ filter: eventTypeFilter({ regex: "(unclosed" }) })));
    assert.ok(err instanceof Error);
    await server.assertHealthy();
  });

  test("event-type filters by prefix and by regex", T, async () => {
    const tag = randomUUID().slice(0, 8);
    const s = uniqueStream("types");
    const types = [`alpha-${tag}`, `beta-${tag}`, `alpha2-${tag}`, `gamma-${tag}`, `beta-${tag}`];
    const batch = types.map((type, i) => jsonEvent({ type, data: { i } }));
    await client.appendToStream(s, batch);

    const byPrefix = await collect(client.readAll({ filter: eventTypeFilter({ prefixes: [`beta-${tag}`, `gamma-${tag}`] }) }));
    assert.deepEqual(byPrefix.map((r) => r.event.data.i), [1, 3, 4]);

    const byRegex = await collect(client.readAll({ filter: eventTypeFilter({ regex: `^alpha2?-${tag}$` }) }));
    assert.deepEqual(byRegex.map((r) => r.event.data.i), [0, 2]);

    const byStreamRegex = await collect(client.readAll({ filter: streamNameFilter({ regex: `^${s}$` }) }));
    assert.deepEqual(byStreamRegex.map((r) => r.event.data.i), [0, 1, 2, 3, 4]);
  });
});
