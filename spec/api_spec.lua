-- End-to-end tests of the local API server, runpod-worker HANDLER
-- --rp_serve_api (docs/api.md): the real binary on a free loopback port,
-- driven with the curl command line. Every request is bounded by curl's
-- --max-time and every wait by a deadline.
local proc = require "helpers.proc"
local emulator = require "helpers.emulator"
local curl = require "helpers.curl"
local json = require("runpod").json

local quote = proc.quote
local sleep = emulator.sleep
local SANITIZE = (os.getenv("RP_SANITIZE") or "") ~= ""
local TERMINAL = { COMPLETED = true, FAILED = true, CANCELLED = true, TIMED_OUT = true }

-- Variables of the caller's environment that would change the mode.
local UNSET = { "RUNPOD_WEBHOOK_GET_JOB", "RUNPOD_WEBHOOK_POST_OUTPUT", "RUNPOD_WEBHOOK_PING",
  "RUNPOD_ENDPOINT_ID", "RUNPOD_REALTIME_PORT", "RUNPOD_REALTIME_CONCURRENCY",
  "RUNPOD_POD_ID", "RUNPOD_AI_API_KEY", "RUNPOD_LOG_LEVEL" }

local shell = curl.shell
local http = curl.request
local background = curl.background

-- The listening sockets, as "ADDR:PORT pid" lines of ss.
local function listeners()
  return shell("ss -ltnpH 2>/dev/null")
end

local free_port = curl.free_port

-- start(handler, args, env) -> server { url, port, process, call, json, stop }
-- Waits until the job loop polls (health: workers.ready >= 1). Tries another
-- port when the one picked was taken meanwhile.
local start_on

local function start(handler, args, env)
  for _ = 1, 2 do
    local ok, s = pcall(start_on, handler, args, env, free_port())
    if ok then
      return s
    end
    if not tostring(s):find("Address already in use", 1, true) then
      error(s, 0)
    end
  end
  return start_on(handler, args, env, free_port())
end

function start_on(handler, args, env, port)
  local argv = { "env" }
  for _, name in ipairs(UNSET) do
    argv[#argv + 1] = "-u"
    argv[#argv + 1] = name
  end
  -- After the -u list, so that the test's own values stay.
  for k, v in pairs(env or {}) do
    argv[#argv + 1] = k .. "=" .. v
  end
  argv[#argv + 1] = proc.worker
  argv[#argv + 1] = handler
  local realtime = env and env.RUNPOD_REALTIME_PORT
  if not realtime then
    argv[#argv + 1] = "--rp_serve_api"
    argv[#argv + 1] = "--rp_api_port"
    argv[#argv + 1] = tostring(port)
  end
  for _, a in ipairs(args or {}) do
    argv[#argv + 1] = a
  end
  local e = { RUNPOD_API_IDLE_TIMEOUT = "2" }
  if SANITIZE then
    e.ASAN_OPTIONS = "detect_leaks=1"
  end
  local h = emulator.spawn(argv, e)
  local s = { process = h, port = tonumber(realtime) or port }
  s.url = "http://127.0.0.1:" .. s.port
  function s.call(method, path, body, max_time)
    return http(method, s.url .. path, body, { "Content-Type: application/json" }, max_time)
  end
  function s.json(method, path, body)
    local code, text = s.call(method, path, body and json.encode(body))
    return text and json.decode(text), code
  end
  function s.stop()
    h.signal("TERM")
    local rc = h.wait(30)
    local out = h.output()
    h.kill()
    return rc, out
  end
  local deadline = os.time() + 30
  repeat
    local v = s.json("GET", "/health")
    if v and v.workers and v.workers.ready >= 1 then
      return s
    end
    if h.wait(0) then
      break
    end
    sleep(0.05)
  until os.time() > deadline
  local out = h.output()
  h.kill()
  error("the API server did not come up:\n" .. out)
end

-- POSTs 20 MiB + 1 bytes (one over the cap) to url with curl; returns the
-- answer's body and a line with its status.
local function post_over_cap(url)
  local f = os.tmpname()
  shell("head -c " .. (20 * 1024 * 1024 + 1) .. " /dev/zero | tr '\\0' ' ' > " .. quote(f))
  local out = shell("env -u LD_PRELOAD curl -s --max-time 20 -w '\\n%{http_code}' "
    .. "-H 'Content-Type: application/json' --data-binary @" .. quote(f) .. " " .. quote(url))
  os.remove(f)
  return out
end

-- wait_status(server, id, want[, seconds]) -> the last view seen
local function wait_status(s, prefix, id, want, seconds)
  local deadline = os.time() + (seconds or 20)
  local v
  repeat
    v = s.json("GET", prefix .. "/status/" .. id)
    if v and (v.status == want or (want == "terminal" and TERMINAL[v.status])) then
      return v
    end
    sleep(0.05)
  until os.time() > deadline
  return v
end

describe("runpod-worker --rp_serve_api", function()
  describe("with the echo handler", function()
    local s

    setup(function()
      s = start("handlers/echo.lua")
    end)

    teardown(function()
      if s then
        local rc, out = s.stop()
        assert.are.equal(0, rc, out)
        assert.is_nil(out:find("Sanitizer", 1, true), out)
      end
    end)

    it("binds localhost (127.0.0.1) by default, and logs its URL", function()
      local lines = listeners()
      assert.truthy(lines:find("127.0.0.1:" .. s.port .. " ", 1, true), lines)
      assert.falsy(lines:find("0.0.0.0:" .. s.port .. " ", 1, true), lines)
      assert.truthy(s.process.output():find("Local API server on http://localhost:" .. s.port
        .. "/ (127.0.0.1; jobs at once: the script's concurrency)", 1, true),
        s.process.output())
    end)

    for _, prefix in ipairs({ "", "/v2/ep", "/v2/any-endpoint" }) do
      describe("routes at " .. (prefix == "" and "the root" or prefix .. "/"), function()
        it("POST /runsync answers the finished job", function()
          local v, code = s.json("POST", prefix .. "/runsync?wait=10000", { input = { x = 1 } })
          assert.are.equal(200, code)
          assert.are.equal("COMPLETED", v.status)
          assert.are.same({ echo = { x = 1 } }, v.output)
          assert.are.equal("number", type(v.executionTime))
        end)

        it("POST /run, then GET /status and /status-sync", function()
          local v, code = s.json("POST", prefix .. "/run", { input = "hi" })
          assert.are.equal(200, code)
          assert.are.equal("IN_QUEUE", v.status)
          local done = s.json("GET", prefix .. "/status-sync/" .. v.id .. "?wait=10000")
          assert.are.equal("COMPLETED", done.status)
          assert.are.same({ echo = "hi" }, done.output)
          local again = s.json("POST", prefix .. "/status/" .. v.id)
          assert.are.same(done.output, again.output)
        end)

        it("GET /stream delivers a non-streaming job's output as one chunk", function()
          local v = s.json("POST", prefix .. "/run", { input = 7 })
          wait_status(s, prefix, v.id, "COMPLETED")
          local st = s.json("GET", prefix .. "/stream/" .. v.id)
          assert.are.equal("COMPLETED", st.status)
          assert.are.same({ { output = { echo = 7 } } }, st.stream)
        end)

        it("POST /cancel keeps a finished job's status", function()
          local v = s.json("POST", prefix .. "/runsync", { input = 1 })
          local c, code = s.json("POST", prefix .. "/cancel/" .. v.id)
          assert.are.equal(200, code)
          assert.are.same({ id = v.id, status = "COMPLETED" }, c)
        end)

        it("GET /health and POST /purge-queue", function()
          local h, code = s.json("GET", prefix .. "/health")
          assert.are.equal(200, code)
          assert.is_true(h.jobs.completed >= 1)
          assert.are.equal(1, h.workers.ready)
          local p
          p, code = s.json("POST", prefix .. "/purge-queue")
          assert.are.equal(200, code)
          assert.are.same({ removed = 0, status = "completed" }, p)
        end)
      end)
    end

    -- Jobs queued behind a running one are taken by the executor as the
    -- one before ends; each still gets its own result, exactly once.
    it("answers each of 40 jobs queued at once with its own result", function()
      local ids = {}
      for i = 1, 40 do
        ids[i] = s.json("POST", "/run", { input = { n = i } }).id
      end
      for i, id in ipairs(ids) do
        local v = s.json("GET", "/status-sync/" .. id .. "?wait=20000")
        assert.are.equal("COMPLETED", v.status)
        assert.are.same({ echo = { n = i } }, v.output)
      end
    end)

    it("GET / serves the self-contained page", function()
      local code, body = s.call("GET", "/")
      assert.are.equal(200, code)
      assert.truthy(body:find("<textarea id=\"input\"", 1, true))
      assert.truthy(body:find("<button id=\"run\"", 1, true))
      assert.falsy(body:find("https?://"), "an external resource")
      assert.falsy(body:find("src=", 1, true), "an external resource")
      local ct = shell("env -u LD_PRELOAD curl -s -o /dev/null -w '%{content_type}' "
        .. s.url .. "/")
      assert.are.equal("text/html; charset=utf-8", ct)
    end)

    it("GET /docs redirects to the page, as the Python SDK's FastAPI server", function()
      local out = shell("env -u LD_PRELOAD curl -s -m 10 -o /dev/null "
        .. "-w '%{http_code} %{redirect_url}' " .. s.url .. "/docs")
      assert.are.equal("307 " .. s.url .. "/", out)
      out = shell("env -u LD_PRELOAD curl -s -m 10 -L " .. s.url .. "/docs")
      assert.truthy(out:find("<textarea id=\"input\"", 1, true), out)
      assert.are.equal(405, (s.call("POST", "/docs", "{}")))
    end)

    it("GET /openapi.json is an OpenAPI 3.0 document naming every route", function()
      local code, body = s.call("GET", "/openapi.json")
      assert.are.equal(200, code)
      local doc = assert(json.decode(body))
      assert.truthy(doc.openapi:match("^3%.0%."))
      for _, route in ipairs({ "/run", "/runsync", "/status/{id}", "/status-sync/{id}",
          "/stream/{id}", "/cancel/{id}", "/retry/{id}", "/health", "/purge-queue",
          "/{endpoint_id}/realtime" }) do
        assert.truthy(doc.paths[route], route)
      end
    end)

    it("never answers the worker routes on the public port", function()
      for _, r in ipairs({ { "GET", "/v2/local/job-take/w?gpu=local&job_in_progress=0" },
          { "GET", "/job-take/w" }, { "GET", "/v2/local/job-take-batch/w?batch_size=2" },
          { "POST", "/v2/local/job-done/w/id?isStream=false" },
          { "POST", "/v2/local/job-stream/w/id" }, { "GET", "/v2/local/ping/w" },
          { "GET", "/v2/local/job-stop/w" }, { "GET", "/_emulator/stats" },
          { "POST", "/_emulator/jobs?count=1" } }) do
        local code, body = s.call(r[1], r[2], r[1] == "POST" and "{}" or nil)
        assert.are.equal(404, code, r[2])
        assert.are.same({ error = "no such route" }, json.decode(body))
      end
    end)

    it("runs its jobs in process: the public port is its only listener", function()
      -- The job loop takes jobs from the store and delivers results into it
      -- by calls: no second listener, no job-take or job-done over loopback.
      assert.are.same({ echo = 7 }, s.json("POST", "/runsync", { input = 7 }).output)
      local ports = {}
      for line in listeners():gmatch("[^\n]+") do
        local port = line:match("%s[%d%.]+:(%d+)%s.*pid=" .. s.process.pid .. ",")
        if port then
          ports[#ports + 1] = tonumber(port)
        end
      end
      assert.are.same({ s.port }, ports, listeners())
    end)

    describe("bad requests", function()
      local function expect(code, message, method, path, body)
        local got, text = s.call(method, path, body)
        assert.are.equal(code, got, text)
        assert.are.same({ error = message }, json.decode(text))
      end

      it("answers 400 to malformed JSON and to a body without input", function()
        expect(400, "invalid JSON body (an object is expected)", "POST", "/run", "{\"input\":")
        expect(400, "invalid JSON body (an object is expected)", "POST", "/runsync", "[1]")
        expect(400, "missing input", "POST", "/run", "{\"inputs\":1}")
        expect(400, "missing input", "POST", "/v2/ep/run", "{}")
        -- A null input is none (the worker would drop the job: it would
        -- stay IN_PROGRESS); the last of two keys counts, as in the worker.
        expect(400, "missing input", "POST", "/runsync", "{\"input\":null}")
        expect(400, "missing input", "POST", "/run", "{\"input\":1,\"input\":null}")
        expect(400, "webhook must be an http(s) URL string", "POST", "/run",
          "{\"input\":1,\"webhook\":\"ftp://x\"}")
        -- an empty webhook is none, as in the Python SDK
        local v, code = s.json("POST", "/runsync", { input = 1, webhook = "" })
        assert.are.equal(200, code)
        assert.are.equal("COMPLETED", v.status)
      end)

      it("answers 400 up front to a job the worker could not decode", function()
        -- The worker's JSON codec refuses these; queued, the job would never end.
        expect(400, "invalid JSON body (lone UTF-16 surrogate in a \\u escape at byte 10)",
          "POST", "/run", "{\"input\":\"\\ud83d\"}")
        expect(400, "invalid JSON body (lone UTF-16 surrogate in a \\u escape at byte 15)",
          "POST", "/runsync", "{\"input\":{\"a\":\"\\udc00x\"}}")
        expect(400, "invalid JSON body (number out of range at byte 9)",
          "POST", "/run", "{\"input\":1e400}")
        expect(400, "invalid JSON body (number out of range at byte 9)",
          "POST", "/v2/ep/run", "{\"input\":1" .. ("0"):rep(400) .. ".5}")
        expect(400, "invalid JSON body (nesting deeper than 1000 at byte 1008)",
          "POST", "/run", "{\"input\":" .. ("["):rep(1000) .. ("]"):rep(1000) .. "}")
        -- JSON is UTF-8: a queued job is handed on as it came.
        expect(400, "invalid JSON body (invalid UTF-8 at byte 10)",
          "POST", "/run", "{\"input\":\"\xff\"}")
        -- What the codec reads still runs: a surrogate pair, 1e-400, 1000 levels.
        local v = s.json("POST", "/runsync", { input = "\u{1F600}" })
        assert.are.same({ echo = "\u{1F600}" }, v.output)
        local code, body = s.call("POST", "/runsync", "{\"input\":[\"\\ud83d\\ude00\",1e-400]}")
        assert.are.equal(200, code, body)
        assert.are.same({ echo = { "\u{1F600}", 0 } }, json.decode(body).output)
        -- An integer of any length is kept exact, digit for digit.
        local big = "1" .. ("0"):rep(400)
        code, body = s.call("POST", "/runsync", "{\"input\":" .. big .. "}")
        assert.are.equal(200, code, body)
        assert.truthy(body:find("\"echo\":" .. big .. "}", 1, true), body)
        code, body = s.call("POST", "/runsync", "{\"input\":" .. ("["):rep(990)
          .. ("]"):rep(990) .. "}")
        assert.are.equal(200, code, body)
        assert.are.equal("COMPLETED", json.decode(body).status)
      end)

      it("ends a job FAILED when its result is too deep to store, never IN_PROGRESS", function()
        -- 999 levels of input fit; echoed inside {"output":{"echo":...}} they do not.
        local code, body = s.call("POST", "/runsync?wait=60000", "{\"input\":"
          .. ("["):rep(999) .. ("]"):rep(999) .. "}")
        assert.are.equal(200, code, body)
        local v = json.decode(body)
        assert.are.equal("FAILED", v.status, body)
        -- the worker's encoder counts the body's own object in the limit
        local err = json.decode(v.error)
        assert.are.equal("EncodeError", err.error_type)
        assert.matches("nesting deeper than 1000 at output.echo[1]", err.error_message, 1, true)
      end)

      it("answers 405 to a wrong method", function()
        expect(405, "method not allowed (POST)", "GET", "/run")
        expect(405, "method not allowed (POST)", "GET", "/v2/ep/runsync")
        expect(405, "method not allowed (GET)", "POST", "/health")
        expect(405, "method not allowed (POST)", "GET", "/cancel/x")
        expect(405, "method not allowed (GET)", "DELETE", "/")
      end)

      it("answers 404 to an unknown route or job id", function()
        expect(404, "no such route", "GET", "/nope")
        expect(404, "no such route", "GET", "/v2")
        expect(404, "no such route", "GET", "/status")
        expect(404, "no such route", "GET", "/status/a/b")
        expect(404, "job not found", "GET", "/status/no-such-job")
        expect(404, "job not found", "GET", "/v2/ep/stream/no-such-job")
        expect(404, "job not found", "POST", "/cancel/no-such-job")
        expect(404, "no such route", "POST", "/ep/realtime", "{\"input\":1}")
      end)

      it("answers 413 to a body over 20 MiB", function()
        local out = post_over_cap(s.url .. "/run")
        assert.are.equal("{\"error\":\"request body too large\"}\n413", out)
        -- The server goes on.
        local v = s.json("POST", "/runsync", { input = 2 })
        assert.are.equal("COMPLETED", v.status)
      end)

      it("closes a connection that goes idle mid-request", function()
        -- rc=0: cat saw EOF from the server (idle time-out 2 s here); had
        -- the server kept the connection, timeout would end cat with 124.
        local out = shell("bash -c " .. quote("exec 3<>/dev/tcp/127.0.0.1/" .. s.port
          .. "; printf 'GET /health HTTP/1.1\\r\\nHost: x\\r\\n' >&3;"
          .. " timeout 20 cat <&3; echo rc=$?"))
        assert.are.equal("rc=0\n", out)      -- EOF from the server, no answer
      end)
    end)
  end)

  describe("runs jobs asynchronously", function()
    it("answers /run at once and reports IN_PROGRESS while the handler sleeps", function()
      -- The job cannot end before the spec creates the file, so /run and
      -- /status answering meanwhile proves that neither waits for it.
      local s = start("spec/fixtures/sleepy.lua")
      local gate = os.tmpname()
      os.remove(gate)
      finally(function()
        os.remove(gate)
        s.stop()
      end)
      local code, v = s.call("POST", "/run",
        json.encode({ input = { seconds = 0.01, until_file = gate } }))
      assert.are.equal(200, code)
      v = json.decode(v)
      assert.are.equal("IN_QUEUE", v.status)
      local st = wait_status(s, "", v.id, "IN_PROGRESS", 20)
      assert.are.equal("IN_PROGRESS", st.status)
      -- A status request never runs the handler: it answers while it runs.
      local text
      code, text = s.call("GET", "/status/" .. v.id)
      assert.are.equal(200, code)
      assert.are.equal("IN_PROGRESS", json.decode(text).status)
      proc.write_file(gate, "")
      st = wait_status(s, "", v.id, "terminal", 20)
      assert.are.equal("COMPLETED", st.status)
      assert.are.equal(0.01, st.output.slept)
    end)

    it("runs one job at a time by default; cancel and purge-queue work", function()
      local s = start("spec/fixtures/sleepy.lua")
      finally(function() s.stop() end)
      local a = s.json("POST", "/run", { input = { seconds = 30 } })
      assert.are.equal("IN_PROGRESS", wait_status(s, "", a.id, "IN_PROGRESS", 5).status)
      local b = s.json("POST", "/run", { input = { seconds = 0.01 } })
      local c = s.json("POST", "/v2/x/run", { input = { seconds = 0.01 } })
      -- b stays queued while a runs: ten status polls in a row see it wait.
      for _ = 1, 10 do
        assert.are.equal("IN_QUEUE", s.json("GET", "/status/" .. b.id).status)
      end
      assert.are.same({ removed = 2, status = "completed" }, s.json("POST", "/purge-queue"))
      assert.are.equal("CANCELLED", s.json("GET", "/status/" .. c.id).status)
      assert.are.same({ id = a.id, status = "CANCELLED" }, s.json("POST", "/cancel/" .. a.id))
      -- The job loop stops the cancelled job and takes the next one.
      local d = s.json("POST", "/runsync?wait=20000", { input = { seconds = 0.01 } })
      assert.are.equal("COMPLETED", d.status)
      assert.are.equal("CANCELLED", s.json("GET", "/status/" .. a.id).status)
    end)

    it("runs --rp_api_concurrency jobs together", function()
      local s = start("spec/fixtures/sleepy.lua", { "--rp_api_concurrency", "2" })
      finally(function() s.stop() end)
      local a = s.json("POST", "/run", { input = { seconds = 3 } })
      local b = s.json("POST", "/run", { input = { seconds = 3 } })
      assert.are.equal("IN_PROGRESS", wait_status(s, "", a.id, "IN_PROGRESS", 5).status)
      assert.are.equal("IN_PROGRESS", wait_status(s, "", b.id, "IN_PROGRESS", 5).status)
      assert.are.equal("IN_PROGRESS", s.json("GET", "/status/" .. a.id).status)
      assert.truthy(s.process.output():find("2 jobs at once", 1, true))
      assert.are.equal(2, s.json("GET", "/health").jobs.inProgress)
    end)

    -- Both jobs of a script whose concurrency_modifier says 2 wait for
    -- the file at the same time: they run together, whatever the speed.
    -- The jobs end once the file exists, also when a check fails: the
    -- server then stops at once.
    local function runs_modifier_jobs_together(s)
      local gate = os.tmpname()
      os.remove(gate)
      finally(function()
        proc.write_file(gate, "")
        s.stop()
        os.remove(gate)
      end)
      local a = s.json("POST", "/run", { input = { seconds = 0.01, until_file = gate } })
      local b = s.json("POST", "/run", { input = { seconds = 0.01, until_file = gate } })
      for _, id in ipairs({ a.id, b.id }) do
        assert.are.equal("IN_PROGRESS", wait_status(s, "", id, "IN_PROGRESS", 20).status,
          s.process.output())
      end
      assert.are.equal(2, s.json("GET", "/health").jobs.inProgress)
      proc.write_file(gate, "")
      for _, id in ipairs({ a.id, b.id }) do
        assert.are.equal("COMPLETED", wait_status(s, "", id, "terminal", 20).status)
      end
    end

    it("runs as many jobs at once as the script's concurrency_modifier says", function()
      local s = start("spec/fixtures/sleepy.lua", nil, { SLEEPY_CONCURRENCY = "2" })
      runs_modifier_jobs_together(s)
      assert.truthy(s.process.output():find("jobs at once: the script's concurrency", 1, true))
    end)

    it("runs as many as the concurrency_modifier says in realtime mode too", function()
      local s = start("spec/fixtures/sleepy.lua", nil, { SLEEPY_CONCURRENCY = "2",
        RUNPOD_REALTIME_PORT = tostring(free_port()) })
      runs_modifier_jobs_together(s)
    end)

    it("asks the concurrency_modifier again while every place is taken", function()
      local limit = os.tmpname()
      local gate = os.tmpname()
      os.remove(gate)
      proc.write_file(limit, "1")
      local s = start("spec/fixtures/sleepy.lua", nil, { SLEEPY_CONCURRENCY_FILE = limit })
      finally(function()
        proc.write_file(gate, "")
        s.stop()
        os.remove(gate)
        os.remove(limit)
      end)
      local a = s.json("POST", "/run", { input = { seconds = 0.01, until_file = gate } })
      local b = s.json("POST", "/run", { input = { seconds = 0.01, until_file = gate } })
      assert.are.equal("IN_PROGRESS", wait_status(s, "", a.id, "IN_PROGRESS", 20).status)
      assert.are.equal("IN_QUEUE", s.json("GET", "/status/" .. b.id).status)
      -- The one place is taken; the modifier now answers 2, and b starts
      -- while a still waits for the gate.
      proc.write_file(limit, "2")
      assert.are.equal("IN_PROGRESS", wait_status(s, "", b.id, "IN_PROGRESS", 20).status,
        s.process.output())
      assert.are.equal(2, s.json("GET", "/health").jobs.inProgress)
      proc.write_file(gate, "")
      for _, id in ipairs({ a.id, b.id }) do
        assert.are.equal("COMPLETED", wait_status(s, "", id, "terminal", 20).status)
      end
    end)

    it("runs jobs one at a time while the concurrency_modifier answers 0", function()
      -- In serverless mode 0 pauses the job-take; here requests would
      -- hang, and the Python SDK's server never asks the modifier.
      local limit = os.tmpname()
      proc.write_file(limit, "0")
      local s = start("spec/fixtures/sleepy.lua", nil, { SLEEPY_CONCURRENCY_FILE = limit })
      finally(function()
        s.stop()
        os.remove(limit)
      end)
      local a = s.json("POST", "/run", { input = { seconds = 0.01 } })
      assert.are.equal("COMPLETED", wait_status(s, "", a.id, "terminal", 20).status,
        s.process.output())
    end)

    -- B is queued behind A; the executor takes it itself as A ends, before
    -- the job loop hears of it; cancelling B must still stop it, and free
    -- the one place for C.
    it("stops a job the executor took as the one before it ended", function()
      local s = start("spec/fixtures/sleepy.lua")
      finally(function() s.stop() end)
      local a = s.json("POST", "/run", { input = { seconds = 0.3 } })
      local b = s.json("POST", "/run", { input = { seconds = 30 } })
      assert.are.equal("IN_PROGRESS", wait_status(s, "", b.id, "IN_PROGRESS", 20).status)
      assert.are.equal("COMPLETED", s.json("GET", "/status/" .. a.id).status)
      assert.are.same({ id = b.id, status = "CANCELLED" }, s.json("POST", "/cancel/" .. b.id))
      local c = s.json("POST", "/runsync?wait=20000", { input = { seconds = 0.01 } })
      assert.are.equal("COMPLETED", c.status)
      assert.truthy(emulator.eventually(10, function()
        return s.process.output():find(b.id .. " | Stopped on request", 1, true)
      end, 0.05), s.process.output())
    end)

    it("lets --rp_api_concurrency override the concurrency_modifier", function()
      local s = start("spec/fixtures/sleepy.lua", { "--rp_api_concurrency", "1" },
        { SLEEPY_CONCURRENCY = "2" })
      finally(function() s.stop() end)
      local a = s.json("POST", "/run", { input = { seconds = 30 } })
      assert.are.equal("IN_PROGRESS", wait_status(s, "", a.id, "IN_PROGRESS", 20).status)
      local b = s.json("POST", "/run", { input = { seconds = 0.01 } })
      -- b stays queued while a runs: ten status polls in a row see it wait.
      for _ = 1, 10 do
        assert.are.equal("IN_QUEUE", s.json("GET", "/status/" .. b.id).status)
      end
      assert.truthy(s.process.output():find("1 job at once", 1, true))
      s.json("POST", "/cancel/" .. a.id)
    end)

    it("streams a streaming handler's partials through /stream", function()
      local s = start("spec/fixtures/sleeper.lua")
      finally(function() s.stop() end)
      local v = s.json("POST", "/v2/ep/run", { input = { n = 5 } })
      local got = {}
      local deadline = os.time() + 20
      repeat
        local st = s.json("GET", "/v2/ep/stream/" .. v.id)
        for _, c in ipairs(st.stream) do
          got[#got + 1] = c.output
        end
      until TERMINAL[st.status] or os.time() > deadline
      assert.are.same({ 1, 2, 3, 4, 5 }, got)
      local done = s.json("GET", "/status/" .. v.id)
      assert.are.same({ 1, 2, 3, 4, 5 }, done.output)
    end)

    -- The executors file partials and results in the store themselves:
    -- each job's partials arrive whole and in order, all of them before
    -- its end, with many jobs streaming at once.
    it("keeps each job's partials in order, before its end, with 12 jobs streaming at once",
      function()
        local s = start("spec/fixtures/sleeper.lua", { "--rp_api_concurrency", "6" })
        finally(function() s.stop() end)
        local want, ids, got, open = {}, {}, {}, 0
        for i = 1, 30 do
          want[i] = i
        end
        for j = 1, 12 do
          ids[j] = s.json("POST", "/run", { input = { n = 30 } }).id
          got[j] = {}
          open = open + 1
        end
        local deadline = os.time() + 60
        while open > 0 and os.time() <= deadline do
          for j, id in ipairs(ids) do
            if got[j] ~= false then
              local st = s.json("GET", "/stream/" .. id)
              for _, c in ipairs(st.stream) do
                got[j][#got[j] + 1] = c.output
              end
              if TERMINAL[st.status] then
                assert.are.equal("COMPLETED", st.status)
                assert.are.same(want, got[j])
                got[j] = false
                open = open - 1
              end
            end
          end
        end
        assert.are.equal(0, open)
        for _, id in ipairs(ids) do
          assert.are.same(want, s.json("GET", "/status/" .. id).output)
        end
      end)

    it("delivers no partial of a cancelled job after the cancel, and runs the next job", function()
      local s = start("spec/fixtures/sleeper.lua")
      finally(function() s.stop() end)
      local v = s.json("POST", "/run", { input = { n = 100000 } })
      local seen = 0
      local deadline = os.time() + 20
      repeat
        seen = seen + #s.json("GET", "/stream/" .. v.id).stream
      until seen >= 3 or os.time() > deadline
      assert.is_true(seen >= 3)
      assert.are.same({ id = v.id, status = "CANCELLED" }, s.json("POST", "/cancel/" .. v.id))
      -- What was filed before the cancel may still be read once; nothing
      -- more comes, though the handler yields every 10 ms until it stops.
      local st = s.json("GET", "/stream/" .. v.id)
      assert.are.equal("CANCELLED", st.status)
      for _ = 1, 5 do
        sleep(0.05)
        st = s.json("GET", "/stream/" .. v.id)
        assert.are.equal("CANCELLED", st.status)
        assert.are.equal(0, #st.stream)
      end
      local d = s.json("POST", "/runsync?wait=20000", { input = { n = 2 } })
      assert.are.equal("COMPLETED", d.status)
      assert.are.same({ 1, 2 }, d.output)
    end)

    it("reports a failing handler's error", function()
      local s = start("handlers/failing.lua")
      finally(function() s.stop() end)
      local v = s.json("POST", "/runsync", { input = { prompt = 1 } })
      assert.are.equal("FAILED", v.status)
      local err = json.decode(v.error)
      assert.truthy(err.error_message:find("input.prompt must be a string", 1, true))
      -- /stream says why too, as the Python SDK's StreamOutput does
      local st = s.json("GET", "/stream/" .. v.id)
      assert.are.equal("FAILED", st.status)
      assert.are.same({}, st.stream)
      assert.are.equal(v.error, st.error)
    end)

    it("runs a FAILED job again under its id with /retry, as RunPod does", function()
      local s = start("spec/fixtures/fails_once.lua")
      finally(function() s.stop() end)
      local v = s.json("POST", "/runsync", { input = { k = 1 } })
      assert.are.equal("FAILED", v.status)
      local r, code = s.json("POST", "/v2/ep/retry/" .. v.id)
      assert.are.equal(200, code)
      assert.are.same({ id = v.id, status = "IN_QUEUE" }, r)
      local d = s.json("GET", "/status-sync/" .. v.id .. "?wait=20000")
      assert.are.same({ "COMPLETED", { run = 2, input = { k = 1 } } }, { d.status, d.output })
      assert.is_nil(d.error)
      assert.are.equal(1, s.json("GET", "/health").jobs.retried)
      r, code = s.json("POST", "/retry/" .. v.id)
      assert.are.same({ 400, "job is COMPLETED: only a FAILED or TIMED_OUT job can be retried" },
        { code, r.error })
      r, code = s.json("POST", "/retry/nope")
      assert.are.same({ 404, "job not found" }, { code, r.error })
    end)

    -- spec/fixtures/blocks_once.lua, 3 jobs at once, its runs counted in
    -- the file marker; stopped and the file removed when the test ends.
    local function start_blocks_once()
      local marker = os.tmpname()
      os.remove(marker)
      local s = start("spec/fixtures/blocks_once.lua", { "--rp_api_concurrency", "3" },
        { BLOCKS_ONCE_MARKER = marker })
      finally(function()
        s.stop()
        os.remove(marker)
      end)
      return s, marker
    end

    it("runs a job retried while its last run is still blocked once that run ends", function()
      -- The first run blocks 4 s in C, past its 2.5 s executionTimeout:
      -- /retry hands the job over again while that run still ends.
      local s = start_blocks_once()
      local v = s.json("POST", "/run", { input = { k = 1 }, policy = { executionTimeout = 2500 } })
      local d = s.json("GET", "/status-sync/" .. v.id .. "?wait=20000")
      assert.are.equal("TIMED_OUT", d.status)
      local _, code = s.json("POST", "/retry/" .. v.id)
      assert.are.equal(200, code)
      d = s.json("GET", "/status-sync/" .. v.id .. "?wait=20000")
      assert.are.same({ "COMPLETED", { run = 2, input = { k = 1 } } }, { d.status, d.output },
        s.process.output())
      assert.matches(v.id .. " | Sent again while its last run ends", s.process.output(), 1, true)
    end)

    it("never starts a retried job cancelled while its last run is still blocked", function()
      local s, marker = start_blocks_once()
      local v = s.json("POST", "/run", { input = { k = 1 }, policy = { executionTimeout = 1000 } })
      assert.are.equal("TIMED_OUT", s.json("GET", "/status-sync/" .. v.id .. "?wait=20000").status)
      s.json("POST", "/retry/" .. v.id)
      assert.truthy(emulator.eventually(10, function()
        return s.process.output():find(v.id .. " | Sent again", 1, true)
      end, 0.05), s.process.output())
      assert.are.equal("CANCELLED", s.json("POST", "/cancel/" .. v.id).status)
      -- The blocked run ends 4 s after it started; nothing runs after it.
      assert.truthy(emulator.eventually(15, function()
        return s.process.output():find(v.id .. " | Stopped on request.\n", 1, true)
      end, 0.05), s.process.output())
      s.json("POST", "/run", { input = { k = 2 } })  -- a later job runs: the loop went on
      assert.truthy(emulator.eventually(10, function()
        return proc.read_file(marker) == "2"
      end, 0.05), s.process.output())
      assert.are.equal("CANCELLED", s.json("GET", "/status/" .. v.id).status)
      local started = 0
      for _ in s.process.output():gmatch((v.id .. " | Started"):gsub("%p", "%%%0")) do
        started = started + 1
      end
      assert.are.equal(1, started)
    end)

    it("fails a job past start's timeout, logged with the error JSON it answers", function()
      local s = start("spec/fixtures/limited.lua", nil, { LIMITS_TIMEOUT = "0.5" })
      finally(function() s.stop() end)
      local v = s.json("POST", "/runsync?wait=20000", { input = { mode = "spin" } })
      assert.are.equal("FAILED", v.status)
      local err = json.decode(v.error)
      assert.are.equal("TimeoutError", err.error_type)
      assert.are.equal("job timed out after 0.5 seconds (timeout)", err.error_message)
      assert.truthy(emulator.eventually(10, function()
        return #proc.captured_errors(s.process.output(), v.id) > 0
      end, 0.05), s.process.output())
      assert.are.same({ v.error }, proc.captured_errors(s.process.output(), v.id))
      assert.is_nil(s.process.output():find("LuaError", 1, true), s.process.output())
    end)
  end)

  describe("the realtime route", function()
    it("runs POST /{RUNPOD_ENDPOINT_ID}/realtime and answers the result", function()
      local s = start("handlers/echo.lua", nil, { RUNPOD_ENDPOINT_ID = "ep-1" })
      finally(function() s.stop() end)
      local v, code = s.json("POST", "/ep-1/realtime", { input = { x = 3 } })
      assert.are.equal(200, code)
      assert.are.same({ output = { echo = { x = 3 } } }, v)
      v, code = s.json("POST", "/ep-1/realtime", { id = "mine", input = "y" })
      assert.are.equal(200, code)
      assert.are.same({ output = { echo = "y" } }, v)
      local text
      code, text = s.call("POST", "/ep-1/realtime", "{\"nope\":1}")
      assert.are.equal(400, code)
      assert.are.same({ error = "missing input" }, json.decode(text))
      -- Refused up front like /run: the request is not held forever.
      code, text = s.call("POST", "/ep-1/realtime", "{\"input\":[\"\\udc00\"]}")
      assert.are.equal(400, code, text)
      assert.are.same({ error = "invalid JSON body (lone UTF-16 surrogate in a \\u escape "
        .. "at byte 11)" }, json.decode(text))
      code = s.call("GET", "/ep-1/realtime")
      assert.are.equal(405, code)
      code = s.call("POST", "/other/realtime", "{\"input\":1}")
      assert.are.equal(404, code)
    end)

    it("cancels the job of a client that went away and lets its request go", function()
      local s = start("spec/fixtures/sleepy.lua", nil, { RUNPOD_ENDPOINT_ID = "ep-3" })
      finally(function() s.stop() end)
      -- The client gives up after 1 s; the job would sleep 60 s.
      local code = s.call("POST", "/ep-3/realtime",
        json.encode({ id = "gone-1", input = { seconds = 60 } }), 1)
      assert.are_not.equal(200, code)
      local jobs = emulator.eventually(10, function()
        local v = s.json("GET", "/health")
        if v and v.jobs.inProgress == 0 and v.jobs.inQueue == 0 then
          return v.jobs
        end
      end)
      assert.is_table(jobs, s.process.output())
      -- A cancelled job's id stays taken: the worker may still be
      -- stopping it, and a new job under that id would pass for it.
      local taken, text = s.call("POST", "/ep-3/realtime",
        json.encode({ id = "gone-1", input = { seconds = 0.01 } }))
      assert.are.equal(409, taken, text)
      -- and the worker is free for the next one
      local v, got = s.json("POST", "/ep-3/realtime", { input = { seconds = 0.01 } })
      assert.are.equal(200, got)
      assert.is_table(v.output, json.encode(v))
    end)

    it("answers a failed job's error with 200", function()
      local s = start("handlers/failing.lua", nil, { RUNPOD_ENDPOINT_ID = "ep-2" })
      finally(function() s.stop() end)
      local v, code = s.json("POST", "/ep-2/realtime", { input = {} })
      assert.are.equal(200, code)
      assert.is_nil(v.output)
      assert.truthy(json.decode(v.error).error_message:find("input.prompt", 1, true))
    end)
  end)

  describe("RUNPOD_REALTIME_PORT", function()
    it("serves on 0.0.0.0 at that port with RUNPOD_REALTIME_CONCURRENCY", function()
      local port = free_port()
      local s = start("spec/fixtures/sleepy.lua", nil, { RUNPOD_REALTIME_PORT = tostring(port),
        RUNPOD_REALTIME_CONCURRENCY = "2" })
      finally(function() s.stop() end)
      local lines = listeners()
      assert.truthy(lines:find("0.0.0.0:" .. port .. " ", 1, true), lines)
      assert.truthy(s.process.output():find("on http://0.0.0.0:" .. port .. "/ (0.0.0.0; 2 jobs",
        1, true), s.process.output())
      local v = s.json("POST", "/runsync", { input = { seconds = 0.01 } })
      assert.are.equal("COMPLETED", v.status)
    end)
  end)

  describe("RUNPOD_REALTIME_PORT as the Python SDK", function()
    it("answers {\"output\": null} for a handler that returns nil", function()
      local s = start("spec/fixtures/realtime_probe.lua", nil, {
        RUNPOD_REALTIME_PORT = tostring(free_port()), RUNPOD_ENDPOINT_ID = "ep-4" })
      finally(function() s.stop() end)
      local code, text = s.call("POST", "/ep-4/realtime", '{"input": {"mode": "nil"}}')
      assert.are.equal(200, code)
      assert.are.equal('{"output":null}', text)
      local v = s.json("POST", "/ep-4/realtime", { input = { mode = "key" } })
      assert.are.same({ output = { key = "unset" } }, v)
    end)

    it("is off when 0 or empty", function()
      for _, value in ipairs { "0", "" } do
        local r = proc.worker_run({ "handlers/echo.lua", "--test_input", '{"input": 5}' },
          { timeout = 20, env = { RUNPOD_REALTIME_PORT = value } })
        assert.are.equal(0, r.code, r.stdout .. r.stderr)
        assert.matches('Job result: {"output":{"echo":5}}', r.stdout .. r.stderr, 1, true)
      end
    end)
  end)

  describe("the OpenAI routes", function()
    it("answer every error in OpenAI's error object", function()
      local s = start("handlers/echo.lua")
      finally(function() s.stop() end)
      local function expect(want, message, method, path, body)
        local code, text = s.call(method, path, body)
        assert.are.equal(want, code, text)
        assert.are.same({ error = { message = message, type = "invalid_request_error",
          param = json.null, code = json.null } }, json.decode(text))
      end
      -- Not UTF-8: a Python worker would drop the job, the request would hang.
      expect(400, "invalid JSON body (invalid UTF-8 at byte 12)", "POST",
        "/openai/v1/completions", "{\"prompt\":\"a\xc0\x80\"}")
      expect(404, "Invalid URL (POST /openai/v2/completions)", "POST",
        "/openai/v2/completions", "{}")
      expect(404, "Invalid URL (PUT /v2/ep/openai/v1/models)", "PUT", "/v2/ep/openai/v1/models")
      expect(400, "invalid path", "GET", "/openai/v1//models")
      local out = post_over_cap(s.url .. "/openai/v1/chat/completions")
      assert.are.equal("{\"error\":{\"message\":\"request body too large\","
        .. "\"type\":\"invalid_request_error\",\"param\":null,\"code\":null}}\n413", out)
      -- None was queued; OpenAI's deepest routes are passed on.
      local v, code = s.json("GET", "/openai/v1/threads/t1/runs/r1/steps/s1")
      assert.are.equal(200, code)
      assert.are.same({ echo = { openai_route = "/v1/threads/t1/runs/r1/steps/s1" } }, v)
      v = s.json("GET", "/health")
      assert.are.same({ 1, 0 }, { v.jobs.completed, v.jobs.failed })
    end)

    it("answer a job that timed out with 504 and the OpenAI error shape", function()
      local s = start("spec/fixtures/openai_sleeper.lua", nil, { RUNPOD_JOB_TIMEOUT = "1" })
      local ok, v, code = pcall(s.json, "POST", "/openai/v1/chat/completions", { seconds = 0 })
      local late, late_code
      if ok then
        late, late_code = s.json("POST", "/openai/v1/chat/completions", { seconds = 10 })
      end
      local rc, out = s.stop()
      assert.is_true(ok, tostring(v))
      assert.are.equal(0, rc, out)
      assert.are.equal(200, code, out)
      assert.are.same({ slept = 0 }, v)
      assert.are.equal(504, late_code, out)
      assert.are.equal("TimeoutError", late.error.type)
      assert.matches("timed out after 1 seconds", late.error.message, 1, true)
    end)
  end)

  describe("life cycle", function()
    it("exits 0 on SIGTERM after finishing the job in flight, starting none queued", function()
      local s = start("spec/fixtures/sleepy.lua")
      local held = background("POST", s.url .. "/runsync?wait=20000",
        json.encode({ input = { seconds = 1 } }))
      local deadline = os.time() + 5
      while s.json("GET", "/health").jobs.inProgress < 1 and os.time() < deadline do
        sleep(0.05)
      end
      local queued = s.json("POST", "/run", { input = { seconds = 0.01 } })
      assert.are.equal("IN_QUEUE", s.json("GET", "/status/" .. queued.id).status)
      local rc, out = s.stop()
      assert.are.equal(0, rc, out)
      assert.matches("finishing 1 in flight", out, 1, true)
      local code, body = held.wait()
      assert.are.equal(200, code)
      assert.are.equal("COMPLETED", json.decode(body).status)
      -- The executor that ran it takes no job in its place once stopping.
      assert.is_nil(out:find(queued.id, 1, true), out)
      assert.is_nil(out:find("Sanitizer", 1, true), out)
    end)

    it("survives a timed-out job whose VM rebuilds for longer than the stop grace", function()
      -- The job's end reaches the job loop before the rebuild, not after:
      -- else the loop counts the job as running past timeout + grace and
      -- exits as if it were stuck in C code.
      local s = start("spec/fixtures/slow_rebuild.lua", nil,
        { SLOW_LOAD = "1.5", RUNPOD_STOP_GRACE = "1" })
      local stopped = false
      finally(function()
        if not stopped then
          s.stop()
        end
      end)
      local v = s.json("POST", "/run", { input = { spin = true } })
      local done = wait_status(s, "", v.id, "FAILED", 20)
      assert.are.equal("FAILED", done.status)
      assert.matches("TimeoutError", json.encode(done))
      local after = s.json("POST", "/runsync?wait=20000", { input = {} })
      assert.is_table(after, "the API server is gone")
      assert.are.equal("COMPLETED", after.status)
      assert.is_nil(s.process.wait(0), "the worker exited")
      stopped = true
      local rc, out = s.stop()
      assert.are.equal(0, rc, out)
      assert.is_nil(out:find("stuck in C code", 1, true), out)
    end)

    it("counts only unfinished jobs when SIGTERM comes", function()
      local s = start("handlers/echo.lua")
      local code = s.call("POST", "/runsync", '{"input": 1}')
      assert.are.equal(200, code)
      local rc, out = s.stop()
      assert.are.equal(0, rc, out)
      assert.matches("finishing 0 in flight", out, 1, true)
    end)

    it("exits 2 with one ERROR line when the port is in use", function()
      local s = start("handlers/echo.lua")
      finally(function() s.stop() end)
      local r = proc.worker_run({ "handlers/echo.lua", "--rp_serve_api", "--rp_api_port",
        tostring(s.port) }, { timeout = 20 })
      assert.are.equal(2, r.code)
      local errors = {}
      for line in (r.stdout .. r.stderr):gmatch("[^\n]+") do
        if line:find("ERROR", 1, true) then
          errors[#errors + 1] = line
        end
      end
      assert.are.same({ "ERROR  | local API server: cannot listen on 127.0.0.1:" .. s.port
        .. " (Address already in use)" }, errors)
    end)

    it("exits with the script's load error code", function()
      local r = proc.worker_run({ "spec/fixtures/syntax_error.lua", "--rp_serve_api",
        "--rp_api_port", tostring(free_port()) }, { timeout = 20 })
      assert.are.equal(4, r.code)
    end)
  end)
end)

describe("runpod-worker --rp_serve_api request numbers", function()
  it("runs a job whose policy.executionTimeout is 6e5 ms, refusing \"6e5\" and 1e30", function()
    local s = start("spec/fixtures/sleepy.lua")
    finally(function() s.stop() end)
    local code, v = s.call("POST", "/runsync?wait=2e4",
      '{"input": {"seconds": 0.2}, "policy": {"executionTimeout": 6e5}}')
    assert.are.equal(200, code, v)
    assert.are.equal("COMPLETED", json.decode(v).status)
    v, code = s.json("POST", "/runsync?wait=2e4",
      { input = { seconds = 0.2 }, policy = { executionTimeout = "6e5" } })
    assert.are.same({ 400, "invalid policy.executionTimeout: a string (must be a whole number of ms"
      .. " in 0..604800000)" }, { code, v and v.error })
    code, v = s.call("POST", "/run", '{"input": 1, "policy": {"executionTimeout": 1e30}}')
    assert.are.same({ 400, "invalid policy.executionTimeout 1e30 (must be a whole number of ms"
      .. " in 0..604800000)" }, { code, json.decode(v).error })
  end)

  it("ends a job at its policy.executionTimeout in ms, not at the next whole second", function()
    local s = start("spec/fixtures/sleepy.lua")
    finally(function() s.stop() end)
    local v, code = s.json("POST", "/runsync?wait=2e4",
      { input = { seconds = 5 }, policy = { executionTimeout = 200 } })
    assert.are.equal(200, code)
    assert.are.equal("TIMED_OUT", v.status)
    assert.is_true(v.executionTime >= 200 and v.executionTime < 900, tostring(v.executionTime))
  end)
end)

describe("runpod-worker --rp_serve_api webhooks", function()
  -- A loopback receiver: an emulator's webhook sink.
  local receiver

  before_each(function()
    receiver = emulator.start({})
  end)

  after_each(function()
    receiver.stop()
  end)

  local function received(id)
    for _, v in ipairs(receiver.json("GET", "/_emulator/webhooks") or {}) do
      if v.id == id then
        return v
      end
    end
  end

  local function webhook_lines(out)
    local t = {}
    for line in out:gmatch("[^\n]+") do
      if line:find("webhook", 1, true) then
        t[#t + 1] = line
      end
    end
    return t
  end

  it("refuses a loopback webhook by default and logs one WARN naming the host", function()
    local s = start("handlers/echo.lua")
    local hook = receiver.url:gsub("//", "//user:pw@") .. "/_emulator/webhook-sink?token=tok123"
    local v = s.json("POST", "/runsync?wait=20000", { input = 1, webhook = hook })
    local logged = emulator.eventually(20, function()
      return s.process.output():find("not sent", 1, true)
    end)
    local _, out = s.stop()
    assert.are.equal("COMPLETED", v.status)
    assert.truthy(logged, out)
    assert.is_nil(received(v.id))
    local lines = webhook_lines(out)
    assert.are.same({ "WARN   | " .. v.id .. " | webhook to 127.0.0.1 not sent: 127.0.0.1 is not a"
      .. " public address (see RUNPOD_ALLOW_PRIVATE_WEBHOOK_URLS)" }, lines)
  end)

  it("posts to a loopback receiver with RUNPOD_ALLOW_PRIVATE_WEBHOOK_URLS=true", function()
    local s = start("handlers/echo.lua", {}, { RUNPOD_ALLOW_PRIVATE_WEBHOOK_URLS = "true" })
    local v = s.json("POST", "/runsync?wait=20000",
      { input = 1, webhook = receiver.url .. "/_emulator/webhook-sink" })
    local got = emulator.eventually(20, function() return received(v.id) end)
    local _, out = s.stop()
    assert.are.equal("COMPLETED", v.status)
    assert.are.same({ "COMPLETED", { echo = 1 } }, { got and got.status, got and got.output })
    assert.are.same({}, webhook_lines(out))
  end)
end)
