-- End-to-end tests of serverless mode: the real bin/runpod-worker takes
-- jobs from the real bin/runpod-emulator over HTTP on 127.0.0.1, and the
-- emulator's request log shows what went over the wire.
local helpers = require "helpers.emulator"
local proc = require "helpers.proc"
local json = require("runpod").json

local function find(list, pred)
  local found = {}
  for _, item in ipairs(list) do
    if pred(item) then
      found[#found + 1] = item
    end
  end
  return found
end

local function header(entry, name)
  for k, v in pairs(entry.headers or {}) do
    if k:lower() == name:lower() and v ~= json.null then
      return v
    end
  end
  return nil
end

-- How many of the jobs ids run their handler now: IN_PROGRESS with the
-- progress update spec/fixtures/sleepy.lua posts when it starts waiting
-- for its until_file (one stats call).
local function running(emu, ids)
  local jobs = emu.stats().jobs
  local n = 0
  for _, id in ipairs(ids) do
    if jobs[id] and jobs[id].status == "IN_PROGRESS" and jobs[id].progress >= 1 then
      n = n + 1
    end
  end
  return n
end

-- A path for a file the spec creates to let jobs end (removed at the end
-- of the test), and a running emulator in emu's place.
local function gate_and_emulator()
  local gate = os.tmpname()
  os.remove(gate)
  finally(function() os.remove(gate) end)
  return gate, helpers.start()
end

-- How many job-done posts (results, not progress) the emulator counted.
local function done_posts(emu, id)
  local job = emu.stats().jobs[id]
  return job and job.done or 0
end

describe("runpod-worker in serverless mode", function()
  local emu, worker

  after_each(function()
    helpers.stop(emu, worker)
    emu, worker = nil, nil
  end)

  it("takes jobs and posts each result once, as RunPod's protocol says", function()
    emu = helpers.start()
    local ids = {}
    for i = 1, 5 do
      ids[i] = emu.submit({ n = i })
    end
    worker = helpers.worker(emu, "handlers/echo.lua")
    for i, id in ipairs(ids) do
      local view = emu.wait_done(id, 20)
      assert.are.equal("COMPLETED", view.status, worker.output())
      assert.are.same({ echo = { n = i } }, view.output)
    end
    local log = emu.log()
    local takes = find(log, function(e) return e.path:find("/job%-take/") end)
    assert.is_true(#takes >= 5)
    for _, e in ipairs(takes) do
      assert.are.equal("GET", e.method)
      assert.are.equal("/v2/ep/job-take/worker-1", e.path)
      assert.matches("^gpu=emulator&job_in_progress=[01]$", e.query)
      assert.are.equal("test-key", header(e, "Authorization"))
      assert.matches("^runpod%-lua/%d+%.%d+%.%d+ %(runpod%-worker; Lua 5%.4%.%d+%)$",
        header(e, "User-Agent"))
    end
    local dones = find(log, function(e) return e.path:find("/job%-done/") end)
    assert.are.equal(5, #dones)
    for _, e in ipairs(dones) do
      assert.are.equal("POST", e.method)
      local job = e.path:match("^/v2/ep/job%-done/worker%-1/(.+)$")
      assert.is_string(job)
      assert.are.equal("gpu=emulator&isStream=false", e.query)
      assert.are.equal(job, header(e, "X-Request-ID"))
      assert.are.equal("application/x-www-form-urlencoded", header(e, "Content-Type"))
      assert.are.equal("test-key", header(e, "Authorization"))
    end
    -- X-Request-ID belongs to job-done posts only
    for _, e in ipairs(takes) do
      assert.is_nil(header(e, "X-Request-ID"))
    end
    for _, id in ipairs(ids) do
      assert.are.equal(1, done_posts(emu, id), "job-done posts for " .. id)
    end
  end)

  it("streams partials in order, then posts the aggregate with isStream=true", function()
    emu = helpers.start()
    local id = emu.submit({ words = { "a", "b", "c", "d" } })
    worker = helpers.worker(emu, "handlers/streaming.lua")
    local view = emu.wait_done(id, 20)
    assert.are.equal("COMPLETED", view.status)
    local log = emu.log()
    local streams = find(log, function(e) return e.path:find("/job%-stream/") end)
    assert.are.equal(4, #streams)
    for i, e in ipairs(streams) do
      assert.are.equal("/v2/ep/job-stream/worker-1/" .. id, e.path)
      assert.are.equal("gpu=emulator&isStream=false", e.query)
      assert.are.same({ output = { index = i, token = ({ "a", "b", "c", "d" })[i] } },
        json.decode(e.body))
    end
    local dones = find(log, function(e) return e.path:find("/job%-done/") end)
    assert.are.equal(1, #dones)
    assert.are.equal("gpu=emulator&isStream=true", dones[1].query)
    assert.are.equal(4, #json.decode(dones[1].body).output)
    -- nothing for the job after its final result
    assert.is_true(streams[4].seq < dones[1].seq)
  end)

  it("stops a stream at a partial with an error and fails the job with it, as Python", function()
    emu = helpers.start()
    local id = emu.submit({ mode = "stream_error" })
    worker = helpers.worker(emu, "spec/fixtures/python_results.lua")
    local view = emu.wait_done(id, 20)
    assert.are.equal("FAILED", view.status, worker.output())
    assert.are.equal("model crashed", view.error)
    local log = emu.log()
    local streams = find(log, function(e) return e.path:find("/job%-stream/") end)
    assert.are.equal(1, #streams)
    assert.are.same({ output = { i = 1 } }, json.decode(streams[1].body))
    local dones = find(log, function(e) return e.path:find("/job%-done/") end)
    assert.are.equal(1, #dones)
    assert.are.same({ error = "model crashed" }, json.decode(dones[1].body))
  end)

  it("posts {\"output\": null} for a handler that returns nil, as Python", function()
    emu = helpers.start()
    local id = emu.submit({ mode = "nil" })
    worker = helpers.worker(emu, "spec/fixtures/python_results.lua")
    assert.are.equal("COMPLETED", emu.wait_done(id, 20).status, worker.output())
    local dones = find(emu.log(), function(e) return e.path:find("/job%-done/") end)
    assert.are.equal(1, #dones)
    assert.are.equal('{"output":null}', dones[1].body)
  end)

  it("keeps progress updates and partials in order before the result", function()
    emu = helpers.start()
    local id = emu.submit({ seconds = 0.01, progress = true })
    worker = helpers.worker(emu, "spec/fixtures/sleepy.lua")
    assert.are.equal("COMPLETED", emu.wait_done(id, 20).status)
    local seen = {}
    for _, e in ipairs(emu.log()) do
      if e.path:find(id, 1, true) then
        local body = json.decode(e.body)
        if e.path:find("/job%-stream/") then
          seen[#seen + 1] = "partial " .. body.output.token
        elseif body.status == "IN_PROGRESS" then
          assert.are.equal("gpu=emulator&isStream=false", e.query)
          seen[#seen + 1] = "progress " .. body.output.step
        else
          seen[#seen + 1] = "result"
        end
      end
    end
    assert.are.same({ "progress 1", "partial a", "progress 2", "partial b", "result" }, seen)
  end)

  it("retries a ping the server failed, as the Python SDK, then keeps its cadence", function()
    -- The Python SDK's ping session retries 429 and 5xx three times
    -- (backoff factor 1: at once, after 2 s, after 4 s); the regular
    -- interval here is 10 s, so every ping within 8 s past the first is a
    -- retry.
    emu = helpers.start({ "--fault", "ping=500,first=2" })
    worker = helpers.worker(emu, "handlers/echo.lua", { RUNPOD_PING_INTERVAL = "10000" })
    local function pings()
      return find(emu.log(), function(e) return e.path:find("/ping/") end)
    end
    assert.is_truthy(helpers.eventually(15, function() return #pings() >= 3 end),
      worker.output())
    helpers.sleep(1)
    local list = pings()
    assert.are.equal(3, #list, worker.output())
    assert.are.same({ 500, 500, 200 }, { list[1].status, list[2].status, list[3].status })
    assert.is_true(list[2].time - list[1].time < 1, "the first retry goes at once")
    local gap = list[3].time - list[2].time
    assert.is_true(gap > 1.5 and gap < 3.5, "the second retry comes 2 s later: " .. gap)
  end)

  it("pings with the running job's id while a handler burns CPU", function()
    -- The handler spins in pure Lua and never yields; it ends only when the
    -- server asks to stop it. Pings come from their own thread, so they go
    -- on meanwhile: ten pings name the job while it is still in progress.
    emu = helpers.start()
    local id = emu.submit({})
    worker = helpers.worker(emu, "spec/fixtures/spinner.lua", { RUNPOD_PING_INTERVAL = "200" })
    local function pings_naming_job()
      return find(emu.log(), function(e)
        return e.path:find("/ping/") and e.query:find("job_id=" .. id, 1, true)
      end)
    end
    assert.is_truthy(helpers.eventually(30, function()
      return #pings_naming_job() >= 10
    end), worker.output())
    assert.are.equal("IN_PROGRESS", emu.json("GET", "/v2/ep/status/" .. id).status)
    for _, e in ipairs(find(emu.log(), function(e) return e.path:find("/ping/") end)) do
      assert.are.equal("/v2/ep/ping/worker-1", e.path)
      assert.matches("runpod_version=" .. require("runpod").version:gsub("%.", "%%."), e.query)
    end
    emu.json("POST", "/v2/ep/cancel/" .. id)
    assert.is_truthy(helpers.eventually(20, function()
      return worker.output():find("Stopped on request.", 1, true)
    end), worker.output())
    assert.are.equal(0, done_posts(emu, id))
  end)

  it("stops a job busy in a pure-Lua loop when the server asks, and goes on", function()
    emu = helpers.start()
    local busy = emu.submit({ pcall = true })
    worker = helpers.worker(emu, "spec/fixtures/spinner.lua")
    assert.is_truthy(helpers.eventually(20, function()
      return emu.json("GET", "/v2/ep/status/" .. busy).status == "IN_PROGRESS"
    end), worker.output())
    emu.json("POST", "/v2/ep/cancel/" .. busy)
    local next_job = emu.submit({ seconds = 0.01 })
    assert.are.equal("COMPLETED", emu.wait_done(next_job, 20).status, worker.output())
    assert.matches("Stopped on request.", worker.output(), 1, true)
    assert.are.equal(0, done_posts(emu, busy))
  end)

  it("stops a waiting job without pausing the others or the intake", function()
    -- Three jobs wait in one VM; the one stopped ends at its wait, and a
    -- new job is taken and done while the other two still wait for the
    -- file (they cannot end before the spec creates it).
    local gate
    gate, emu = gate_and_emulator()
    local stopped = emu.submit({ seconds = 0.01, until_file = gate .. ".never" })
    local waiting = { emu.submit({ seconds = 0.01, until_file = gate }),
      emu.submit({ seconds = 0.01, until_file = gate }) }
    worker = helpers.worker(emu, "spec/fixtures/sleepy.lua", { SLEEPY_CONCURRENCY = "3" })
    assert.is_truthy(helpers.eventually(20, function()
      return running(emu, { stopped, waiting[1], waiting[2] }) == 3
    end), worker.output())
    emu.json("POST", "/v2/ep/cancel/" .. stopped)
    local later = emu.submit({ seconds = 0.01 })
    assert.is_truthy(helpers.eventually(20, function()
      return emu.json("GET", "/v2/ep/status/" .. later).status == "COMPLETED"
    end), worker.output())
    assert.are.equal(2, running(emu, waiting))
    proc.write_file(gate, "")
    for _, id in ipairs(waiting) do
      assert.are.equal("COMPLETED", emu.wait_done(id, 20).status, worker.output())
      assert.are.equal(1, done_posts(emu, id))
    end
    assert.are.equal(0, done_posts(emu, stopped))
    assert.matches("Stopped on request.", worker.output(), 1, true)
  end)

  it("fails a job that passes its timeout and tells the handler its budget", function()
    emu = helpers.start()
    local slow = emu.submit({})
    local quick = emu.submit({ seconds = 0.01 })
    worker = helpers.worker(emu, "spec/fixtures/spinner.lua", { RUNPOD_JOB_TIMEOUT = "0.5" })
    local view = emu.wait_done(slow, 20)
    assert.are.equal("FAILED", view.status)
    local info = json.decode(view.error)
    assert.are.equal("TimeoutError", info.error_type)
    assert.are.equal("job timed out after 0.5 seconds (timeout)", info.error_message)
    view = emu.wait_done(quick, 20)
    assert.are.equal("COMPLETED", view.status)
    assert.is_true(view.output.left_at_start > 0 and view.output.left_at_start <= 0.5)
  end)

  it("fails a job that times out while it waits, keeping the VM", function()
    -- The job sleeps past its timeout: it ends at that wait with a
    -- TimeoutError and the next job runs in the same VM (no rebuild).
    emu = helpers.start()
    local slow = emu.submit({ seconds = 30 })
    worker = helpers.worker(emu, "spec/fixtures/sleepy.lua",
      { RUNPOD_JOB_TIMEOUT = "0.5", RUNPOD_LOG_LEVEL = "DEBUG" })
    local view = emu.wait_done(slow, 20)
    assert.are.equal("FAILED", view.status, worker.output())
    assert.are.equal("job timed out after 0.5 seconds (timeout)",
      json.decode(view.error).error_message)
    local quick = emu.submit({ seconds = 0.01 })
    assert.are.equal("COMPLETED", emu.wait_done(quick, 20).status, worker.output())
    assert.is_nil(worker.output():find("VM rebuilt", 1, true), worker.output())
  end)

  it("asks the concurrency_modifier again while every place is taken", function()
    -- One place, taken by a job that waits for the gate, and a second job
    -- queued; then the modifier answers 2: the worker takes the second
    -- while the first still waits (runpod-python asks once a second when
    -- full, not only when a place frees).
    local gate
    gate, emu = gate_and_emulator()
    local limit = os.tmpname()
    finally(function() os.remove(limit) end)
    proc.write_file(limit, "1")
    local ids = { emu.submit({ seconds = 0.01, until_file = gate }),
      emu.submit({ seconds = 0.01, until_file = gate }) }
    worker = helpers.worker(emu, "spec/fixtures/sleepy.lua", { SLEEPY_CONCURRENCY_FILE = limit })
    assert.is_truthy(helpers.eventually(20, function()
      return running(emu, ids) == 1
    end), worker.output())
    assert.are.equal(1, running(emu, ids))
    proc.write_file(limit, "2")
    assert.is_truthy(helpers.eventually(20, function()
      return running(emu, ids) == 2
    end), worker.output())
    proc.write_file(gate, "")
    for _, id in ipairs(ids) do
      assert.are.equal("COMPLETED", emu.wait_done(id, 20).status, worker.output())
    end
  end)

  -- Runs spec/fixtures/sleepy.lua on one job (input) with its modifier
  -- answering the text of a file (first: answer), and returns the job id,
  -- that file, and asked(n): whether the modifier was asked n times yet.
  local function modifier_run(answer, input)
    emu = helpers.start()
    local limit, asked = os.tmpname(), os.tmpname()
    finally(function() os.remove(limit) os.remove(asked) end)
    proc.write_file(limit, answer)
    local id = emu.submit(input)
    worker = helpers.worker(emu, "spec/fixtures/sleepy.lua", { SLEEPY_CONCURRENCY_FILE = limit,
      SLEEPY_ASKED_FILE = asked })
    return id, limit, function(n)
      return helpers.eventually(20, function()
        return select(2, proc.read_file(asked):gsub("\n", "")) >= n
      end)
    end
  end

  it("takes no job while the concurrency_modifier answers 0, as the Python SDK", function()
    -- The modifier is asked once a second while no place is free; the
    -- job stays queued through several answers of 0 and runs once the
    -- answer is 1.
    local id, limit, asked = modifier_run("0", { seconds = 0.01 })
    assert.is_truthy(asked(3), worker.output())
    assert.are.equal("IN_QUEUE", emu.json("GET", "/v2/ep/status/" .. id).status, worker.output())
    assert.matches("concurrency 1 -> 0", worker.output(), 1, true)
    proc.write_file(limit, "1")
    assert.are.equal("COMPLETED", emu.wait_done(id, 20).status, worker.output())
  end)

  it("logs a concurrency_modifier answer it cannot use once, not each time it asks", function()
    local gate = os.tmpname()
    os.remove(gate)
    finally(function() os.remove(gate) end)
    local id, _, asked = modifier_run("many", { seconds = 0.01, until_file = gate })
    -- the one place is taken: the modifier is asked once a second
    assert.is_truthy(asked(4), worker.output())
    local _, complaints = worker.output():gsub("concurrency_modifier returned the string", "")
    assert.are.equal(1, complaints, worker.output())
    proc.write_file(gate, "")
    assert.are.equal("COMPLETED", emu.wait_done(id, 20).status, worker.output())
  end)

  it("asks a concurrency_modifier that is a callable table", function()
    emu = helpers.start()
    local ids = { emu.submit(1), emu.submit(2) }
    worker = helpers.worker(emu, "spec/fixtures/callable.lua")
    for _, id in ipairs(ids) do
      assert.are.equal("COMPLETED", emu.wait_done(id, 20).status, worker.output())
    end
    assert.matches("concurrency 1 -> 2", worker.output(), 1, true)
  end)

  it("at concurrency 1 takes the next job once a streamed job's result is delivered", function()
    -- The Python SDK sends each partial and then the result before it
    -- takes the next job. The first result post is held 1.5 s: the
    -- second job must not start before it is delivered.
    emu = helpers.start { "--fault", "job-done=delay,ms=1500,first=1" }
    local a = emu.submit({ words = { "x", "y" } })
    local b = emu.submit({ words = { "z" } })
    worker = helpers.worker(emu, "handlers/streaming.lua", { RUNPOD_LOG_LEVEL = "DEBUG" })
    for _, id in ipairs({ a, b }) do
      assert.are.equal("COMPLETED", emu.wait_done(id, 20).status, worker.output())
    end
    local out = worker.output()
    local sent = out:find('"requestId": "' .. a .. '", "message": "Results sent."', 1, true)
    local started = out:find('"requestId": "' .. b .. '", "message": "Started."', 1, true)
    assert.is_truthy(sent and started, out)
    assert.is_true(sent < started, out)
  end)

  it("runs many sleeping jobs at once in one VM, taking them in batches", function()
    -- Each job waits in its handler until the spec creates a file: all 32
    -- handlers waiting at the same time proves they run at once, whatever
    -- the machine's speed.
    local gate
    gate, emu = gate_and_emulator()
    local ids = {}
    for i = 1, 32 do
      ids[i] = emu.submit({ seconds = 0.01, until_file = gate })
    end
    worker = helpers.worker(emu, "spec/fixtures/sleepy.lua", { SLEEPY_CONCURRENCY = "32" })
    assert.is_truthy(helpers.eventually(30, function()
      return running(emu, ids) == 32
    end), worker.output())
    proc.write_file(gate, "")
    assert.is_truthy(helpers.eventually(30, function()
      local jobs = emu.stats().jobs
      for _, id in ipairs(ids) do
        if jobs[id].status ~= "COMPLETED" then
          return false
        end
      end
      return true
    end), worker.output())
    local batches = find(emu.log(), function(e) return e.path:find("/job%-take%-batch/") end)
    assert.is_true(#batches >= 1)
    assert.matches("^gpu=emulator&batch_size=%d+&job_in_progress=[01]$", batches[1].query)
  end)

  it("finishes and delivers every in-flight job on SIGTERM, then exits 0", function()
    -- The jobs cannot end before the spec creates the file, so all 8 are
    -- in flight when SIGTERM arrives.
    local gate
    gate, emu = gate_and_emulator()
    local ids = {}
    for i = 1, 8 do
      ids[i] = emu.submit({ seconds = 0.01, until_file = gate })
    end
    worker = helpers.worker(emu, "spec/fixtures/sleepy.lua", { SLEEPY_CONCURRENCY = "8" })
    assert.is_truthy(helpers.eventually(20, function()
      return running(emu, ids) == 8
    end), worker.output())
    worker.signal("TERM")
    assert.is_truthy(helpers.eventually(20, function()
      return worker.output():find("SIGTERM: no more jobs are taken; finishing 8 in flight", 1,
        true)
    end), worker.output())
    proc.write_file(gate, "")
    assert.are.equal(0, worker.wait(20), worker.output())
    for _, id in ipairs(ids) do
      assert.are.equal("COMPLETED", emu.json("GET", "/v2/ep/status/" .. id).status)
      assert.are.equal(1, done_posts(emu, id))
    end
  end)

  it("exits at once on SIGTERM while the job server holds its next job-take", function()
    -- At concurrency 1 the executor posts the result and takes the next
    -- job itself; a take the server holds is given up at SIGTERM.
    emu = helpers.start({ "--take-hold-ms", "30000" })
    local id = emu.submit({ x = 1 })
    worker = helpers.worker(emu, "handlers/echo.lua")
    -- the next take goes out once the result is delivered
    assert.are.equal("COMPLETED", emu.wait_done(id, 20).status, worker.output())
    os.execute("sleep 0.3")
    worker.signal("TERM")
    assert.are.equal(0, worker.wait(10), worker.output())   -- not the 30 s hold
    assert.are.equal(1, done_posts(emu, id))
  end)

  it("still stops a job cancelled after SIGTERM, and delivers the others", function()
    local gate
    gate, emu = gate_and_emulator()
    -- long waits for a file that never comes: only a stop ends it.
    local long = emu.submit({ seconds = 0.01, until_file = gate .. ".never" })
    local short = emu.submit({ seconds = 0.01, until_file = gate })
    worker = helpers.worker(emu, "spec/fixtures/sleepy.lua", { SLEEPY_CONCURRENCY = "2" })
    assert.is_truthy(helpers.eventually(20, function()
      return running(emu, { long, short }) == 2
    end), worker.output())
    worker.signal("TERM")
    assert.is_truthy(helpers.eventually(20, function()
      return worker.output():find("SIGTERM: no more jobs are taken", 1, true)
    end), worker.output())
    emu.json("POST", "/v2/ep/cancel/" .. long)
    assert.is_truthy(helpers.eventually(20, function()
      return worker.output():find("Stopped on request.", 1, true)
    end), worker.output())
    proc.write_file(gate, "")
    assert.are.equal(0, worker.wait(20), worker.output())
    assert.are.equal(0, done_posts(emu, long))
    assert.are.equal("COMPLETED", emu.json("GET", "/v2/ep/status/" .. short).status)
    assert.are.equal(1, done_posts(emu, short))
  end)

  it("delivers 1000 results exactly once through 500s and 429s", function()
    emu = helpers.start { "--fault", "job-done=500,share=0.3", "--fault",
      "job-take=500,share=0.05", "--fault", "job-stream=429,share=0.5", "--seed", "7" }
    emu.request("POST", "/_emulator/jobs?count=1000", '{"input": {"seconds": 0.001}}')
    -- a 429 on job-take makes the worker wait 5 s: once is enough
    emu.json("POST", "/_emulator/faults", { ["job-take"] = "429,first=1" })
    local ids = {}
    for id in pairs(emu.stats().jobs) do
      ids[#ids + 1] = id
    end
    assert.are.equal(1000, #ids)
    worker = helpers.worker(emu, "spec/fixtures/sleepy.lua", { RUNPOD_LOG_LEVEL = "ERROR",
      SLEEPY_CONCURRENCY = "8" })
    local deadline = os.time() + 120
    repeat
      helpers.sleep(0.5)
      local health = emu.json("GET", "/v2/ep/health")
    until health.jobs.completed >= 1000 or os.time() > deadline
    local jobs = emu.stats().jobs
    for _, id in ipairs(ids) do
      assert.are.equal(1, jobs[id].done, id)
      assert.are.equal(0, jobs[id].late, id)
    end
  end)

  it("exits 1 and reports unhealthy when a fitness check fails", function()
    emu = helpers.start()
    local id = emu.submit({})
    worker = helpers.worker(emu, "spec/fixtures/unfit.lua")
    assert.are.equal(1, worker.wait(20))
    assert.matches("Fitness check failed: check_gpu | LuaError: .*no GPU found", worker.output())
    local pings = find(emu.log(), function(e) return e.path:find("/ping/") end)
    assert.are.equal(1, #pings)
    assert.matches("status=unhealthy", pings[1].query, 1, true)
    assert.are.equal(0, #find(emu.log(), function(e) return e.path:find("/job%-take") end))
    assert.are.equal("IN_QUEUE", emu.json("GET", "/v2/ep/status/" .. id).status)
  end)

  it("never writes the API key to its log, at any level", function()
    emu = helpers.start()
    local id = emu.submit({})
    worker = helpers.worker(emu, "handlers/failing.lua", { RUNPOD_LOG_LEVEL = "TRACE",
      RUNPOD_PING_INTERVAL = "100" })
    emu.wait_done(id, 20)
    worker.signal("TERM")
    worker.wait(20)
    local out = worker.output()
    assert.matches("Captured Handler Exception", out, 1, true)
    assert.is_nil(out:find("test-key", 1, true))
  end)
end)

describe("runpod-worker in serverless mode, lifecycle and faults", function()
  local emu, worker

  after_each(function()
    helpers.stop(emu, worker)
    emu, worker = nil, nil
  end)

  it("exits 0 once TERMINATE_IDLE_TIME passes without a job", function()
    emu = helpers.start()
    worker = helpers.worker(emu, "handlers/echo.lua", { TERMINATE_IDLE_TIME = "1" })
    assert.are.equal(0, worker.wait(15), worker.output())
    assert.matches("TERMINATE_IDLE_TIME passed", worker.output(), 1, true)
  end)

  it("sends the next job-take as soon as a held one ends, so no job waits", function()
    -- Takes held 1.5 s and stop polls held long: a worker that slept until
    -- its next timer after a 204 would leave about 1 s between takes, and
    -- a job queued in that gap would wait for it.
    emu = helpers.start { "--take-hold-ms", "1500", "--stop-hold-ms", "20000" }
    worker = helpers.worker(emu, "handlers/echo.lua")
    local takes
    for _ = 1, 100 do
      takes = {}
      for _, e in ipairs(emu.log()) do
        if e.path:find("/job-take/", 1, true) then
          takes[#takes + 1] = e
        end
      end
      if #takes >= 4 then
        break
      end
      helpers.sleep(0.1)
    end
    assert.is_true(#takes >= 4, "too few job-take requests: " .. #takes)
    for i = 2, #takes do
      local prev, cur = takes[i - 1], takes[i]
      assert.are.equal(204, prev.status)
      -- log times are when each answer went out; ms is how long it took
      local gap = (cur.time - cur.ms / 1000) - prev.time
      assert.is_true(gap < 0.5, ("take %d sent %.3f s after take %d ended"):format(i, gap, i - 1))
    end
  end)

  it("runs without stop polls, and loses no job, when the take URL has no /job-take/", function()
    -- The emulator's batch route hands out jobs like the plain one; no
    -- job-stop URL follows from it, and a stop poll sent to the take URL
    -- would take jobs and drop them.
    emu = helpers.start()
    worker = helpers.worker(emu, "handlers/echo.lua", {
      RUNPOD_WEBHOOK_GET_JOB = emu.url .. "/v2/ep/job-take-batch/$ID" })
    assert.is_truthy(helpers.eventually(20, function()
      return emu.stats().requests["job-take"] >= 1
    end), worker.output())
    local ids = {}
    for i = 1, 8 do
      ids[i] = emu.submit({ n = i })
    end
    local deadline = os.time() + 30
    for i, id in ipairs(ids) do
      local view = emu.wait_done(id, math.max(1, deadline - os.time()))
      assert.are.equal("COMPLETED", view and view.status, worker.output())
      assert.are.same({ echo = { n = i } }, view.output)
    end
    local out = worker.output()
    local warn = "RUNPOD_WEBHOOK_GET_JOB has no /job-take/, so no job-stop URL follows from it"
    local _, n = out:gsub(warn:gsub("%p", "%%%0"), "")
    assert.are.equal(1, n, out)
    assert.matches('"level": "WARN"', out:match("[^\n]*" .. warn:gsub("%p", "%%%0") .. "[^\n]*"),
      1, true)
  end)

  it("marks the log lines of a job taken with a batchId, as the Python SDK", function()
    emu = helpers.start()
    worker = helpers.worker(emu, "spec/fixtures/logger.lua")
    local batched = assert(emu.json("POST", "/v2/ep/run", { input = {}, batchId = "b-7" })).id
    local plain = emu.submit({})
    assert.are.equal("COMPLETED", emu.wait_done(batched, 20).status, worker.output())
    assert.are.equal("COMPLETED", emu.wait_done(plain, 20).status, worker.output())
    local lines = {}
    for line in worker.output():gmatch("[^\n]+") do
      local v = json.decode(line)
      if v and (v.requestId == batched or v.requestId == plain) then
        lines[#lines + 1] = v
      end
    end
    local function has(id, message)
      for _, v in ipairs(lines) do
        if v.requestId == id and v.message == message then
          return true
        end
      end
      return false
    end
    -- the runtime's lines of the run, and the handler's own
    for _, m in ipairs { "Started.", "a info line", "Finished." } do
      assert.is_true(has(batched, "[batchId=b-7] " .. m), m .. "\n" .. worker.output())
      assert.is_true(has(plain, m), m .. "\n" .. worker.output())
      assert.is_false(has(plain, "[batchId=b-7] " .. m))
    end
  end)

  it("cuts a long poll the server never answers at once on SIGTERM", function()
    emu = helpers.start { "--fault", "job-take=delay,ms=600000" }
    worker = helpers.worker(emu, "handlers/echo.lua")
    -- The take has reached the server, which holds it for 600 s.
    assert.is_truthy(helpers.eventually(20, function()
      return emu.stats().requests["job-take"] >= 1
    end), worker.output())
    worker.signal("TERM")
    -- Far sooner than the 600 s hold or the 90 s poll time-out.
    assert.are.equal(0, worker.wait(10), worker.output())
  end)

  it("rides out a job server that is down for 5 s and delivers everything once", function()
    emu = helpers.start()
    local ids = {}
    for i = 1, 20 do
      ids[i] = emu.submit({ seconds = 0.2 })
    end
    worker = helpers.worker(emu, "spec/fixtures/sleepy.lua", { SLEEPY_CONCURRENCY = "4",
      RUNPOD_LOG_LEVEL = "ERROR" })
    helpers.sleep(0.5)
    emu.json("POST", "/_emulator/faults", { ["job-take"] = "close", ["job-done"] = "close",
      ["job-stream"] = "close", ping = "close", ["job-stop"] = "close" })
    helpers.sleep(5)
    emu.json("POST", "/_emulator/faults", { ["job-take"] = "none", ["job-done"] = "none",
      ["job-stream"] = "none", ping = "none", ["job-stop"] = "none" })
    for _, id in ipairs(ids) do
      assert.are.equal("COMPLETED", emu.wait_done(id, 60).status, worker.output())
    end
    local jobs = emu.stats().jobs
    for _, id in ipairs(ids) do
      assert.are.equal(1, jobs[id].done, id)
    end
  end)

  it("skips a job-take answer that is not JSON and goes on", function()
    emu = helpers.start { "--fault", "job-take=garbage,first=2" }
    local id = emu.submit({})
    worker = helpers.worker(emu, "handlers/echo.lua")
    assert.are.equal("COMPLETED", emu.wait_done(id, 20).status)
    assert.matches("job-take: the body is not JSON", worker.output(), 1, true)
  end)

  it("skips a taken job that has no id or input, naming what is missing", function()
    -- build/spec/fake_inference's /echo answers any GET with a JSON
    -- object that has neither "id" nor "input"
    local fake, url = helpers.fake_inference()
    finally(function() fake.kill() end)
    worker = helpers.worker({ env = {} }, "handlers/echo.lua", {
      RUNPOD_WEBHOOK_GET_JOB = url .. "/echo",
      RUNPOD_WEBHOOK_POST_OUTPUT = url .. "/hello",
    })
    assert.truthy(helpers.eventually(10, function()
      return worker.output():find("ERROR  | Job has missing field(s): id, input.", 1, true)
    end), worker.output())
  end)

  it("runs jobs on several executor threads, one VM each", function()
    emu = helpers.start()
    local a = emu.submit({ seconds = 1 })
    local b = emu.submit({ seconds = 1 })
    worker = helpers.worker(emu, "spec/fixtures/spinner.lua", { RUNPOD_WORKER_THREADS = "2",
      RUNPOD_PING_INTERVAL = "100" })
    assert.are.equal("COMPLETED", emu.wait_done(a, 20).status)
    assert.are.equal("COMPLETED", emu.wait_done(b, 20).status)
    assert.matches("2 executor threads, one VM each.", worker.output(), 1, true)
    local both = find(emu.log(), function(e)
      return e.path:find("/ping/") and e.query:find(a, 1, true) and e.query:find(b, 1, true)
    end)
    assert.is_true(#both >= 1, "no ping named both busy jobs")
  end)

  it("answers a timed-out job stuck in C code, then exits 1, past the grace period", function()
    emu = helpers.start()
    local id = emu.submit({ seconds = 30 })
    worker = helpers.worker(emu, "spec/fixtures/stuck.lua", { RUNPOD_JOB_TIMEOUT = "0.5",
      RUNPOD_STOP_GRACE = "1" })
    assert.are.equal(1, worker.wait(15), worker.output())
    assert.matches("stuck in C code", worker.output(), 1, true)
    assert.are.equal(1, done_posts(emu, id))
    local view = emu.wait_done(id, 5)
    assert.are.equal("FAILED", view.status)
    assert.are.equal("TimeoutError", json.decode(view.error).error_type)
  end)

  it("times a job from its start, not from when it waited behind a busy one", function()
    -- Two CPU-bound jobs in one VM run one after the other: the second
    -- starts 1.5 s after it was taken and has its own 2 s from then.
    emu = helpers.start()
    local a = emu.submit({ seconds = 1.5, wall = true })
    local b = emu.submit({ seconds = 1.5, wall = true })
    worker = helpers.worker(emu, "spec/fixtures/spinner.lua", { SPINNER_CONCURRENCY = "2",
      RUNPOD_JOB_TIMEOUT = "2", RUNPOD_STOP_GRACE = "1" })
    assert.are.equal("COMPLETED", emu.wait_done(a, 20).status, worker.output())
    assert.are.equal("COMPLETED", emu.wait_done(b, 20).status, worker.output())
    assert.is_nil(worker.wait(1), worker.output())
    assert.is_nil(worker.output():find("stuck in C code", 1, true), worker.output())
  end)

  it("stops a job waiting behind a busy one without exiting, and finishes the busy one", function()
    emu = helpers.start()
    local a = emu.submit({ seconds = 3, wall = true })
    local b = emu.submit({ seconds = 0.2, wall = true })
    worker = helpers.worker(emu, "spec/fixtures/spinner.lua", { SPINNER_CONCURRENCY = "2",
      RUNPOD_STOP_GRACE = "1" })
    assert.truthy(helpers.eventually(10, function()
      local jobs = emu.stats().jobs
      return jobs[a] and jobs[b] and jobs[a].status == "IN_PROGRESS"
        and jobs[b].status == "IN_PROGRESS"
    end), worker.output())
    local _, status = emu.json("POST", "/v2/ep/cancel/" .. b)
    assert.are.equal(200, status)
    assert.are.equal("COMPLETED", emu.wait_done(a, 20).status, worker.output())
    assert.is_nil(worker.wait(1), worker.output())
    assert.are.equal(0, done_posts(emu, b))
    assert.matches("Stopped on request before it started.", worker.output(), 1, true)
  end)

  it("bounds the time fitness checks may take", function()
    emu = helpers.start()
    worker = helpers.worker(emu, "spec/fixtures/slow_fitness.lua",
      { RUNPOD_FITNESS_TIMEOUT = "0.5" })
    assert.are.equal(1, worker.wait(15), worker.output())
    assert.matches("timed out after 0.5 seconds", worker.output(), 1, true)
  end)

  it("loads the script once at start, also when start sets a timeout", function()
    emu = helpers.start()
    local file = os.tmpname()
    local id = emu.submit({})
    worker = helpers.worker(emu, "spec/fixtures/load_counter.lua",
      { LOAD_COUNT_FILE = file })
    local view = emu.wait_done(id, 20)
    os.remove(file)
    assert.are.equal("COMPLETED", view.status, worker.output())
    assert.are.same({ loads = 1 }, view.output)
  end)

  it("rebuilds a VM every recycle_jobs jobs", function()
    emu = helpers.start()
    local ids = {}
    for i = 1, 7 do
      ids[i] = emu.submit({})
    end
    worker = helpers.worker(emu, "spec/fixtures/recycler.lua")
    local counts = {}
    for i, id in ipairs(ids) do
      counts[i] = emu.wait_done(id, 20).output.count
    end
    assert.are.same({ 1, 2, 3, 1, 2, 3, 1 }, counts)
  end)

  it("rebuilds the VM after refresh_worker while other jobs are in flight", function()
    emu = helpers.start()
    local ids = {}
    for i = 1, 12 do
      ids[i] = emu.submit({ seconds = 0.1, refresh = (i % 3 == 0) })
    end
    worker = helpers.worker(emu, "spec/fixtures/refresh_sleepy.lua",
      { RUNPOD_LOG_LEVEL = "DEBUG" })
    for _, id in ipairs(ids) do
      assert.are.equal("COMPLETED", emu.wait_done(id, 30).status, worker.output())
    end
    -- refresh requests that meet in one drain share a rebuild
    local rebuilt = select(2, worker.output():gsub("VM rebuilt", ""))
    assert.is_true(rebuilt >= 2 and rebuilt <= 4, rebuilt .. " rebuilds")
  end)

  it("with refresh_mode pod posts stopPod, takes no more jobs, delivers the rest, exits 0",
    function()
      emu = helpers.start()
      local slow = emu.submit({ seconds = 1 })
      local refresher = emu.submit({ seconds = 0.2, refresh = true })
      worker = helpers.worker(emu, "spec/fixtures/refresh_sleepy.lua",
        { RUNPOD_REFRESH_MODE = "pod", RUNPOD_LOG_LEVEL = "DEBUG" })
      assert.are.equal("COMPLETED", emu.wait_done(refresher, 20).status, worker.output())
      assert.are.equal(0, worker.wait(20), worker.output())
      assert.are.equal("COMPLETED", emu.wait_done(slow, 5).status, worker.output())
      local log = emu.log()
      local bodies, refresher_done = {}, nil
      for _, e in ipairs(find(log, function(e) return e.path:find("/job%-done/") end)) do
        local id = e.path:match("[^/]+$")
        bodies[id] = json.decode(e.body)
        if id == refresher then
          refresher_done = e.seq
        end
      end
      assert.are.same({ output = { ok = true }, stopPod = true }, bodies[refresher])
      assert.are.same({ output = { ok = true } }, bodies[slow])
      -- no job-take once the stopPod result was produced
      for _, e in ipairs(find(log, function(e) return e.path:find("/job%-take/") end)) do
        assert.is_true(e.seq < refresher_done, "a job-take after stopPod")
      end
      assert.matches("refresh_mode pod", worker.output(), 1, true)
      -- the pod restarts: the VM is not rebuilt first
      assert.is_nil(worker.output():find("VM rebuilt", 1, true))
    end)

  it("with refresh_mode pod keeps serving after a refresh() asked while the script loads",
    function()
    emu = helpers.start()
    local count = os.tmpname()
    finally(function() os.remove(count) end)
    local a, b = emu.submit(1), emu.submit(2)
    worker = helpers.worker(emu, "spec/fixtures/load_counter.lua", { LOAD_COUNT_FILE = count,
      LOAD_COUNT_REFRESH = "1", RUNPOD_REFRESH_MODE = "pod" })
    for _, id in ipairs({ a, b }) do
      assert.are.equal("COMPLETED", emu.wait_done(id, 20).status, worker.output())
    end
    for _, entry in ipairs(emu.log()) do
      assert.is_falsy(entry.body and entry.body:find("stopPod", 1, true), entry.body)
    end
  end)

  it("keeps the in-place VM rebuild as the default refresh, without stopPod", function()
    emu = helpers.start()
    local first = emu.submit({ seconds = 0.01, refresh = true })
    worker = helpers.worker(emu, "spec/fixtures/refresh_sleepy.lua")
    assert.are.equal("COMPLETED", emu.wait_done(first, 20).status, worker.output())
    local second = emu.submit({ seconds = 0.01 })
    assert.are.equal("COMPLETED", emu.wait_done(second, 20).status, worker.output())
    for _, e in ipairs(find(emu.log(), function(e) return e.path:find("/job%-done/") end)) do
      assert.is_nil(json.decode(e.body).stopPod)
    end
    assert.is_nil(worker.wait(0))
  end)

  it("refuses a refresh mode it does not know, at start", function()
    emu = helpers.start()
    worker = helpers.worker(emu, "spec/fixtures/refresh_sleepy.lua",
      { RUNPOD_REFRESH_MODE = "container" })
    assert.are.equal(7, worker.wait(20), worker.output())
    assert.matches('RUNPOD_REFRESH_MODE must be \\"vm\\" or \\"pod\\", got \\"container\\"',
      worker.output(), 1, true)
  end)
end)
