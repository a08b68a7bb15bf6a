// RunPod's own JS SDK (runpod-sdk, from npm) against bin/runpod-emulator.
// The test plays the worker itself through the worker routes with fetch().
// Run: node --test spec/sdk/   (after `make sdk-deps` and `make`)
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { once } from "node:events";
import { createInterface } from "node:readline";
import path from "node:path";
import { fileURLToPath } from "node:url";
import runpodSdk from "runpod-sdk";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const BIN = process.env.RUNPOD_EMULATOR_BIN || path.join(root, "bin/runpod-emulator");
const KEY = "sdk-key";
let emu;
let base;
let endpoint;

before(async () => {
  const env = { ...process.env };
  delete env.LD_PRELOAD;
  emu = spawn(BIN, ["--port", "0", "--api-key", KEY, "--take-hold-ms", "200",
    "--stream-hold-ms", "300"], { env, stdio: ["ignore", "pipe", "inherit"] });
  const rl = createInterface({ input: emu.stdout });
  const [line] = await once(rl, "line");
  const m = /^listening on (http:\/\/127\.0\.0\.1:\d+)$/.exec(line);
  assert.ok(m, `unexpected first line: ${line}`);
  base = m[1];
  endpoint = runpodSdk(KEY, { baseUrl: `${base}/v2` }).endpoint("emulator");
});

after(async () => {
  emu.kill("SIGTERM");
  const [code] = await once(emu, "exit");
  assert.equal(code, 0);
});

// The worker side, as docs/emulator.md, "Worker API" describes it.
const workerHeaders = { Authorization: KEY };

async function take(worker = "sdk-worker") {
  const deadline = Date.now() + 10000;
  while (Date.now() < deadline) {
    const r = await fetch(`${base}/v2/emulator/job-take/${worker}?gpu=emulator&job_in_progress=0`,
      { headers: workerHeaders });
    if (r.status === 200) return r.json();
    assert.equal(r.status, 204);
  }
  throw new Error("no job within 10 s");
}

async function post(kind, id, body, query = "") {
  const r = await fetch(`${base}/v2/emulator/${kind}/sdk-worker/${id}?gpu=emulator${query}`, {
    method: "POST",
    headers: { ...workerHeaders, "Content-Type": "application/x-www-form-urlencoded",
      "X-Request-ID": id },
    body: JSON.stringify(body),
  });
  assert.equal(r.status, 200);
}

const done = (id, body) => post("job-done", id, body, "&isStream=false");

test("run, then status polling until COMPLETED", async () => {
  const run = await endpoint.run({ input: { prompt: "hi" } });
  assert.equal(run.status, "IN_QUEUE");
  const job = await take();
  assert.equal(job.id, run.id);
  assert.deepEqual(job.input, { prompt: "hi" });
  let st = await endpoint.status(run.id);
  assert.equal(st.status, "IN_PROGRESS");
  assert.equal(st.completed, false);
  await done(run.id, { output: { text: "hello" } });
  st = await endpoint.status(run.id);
  assert.equal(st.status, "COMPLETED");
  assert.equal(st.succeeded, true);
  assert.deepEqual(st.output, { text: "hello" });
  assert.equal(typeof st.delayTime, "number");
  assert.equal(typeof st.executionTime, "number");
});

test("runSync returns once the worker finishes (runsync + status-sync)", async () => {
  const worker = (async () => {
    const job = await take();
    await new Promise((r) => setTimeout(r, 1500)); // outlast runsync's wait=1000
    await done(job.id, { output: job.input.n * 2 });
  })();
  const res = await endpoint.runSync({ input: { n: 21 } }, 1000);
  await worker;
  assert.equal(res.status, "COMPLETED");
  assert.equal(res.output, 42);
  assert.equal(res.completed, true);
});

test("runSync reports a failed job", async () => {
  const worker = (async () => {
    const job = await take();
    await done(job.id, { error: "boom" });
  })();
  const res = await endpoint.runSync({ input: 1 }, 5000);
  await worker;
  assert.equal(res.status, "FAILED");
  assert.equal(res.succeeded, false);
  assert.equal(res.error, "boom");
});

test("stream yields every partial in order", async () => {
  const run = await endpoint.run({ input: "stream" });
  const worker = (async () => {
    const job = await take();
    for (const part of ["a", "b", "c"]) {
      await post("job-stream", job.id, { output: part });
      await new Promise((r) => setTimeout(r, 50));
    }
    await post("job-done", job.id, { output: [] }, "&isStream=true");
  })();
  const got = [];
  for await (const chunk of endpoint.stream(run.id, 10000)) got.push(chunk.output);
  await worker;
  assert.deepEqual(got, ["a", "b", "c"]);
});

test("cancel stops a running job through job-stop", async () => {
  const run = await endpoint.run({ input: 1 });
  const job = await take();
  const res = await endpoint.cancel(job.id);
  assert.deepEqual(res, { id: run.id, status: "CANCELLED" });
  const r = await fetch(`${base}/v2/emulator/job-stop/sdk-worker?gpu=emulator`,
    { headers: workerHeaders });
  assert.equal(r.status, 200);
  assert.deepEqual(await r.json(), { jobsToStop: [run.id] });
  const st = await endpoint.status(run.id);
  assert.equal(st.status, "CANCELLED");
  assert.equal(st.completed, true);
});

test("health and purgeQueue", async () => {
  await endpoint.run({ input: 1 });
  await endpoint.run({ input: 2 });
  let h = await endpoint.health();
  assert.equal(h.jobs.inQueue, 2);
  assert.equal(typeof h.workers.idle, "number");
  const p = await endpoint.purgeQueue();
  assert.deepEqual(p, { removed: 2, status: "completed" });
  h = await endpoint.health();
  assert.equal(h.jobs.inQueue, 0);
});

test("a wrong key is refused", async () => {
  const bad = runpodSdk("wrong", { baseUrl: `${base}/v2` }).endpoint("emulator");
  await assert.rejects(bad.health());
});
