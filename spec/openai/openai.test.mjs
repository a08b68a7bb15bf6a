// The official OpenAI client (openai, from npm) against RunPod's OpenAI
// routes: through the local API server (runpod-worker --rp_serve_api) and
// through bin/runpod-emulator with a serverless worker attached. The worker
// runs handlers/vllm.lua; its `vllm` is a stand-in on PATH that serves
// build/spec/fake_inference (an OpenAI-compatible server streaming one
// token every FAKE_TOKEN_MS ms) on the port it is given.
// Run: node --test spec/openai/   (after `make openai-deps` and `make`)
import { describe, test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { once } from "node:events";
import { createInterface } from "node:readline";
import { mkdtempSync, writeFileSync, chmodSync, rmSync } from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import OpenAI from "openai";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const WORKER = process.env.RUNPOD_WORKER_BIN || path.join(root, "bin/runpod-worker");
const EMULATOR = process.env.RUNPOD_EMULATOR_BIN || path.join(root, "bin/runpod-emulator");
const FAKE = path.join(root, process.env.RP_BUILD || "build", "spec/fake_inference");
const KEY = "openai-key";
const MODEL = "fake-model";

// A folder holding an executable `vllm` that runs the fake server.
function fakeVllm() {
  const dir = mkdtempSync(path.join(os.tmpdir(), "rp-openai-"));
  writeFileSync(path.join(dir, "vllm"), `#!/bin/sh
port=8000
while [ $# -gt 0 ]; do [ "$1" = --port ] && port=$2; shift; done
exec '${FAKE}' "$port"
`);
  chmodSync(path.join(dir, "vllm"), 0o755);
  return dir;
}

async function freePort() {
  const srv = net.createServer();
  srv.listen(0, "127.0.0.1");
  await once(srv, "listening");
  const { port } = srv.address();
  srv.close();
  await once(srv, "close");
  return port;
}

function env(extra) {
  const e = { ...process.env, ...extra };
  delete e.LD_PRELOAD;
  for (const k of Object.keys(e)) {
    if (k.startsWith("RUNPOD_") && !(k in extra)) delete e[k];
  }
  return e;
}

// Polls fn until it returns a truthy value: at most `seconds`.
async function eventually(seconds, fn) {
  const deadline = Date.now() + seconds * 1000;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
    } catch {
      // not yet
    }
    if (Date.now() > deadline) throw new Error(`not within ${seconds} s`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function stop(child) {
  if (!child || child.exitCode !== null) return;
  child.kill("SIGTERM");
  const timer = setTimeout(() => child.kill("SIGKILL"), 15000);
  await once(child, "exit");
  clearTimeout(timer);
}

// The local API server: runpod-worker --rp_serve_api.
async function startApi() {
  const dir = fakeVllm();
  const port = await freePort();
  const vport = await freePort();
  const worker = spawn(WORKER, ["handlers/vllm.lua", "--rp_serve_api", "--rp_api_port",
    String(port), "--rp_api_concurrency", "30"], { cwd: root, stdio: ["ignore", "inherit", "inherit"],
    env: env({ PATH: `${dir}:${process.env.PATH}`, VLLM_PORT: String(vport),
      MODEL_NAME: "m", FAKE_TOKEN_MS: "50" }) });
  const baseURL = `http://127.0.0.1:${port}/openai/v1`;
  await eventually(30, async () => (await fetch(`${baseURL}/models`)).status === 200);
  return { procs: [worker], dir, baseURL, apiKey: "unused", fake: `http://127.0.0.1:${vport}`,
    maxBody: 20 << 20 };
}

// The emulator, with a serverless worker attached.
async function startEmulator() {
  const dir = fakeVllm();
  const vport = await freePort();
  const emu = spawn(EMULATOR, ["--port", "0", "--endpoint", "ep", "--api-key", KEY,
    "--max-body", String(1 << 20)],
    { env: env({}), stdio: ["ignore", "pipe", "inherit"] });
  const rl = createInterface({ input: emu.stdout });
  const vars = {};
  let url;
  for await (const line of rl) {
    const m = /listening on (http:\/\/[\d.:]+)/.exec(line);
    if (m) url = m[1];
    const v = /^export (\w+)='([^']*)'/.exec(line);
    if (v) vars[v[1]] = v[2];
    if (line.includes("RUNPOD_PING_INTERVAL")) break;
  }
  emu.stdout.resume();
  assert.ok(url, "the emulator printed no URL");
  const worker = spawn(WORKER, ["handlers/vllm.lua"], { cwd: root,
    stdio: ["ignore", "inherit", "inherit"],
    env: env({ ...vars, RUNPOD_POD_ID: "openai-worker", RUNPOD_SKIP_AUTO_SYSTEM_CHECKS: "true",
      PATH: `${dir}:${process.env.PATH}`, VLLM_PORT: String(vport), MODEL_NAME: "m",
      FAKE_TOKEN_MS: "50" }) });
  return { procs: [worker, emu], dir, baseURL: `${url}/v2/ep/openai/v1`, apiKey: KEY,
    fake: `http://127.0.0.1:${vport}`, maxBody: 1 << 20 };
}

const words = (n) => Array.from({ length: n }, (_, i) => `w${i}`).join(" ");

for (const [name, start] of [["the local API server", startApi],
  ["the emulator with a worker", startEmulator]]) {
  describe(`openai client through ${name}`, () => {
    let target;
    let client;

    before(async () => {
      target = await start();
      client = new OpenAI({ apiKey: target.apiKey, baseURL: target.baseURL, maxRetries: 0,
        timeout: 60000 });
    });

    after(async () => {
      for (const p of target?.procs ?? []) await stop(p);
      if (target) rmSync(target.dir, { recursive: true, force: true });
    });

    test("chat completion", async () => {
      const r = await client.chat.completions.create({ model: MODEL,
        messages: [{ role: "user", content: "one two three" }] });
      assert.equal(r.object, "chat.completion");
      assert.equal(r.choices[0].message.content, "3 words");
      assert.equal(r.model, MODEL);
    });

    // The streamed deltas of a chat completion of the message content.
    const deltas = async (content) => {
      const stream = await client.chat.completions.create({ model: MODEL, stream: true,
        messages: [{ role: "user", content }] });
      const got = [];
      for await (const chunk of stream) got.push(chunk.choices[0].delta.content);
      return got;
    };

    test("chat completion, streamed", async () => {
      assert.deepEqual(await deltas("alpha beta gamma"), ["alpha", "beta", "gamma"]);
    });

    // SPLIT's event is written in two pieces 1.5 s apart, cut inside an
    // emoji: the server's keep-alive (after 1 s) must not land inside the
    // event, nor the cut make the emoji U+FFFD.
    test("an event the backend writes in two pieces arrives whole", async () => {
      assert.deepEqual(await deltas("alpha SPLIT gamma"), ["alpha", "\u00fc\u{1F600}", "gamma"]);
    });

    // Bodies the worker could not decode, or that are not an object, are
    // refused up front (400) rather than failing the job once queued.
    test("a body the worker could not decode is a 400 invalid_request_error", async () => {
      for (const [body, want] of [['{"model":"m","prompt":"a","temperature":1e400}',
        /number out of range/], ['{"model":"m","prompt":"\\ud800"}', /surrogate/],
      ["[1,2]", /an object/]]) {
        const r = await fetch(`${target.baseURL}/completions`, { method: "POST", body,
          headers: { "Content-Type": "application/json",
            Authorization: `Bearer ${target.apiKey}` } });
        assert.equal(r.status, 400, body);
        const e = (await r.json()).error;
        assert.equal(e.type, "invalid_request_error");
        assert.match(e.message, want);
      }
    });

    // Each error of the routes themselves reaches the client as the
    // APIError of its status, with OpenAI's message, type and code.
    const refused = (promise, Class, status, message, code = null) =>
      assert.rejects(promise, (e) => {
        assert.equal(e.constructor, Class, String(e));
        assert.equal(e.status, status);
        assert.equal(e.message, `${status} ${message}`);
        assert.equal(e.type, "invalid_request_error");
        assert.equal(e.code, code);
        return true;
      });

    // A Python worker (worker-vllm) would drop such a job, and the
    // request would wait for good.
    test("a body that is not UTF-8 is a BadRequestError", async () => {
      const body = Buffer.concat([Buffer.from('{"model":"m","prompt":"caf'), Buffer.from([0xe9]),
        Buffer.from('"}')]);
      await refused(client.post("/completions", { body, timeout: 10000,
        headers: { "Content-Type": "application/json" } }), OpenAI.BadRequestError, 400,
      "invalid JSON body (invalid UTF-8 at byte 26)");
    });

    test("a body over the cap is an APIError 413", async () => {
      await refused(client.chat.completions.create({ model: MODEL,
        messages: [{ role: "user", content: "x".repeat(target.maxBody) }] }), OpenAI.APIError,
      413, "request body too large");
    });

    test("a path or method the routes do not serve is a NotFoundError", async () => {
      const prefix = new URL(target.baseURL).pathname.replace(/\/v1$/, "");
      await refused(client.models.delete(MODEL), OpenAI.NotFoundError, 404,
        `Invalid URL (DELETE ${prefix}/v1/models/${MODEL})`);
      const v2 = new OpenAI({ apiKey: target.apiKey, baseURL: target.baseURL.replace(/v1$/, "v2"),
        maxRetries: 0, timeout: 10000 });
      await refused(v2.models.list(), OpenAI.NotFoundError, 404,
        `Invalid URL (GET ${prefix}/v2/models)`);
    });

    // The local API server takes no key.
    if (start === startEmulator) {
      test("a wrong API key is an AuthenticationError", async () => {
        const wrong = new OpenAI({ apiKey: "wrong", baseURL: target.baseURL, maxRetries: 0,
          timeout: 10000 });
        await refused(wrong.models.list(), OpenAI.AuthenticationError, 401, "unauthorized",
          "invalid_api_key");
      });
    }

    test("completion, without a model (the worker fills it in)", async () => {
      const r = await client.completions.create({ prompt: "x y z w" });
      assert.equal(r.choices[0].text, "4 words");
      assert.equal(r.model, MODEL);
    });

    test("models.list()", async () => {
      const ids = [];
      for await (const m of client.models.list()) ids.push(m.id);
      assert.deepEqual(ids, [MODEL]);
    });

    test("an error from the backend is an APIError with its status", async () => {
      await assert.rejects(client.chat.completions.create({ model: "missing",
        messages: [{ role: "user", content: "x" }] }), (e) => {
        assert.ok(e instanceof OpenAI.NotFoundError, String(e));
        assert.equal(e.status, 404);
        assert.match(e.message, /does not exist/);
        return true;
      });
    });

    // The aborted job's backend request must end while another job of the
    // same VM still streams (so not because the VM is rebuilt).
    test("an aborted stream cancels the job and its backend request", async () => {
      const aborted = async () => Number(await (await fetch(`${target.fake}/aborted`)).text());
      const before = await aborted();
      const other = await client.chat.completions.create({ model: MODEL, stream: true,
        messages: [{ role: "user", content: words(60) }] });
      const rest = other[Symbol.asyncIterator]();
      assert.equal((await rest.next()).value.choices[0].delta.content, "w0");
      const stream = await client.chat.completions.create({ model: MODEL, stream: true,
        messages: [{ role: "user", content: words(60) }] });
      let n = 0;
      for await (const chunk of stream) {
        assert.equal(chunk.choices[0].delta.content, `w${n}`);
        if (++n === 2) break;            // aborts the request
      }
      let seen = false;
      let more = 0;
      for (;;) {
        const r = await rest.next();
        if (r.done) break;
        assert.equal(r.value.choices[0].delta.content, `w${++more}`);
        if (!seen) seen = (await aborted()) > before;
      }
      assert.equal(more, 59);
      assert.ok(seen, "the aborted job's backend request ran on while another job streamed");
    });
  });
}
