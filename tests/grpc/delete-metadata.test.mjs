// Stream metadata (set/get, $maxCount and $tb honoured by reads), soft delete
// and tombstone through the official client.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";

import {
  ANY,
  BACKWARDS,
  END,
  NO_STREAM,
  StreamDeletedError,
  StreamNotFoundError,
  WrongExpectedVersionError,
  jsonEvent,
} from "@kurrent/kurrentdb-client";

import { collect, readAllOf, rejectionOf, startServer, uniqueStream } from "./helpers.mjs";

const T = { timeout: 60_000 };
let server;
let client;

before(async () => {
  server = await startServer({ name: "delete" });
  client = server.client();
});
after(async () => {
  await server?.close();
});

const numbered = (n, from = 0) => Array.from({ length: n }, (_, i) => jsonEvent({ type: "n", data: { i: from + i } }));
const revs = (read) => read.map((r) => r.event.revision);

async function readError(stream, options) {
  return rejectionOf(collect(client.readStream(stream, options)), `readStream ${stream}`);
}

describe("stream metadata", () => {
  test("a stream without metadata gives just its name", T, async () => {
    const s = uniqueStream("nometa");
    await client.appendToStream(s, numbered(1));
    const res = await client.getStreamMetadata(s);
    assert.equal(res.streamName, s);
    assert.equal(res.metadata, undefined);
    const missing = await client.getStreamMetadata(uniqueStream("nothing"));
    assert.equal(missing.metadata, undefined);
  });

  test("setStreamMetadata then getStreamMetadata returns the system and custom keys", T, async () => {
    const s = uniqueStream("meta");
    await client.appendToStream(s, numbered(1));
    const first = await client.setStreamMetadata(s, { maxCount: 50, maxAge: 3600, cacheControl: 7, custom: "x", nested: { a: [1, 2] } });
    assert.equal(first.success, true);
    assert.equal(first.nextExpectedRevision, 0n, "the first metadata event is revision 0 of $$stream");

    const got = await client.getStreamMetadata(s);
    assert.equal(got.streamName, s);
    assert.equal(got.metadata.maxCount, 50);
    assert.equal(got.metadata.maxAge, 3600);
    assert.equal(got.metadata.cacheControl, 7);
    assert.equal(got.metadata.custom, "x");
    assert.deepEqual(got.metadata.nested, { a: [1, 2] });

    // The 1.3 client hands these options to appendToStream, which reads `streamState`
    // (its `expectedRevision` option is declared but ignored).
    const second = await client.setStreamMetadata(s, { maxCount: 9 }, { streamState: 0n });
    assert.equal(second.nextExpectedRevision, 1n);
    const latest = await client.getStreamMetadata(s);
    assert.equal(latest.metadata.maxCount, 9);
    assert.equal(latest.metadata.custom, undefined, "metadata is replaced, not merged");

    const stale = await rejectionOf(client.setStreamMetadata(s, { maxCount: 1 }, { streamState: 0n }));
    assert.ok(stale instanceof WrongExpectedVersionError, `got ${stale?.constructor?.name}: ${stale?.message}`);
  });

  test("metadata is stored as a $metadata event in $$stream", T, async () => {
    const s = uniqueStream("metastream");
    await client.setStreamMetadata(s, { maxCount: 3, owner: "ann" });
    const read = await readAllOf(client, `$$${s}`);
    assert.equal(read.length, 1);
    assert.equal(read[0].event.type, "$metadata");
    assert.equal(read[0].event.isJson, true);
    assert.deepEqual(read[0].event.data, { $maxCount: 3, owner: "ann" });
  });

  test("$maxCount is honoured by reads", T, async () => {
    const s = uniqueStream("maxcount");
    await client.appendToStream(s, numbered(10), { streamState: NO_STREAM });
    await client.setStreamMetadata(s, { maxCount: 3 });
    assert.deepEqual(revs(await readAllOf(client, s)), [7n, 8n, 9n]);
    assert.deepEqual(revs(await readAllOf(client, s, { direction: BACKWARDS, fromRevision: END })), [9n, 8n, 7n]);
    await client.appendToStream(s, numbered(1, 10), { streamState: 9n });
    assert.deepEqual(revs(await readAllOf(client, s)), [8n, 9n, 10n], "still the last 3 after an append");
  });

  test("$maxAge is honoured by reads", T, async () => {
    const s = uniqueStream("maxage");
    await client.appendToStream(s, numbered(2), { streamState: NO_STREAM });
    await client.setStreamMetadata(s, { maxAge: 1 });
    await new Promise((resolve) => setTimeout(resolve, 2200));
    await client.appendToStream(s, numbered(1, 2), { streamState: 1n });
    assert.deepEqual(revs(await readAllOf(client, s)), [2n], "events older than a second are gone");
  });

  test("$tb (truncateBefore) is honoured by reads", T, async () => {
    const s = uniqueStream("tb");
    await client.appendToStream(s, numbered(6), { streamState: NO_STREAM });
    await client.setStreamMetadata(s, { truncateBefore: 4 });
    assert.deepEqual(revs(await readAllOf(client, s)), [4n, 5n]);
  });
});

describe("deleteStream", () => {
  test("a soft-deleted stream is not found; an append brings it back with revisions continuing", T, async () => {
    const s = uniqueStream("del");
    const appended = await client.appendToStream(s, numbered(3), { streamState: NO_STREAM });
    const res = await client.deleteStream(s, { expectedRevision: 2n });
    if (res.position) assert.ok(res.position.commit >= appended.position.commit, "delete position after the last event");

    const err = await readError(s);
    assert.ok(err instanceof StreamNotFoundError, `got ${err?.constructor?.name}: ${err?.message}`);

    const back = await client.appendToStream(s, numbered(1, 3));
    assert.equal(back.nextExpectedRevision, 3n, "revisions continue after a soft delete");
    const read = await readAllOf(client, s);
    assert.deepEqual(revs(read), [3n], "the deleted events stay hidden");
    assert.equal(read[0].event.data.i, 3);
  });

  test("delete with any on an existing stream", T, async () => {
    const s = uniqueStream("del-any");
    await client.appendToStream(s, numbered(2));
    await client.deleteStream(s, { expectedRevision: ANY });
    assert.ok((await readError(s)) instanceof StreamNotFoundError);
  });

  test("deleting a stream that never existed is a wrong expected version", T, async () => {
    const s = uniqueStream("del-never");
    const err = await rejectionOf(client.deleteStream(s));
    assert.ok(err instanceof WrongExpectedVersionError, `got ${err?.constructor?.name}: ${err?.message}`);
    assert.equal(err.streamName, s);
  });

  test("delete with a wrong expected revision fails with WrongExpectedVersionError and deletes nothing", T, async () => {
    const s = uniqueStream("del-wev");
    await client.appendToStream(s, numbered(2), { streamState: NO_STREAM });
    const err = await rejectionOf(client.deleteStream(s, { expectedRevision: 5n }));
    assert.ok(err instanceof WrongExpectedVersionError, `got ${err?.constructor?.name}: ${err?.message}`);
    assert.equal(err.streamName, s);
    assert.equal(err.expectedState, 5n);
    assert.equal(err.actualState, 1n);

    const noStream = await rejectionOf(client.deleteStream(s, { expectedRevision: NO_STREAM }));
    assert.ok(noStream instanceof WrongExpectedVersionError, `got ${noStream?.constructor?.name}: ${noStream?.message}`);
    assert.equal(noStream.expectedState, -1n, "no_stream travels as -1 in the trailers");

    assert.deepEqual(revs(await readAllOf(client, s)), [0n, 1n], "still there");
  });
});

describe("tombstoneStream", () => {
  test("a tombstoned stream fails reads, appends and deletes with StreamDeletedError", T, async () => {
    const s = uniqueStream("tomb");
    await client.appendToStream(s, numbered(2), { streamState: NO_STREAM });
    await client.tombstoneStream(s, { expectedRevision: 1n });

    const read = await readError(s);
    assert.ok(read instanceof StreamDeletedError, `read: got ${read?.constructor?.name}: ${read?.message}`);
    const back = await readError(s, { direction: BACKWARDS, fromRevision: END });
    assert.ok(back instanceof StreamDeletedError, `backwards read: got ${back?.constructor?.name}`);

    // BatchAppend (the default here) and plain Append (per-call credentials).
    for (const extra of [{}, { credentials: { username: "admin", password: "changeit" } }]) {
      for (const streamState of [ANY, NO_STREAM, 1n]) {
        const err = await rejectionOf(client.appendToStream(s, numbered(1), { streamState, ...extra }));
        assert.ok(err instanceof StreamDeletedError, `append (${streamState}): got ${err?.constructor?.name}: ${err?.message}`);
        assert.equal(err.streamName, s);
      }
    }
    const del = await rejectionOf(client.deleteStream(s));
    assert.ok(del instanceof StreamDeletedError, `delete: got ${del?.constructor?.name}: ${del?.message}`);
    const again = await rejectionOf(client.tombstoneStream(s));
    assert.ok(again instanceof StreamDeletedError, `tombstone again: got ${again?.constructor?.name}: ${again?.message}`);
  });

  test("tombstone of a soft-deleted stream is permanent too", T, async () => {
    const s = uniqueStream("tomb-soft");
    await client.appendToStream(s, numbered(1));
    await client.deleteStream(s);
    await client.tombstoneStream(s);
    assert.ok((await readError(s)) instanceof StreamDeletedError);
    assert.ok((await rejectionOf(client.appendToStream(s, numbered(1)))) instanceof StreamDeletedError);
  });

  test("tombstone with a wrong expected revision fails with WrongExpectedVersionError", T, async () => {
    const s = uniqueStream("tomb-wev");
    await client.appendToStream(s, numbered(3), { streamState: NO_STREAM });
    const err = await rejectionOf(client.tombstoneStream(s, { expectedRevision: 0n }));
    assert.ok(err instanceof WrongExpectedVersionError, `got ${err?.constructor?.name}: ${err?.message}`);
    assert.equal(err.expectedState, 0n);
    assert.equal(err.actualState, 2n);
    assert.equal((await readAllOf(client, s)).length, 3, "the stream is intact");
  });
});
