-- Realtime mode (RUNPOD_REALTIME_PORT): the real bin/runpod-worker serves
-- POST /{RUNPOD_ENDPOINT_ID}/realtime on a free port, as the Python SDK's
-- API server does on RunPod, and pings the platform. The platform is the
-- real bin/runpod-emulator on 127.0.0.1 (its ping route checks the key and
-- logs every request with its Authorization header). Every request is
-- bounded by curl's --max-time, every wait by a count and a deadline, and
-- each test kills what it started, whatever happens.
local helpers = require "helpers.emulator"
local proc = require "helpers.proc"
local curl = require "helpers.curl"
local json = require("runpod").json

local HANDLER = "spec/fixtures/realtime_probe.lua"
local KEY = "test-key"                 -- the emulator's API key
local SANITIZE = (os.getenv("RP_SANITIZE") or "") ~= ""

-- start_on(port, env) -> worker { process, url, call, json } once its
-- /health says a job loop is ready, or raises with its output (after
-- killing it). env: RUNPOD_* variables on top of RUNPOD_REALTIME_PORT.
local function start_on(port, env)
  local argv = { "env" }
  for _, name in ipairs(proc.cleared) do
    argv[#argv + 1] = "-u"
    argv[#argv + 1] = name
  end
  argv[#argv + 1] = "RUNPOD_REALTIME_PORT=" .. port
  for k, v in pairs(env) do
    argv[#argv + 1] = k .. "=" .. v
  end
  argv[#argv + 1] = proc.worker
  argv[#argv + 1] = HANDLER
  local h = helpers.spawn(argv, SANITIZE and { ASAN_OPTIONS = "detect_leaks=1" } or nil)
  local w = { process = h, url = "http://127.0.0.1:" .. port }
  function w.call(method, path, body, max_time)
    return curl.request(method, w.url .. path, body, { "Content-Type: application/json" },
      max_time)
  end
  function w.json(method, path, body)
    local code, text = w.call(method, path, body and json.encode(body))
    return text and json.decode(text), code
  end
  local ready = helpers.eventually(30, function()
    local v = w.json("GET", "/health")
    return (v and v.workers and v.workers.ready >= 1) or h.wait(0) ~= nil
  end, 0.05)
  if ready == true and not h.wait(0) then
    return w
  end
  local out = h.output()
  h.kill()
  error("the realtime server did not come up:\n" .. out, 0)
end

-- start(env) -> worker, on a free port (another one when it was taken).
local function start(env)
  local ok, w = pcall(start_on, curl.free_port(), env)
  if ok then
    return w
  end
  if not tostring(w):find("cannot listen", 1, true) then
    error(w, 0)
  end
  return start_on(curl.free_port(), env)
end

-- start_with_waiting_job(env[, id]) -> worker, request, release: a worker
-- (killed when the test ends, whatever happens) running one realtime job
-- (named id, when given) that waits until release() is called;
-- request.wait() -> its answer.
local function start_with_waiting_job(env, id)
  local flag = os.tmpname()
  os.remove(flag)
  local w = start(env)
  finally(function()
    w.process.kill()
    os.remove(flag)
  end)
  local request = curl.background("POST", w.url .. "/rt/realtime",
    json.encode({ id = id, input = { mode = "wait", until_file = flag } }),
    { "Content-Type: application/json" }, 30)
  return w, request, function() proc.write_file(flag, "") end
end

-- The pings the emulator saw from worker id.
local function pings(emu, id)
  local list = {}
  for _, e in ipairs(emu.log()) do
    if e.path == "/v2/ep/ping/" .. id then
      list[#list + 1] = e
    end
  end
  return list
end

-- How many jobs the worker's log says the handler started.
local function started(w)
  local n = 0
  for _ in w.process.output():gmatch("Started%.") do
    n = n + 1
  end
  return n
end

describe("runpod-worker in realtime mode (RUNPOD_REALTIME_PORT)", function()
  local emu

  before_each(function()
    emu = helpers.start()
  end)

  after_each(function()
    if emu then
      emu.stop()
    end
    emu = nil
  end)

  it("pings RUNPOD_WEBHOOK_PING with the environment's key, which the handler sees too",
      function()
    local w = start({ RUNPOD_ENDPOINT_ID = "rt", RUNPOD_POD_ID = "rt-1",
      RUNPOD_AI_API_KEY = KEY, RUNPOD_WEBHOOK_PING = emu.env.RUNPOD_WEBHOOK_PING,
      RUNPOD_PING_INTERVAL = "200" })
    finally(function() w.process.kill() end)
    local list = helpers.eventually(15, function()
      local seen = pings(emu, "rt-1")
      return #seen >= 2 and seen
    end)
    assert.is_truthy(list, w.process.output())
    for _, e in ipairs(list) do
      assert.are.equal("GET", e.method)
      assert.are.equal(KEY, e.headers.Authorization)
      assert.are.equal(200, e.status)
      assert.matches("runpod_version=", e.query, 1, true)
    end
    local v, code = w.json("POST", "/rt/realtime", { input = { mode = "key" } })
    assert.are.equal(200, code)
    assert.are.same({ output = { key = KEY } }, v)
    assert.is_nil(w.process.output():find("fitness check", 1, true))
  end)

  it("stops naming a finished job in its pings while the VM rebuilds after it", function()
    -- The job ends after a wait and asks for a refresh; the rebuild takes
    -- PROBE_LOAD_SECONDS of CPU. The job loop must hear of the end before
    -- the rebuild, not after it.
    local w = start({ RUNPOD_ENDPOINT_ID = "rt", RUNPOD_POD_ID = "rt-5",
      RUNPOD_AI_API_KEY = KEY, RUNPOD_WEBHOOK_PING = emu.env.RUNPOD_WEBHOOK_PING,
      RUNPOD_PING_INTERVAL = "100", PROBE_LOAD_SECONDS = "1.5" })
    finally(function() w.process.kill() end)
    local v, code = w.json("POST", "/rt/realtime", { input = { mode = "sleep_refresh" } })
    assert.are.equal(200, code, w.process.output())
    assert.are.same({ output = { x = 1 } }, v)
    local id = w.process.output():match('"requestId": "([^"]+)", "message": "Started%."')
    assert.is_truthy(id, w.process.output())
    helpers.sleep(0.2)          -- a ping already on its way may name it
    local before = #pings(emu, "rt-5")
    helpers.sleep(0.7)          -- the rebuild goes on meanwhile
    local after = pings(emu, "rt-5")
    assert.is_true(#after >= before + 2, "too few pings to tell: " .. #after - before)
    for i = before + 1, #after do
      assert.is_nil(after[i].query:find("job_id=", 1, true), after[i].query)
    end
  end)

  it("names the job in progress in its pings, as the Python SDK", function()
    local w, waiting, release = start_with_waiting_job({ RUNPOD_ENDPOINT_ID = "rt",
      RUNPOD_POD_ID = "rt-2", RUNPOD_AI_API_KEY = KEY,
      RUNPOD_WEBHOOK_PING = emu.env.RUNPOD_WEBHOOK_PING, RUNPOD_PING_INTERVAL = "200" })
    -- The job's id, from its "Started." line.
    local id = helpers.eventually(10, function()
      return w.process.output():match('"requestId": "([^"]+)", "message": "Started%."')
    end)
    local seen = id and helpers.eventually(15, function()
      for _, e in ipairs(pings(emu, "rt-2")) do
        if e.query:find("job_id=" .. id, 1, true) then
          return e
        end
      end
    end)
    release()
    local code, body = waiting.wait()
    assert.is_truthy(seen, w.process.output())
    assert.are.equal(KEY, seen.headers.Authorization)
    assert.are.equal(200, code)
    assert.are.same({ output = { waited = true } }, json.decode(body))
  end)

  it("runs a job under the caller's id, names it in its pings and refuses it twice",
      function()
    -- The Python SDK's handler sees the platform's request id, and its
    -- pings name it (the emulator logs the query decoded).
    local name = "platform-req/42 x"
    local w, waiting, release = start_with_waiting_job({ RUNPOD_ENDPOINT_ID = "rt",
      RUNPOD_POD_ID = "rt-7", RUNPOD_AI_API_KEY = KEY, RUNPOD_REALTIME_CONCURRENCY = "2",
      RUNPOD_WEBHOOK_PING = emu.env.RUNPOD_WEBHOOK_PING, RUNPOD_PING_INTERVAL = "200" }, name)
    local seen = helpers.eventually(15, function()
      for _, e in ipairs(pings(emu, "rt-7")) do
        if e.query:find("job_id=" .. name .. "&", 1, true) then
          return e
        end
      end
    end)
    local twice = w.call("POST", "/rt/realtime",
      json.encode({ id = name, input = { mode = "id" } }), 10)
    release()
    local code, body = waiting.wait()
    assert.is_truthy(seen, w.process.output())
    assert.are.equal(409, twice)
    assert.are.equal(200, code)
    assert.are.same({ output = { waited = true } }, json.decode(body))
    assert.truthy(w.process.output():find('"requestId": "platform-req/42 x", '
      .. '"message": "Started."', 1, true), w.process.output())
    -- once it has ended the name is free; the handler sees it as job.id
    local v, again = w.json("POST", "/rt/realtime", { id = name, input = { mode = "id" } })
    assert.are.equal(200, again)
    assert.are.same({ output = { id = name } }, v)
    -- without an id the worker sees the server's; a bad one is refused
    v = w.json("POST", "/rt/realtime", { input = { mode = "id" } })
    assert.matches("^%x+%-%x+%-4%x+%-%x+%-%x+$", v.output.id)
    for _, bad in ipairs({ '5', '""', '"a\\u0000b"', ('"%s"'):format(("x"):rep(129)) }) do
      local got, text = w.call("POST", "/rt/realtime", '{"id":' .. bad .. ',"input":1}')
      assert.are.equal(400, got, bad)
      assert.matches("invalid id", text, 1, true)
    end
  end)

  describe("with refresh_mode pod", function()
    -- Runs a job that waits in flight, then one asking for a refresh, and
    -- checks that the server answers both and then exits 0 without
    -- starting another job. env and input: how the refresh is asked for;
    -- answer: what that job answers.
    local function refreshes(env, input, answer)
      local e = { RUNPOD_ENDPOINT_ID = "rt", RUNPOD_REALTIME_CONCURRENCY = "2" }
      for k, v in pairs(env) do
        e[k] = v
      end
      local w, waiting, release = start_with_waiting_job(e)
      assert.is_truthy(helpers.eventually(10, function() return started(w) == 1 end),
        w.process.output())
      local v, code = w.json("POST", "/rt/realtime", { input = input })
      assert.are.equal(200, code)
      assert.are.same(answer, v)
      -- The first job is still in flight: the server waits for it, and
      -- runs no new one meanwhile (the late request stays queued).
      assert.is_nil(w.process.wait(0))
      local late = curl.background("POST", w.url .. "/rt/realtime",
        json.encode({ input = { mode = "key" } }), { "Content-Type: application/json" }, 30)
      release()
      local wcode, wbody = waiting.wait()
      assert.are.equal(200, wcode, w.process.output())
      assert.are.same({ output = { waited = true } }, json.decode(wbody))
      assert.are.equal(0, w.process.wait(20), w.process.output())
      local lcode = late.wait()
      assert.are_not.equal(200, lcode)
      local out = w.process.output()
      assert.are.equal(2, started(w), out)
      assert.matches("refresh_mode pod", out, 1, true)
    end

    it("RUNPOD_REFRESH_MODE=pod: a refresh the handler asks for ends the server", function()
      refreshes({ RUNPOD_REFRESH_MODE = "pod" }, { mode = "refresh" }, { output = { x = 1 } })
    end)

    it("start's refresh_mode and refresh_worker: the first job to end ends it", function()
      refreshes({ PROBE_REFRESH_MODE = "pod", PROBE_REFRESH_WORKER = "1" }, { mode = "key" },
        { output = { key = "unset" } })
    end)
  end)
end)
