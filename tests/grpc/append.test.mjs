// appendToStream through the official client: every expected-revision kind,
// wrong-expected-version errors, JSON and binary payloads with metadata, and
// idempotent re-appends.
//
// The client appends with BatchAppend when the server advertises it, and with
// the plain Append call when it does not or when the call carries its own
// credentials. Every case runs both ways: once plainly, once with per-call
// credentials (which a server without TLS ignores).
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, before, describe, test } from "node:test";

import {
  ANY,
  MaxAppendSizeExceededError,
  NO_STREAM,
  STREAM_EXISTS,
  StreamNotFoundError,
  WrongExpectedVersionError,
  binaryEvent,
  jsonEvent,
} from "@kurrent/kurrentdb-client";

import { readAllOf, rejectionOf, startServer, uniqueStream } from "./helpers.mjs";

const T = { timeout: 60_000 };
let server;
let client;

before(async () => {
  server = await startServer({ name: "append" });
  client = server.client();
});
after(async () => {
  await server?.close();
});

const events = (n, type = "test-event") =>
  Array.from({ length: n }, (_, i) => jsonEvent({ type, data: { i } }));

const revisionsOf = async (stream) => (await readAllOf(client, stream)).map((e) => e.event.revision);

const MODES = [
  { label: "appendToStream (BatchAppend when advertised)", opts: {}, batch: true },
  { label: "appendToStream with per-call credentials (plain Append)", opts: { credentials: { username: "admin", password: "changeit" } }, batch: false },
];

for (const mode of MODES) {
  const append = (stream, evs, options = {}) => client.appendToStream(stream, evs, { ...mode.opts, ...options });
describe(mode.label, () => {
  test("append with any creates the stream, then appends after its end", T, async () => {
    const s = uniqueStream("any");
    const first = await append(s, events(1), { streamState: ANY });
    assert.equal(first.success, true);
    assert.equal(first.nextExpectedRevision, 0n);
    assert.ok(first.position, "an append result carries the position of its last event");
    assert.ok(first.position.commit >= first.position.prepare, "commit >= prepare");

    const second = await append(s, events(2), { streamState: ANY });
    assert.equal(second.nextExpectedRevision, 2n);
    assert.ok(second.position.commit > first.position.commit, "positions grow along the log");
    assert.deepEqual(await revisionsOf(s), [0n, 1n, 2n]);
  });

  test("append without options defaults to any", T, async () => {
    const s = uniqueStream("default");
    assert.equal((await append(s, events(1))).nextExpectedRevision, 0n);
    assert.equal((await append(s, events(1))).nextExpectedRevision, 1n);
  });

  test("no_stream succeeds on a new stream and fails with the actual revision once it exists", T, async () => {
    const s = uniqueStream("nostream");
    const ok = await append(s, events(2), { streamState: NO_STREAM });
    assert.equal(ok.nextExpectedRevision, 1n);

    const err = await rejectionOf(append(s, events(1), { streamState: NO_STREAM }));
    assert.ok(err instanceof WrongExpectedVersionError, `got ${err?.constructor?.name}: ${err?.message}`);
    assert.equal(err.streamName, s);
    assert.equal(err.expectedState, NO_STREAM);
    assert.equal(err.actualState, 1n);
    assert.deepEqual(await revisionsOf(s), [0n, 1n], "a refused append writes nothing");
  });

  test("stream_exists fails on a missing stream and succeeds on an existing one", T, async () => {
    const s = uniqueStream("exists");
    const err = await rejectionOf(append(s, events(1), { streamState: STREAM_EXISTS }));
    assert.ok(err instanceof WrongExpectedVersionError, `got ${err?.constructor?.name}: ${err?.message}`);
    assert.equal(err.streamName, s);
    assert.equal(err.expectedState, STREAM_EXISTS);
    assert.equal(err.actualState, NO_STREAM);
    const missing = await rejectionOf(revisionsOf(s));
    assert.ok(missing instanceof StreamNotFoundError, `nothing was written (got ${missing?.constructor?.name})`);

    await append(s, events(1), { streamState: NO_STREAM });
    const ok = await append(s, events(3), { streamState: STREAM_EXISTS });
    assert.equal(ok.nextExpectedRevision, 3n);
  });

  test("a bigint revision succeeds when it is the last revision and fails otherwise", T, async () => {
    const s = uniqueStream("rev");
    await append(s, events(3), { streamState: NO_STREAM });

    const ok = await append(s, events(1), { streamState: 2n });
    assert.equal(ok.nextExpectedRevision, 3n);

    const stale = await rejectionOf(append(s, events(1), { streamState: 1n }));
    assert.ok(stale instanceof WrongExpectedVersionError, `got ${stale?.constructor?.name}: ${stale?.message}`);
    assert.equal(stale.streamName, s);
    assert.equal(stale.expectedState, 1n);
    assert.equal(stale.actualState, 3n);

    const ahead = await rejectionOf(append(s, events(1), { streamState: 10n }));
    assert.ok(ahead instanceof WrongExpectedVersionError);
    assert.equal(ahead.expectedState, 10n);
    assert.equal(ahead.actualState, 3n);

    assert.deepEqual(await revisionsOf(s), [0n, 1n, 2n, 3n]);
  });

  test("revision 0 on a missing stream is a wrong expected version with actual no_stream", T, async () => {
    const s = uniqueStream("rev0");
    const err = await rejectionOf(append(s, events(1), { streamState: 0n }));
    assert.ok(err instanceof WrongExpectedVersionError, `got ${err?.constructor?.name}: ${err?.message}`);
    assert.equal(err.expectedState, 0n);
    assert.equal(err.actualState, NO_STREAM);
  });

  test("throwOnAppendFailure=false gives success false with the current revision", T, async () => {
    const soft = server.client("&throwOnAppendFailure=false");
    const s = uniqueStream("soft");
    await soft.appendToStream(s, events(3), mode.opts);
    const res = await soft.appendToStream(s, events(1), { ...mode.opts, streamState: NO_STREAM });
    assert.equal(res.success, false);
    // The 1.3 client's BatchAppend path reports BigInt(hasCurrentStreamRevision()), i.e. 1n,
    // instead of the revision; only the plain Append path gives the current revision.
    if (!mode.batch) assert.equal(res.nextExpectedRevision, 2n);
  });

  test("JSON and binary events with metadata read back as written", T, async () => {
    const s = uniqueStream("payloads");
    const bin = Uint8Array.from([0, 1, 2, 0xfe, 0xff, 0x80, 0x7f, 10, 13]);
    const binMeta = Uint8Array.from([0xde, 0xad, 0xbe, 0xef, 0]);
    const written = [
      jsonEvent({ type: "json-with-meta", data: { a: 1, s: "héllo ✓", nested: { list: [1, "two", null] } }, metadata: { user: "ann", n: 3 } }),
      jsonEvent({ type: "json-no-meta", data: ["x", 2, false] }),
      binaryEvent({ type: "binary-with-meta", data: bin, metadata: binMeta }),
      binaryEvent({ type: "binary-json-meta", data: Uint8Array.from([7]), metadata: { trace: "t-1" } }),
    ];
    await append(s, written, { streamState: NO_STREAM });

    const read = (await readAllOf(client, s)).map((r) => r.event);
    assert.equal(read.length, 4);
    read.forEach((e, i) => {
      assert.equal(e.id, written[i].id, `event ${i} id`);
      assert.equal(e.type, written[i].type, `event ${i} type`);
      assert.equal(e.streamId, s);
      assert.equal(e.revision, BigInt(i));
    });
    assert.equal(read[0].isJson, true);
    assert.deepEqual(read[0].data, written[0].data);
    assert.deepEqual(read[0].metadata, { user: "ann", n: 3 });
    assert.equal(read[1].isJson, true);
    assert.deepEqual(read[1].data, ["x", 2, false]);
    assert.equal(read[1].metadata, undefined, "no metadata written, none read");
    assert.equal(read[2].isJson, false);
    assert.deepEqual(Buffer.from(read[2].data), Buffer.from(bin));
    assert.deepEqual(Buffer.from(read[2].metadata), Buffer.from(binMeta), "non-JSON metadata comes back as its bytes");
    assert.deepEqual(read[3].metadata, { trace: "t-1" });
  });

  test("re-appending the same event ids at the same expected revision writes nothing and succeeds", T, async () => {
    const s = uniqueStream("idem");
    const batch = [
      jsonEvent({ id: randomUUID(), type: "idem", data: { n: 1 } }),
      jsonEvent({ id: randomUUID(), type: "idem", data: { n: 2 } }),
    ];
    const first = await append(s, batch, { streamState: NO_STREAM });
    const again = await append(s, batch, { streamState: NO_STREAM });
    assert.equal(again.success, true);
    assert.equal(again.nextExpectedRevision, first.nextExpectedRevision);
    assert.deepEqual(await revisionsOf(s), [0n, 1n], "the retry wrote nothing");

    const next = [jsonEvent({ id: randomUUID(), type: "idem", data: { n: 3 } })];
    const third = await append(s, next, { streamState: 1n });
    const thirdAgain = await append(s, next, { streamState: 1n });
    assert.equal(thirdAgain.nextExpectedRevision, third.nextExpectedRevision);
    assert.deepEqual(await revisionsOf(s), [0n, 1n, 2n]);
  });

  test("re-appending the same event ids with any writes nothing", T, async () => {
    const s = uniqueStream("idem-any");
    const batch = [
      jsonEvent({ id: randomUUID(), type: "idem", data: { n: 1 } }),
      jsonEvent({ id: randomUUID(), type: "idem", data: { n: 2 } }),
    ];
    const first = await append(s, batch);
    const again = await append(s, batch);
    assert.equal(again.nextExpectedRevision, first.nextExpectedRevision);
    const read = await readAllOf(client, s);
    assert.deepEqual(read.map((e) => e.event.id), batch.map((e) => e.id));
  });

  test("one append of 500 events gets contiguous revisions in order", T, async () => {
    const s = uniqueStream("many");
    const batch = Array.from({ length: 500 }, (_, i) => jsonEvent({ type: "bulk", data: { i } }));
    const res = await append(s, batch, { streamState: NO_STREAM });
    assert.equal(res.nextExpectedRevision, 499n);
    const read = await readAllOf(client, s);
    assert.equal(read.length, 500);
    read.forEach((r, i) => {
      assert.equal(r.event.revision, BigInt(i));
      assert.equal(r.event.id, batch[i].id);
      assert.deepEqual(r.event.data, { i });
    });
  });

  test("an append of no events writes nothing and still checks the expected revision", T, async () => {
    const s = uniqueStream("empty");
    await append(s, events(2), { streamState: NO_STREAM });
    const res = await append(s, [], { streamState: ANY });
    assert.equal(res.success, true);
    assert.equal(res.nextExpectedRevision, 1n);
    const wrong = await rejectionOf(append(s, [], { streamState: 7n }));
    assert.ok(wrong instanceof WrongExpectedVersionError, `got ${wrong?.constructor?.name}: ${wrong?.message}`);
    assert.deepEqual(await revisionsOf(s), [0n, 1n]);

    const fresh = uniqueStream("empty-new");
    assert.equal((await append(fresh, [])).success, true);
    assert.ok((await rejectionOf(revisionsOf(fresh))) instanceof StreamNotFoundError, "an empty append creates no stream");
  });

  test("a stream name of 1 024 bytes is accepted and one of 1 025 refused", T, async () => {
    const base = uniqueStream("long");
    const ok = base + "n".repeat(1024 - base.length);
    assert.equal((await append(ok, events(1))).nextExpectedRevision, 0n);
    assert.equal((await readAllOf(client, ok))[0].event.streamId, ok);
    const tooLong = ok + "n";
    assert.ok((await rejectionOf(append(tooLong, events(1)))) instanceof Error);
    const res = await server.http("GET", `/streams/$all?direction=backwards&count=1`);
    assert.notEqual(res.json.events[0].streamId, tooLong, "nothing written");
  });

  test("10 000 events in one append are accepted; 10 001 are refused whole (the server's limit)", T, async () => {
    const s = uniqueStream("limit");
    const batch = Array.from({ length: 10_000 }, (_, i) => jsonEvent({ type: "l", data: { i } }));
    assert.equal((await append(s, batch, { streamState: NO_STREAM })).nextExpectedRevision, 9999n);
    const over = uniqueStream("over");
    const err = await rejectionOf(append(over, [...batch, jsonEvent({ type: "l", data: {} })]));
    assert.ok(err instanceof MaxAppendSizeExceededError, `got ${err?.constructor?.name}: ${err?.message}`);
    assert.ok((await rejectionOf(revisionsOf(over))) instanceof StreamNotFoundError, "nothing written");
  });

  test("appends split into many requests, several at once, are each written whole and in order", T, async () => {
    // batchAppendSize cuts a BatchAppend into requests of about that many bytes;
    // concurrent appends from one client share one BatchAppend call.
    const streams = Array.from({ length: 5 }, () => uniqueStream("chunked"));
    const batches = streams.map(() => Array.from({ length: 60 }, (_, i) => jsonEvent({ type: "chunk", data: { i, pad: "c".repeat(300) } })));
    const results = await Promise.all(streams.map((s, k) => append(s, batches[k], { streamState: NO_STREAM, batchAppendSize: 2048 })));
    for (const [k, s] of streams.entries()) {
      assert.equal(results[k].nextExpectedRevision, 59n);
      const read = await readAllOf(client, s);
      assert.deepEqual(read.map((r) => r.event.id), batches[k].map((e) => e.id));
    }
    // A refused chunked append writes none of its chunks.
    const refused = await rejectionOf(append(streams[0], batches[1].map((e) => jsonEvent({ type: e.type, data: e.data })), { streamState: 3n, batchAppendSize: 2048 }));
    assert.ok(refused instanceof WrongExpectedVersionError, `got ${refused?.constructor?.name}: ${refused?.message}`);
    assert.equal(refused.actualState, 59n);
    assert.equal((await readAllOf(client, streams[0])).length, 60);
  });
});
}
