// gRPC and the HTTP API on one store: events appended through one are read
// identically through the other, expected revisions, metadata and deletes
// agree, and an http-sink connector delivers events appended through gRPC.
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import http from "node:http";
import { after, before, describe, test } from "node:test";

import {
  NO_STREAM,
  START,
  StreamDeletedError,
  binaryEvent,
  jsonEvent,
} from "@kurrent/kurrentdb-client";

import { SubscriptionLog, readAllOf, rejectionOf, startServer, streamPath, uniqueStream, waitFor } from "./helpers.mjs";

const T = { timeout: 60_000 };
let server;
let client;

before(async () => {
  server = await startServer({ name: "interop" });
  client = server.client();
});
after(async () => {
  await server?.close();
});

async function httpRead(stream, query = "from=start&count=100") {
  const res = await server.http("GET", `${streamPath(stream)}?${query}`);
  assert.equal(res.status, 200, `GET ${stream}: ${res.status} ${res.text.slice(0, 300)}`);
  return res.json.events;
}

async function httpAppend(stream, events, headers = {}) {
  const res = await server.http("POST", streamPath(stream), { body: events, headers });
  assert.equal(res.status, 201, `POST ${stream}: ${res.status} ${res.text.slice(0, 300)}`);
  return res.json;
}

describe("gRPC to HTTP", () => {
  test("events appended through gRPC read identically over HTTP", T, async () => {
    const s = uniqueStream("g2h");
    const bin = Uint8Array.from([0, 255, 1, 254, 10]);
    const written = [
      jsonEvent({ type: "Placed", data: { order: 1, items: ["a", "b"], note: "ünï" }, metadata: { user: "ann" } }),
      jsonEvent({ type: "NoMeta", data: { n: 2 } }),
      binaryEvent({ type: "Blob", data: bin }),
    ];
    const res = await client.appendToStream(s, written, { streamState: NO_STREAM });
    const events = await httpRead(s);
    assert.equal(events.length, 3);
    events.forEach((e, i) => {
      assert.equal(e.streamId, s);
      assert.equal(e.revision, i);
      assert.equal(e.eventId, written[i].id);
      assert.equal(e.eventType, written[i].type);
      assert.equal(e.contentType, written[i].contentType);
    });
    assert.deepEqual(events[0].data, written[0].data);
    assert.deepEqual(events[0].metadata, { user: "ann" });
    assert.deepEqual(events[1].data, { n: 2 });
    assert.equal(events[1].metadata, null, "no metadata reads back as null");
    assert.ok(Buffer.from(events[2].data, "base64").equals(Buffer.from(bin)), "binary data is the base64 of the bytes");

    const grpcRead = (await readAllOf(client, s)).map((r) => r.event);
    grpcRead.forEach((g, i) => {
      const h = events[i];
      const httpCreated = Date.parse(h.created);
      assert.ok(Math.abs(httpCreated - g.created.getTime()) < 1000, `event ${i}: created ${h.created} (HTTP) vs ${g.created.toISOString()} (gRPC)`);
      if (i) {
        assert.ok(h.position > events[i - 1].position && g.position.commit > grpcRead[i - 1].position.commit, "positions grow the same way");
      }
    });
    assert.equal(res.nextExpectedRevision, 2n);
  });

  test("expected revisions agree across the two APIs", T, async () => {
    const s = uniqueStream("revs");
    await client.appendToStream(s, [jsonEvent({ type: "a", data: {} }), jsonEvent({ type: "a", data: {} })], { streamState: NO_STREAM });
    const viaHttp = await httpAppend(s, [{ eventType: "b", data: {} }], { "Expected-Revision": "1" });
    assert.equal(viaHttp.nextExpectedRevision, 2);
    const stale = await server.http("POST", streamPath(s), { body: [{ eventType: "c", data: {} }], headers: { "Expected-Revision": "1" } });
    assert.equal(stale.status, 409);
    assert.equal(stale.json.actual, 2);
    const viaGrpc = await client.appendToStream(s, jsonEvent({ type: "d", data: {} }), { streamState: 2n });
    assert.equal(viaGrpc.nextExpectedRevision, 3n);
  });

  test("metadata set through gRPC is the HTTP metadata, and back", T, async () => {
    const s = uniqueStream("meta");
    await client.appendToStream(s, jsonEvent({ type: "a", data: {} }));
    await client.setStreamMetadata(s, { maxCount: 2, owner: "ops" });
    const got = await server.http("GET", `${streamPath(s)}/metadata`);
    assert.equal(got.status, 200);
    assert.deepEqual(got.json, { $maxCount: 2, owner: "ops" });

    const put = await server.http("PUT", `${streamPath(s)}/metadata`, { body: { $maxCount: 5, $tb: 0, team: "blue" } });
    assert.equal(put.status, 201, put.text);
    const meta = await client.getStreamMetadata(s);
    assert.equal(meta.metadata.maxCount, 5);
    assert.equal(meta.metadata.truncateBefore, 0);
    assert.equal(meta.metadata.team, "blue");
  });

  test("a tombstone through either API is seen by the other", T, async () => {
    const a = uniqueStream("tomb-h");
    await client.appendToStream(a, jsonEvent({ type: "a", data: {} }));
    const del = await server.http("DELETE", `${streamPath(a)}?hard=true`);
    assert.equal(del.status, 204, del.text);
    assert.ok((await rejectionOf(client.appendToStream(a, jsonEvent({ type: "a", data: {} })))) instanceof StreamDeletedError);

    const b = uniqueStream("tomb-g");
    await httpAppend(b, [{ eventType: "a", data: {} }]);
    await client.tombstoneStream(b);
    assert.equal((await server.http("GET", streamPath(b))).status, 410);
    const soft = uniqueStream("soft-g");
    await httpAppend(soft, [{ eventType: "a", data: {} }]);
    await client.deleteStream(soft);
    assert.equal((await server.http("GET", streamPath(soft))).status, 404);
  });
});

describe("HTTP to gRPC", () => {
  test("events appended over HTTP read identically through gRPC reads and subscriptions", T, async () => {
    const s = uniqueStream("h2g");
    const ids = [randomUUID(), randomUUID(), randomUUID()];
    const bytes = Buffer.from([1, 2, 3, 0, 255]);
    await httpAppend(s, [
      { eventId: ids[0], eventType: "Json", data: { k: "v", arr: [1, 2] }, metadata: { trace: "t" } },
      { eventId: ids[1], eventType: "Bin", contentType: "application/octet-stream", data: bytes.toString("base64") },
      { eventId: ids[2], eventType: "Plain", data: "a string" },
    ], { "Expected-Revision": "no_stream" });

    const viaRead = (await readAllOf(client, s)).map((r) => r.event);
    const log = new SubscriptionLog(client.subscribeToStream(s, { fromRevision: START }));
    await log.waitForEvents(3, 10_000);
    await log.stop();
    const viaSub = log.events.map((e) => e.event);

    for (const [label, got] of [["readStream", viaRead], ["subscription", viaSub]]) {
      assert.deepEqual(got.map((e) => e.id), ids, `${label}: ids`);
      assert.deepEqual(got.map((e) => e.type), ["Json", "Bin", "Plain"], `${label}: types`);
      assert.deepEqual(got.map((e) => e.revision), [0n, 1n, 2n], `${label}: revisions`);
      assert.equal(got[0].isJson, true);
      assert.deepEqual(got[0].data, { k: "v", arr: [1, 2] }, `${label}: JSON data`);
      assert.deepEqual(got[0].metadata, { trace: "t" }, `${label}: metadata`);
      assert.equal(got[1].isJson, false);
      assert.ok(Buffer.from(got[1].data).equals(bytes), `${label}: binary data`);
      assert.equal(got[2].data, "a string", `${label}: a JSON string`);
    }
    const viaHttp = await httpRead(s);
    viaRead.forEach((g, i) => {
      assert.ok(Math.abs(Date.parse(viaHttp[i].created) - g.created.getTime()) < 1000, "created agrees");
    });
  });

  test("the single-event HTTP form reads back through gRPC", T, async () => {
    const s = uniqueStream("single");
    const id = randomUUID();
    const res = await server.http("POST", streamPath(s), {
      body: Buffer.from([9, 8, 7]),
      headers: { "ES-EventType": "Raw", "ES-EventId": id, "content-type": "application/octet-stream" },
    });
    assert.equal(res.status, 201, res.text);
    const [r] = await readAllOf(client, s);
    assert.equal(r.event.id, id);
    assert.equal(r.event.type, "Raw");
    assert.ok(Buffer.from(r.event.data).equals(Buffer.from([9, 8, 7])));
  });
});

describe("connectors", () => {
  test("an http-sink connector delivers events appended through gRPC", { timeout: 90_000 }, async () => {
    const received = [];
    const receiver = http.createServer((rq, rs) => {
      const parts = [];
      rq.on("data", (d) => parts.push(d));
      rq.on("end", () => {
        received.push({ method: rq.method, url: rq.url, headers: rq.headers, body: Buffer.concat(parts) });
        rs.writeHead(200, { "content-type": "application/json" });
        rs.end("{}");
      });
    });
    await new Promise((resolve) => receiver.listen(0, "127.0.0.1", resolve));
    const port = receiver.address().port;
    const id = `grpc-sink-${randomUUID().slice(0, 8)}`;
    const prefix = `sinkme${randomUUID().slice(0, 8)}-`;
    try {
      const created = await server.http("POST", `/connectors/${id}`, {
        body: {
          settings: {
            instanceTypeName: "http-sink",
            url: `http://127.0.0.1:${port}/events/{stream}`,
            "subscription:filter:scope": "stream",
            "subscription:filter:filterType": "prefix",
            "subscription:filter:expression": prefix,
            "subscription:initialPosition": "earliest",
          },
        },
      });
      assert.equal(created.status, 200, created.text);
      const started = await server.http("POST", `/connectors/${id}/start`);
      assert.equal(started.status, 200, started.text);

      const s = `${prefix}orders`;
      const written = [
        jsonEvent({ type: "OrderPlaced", data: { id: 1, total: 9.5 }, metadata: { user: "ann" } }),
        jsonEvent({ type: "OrderPaid", data: { id: 1 } }),
        binaryEvent({ type: "Receipt", data: Uint8Array.from([0x25, 0x50, 0x44, 0x46, 0x00, 0xff]) }),
      ];
      await client.appendToStream(s, written.slice(0, 2), { streamState: NO_STREAM });
      await client.appendToStream(uniqueStream("not-sunk"), jsonEvent({ type: "Other", data: {} }));
      await client.appendToStream(s, written[2], { streamState: 1n });

      await waitFor(() => received.length >= 3, 60_000, "3 deliveries to the sink", 50);
      const overHttp = await httpRead(s);
      assert.equal(received.length, 3, "only the matching events");
      received.forEach((r, i) => {
        const h = r.headers;
        assert.equal(r.method, "POST");
        assert.equal(r.url, `/events/${s}`);
        assert.equal(h["esdb-record-id"], written[i].id, `delivery ${i}: in order`);
        assert.equal(h["esdb-record-stream-id"], s);
        assert.equal(h["esdb-record-stream-revision"], String(i));
        assert.equal(h["esdb-record-schema-subject"], written[i].type);
        assert.equal(h["esdb-record-log-position"], String(overHttp[i].position), "the HTTP API's position");
        assert.equal(h["esdb-connector-id"], id);
      });
      assert.equal(received[0].headers["esdb-record-schema-type"], "Json");
      assert.deepEqual(JSON.parse(received[0].body.toString("utf8")), { id: 1, total: 9.5 });
      assert.equal(received[0].headers["esdb-record-headers-user"], "ann");
      assert.deepEqual(JSON.parse(received[1].body.toString("utf8")), { id: 1 });
      assert.equal(received[2].headers["esdb-record-schema-type"], "Bytes");
      assert.ok(received[2].body.equals(Buffer.from([0x25, 0x50, 0x44, 0x46, 0x00, 0xff])), "binary payload delivered as is");
    } finally {
      await server.http("POST", `/connectors/${id}/stop`).catch(() => {});
      await server.http("DELETE", `/connectors/${id}`).catch(() => {});
      receiver.closeAllConnections?.();
      await new Promise((resolve) => receiver.close(resolve));
    }
  });
});
