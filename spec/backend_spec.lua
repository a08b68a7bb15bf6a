-- spec/backend_spec.lua: runpod.backend and handlers/vllm.lua end to end:
-- the real bin/runpod-worker in serverless mode against the emulator,
-- supervising a stand-in for `vllm serve` (a shell script on PATH that runs
-- build/spec/fake_inference on the port it is given, or misbehaves as
-- FAKE_MODE says).
local helpers = require "helpers.emulator"
local proc = require "helpers.proc"
local json = require("runpod").json

local fake_bin = proc.root .. "/" .. (os.getenv("RP_BUILD") or "build") .. "/spec/fake_inference"

-- A directory holding an executable `vllm`.
local function fake_vllm_dir()
  local dir = proc.tmpdir()
  proc.write_file(dir .. "/vllm", ([[#!/bin/sh
port=8000
while [ $# -gt 0 ]; do [ "$1" = --port ] && port=$2; shift; done
echo "fake vllm on port $port"
case "$FAKE_MODE" in
  exit) echo "no GPU here" >&2; exit 3 ;;
  hang) exec sleep 300 ;;
  loading)
    trap 'echo "got SIGTERM while loading"; exit 0' TERM
    sleep 300 &
    wait ;;
  term)
    %s "$port" &
    trap 'echo "got SIGTERM"; kill $!; exit 0' TERM
    wait ;;
  *) exec %s "$port" ;;
esac
]]):format(proc.quote(fake_bin), proc.quote(fake_bin)))
  os.execute("chmod +x " .. proc.quote(dir .. "/vllm"))
  return dir
end

-- A port for the stand-in to listen on: below Linux's ephemeral range
-- (32768 and up), where the system hands out no ports of its own.
local function free_port()
  return tostring(math.random(10000, 29999))
end

local function pid_alive(pid)
  return os.execute("kill -0 " .. pid .. " 2>/dev/null") == true
end

describe("runpod.backend under runpod-worker (handlers/vllm.lua)", function()
  local emu, worker, dir, port

  before_each(function()
    dir = fake_vllm_dir()
    port = free_port()
    emu = helpers.start()
  end)

  after_each(function()
    helpers.stop(emu, worker)
    os.execute("rm -rf " .. proc.quote(dir))
    worker = nil
  end)

  local function start_worker(env)
    local e = { PATH = dir .. ":" .. os.getenv("PATH"), VLLM_PORT = port, MODEL_NAME = "m",
      RUNPOD_PING_INTERVAL = "500" }
    for k, v in pairs(env or {}) do
      e[k] = v
    end
    worker = helpers.worker(emu, "handlers/vllm.lua", e)
    return worker
  end

  local function pings_unhealthy()
    local n = 0
    for _, e in ipairs(emu.log()) do
      if e.path:find("/ping/") and (e.query or ""):find("status=unhealthy", 1, true) then
        n = n + 1
      end
    end
    return n
  end

  it("fails the fitness check at once when the backend exits during start-up", function()
    local id = emu.submit({ prompt = "a" })
    start_worker({ FAKE_MODE = "exit", VLLM_STARTUP_TIMEOUT = "600" })
    assert.are.equal(1, worker.wait(30))
    local out = worker.output()
    assert.matches("[vllm] no GPU here", out, 1, true)
    assert.matches("backend 'vllm' exited with code 3 before it was ready", out, 1, true)
    assert.are.equal(1, pings_unhealthy())
    assert.are.equal("IN_QUEUE", emu.json("GET", "/v2/ep/status/" .. id).status)
  end)

  it("fails the fitness check when the backend never gets ready", function()
    start_worker({ FAKE_MODE = "hang", VLLM_STARTUP_TIMEOUT = "1" })
    assert.are.equal(1, worker.wait(30))
    assert.matches("backend 'vllm' was not ready within 1 s", worker.output(), 1, true)
    assert.are.equal(1, pings_unhealthy())
  end)

  it("forwards SIGTERM to a backend still loading and exits without an unhealthy ping",
    function()
      local id = emu.submit({ prompt = "a" })
      start_worker({ FAKE_MODE = "loading", VLLM_STARTUP_TIMEOUT = "600",
        RUNPOD_FITNESS_TIMEOUT = "700" })
      assert.is_truthy(helpers.eventually(20, function()
        return worker.output():find("[vllm] fake vllm on port", 1, true)
      end), worker.output())
      worker.signal("TERM")
      assert.are.equal(0, worker.wait(20), worker.output())
      local out = worker.output()
      assert.matches("[vllm] got SIGTERM while loading", out, 1, true)
      assert.matches("cut short by SIGTERM", out, 1, true)
      assert.are.equal(0, pings_unhealthy())
      assert.are.equal("IN_QUEUE", emu.json("GET", "/v2/ep/status/" .. id).status)
    end)

  it("lets the backend load for VLLM_STARTUP_TIMEOUT past RUNPOD_FITNESS_TIMEOUT", function()
    -- worker-vllm waits VLLM_STARTUP_TIMEOUT for vLLM; the fitness checks'
    -- own limit (1 s here, 60 s by default) must not cut that wait short.
    start_worker({ FAKE_READY_AFTER_MS = "4000", RUNPOD_FITNESS_TIMEOUT = "1",
      VLLM_STARTUP_TIMEOUT = "60" })
    local id = emu.submit({ prompt = "a b" })
    local view = emu.wait_done(id, 40)
    assert.are.equal("COMPLETED", view.status, worker.output())
    assert.are.equal(0, pings_unhealthy())
  end)

  it("proxies the three input shapes once the backend serves", function()
    start_worker()
    local chat = emu.submit({ openai_route = "/v1/chat/completions",
      openai_input = { messages = { { role = "user", content = "one two three" } } } })
    local models = emu.submit({ openai_route = "/v1/models" })
    local generic = emu.submit({ route = "/v1/completions", body = { prompt = "x y" } })
    local legacy = emu.submit({ prompt = "p q r s", sampling_params = { max_tokens = 3 } })
    local view = emu.wait_done(chat, 30)
    assert.are.equal("COMPLETED", view.status, worker.output())
    assert.are.equal("3 words", view.output[1].choices[1].message.content)
    assert.are.equal("fake-model", view.output[1].model)
    view = emu.wait_done(models, 30)
    assert.are.equal("fake-model", view.output[1].data[1].id)
    view = emu.wait_done(generic, 30)
    assert.are.equal("2 words", view.output[1].choices[1].text)
    view = emu.wait_done(legacy, 30)
    assert.are.equal("4 words", view.output[1].choices[1].text)
  end)

  it("shares one backend between the VMs of two executor threads", function()
    start_worker({ RUNPOD_WORKER_THREADS = "2" })
    local ids = {}
    for i = 1, 4 do
      ids[i] = emu.submit({ prompt = "a b c" })
    end
    for _, id in ipairs(ids) do
      assert.are.equal("COMPLETED", emu.wait_done(id, 30).status, worker.output())
    end
    local _, starts = worker.output():gsub("backend 'vllm' started", "")
    assert.are.equal(1, starts)
  end)

  it("streams the backend's raw SSE chunks as partials", function()
    start_worker()
    local id = emu.submit({ messages = { { role = "user", content = "alpha beta" } },
      stream = true })
    local view = emu.wait_done(id, 30)
    assert.are.equal("COMPLETED", view.status, json.encode(view))
    local text = table.concat(view.output)
    assert.matches('"content":"alpha"', text, 1, true)
    assert.matches('"content":"beta"', text, 1, true)
    assert.matches("data: [DONE]", text, 1, true)
  end)

  it("fails a job with the OpenAI error shape when the backend answers 4xx", function()
    start_worker()
    local id = emu.submit({ openai_route = "/v1/chat/completions",
      openai_input = { model = "missing", messages = { { role = "user", content = "x" } } } })
    local view = emu.wait_done(id, 30)
    assert.are.equal("FAILED", view.status)
    local err = json.decode(view.error)
    assert.are.equal("worker_error", err.type)
    assert.matches("vLLM returned HTTP 404: .*does not exist", err.message)
  end)

  it("fails the jobs in flight, reports unhealthy and exits 1 when the backend dies", function()
    start_worker({ RUNPOD_SHUTDOWN_GRACE = "20" })
    local ids = {}
    for i = 1, 3 do
      ids[i] = emu.submit({ messages = { { role = "user", content = "a b c d e f g h" } },
        stream = true })
    end
    local crash = emu.submit({ messages = { { role = "user", content = "a b CRASH c" } },
      stream = true })
    assert.are.equal(1, worker.wait(40))
    local view = emu.wait_done(crash, 5)
    assert.are.equal("FAILED", view.status, json.encode(view))
    assert.matches("vLLM server process is not running; worker is unhealthy",
      json.decode(view.error).message, 1, true)
    for _, id in ipairs(ids) do
      local v = emu.json("GET", "/v2/ep/status/" .. id)
      assert.is_truthy(v.status == "COMPLETED" or v.status == "FAILED"
        or v.status == "IN_QUEUE", json.encode(v))
      assert.are_not.equal("IN_PROGRESS", v.status)
    end
    local out = worker.output()
    assert.matches("backend 'vllm' exited with code 3; the worker is unhealthy", out, 1, true)
    assert.are.equal(1, pings_unhealthy())
  end)

  it("forwards SIGTERM to the backend and reaps it", function()
    start_worker({ FAKE_MODE = "term" })
    local id = emu.submit({ prompt = "a b" })
    assert.are.equal("COMPLETED", emu.wait_done(id, 30).status, worker.output())
    local pid = assert(worker.output():match("backend 'vllm' started %(pid (%d+)%)"))
    assert.is_true(pid_alive(pid))
    worker.signal("TERM")
    assert.are.equal(0, worker.wait(30))
    assert.matches("[vllm] got SIGTERM", worker.output(), 1, true)
    assert.is_false(pid_alive(pid))
  end)

  it("runs handlers/llama_cpp.lua in local test mode against its llama-server", function()
    local r = proc.worker_run({ "handlers/llama_cpp.lua", "--test_input",
      '{"input": {"openai_route": "/v1/completions", "openai_input": {"prompt": "a b c"}}}' },
      { env = { LLAMA_SERVER = dir .. "/vllm", LLAMA_MODEL = "/models/x.gguf", LLAMA_PORT = port },
        timeout = 60 })
    assert.are.equal(0, r.code, r.stdout .. r.stderr)
    local out = r.stdout .. r.stderr
    assert.matches('"text":"3 words"', out, 1, true)
    assert.matches("stopping backend 'llama-server'", out, 1, true)
  end)
end)
