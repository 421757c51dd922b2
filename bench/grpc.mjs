// bench/grpc.mjs: the same appends and the same catch-up read, through the official KurrentDB
// Node client (gRPC) and through a plain keep-alive HTTP/1.1 client, against one running sluice.
//
//   node bench/grpc.mjs --url http://127.0.0.1:PORT [--pid SERVER_PID] [--events N] [--clients C]
//                       [--event-bytes B] [--json]
//
// Four append rows, each writing N events of about B bytes of JSON data (a fresh id per event, a
// stream per client, expected revision `any`), with C appends in flight at once:
//   grpc append x1    client.appendToStream(stream, event)           N calls
//   http append x1    POST /streams/{s} with a one-event JSON array   N requests
//   grpc append x100  client.appendToStream(stream, [100 events])    N / 100 calls
//   http append x100  POST /streams/{s} with 100 events              N / 100 requests
// then two reads of the whole log from the start, which by then holds every event written above:
//   grpc readAll      client.readAll({ fromPosition: START, maxCount }) iterated to the end
//   http $all         GET /streams/$all?from=...&count=1000, page after page until `next` is null
// Both reads decode every event's JSON data, as an application would.
//
// The official client keeps one HTTP/2 connection and multiplexes every call on it (appends go
// through its BatchAppend stream); the HTTP client opens up to C keep-alive connections. The
// client's module comes from tests/grpc/node_modules (install it with `npm ci` in tests/grpc).
//
// For each row: events/s, the server's CPU (from /proc/PID/stat, when --pid is given) and this
// process's CPU, both in % of one core. The client shares the machine's cores with the server.

import { randomUUID } from "node:crypto";
import fs from "node:fs";
import http from "node:http";
import { createRequire } from "node:module";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

const HERE = path.dirname(fileURLToPath(import.meta.url));
const REPO = path.resolve(HERE, "..");
const requireFromTests = createRequire(path.join(REPO, "tests", "grpc", "package.json"));

let kurrent;
try {
  kurrent = requireFromTests("@kurrent/kurrentdb-client");
} catch (e) {
  console.error(`bench/grpc.mjs: cannot load @kurrent/kurrentdb-client from tests/grpc/node_modules ` + `(run npm ci in tests/grpc): ${e.message}`);
  process.exit(2);
}
const { KurrentDBClient, jsonEvent, START, FORWARDS } = kurrent;

function parseArgs(argv) {
  const o = { url: "", pid: 0, events: 50_000, clients: 16, eventBytes: 1024, json: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const next = () => {
      if (i + 1 >= argv.length) throw new Error(`${a} needs a value`);
      return argv[++i];
    };
    if (a === "--url") o.url = next();
    else if (a === "--pid") o.pid = Number(next());
    else if (a === "--events") o.events = Number(next());
    else if (a === "--clients") o.clients = Number(next());
    else if (a === "--event-bytes") o.eventBytes = Number(next());
    else if (a === "--json") o.json = true;
    else throw new Error(`unknown argument ${a}`);
  }
  if (!o.url) throw new Error("--url is required");
  if (!(o.events >= 100 && o.clients >= 1 && o.eventBytes >= 16)) throw new Error("--events >= 100, --clients >= 1, --event-bytes >= 16");
  return o;
}

const opts = parseArgs(process.argv.slice(2));
const base = new URL(opts.url);
const tag = `bench-${process.pid}-${Date.now()}`;

// The JSON data of one event: {"n": i, "pad": "xxx..."} of about eventBytes bytes.
const pad = "x".repeat(Math.max(0, opts.eventBytes - 24));
const dataOf = (n) => ({ n, pad });

// ---- CPU accounting -------------------------------------------------------------------------

const HZ = 100; // USER_HZ on Linux
function serverCpuSeconds() {
  if (!opts.pid) return NaN;
  try {
    const stat = fs.readFileSync(`/proc/${opts.pid}/stat`, "utf8");
    const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(f[11]) + Number(f[12])) / HZ; // utime + stime
  } catch {
    return NaN;
  }
}
const selfCpuSeconds = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
};

async function measure(name, events, fn) {
  const s0 = serverCpuSeconds();
  const c0 = selfCpuSeconds();
  const t0 = process.hrtime.bigint();
  const done = await fn();
  const secs = Number(process.hrtime.bigint() - t0) / 1e9;
  if (done !== events) throw new Error(`${name}: expected ${events} events, got ${done}`);
  return {
    name,
    events,
    seconds: secs,
    eventsPerSec: events / secs,
    serverCpu: (100 * (serverCpuSeconds() - s0)) / secs,
    clientCpu: (100 * (selfCpuSeconds() - c0)) / secs,
  };
}

// Runs `calls` calls of `one(worker, k)` with `clients` workers, one call in flight per worker.
async function inParallel(calls, clients, one) {
  let next = 0;
  let done = 0;
  const worker = async (w) => {
    for (;;) {
      const k = next++;
      if (k >= calls) return;
      const n = await one(w, k); // not `done += await ...`: that reads `done` before waiting
      done += n;
    }
  };
  await Promise.all(Array.from({ length: Math.min(clients, calls) }, (_, w) => worker(w)));
  return done;
}

// ---- HTTP -----------------------------------------------------------------------------------

const agent = new http.Agent({ keepAlive: true, maxSockets: opts.clients });

function httpRequest(method, pathAndQuery, body) {
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        agent,
        host: base.hostname,
        port: base.port,
        method,
        path: pathAndQuery,
        headers: body ? { "content-type": "application/json", "content-length": Buffer.byteLength(body) } : {},
      },
      (res) => {
        const chunks = [];
        res.on("data", (c) => chunks.push(c));
        res.on("end", () => {
          const text = Buffer.concat(chunks).toString("utf8");
          if (res.statusCode >= 300) reject(new Error(`${method} ${pathAndQuery}: HTTP ${res.statusCode} ${text.slice(0, 200)}`));
          else resolve(text);
        });
        res.on("error", reject);
      },
    );
    req.on("error", reject);
    req.end(body);
  });
}

async function httpAppend(stream, k, perCall) {
  const events = [];
  for (let i = 0; i < perCall; i++) events.push({ eventId: randomUUID(), eventType: "bench-event", data: dataOf(k * perCall + i) });
  await httpRequest("POST", `/streams/${encodeURIComponent(stream)}`, JSON.stringify(events));
  return perCall;
}

async function httpReadAll() {
  let from = "start";
  let n = 0;
  for (;;) {
    const page = JSON.parse(await httpRequest("GET", `/streams/%24all?from=${from}&count=1000`));
    for (const ev of page.events) if (isMeasured(ev.streamId) && ev.data !== null) n++;
    if (page.next === null || page.next === undefined) return n;
    from = page.next;
  }
}

// ---- gRPC -----------------------------------------------------------------------------------

const client = KurrentDBClient.connectionString(`kurrentdb://${base.hostname}:${base.port}?tls=false`);

async function grpcAppend(stream, k, perCall) {
  const events = [];
  for (let i = 0; i < perCall; i++) events.push(jsonEvent({ type: "bench-event", data: dataOf(k * perCall + i) }));
  await client.appendToStream(stream, perCall === 1 ? events[0] : events);
  return perCall;
}

async function grpcReadAll() {
  let n = 0;
  for await (const r of client.readAll({ fromPosition: START, direction: FORWARDS, maxCount: Number.MAX_SAFE_INTEGER })) {
    if (r.event && isMeasured(r.event.streamId) && r.event.data !== undefined) n++;
  }
  return n;
}

// ---- the run --------------------------------------------------------------------------------

// One append each way first, so that neither measured row pays for connecting (the client also
// asks the server which methods it supports). The reads count only the measured rows' events.
await grpcAppend(`${tag}-warm-g`, 0, 1);
await httpAppend(`${tag}-warm-h`, 0, 1);
const isMeasured = (stream) => stream.startsWith(`${tag}-g`) || stream.startsWith(`${tag}-h`);

const rows = [];
const N = opts.events;
const C = opts.clients;
for (const perCall of [1, 100]) {
  const calls = Math.floor(N / perCall);
  const events = calls * perCall;
  rows.push(await measure(`grpc append x${perCall}`, events, () => inParallel(calls, C, (w, k) => grpcAppend(`${tag}-g${perCall}-c${w}`, k, perCall))));
  rows.push(await measure(`http append x${perCall}`, events, () => inParallel(calls, C, (w, k) => httpAppend(`${tag}-h${perCall}-c${w}`, k, perCall))));
}
const written = rows.reduce((s, r) => s + r.events, 0);
rows.push(await measure("grpc readAll", written, grpcReadAll));
rows.push(await measure("http $all", written, httpReadAll));
await client.dispose();
agent.destroy();

const ratio = (g, h) => rows.find((r) => r.name === g).eventsPerSec / rows.find((r) => r.name === h).eventsPerSec;
const ratios = [
  ["append x1", ratio("grpc append x1", "http append x1")],
  ["append x100", ratio("grpc append x100", "http append x100")],
  ["catch-up read", ratio("grpc readAll", "http $all")],
];

if (opts.json) {
  console.log(JSON.stringify({ clients: C, eventBytes: opts.eventBytes, rows, ratios: Object.fromEntries(ratios) }));
} else {
  const fmt = (v, d = 0) => (Number.isFinite(v) ? v.toFixed(d) : "NA");
  console.log(`${C} in flight, ${opts.eventBytes}-byte events; load average at the end ${os.loadavg().map((v) => v.toFixed(2)).join(" ")}`);
  console.log("");
  console.log(`${"workload".padEnd(18)}${"events".padStart(9)}${"seconds".padStart(9)}${"events/s".padStart(10)}${"server%".padStart(9)}${"client%".padStart(9)}`);
  for (const r of rows) {
    console.log(`${r.name.padEnd(18)}${String(r.events).padStart(9)}${fmt(r.seconds, 2).padStart(9)}${fmt(r.eventsPerSec).padStart(10)}${fmt(r.serverCpu).padStart(9)}${fmt(r.clientCpu).padStart(9)}`);
  }
  console.log("");
  for (const [name, v] of ratios) console.log(`gRPC/HTTP ${name.padEnd(14)} ${fmt(v, 2)}`);
}
