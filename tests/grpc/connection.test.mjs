// Connections as the official client makes them: the connection-string forms
// it accepts, credentials sent without TLS, keepalive pings, and server
// timeouts that must not cut long, quiet subscriptions.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";

import { KurrentDBClient, START, jsonEvent } from "@kurrent/kurrentdb-client";

import { SubscriptionLog, readAllOf, sleep, startServer, uniqueStream } from "./helpers.mjs";

let server;
let strict; // a server with very short idle, header and request timeouts

before(async () => {
  server = await startServer({ name: "conn" });
  strict = await startServer({
    name: "timeouts",
    extraArgs: ["--idle-timeout-ms", "1500", "--header-timeout-ms", "1500", "--request-timeout-ms", "1500"],
  });
});
after(async () => {
  await server?.close();
  await strict?.close();
});

const ev = (n) => jsonEvent({ type: "c", data: { n } });

/** Appends, reads (Rust stack) and subscribes (grpc-js stack) once with `client`. */
async function roundTrip(client) {
  const s = uniqueStream("rt");
  await client.appendToStream(s, [ev(0), ev(1)]);
  assert.deepEqual((await readAllOf(client, s)).map((r) => r.event.data.n), [0, 1]);
  const log = new SubscriptionLog(client.subscribeToStream(s, { fromRevision: START }));
  try {
    await log.waitForEvents(2, 10_000);
  } finally {
    await log.stop();
  }
}

describe("connection strings", () => {
  for (const [label, query, scheme] of [
    ["kurrentdb:// with credentials (sent in clear without TLS by the Rust stack)", "", "kurrentdb://admin:changeit@"],
    ["kurrent:// with a connection name", "&connectionName=compat-suite", "kurrent://"],
    ["kdb:// with keepalive and deadline settings", "&keepAliveInterval=5000&keepAliveTimeout=5000&defaultDeadline=5000", "kdb://"],
    ["esdb:// (deprecated) with nodePreference=leader", "&nodePreference=leader", "esdb://"],
  ]) {
    test(label, { timeout: 60_000 }, async () => {
      const client = KurrentDBClient.connectionString(`${scheme}127.0.0.1:${server.port}?tls=false${query}`);
      server.clients.push(client);
      await roundTrip(client);
    });
  }
});

describe("keepalive and timeouts", () => {
  test("a subscription survives keepalive pings every second", { timeout: 60_000 }, async () => {
    const client = server.client("&keepAliveInterval=1000&keepAliveTimeout=1000");
    const s = uniqueStream("pings");
    const log = new SubscriptionLog(client.subscribeToStream(s, { fromRevision: START }));
    try {
      await log.waitForCaughtUp();
      await client.appendToStream(s, ev(0));
      await log.waitForEvents(1, 10_000);
      await sleep(6000); // six pings, each answered within a second
      await client.appendToStream(s, ev(1));
      await log.waitForEvents(2, 10_000);
      assert.equal(log.errors.length, 0, `no error: ${log.errors[0]}`);
      assert.deepEqual((await readAllOf(client, s)).map((r) => r.event.data.n), [0, 1]);
    } finally {
      await log.stop();
    }
  });

  test("quiet subscriptions outlive the server's idle, header and request timeouts", { timeout: 60_000 }, async () => {
    const client = strict.client();
    const s = uniqueStream("quiet");
    const toStream = new SubscriptionLog(client.subscribeToStream(s, { fromRevision: START }));
    const toAll = new SubscriptionLog(client.subscribeToAll({ fromPosition: START }));
    try {
      await toStream.waitForCaughtUp();
      await toAll.waitForCaughtUp();
      await sleep(12_000); // 8 times the timeouts, and more than one keepalive interval (10 s)
      await client.appendToStream(s, ev(0));
      await toStream.waitForEvents(1, 10_000);
      await toAll.waitForEvents(1, 10_000);
      assert.equal(toStream.errors.length + toAll.errors.length, 0, `no error: ${toStream.errors[0] ?? toAll.errors[0]}`);
    } finally {
      await toStream.stop();
      await toAll.stop();
    }
  });

  test("a client left idle past the server's idle timeout works again at once", { timeout: 60_000 }, async () => {
    const client = strict.client();
    await roundTrip(client);
    await sleep(4000); // the server PINGs both idle connections (it would close them if unanswered)
    await roundTrip(client);
  });

  test("reads spaced around a short idle timeout all succeed", { timeout: 90_000 }, async () => {
    // Neither an idle GOAWAY nor an RST_STREAM(NO_ERROR) before the request's end may reach a read
    // the Rust stack is starting: it reports either as UnavailableError, without retrying.
    const quick = await startServer({ name: "idle300", extraArgs: ["--idle-timeout-ms", "300"] });
    try {
      const client = quick.client();
      const s = uniqueStream("spaced");
      await client.appendToStream(s, ev(0));
      for (let i = 0; i < 40; i++) {
        await sleep(260 + ((i * 37) % 80) + (i % 3 === 0 ? 300 : 0));
        assert.equal((await readAllOf(client, s)).length, 1, `read ${i}`);
      }
    } finally {
      await quick.close();
    }
  });
});
