// RunPod's own JS SDK (runpod-sdk, from npm) against the local API server,
// `runpod-worker HANDLER --rp_serve_api` (docs/api.md): the SDK's base URL
// points at the server, whose own job loop runs the jobs.
// Run: node --test spec/sdk/   (after `make sdk-deps` and `make`)
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import runpodSdk from "runpod-sdk";
import { serveApi, sleep, stopAll } from "../node/api_server.mjs";

// Starts the server for a handler; its endpoint is the SDK's view of it.
async function serve(handler, args = []) {
  const s = await serveApi(handler, args);
  // Any endpoint id works under /v2/.
  s.endpoint = runpodSdk("any-key", { baseUrl: `${s.base}/v2` }).endpoint("local-test");
  return s;
}

async function waitStatus(endpoint, id, want, ms = 10000) {
  const deadline = Date.now() + ms;
  let st;
  while (Date.now() < deadline) {
    st = await endpoint.status(id);
    if (want.includes(st.status)) return st;
    await sleep(50);
  }
  return st;
}

let echo;
let streaming;
let sleepy;

before(async () => {
  [echo, streaming, sleepy] = await Promise.all([
    serve("handlers/echo.lua"), serve("handlers/streaming.lua"),
    serve("spec/fixtures/sleepy.lua")]);
});

after(async () => {
  await stopAll();
});

test("run, then status polling until COMPLETED", async () => {
  const run = await echo.endpoint.run({ input: { prompt: "hi" } });
  assert.equal(run.status, "IN_QUEUE");
  const st = await waitStatus(echo.endpoint, run.id, ["COMPLETED", "FAILED"]);
  assert.equal(st.status, "COMPLETED");
  assert.equal(st.completed, true);
  assert.equal(st.succeeded, true);
  assert.deepEqual(st.output, { echo: { prompt: "hi" } });
  assert.equal(typeof st.executionTime, "number");
});

test("runSync returns the output", async () => {
  const res = await echo.endpoint.runSync({ input: { n: 21 } }, 5000);
  assert.equal(res.status, "COMPLETED");
  assert.deepEqual(res.output, { echo: { n: 21 } });
});

test("runSync outlasts its wait through status-sync", async () => {
  const res = await sleepy.endpoint.runSync({ input: { seconds: 1.5 } }, 1000);
  assert.equal(res.status, "COMPLETED");
  assert.deepEqual(res.output, { slept: 1.5, had_timeout: false });
});

test("stream yields the streaming handler's partials in order", async () => {
  const run = await streaming.endpoint.run({ input: { words: ["a", "b", "c", "d"] } });
  const got = [];
  for await (const chunk of streaming.endpoint.stream(run.id, 10000)) got.push(chunk.output);
  assert.deepEqual(got, [{ index: 1, token: "a" }, { index: 2, token: "b" },
    { index: 3, token: "c" }, { index: 4, token: "d" }]);
  const st = await streaming.endpoint.status(run.id);
  assert.equal(st.status, "COMPLETED");
  assert.equal(st.output.length, 4);
});

test("cancel stops a running job; the worker takes the next", async () => {
  const run = await sleepy.endpoint.run({ input: { seconds: 30 } });
  assert.equal((await waitStatus(sleepy.endpoint, run.id, ["IN_PROGRESS"])).status,
    "IN_PROGRESS");
  const res = await sleepy.endpoint.cancel(run.id);
  assert.deepEqual(res, { id: run.id, status: "CANCELLED" });
  const next = await sleepy.endpoint.runSync({ input: { seconds: 0.01 } }, 10000);
  assert.equal(next.status, "COMPLETED");
  assert.equal((await sleepy.endpoint.status(run.id)).status, "CANCELLED");
});

test("health and purgeQueue", async () => {
  const busy = await sleepy.endpoint.run({ input: { seconds: 30 } });
  await waitStatus(sleepy.endpoint, busy.id, ["IN_PROGRESS"]);
  await sleepy.endpoint.run({ input: { seconds: 0.01 } });
  await sleepy.endpoint.run({ input: { seconds: 0.01 } });
  let h = await sleepy.endpoint.health();
  assert.equal(h.jobs.inQueue, 2);
  assert.equal(h.jobs.inProgress, 1);
  assert.equal(h.workers.running, 1);
  const p = await sleepy.endpoint.purgeQueue();
  assert.deepEqual(p, { removed: 2, status: "completed" });
  h = await sleepy.endpoint.health();
  assert.equal(h.jobs.inQueue, 0);
  await sleepy.endpoint.cancel(busy.id);
  // Once the job loop has stopped it, it runs the next job.
  const next = await sleepy.endpoint.runSync({ input: { seconds: 0.01 } }, 10000);
  assert.equal(next.status, "COMPLETED");
});
