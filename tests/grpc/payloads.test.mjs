// What an event carries through both client stacks: `created` dates, binary
// payloads byte for byte, JSON text, a 15 MB event, and an event over the
// server's limit.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, before, describe, test } from "node:test";

import { NO_STREAM, START, StreamNotFoundError, binaryEvent, jsonEvent } from "@kurrent/kurrentdb-client";

import { SubscriptionLog, collect, readAllOf, rejectionOf, startServer, uniqueStream } from "./helpers.mjs";

const T = { timeout: 60_000 };
let server;
let client;
let big; // a server that accepts events up to 16 MiB

before(async () => {
  server = await startServer({ name: "payloads" });
  client = server.client();
});
after(async () => {
  await server?.close();
  await big?.close();
});

/** The events of `stream` as delivered by a subscription from the start (the grpc-js stack). */
async function subscribedEvents(c, stream, n, ms = 20_000) {
  const log = new SubscriptionLog(c.subscribeToStream(stream, { fromRevision: START }));
  try {
    await log.waitForEvents(n, ms);
    return log.events.map((e) => e.event);
  } finally {
    await log.stop();
  }
}

describe("created", () => {
  test("created is within seconds of now through reads and subscriptions", T, async () => {
    const s = uniqueStream("created");
    const before = Date.now();
    await client.appendToStream(s, [jsonEvent({ type: "t", data: {} }), binaryEvent({ type: "b", data: Uint8Array.from([1]) })]);
    const after = Date.now();

    // readStream goes through the Rust stack, which keeps whole seconds.
    for (const r of await readAllOf(client, s)) {
      const t = r.event.created.getTime();
      assert.ok(t >= before - 1000 && t <= after + 1000, `read: created ${r.event.created.toISOString()} not in [${new Date(before).toISOString()}, ${new Date(after).toISOString()}]`);
    }
    // Subscriptions go through grpc-js, which keeps milliseconds.
    for (const e of await subscribedEvents(client, s, 2)) {
      const t = e.created.getTime();
      assert.ok(t >= before - 5 && t <= after + 5, `subscription: created ${e.created.toISOString()} not in [${new Date(before).toISOString()}, ${new Date(after).toISOString()}]`);
    }
  });

  test("created increases with the log and survives a second read unchanged", T, async () => {
    const s = uniqueStream("created2");
    await client.appendToStream(s, jsonEvent({ type: "t", data: { n: 1 } }));
    await new Promise((r) => setTimeout(r, 1100));
    await client.appendToStream(s, jsonEvent({ type: "t", data: { n: 2 } }));
    const [a, b] = await subscribedEvents(client, s, 2);
    assert.ok(b.created.getTime() - a.created.getTime() >= 1000, "the second event was created at least a second later");
    const again = await subscribedEvents(client, s, 2);
    assert.equal(again[0].created.getTime(), a.created.getTime(), "created is stored, not computed per read");
  });
});

describe("payloads", () => {
  test("binary payloads are byte-identical through reads and subscriptions", T, async () => {
    const s = uniqueStream("bytes");
    const every = Uint8Array.from({ length: 256 }, (_, i) => i);
    const random = randomBytes(256 * 1024);
    const empty = new Uint8Array(0);
    const written = [every, random, empty, Buffer.from("not json {", "utf8")];
    await client.appendToStream(s, written.map((data) => binaryEvent({ type: "bytes", data })), { streamState: NO_STREAM });

    const read = (await readAllOf(client, s)).map((r) => r.event);
    const subscribed = await subscribedEvents(client, s, written.length);
    for (const [label, got] of [["readStream", read], ["subscription", subscribed]]) {
      assert.equal(got.length, written.length, label);
      got.forEach((e, i) => {
        assert.equal(e.isJson, false, `${label} ${i}: binary`);
        assert.ok(Buffer.from(e.data).equals(Buffer.from(written[i])), `${label} ${i}: ${e.data.length} bytes read, ${written[i].length} written, identical`);
      });
    }
  });

  test("JSON text with unicode, escapes and large numbers round-trips", T, async () => {
    const s = uniqueStream("json");
    const data = { emoji: "🎉 ✓ ñ 漢字", esc: "quote \" backslash \\ nul \u0000 tab \t", big: 9007199254740991, neg: -1.5e-7, deep: [[[{ a: null }]]] };
    const metadata = { "$correlationId": "c-1", list: [true, false] };
    await client.appendToStream(s, jsonEvent({ type: "ünï-type", data, metadata }));
    const [r] = await readAllOf(client, s);
    assert.deepEqual(r.event.data, data);
    assert.deepEqual(r.event.metadata, metadata);
    assert.equal(r.event.type, "ünï-type");
    const [e] = await subscribedEvents(client, s, 1);
    assert.deepEqual(e.data, data);
    assert.deepEqual(e.metadata, metadata);
    assert.equal(e.type, "ünï-type");
  });

  test("a unicode stream name works", T, async () => {
    const s = `ström-✓-${uniqueStream("u")}`;
    await client.appendToStream(s, jsonEvent({ type: "t", data: {} }));
    const [r] = await readAllOf(client, s);
    assert.equal(r.event.streamId, s);
    const [e] = await subscribedEvents(client, s, 1);
    assert.equal(e.streamId, s);
  });

  test("an event over the server's size limit is refused and nothing is written", T, async () => {
    const s = uniqueStream("too-big");
    const err = await rejectionOf(client.appendToStream(s, binaryEvent({ type: "big", data: randomBytes(9 * 1024 * 1024) })));
    assert.ok(err instanceof Error);
    const read = await rejectionOf(collect(client.readStream(s)));
    assert.ok(read instanceof StreamNotFoundError, `the stream was not created (got ${read?.constructor?.name})`);
    await server.assertHealthy();
    await client.appendToStream(s, jsonEvent({ type: "small", data: {} }));
  });

  test("a 15 MB event round-trips through append, read and subscription", { timeout: 120_000 }, async () => {
    big = await startServer({ name: "big", extraArgs: ["--max-event-bytes", "16MiB", "--max-body-bytes", "64MiB"] });
    const c = big.client();
    const s = uniqueStream("huge");
    const data = randomBytes(15 * 1000 * 1000);
    const res = await c.appendToStream(s, [binaryEvent({ type: "huge", data }), jsonEvent({ type: "after", data: { ok: true } })], { streamState: NO_STREAM });
    assert.equal(res.nextExpectedRevision, 1n);

    const read = await readAllOf(c, s);
    assert.equal(read.length, 2);
    assert.equal(read[0].event.data.length, data.length);
    assert.ok(Buffer.from(read[0].event.data).equals(data), "readStream: identical");
    assert.deepEqual(read[1].event.data, { ok: true });

    const sub = await subscribedEvents(c, s, 2, 60_000);
    assert.ok(Buffer.from(sub[0].data).equals(data), "subscription: identical");

    const all = await collect(c.readAll({ maxCount: 10 }), 60_000);
    assert.ok(all.some((r) => r.event?.streamId === s && Buffer.from(r.event.data).equals(data)), "readAll: identical");
  });
});
