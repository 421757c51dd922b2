// relay.mjs: the service teams write when the event store has no connectors: it
// subscribes to $all with the official KurrentDB Node client, POSTs every event to
// a downstream HTTP endpoint in log order, and keeps its own checkpoint in a stream.
//
// It is written the way such relays usually are, to be the baseline of
// bench/compare: one `subscribeToAll` with a stream-prefix filter from the
// checkpoint, one `fetch` per event (Node's keep-alive agent), the same headers
// sluice's http-sink sends, a retry with backoff on any non-2xx answer or network
// error, and a checkpoint event (the last delivered position) appended every
// RELAY_CHECKPOINT_EVERY events. On start it reads the last event of the
// checkpoint stream; without one it starts from the beginning of the log. When the
// subscription breaks (the store restarted) it subscribes again from the last
// delivered position. After a crash it re-delivers at most what came after its
// last checkpoint, like a connector.
//
// Environment (defaults in brackets):
//   RELAY_CONNECTION   [kurrentdb://127.0.0.1:2113?tls=false]
//   RELAY_URL          [http://127.0.0.1:8080/{stream}]  {stream} and {event-type} expand
//   RELAY_PREFIX       [cmp-]                  stream-name prefix to relay
//   RELAY_CHECKPOINT_STREAM [relay-checkpoint]
//   RELAY_CHECKPOINT_EVERY  [1000]
//   RELAY_ID           [relay]                 sent as esdb-connector-id
//
// The client comes from tests/grpc/node_modules (run `npm ci` in tests/grpc).
// It prints `relay: subscribed from ...` on stderr once the subscription is open.
import { randomUUID } from "node:crypto";
import { createRequire } from "node:module";
import path from "node:path";
import { fileURLToPath } from "node:url";

const HERE = path.dirname(fileURLToPath(import.meta.url));
const require = createRequire(path.resolve(HERE, "..", "..", "tests", "grpc", "package.json"));
const { KurrentDBClient, BACKWARDS, END, START, jsonEvent, streamNameFilter } = require("@kurrent/kurrentdb-client");

const CONNECTION = process.env.RELAY_CONNECTION ?? "kurrentdb://127.0.0.1:2113?tls=false";
const TARGET = process.env.RELAY_URL ?? "http://127.0.0.1:8080/{stream}";
const PREFIX = process.env.RELAY_PREFIX ?? "cmp-";
const CHECKPOINT_STREAM = process.env.RELAY_CHECKPOINT_STREAM ?? "relay-checkpoint";
const CHECKPOINT_EVERY = Number(process.env.RELAY_CHECKPOINT_EVERY ?? 1000);
const RELAY_ID = process.env.RELAY_ID ?? "relay";

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const client = KurrentDBClient.connectionString(CONNECTION);

/** The position after which to start: the last checkpoint, or START. */
async function readCheckpoint() {
  try {
    for await (const { event } of client.readStream(CHECKPOINT_STREAM, {
      direction: BACKWARDS,
      fromRevision: END,
      maxCount: 1,
    })) {
      return { commit: BigInt(event.data.commit), prepare: BigInt(event.data.prepare) };
    }
  } catch (err) {
    if (err?.type !== "stream-not-found") throw err;
  }
  return START;
}

async function writeCheckpoint(position) {
  await client.appendToStream(
    CHECKPOINT_STREAM,
    jsonEvent({
      type: "RelayCheckpoint",
      data: { commit: position.commit.toString(), prepare: position.prepare.toString() },
    }),
  );
}

/** The headers sluice's http-sink sends with a record (see docs/connectors.md). */
function headersOf(event, position) {
  const headers = {
    "content-type": event.contentType ?? (event.isJson ? "application/json" : "application/octet-stream"),
    "esdb-connector-id": RELAY_ID,
    "esdb-request-id": randomUUID(),
    "esdb-request-date": new Date().toISOString(),
    "esdb-record-id": event.id,
    "esdb-record-timestamp": event.created instanceof Date ? event.created.toISOString() : String(event.created),
    "esdb-record-stream-id": event.streamId,
    "esdb-record-stream-revision": event.revision.toString(),
    "esdb-record-log-position": position.commit.toString(),
    "esdb-record-schema-subject": event.type,
    "esdb-record-schema-type": event.isJson ? "Json" : "Bytes",
  };
  const meta = event.metadata;
  if (meta && typeof meta === "object" && !(meta instanceof Uint8Array)) {
    for (const [key, value] of Object.entries(meta)) {
      if (key.startsWith("$")) continue;
      headers[`esdb-record-headers-${key}`] = typeof value === "string" ? value : JSON.stringify(value);
    }
  }
  return headers;
}

/** POSTs one event until the endpoint answers 2xx. */
async function deliver(event, position) {
  const url = TARGET.replaceAll("{stream}", encodeURIComponent(event.streamId)).replaceAll(
    "{event-type}",
    encodeURIComponent(event.type),
  );
  const body = event.isJson ? JSON.stringify(event.data) : event.data;
  for (let backoff = 50; ; backoff = Math.min(backoff * 2, 2000)) {
    try {
      const res = await fetch(url, { method: "POST", headers: headersOf(event, position), body });
      await res.arrayBuffer();
      if (res.ok) return;
      console.error(`relay: ${url} answered ${res.status}; retrying in ${backoff} ms`);
    } catch (err) {
      console.error(`relay: ${url}: ${err.cause?.code ?? err.message}; retrying in ${backoff} ms`);
    }
    await sleep(backoff);
  }
}

async function main() {
  let from = await readCheckpoint();
  let sinceCheckpoint = 0;
  for (;;) {
    const subscription = client.subscribeToAll({
      fromPosition: from,
      filter: streamNameFilter({ prefixes: [PREFIX] }),
    });
    console.error(`relay: subscribed from ${from === START ? "start" : from.commit}`);
    try {
      for await (const { event } of subscription) {
        if (!event) continue;
        const position = event.position;
        await deliver(event, position);
        from = position;
        if (++sinceCheckpoint >= CHECKPOINT_EVERY) {
          await writeCheckpoint(position);
          sinceCheckpoint = 0;
        }
      }
    } catch (err) {
      console.error(`relay: subscription broke: ${err.message}; subscribing again`);
      await subscription.unsubscribe().catch(() => {});
      await sleep(100);
    }
  }
}

for (const sig of ["SIGTERM", "SIGINT"]) {
  process.on(sig, () => {
    client.dispose().finally(() => process.exit(0));
  });
}

main().catch((err) => {
  console.error(`relay: ${err.stack ?? err}`);
  process.exit(1);
});
