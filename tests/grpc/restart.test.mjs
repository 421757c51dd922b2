// One client instance across server restarts: after the server comes back on
// the same port and data directory, the same client appends, reads and
// subscribes again, and sees what was written before.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";

import { NO_STREAM, START, jsonEvent } from "@kurrent/kurrentdb-client";

import { SubscriptionLog, readAllOf, retryUntil, startServer, uniqueStream, waitFor } from "./helpers.mjs";

let server;

before(async () => {
  server = await startServer({ name: "restart" });
});
after(async () => {
  await server?.close();
});

const ev = (n) => jsonEvent({ type: "r", data: { n } });

for (const hard of [false, true]) {
  const how = hard ? "killed (SIGKILL)" : "stopped (SIGTERM)";
  describe(`a server ${how} and started again`, () => {
    test("the same client keeps working and sees the earlier events", { timeout: 90_000 }, async () => {
      const client = server.client();
      const s = uniqueStream(hard ? "kill" : "term");
      await client.appendToStream(s, [ev(0), ev(1)], { streamState: NO_STREAM });
      assert.equal((await readAllOf(client, s)).length, 2);

      const sub = new SubscriptionLog(client.subscribeToStream(s, { fromRevision: START }));
      await sub.waitForCaughtUp();
      await sub.waitForEvents(2, 10_000);

      await server.restart({ hard });
      // The open subscription learns that its server went away.
      await waitFor(() => sub.errors.length > 0 || sub.ended || sub.closed, 20_000, "the subscription to end or fail");

      const third = ev(2); // the same id on every attempt: a retry of a written append is idempotent
      const { value: appended } = await retryUntil(() => client.appendToStream(s, third, { streamState: 1n }), 30_000, "append after restart");
      assert.equal(appended.nextExpectedRevision, 2n, "revisions continue after the restart");
      const { value: read } = await retryUntil(() => readAllOf(client, s), 30_000, "read after restart");
      assert.deepEqual(read.map((r) => r.event.data.n), [0, 1, 2]);

      // Re-appending the same ids at the same expected revision is still recognised after the restart.
      const retried = await client.appendToStream(s, third, { streamState: 1n });
      assert.equal(retried.nextExpectedRevision, 2n);
      assert.equal((await readAllOf(client, s)).length, 3, "idempotent across the restart");

      const again = new SubscriptionLog(client.subscribeToStream(s, { fromRevision: START }));
      try {
        await again.waitForEvents(3, 15_000);
        await client.appendToStream(s, ev(3));
        await again.waitForEvents(4, 15_000);
        assert.deepEqual(again.events.map((e) => e.event.data.n), [0, 1, 2, 3]);
      } finally {
        await again.stop();
        await sub.stop();
      }
    });
  });
}
