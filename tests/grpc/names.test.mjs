// Stream names beyond plain ASCII words (non-ASCII letters, spaces at either
// end, control characters) through every path of the official client,
// errors included. The error paths of the client's grpc-js stack read the
// `stream-name` trailer without checking it, so each client call runs in a
// separate process: a client crash there fails the test instead of the run.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";

import { jsonEvent } from "@kurrent/kurrentdb-client";

import { STREAMS, grpcFrame, pb, rawGrpcCall, readAllOf, req, runIsolated, startServer } from "./helpers.mjs";

const T = { timeout: 60_000 };
let server;
let client;

before(async () => {
  server = await startServer({ name: "names" });
  client = server.client();
});
after(async () => {
  await server?.close();
});

// "{}" is replaced by a number that makes each name unique.
const NAMES = [
  ["non-ASCII letters", "ström-{}-✓-漢"],
  ["a leading space", " leading-{}"],
  ["a trailing space", "trailing-{} "],
  ["a control character", "ctl-{}\u0001char"],
];

let serial = 0;
const named = (pattern) => pattern.replace("{}", `${process.pid}-${++serial}`);

/** A valid gRPC ASCII metadata value: printable ASCII, no whitespace at either end. */
const isAsciiValue = (v) => typeof v === "string" && /^(?:[\x21-\x7e](?:[\x20-\x7e]*[\x21-\x7e])?)?$/.test(v);

/**
 * Runs one client operation on `stream` in a separate process; resolves with
 * the error's class and streamName, or "ok", or the crash text.
 */
async function isolated(stream, operation) {
  const code = `
    import { KurrentDBClient, jsonEvent, START } from "@kurrent/kurrentdb-client";
    const client = KurrentDBClient.connectionString(process.env.CONN);
    const stream = JSON.parse(process.env.STREAM);
    const report = (r) => { console.log(JSON.stringify(r)); process.exit(0); };
    const ops = {
      deleteWrongRevision: () => client.deleteStream(stream, { expectedRevision: 99n }),
      tombstoneWrongRevision: () => client.tombstoneStream(stream, { expectedRevision: 99n }),
      appendPlain: () => client.appendToStream(stream, jsonEvent({ type: "t", data: {} }), { credentials: { username: "u", password: "p" } }),
      appendBatch: () => client.appendToStream(stream, jsonEvent({ type: "t", data: {} })),
      delete: () => client.deleteStream(stream),
      tombstone: () => client.tombstoneStream(stream),
      subscribe: () => new Promise((resolve, reject) => {
        const sub = client.subscribeToStream(stream, { fromRevision: START });
        sub.on("error", reject);
        sub.on("data", () => resolve("event"));
        setTimeout(() => resolve("no error within 5 s"), 5000);
      }),
    };
    try {
      const value = await ops[process.env.OP]();
      report({ ok: String(value) });
    } catch (err) {
      report({ error: err?.constructor?.name, streamName: err?.streamName });
    }
  `;
  const r = await runIsolated(code, { env: { CONN: server.connectionString, STREAM: JSON.stringify(stream), OP: operation } });
  const line = r.stdout.trim().split("\n").pop();
  if (r.status !== 0 || !line) {
    return { crash: `exit ${r.status ?? r.signal}: ${r.stderr.split("\n").filter(Boolean).slice(0, 6).join(" | ")}` };
  }
  return JSON.parse(line);
}

for (const [label, base] of NAMES) {
  describe(`a stream name with ${label}`, () => {
    test("appends, reads and subscriptions work", T, async () => {
      const s = named(base);
      await client.appendToStream(s, jsonEvent({ type: "t", data: { n: 1 } }));
      const read = await readAllOf(client, s);
      assert.equal(read[0].event.streamId, s);
      const sub = await isolated(s, "subscribe");
      assert.deepEqual(sub, { ok: "event" });
    });

    test("every trailer the server sends is a valid ASCII metadata value, stream-name included", T, async () => {
      const s = named(base);
      await client.appendToStream(s, jsonEvent({ type: "t", data: {} }));
      const answers = [["Delete, wrong expected revision", await rawGrpcCall({ port: server.port, path: `${STREAMS}/Delete`, chunks: [grpcFrame(pb.msg(1, req.streamIdentifier(1, Buffer.from(s)), pb.uint(2, 99)))] })]];
      await client.tombstoneStream(s);
      answers.push(
        ["Read of a tombstoned stream", await rawGrpcCall({ port: server.port, path: `${STREAMS}/Read`, chunks: [grpcFrame(req.readStream(s))] })],
        ["Append to a tombstoned stream", await rawGrpcCall({ port: server.port, path: `${STREAMS}/Append`, chunks: [grpcFrame(req.appendOptions(s)), grpcFrame(req.appendEvent())] })],
      );
      for (const [what, r] of answers) {
        const t = { ...(r.headers ?? {}), ...(r.trailers ?? {}) };
        assert.equal(r.grpcStatus, 9, what);
        for (const [k, v] of Object.entries(t)) {
          if (k.startsWith(":") || k.endsWith("-bin")) continue;
          assert.ok(isAsciiValue(String(v)), `${what}: trailer ${k}: ${JSON.stringify(v)} is not printable ASCII without surrounding spaces`);
        }
        assert.ok(t["stream-name"], `${what}: stream-name present (the client reads it unchecked); got ${JSON.stringify(t)}`);
      }
    });

    test("the client gets WrongExpectedVersionError and StreamDeletedError, and does not crash", T, async () => {
      const s = named(base);
      await client.appendToStream(s, jsonEvent({ type: "t", data: {} }));
      const outcomes = [];
      for (const op of ["deleteWrongRevision", "tombstoneWrongRevision"]) {
        outcomes.push([op, "WrongExpectedVersionError", await isolated(s, op)]);
      }
      await client.tombstoneStream(s);
      for (const op of ["appendBatch", "appendPlain", "delete", "tombstone", "subscribe"]) {
        outcomes.push([`${op} (tombstoned)`, "StreamDeletedError", await isolated(s, op)]);
      }
      const wrong = outcomes.filter(([, expected, got]) => got.error !== expected);
      assert.equal(wrong.length, 0, wrong.map(([op, expected, got]) => `${op}: expected ${expected}, got ${JSON.stringify(got).slice(0, 400)}`).join("\n"));
    });
  });
}
