// spec/node/api_server.mjs: starts and stops `runpod-worker HANDLER
// --rp_serve_api` for the node test suites (spec/sdk, spec/browser). Uses
// only node's own modules so that each suite keeps its own node_modules.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { once } from "node:events";
import net from "node:net";
import path from "node:path";
import { fileURLToPath } from "node:url";

export const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
export const BIN = process.env.RUNPOD_WORKER_BIN || path.join(root, "bin/runpod-worker");
export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const servers = [];

// A port the kernel just handed out on 127.0.0.1 and took back.
export async function freePort() {
  const srv = net.createServer();
  srv.listen(0, "127.0.0.1");
  await once(srv, "listening");
  const { port } = srv.address();
  srv.close();
  await once(srv, "close");
  return port;
}

// Starts the server for a handler (a path under the project root); resolves
// with { proc, base, url, exited } once its job loop polls (health says a
// worker is ready), within 20 s.
export async function serveApi(handler, args = []) {
  const port = await freePort();
  const env = { ...process.env, RUNPOD_LOG_LEVEL: "WARN" };
  // Under `make check` the instrumented binary must not get the preload.
  delete env.LD_PRELOAD;
  for (const k of ["RUNPOD_WEBHOOK_GET_JOB", "RUNPOD_ENDPOINT_ID", "RUNPOD_REALTIME_PORT"])
    delete env[k];
  const proc = spawn(BIN, [path.join(root, handler), "--rp_serve_api", "--rp_api_port",
    String(port), ...args], { env, cwd: root, stdio: ["ignore", "inherit", "inherit"] });
  const base = `http://127.0.0.1:${port}`;
  const s = { proc, base, url: `${base}/`, exited: once(proc, "exit") };
  servers.push(s);
  const deadline = Date.now() + 20000;
  while (Date.now() < deadline) {
    try {
      const r = await fetch(`${base}/health`, { signal: AbortSignal.timeout(2000) });
      if (r.status === 200 && (await r.json()).workers.ready >= 1) return s;
    } catch {
      // not listening yet
    }
    if (proc.exitCode !== null) break;
    await sleep(50);
  }
  throw new Error(`${handler}: the API server did not come up`);
}

// SIGTERM to every server started here; each must exit 0 within 15 s.
export async function stopAll() {
  for (const s of servers.splice(0)) {
    if (s.proc.exitCode === null) s.proc.kill("SIGTERM");
    const timer = setTimeout(() => s.proc.kill("SIGKILL"), 15000);
    const [code] = await s.exited;
    clearTimeout(timer);
    assert.equal(code, 0);
  }
}
