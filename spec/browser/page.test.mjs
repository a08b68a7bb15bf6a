// The local API server's page (GET /, docs/api.md) in Debian's headless
// Chromium, driven by playwright-core (which downloads no browser): type an
// input, click Run, wait for the result. Skipped when /usr/bin/chromium is
// missing. Run: node --test spec/browser/   (after `make browser-deps`)
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { chromium } from "playwright-core";
import { serveApi as serve, stopAll } from "../node/api_server.mjs";

const CHROMIUM = process.env.CHROMIUM || "/usr/bin/chromium";
let browser;
let profile;

const skip = fs.existsSync(CHROMIUM) ? false : `${CHROMIUM} not installed`;

before(async () => {
  if (skip) return;
  profile = fs.mkdtempSync(path.join(os.tmpdir(), "rp-chromium-"));
  // A fresh profile (--user-data-dir) per run.
  browser = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    timeout: 30000,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
      "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
});

after(async () => {
  if (browser) await browser.close();
  if (profile) fs.rmSync(profile, { recursive: true, force: true });
  await stopAll();
});

// Opens the page; every request the page makes must stay on the server.
async function open(s) {
  const page = await browser.newPage();
  page.setDefaultTimeout(15000);
  const foreign = [];
  page.on("request", (r) => {
    if (!r.url().startsWith(s.url)) foreign.push(r.url());
  });
  const errors = [];
  page.on("pageerror", (e) => errors.push(String(e)));
  const res = await page.goto(s.url);
  assert.equal(res.status(), 200);
  return { page, foreign, errors };
}

test("runs a job from the page and shows its result", { skip }, async () => {
  const s = await serve("handlers/echo.lua");
  const { page, foreign, errors } = await open(s);
  await page.fill("#input", '{"greeting": "hello from the browser"}');
  await page.click("#run");
  await page.waitForFunction(() => document.querySelector("#status").textContent === "COMPLETED");
  await page.waitForFunction(() => document.querySelector("#output").textContent !== "");
  const output = JSON.parse(await page.textContent("#output"));
  assert.deepEqual(output, { output: { echo: { greeting: "hello from the browser" } } });
  assert.match(await page.textContent("#job"), /^[0-9a-f-]{36}$/);
  assert.equal(await page.isEnabled("#run"), true);
  assert.deepEqual(foreign, []);
  assert.deepEqual(errors, []);
  await page.close();
});

test("shows a streaming handler's partials live", { skip }, async () => {
  const s = await serve("handlers/streaming.lua");
  const { page, errors } = await open(s);
  await page.fill("#input", '{"words": ["one", "two", "three"]}');
  await page.click("#run");
  await page.waitForFunction(() => document.querySelector("#output").textContent !== "");
  const lines = (await page.textContent("#stream")).split("\n").map((l) => JSON.parse(l));
  assert.deepEqual(lines, [{ index: 1, token: "one" }, { index: 2, token: "two" },
    { index: 3, token: "three" }]);
  assert.equal(await page.textContent("#status"), "COMPLETED");
  assert.deepEqual(errors, []);
  await page.close();
});

test("refuses input that is not JSON without calling the server", { skip }, async () => {
  const s = await serve("handlers/echo.lua");
  const { page } = await open(s);
  await page.fill("#input", "{not json");
  await page.click("#run");
  await page.waitForFunction(() => document.querySelector("#message").textContent !== "");
  assert.match(await page.textContent("#message"), /^input is not valid JSON/);
  assert.equal(await page.textContent("#job"), "-");
  await page.close();
});
