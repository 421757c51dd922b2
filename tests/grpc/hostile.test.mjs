// Hostile and malformed gRPC input over raw HTTP/2: every bad call gets a gRPC
// error, a reset or a closed connection, never a success it does not deserve,
// and the server keeps serving (health check and a real client after each).
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import http2 from "node:http2";
import net from "node:net";
import { after, afterEach, before, describe, test } from "node:test";

import { jsonEvent } from "@kurrent/kurrentdb-client";

import {
  STREAMS,
  callFailed,
  collect,
  describeCall,
  grpcFrame,
  grpcMessages,
  pb,
  rawGrpcCall,
  readAllOf,
  req,
  startServer,
  uniqueStream,
  withTimeout,
} from "./helpers.mjs";

const T = { timeout: 60_000 };
let server;
let client;

before(async () => {
  server = await startServer({ name: "hostile" });
  client = server.client();
});
after(async () => {
  await server?.close();
});

// After every test: the server is alive and a real client still appends and reads.
afterEach(async () => {
  await server.assertHealthy();
  const s = uniqueStream("still-alive");
  await withTimeout(client.appendToStream(s, jsonEvent({ type: "alive", data: {} })), 15_000, "append after hostile input");
  assert.equal((await readAllOf(client, s)).length, 1);
});

const call = (path, chunks, opts = {}) => rawGrpcCall({ port: server.port, path, chunks, ...opts });

function assertFailed(r, what) {
  assert.ok(!r.timedOut, `${what}: no answer within the time limit ${describeCall(r)}`);
  assert.ok(callFailed(r), `${what}: expected a gRPC error, a reset or a closed connection, got ${describeCall(r)}`);
}

function assertOk(r, what) {
  assert.ok(!r.timedOut, `${what}: no answer within the time limit ${describeCall(r)}`);
  assert.equal(r.grpcStatus, 0, `${what}: expected grpc-status 0, got ${describeCall(r)}`);
}

/** Does the stream exist, as the HTTP API sees it? */
async function httpStatusOf(stream) {
  return (await server.http("GET", `/streams/${encodeURIComponent(stream)}`)).status;
}

describe("framing", () => {
  test("a well-formed raw Append and Read succeed (the baseline for the cases below)", T, async () => {
    const s = uniqueStream("raw-ok");
    const a = await call(`${STREAMS}/Append`, [grpcFrame(req.appendOptions(s)), grpcFrame(req.appendEvent({ type: "raw" }))]);
    assertOk(a, "raw Append");
    const [resp] = grpcMessages(a.body).messages;
    assert.ok(pb.field(pb.decode(resp), 1), "AppendResp.success");
    const r = await call(`${STREAMS}/Read`, [grpcFrame(req.readStream(s))]);
    assertOk(r, "raw Read");
    const msgs = grpcMessages(r.body).messages.map((m) => pb.decode(m));
    assert.equal(msgs.filter((m) => pb.field(m, 1)).length, 1, "one ReadResp.event");
  });

  test("a message cut short before the end of the stream", T, async () => {
    const s = uniqueStream("trunc");
    const whole = grpcFrame(req.appendOptions(s));
    const r = await call(`${STREAMS}/Append`, [whole, grpcFrame(req.appendEvent()).subarray(0, 12)]);
    assertFailed(r, "truncated Append message");
    assert.equal(await httpStatusOf(s), 404, "nothing written");

    const r2 = await call(`${STREAMS}/Read`, [grpcFrame(req.readStream(s)).subarray(0, 3)]);
    assertFailed(r2, "truncated prefix");
  });

  test("a length prefix larger than the data sent", T, async () => {
    const s = uniqueStream("longprefix");
    const body = req.appendOptions(s);
    const r = await call(`${STREAMS}/Append`, [grpcFrame(body, { length: body.length + 100 })]);
    assertFailed(r, "prefix 100 bytes too long");
    assert.equal(await httpStatusOf(s), 404);
  });

  test("a length prefix smaller than the message", T, async () => {
    const s = uniqueStream("shortprefix");
    const opts = req.appendOptions(s);
    const r = await call(`${STREAMS}/Append`, [grpcFrame(opts, { length: 3 }), grpcFrame(req.appendEvent())]);
    assertFailed(r, "prefix shorter than the message");
    assert.equal(await httpStatusOf(s), 404);
  });

  test("a length prefix of 4 GiB is refused without waiting for the data", T, async () => {
    const r = await call(`${STREAMS}/Read`, [grpcFrame(Buffer.from([0x0a, 0x00]), { length: 0xffffffff })], { end: false, timeoutMs: 15_000 });
    assertFailed(r, "a 4 GiB message announced (stream left open)");
  });

  test("a compressed message without grpc-encoding", T, async () => {
    const r = await call(`${STREAMS}/Read`, [grpcFrame(req.readStream(uniqueStream("cmp")), { compressed: 1 })]);
    assertFailed(r, "compressed flag set, no encoding");
  });

  test("a Read with no message at all fails; one with two messages does not hang", T, async () => {
    assertFailed(await call(`${STREAMS}/Read`, []), "Read without a request message");
    const s = uniqueStream("two");
    const two = await call(`${STREAMS}/Read`, [grpcFrame(req.readStream(s)), grpcFrame(req.readStream(s))]);
    assert.ok(!two.timedOut, `Read with two request messages: ${describeCall(two)}`);
  });

  test("an unknown method is UNIMPLEMENTED", T, async () => {
    const r = await call("/event_store.client.streams.Streams/NoSuchMethod", [grpcFrame(Buffer.alloc(0))]);
    assert.equal(r.grpcStatus, 12, describeCall(r));
    const r2 = await call("/no.such.Service/Read", [grpcFrame(Buffer.alloc(0))]);
    assert.equal(r2.grpcStatus, 12, describeCall(r2));
  });

  test("a request that is not gRPC gets an HTTP/2 error, not a gRPC success", T, async () => {
    const r = await call(`${STREAMS}/Read`, [Buffer.from("hello")], { headers: { "content-type": "text/plain" } });
    assert.ok(!r.timedOut, describeCall(r));
    assert.notEqual(r.grpcStatus, 0, `text/plain on a gRPC path: ${describeCall(r)}`);
    assert.ok(r.httpStatus !== 200 || r.grpcStatus !== undefined || r.rstCode, `text/plain on a gRPC path: ${describeCall(r)}`);
    const get = await rawGrpcCall({ port: server.port, path: "/health/ready", headers: { ":method": "GET" }, chunks: [] });
    assert.ok(!get.timedOut, describeCall(get));
  });
});

describe("protobuf content", () => {
  test("unknown fields of every wire type are skipped", T, async () => {
    const s = uniqueStream("unknown");
    const unknown = Buffer.concat([
      pb.uint(99, 12345),
      pb.str(100, "ignored"),
      pb.fixed32(101, 7),
      pb.fixed64(102, 8),
      pb.msg(103, pb.uint(1, 1), pb.str(2, "nested")),
      pb.uint(536870911, 1), // the largest field number
    ]);
    const a = await call(`${STREAMS}/Append`, [
      grpcFrame(req.appendOptions(s, { extra: unknown, optionsExtra: unknown })),
      grpcFrame(req.appendEvent({ type: "with-unknown", data: '{"x":1}', extra: unknown, eventExtra: unknown })),
    ]);
    assertOk(a, "Append with unknown fields");
    const read = await readAllOf(client, s);
    assert.equal(read.length, 1);
    assert.equal(read[0].event.type, "with-unknown");
    assert.deepEqual(read[0].event.data, { x: 1 });

    const r = await call(`${STREAMS}/Read`, [grpcFrame(req.readStream(s, { extra: unknown, optionsExtra: unknown }))]);
    assertOk(r, "Read with unknown fields");
    assert.equal(grpcMessages(r.body).messages.filter((m) => pb.field(pb.decode(m), 1)).length, 1);
  });

  test("malformed protobuf is refused", T, async () => {
    const s = uniqueStream("malformed");
    const cases = {
      "invalid wire type 7": Buffer.from([0x0f, 0x01]),
      "truncated varint": Buffer.from([0x28, 0xff, 0xff]),
      "length past the end": Buffer.concat([Buffer.from([0x0a, 0x7f]), Buffer.from("abc")]),
      "field number 0": Buffer.from([0x02, 0x00]),
      "an 11-byte varint": Buffer.concat([Buffer.from([0x28]), Buffer.alloc(10, 0xff), Buffer.from([0x01])]),
      "options as a varint": pb.uint(1, 5),
      "wrong type for stream_identifier": pb.msg(1, pb.uint(1, 7), pb.empty(4)),
    };
    for (const [what, body] of Object.entries(cases)) {
      const r = await call(`${STREAMS}/Read`, [grpcFrame(body)]);
      assertFailed(r, `Read: ${what}`);
      const a = await call(`${STREAMS}/Append`, [grpcFrame(body), grpcFrame(req.appendEvent())]);
      assertFailed(a, `Append: ${what}`);
    }
    // An event without a type or with a malformed id is refused.
    const noType = pb.msg(2, pb.msg(1, pb.str(2, randomUUID())), pb.mapEntry(2, "content-type", "application/json"), pb.bytes(4, Buffer.from("{}")));
    assertFailed(await call(`${STREAMS}/Append`, [grpcFrame(req.appendOptions(s)), grpcFrame(noType)]), "event without type");
    const badUuid = pb.msg(2, pb.msg(1, pb.str(2, "not-a-uuid")), pb.mapEntry(2, "type", "t"), pb.mapEntry(2, "content-type", "application/json"));
    assertFailed(await call(`${STREAMS}/Append`, [grpcFrame(req.appendOptions(s)), grpcFrame(badUuid)]), "event with a malformed uuid");
    assert.equal(await httpStatusOf(s), 404, "nothing written");
  });

  test("an event without an id is refused or stored under a fresh UUID", T, async () => {
    const s = uniqueStream("noid");
    const noId = pb.msg(2, pb.mapEntry(2, "type", "t"), pb.mapEntry(2, "content-type", "application/json"), pb.bytes(4, Buffer.from("{}")));
    const r = await call(`${STREAMS}/Append`, [grpcFrame(req.appendOptions(s)), grpcFrame(noId)]);
    assert.ok(!r.timedOut, describeCall(r));
    if (!callFailed(r)) {
      // Accepted (as the HTTP API does): the event must then carry an id the official client can read.
      const read = await readAllOf(client, s);
      assert.equal(read.length, 1);
      assert.match(read[0].event.id, /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    }
  });

  test("invalid UTF-8 in a stream name is refused", T, async () => {
    const bad = Buffer.from([0x62, 0x61, 0x64, 0xff, 0xfe, 0xc3, 0x28]);
    const a = await call(`${STREAMS}/Append`, [grpcFrame(req.appendOptions(bad)), grpcFrame(req.appendEvent())]);
    assertFailed(a, "Append to an invalid UTF-8 name");
    const r = await call(`${STREAMS}/Read`, [grpcFrame(req.readStream(bad))]);
    // A read may fail, or report the stream as not found; it must not return events.
    assert.ok(!r.timedOut, describeCall(r));
    if (!callFailed(r)) {
      const msgs = grpcMessages(r.body).messages.map((m) => pb.decode(m));
      assert.equal(msgs.filter((m) => pb.field(m, 1)).length, 0, "no events for an invalid name");
    }
    const del = await call(`${STREAMS}/Delete`, [grpcFrame(pb.msg(1, req.streamIdentifier(1, bad), pb.empty(4)))]);
    assertFailed(del, "Delete of an invalid UTF-8 name");
    const empty = await call(`${STREAMS}/Append`, [grpcFrame(req.appendOptions(Buffer.alloc(0))), grpcFrame(req.appendEvent())]);
    assertFailed(empty, "Append to an empty stream name");
    const nul = await call(`${STREAMS}/Append`, [grpcFrame(req.appendOptions(Buffer.from("a\0b"))), grpcFrame(req.appendEvent())]);
    assertFailed(nul, "Append to a name with NUL");
  });

  test("a Read without uuid_option is INVALID_ARGUMENT", T, async () => {
    const s = uniqueStream("nouuid");
    await client.appendToStream(s, jsonEvent({ type: "t", data: {} }));
    const r = await call(`${STREAMS}/Read`, [grpcFrame(req.readStream(s, { uuidOption: false }))]);
    assert.equal(r.grpcStatus, 3, describeCall(r));
    const empty = await call(`${STREAMS}/Read`, [grpcFrame(Buffer.alloc(0))]);
    assert.equal(empty.grpcStatus, 3, `an empty ReadReq: ${describeCall(empty)}`);
  });
});

describe("BatchAppend", () => {
  const batchReq = ({ correlation = randomUUID(), stream, events = 1, isFinal = true, withOptions = true, optionsExtra = Buffer.alloc(0) }) =>
    Buffer.concat([
      pb.msg(1, pb.str(2, correlation)),
      withOptions ? pb.msg(2, req.streamIdentifier(1, Buffer.from(stream)), pb.empty(4), optionsExtra) : Buffer.alloc(0),
      ...Array.from({ length: events }, () =>
        pb.msg(3, pb.msg(1, pb.str(2, randomUUID())), pb.mapEntry(2, "type", "raw-batch"), pb.mapEntry(2, "content-type", "application/json"), pb.bytes(4, Buffer.from("{}")))),
      isFinal ? pb.uint(4, 1) : Buffer.alloc(0),
    ]);
  const responses = (r) => grpcMessages(r.body).messages.map((m) => pb.decode(m));

  test("a well-formed raw BatchAppend succeeds (the baseline)", T, async () => {
    const s = uniqueStream("batch-ok");
    const r = await call(`${STREAMS}/BatchAppend`, [grpcFrame(batchReq({ stream: s, events: 2 }))]);
    assert.ok(!r.timedOut, describeCall(r));
    const [resp] = responses(r);
    assert.ok(resp && pb.field(resp, 3), `a success: ${describeCall(r)}`);
    assert.equal((await readAllOf(client, s)).length, 2);
  });

  test("an append whose last request never comes writes nothing", T, async () => {
    const s = uniqueStream("batch-unfinished");
    const r = await call(`${STREAMS}/BatchAppend`, [grpcFrame(batchReq({ stream: s, events: 3, isFinal: false }))]);
    assert.ok(!r.timedOut, `the call ends when the client half-closes: ${describeCall(r)}`);
    assert.ok(!responses(r).some((m) => pb.field(m, 3)), "no success for an unfinished append");
    assert.equal(await httpStatusOf(s), 404, "nothing written");

    const cancelled = await call(`${STREAMS}/BatchAppend`, [grpcFrame(batchReq({ stream: s, events: 3, isFinal: false }))], { end: false, timeoutMs: 1000 });
    assert.ok(cancelled.timedOut, "the call stays open while the append is unfinished");
    assert.equal(await httpStatusOf(s), 404, "nothing written after the client reset the call");
  });

  test("an append that starts without options is refused", T, async () => {
    const r = await call(`${STREAMS}/BatchAppend`, [grpcFrame(batchReq({ stream: "unused", withOptions: false }))]);
    assert.ok(!r.timedOut, describeCall(r));
    assert.ok(callFailed(r) || responses(r).every((m) => pb.field(m, 2) && !pb.field(m, 3)), `an error: ${describeCall(r)}`);
  });

  // A timeout too long to count in microseconds is saturated by the decoder; adding it to the clock
  // overflowed (undefined behaviour; in practice a deadline in the past, so the append failed). And
  // a deadline at the epoch was taken for no deadline at all.
  test("a timeout of 2^63-1 seconds is a deadline that never passes; one at the epoch has passed", T, async () => {
    const far = uniqueStream("batch-far");
    const maxSeconds = (1n << 63n) - 1n;
    const r = await call(`${STREAMS}/BatchAppend`, [
      grpcFrame(batchReq({ stream: far, optionsExtra: pb.msg(7, pb.uint(1, maxSeconds)) })),
    ]);
    assert.ok(!r.timedOut, describeCall(r));
    const [resp] = responses(r);
    assert.ok(resp && pb.field(resp, 3), `a success: ${describeCall(r)}`);
    assert.equal((await readAllOf(client, far)).length, 1);

    const past = uniqueStream("batch-epoch");
    const late = await call(`${STREAMS}/BatchAppend`, [
      grpcFrame(batchReq({ stream: past, optionsExtra: pb.msg(6, pb.uint(1, 0)) })),
    ]);
    assert.ok(!late.timedOut, describeCall(late));
    const [error] = responses(late);
    assert.ok(error && pb.field(error, 2) && !pb.field(error, 3), `a deadline error: ${describeCall(late)}`);
    assert.equal(Number(pb.field(pb.decode(pb.field(error, 2).value), 1).value), 4, "DEADLINE_EXCEEDED");
    assert.equal(await httpStatusOf(past), 404, "nothing written");
  });

  test("an unfinished append followed by a new one reusing its correlation id does not mix them", T, async () => {
    const s = uniqueStream("batch-reuse");
    const correlation = randomUUID();
    const r = await call(`${STREAMS}/BatchAppend`, [
      grpcFrame(batchReq({ correlation, stream: s, events: 2, isFinal: false })),
      grpcFrame(batchReq({ correlation, stream: s, events: 1, isFinal: true })),
    ]);
    assert.ok(!r.timedOut, describeCall(r));
    const status = await httpStatusOf(s);
    const written = status === 200 ? (await readAllOf(client, s)).length : 0;
    const succeeded = responses(r).some((m) => pb.field(m, 3));
    // Either the requests form one append of 3 events (options repeated), or the second is refused.
    assert.ok((succeeded && written === 3) || (!succeeded && written === 0), `success ${succeeded}, ${written} events written: ${describeCall(r)}`);
  });
});

// ---------------------------------------------------------------------------
// Raw HTTP/2 frames, for what Node's http2 will not send: more streams than the
// server allows, all on one connection.

const FRAME = { DATA: 0, HEADERS: 1, RST_STREAM: 3, SETTINGS: 4, PING: 6, GOAWAY: 7, WINDOW_UPDATE: 8, CONTINUATION: 9 };
const FLAG = { END_STREAM: 0x1, ACK: 0x1, END_HEADERS: 0x4 };

function frame(type, flags, streamId, payload = Buffer.alloc(0)) {
  const head = Buffer.alloc(9);
  head.writeUIntBE(payload.length, 0, 3);
  head[3] = type;
  head[4] = flags;
  head.writeUInt32BE(streamId & 0x7fffffff, 5);
  return Buffer.concat([head, payload]);
}

function hpackInt(value, prefixBits, firstByte) {
  const max = (1 << prefixBits) - 1;
  if (value < max) return Buffer.from([firstByte | value]);
  const out = [firstByte | max];
  value -= max;
  while (value >= 128) {
    out.push((value & 0x7f) | 0x80);
    value >>= 7;
  }
  out.push(value);
  return Buffer.from(out);
}

/** A header block of literals without indexing, new names, no Huffman coding. */
function hpackBlock(headers) {
  const parts = [];
  for (const [name, value] of headers) {
    const n = Buffer.from(name);
    const v = Buffer.from(value);
    parts.push(Buffer.from([0x00]), hpackInt(n.length, 7, 0), n, hpackInt(v.length, 7, 0), v);
  }
  return Buffer.concat(parts);
}

describe("many streams on one connection", () => {
  /**
   * Opens N streams at once on one raw connection, then sends each stream the
   * server kept open its request. `ackSettings` false leaves the server's
   * SETTINGS unacknowledged (its stream limit is then not yet in force).
   * Returns what happened to the streams.
   */
  async function flood(t, { N = 10_000, ackSettings }) {
    const socket = net.connect(server.port, "127.0.0.1");
    await new Promise((resolve, reject) => {
      socket.once("connect", resolve);
      socket.once("error", reject);
    });
    const ended = new Set(); // streams that got END_STREAM
    const reset = new Set(); // streams that got RST_STREAM
    const answered = new Set(); // streams that got any HEADERS
    let goawayLastId = null;
    let closed = false;
    let buf = Buffer.alloc(0);
    const send = (b) => {
      if (!closed) socket.write(b);
    };
    socket.on("close", () => (closed = true));
    socket.on("error", () => (closed = true));
    socket.on("data", (chunk) => {
      buf = Buffer.concat([buf, chunk]);
      while (buf.length >= 9) {
        const len = buf.readUIntBE(0, 3);
        if (buf.length < 9 + len) break;
        const type = buf[3];
        const flags = buf[4];
        const id = buf.readUInt32BE(5) & 0x7fffffff;
        const payload = buf.subarray(9, 9 + len);
        buf = buf.subarray(9 + len);
        if (type === FRAME.SETTINGS && !(flags & FLAG.ACK)) {
          if (ackSettings) send(frame(FRAME.SETTINGS, FLAG.ACK, 0));
        }
        else if (type === FRAME.PING && !(flags & FLAG.ACK)) send(frame(FRAME.PING, FLAG.ACK, 0, payload));
        else if (type === FRAME.GOAWAY) goawayLastId = payload.readUInt32BE(0) & 0x7fffffff;
        else if (type === FRAME.RST_STREAM) reset.add(id);
        else if (type === FRAME.HEADERS) {
          answered.add(id);
          if (flags & FLAG.END_STREAM) ended.add(id);
        } else if (type === FRAME.DATA) {
          if (len) {
            const inc = Buffer.alloc(4);
            inc.writeUInt32BE(len);
            send(frame(FRAME.WINDOW_UPDATE, 0, 0, inc));
            send(frame(FRAME.WINDOW_UPDATE, 0, id, inc));
          }
          if (flags & FLAG.END_STREAM) ended.add(id);
        }
      }
    });

    // Preface, our settings (1 MiB stream windows), and a large connection window.
    const settings = Buffer.alloc(6);
    settings.writeUInt16BE(0x4, 0);
    settings.writeUInt32BE(1 << 20, 2);
    const window = Buffer.alloc(4);
    window.writeUInt32BE(0x7fffffff - 65535);
    send(Buffer.concat([Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"), frame(FRAME.SETTINGS, 0, 0, settings), frame(FRAME.WINDOW_UPDATE, 0, 0, window)]));

    // Phase 1: open N streams, each waiting for its request message.
    const block = hpackBlock([
      [":method", "POST"],
      [":scheme", "http"],
      [":path", `${STREAMS}/Read`],
      [":authority", `127.0.0.1:${server.port}`],
      ["content-type", "application/grpc"],
      ["te", "trailers"],
    ]);
    const ids = Array.from({ length: N }, (_, i) => 2 * i + 1);
    for (let i = 0; i < N; i += 500) {
      send(Buffer.concat(ids.slice(i, i + 500).map((id) => frame(FRAME.HEADERS, FLAG.END_HEADERS, id, block))));
      await new Promise((resolve) => setImmediate(resolve));
    }
    await new Promise((resolve) => setTimeout(resolve, 1000));

    // Phase 2: send every stream still open its request (a read of a missing stream) and end it.
    const body = grpcFrame(req.readStream(`flood-${randomUUID()}`));
    const open = () => ids.filter((id) => !reset.has(id) && !ended.has(id) && (goawayLastId === null || id <= goawayLastId));
    const pending = open();
    for (let i = 0; i < pending.length; i += 500) {
      send(Buffer.concat(pending.slice(i, i + 500).map((id) => frame(FRAME.DATA, FLAG.END_STREAM, id, body))));
      await new Promise((resolve) => setImmediate(resolve));
    }

    const deadline = Date.now() + 60_000;
    while (!closed && open().length && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
    const unanswered = closed ? [] : open();
    socket.destroy();
    const summary = `answered ${answered.size}, ended ${ended.size}, reset ${reset.size}, goaway ${goawayLastId}, closed ${closed}`;
    t.diagnostic(summary);
    assert.equal(unanswered.length, 0, `${unanswered.length} streams neither answered nor reset (first ${unanswered.slice(0, 5)}); ${summary}`);
    // Whatever the server's limit, it answered some streams or said why not.
    assert.ok(ended.size + reset.size > 0 || goawayLastId !== null || closed, "the server reacted to the flood");
    return { ended, reset, answered, goawayLastId, closed, summary };
  }

  test("10 000 streams opened on one connection each get an answer, a reset or a closed connection", { timeout: 120_000 }, async (t) => {
    await flood(t, { ackSettings: true });
  });

  test("10 000 streams before the server's SETTINGS are acknowledged: the excess is refused, the rest answered", { timeout: 120_000 }, async (t) => {
    const r = await flood(t, { ackSettings: false });
    if (!r.closed) {
      assert.equal(r.ended.size + r.reset.size, 10_000, r.summary);
      assert.ok(r.ended.size > 0, `some streams were served: ${r.summary}`);
    }
  });


  test("many concurrent calls through Node's http2 on one connection all complete", { timeout: 120_000 }, async () => {
    const session = http2.connect(`http://127.0.0.1:${server.port}`);
    try {
      const s = uniqueStream("many-calls");
      await client.appendToStream(s, jsonEvent({ type: "t", data: {} }));
      const calls = Array.from({ length: 2000 }, () => rawGrpcCall({ session, path: `${STREAMS}/Read`, chunks: [grpcFrame(req.readStream(s))], timeoutMs: 90_000 }));
      const results = await Promise.all(calls);
      const bad = results.filter((r) => r.grpcStatus !== 0);
      assert.equal(bad.length, 0, `${bad.length} of 2000 calls failed; first ${bad[0] && describeCall(bad[0])}`);
      for (const r of results) {
        assert.equal(grpcMessages(r.body).messages.filter((m) => pb.field(pb.decode(m), 1)).length, 1);
      }
    } finally {
      session.destroy();
    }
  });
});

describe("the features probe", () => {
  test("GetSupportedMethods is UNIMPLEMENTED or names a plain X.Y.Z version and lower-case methods", T, async () => {
    const r = await call("/event_store.client.server_features.ServerFeatures/GetSupportedMethods", [grpcFrame(Buffer.alloc(0))]);
    assert.ok(r.grpcStatus === 0 || r.grpcStatus === 12, describeCall(r));
    if (r.grpcStatus !== 0) return;
    const [msg] = grpcMessages(r.body).messages;
    const fields = pb.decode(msg);
    const version = pb.field(fields, 2)?.value.toString("utf8");
    assert.match(version ?? "", /^\d+\.\d+\.\d+$/, "event_store_server_version is X.Y.Z");
    const methods = fields.filter((f) => f.no === 1).map((f) => {
      const m = pb.decode(f.value);
      return `${pb.field(m, 2)?.value.toString()}/${pb.field(m, 1)?.value.toString()}`;
    });
    for (const m of methods) assert.equal(m, m.toLowerCase(), "method and service names are lower-case");
    // The real client works whatever the server advertises.
    const s = uniqueStream("probe");
    await client.appendToStream(s, jsonEvent({ type: "t", data: {} }));
    assert.equal((await collect(client.readStream(s))).length, 1);
  });
});
