// The shapes of the server's answers, checked byte by byte with raw calls:
// what the official client's two stacks need but would hide or crash on
// (RecordedEvent fields, the uuid form asked for, subscription messages, the
// wrong-expected-version reply of Append, error trailers, response headers).
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, before, describe, test } from "node:test";

import { jsonEvent } from "@kurrent/kurrentdb-client";

import {
  STREAMS,
  describeCall,
  grpcFrame,
  grpcMessages,
  pb,
  rawGrpcCall,
  req,
  startServer,
  uniqueStream,
} from "./helpers.mjs";

const T = { timeout: 60_000 };
let server;
let client;

before(async () => {
  server = await startServer({ name: "wire" });
  client = server.client();
});
after(async () => {
  await server?.close();
});

const call = (path, chunks, opts = {}) => rawGrpcCall({ port: server.port, path, chunks, ...opts });
const decoded = (r) => grpcMessages(r.body).messages.map((m) => pb.decode(m));
const sub = (fields, no) => {
  const f = pb.field(fields, no);
  return f ? pb.decode(f.value) : undefined;
};
const uint = (fields, no) => pb.field(fields, no)?.value;
const text = (fields, no) => pb.field(fields, no)?.value.toString("utf8");
const metadataMap = (fields, no) =>
  Object.fromEntries(fields.filter((f) => f.no === no).map((f) => {
    const e = pb.decode(f.value);
    return [text(e, 1) ?? "", text(e, 2) ?? ""];
  }));

/** A ReadReq for a stream from the start, with the uuid form and count/subscription chosen. */
function readReq(stream, { uuid = "string", subscription = false, count = 100 } = {}) {
  return pb.msg(
    1,
    pb.msg(1, req.streamIdentifier(1, Buffer.from(stream)), pb.empty(3)),
    subscription ? pb.empty(6) : pb.uint(5, count),
    pb.empty(8),
    pb.msg(9, pb.empty(uuid === "string" ? 2 : 1)),
  );
}

/** The structured form of a canonical UUID: two 64-bit halves (compared as unsigned). */
const halves = (uuid) => {
  const hex = uuid.replace(/-/g, "");
  return [BigInt(`0x${hex.slice(0, 16)}`), BigInt(`0x${hex.slice(16)}`)];
};

describe("read responses", () => {
  test("a RecordedEvent carries id, stream, revision, positions, the three system keys, metadata and data", T, async () => {
    const s = uniqueStream("shape");
    const ev = jsonEvent({ type: "Shaped", data: { a: 1 }, metadata: { m: 2 } });
    const before = Date.now();
    const res = await client.appendToStream(s, [jsonEvent({ type: "first", data: {} }), ev]);
    const after = Date.now();

    const r = await call(`${STREAMS}/Read`, [grpcFrame(readReq(s))]);
    assert.equal(r.grpcStatus, 0, describeCall(r));
    const events = decoded(r).filter((m) => pb.field(m, 1));
    assert.equal(events.length, 2);
    const readEvent = sub(events[1], 1);
    const rec = sub(readEvent, 1);
    assert.ok(rec, "ReadEvent.event");
    assert.equal(text(sub(rec, 1), 2), ev.id, "id in the string form asked for");
    assert.equal(text(sub(rec, 2), 3), s, "stream_identifier.stream_name");
    assert.equal(uint(rec, 3), 1n, "stream_revision");
    assert.equal(uint(rec, 5), res.position.commit, "commit_position");
    assert.equal(uint(rec, 4), res.position.prepare, "prepare_position");
    assert.ok(uint(rec, 5) >= uint(rec, 4), "commit >= prepare");
    const meta = metadataMap(rec, 6);
    assert.deepEqual(Object.keys(meta).sort(), ["content-type", "created", "type"], "exactly the three system keys");
    assert.equal(meta.type, "Shaped");
    assert.equal(meta["content-type"], "application/json");
    assert.match(meta.created, /^\d+$/, "created is decimal ticks");
    const ms = Number(BigInt(meta.created) / 10_000n);
    assert.ok(ms >= before - 5 && ms <= after + 5, `created ${new Date(ms).toISOString()} is ticks since 1970, near now`);
    assert.deepEqual(JSON.parse(pb.field(rec, 7).value.toString()), { m: 2 }, "custom_metadata as written");
    assert.deepEqual(JSON.parse(pb.field(rec, 8).value.toString()), { a: 1 }, "data as written");
    // ReadEvent's own position oneof is always encoded.
    assert.ok(pb.field(readEvent, 3) || pb.field(readEvent, 4), "ReadEvent.commit_position or no_position");
    if (pb.field(readEvent, 3)) assert.equal(uint(readEvent, 3), res.position.commit);
    // Revision 0 may leave stream_revision out (proto3), but never the id or the stream.
    const first = sub(sub(events[0], 1), 1);
    assert.ok(pb.field(first, 1) && pb.field(first, 2), "first event: id and stream");
    assert.equal(uint(first, 3) ?? 0n, 0n);
  });

  test("the structured uuid form is sent when asked for", T, async () => {
    const s = uniqueStream("structured");
    const ev = jsonEvent({ type: "t", data: {} });
    await client.appendToStream(s, ev);
    const r = await call(`${STREAMS}/Read`, [grpcFrame(readReq(s, { uuid: "structured" }))]);
    assert.equal(r.grpcStatus, 0, describeCall(r));
    const rec = sub(sub(decoded(r).find((m) => pb.field(m, 1)), 1), 1);
    const structured = sub(sub(rec, 1), 1);
    assert.ok(structured, `UUID.structured, got fields ${JSON.stringify(pb.decode(pb.field(rec, 1).value).map((f) => f.no))}`);
    const [msb, lsb] = halves(ev.id);
    assert.equal(BigInt.asUintN(64, uint(structured, 1) ?? 0n), msb, "most significant bits");
    assert.equal(BigInt.asUintN(64, uint(structured, 2) ?? 0n), lsb, "least significant bits");
  });

  test("an event appended with a structured id reads back with the same id", T, async () => {
    const s = uniqueStream("in-structured");
    const id = randomUUID();
    const [msb, lsb] = halves(id);
    const event = pb.msg(
      2,
      pb.msg(1, pb.msg(1, pb.uint(1, BigInt.asIntN(64, msb)), pb.uint(2, BigInt.asIntN(64, lsb)))),
      pb.mapEntry(2, "type", "t"),
      pb.mapEntry(2, "content-type", "application/json"),
      pb.bytes(4, Buffer.from("{}")),
    );
    const a = await call(`${STREAMS}/Append`, [grpcFrame(req.appendOptions(s)), grpcFrame(event)]);
    assert.equal(a.grpcStatus, 0, describeCall(a));
    const r = await call(`${STREAMS}/Read`, [grpcFrame(readReq(s))]);
    const rec = sub(sub(decoded(r).find((m) => pb.field(m, 1)), 1), 1);
    assert.equal(text(sub(rec, 1), 2), id);
  });

  test("a missing stream gives stream_not_found naming it, then OK", T, async () => {
    const s = uniqueStream("nf");
    const r = await call(`${STREAMS}/Read`, [grpcFrame(readReq(s))]);
    assert.equal(r.grpcStatus, 0, describeCall(r));
    const msgs = decoded(r);
    const nf = msgs.find((m) => pb.field(m, 4));
    assert.ok(nf, "a stream_not_found message");
    assert.equal(text(sub(sub(nf, 4), 1), 3), s);
    assert.ok(msgs.every((m) => m.length > 0 && !pb.field(m, 1)), "no ReadResp without content, no event");
  });

  test("a stream subscription sends confirmation, history, caught_up, then live events", T, async () => {
    const s = uniqueStream("sub");
    await client.appendToStream(s, [jsonEvent({ type: "t", data: {} }), jsonEvent({ type: "t", data: {} })]);
    const pending = call(`${STREAMS}/Read`, [grpcFrame(readReq(s, { subscription: true }))], { timeoutMs: 2500 });
    setTimeout(() => client.appendToStream(s, jsonEvent({ type: "live", data: {} })).catch(() => {}), 1000);
    const r = await pending;
    assert.ok(r.timedOut, "a subscription does not end by itself");
    const msgs = decoded(r);
    const kinds = msgs.map((m) => m.map((f) => f.no).find((no) => [1, 2, 3, 4, 8, 9].includes(no)));
    assert.deepEqual(kinds, [2, 1, 1, 8, 1], `confirmation, 2 events, caught_up, live event: got ${kinds}`);
    assert.ok(text(sub(msgs[0], 2), 1), "the confirmation has a subscription id");
    const caughtUp = sub(msgs[3], 8);
    assert.ok(pb.field(caughtUp, 1), "caught_up.timestamp");
    assert.equal(uint(caughtUp, 2), 1n, "caught_up.stream_revision is the last revision sent");
    assert.equal(metadataMap(sub(sub(msgs[4], 1), 1), 6).type, "live");
  });

  test("an $all subscription's caught_up carries a position", T, async () => {
    await client.appendToStream(uniqueStream("allsub"), jsonEvent({ type: "t", data: {} }));
    const body = pb.msg(1, pb.msg(2, pb.empty(3)), pb.empty(6), pb.empty(8), pb.msg(9, pb.empty(2)));
    const r = await call(`${STREAMS}/Read`, [grpcFrame(body)], { timeoutMs: 1500 });
    const msgs = decoded(r);
    assert.ok(pb.field(msgs[0], 2), "confirmation first");
    const cu = msgs.find((m) => pb.field(m, 8));
    assert.ok(cu, `a caught_up: ${describeCall(r)}`);
    const position = sub(sub(cu, 8), 3);
    assert.ok(position && pb.field(position, 1) !== undefined, "caught_up.position with a commit position");
  });
});

describe("append responses", () => {
  const appendRaw = (s, expected) =>
    call(`${STREAMS}/Append`, [
      grpcFrame(pb.msg(1, req.streamIdentifier(1, Buffer.from(s)), expected)),
      grpcFrame(req.appendEvent()),
    ]);

  test("success names the current revision and the position", T, async () => {
    const s = uniqueStream("ok");
    const r = await appendRaw(s, pb.empty(3));
    assert.equal(r.grpcStatus, 0, describeCall(r));
    const success = sub(decoded(r)[0], 1);
    assert.ok(success, "AppendResp.success");
    assert.ok(pb.field(success, 1) || pb.field(success, 2), "current_revision (0 still encoded) or no_stream");
    assert.equal(uint(success, 1) ?? 0n, 0n);
    const pos = sub(success, 3);
    assert.ok(pos && pb.field(pos, 1), "position.commit_position");
  });

  test("a wrong expected version is an OK reply with the current and expected oneofs set", T, async () => {
    const s = uniqueStream("wev");
    await client.appendToStream(s, [jsonEvent({ type: "t", data: {} }), jsonEvent({ type: "t", data: {} })]);
    const cases = [
      ["revision 5", pb.uint(2, 5), 6, 1n, 8, 5n],
      ["no_stream", pb.empty(3), 6, 1n, 11, undefined],
    ];
    for (const [what, expected, currentNo, current, expectedNo, expectedValue] of cases) {
      const r = await appendRaw(s, expected);
      assert.equal(r.grpcStatus, 0, `${what}: ${describeCall(r)}`);
      const wev = sub(decoded(r)[0], 2);
      assert.ok(wev, `${what}: AppendResp.wrong_expected_version`);
      assert.ok(pb.field(wev, currentNo), `${what}: field ${currentNo}`);
      if (current !== undefined) assert.equal(uint(wev, currentNo), current);
      assert.ok(pb.field(wev, expectedNo), `${what}: field ${expectedNo}`);
      if (expectedValue !== undefined) assert.equal(uint(wev, expectedNo), expectedValue);
    }
    const missing = uniqueStream("wev-missing");
    const r = await appendRaw(missing, pb.empty(5));
    const wev = sub(decoded(r)[0], 2);
    assert.ok(wev && pb.field(wev, 7), "current_no_stream for a missing stream");
    assert.ok(pb.field(wev, 10), "expected_stream_exists");
  });
});

describe("errors", () => {
  test("a tombstoned stream answers FAILED_PRECONDITION with exception stream-deleted and stream-name", T, async () => {
    const s = uniqueStream("tomb");
    await client.appendToStream(s, jsonEvent({ type: "t", data: {} }));
    await client.tombstoneStream(s);
    for (const [what, r] of [
      ["Read", await call(`${STREAMS}/Read`, [grpcFrame(readReq(s))])],
      ["Append", await call(`${STREAMS}/Append`, [grpcFrame(req.appendOptions(s)), grpcFrame(req.appendEvent())])],
      ["Delete", await call(`${STREAMS}/Delete`, [grpcFrame(pb.msg(1, req.streamIdentifier(1, Buffer.from(s)), pb.empty(4)))])],
    ]) {
      assert.equal(r.grpcStatus, 9, `${what}: ${describeCall(r)}`);
      const t = r.trailers ?? r.headers;
      assert.equal(t.exception, "stream-deleted", `${what}: exception`);
      assert.equal(t["stream-name"], s, `${what}: stream-name`);
    }
  });

  test("a delete with a wrong expected version answers FAILED_PRECONDITION with the version trailers", T, async () => {
    const s = uniqueStream("delwev");
    await client.appendToStream(s, [jsonEvent({ type: "t", data: {} }), jsonEvent({ type: "t", data: {} })]);
    const r = await call(`${STREAMS}/Delete`, [grpcFrame(pb.msg(1, req.streamIdentifier(1, Buffer.from(s)), pb.uint(2, 7)))]);
    assert.equal(r.grpcStatus, 9, describeCall(r));
    const t = r.trailers ?? r.headers;
    assert.equal(t.exception, "wrong-expected-version");
    assert.equal(t["stream-name"], s);
    assert.equal(t["expected-version"], "7");
    assert.equal(t["actual-version"], "1");
  });

  test("grpc-message is percent-encoded ASCII", T, async () => {
    const s = `tömb-% ${uniqueStream("pct")}`;
    await client.appendToStream(s, jsonEvent({ type: "t", data: {} }));
    await client.tombstoneStream(s);
    const r = await call(`${STREAMS}/Read`, [grpcFrame(readReq(s))]);
    assert.equal(r.grpcStatus, 9, describeCall(r));
    const msg = r.grpcMessage ?? "";
    assert.match(msg, /^[\x20-\x7e]*$/, `printable ASCII: ${JSON.stringify(msg)}`);
    assert.doesNotThrow(() => decodeURIComponent(msg), "valid percent-encoding");
  });
});

describe("response headers", () => {
  test("responses are application/grpc, uncompressed", T, async () => {
    const s = uniqueStream("hdr");
    await client.appendToStream(s, jsonEvent({ type: "t", data: {} }));
    const r = await call(`${STREAMS}/Read`, [grpcFrame(readReq(s))], { headers: { "grpc-accept-encoding": "identity,deflate,gzip" } });
    assert.equal(r.httpStatus, 200);
    assert.match(r.headers["content-type"], /^application\/grpc/);
    assert.ok([undefined, "identity"].includes(r.headers["grpc-encoding"]), `grpc-encoding ${r.headers["grpc-encoding"]}`);
    const { messages, rest } = grpcMessages(r.body);
    assert.equal(rest.length, 0, "whole messages");
    assert.ok(r.body[0] === 0 && messages.length > 0, "the compressed flag is 0");
  });
});
