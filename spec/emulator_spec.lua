-- End-to-end tests of bin/runpod-emulator: the real binary on an ephemeral
-- port, driven with the curl command line. Every request is bounded by
-- curl's --max-time and every wait by a deadline.
local proc = require "helpers.proc"
local json = require("runpod").json
local curl = require "helpers.curl"

local BIN = os.getenv("RUNPOD_EMULATOR_BIN") or (proc.root .. "/bin/runpod-emulator")
local KEY = "sekret"
local quote = proc.quote
local http = curl.request
local background = curl.background

local function sleep(s)
  os.execute("sleep " .. s)
end

-- start(args[, env]) -> emulator handle: { pid, port, base, url, lines, errf }
-- env: variables set for the emulator (RUNPOD_ALLOW_PRIVATE_WEBHOOK_URLS is
-- unset unless given).
local function start(args, env)
  local errf = os.tmpname()
  local parts = { "echo $$; exec env -u LD_PRELOAD -u RUNPOD_ALLOW_PRIVATE_WEBHOOK_URLS" }
  for k, v in pairs(env or {}) do
    parts[#parts + 1] = quote(k .. "=" .. v)
  end
  if (os.getenv("RP_SANITIZE") or "") ~= "" then
    parts[#parts + 1] = "ASAN_OPTIONS=detect_leaks=1"
  end
  -- SIGTERM to timeout is passed on; the emulator then has 30 s (ASan
  -- checks leaks at exit, slow on a loaded machine) before SIGKILL.
  parts[#parts + 1] = "timeout -k 30 900 " .. quote(BIN) .. " --port 0"
  for _, a in ipairs(args or {}) do
    parts[#parts + 1] = quote(a)
  end
  parts[#parts + 1] = "2>" .. quote(errf)
  local pipe = assert(io.popen("sh -c " .. quote(table.concat(parts, " ")), "r"))
  local emu = { pid = pipe:read("l"), pipe = pipe, errf = errf, lines = {} }
  for i = 1, 8 do
    emu.lines[i] = pipe:read("l")
  end
  local first = emu.lines[1] or ""
  emu.port = assert(tonumber(first:match("^listening on http://127%.0%.0%.1:(%d+)$")),
    "no listening line: " .. tostring(emu.lines[1]) .. proc.read_file(errf))
  emu.base = "http://127.0.0.1:" .. emu.port
  emu.url = emu.base .. "/v2/emulator"
  return emu
end

-- Stops with SIGTERM; returns exit code and stderr.
local function stop(emu)
  os.execute("kill -TERM " .. emu.pid)
  local _, _, code = emu.pipe:close()
  local err = proc.read_file(emu.errf)
  os.remove(emu.errf)
  return code, err
end

local CLIENT = { "Authorization: Bearer " .. KEY, "Content-Type: application/json" }
local WORKER = { "Authorization: " .. KEY, "Content-Type: application/x-www-form-urlencoded",
  "User-Agent: runpod-lua-test/1", "X-Request-ID: rid-1" }

describe("runpod-emulator", function()
  local emu

  setup(function()
    -- The webhook test posts to this emulator's own sink on 127.0.0.1.
    emu = start({ "--api-key", KEY, "--max-body", "65536", "--take-hold-ms", "300",
      "--stop-hold-ms", "300", "--stream-hold-ms", "400", "--allow-private-webhooks" })
  end)

  teardown(function()
    if emu and emu.pipe then
      pcall(stop, emu)
    end
  end)

  local function client(method, route, body)
    return http(method, emu.url .. route, body, CLIENT)
  end

  local function worker(method, route, body)
    return http(method, emu.url .. route, body, WORKER)
  end

  local function control(method, route, body)
    return http(method, emu.base .. "/_emulator/" .. route, body)
  end

  local function faults(tbl)
    local code, body = control("POST", "faults", json.encode(tbl))
    assert.are.equal(200, code, body)
  end

  local function submit(input)
    local code, body = client("POST", "/run", json.encode({ input = input or { n = 1 } }))
    assert.are.equal(200, code, body)
    return assert(json.decode(body)).id
  end

  -- Takes exactly one job as worker w; returns it decoded.
  local function take(w)
    local code, body = worker("GET",
      "/job-take/" .. (w or "w1") .. "?gpu=emulator&job_in_progress=0")
    assert.are.equal(200, code, body)
    return assert(json.decode(body))
  end

  -- Takes one job as worker w1, polling up to 10 s (the client that
  -- queues it runs in the background); returns it decoded, or nil.
  local function take_soon()
    local deadline = os.time() + 10
    repeat
      local code, body = worker("GET", "/job-take/w1")
      if code == 200 then
        return json.decode(body)
      end
    until os.time() > deadline
  end

  local function status(id)
    local code, body = client("GET", "/status/" .. id)
    assert.are.equal(200, code, body)
    return assert(json.decode(body))
  end

  local function stats()
    local code, body = control("GET", "stats")
    assert.are.equal(200, code)
    return assert(json.decode(body))
  end

  -- Whether a request of the worker route came after the count 'before'
  -- (the emulator counts it on arrival, before holding it); polls 100 times.
  local function arrived(route, before)
    for _ = 1, 100 do
      if stats().requests[route] > before then
        return true
      end
      sleep(0.1)
    end
    return false
  end

  describe("start-up", function()
    it("prints the worker environment with the placeholders left for the worker", function()
      local p = "http://127.0.0.1:" .. emu.port .. "/v2/emulator"
      assert.are.same({
        "listening on http://127.0.0.1:" .. emu.port,
        "export RUNPOD_WEBHOOK_GET_JOB='" .. p .. "/job-take/$ID?gpu=emulator'",
        "export RUNPOD_WEBHOOK_POST_OUTPUT='" .. p .. "/job-done/$RUNPOD_POD_ID/$ID?gpu=emulator'",
        "export RUNPOD_WEBHOOK_POST_STREAM='" .. p
          .. "/job-stream/$RUNPOD_POD_ID/$ID?gpu=emulator'",
        "export RUNPOD_WEBHOOK_PING='" .. p .. "/ping/$RUNPOD_POD_ID?gpu=emulator'",
        "export RUNPOD_AI_API_KEY='" .. KEY .. "'",
        "export RUNPOD_ENDPOINT_ID='emulator'",
        "export RUNPOD_PING_INTERVAL='10000'",
      }, emu.lines)
    end)

    it("names in --help every client route docs/emulator.md lists", function()
      local doc = proc.read_file(proc.root .. "/docs/emulator.md")
      local routes = doc:match("## Client API(.-)\n## ")
      local r = proc.run({ BIN, "--help" }, { timeout = 10 })
      assert.are.equal(0, r.code)
      local help = r.stdout:gsub("%s+", " ")
      local n = 0
      for name in routes:gmatch("\n| `[^`]-/([%w%-]+)") do
        n = n + 1
        assert.is_truthy(help:find("[ (]" .. name:gsub("%-", "%%-") .. "[,/)]"),
          name .. " missing from: " .. help)
      end
      assert.is_true(n >= 10, routes)
    end)

    it("rejects an unknown flag with exit code 2", function()
      local r = proc.run({ BIN, "--nope" }, { timeout = 10 })
      assert.are.equal(2, r.code)
      assert.matches("unknown flag '%-%-nope'", r.stderr)
    end)

    it("rejects a bad fault spec", function()
      local r = proc.run({ BIN, "--fault", "job-take=teapot" }, { timeout = 10 })
      assert.are.equal(2, r.code)
      assert.matches("unknown fault kind 'teapot'", r.stderr)
    end)
  end)

  describe("client API", function()
    it("runs a job through take and done to COMPLETED", function()
      local id = submit({ x = 1.50, s = "é" })
      local job = take()
      assert.are.equal(id, job.id)
      assert.are.same({ x = 1.5, s = "é" }, job.input)
      assert.are.equal("IN_PROGRESS", status(id).status)
      local code = worker("POST", "/job-done/w1/" .. id .. "?gpu=emulator&isStream=false",
        '{"output": {"y": [1, 2]}}')
      assert.are.equal(200, code)
      local view = status(id)
      assert.are.equal("COMPLETED", view.status)
      assert.are.same({ y = { 1, 2 } }, view.output)
      assert.is_number(view.delayTime)
      assert.is_number(view.executionTime)
      assert.is_nil(view.error)
    end)

    it("keeps the input's JSON text as the client sent it", function()
      local code = client("POST", "/run", '{"input": {"big": 9007199254740993, "f": 1.0e2}}')
      assert.are.equal(200, code)
      local _, body = worker("GET", "/job-take/w1")
      assert.matches('"input":{"big": 9007199254740993, "f": 1.0e2}', body, 1, true)
    end)

    it("hands extra keys of the /run body to the worker", function()
      client("POST", "/run", '{"input": 1, "policy": {"ttl": 9}, "s3Config": {"a": 1}}')
      local job = take()
      assert.are.same({ ttl = 9 }, job.policy)
      assert.are.same({ a = 1 }, job.s3Config)
    end)

    it("reports a failed job's error", function()
      local id = submit()
      take()
      worker("POST", "/job-done/w1/" .. id .. "?isStream=false", '{"error": "boom"}')
      local view = status(id)
      assert.are.equal("FAILED", view.status)
      assert.are.equal("boom", view.error)
    end)

    it("answers 400 for malformed JSON and a missing input", function()
      assert.are.equal(400, (client("POST", "/run", '{"input": ')))
      assert.are.equal(400, (client("POST", "/run", '[1]')))
      assert.are.equal(400, (client("POST", "/run", '{"inputs": 1}')))
      assert.are.equal(400, (client("POST", "/run", '{"input": 1, "webhook": 5}')))
      local code, body = client("POST", "/run", "")
      assert.are.equal(400, code)
      assert.is_string(json.decode(body).error)
    end)

    it("answers 400 to a body that is not UTF-8, so that no worker is handed it", function()
      -- RunPod's Python worker cannot decode such a job-take answer: it
      -- would drop the job (and the rest of its batch) for good.
      local code, body = client("POST", "/run", '{"input": "a\xff\xfe"}')
      assert.are.equal(400, code, body)
      assert.are.same({ error = "invalid JSON body (invalid UTF-8 at byte 12)" }, json.decode(body))
      code, body = client("POST", "/runsync?wait=0", '{"input": 1, "x": "\xc0\x80"}')
      assert.are.equal(400, code, body)
      code = worker("GET", "/job-take/w1")
      assert.are.equal(204, code)
      -- Valid UTF-8 outside the BMP passes.
      code, body = client("POST", "/run", '{"input": "\u{1F600}"}')
      assert.are.equal(200, code, body)
      assert.are.equal("\u{1F600}", take().input)
    end)

    it("answers 404 for unknown ids, routes and endpoints", function()
      local code, body = client("GET", "/status/0000")
      assert.are.equal(404, code)
      assert.are.equal("job not found", json.decode(body).error)
      assert.are.equal(404, (client("POST", "/cancel/nope")))
      assert.are.equal(404, (client("GET", "/stream/nope")))
      assert.are.equal(404, (client("GET", "/nosuch")))
      assert.are.equal(404, (http("GET", emu.base .. "/v2/other/health", nil, CLIENT)))
      assert.are.equal(404, (http("GET", emu.base .. "/", nil, CLIENT)))
    end)

    it("answers 405 for a wrong method", function()
      assert.are.equal(405, (client("GET", "/run")))
      assert.are.equal(405, (client("GET", "/runsync")))
      assert.are.equal(405, (client("GET", "/cancel/x")))
      assert.are.equal(405, (client("POST", "/health")))
      assert.are.equal(405, (client("GET", "/purge-queue")))
      assert.are.equal(405, (client("POST", "/status-sync/x")))
      assert.are.equal(405, (worker("POST", "/job-take/w1")))
      assert.are.equal(405, (worker("GET", "/job-done/w1/x")))
    end)

    it("answers 413 past the body cap", function()
      local code, body = client("POST", "/run", '{"input": "' .. string.rep("x", 70000) .. '"}')
      assert.are.equal(413, code)
      assert.are.equal("request body too large", json.decode(body).error)
    end)

    it("answers every error of the OpenAI routes in OpenAI's error object", function()
      -- The official OpenAI clients read {"error": {"message", "type",
      -- "param", "code"}}; the path in a 404 is the one sent, as OpenAI's.
      local function expect(want, message, method, url, body)
        local code, text = http(method, url, body, CLIENT)
        assert.are.equal(want, code, text)
        assert.are.same({ error = { message = message, type = "invalid_request_error",
          param = json.null, code = json.null } }, json.decode(text))
      end
      local chat = emu.url .. "/openai/v1/chat/completions"
      -- Not UTF-8: a Python worker would drop the job, the request would hang.
      expect(400, "invalid JSON body (invalid UTF-8 at byte 18)", "POST", chat,
        '{"model":"m","x":"\xff"}')
      expect(413, "request body too large", "POST", chat,
        '{"model":"' .. string.rep("x", 70000) .. '"}')
      expect(400, "invalid path", "POST", emu.url .. "/openai/v1//chat/completions", "{}")
      -- Without a Content-Length the cap is met while reading: the same answer.
      local code, text = http("POST", chat, '{"model":"' .. string.rep("x", 70000) .. '"}',
        { CLIENT[1], CLIENT[2], "Transfer-Encoding: chunked" })
      assert.are.equal(413, code, text)
      assert.are.equal("request body too large", json.decode(text).error.message)
      -- The 413 comes once the body is read (a client that sends it whole
      -- before reading, as Node's fetch, would lose an earlier answer to
      -- the reset), so the connection carries the next request.
      local f = os.tmpname()
      proc.write_file(f, '{"model":"' .. string.rep("x", 70000) .. '"}')
      local auth = quote("Authorization: Bearer " .. KEY)
      local out = curl.shell("env -u LD_PRELOAD curl -s --max-time 20 -o /dev/null "
        .. "-w '%{http_code} %{num_connects},' -H " .. auth .. " --data-binary @" .. quote(f)
        .. " " .. quote(chat) .. " --next --max-time 20 -o /dev/null "
        .. "-w '%{http_code} %{num_connects}' -H " .. auth .. " " .. quote(emu.url .. "/health"))
      os.remove(f)
      assert.are.equal("413 1,200 0", out)
      expect(404, "Invalid URL (POST /v2/emulator/openai/v2/chat)", "POST",
        emu.url .. "/openai/v2/chat", "{}")
      expect(404, "Invalid URL (GET /v2/emulator/openai/v1)", "GET", emu.url .. "/openai/v1")
      expect(404, "Invalid URL (DELETE /v2/emulator/openai/v1/models/m)", "DELETE",
        emu.url .. "/openai/v1/models/m")
      expect(404, "Invalid URL (POST /v2/other/openai/v1/chat/completions)", "POST",
        emu.base .. "/v2/other/openai/v1/chat/completions", "{}")
      expect(400, "the body must be JSON (an object)", "POST", chat, '{"model":')
      -- None of them queued a job.
      assert.are.equal(204, (worker("GET", "/job-take/w1")))
      -- OpenAI's deepest routes are passed on as any other.
      local deep = "/v1/threads/t1/runs/r1/steps/s1"
      local pending = background("GET", emu.url .. "/openai" .. deep, nil, CLIENT)
      local job = take_soon()
      assert.is_table(job)
      assert.are.same({ openai_route = deep }, job.input)
      worker("POST", "/job-done/w1/" .. job.id, '{"output": {"object": "thread.run.step"}}')
      code, text = pending.wait()
      assert.are.equal(200, code, text)
      assert.are.same({ object = "thread.run.step" }, json.decode(text))
    end)

    it("requires the API key from clients and workers", function()
      assert.are.equal(401, (http("GET", emu.url .. "/health")))
      assert.are.equal(401, (http("GET", emu.url .. "/health", nil, { "Authorization: " .. KEY })))
      assert.are.equal(401, (http("GET", emu.url .. "/job-take/w1", nil,
        { "Authorization: Bearer " .. KEY })))
      assert.are.equal(200, (client("GET", "/health")))
      -- the scheme is case-insensitive (RFC 9110), the key is not
      assert.are.equal(200, (http("GET", emu.url .. "/health", nil,
        { "Authorization: bearer " .. KEY })))
      assert.are.equal(401, (http("GET", emu.url .. "/health", nil,
        { "Authorization: Bearer " .. KEY:upper() })))
      assert.are.equal(401, (http("GET", emu.url .. "/health", nil,
        { "Authorization: Bearer " .. KEY .. "x" })))
      -- the OpenAI routes answer OpenAI's error object, code invalid_api_key
      local code, body = http("GET", emu.url .. "/openai/v1/models")
      assert.are.equal(401, code)
      assert.are.same({ message = "unauthorized", type = "invalid_request_error",
        param = json.null, code = "invalid_api_key" }, json.decode(body).error)
    end)

    it("holds /runsync until the wait passes", function()
      local code, body, t = client("POST", "/runsync?wait=400", '{"input": 1}')
      assert.are.equal(200, code)
      assert.are.equal("IN_QUEUE", json.decode(body).status)
      assert.is_true(t >= 0.35 and t < 5, "took " .. t)
      worker("GET", "/job-take/w1")
    end)

    it("answers /runsync and /status-sync as soon as the job ends", function()
      -- Held up to 60 s, longer than curl's 20 s: an answer proves the end
      -- of the job woke them.
      local pending = background("POST", emu.url .. "/runsync?wait=60000", '{"input": 5}', CLIENT)
      local job = take_soon()
      assert.is_table(job)
      local sync = background("GET", emu.url .. "/status-sync/" .. job.id .. "?wait=60000", nil,
        CLIENT)
      sleep(0.2)
      worker("POST", "/job-done/w1/" .. job.id, '{"output": 6}')
      local code, body = pending.wait()
      assert.are.equal(200, code)
      assert.are.same({ "COMPLETED", 6 }, { json.decode(body).status, json.decode(body).output })
      code, body = sync.wait()
      assert.are.equal(200, code)
      assert.are.equal("COMPLETED", json.decode(body).status)
    end)

    it("cancels a queued job, and a finished job keeps its status", function()
      local id = submit()
      local code, body = client("POST", "/cancel/" .. id)
      assert.are.equal(200, code)
      assert.are.same({ id = id, status = "CANCELLED" }, json.decode(body))
      assert.are.equal(204, (worker("GET", "/job-take/w1")))
      local done = submit()
      take()
      worker("POST", "/job-done/w1/" .. done, '{"output": 1}')
      body = select(2, client("POST", "/cancel/" .. done))
      assert.are.equal("COMPLETED", json.decode(body).status)
    end)

    it("queues a FAILED job again under its id with /retry", function()
      local id = submit({ n = 7 })
      take()
      worker("POST", "/job-stream/w1/" .. id, '{"output": "partial"}')
      worker("POST", "/job-done/w1/" .. id .. "?isStream=false", '{"error": "boom"}')
      local code, body = client("POST", "/retry/" .. id)
      assert.are.equal(200, code, body)
      assert.are.same({ id = id, status = "IN_QUEUE" }, json.decode(body))
      local view = status(id)
      assert.are.equal("IN_QUEUE", view.status)
      assert.is_nil(view.error)
      local job = take("w2")
      assert.are.same({ id, { n = 7 } }, { job.id, job.input })
      worker("POST", "/job-done/w2/" .. id .. "?isStream=false", '{"output": 8}')
      view = status(id)
      assert.are.same({ "COMPLETED", 8 }, { view.status, view.output })
      assert.are.equal(1, stats().jobs[id].retries)
      -- Only FAILED and TIMED_OUT jobs: RunPod's rule.
      code, body = client("POST", "/retry/" .. id)
      assert.are.equal(400, code)
      assert.are.same({ error = "job is COMPLETED: only a FAILED or TIMED_OUT job can be retried" },
        json.decode(body))
      assert.are.equal(404, (client("POST", "/retry/0000")))
      assert.are.equal(405, (client("GET", "/retry/" .. id)))
    end)

    it("counts jobs in /health and empties the queue with /purge-queue", function()
      client("POST", "/purge-queue")
      submit()
      submit()
      local code, body = client("GET", "/health")
      assert.are.equal(200, code)
      local h = json.decode(body)
      assert.are.equal(2, h.jobs.inQueue)
      for _, k in ipairs({ "completed", "failed", "inProgress", "retried" }) do
        assert.is_number(h.jobs[k])
      end
      for _, k in ipairs({ "idle", "initializing", "ready", "running", "throttled" }) do
        assert.is_number(h.workers[k])
      end
      code, body = client("POST", "/purge-queue")
      assert.are.equal(200, code)
      assert.are.same({ removed = 2, status = "completed" }, json.decode(body))
      assert.are.equal(0, json.decode(select(2, client("GET", "/health"))).jobs.inQueue)
    end)

    it("posts the final view to the webhook", function()
      local hook = emu.base .. "/_emulator/webhook-sink"
      local code, body = client("POST", "/run", json.encode({ input = 1, webhook = hook }))
      assert.are.equal(200, code)
      local id = json.decode(body).id
      local job = take()
      assert.are.equal(hook, job.webhook)
      worker("POST", "/job-done/w1/" .. id, '{"output": "hooked"}')
      local deadline = os.time() + 10
      local got
      repeat
        for _, v in ipairs(json.decode(select(2, control("GET", "webhooks")))) do
          if v.id == id then
            got = v
          end
        end
        if not got then
          sleep(0.1)
        end
      until got or os.time() > deadline
      assert.are.same({ "COMPLETED", "hooked" }, { got and got.status, got and got.output })
    end)

    it("ends a job TIMED_OUT after policy.executionTimeout and asks the worker to stop", function()
      local code, body = client("POST", "/run", '{"input": 1, "policy": {"executionTimeout": 100}}')
      assert.are.equal(200, code)
      local id = json.decode(body).id
      take("wt")
      sleep(0.2)
      code, body = worker("GET", "/job-stop/wt")
      assert.are.equal(200, code)
      assert.are.same({ jobsToStop = { id } }, json.decode(body))
      assert.are.equal("TIMED_OUT", status(id).status)
    end)
  end)

  describe("numbers in requests", function()
    local RULE = " (must be a whole number of ms in 0..604800000)"

    local function in_queue()
      return json.decode(select(2, client("GET", "/health"))).jobs.inQueue
    end

    it("reads policy.executionTimeout 6e5 as 600000 ms, not 6 ms", function()
      for _, t in ipairs({ "6e5", "600000.0", "6E+5" }) do
        local code, body = client("POST", "/run",
          '{"input": 1, "policy": {"executionTimeout": ' .. t .. '}}')
        assert.are.equal(200, code, body)
        local id = json.decode(body).id
        take("w6")
        -- A job-stop poll holds 300 ms: a 6 ms timeout would be reported here.
        code = worker("GET", "/job-stop/w6")
        assert.are.equal(204, code, t)
        worker("POST", "/job-done/w6/" .. id, '{"output": "fine"}')
        assert.are.equal("COMPLETED", status(id).status, t)
      end
    end)

    it("takes null, 0 and an absent policy.executionTimeout as no time limit", function()
      for _, policy in ipairs({ '{"executionTimeout": null}', '{"executionTimeout": 0}', '{}',
          'null' }) do
        local code, body = client("POST", "/run", '{"input": 1, "policy": ' .. policy .. '}')
        assert.are.equal(200, code, body)
        local id = json.decode(body).id
        take("w7")
        assert.are.equal(204, (worker("GET", "/job-stop/w7")), policy)
        worker("POST", "/job-done/w7/" .. id, '{"output": 1}')
        assert.are.equal("COMPLETED", status(id).status)
      end
    end)

    it("answers 400 naming the field to a policy number that is not whole ms in range", function()
      local cases = {
        { '{"executionTimeout": 1e30}', "invalid policy.executionTimeout 1e30" .. RULE },
        { '{"executionTimeout": 1e400}', "invalid policy.executionTimeout 1e400" .. RULE },
        { '{"executionTimeout": 604800001}',
          "invalid policy.executionTimeout 604800001" .. RULE },
        { '{"executionTimeout": -5}', "invalid policy.executionTimeout -5" .. RULE },
        { '{"executionTimeout": -0.5}', "invalid policy.executionTimeout -0.5" .. RULE },
        { '{"executionTimeout": 1.5}', "invalid policy.executionTimeout 1.5" .. RULE },
        { '{"executionTimeout": "abc"}', "invalid policy.executionTimeout: a string" .. RULE },
        { '{"executionTimeout": "600000"}',
          "invalid policy.executionTimeout: a string" .. RULE },
        { '{"executionTimeout": true}', "invalid policy.executionTimeout: a boolean" .. RULE },
        { '{"executionTimeout": [1]}', "invalid policy.executionTimeout: an array" .. RULE },
        { '{"executionTimeout": ' .. ("9"):rep(40) .. '}',
          "invalid policy.executionTimeout: a number too long to repeat" .. RULE },
        { '{"ttl": 1e30}', "invalid policy.ttl 1e30" .. RULE },
        { '{"ttl": "NaN"}', "invalid policy.ttl: a string" .. RULE },
        { '{"lowPriority": 1}', "invalid policy.lowPriority (must be true or false)" },
        { '5', "invalid policy (must be an object)" },
      }
      local before = in_queue()
      for _, c in ipairs(cases) do
        local code, body = client("POST", "/run", '{"input": 1, "policy": ' .. c[1] .. '}')
        assert.are.same({ 400, c[2] }, { code, json.decode(body).error })
      end
      assert.are.equal(before, in_queue())
    end)

    it("never repeats a non-number value in the error answer", function()
      local code, body = client("POST", "/run",
        '{"input": 1, "policy": {"executionTimeout": "' .. KEY .. '"}}')
      assert.are.equal(400, code)
      assert.is_nil(body:find(KEY, 1, true), body)
      code, body = client("POST", "/runsync?wait=" .. KEY, '{"input": 1}')
      assert.are.equal(400, code)
      assert.is_nil(body:find(KEY, 1, true), body)
    end)

    it("answers 400 to a wait, batch_size, count or since that is not a whole number", function()
      local id = submit()
      local W = " (must be a whole number >= 0)"
      local cases = {
        { client, "POST", "/runsync?wait=abc", '{"input": 1}', "invalid wait: not a number" .. W },
        { client, "POST", "/runsync?wait=-1", '{"input": 1}', "invalid wait -1" .. W },
        { client, "GET", "/status-sync/" .. id .. "?wait=1.5", nil, "invalid wait 1.5" .. W },
        { client, "GET", "/status-sync/" .. id .. "?wait=0x10", nil,
          "invalid wait: not a number" .. W },
        { worker, "GET", "/job-take-batch/w8?batch_size=two", nil,
          "invalid batch_size: not a number" .. W },
      }
      local before = in_queue()
      for _, c in ipairs(cases) do
        local code, body = c[1](c[2], c[3], c[4])
        assert.are.same({ 400, c[5] }, { code, json.decode(body).error })
      end
      local code, body = control("POST", "jobs?count=1e", '{"input": 1}')
      assert.are.same({ 400, "invalid count 1e" .. W }, { code, json.decode(body).error })
      code, body = control("GET", "log?since=-3")
      assert.are.same({ 400, "invalid since -3" .. W }, { code, json.decode(body).error })
      assert.are.equal(before, in_queue())
    end)

    it("reads wait as a JSON number and caps a huge one at 300 s", function()
      local id = submit()
      take("w9")
      worker("POST", "/job-done/w9/" .. id, '{"output": 1}')
      for _, w in ipairs({ "1e30", "2e3", "0" }) do
        local code, body = client("GET", "/status-sync/" .. id .. "?wait=" .. w)
        assert.are.equal(200, code, body)
        assert.are.equal("COMPLETED", json.decode(body).status)
      end
      local code, body = control("POST", "jobs?count=2e0", '{"input": 1}')
      assert.are.same({ 200, { submitted = 2 } }, { code, json.decode(body) })
      client("POST", "/purge-queue")
    end)
  end)

  describe("stream", function()
    it("delivers each chunk once, then the final status with an empty stream", function()
      local id = submit()
      take()
      worker("POST", "/job-stream/w1/" .. id .. "?isStream=false", '{"output": "a"}')
      worker("POST", "/job-stream/w1/" .. id, '{"output": {"b": 2}}')
      local code, body = client("GET", "/stream/" .. id)
      assert.are.equal(200, code)
      assert.are.same(
        { status = "IN_PROGRESS", stream = { { output = "a" }, { output = { b = 2 } } } },
        json.decode(body))
      local t
      code, body, t = client("POST", "/stream/" .. id)
      assert.are.equal(200, code)
      assert.are.same({ status = "IN_PROGRESS", stream = {} }, json.decode(body))
      assert.is_true(t >= 0.35 and t < 5, "held " .. t)
      worker("POST", "/job-done/w1/" .. id .. "?isStream=true", '{"output": []}')
      body = select(2, client("GET", "/stream/" .. id))
      assert.are.same({ status = "COMPLETED", stream = {} }, json.decode(body))
    end)

    it("answers a held poll as soon as a chunk arrives", function()
      local id = submit()
      take()
      -- Held up to 60 s, longer than curl's 20 s: an answer with the chunk
      -- proves the chunk woke it.
      faults({ stream_hold_ms = 60000 })
      local poll = background("GET", emu.url .. "/stream/" .. id, nil, CLIENT)
      sleep(0.2)
      worker("POST", "/job-stream/w1/" .. id, '{"output": 1}')
      local code, body = poll.wait()
      faults({ stream_hold_ms = 400 })
      assert.are.equal(200, code)
      assert.are.same({ { output = 1 } }, json.decode(body).stream)
    end)

    it("delivers a non-streamed output as one chunk", function()
      local id = submit()
      take()
      worker("POST", "/job-done/w1/" .. id, '{"output": "whole"}')
      local _, body = client("GET", "/stream/" .. id)
      assert.are.same({ status = "COMPLETED", stream = { { output = "whole" } } },
        json.decode(body))
    end)

    it("rejects a stream post without output", function()
      local id = submit()
      take()
      assert.are.equal(400, (worker("POST", "/job-stream/w1/" .. id, '{"x": 1}')))
      assert.are.equal(400, (worker("POST", "/job-stream/w1/" .. id, 'nope')))
      worker("POST", "/job-done/w1/" .. id, '{"output": 1}')
    end)
  end)

  describe("worker API", function()
    it("answers 204 after holding an empty job-take", function()
      local code, body, t = worker("GET", "/job-take/w1?gpu=emulator&job_in_progress=1")
      assert.are.equal(204, code)
      assert.are.equal("", body)
      assert.is_true(t >= 0.25 and t < 5, "held " .. t)
    end)

    it("hands a job to a held job-take as soon as it is queued", function()
      -- Held up to 60 s, longer than curl's 20 s: an answer proves the
      -- queued job woke it.
      faults({ take_hold_ms = 60000 })
      local before = stats().requests["job-take"]
      local poll = background("GET", emu.url .. "/job-take/w1", nil, WORKER)
      assert.is_true(arrived("job-take", before), "the job-take never arrived")
      local id = submit()
      local code, body = poll.wait()
      faults({ take_hold_ms = 300 })
      assert.are.equal(200, code)
      assert.are.equal(id, json.decode(body).id)
    end)

    it("hands out batches with job-take-batch", function()
      local ids = { submit(), submit(), submit() }
      local code, body = worker("GET", "/job-take-batch/w1?batch_size=2&job_in_progress=0")
      assert.are.equal(200, code)
      local batch = json.decode(body)
      assert.are.same({ ids[1], ids[2] }, { batch[1].id, batch[2].id })
      assert.are.equal(2, #batch)
      body = select(2, worker("GET", "/job-take-batch/w1?batch_size=2"))
      assert.are.equal(ids[3], json.decode(body)[1].id)
      assert.are.equal(204, (worker("GET", "/job-take-batch/w1?batch_size=2")))
    end)

    it("holds hundreds of long polls at once", function()
      -- 300 takes held for up to 60 s: health answers while they wait (had
      -- they blocked it, curl's time-out would end it first), then 300
      -- queued jobs answer every one of them.
      faults({ take_hold_ms = 60000 })
      local before = stats().requests["job-take"]
      local cfg = os.tmpname()
      local lines = {}
      for i = 1, 300 do
        lines[#lines + 1] = string.format('url = "%s/job-take/many%d"\noutput = "/dev/null"\n'
          .. 'header = "Authorization: %s"', emu.url, i, KEY)
      end
      proc.write_file(cfg, table.concat(lines, "\n") .. "\n")
      local p = io.popen("env -u LD_PRELOAD curl -s -Z --parallel-immediate --parallel-max 300"
        .. " --max-time 50 -w '%{http_code}\\n' -K " .. quote(cfg) .. " 2>/dev/null")
      local held = 0
      for _ = 1, 100 do
        held = stats().requests["job-take"] - before
        if held >= 300 then
          break
        end
        sleep(0.1)
      end
      local code = client("GET", "/health")
      faults({ take_hold_ms = 300 })
      local queued = control("POST", "jobs?count=300", '{"input": 1}')
      local out = p:read("a")
      p:close()
      os.remove(cfg)
      client("POST", "/purge-queue")
      assert.are.equal(300, held)
      assert.are.equal(200, code)
      assert.are.equal(200, queued)
      assert.are.equal(300, select(2, out:gsub("200", "")))
    end)

    it("tells the worker which jobs to stop, once", function()
      local id = submit()
      take("ws")
      client("POST", "/cancel/" .. id)
      local code, body = worker("GET", "/job-stop/ws?gpu=emulator&job_in_progress=1")
      assert.are.equal(200, code)
      assert.are.same({ jobsToStop = { id } }, json.decode(body))
      local code2, _, t = worker("GET", "/job-stop/ws")
      assert.are.equal(204, code2)
      assert.is_true(t >= 0.25, "held " .. t)
      assert.are.equal("CANCELLED", status(id).status)
    end)

    it("wakes a held job-stop when a job is cancelled", function()
      local id = submit()
      take("ws2")
      faults({ stop_hold_ms = 60000 })
      local before = stats().requests["job-stop"]
      local poll = background("GET", emu.url .. "/job-stop/ws2", nil, WORKER)
      assert.is_true(arrived("job-stop", before), "the job-stop never arrived")
      client("POST", "/cancel/" .. id)
      local code, body = poll.wait()
      faults({ stop_hold_ms = 300 })
      assert.are.equal(200, code)
      assert.are.same({ id }, json.decode(body).jobsToStop)
    end)

    it("keeps a job running on a progress update", function()
      local id = submit()
      take()
      worker("POST", "/job-done/w1/" .. id .. "?isStream=false",
        '{"status": "IN_PROGRESS", "output": "half"}')
      local view = status(id)
      assert.are.same({ "IN_PROGRESS", "half" }, { view.status, view.output })
      worker("POST", "/job-done/w1/" .. id, '{"output": "all"}')
      assert.are.equal("all", status(id).output)
      assert.are.same({ done = 1, progress = 1 },
        { done = stats().jobs[id].done, progress = stats().jobs[id].progress })
    end)

    it("counts every job-done post, so duplicates show", function()
      local id = submit()
      take()
      worker("POST", "/job-done/w1/" .. id, '{"output": 1}')
      worker("POST", "/job-done/w1/" .. id, '{"output": 2}')
      local s = stats().jobs[id]
      assert.are.same({ 2, 1, "COMPLETED" }, { s.done, s.late, s.status })
      assert.are.equal(1, status(id).output)
    end)

    it("answers 404 and 400 to bad job-done posts", function()
      assert.are.equal(404, (worker("POST", "/job-done/w1/nope", '{"output": 1}')))
      local id = submit()
      take()
      assert.are.equal(400, (worker("POST", "/job-done/w1/" .. id, '{"output": ')))
      -- a body past the nesting limit is refused naming the reason
      local code, body = worker("POST", "/job-done/w1/" .. id,
        '{"output": ' .. ("["):rep(1000) .. ("]"):rep(1000) .. "}")
      assert.are.equal(400, code)
      assert.matches("nesting deeper than 1000", json.decode(body).error, 1, true)
      worker("POST", "/job-done/w1/" .. id, '{"output": 1}')
    end)

    -- An id as the worker puts it in a path: one segment, every byte but
    -- the unreserved ones escaped, and an id of dots only escaped whole.
    local function id_segment(id)
      local dots = id:match("^%.+$") ~= nil
      return (id:gsub("[^%w%-_~.]", function(c)
        return ("%%%02X"):format(c:byte())
      end):gsub("%.", dots and "%%2E" or "."))
    end

    it("routes on the raw path: an escaped id is one segment, whatever it holds", function()
      for _, id in ipairs({ "a/b", "..", ".", "../../x", "a%b", "a b", "q?isStream=true",
        "h#frag", "a,b", "a&b=c", "%2F" }) do
        local seg = id_segment(id)
        local code, body = worker("POST", "/job-done/w1/" .. seg .. "?isStream=false",
          '{"output": 1}')
        assert.are.same({ 404, { error = "job not found" } }, { code, json.decode(body) }, seg)
        code, body = client("GET", "/status/" .. seg)
        assert.are.same({ 404, { error = "job not found" } }, { code, json.decode(body) }, seg)
      end
      -- A real id with every byte escaped is the same job.
      local id = submit()
      take()
      local all = id:gsub(".", function(c)
        return ("%%%02x"):format(c:byte())
      end)
      assert.are.equal(200, (worker("POST", "/job-done/w1/" .. all .. "?isStream=false",
        '{"output": "escaped"}')))
      assert.are.same({ "COMPLETED", "escaped" }, { status(all).status, status(id).output })
    end)

    it("answers 400 to a malformed escape or %00 in the path", function()
      for _, route in ipairs({ "/job-done/w1/a%zz", "/job-done/w1/a%2", "/job-done/w1/a%00b",
        "/status/%0" }) do
        local code, body = worker("POST", route, '{"output": 1}')
        assert.are.same({ 400, { error = "invalid path" } }, { code, json.decode(body) }, route)
      end
    end)

    it("decodes each id of a ping's job_id list on its own", function()
      assert.are.equal(200, (worker("GET", "/ping/pinger?job_id=a%2Cb,c%25d,e+f%20g,%2E%2E&gpu=x")))
      assert.are.same({ "a,b", "c%d", "e f g", ".." }, stats().last_ping.job_ids)
      worker("GET", "/ping/pinger?gpu=x")
      assert.are.equal(json.null, stats().last_ping.job_ids)
    end)

    it("splits the form-encoded job_id list of RunPod's Python SDK's ping", function()
      -- requests encodes the whole list: "a,b" is sent as "a%2Cb".
      assert.are.equal(200, (worker("GET", "/ping/pinger?gpu=x&job_id=id-1%2Cid-2%2Cid-3"
        .. "&runpod_version=1.12.0")))
      local p = stats().last_ping
      assert.are.same({ "id-1", "id-2", "id-3" }, p.job_ids)
      assert.are.equal("id-1,id-2,id-3", p.job_id)
      worker("GET", "/ping/pinger?gpu=x&job_id=one")
      assert.are.same({ "one" }, stats().last_ping.job_ids)
    end)

    it("counts a worker whose ping says status=unhealthy as unhealthy in /health", function()
      -- RunPod's SDKs send this ping when a fitness check fails, then exit.
      local function workers()
        local code, body = client("GET", "/health")
        assert.are.equal(200, code, body)
        return json.decode(body).workers
      end
      local before = workers()
      assert.are.equal(200, (worker("GET", "/ping/sick?gpu=x&status=unhealthy&check=_memory_check"
        .. "&reason=low&runpod_version=1.12.0")))
      local w = workers()
      assert.are.same({ before.unhealthy + 1, before.idle, before.ready },
        { w.unhealthy, w.idle, w.ready })
      worker("GET", "/ping/sick?gpu=x&runpod_version=1.12.0")
      w = workers()
      assert.are.same({ before.unhealthy, before.idle + 1 }, { w.unhealthy, w.idle })
    end)

    it("records pings", function()
      local code = worker("GET", "/ping/pinger?gpu=emulator&job_id=a,b&runpod_version=1.2.3")
      assert.are.equal(200, code)
      local p = stats().last_ping
      assert.are.same({ "pinger", "a,b", "1.2.3" }, { p.worker, p.job_id, p.runpod_version })
      assert.are.equal("gpu=emulator&job_id=a,b&runpod_version=1.2.3", p.query)
    end)

    it("logs every worker request with its headers, body and answer", function()
      local since = stats().log_seq
      local id = submit()
      take()
      worker("POST", "/job-done/w1/" .. id .. "?gpu=emulator&isStream=false", '{"output": 3}')
      local _, body = control("GET", "log?since=" .. since)
      local entries = {}
      for line in body:gmatch("[^\n]+") do
        entries[#entries + 1] = assert(json.decode(line))
      end
      assert.are.equal(2, #entries)
      local e = entries[2]
      assert.are.same({ "POST", "/v2/emulator/job-done/w1/" .. id, "gpu=emulator&isStream=false",
        200, '{"output": 3}' }, { e.method, e.path, e.query, e.status, e.body })
      assert.are.same({ Authorization = KEY, ["Content-Type"] = "application/x-www-form-urlencoded",
        ["User-Agent"] = "runpod-lua-test/1", ["X-Request-ID"] = "rid-1" }, e.headers)
      assert.are.equal(200, (control("DELETE", "log")))
      assert.are.equal("", select(2, control("GET", "log")))
    end)
  end)

  describe("faults", function()
    after_each(function()
      faults({ ["job-take"] = json.null, ["job-done"] = json.null, ["job-stream"] = json.null,
        ping = json.null, ["job-stop"] = json.null })
    end)

    it("answers 500 to the first K job-takes", function()
      faults({ ["job-take"] = "500,first=2" })
      assert.are.equal(500, (worker("GET", "/job-take/w1")))
      assert.are.equal(500, (worker("GET", "/job-take/w1")))
      assert.are.equal(204, (worker("GET", "/job-take/w1")))
    end)

    it("answers 429 to job-done without recording it", function()
      local id = submit()
      take()
      faults({ ["job-done"] = "429" })
      assert.are.equal(429, (worker("POST", "/job-done/w1/" .. id, '{"output": 1}')))
      assert.are.equal("IN_PROGRESS", status(id).status)
      faults({ ["job-done"] = json.null })
      assert.are.equal(200, (worker("POST", "/job-done/w1/" .. id, '{"output": 1}')))
      assert.are.equal(1, stats().jobs[id].done)
    end)

    it("answers a garbage body to job-stream", function()
      faults({ ["job-stream"] = "garbage" })
      local code, body = worker("POST", "/job-stream/w1/x", '{"output": 1}')
      assert.are.equal(200, code)
      assert.is_nil(json.decode(body))
    end)

    it("closes the connection on a ping without answering", function()
      faults({ ping = "close" })
      assert.are.equal(0, (worker("GET", "/ping/w1")))
      assert.are.equal(1, stats().fault_hits.ping)
    end)

    it("delays job-stop answers", function()
      faults({ ["job-stop"] = "delay,ms=400", stop_hold_ms = 0 })
      local code, _, t = worker("GET", "/job-stop/w1")
      faults({ stop_hold_ms = 300 })
      assert.are.equal(204, code)
      assert.is_true(t >= 0.38, "took " .. t)
    end)

    it("hits a seeded share of requests, reproducibly", function()
      local function sequence()
        faults({ ["job-take"] = "500,share=0.5", seed = 42, take_hold_ms = 0 })
        local s = {}
        for i = 1, 24 do
          s[i] = worker("GET", "/job-take/w1") == 500 and 1 or 0
        end
        return table.concat(s)
      end
      local a = sequence()
      local b = sequence()
      faults({ take_hold_ms = 300 })
      assert.are.equal(a, b)
      local hits = select(2, a:gsub("1", ""))
      assert.is_true(hits >= 4 and hits <= 20, a)
    end)

    it("rejects invalid control bodies", function()
      assert.are.equal(400, (control("POST", "faults", '{"job-take": "teapot"}')))
      assert.are.equal(400, (control("POST", "faults", '{"nope": 1}')))
      assert.are.equal(400, (control("POST", "faults", '{"take_hold_ms": -1}')))
      assert.are.equal(400, (control("POST", "faults", 'x')))
      local code, body = control("GET", "faults")
      assert.are.equal(200, code)
      assert.are.equal("none,share=1,first=0,ms=0", json.decode(body)["job-take"])
    end)
  end)

  it("stops cleanly on SIGTERM", function()
    local code, err = stop(emu)
    emu.pipe = nil
    assert.are.equal(0, code, err)
    assert.is_nil(err:match("Sanitizer"), err)
    assert.is_nil(err:match("runtime error"), err)
  end)
end)

describe("runpod-emulator limits", function()
  it("prints a placeholder key without --api-key, so that workers send heartbeats", function()
    -- RunPod always sets one; both SDKs ping only with a key set.
    local emu = start({})
    local ok = emu.lines[6] == "export RUNPOD_AI_API_KEY='emulator'"
    local code = http("GET", emu.url .. "/ping/w?gpu=x", nil, { "Authorization: emulator" })
    local code2 = http("GET", emu.url .. "/health")
    assert.are.equal(0, (stop(emu)))
    assert.is_true(ok, emu.lines[6])
    assert.are.same({ 200, 200 }, { code, code2 })
  end)

  it("forgets finished jobs past --retain-max", function()
    local emu = start({ "--retain-max", "2" })
    local url = emu.url
    local ids = {}
    for i = 1, 3 do
      local _, body = http("POST", url .. "/run", '{"input": 1}')
      ids[i] = json.decode(body).id
      http("GET", url .. "/job-take/w")
      http("POST", url .. "/job-done/w/" .. ids[i], '{"output": 1}')
    end
    sleep(0.1)
    http("POST", emu.base .. "/_emulator/upkeep")
    local first = http("GET", url .. "/status/" .. ids[1])
    local last = http("GET", url .. "/status/" .. ids[3])
    assert.are.equal(0, (stop(emu)))
    assert.are.same({ 404, 200 }, { first, last })
  end)

  it("re-queues the job of a worker that went silent", function()
    local emu = start({ "--requeue-after-ms", "300", "--take-hold-ms", "100" })
    local url = emu.url
    local _, body = http("POST", url .. "/run", '{"input": 1}')
    local id = json.decode(body).id
    local c1, b1 = http("GET", url .. "/job-take/dead")
    sleep(0.5)
    local c2, b2 = http("GET", url .. "/job-take/alive")
    local _, h = http("GET", url .. "/health")
    assert.are.equal(0, (stop(emu)))
    assert.are.same({ 200, id, 200, id }, { c1, json.decode(b1).id, c2, json.decode(b2).id })
    assert.are.equal(1, json.decode(h).jobs.retried)
  end)

  it("applies --fault flags from the start", function()
    local emu = start({ "--fault", "ping=429,first=1" })
    local a = http("GET", emu.url .. "/ping/w")
    local b = http("GET", emu.url .. "/ping/w")
    assert.are.equal(0, (stop(emu)))
    assert.are.same({ 429, 200 }, { a, b })
  end)
end)

describe("runpod-emulator webhooks", function()
  local emulators = require "helpers.emulator"

  -- An emulator stopped at the end of the test whatever happens; halt()
  -- stops it earlier and returns stop()'s results.
  local function started(args, env)
    local emu = start(args, env)
    finally(function()
      if emu.pipe then
        stop(emu)
      end
    end)
    return emu
  end

  local function halt(emu)
    local code, err = stop(emu)
    emu.pipe = nil
    return code, err
  end

  -- Runs one job per webhook URL on emu to its end; returns the ids.
  local function finish_with_webhooks(emu, urls)
    local ids = {}
    for i, u in ipairs(urls) do
      local code, body = http("POST", emu.url .. "/run", json.encode({ input = i, webhook = u }))
      assert.are.equal(200, code, body)
      ids[i] = json.decode(body).id
      http("GET", emu.url .. "/job-take/w")
      http("POST", emu.url .. "/job-done/w/" .. ids[i], '{"output": "done"}')
    end
    return ids
  end

  -- Waits (bounded) until the emulator has settled n webhooks; returns
  -- its webhook counters.
  local function settled(emu, n)
    return emulators.eventually(30, function()
      local w = json.decode(select(2, http("GET", emu.base .. "/_emulator/stats"))).webhooks
      w.refused = w.refused or 0
      return w.sent + w.failed + w.refused + w.dropped >= n and w
    end)
  end

  local function sink(emu)
    return json.decode(select(2, http("GET", emu.base .. "/_emulator/webhooks")))
  end

  local function warn_lines(err)
    local t = {}
    for line in err:gmatch("[^\n]+") do
      if line:find("WARN", 1, true) then
        t[#t + 1] = line
      end
    end
    return t
  end

  it("refuses loopback, link-local, localhost and ::1 webhooks by default, once each", function()
    local emu = started({})
    local own = emu.base:match("//(.*)")
    local port = own:match(":(%d+)")
    local urls = {
      "http://user:pw@" .. own .. "/_emulator/webhook-sink?token=tok123",
      "http://169.254.169.254/latest/meta-data",
      "http://localhost:" .. port .. "/_emulator/webhook-sink",
      "http://[::1]:" .. port .. "/_emulator/webhook-sink",
    }
    finish_with_webhooks(emu, urls)
    local w = settled(emu, #urls)
    local got = sink(emu)
    local _, err = halt(emu)
    assert.are.same({ sent = 0, failed = 0, dropped = 0, refused = 4 }, w)
    assert.are.same({}, got)
    local lines = warn_lines(err)
    assert.are.equal(4, #lines, err)
    for i, pair in ipairs({ { "127.0.0.1", "127.0.0.1" }, { "169.254.169.254", "169.254.169.254" },
        { "localhost", "" }, { "[::1]", "::1" } }) do
      assert.matches("webhook to " .. pair[1] .. " not sent: " .. pair[2], lines[i], 1, true)
      assert.matches("is not a public address (see RUNPOD_ALLOW_PRIVATE_WEBHOOK_URLS)",
        lines[i], 1, true)
    end
    assert.is_nil(err:find("pw", 1, true), err)
    assert.is_nil(err:find("tok123", 1, true), err)
    assert.is_nil(err:find("Sanitizer", 1, true), err)
  end)

  it("posts to a loopback receiver with --allow-private-webhooks or the variable", function()
    for _, how in ipairs({ { { "--allow-private-webhooks" } },
        { {}, { RUNPOD_ALLOW_PRIVATE_WEBHOOK_URLS = "true" } } }) do
      local emu = started(how[1], how[2])
      local ids = finish_with_webhooks(emu, { emu.base .. "/_emulator/webhook-sink" })
      local w = settled(emu, 1)
      local got = sink(emu)
      assert.are.equal(0, (halt(emu)))
      assert.are.same({ sent = 1, failed = 0, dropped = 0, refused = 0 }, w)
      assert.are.same({ ids[1], "COMPLETED" }, { got[1] and got[1].id, got[1] and got[1].status })
    end
  end)

  it("warns about an invalid RUNPOD_ALLOW_PRIVATE_WEBHOOK_URLS and stays guarded", function()
    local emu = started({}, { RUNPOD_ALLOW_PRIVATE_WEBHOOK_URLS = "maybe" })
    finish_with_webhooks(emu, { emu.base .. "/_emulator/webhook-sink" })
    local w = settled(emu, 1)
    local _, err = halt(emu)
    assert.are.equal(1, w.refused)
    assert.matches("invalid RUNPOD_ALLOW_PRIVATE_WEBHOOK_URLS 'maybe' (true or false)", err, 1,
      true)
  end)

  it("does not follow a redirect from the webhook receiver", function()
    local server, fi = emulators.fake_inference()
    local emu = start({ "--allow-private-webhooks" })
    -- One finally per test (a second one would replace the first).
    finally(function()
      server.stop()
      if emu.pipe then
        stop(emu)
      end
    end)
    local target = emu.base .. "/_emulator/webhook-sink"
    finish_with_webhooks(emu, { fi .. "/redirect?to=" .. target })
    local w = settled(emu, 1)
    local got = sink(emu)
    assert.are.equal(0, (halt(emu)))
    assert.are.same({ sent = 0, failed = 1, dropped = 0, refused = 0 }, w)
    assert.are.same({}, got)
  end)
end)
