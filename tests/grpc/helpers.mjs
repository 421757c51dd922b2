// helpers.mjs: what the gRPC compatibility tests share.
//
// A `Server` is one `sluice serve` process on a fresh data directory and a free
// port, both kept across restarts. `start()` waits for `GET /health/ready`;
// `stop()` sends SIGTERM and waits; `kill()` sends SIGKILL; `restart()` does
// either and starts again on the same directory and port. `client()` gives an
// official KurrentDB client connected with `tls=false`; every client made this
// way is disposed of when the server is stopped for good (`close()`).
//
// Every server's output goes to a log file in its temporary directory. A server
// that prints a sanitizer report, or that does not exit with status 0 after
// SIGTERM, makes `close()` throw, so the test file that owned it fails. Every
// server still running is killed when the test process exits.
//
// The rest: small waiting and collecting utilities, a protobuf encoder and
// decoder for hand-made gRPC messages, and a raw gRPC call over Node's http2.
//
// Environment:
//   SLUICE_BIN              the binary (default: build-test/sluice of the repository)
//   SLUICE_GRPC_KEEP_DATA   keep the temporary directories (data and logs) when set
//   SLUICE_GRPC_LOG_LEVEL   passed to the servers as --log-level when set

import { spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import fs from "node:fs";
import http2 from "node:http2";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

import { KurrentDBClient } from "@kurrent/kurrentdb-client";

const HERE = path.dirname(fileURLToPath(import.meta.url));
const REPO = path.resolve(HERE, "..", "..");

export const READY_TIMEOUT_MS = 30_000; // a sanitized build on a busy machine starts slowly
export const STOP_TIMEOUT_MS = 20_000;

const SANITIZER_MARKS = [
  "ERROR: AddressSanitizer",
  "ERROR: LeakSanitizer",
  "WARNING: AddressSanitizer",
  "runtime error:",
  "ERROR: ThreadSanitizer",
  "WARNING: ThreadSanitizer",
];

const liveProcesses = new Set();
process.on("exit", () => {
  for (const child of liveProcesses) {
    try {
      child.kill("SIGKILL");
    } catch {
      // already gone
    }
  }
});

export function sluiceBin() {
  const given = process.env.SLUICE_BIN;
  const bin = given ? path.resolve(given) : path.join(REPO, "build-test", "sluice");
  try {
    fs.accessSync(bin, fs.constants.X_OK);
  } catch {
    throw new Error(`no sluice binary at ${bin}: set SLUICE_BIN to the built binary`);
  }
  return bin;
}

const portsGiven = new Set();
/** A TCP port that was free a moment ago and that this process has not handed out before. */
export async function freePort() {
  for (let i = 0; i < 50; i++) {
    const port = await new Promise((resolve, reject) => {
      const srv = net.createServer();
      srv.once("error", reject);
      srv.listen(0, "127.0.0.1", () => {
        const { port: p } = srv.address();
        srv.close(() => resolve(p));
      });
    });
    if (!portsGiven.has(port)) {
      portsGiven.add(port);
      return port;
    }
  }
  throw new Error("could not find a free port");
}

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

export class Server {
  /** extraArgs: more `sluice serve` flags, e.g. ["--max-event-bytes", "16MiB"]. */
  constructor({ extraArgs = [], name = "sluice" } = {}) {
    this.extraArgs = extraArgs;
    this.dir = fs.mkdtempSync(path.join(os.tmpdir(), `sluice-grpc-${name}-`));
    this.dataDir = path.join(this.dir, "data");
    this.logPath = path.join(this.dir, "server.log");
    this.port = undefined;
    this.child = undefined;
    this.exit = undefined; // {code, signal} of the last exit
    this.uncleanExits = [];
    this.clients = [];
  }

  get baseUrl() {
    return `http://127.0.0.1:${this.port}`;
  }

  get connectionString() {
    return `kurrentdb://127.0.0.1:${this.port}?tls=false`;
  }

  command() {
    const args = ["serve", "--data-dir", this.dataDir, "--listen", `127.0.0.1:${this.port}`];
    if (process.env.SLUICE_GRPC_LOG_LEVEL) args.push("--log-level", process.env.SLUICE_GRPC_LOG_LEVEL);
    return [sluiceBin(), [...args, ...this.extraArgs]];
  }

  /** Starts the process and waits until /health/ready answers 200. */
  async start() {
    if (this.isRunning()) throw new Error("server already running");
    const firstStart = this.port === undefined;
    for (let attempt = 0; attempt < (firstStart ? 3 : 1); attempt++) {
      if (firstStart) this.port = await freePort();
      this.spawn();
      try {
        await this.waitReady();
        return this;
      } catch (err) {
        if (firstStart && attempt < 2 && /in use/i.test(this.logTail(20))) continue;
        throw err;
      }
    }
    return this;
  }

  spawn() {
    const [bin, args] = this.command();
    fs.appendFileSync(this.logPath, `\n=== ${bin} ${args.join(" ")}\n`);
    const fd = fs.openSync(this.logPath, "a");
    const child = spawn(bin, args, { stdio: ["ignore", fd, fd] });
    fs.closeSync(fd);
    this.child = child;
    this.exit = undefined;
    liveProcesses.add(child);
    child.exitPromise = new Promise((resolve) => {
      child.once("exit", (code, signal) => {
        liveProcesses.delete(child);
        if (this.child === child) this.exit = { code, signal };
        resolve({ code, signal });
      });
    });
  }

  isRunning() {
    return this.child !== undefined && this.exit === undefined;
  }

  async waitReady(timeoutMs = READY_TIMEOUT_MS) {
    const deadline = Date.now() + timeoutMs;
    let last = "";
    while (Date.now() < deadline) {
      if (!this.isRunning()) {
        throw new Error(`sluice exited (${JSON.stringify(this.exit)}) while starting:\n${this.logTail(40)}`);
      }
      try {
        const res = await fetch(`${this.baseUrl}/health/ready`, { signal: AbortSignal.timeout(1000) });
        last = `${res.status} ${(await res.text()).slice(0, 200)}`;
        if (res.status === 200) return;
      } catch (err) {
        last = String(err);
      }
      await sleep(25);
    }
    await this.kill();
    throw new Error(`sluice not ready within ${timeoutMs} ms (last: ${last}):\n${this.logTail(40)}`);
  }

  /** SIGTERM, then waits; SIGKILL (recorded as an unclean exit) after STOP_TIMEOUT_MS. */
  async stop() {
    if (!this.isRunning()) return this.exit;
    const child = this.child;
    child.kill("SIGTERM");
    let timer;
    const timeout = new Promise((resolve) => {
      timer = setTimeout(() => resolve("timeout"), STOP_TIMEOUT_MS);
    });
    const outcome = await Promise.race([child.exitPromise, timeout]);
    clearTimeout(timer);
    if (outcome === "timeout") {
      child.kill("SIGKILL");
      await child.exitPromise;
      this.uncleanExits.push(`did not exit within ${STOP_TIMEOUT_MS} ms of SIGTERM (killed)`);
    } else if (outcome.code !== 0) {
      this.uncleanExits.push(`exited with ${JSON.stringify(outcome)} after SIGTERM`);
    }
    return this.exit;
  }

  /** kill -9, and waits until the process is gone. */
  async kill() {
    if (!this.isRunning()) return;
    this.child.kill("SIGKILL");
    await this.child.exitPromise;
  }

  /** Stops (SIGTERM, or SIGKILL when `hard`) and starts again on the same data directory and port. */
  async restart({ hard = false } = {}) {
    if (hard) await this.kill();
    else await this.stop();
    return this.start();
  }

  /** An official client on this server; disposed of by close(). */
  client(query = "") {
    const c = KurrentDBClient.connectionString(`${this.connectionString}${query}`);
    this.clients.push(c);
    return c;
  }

  logText() {
    try {
      return fs.readFileSync(this.logPath, "utf8");
    } catch {
      return "";
    }
  }

  logTail(lines = 40) {
    return this.logText().split("\n").slice(-lines).join("\n");
  }

  /** The sanitizer report lines in the log, if any. */
  sanitizerReports() {
    return this.logText()
      .split("\n")
      .filter((line) => SANITIZER_MARKS.some((m) => line.includes(m)));
  }

  /** Disposes of the clients, stops the server, removes its directory, and throws if it misbehaved. */
  async close() {
    await Promise.allSettled(this.clients.map((c) => withTimeout(c.dispose(), 5000, "client dispose")));
    this.clients = [];
    await this.stop();
    const problems = [...this.uncleanExits];
    const reports = this.sanitizerReports();
    if (reports.length) problems.push(`sanitizer report: ${reports.slice(0, 5).join(" | ")}`);
    if (problems.length) {
      throw new Error(`server ${this.logPath}: ${problems.join("; ")}\n--- log tail ---\n${this.logTail(80)}`);
    }
    if (!process.env.SLUICE_GRPC_KEEP_DATA) fs.rmSync(this.dir, { recursive: true, force: true });
  }

  // -- the HTTP API, for health checks and interoperability --

  /** One HTTP/1.1 request; returns {status, headers, text, json}. */
  async http(method, urlPath, { body, headers = {}, timeoutMs = 10_000 } = {}) {
    const init = { method, headers: { ...headers }, signal: AbortSignal.timeout(timeoutMs) };
    if (body !== undefined) {
      init.body = typeof body === "string" || body instanceof Uint8Array ? body : JSON.stringify(body);
      if (!Object.keys(init.headers).some((h) => h.toLowerCase() === "content-type")) {
        init.headers["content-type"] = "application/json";
      }
    }
    const res = await fetch(`${this.baseUrl}${urlPath}`, init);
    const text = await res.text();
    let json;
    try {
      json = text ? JSON.parse(text) : undefined;
    } catch {
      json = undefined;
    }
    return { status: res.status, headers: res.headers, text, json };
  }

  /** Throws unless GET /health/ready answers 200. */
  async assertHealthy() {
    const res = await this.http("GET", "/health/ready", { timeoutMs: 5000 });
    if (res.status !== 200) throw new Error(`GET /health/ready answered ${res.status} ${res.text}`);
  }
}

/** Starts a server and returns it. */
export async function startServer(opts) {
  const server = new Server(opts);
  try {
    await server.start();
  } catch (err) {
    if (!process.env.SLUICE_GRPC_KEEP_DATA) fs.rmSync(server.dir, { recursive: true, force: true });
    throw err;
  }
  return server;
}

/** `/streams/{name}` with the name percent-encoded. */
export const streamPath = (name) => `/streams/${encodeURIComponent(name)}`;

/** A stream name nobody else uses. */
export const uniqueStream = (prefix = "s") => `${prefix}-${randomUUID()}`;

/** Rejects with a message naming `what` if `promise` is not settled within `ms`. */
export function withTimeout(promise, ms, what = "operation") {
  let timer;
  return Promise.race([
    promise,
    new Promise((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what} did not finish within ${ms} ms`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

/** Polls `predicate` (sync or async) until it is truthy; throws after `ms`. */
export async function waitFor(predicate, ms, what = "condition", intervalMs = 20) {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await predicate();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await sleep(intervalMs);
  }
}

/** Every item of an async iterable, as an array. */
export async function collect(iterable, ms = 30_000, what = "read") {
  const run = async () => {
    const out = [];
    for await (const item of iterable) out.push(item);
    return out;
  };
  return withTimeout(run(), ms, what);
}

/** Runs `fn` until it resolves, for at most `ms`; returns {value, attempts, errors}. */
export async function retryUntil(fn, ms, what = "operation", intervalMs = 200) {
  const deadline = Date.now() + ms;
  const errors = [];
  for (let attempts = 1; ; attempts++) {
    try {
      const value = await withTimeout(fn(), Math.max(1000, deadline - Date.now()), what);
      return { value, attempts, errors };
    } catch (err) {
      errors.push(err);
      if (Date.now() > deadline) {
        const seen = errors.slice(-3).map((e) => `${e?.constructor?.name}: ${e?.message}`).join(" | ");
        throw new Error(`${what} kept failing for ${ms} ms (${attempts} attempts; last: ${seen})`);
      }
      await sleep(intervalMs);
    }
  }
}

/**
 * Listens to a subscription and records what it emits: `events` (what `keep`
 * makes of each resolved event, in order), `caughtUp` and `fellBehind` (the
 * infos), `confirmations`, `errors`, `ended`, `closed`. Checkpoints come
 * through the filter's own checkpointReached callback.
 */
export class SubscriptionLog {
  constructor(subscription, { keep = (e) => e } = {}) {
    this.subscription = subscription;
    this.events = [];
    this.caughtUp = [];
    this.fellBehind = [];
    this.confirmations = 0;
    this.errors = [];
    this.ended = false;
    this.closed = false;
    subscription.on("data", (e) => this.events.push(keep(e)));
    subscription.on("caughtUp", (info) => this.caughtUp.push(info));
    subscription.on("fellBehind", (info) => this.fellBehind.push(info));
    subscription.on("confirmation", () => this.confirmations++);
    subscription.on("error", (err) => this.errors.push(err));
    subscription.on("end", () => (this.ended = true));
    subscription.on("close", () => (this.closed = true));
  }

  waitForEvents(n, ms, what = `${n} events`) {
    return waitFor(() => {
      if (this.errors.length) throw this.errors[0];
      return this.events.length >= n;
    }, ms, what);
  }

  waitForCaughtUp(ms = 10_000) {
    return waitFor(() => {
      if (this.errors.length) throw this.errors[0];
      return this.caughtUp.length > 0;
    }, ms, "caughtUp");
  }

  async stop() {
    try {
      await withTimeout(this.subscription.unsubscribe(), 5000, "unsubscribe");
    } catch {
      // the server may already be gone
    }
  }
}

/** The error a promise rejects with; fails if it resolves. */
export async function rejectionOf(promise, what = "operation") {
  try {
    const value = await promise;
    throw Object.assign(new Error(`${what} succeeded (${inspectShort(value)}) but an error was expected`), {
      unexpectedSuccess: true,
    });
  } catch (err) {
    if (err?.unexpectedSuccess) throw err;
    return err;
  }
}

function inspectShort(value) {
  try {
    return JSON.stringify(value, (_, v) => (typeof v === "bigint" ? `${v}n` : v)).slice(0, 200);
  } catch {
    return String(value);
  }
}

/**
 * Runs `code` (an ES module that may import the client) in a separate Node
 * process, so that an exception the client throws outside any promise cannot
 * take the test process down. Resolves with {status, signal, stdout, stderr}.
 */
export function runIsolated(code, { env = {}, timeoutMs = 30_000 } = {}) {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ["--input-type=module", "-e", code], {
      cwd: HERE,
      env: { ...process.env, ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    liveProcesses.add(child);
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    child.on("exit", (status, signal) => {
      clearTimeout(timer);
      liveProcesses.delete(child);
      resolve({ status, signal, stdout, stderr });
    });
  });
}

/** Reads a whole stream through the client's readStream; [] when it does not exist. */
export async function readAllOf(client, stream, options = {}) {
  return collect(client.readStream(stream, options), 60_000, `readStream ${stream}`);
}

export const bytesEqual = (a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)) === 0;

// ---------------------------------------------------------------------------
// Protobuf, by hand: enough to build requests field by field (including wrong
// ones) and to take answers apart without the client's generated code.

function varintBytes(value) {
  let v = BigInt.asUintN(64, BigInt(value));
  const out = [];
  do {
    let byte = Number(v & 0x7fn);
    v >>= 7n;
    if (v) byte |= 0x80;
    out.push(byte);
  } while (v);
  return Buffer.from(out);
}

const tagBytes = (no, wireType) => varintBytes((BigInt(no) << 3n) | BigInt(wireType));

export const pb = {
  varint: varintBytes,
  tag: tagBytes,
  /** A varint field (uint64, bool, enum). */
  uint: (no, value) => Buffer.concat([tagBytes(no, 0), varintBytes(value)]),
  /** A length-delimited field holding raw bytes. */
  bytes: (no, buf) => Buffer.concat([tagBytes(no, 2), varintBytes(buf.length), Buffer.from(buf)]),
  str: (no, s) => pb.bytes(no, Buffer.from(s, "utf8")),
  /** A sub-message made of the concatenated parts. */
  msg: (no, ...parts) => pb.bytes(no, Buffer.concat(parts)),
  /** An empty sub-message: tag + length 0, as a chosen empty oneof member. */
  empty: (no) => pb.bytes(no, Buffer.alloc(0)),
  fixed32: (no, value) => {
    const b = Buffer.alloc(4);
    b.writeUInt32LE(value >>> 0);
    return Buffer.concat([tagBytes(no, 5), b]);
  },
  fixed64: (no, value) => {
    const b = Buffer.alloc(8);
    b.writeBigUInt64LE(BigInt.asUintN(64, BigInt(value)));
    return Buffer.concat([tagBytes(no, 1), b]);
  },
  /** A map<string,string> entry as field `no`. */
  mapEntry: (no, key, value) => pb.msg(no, pb.str(1, key), pb.str(2, value)),

  /** Decodes one message into [{no, wireType, value}] (value: BigInt for varints, Buffer otherwise). */
  decode(buf) {
    const fields = [];
    let i = 0;
    const readVarint = () => {
      let result = 0n;
      let shift = 0n;
      for (;;) {
        if (i >= buf.length) throw new Error("truncated varint");
        const byte = buf[i++];
        result |= BigInt(byte & 0x7f) << shift;
        if (!(byte & 0x80)) return result;
        shift += 7n;
        if (shift > 63n) throw new Error("varint too long");
      }
    };
    while (i < buf.length) {
      const key = readVarint();
      const no = Number(key >> 3n);
      const wireType = Number(key & 7n);
      let value;
      if (wireType === 0) value = readVarint();
      else if (wireType === 1) {
        value = buf.subarray(i, i + 8);
        i += 8;
      } else if (wireType === 2) {
        const len = Number(readVarint());
        if (i + len > buf.length) throw new Error("truncated length-delimited field");
        value = buf.subarray(i, i + len);
        i += len;
      } else if (wireType === 5) {
        value = buf.subarray(i, i + 4);
        i += 4;
      } else throw new Error(`unsupported wire type ${wireType}`);
      fields.push({ no, wireType, value });
    }
    return fields;
  },

  /** The first field numbered `no` of a decoded message, or undefined. */
  field: (fields, no) => fields.find((f) => f.no === no),
};

/** Request messages of the Streams service, built by hand. */
export const req = {
  streamIdentifier: (no, nameBytes) => pb.msg(no, pb.bytes(3, Buffer.from(nameBytes))),

  /** ReadReq for a stream read of `count` events from the start, forwards. */
  readStream(name, { count = 10, uuidOption = true, extra = Buffer.alloc(0), optionsExtra = Buffer.alloc(0) } = {}) {
    return Buffer.concat([
      pb.msg(
        1,
        pb.msg(1, req.streamIdentifier(1, typeof name === "string" ? Buffer.from(name) : name), pb.empty(3)),
        pb.uint(5, count),
        pb.empty(8),
        uuidOption ? pb.msg(9, pb.empty(2)) : Buffer.alloc(0),
        optionsExtra,
      ),
      extra,
    ]);
  },

  /** AppendReq carrying the options (expected revision `any`). */
  appendOptions(name, { extra = Buffer.alloc(0), optionsExtra = Buffer.alloc(0) } = {}) {
    return Buffer.concat([
      pb.msg(1, req.streamIdentifier(1, typeof name === "string" ? Buffer.from(name) : name), pb.empty(4), optionsExtra),
      extra,
    ]);
  },

  /** AppendReq carrying one JSON event. */
  appendEvent({ id = randomUUID(), type = "raw", data = "{}", extra = Buffer.alloc(0), eventExtra = Buffer.alloc(0) } = {}) {
    return Buffer.concat([
      pb.msg(
        2,
        pb.msg(1, pb.str(2, id)),
        pb.mapEntry(2, "type", type),
        pb.mapEntry(2, "content-type", "application/json"),
        pb.bytes(4, Buffer.from(data)),
        eventExtra,
      ),
      extra,
    ]);
  },
};

/** One gRPC length-prefixed message (compressed flag and length may be forced). */
export function grpcFrame(msg, { compressed = 0, length } = {}) {
  const head = Buffer.alloc(5);
  head[0] = compressed;
  head.writeUInt32BE(length === undefined ? msg.length : length >>> 0, 1);
  return Buffer.concat([head, msg]);
}

/** Splits a response body into its gRPC messages; `rest` holds an incomplete tail. */
export function grpcMessages(body) {
  const messages = [];
  let i = 0;
  while (i + 5 <= body.length) {
    const len = body.readUInt32BE(i + 1);
    if (i + 5 + len > body.length) break;
    messages.push(body.subarray(i + 5, i + 5 + len));
    i += 5 + len;
  }
  return { messages, rest: body.subarray(i) };
}

export const STREAMS = "/event_store.client.streams.Streams";

/**
 * One gRPC call over Node's http2 on `session` (or a new session to `port`).
 * `chunks` are written in order; the request ends after them unless `end` is
 * false. Resolves with {httpStatus, headers, trailers, body, grpcStatus,
 * grpcMessage, rstCode, sessionError, timedOut} when the stream closes or
 * after `timeoutMs` (then `timedOut` is true and the stream is reset).
 * `cancelAfterData` resets the stream (CANCEL) as soon as response data arrives.
 */
export function rawGrpcCall({ port, session, path: callPath, chunks = [], end = true, headers = {}, timeoutMs = 10_000, cancelAfterData = false }) {
  const own = !session;
  const s = session ?? http2.connect(`http://127.0.0.1:${port}`);
  return new Promise((resolve) => {
    const result = {
      httpStatus: undefined,
      headers: undefined,
      trailers: undefined,
      body: Buffer.alloc(0),
      grpcStatus: undefined,
      grpcMessage: undefined,
      rstCode: undefined,
      sessionError: undefined,
      streamError: undefined,
      timedOut: false,
    };
    const parts = [];
    let done = false;
    const finish = () => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      result.body = Buffer.concat(parts);
      const from = result.trailers ?? result.headers ?? {};
      if (from["grpc-status"] !== undefined) result.grpcStatus = Number(from["grpc-status"]);
      else if (result.headers?.["grpc-status"] !== undefined) result.grpcStatus = Number(result.headers["grpc-status"]);
      result.grpcMessage = from["grpc-message"] ?? result.headers?.["grpc-message"];
      if (own) s.destroy();
      resolve(result);
    };
    s.on("error", (err) => {
      result.sessionError = err;
      finish();
    });
    let stream;
    try {
      stream = s.request({
        ":method": "POST",
        ":path": callPath,
        "content-type": "application/grpc",
        te: "trailers",
        ...headers,
      });
    } catch (err) {
      result.sessionError = err;
      finish();
      return;
    }
    const timer = setTimeout(() => {
      result.timedOut = true;
      try {
        stream.close(http2.constants.NGHTTP2_CANCEL);
      } catch {
        // closed already
      }
      finish();
    }, timeoutMs);
    stream.on("response", (h) => {
      result.httpStatus = Number(h[":status"]);
      result.headers = h;
    });
    stream.on("trailers", (t) => (result.trailers = t));
    stream.on("data", (d) => {
      parts.push(d);
      if (cancelAfterData && !stream.closed) stream.close(http2.constants.NGHTTP2_CANCEL);
    });
    stream.on("error", (err) => (result.streamError = err));
    stream.on("close", () => {
      result.rstCode = stream.rstCode;
      finish();
    });
    for (const c of chunks) stream.write(c);
    if (end) stream.end();
  });
}

/** A call "failed" from the client's point of view: a non-OK grpc-status, a reset or a dead connection. */
export function callFailed(r) {
  if (r.grpcStatus !== undefined) return r.grpcStatus !== 0;
  return r.rstCode !== undefined && r.rstCode !== 0 ? true : Boolean(r.sessionError || r.streamError || r.httpStatus !== 200);
}

/** A short description of a raw call's outcome, for assertion messages. */
export function describeCall(r) {
  return JSON.stringify({
    httpStatus: r.httpStatus,
    grpcStatus: r.grpcStatus,
    grpcMessage: r.grpcMessage,
    rstCode: r.rstCode,
    sessionError: r.sessionError ? String(r.sessionError) : undefined,
    streamError: r.streamError ? String(r.streamError) : undefined,
    timedOut: r.timedOut,
    bodyBytes: r.body.length,
  });
}
