// The connectors management API over gRPC (eventstore.connectors.v1
// ConnectorsCommandService and ConnectorsQueryService), called with
// @grpc/grpc-js and sluice's own proto/connectors/*.proto, and checked against
// the REST API, which manages the same connectors.
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import { fileURLToPath } from "node:url";

import grpc from "@grpc/grpc-js";
import protoLoader from "@grpc/proto-loader";
import { jsonEvent } from "@kurrent/kurrentdb-client";

import { startServer, uniqueStream, waitFor } from "./helpers.mjs";

const HERE = path.dirname(fileURLToPath(import.meta.url));
const PROTO_DIR = path.resolve(HERE, "..", "..", "proto");
const ADMIN_TOKEN = "grpc-connectors-admin-token";
const T = { timeout: 60_000 };

const definition = protoLoader.loadSync(["connectors/commands.proto", "connectors/queries.proto"], {
  includeDirs: [PROTO_DIR],
  keepCase: true,
  longs: String,
  enums: String,
  defaults: true,
  oneofs: true,
});
const v1 = grpc.loadPackageDefinition(definition).eventstore.connectors.v1;

const status = grpc.status;
let server;
let client; // the official KurrentDB client, to append events
let commands;
let queries;

before(async () => {
  server = await startServer({ name: "connectors", extraArgs: ["--admin-token", ADMIN_TOKEN] });
  client = server.client();
  const address = `127.0.0.1:${server.port}`;
  commands = new v1.ConnectorsCommandService(address, grpc.credentials.createInsecure());
  queries = new v1.ConnectorsQueryService(address, grpc.credentials.createInsecure());
});
after(async () => {
  commands?.close();
  queries?.close();
  await server?.close();
});

// ---- helpers ----

/** Calls a unary method; resolves with the response, rejects with the gRPC error. */
function call(service, method, request, metadata = new grpc.Metadata()) {
  return new Promise((resolve, reject) => {
    service[method](request, metadata, { deadline: Date.now() + 20_000 }, (err, res) => (err ? reject(err) : resolve(res)));
  });
}

/** The gRPC error of a call that must fail. */
async function failure(service, method, request, metadata) {
  try {
    await call(service, method, request, metadata);
  } catch (err) {
    return err;
  }
  assert.fail(`${method} ${JSON.stringify(request)} succeeded`);
}

const command = (method, request) => call(commands, method, request);
const stringValues = (obj) => Object.fromEntries(Object.entries(obj).map(([k, v]) => [k, { value: v }]));
const plain = (map) => Object.fromEntries(Object.entries(map).map(([k, v]) => [k, v?.value]));
const admin = () => {
  const m = new grpc.Metadata();
  m.set("authorization", `Bearer ${ADMIN_TOKEN}`);
  return m;
};

let idCounter = 0;
const newId = (prefix = "grpc") => `${prefix}-${process.pid}-${++idCounter}`;

function logSink(file, prefix, extra = {}) {
  return {
    instanceTypeName: "serilog-sink",
    path: file,
    "subscription:initialPosition": "earliest",
    "subscription:filter:scope": "stream",
    "subscription:filter:filterType": "prefix",
    "subscription:filter:expression": prefix,
    ...extra,
  };
}

function tmpFile(name) {
  return path.join(server.dir, `${name}.log`);
}

async function create(id, settings, name = "") {
  await command("Create", { connector_id: id, name, settings: stringValues(settings) });
}

/** The connector as gRPC lists it (with its settings), or undefined. */
async function listed(id, extra = {}) {
  const res = await call(queries, "List", { connector_id: [{ value: id }], include_settings: true, ...extra });
  assert.ok(res.items.length <= 1);
  return res.items[0];
}

async function rest(id) {
  const res = await server.http("GET", `/connectors/${id}`);
  return res.status === 200 ? res.json : undefined;
}

async function waitForState(id, state, ms = 20_000) {
  return waitFor(async () => {
    const c = await listed(id);
    return c?.state === state ? c : undefined;
  }, ms, `${id} to be ${state}`, 50);
}

const seconds = (ts) => (ts ? Number(ts.seconds) + ts.nanos / 1e9 : undefined);
const restSeconds = (text) => (text ? Date.parse(text) / 1000 : undefined);

// ---- the tests ----

describe("connectors over gRPC", () => {
  test("Create makes a stopped connector that List and REST both show", T, async () => {
    const id = newId("create");
    const settings = logSink(tmpFile(id), `${id}-`);
    await create(id, settings, "orders to the log");

    const c = await listed(id);
    assert.ok(c, "the connector is listed");
    assert.equal(c.connector_id, id);
    assert.equal(c.name, "orders to the log");
    assert.equal(c.instance_type_name, "serilog-sink");
    assert.equal(c.state, "CONNECTOR_STATE_STOPPED");
    assert.deepEqual(plain(c.settings), settings);
    assert.equal(c.position, null, "no position before the first run");
    assert.equal(c.error_details, null);
    assert.equal(c.delete_time, null);
    assert.ok(seconds(c.create_time) > 1_600_000_000, "create_time is a real time");

    const r = await rest(id);
    assert.equal(r.name, "orders to the log");
    assert.equal(r.state, "CONNECTOR_STATE_STOPPED");
    assert.deepEqual(r.settings, settings);
    assert.ok(Math.abs(restSeconds(r.createTime) - seconds(c.create_time)) < 1e-3, "the same create time (to the millisecond that Date.parse keeps)");

    const unnamed = newId("unnamed");
    await create(unnamed, logSink(tmpFile(unnamed), "x-"));
    assert.equal((await listed(unnamed)).name, unnamed, "an empty name is the id");
  });

  test("Create refuses an existing id, a bad id and bad settings, listing every broken rule", T, async () => {
    const id = newId("dup");
    await create(id, logSink(tmpFile(id), "d-"));
    const exists = await failure(commands, "Create", { connector_id: id, settings: stringValues(logSink(tmpFile(id), "d-")) });
    assert.equal(exists.code, status.ALREADY_EXISTS, exists.message);
    assert.match(exists.details, /already exists/);

    const badId = await failure(commands, "Create", { connector_id: "ab", settings: stringValues(logSink(tmpFile("ab"), "d-")) });
    assert.equal(badId.code, status.INVALID_ARGUMENT);
    assert.match(badId.details, /5 to 50 characters/);

    const bad = newId("bad");
    const err = await failure(commands, "Create", {
      connector_id: bad,
      settings: stringValues({ instanceTypeName: "serilog-sink", "subscription:initialPosition": "sideways", "no:such:key": "1" }),
    });
    assert.equal(err.code, status.INVALID_ARGUMENT);
    assert.match(err.details, /subscription:initialPosition/);
    assert.match(err.details, /no:such:key/);

    const missingType = await failure(commands, "Create", { connector_id: newId("notype"), settings: {} });
    assert.equal(missingType.code, status.INVALID_ARGUMENT);
    assert.match(missingType.details, /instanceTypeName/);

    assert.equal(await listed(bad), undefined, "nothing was created");
    assert.equal(await rest(bad), undefined);
  });

  test("Start delivers, Stop records the position, and REST sees each state", T, async () => {
    const id = newId("run");
    const file = tmpFile(id);
    const stream = uniqueStream(`${id}-s`);
    await create(id, logSink(file, `${id}-`));
    await command("Start", { connector_id: id });
    await waitForState(id, "CONNECTOR_STATE_RUNNING");
    assert.equal((await rest(id)).state, "CONNECTOR_STATE_RUNNING");

    await client.appendToStream(stream, [1, 2, 3].map((n) => jsonEvent({ type: "numbered", data: { n } })));
    await waitFor(() => {
      try {
        return fs.readFileSync(file, "utf8").split("\n").filter((l) => l.includes(stream)).length === 3;
      } catch {
        return false;
      }
    }, 20_000, "three records in the log sink's file");

    await command("Start", { connector_id: id }); // starting a running connector does nothing
    await command("Stop", { connector_id: id });
    const stopped = await listed(id);
    assert.equal(stopped.state, "CONNECTOR_STATE_STOPPED");
    assert.ok(stopped.position, "a position after the run");
    assert.ok(BigInt(stopped.position.value) > 0n);
    assert.ok(seconds(stopped.position_update_time) > 0);
    const r = await rest(id);
    assert.equal(r.state, "CONNECTOR_STATE_STOPPED");
    assert.equal(BigInt(r.position), BigInt(stopped.position.value), "REST shows the same position");
    await command("Stop", { connector_id: id }); // stopping a stopped connector does nothing
  });

  test("Reset and a Start position need the connector stopped", T, async () => {
    const id = newId("reset");
    await create(id, logSink(tmpFile(id), `${id}-`));
    await command("Start", { connector_id: id });
    await waitForState(id, "CONNECTOR_STATE_RUNNING");

    const resetRunning = await failure(commands, "Reset", { connector_id: id });
    assert.equal(resetRunning.code, status.FAILED_PRECONDITION, resetRunning.message);
    assert.match(resetRunning.details, /must be stopped/);
    const startAt = await failure(commands, "Start", { connector_id: id, start_position: { value: "0" } });
    assert.equal(startAt.code, status.FAILED_PRECONDITION, startAt.message);

    await command("Stop", { connector_id: id });
    await command("Reset", { connector_id: id, start_position: { value: "1" } });
    await waitForState(id, "CONNECTOR_STATE_RUNNING");
    await command("Stop", { connector_id: id });
    await command("Start", { connector_id: id, start_position: { value: "0" } });
    await waitForState(id, "CONNECTOR_STATE_RUNNING");
    await command("Stop", { connector_id: id });
    await command("Reset", { connector_id: id }); // from the beginning
    await waitForState(id, "CONNECTOR_STATE_RUNNING");
    await command("Stop", { connector_id: id });
    assert.equal((await rest(id)).state, "CONNECTOR_STATE_STOPPED");
  });

  test("Rename changes the name that REST shows; a bad name is refused", T, async () => {
    const id = newId("rename");
    await create(id, logSink(tmpFile(id), "r-"), "before");
    await command("Rename", { connector_id: id, name: "after the rename" });
    assert.equal((await listed(id)).name, "after the rename");
    assert.equal((await rest(id)).name, "after the rename");
    const err = await failure(commands, "Rename", { connector_id: id, name: "x" });
    assert.equal(err.code, status.INVALID_ARGUMENT);
    assert.match(err.details, /3 to 50 characters/);
  });

  test("Reconfigure replaces the settings; GetSettings, GetConfiguration and REST agree", T, async () => {
    const id = newId("reconf");
    const first = logSink(tmpFile(id), "one-");
    await create(id, first);
    const before = await call(queries, "GetSettings", { connector_id: id });
    assert.deepEqual(plain(before.settings), first);

    const second = logSink(tmpFile(`${id}-2`), "two-", { includeRecordData: "false" });
    await command("Reconfigure", { connector_id: id, settings: stringValues(second) });
    const got = await call(queries, "GetSettings", { connector_id: id });
    assert.deepEqual(plain(got.settings), second);
    assert.ok(seconds(got.settings_update_time) >= seconds(before.settings_update_time));
    const r = await server.http("GET", `/connectors/${id}/settings`);
    assert.equal(r.status, 200);
    assert.deepEqual(r.json.settings, second);
    assert.ok(Math.abs(restSeconds(r.json.settingsUpdateTime) - seconds(got.settings_update_time)) < 1e-3);

    const conf = await call(queries, "GetConfiguration", { connector_id: id });
    const fields = conf.configuration.fields;
    assert.equal(fields.instanceTypeName.string_value, "serilog-sink");
    assert.equal(fields.includeRecordData.string_value, "false");
    const filter = fields.subscription.struct_value.fields.filter.struct_value.fields;
    assert.equal(filter.expression.string_value, "two-");
    assert.equal(filter.scope.string_value, "stream");

    const withConf = await listed(id, { include_settings: false, include_configuration: true });
    assert.deepEqual(withConf.settings, {}, "no flat settings unless asked for");
    assert.equal(withConf.configuration.fields.path.string_value, second.path);

    const bad = await failure(commands, "Reconfigure", { connector_id: id, settings: stringValues({ instanceTypeName: "no-such-sink" }) });
    assert.equal(bad.code, status.INVALID_ARGUMENT);
    assert.deepEqual(plain((await call(queries, "GetSettings", { connector_id: id })).settings), second, "unchanged");
  });

  test("secret settings are masked unless the caller bears the admin token", T, async () => {
    const id = newId("secret");
    await create(id, {
      instanceTypeName: "http-sink",
      url: "http://127.0.0.1:9/never",
      "authentication:method": "bearer",
      "authentication:bearer:token": "the-secret-token",
    });
    const masked = await call(queries, "GetSettings", { connector_id: id });
    assert.equal(masked.settings["authentication:bearer:token"].value, "***");
    assert.equal(masked.settings.url.value, "http://127.0.0.1:9/never");
    const wrong = new grpc.Metadata();
    wrong.set("authorization", "Bearer not-the-token");
    assert.equal((await call(queries, "GetSettings", { connector_id: id }, wrong)).settings["authentication:bearer:token"].value, "***");
    const listedMasked = await listed(id);
    assert.equal(listedMasked.settings["authentication:bearer:token"].value, "***");
    const conf = await call(queries, "GetConfiguration", { connector_id: id });
    assert.equal(conf.configuration.fields.authentication.struct_value.fields.bearer.struct_value.fields.token.string_value, "***");

    const shown = await call(queries, "GetSettings", { connector_id: id }, admin());
    assert.equal(shown.settings["authentication:bearer:token"].value, "the-secret-token");
    const listedShown = await call(queries, "List", { connector_id: [{ value: id }], include_settings: true }, admin());
    assert.equal(listedShown.items[0].settings["authentication:bearer:token"].value, "the-secret-token");
  });

  test("Delete needs the connector stopped; a deleted connector is gone from both APIs", T, async () => {
    const id = newId("delete");
    await create(id, logSink(tmpFile(id), `${id}-`));
    await command("Start", { connector_id: id });
    await waitForState(id, "CONNECTOR_STATE_RUNNING");
    const running = await failure(commands, "Delete", { connector_id: id });
    assert.equal(running.code, status.FAILED_PRECONDITION, running.message);

    await command("Stop", { connector_id: id });
    await command("Delete", { connector_id: id });
    assert.equal(await listed(id), undefined);
    const deleted = await listed(id, { show_deleted: true });
    assert.ok(deleted, "listed with show_deleted");
    assert.ok(seconds(deleted.delete_time) > 0);
    assert.equal(await rest(id), undefined);
    assert.equal((await server.http("GET", `/connectors/${id}`)).status, 404);

    for (const [service, method, request] of [
      [queries, "GetSettings", { connector_id: id }],
      [queries, "GetConfiguration", { connector_id: id }],
      [commands, "Start", { connector_id: id }],
      [commands, "Delete", { connector_id: id }],
      [commands, "Rename", { connector_id: id, name: "ghost" }],
    ]) {
      const err = await failure(service, method, request);
      assert.equal(err.code, status.NOT_FOUND, `${method}: ${err.message}`);
    }
    const never = await failure(commands, "Stop", { connector_id: newId("never") });
    assert.equal(never.code, status.NOT_FOUND);
  });

  test("List filters by state, type and id, and pages with the total size", T, async () => {
    const prefix = newId("page");
    const ids = [1, 2, 3].map((n) => `${prefix}-${n}`);
    for (const id of ids) await create(id, logSink(tmpFile(id), `${id}-`));
    await command("Start", { connector_id: ids[1] });
    await waitForState(ids[1], "CONNECTOR_STATE_RUNNING");

    const byId = await call(queries, "List", { connector_id: ids.map((value) => ({ value })) });
    assert.deepEqual(byId.items.map((c) => c.connector_id), ids, "sorted by id");
    assert.equal(byId.total_size, 3);
    assert.deepEqual(byId.items[0].settings, {}, "no settings unless asked for");

    const page = await call(queries, "List", { connector_id: ids.map((value) => ({ value })), paging: { page: 2, page_size: 2 } });
    assert.deepEqual(page.items.map((c) => c.connector_id), [ids[2]]);
    assert.equal(page.total_size, 3, "total_size counts every match");

    const running = await call(queries, "List", { connector_id: ids.map((value) => ({ value })), state: ["CONNECTOR_STATE_RUNNING"] });
    assert.deepEqual(running.items.map((c) => c.connector_id), [ids[1]]);
    const stopped = await call(queries, "List", { connector_id: ids.map((value) => ({ value })), state: ["CONNECTOR_STATE_STOPPED"] });
    assert.deepEqual(stopped.items.map((c) => c.connector_id), [ids[0], ids[2]]);

    const byAlias = await call(queries, "List", { connector_id: ids.map((value) => ({ value })), instance_type_name: [{ value: "SerilogSink" }] });
    assert.equal(byAlias.total_size, 3, "an alias of the sink matches");
    const otherType = await call(queries, "List", { connector_id: ids.map((value) => ({ value })), instance_type_name: [{ value: "http-sink" }] });
    assert.equal(otherType.total_size, 0);

    const restList = await server.http("GET", `/connectors?connectorId=${ids.join(",")}&state=CONNECTOR_STATE_RUNNING`);
    assert.deepEqual(restList.json.items.map((c) => c.connectorId), [ids[1]], "REST filters the same");

    const bad = await failure(queries, "List", { paging: { page: 1, page_size: 100_000 } });
    assert.equal(bad.code, status.INVALID_ARGUMENT);
    await command("Stop", { connector_id: ids[1] });
  });

  test("connectors made through REST are managed through gRPC, and the other way round", T, async () => {
    const id = newId("rest");
    const res = await server.http("POST", `/connectors/${id}`, {
      body: { name: "made by REST", configuration: { instanceTypeName: "serilog-sink", path: tmpFile(id), subscription: { initialPosition: "earliest" } } },
    });
    assert.equal(res.status, 200, res.text);
    const got = await call(queries, "GetSettings", { connector_id: id });
    assert.deepEqual(plain(got.settings), { instanceTypeName: "serilog-sink", path: tmpFile(id), "subscription:initialPosition": "earliest" });
    await command("Rename", { connector_id: id, name: "renamed by gRPC" });
    assert.equal((await rest(id)).name, "renamed by gRPC");
    const restDelete = await server.http("DELETE", `/connectors/${id}`);
    assert.equal(restDelete.status, 200, restDelete.text);
    const err = await failure(queries, "GetSettings", { connector_id: id });
    assert.equal(err.code, status.NOT_FOUND);
  });

  test("an unknown method of the services is UNIMPLEMENTED; a bad id is INVALID_ARGUMENT", T, async () => {
    const unknown = await new Promise((resolve) => {
      const channel = new grpc.Client(`127.0.0.1:${server.port}`, grpc.credentials.createInsecure());
      channel.makeUnaryRequest(
        "/eventstore.connectors.v1.ConnectorsCommandService/RecordStateChange",
        (x) => x,
        (x) => x,
        Buffer.alloc(0),
        (err) => {
          channel.close();
          resolve(err);
        },
      );
    });
    assert.equal(unknown?.code, status.UNIMPLEMENTED);
    const badId = await failure(queries, "GetSettings", { connector_id: "x/../y" });
    assert.equal(badId.code, status.INVALID_ARGUMENT);
  });
});
