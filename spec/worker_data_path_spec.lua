-- The worker's data path under hostile job-take bodies: ids that look like
-- URL syntax, ids with NUL bytes, inputs the codec cannot decode, integers
-- beyond int64, answers that are final. The real bin/runpod-worker takes
-- jobs from spec/fixtures/job_server.lua on 127.0.0.1, which records the
-- exact request targets it gets.
local helpers = require "helpers.emulator"
local proc = require "helpers.proc"
local json = require("runpod").json

-- Starts the job server with the take bodies given (served in turn);
-- returns a handle with url, log() (the requests so far), kill().
local function job_server(takes, opts)
  local dir = proc.tmpdir()
  for i, body in ipairs(takes) do
    proc.write_file(dir .. "/take." .. i, body)
  end
  if opts and opts.done_status then
    proc.write_file(dir .. "/done_status", tostring(opts.done_status))
  end
  if opts and opts.take_status then
    proc.write_file(dir .. "/take_status", tostring(opts.take_status))
  end
  if opts and opts.stop then
    proc.write_file(dir .. "/stop", opts.stop)
  end
  if opts and opts.progress_status then
    proc.write_file(dir .. "/progress_status", tostring(opts.progress_status))
  end
  local h, url = helpers.listening({ "lua5.4", "spec/fixtures/job_server.lua", dir },
    "the job server")
  local server = { url = url }
  function server.log()
    local entries = {}
    for line in proc.read_file(dir .. "/log"):gmatch("[^\n]+") do
      entries[#entries + 1] = assert(json.decode(line))
    end
    return entries
  end
  function server.set_done_status(status)
    proc.write_file(dir .. "/done_status", tostring(status))
  end
  function server.kill()
    h.kill()
    os.execute("rm -rf " .. proc.quote(dir))
  end
  return server
end

local function worker_for(server, env)
  local e = {
    RUNPOD_WEBHOOK_GET_JOB = server.url .. "/v2/ep/job-take/$ID?gpu=x",
    RUNPOD_WEBHOOK_POST_OUTPUT = server.url .. "/v2/ep/job-done/$RUNPOD_POD_ID/$ID?gpu=x",
    RUNPOD_WEBHOOK_PING = server.url .. "/v2/ep/ping/$RUNPOD_POD_ID?gpu=x",
    RUNPOD_AI_API_KEY = "test-key",
    RUNPOD_PING_INTERVAL = "100",
  }
  for k, v in pairs(env or {}) do
    e[k] = v
  end
  return helpers.worker({ env = e }, e.HANDLER or "handlers/echo.lua", e)
end

-- The job-done posts the server got, as { target, body } in order.
local function dones(server)
  local found = {}
  for _, e in ipairs(server.log()) do
    if e.method == "POST" and e.target:find("/job-done/", 1, true) then
      found[#found + 1] = e
    end
  end
  return found
end

local DONE = "/v2/ep/job-done/worker-1/"

-- Waits (30 s at most) until the server has n job-done posts; returns
-- their bodies by request target.
local function bodies_after(server, worker, n)
  assert.truthy(helpers.eventually(30, function()
    return #dones(server) >= n
  end), worker.output())
  local by_target = {}
  for _, e in ipairs(dones(server)) do
    by_target[e.target] = e.body
  end
  return by_target
end

-- The error JSON a failed result carries, decoded.
local function error_of(body)
  local result = assert(json.decode(body))
  return assert(json.decode(assert(result.error, body)))
end

describe("runpod-worker's data path", function()
  local server, worker

  after_each(function()
    if worker then
      worker.kill()
    end
    if server then
      server.kill()
    end
    server, worker = nil, nil
  end)

  it("posts each job's result to its own id, percent-encoded as one path segment", function()
    local ids = {
      { "../../x", "..%2F..%2Fx" },
      { ".", "%2E" },
      { "..", "%2E%2E" },
      { "h#frag", "h%23frag" },
      { "a/b", "a%2Fb" },
      { "q?isStream=true&gpu=evil", "q%3FisStream%3Dtrue%26gpu%3Devil" },
      { "a b", "a%20b" },
      { "c\r\nd", "c%0D%0Ad" },
      { "n\0ul", "n%00ul" },
      { "n", "n" },
      { "n\0other", "n%00other" },
      { "plain-id.1", "plain-id.1" },
    }
    local batch = {}
    for i, pair in ipairs(ids) do
      batch[i] = { id = pair[1], input = { n = i } }
    end
    server = job_server({ json.encode(setmetatable(batch, json.array_mt)) })
    worker = worker_for(server)
    assert.truthy(helpers.eventually(30, function()
      return #dones(server) >= #ids
    end), worker.output())
    local got, request_ids = {}, {}
    for _, e in ipairs(dones(server)) do
      assert.is_nil(got[e.target], "posted twice: " .. e.target)
      got[e.target] = json.decode(e.body)
      request_ids[e.target] = e.headers["X-Request-ID"]
    end
    -- an id with a NUL byte is not cut short into another job's
    assert.are.equal("n", request_ids[DONE .. "n?gpu=x&isStream=false"])
    assert.are.equal("n%00ul", request_ids[DONE .. "n%00ul?gpu=x&isStream=false"])
    assert.are.equal("n%00other", request_ids[DONE .. "n%00other?gpu=x&isStream=false"])
    for i, pair in ipairs(ids) do
      local target = DONE .. pair[2] .. "?gpu=x&isStream=false"
      assert.are.same({ output = { echo = { n = i } } }, got[target],
        target .. "\n" .. worker.output())
    end
    assert.are.equal(#ids, #dones(server))
  end)

  it("writes a job id or message with line breaks as one escaped log line", function()
    local id = "j\r\nINFO   | forged\27[2J"
    server = job_server({ json.encode({ id = id, input = { msg = "m\nERROR  | forged too" } }) })
    worker = worker_for(server, { HANDLER = "spec/fixtures/log_input.lua" })
    assert.truthy(helpers.eventually(30, function()
      return #dones(server) >= 1
    end), worker.output())
    assert.truthy(helpers.eventually(10, function()
      return worker.output():find("Finished", 1, true)
    end), worker.output())
    local out = worker.output()
    for line in out:gmatch("[^\n]+") do
      assert.is_nil(line:find("^%a+ *| forged"), "forged line: " .. line .. "\n" .. out)
      assert.is_nil(line:find("\r", 1, true), "a raw CR: " .. line)
      assert.is_nil(line:find("\27", 1, true), "a raw ESC: " .. line)
    end
    local escaped = "j\\r\\nINFO   | forged\\x1b[2J | "
    assert.truthy(out:find("INFO   | " .. escaped .. "m\\nERROR  | forged too\n", 1, true), out)
    assert.truthy(out:find(escaped .. "Finished", 1, true), out)
  end)

  -- As the Python SDK (three attempts, then an ERROR line), a refused
  -- progress update is given up, never retried for long: the result
  -- queued behind it still goes, at once.
  for _, case in ipairs({ { 503, 3 }, { 400, 1 } }) do
    local status, attempts = case[1], case[2]
    it(("gives up a progress update answered %d after %d attempt(s) and delivers the result")
      :format(status, attempts), function()
      server = job_server({ '{"id":"p1","input":{"steps":2}}' }, { progress_status = status })
      worker = worker_for(server, { HANDLER = "spec/fixtures/progress.lua" })
      local function posts()
        local progress, final = 0, {}
        for _, e in ipairs(dones(server)) do
          if e.body:find('"IN_PROGRESS"', 1, true) then
            progress = progress + 1
          else
            final[#final + 1] = e.body
          end
        end
        return progress, final
      end
      assert.truthy(helpers.eventually(30, function()
        return #select(2, posts()) >= 1
      end), worker.output())
      local progress, final = posts()
      assert.are.same({ { output = { done = 2 } } }, { json.decode(final[1]) })
      assert.are.equal(attempts * 2, progress, worker.output())
      local _, given_up = worker.output():gsub("ERROR  | p1 | giving up on the progress", "")
      assert.are.equal(2, given_up, worker.output())
    end)
  end

  it("lists each in-flight id as one percent-encoded value of the ping's job_id", function()
    local ids = { "amp&job_id=z", "c,d", "plain" }
    local batch = {}
    for i, id in ipairs(ids) do
      batch[i] = { id = id, input = { seconds = 30 } }
    end
    server = job_server({ json.encode(setmetatable(batch, json.array_mt)) })
    worker = worker_for(server, { HANDLER = "spec/fixtures/sleepy.lua", SLEEPY_CONCURRENCY = "3" })
    local want = { ["amp%26job_id%3Dz"] = true, ["c%2Cd"] = true, plain = true }
    local seen = helpers.eventually(30, function()
      for _, e in ipairs(server.log()) do
        local query = e.target:match("^/v2/ep/ping/worker%-1%?(.*)$")
        if query and query:find("job_id=", 1, true) then
          local values = {}
          for param in query:gmatch("[^&]+") do
            local name, value = param:match("^([^=]*)=(.*)$")
            if name == "job_id" then
              values[#values + 1] = value
            end
          end
          assert.are.equal(1, #values, query)
          local listed = {}
          for v in values[1]:gmatch("[^,]+") do
            listed[v] = true
          end
          if next(listed) and listed["c%2Cd"] and listed.plain and listed["amp%26job_id%3Dz"] then
            return listed
          end
        end
      end
    end)
    assert.are.same(want, seen, worker.output())
  end)

  it("logs and skips take entries without a usable id, and runs the others", function()
    server = job_server({ '[{"input":1},{"id":"","input":2},{"id":true,"input":3},'
      .. '{"id":1.5,"input":4},"text",{"id":"ok","input":5},{"id":42,"input":6}]' })
    worker = worker_for(server)
    assert.truthy(helpers.eventually(30, function()
      return #dones(server) >= 2
    end), worker.output())
    local targets = {}
    for _, e in ipairs(dones(server)) do
      targets[#targets + 1] = e.target
    end
    table.sort(targets)
    assert.are.same({ DONE .. "42?gpu=x&isStream=false", DONE .. "ok?gpu=x&isStream=false" },
      targets)
    local _, missing = worker.output():gsub("Job has missing field%(s%): id%.", "")
    assert.are.equal(4, missing, worker.output())
    assert.matches("a batch entry that is not a JSON object was skipped", worker.output(), 1, true)
  end)

  it("answers jobs whose input the codec cannot decode with a failed result", function()
    local deep = ("["):rep(1000) .. ("]"):rep(1000)
    local cases = {
      { "surrogate", '{"s":"\\ud83d"}', "lone" },
      { "huge", '{"x":1e400}', "out of range" },
      { "deep", deep, "nesting deeper than 1000" },
    }
    local takes = {}
    for i, c in ipairs(cases) do
      takes[i] = ('{"id":"%s","input":%s}'):format(c[1], c[2])
    end
    -- and the id after an input nested far too deep for any decoder
    takes[#takes + 1] = '{"id":"deeper","input":' .. ("["):rep(3000) .. ("]"):rep(3000) .. "}"
    cases[#cases + 1] = { "deeper", nil, "nesting deeper than 1000" }
    server = job_server(takes)
    worker = worker_for(server)
    local by_target = bodies_after(server, worker, #cases)
    for _, c in ipairs(cases) do
      local body = by_target[DONE .. c[1] .. "?gpu=x&isStream=false"]
      assert.is_string(body, c[1] .. "\n" .. worker.output())
      local err = error_of(body)
      assert.are.equal("JSONDecodeError", err.error_type, body)
      assert.matches(c[3], err.error_message, 1, true)
    end
  end)

  it("runs a job whose input is null and fails one without input", function()
    -- The Python SDK checks that "input" is there, not what it holds: the
    -- handler gets None. A job with no input at all is answered failed
    -- rather than left in progress.
    server = job_server({ '[{"id":"null-in","input":null},{"id":"no-in","x":1}]' })
    worker = worker_for(server)
    local by_target = bodies_after(server, worker, 2)
    local ran = by_target[DONE .. "null-in?gpu=x&isStream=false"]
    assert.are.equal('{"output":{"echo":null}}', ran, worker.output())
    local body = by_target[DONE .. "no-in?gpu=x&isStream=false"]
    assert.is_string(body, worker.output())
    local err = error_of(body)
    assert.are.equal("KeyError", err.error_type, body)
    assert.are.equal("Job has missing field(s): input.", err.error_message)
    assert.are.equal(2, #dones(server), worker.output())
  end)

  it("runs the jobs of any 2xx job-take answer, as the Python SDK", function()
    server = job_server({ '{"id":"job-201","input":{"x":1}}' }, { take_status = 201 })
    worker = worker_for(server)
    assert.truthy(helpers.eventually(30, function()
      return #dones(server) >= 1
    end), worker.output())
    assert.are.equal(DONE .. "job-201?gpu=x&isStream=false", dones(server)[1].target)
    assert.are.equal('{"output":{"echo":{"x":1}}}', dones(server)[1].body)
  end)

  it("follows the job server's redirects, a post keeping its body, as the Python SDK", function()
    server = job_server({ '{"id":"job-moved","input":{"x":1}}' })
    worker = worker_for(server, {
      RUNPOD_WEBHOOK_GET_JOB = server.url .. "/moved/v2/ep/job-take/$ID?gpu=x",
      RUNPOD_WEBHOOK_POST_OUTPUT = server.url .. "/moved/v2/ep/job-done/$RUNPOD_POD_ID/$ID?gpu=x",
    })
    assert.truthy(helpers.eventually(30, function()
      return #dones(server) >= 2
    end), worker.output())
    local moved, real = dones(server)[1], dones(server)[2]
    assert.are.equal("/moved" .. DONE .. "job-moved?gpu=x&isStream=false", moved.target)
    assert.are.equal(DONE .. "job-moved?gpu=x&isStream=false", real.target)
    assert.are.equal('{"output":{"echo":{"x":1}}}', real.body)
    assert.are.equal(2, #dones(server))
  end)

  it("runs no more jobs at once than its concurrency when the server sends more", function()
    server = job_server({ '[{"id":"a","input":{"seconds":0.3}},{"id":"b","input":{"seconds":0.3}},'
      .. '{"id":"c","input":{"seconds":0.3}}]', '{"id":"d","input":{"seconds":0.1}}' })
    worker = worker_for(server, { HANDLER = "spec/fixtures/overlap.lua" })
    local by_target = bodies_after(server, worker, 4)
    for _, id in ipairs({ "a", "b", "c", "d" }) do
      assert.are.equal('{"output":{"peak":1}}', by_target[DONE .. id .. "?gpu=x&isStream=false"])
    end
    assert.are.equal(4, #dones(server))
    -- no job is taken while some wait: one job-take until b is done
    local takes = 0
    for _, e in ipairs(server.log()) do
      if e.target:find(DONE .. "b?", 1, true) then
        break
      end
      takes = takes + (e.target:find("/job-take", 1, true) and 1 or 0)
    end
    assert.are.equal(1, takes)
  end)

  it("stops a job that waits for a place before it starts", function()
    server = job_server({ '[{"id":"a","input":{"seconds":1}},{"id":"b","input":{"seconds":0.1}}]' },
      { stop = '{"jobsToStop":["b"]}' })
    worker = worker_for(server, { HANDLER = "spec/fixtures/overlap.lua" })
    local by_target = bodies_after(server, worker, 1)
    assert.are.equal('{"output":{"peak":1}}', by_target[DONE .. "a?gpu=x&isStream=false"])
    assert.truthy(helpers.eventually(10, function()
      return worker.output():find("b | Stopped on request before it started.", 1, true)
    end), worker.output())
    assert.are.equal(1, #dones(server))
  end)

  it("posts no stream partials without RUNPOD_WEBHOOK_POST_STREAM, only the result", function()
    -- The Python SDK's partials then go nowhere; posted to the job-done
    -- URL instead, the first would read as the job's result.
    server = job_server({ '{"id":"job-s","input":{"words":["a","b"]}}' })
    worker = worker_for(server, { HANDLER = "handlers/streaming.lua" })
    assert.truthy(helpers.eventually(30, function()
      return #dones(server) >= 1
    end), worker.output())
    helpers.sleep(0.5)
    local posts = {}
    for _, e in ipairs(server.log()) do
      if e.method == "POST" then
        posts[#posts + 1] = e
      end
    end
    assert.are.equal(1, #posts, worker.output())
    assert.are.equal(DONE .. "job-s?gpu=x&isStream=true", posts[1].target)
    assert.are.same({ output = { { index = 1, token = "a" }, { index = 2, token = "b" } } },
      json.decode(posts[1].body))
    assert.matches("RUNPOD_WEBHOOK_POST_STREAM is not set", worker.output(), 1, true)
  end)

  it("takes no job while a result waits for a retry, at concurrency 1", function()
    -- A job server failing its posts must not be handed job after job:
    -- at concurrency 1 the next job is taken only once the result is
    -- sent, as the Python SDK takes it, and a result that failed keeps
    -- its job's place until it is delivered.
    server = job_server({ '{"id":"job-a","input":1}', '{"id":"job-b","input":2}',
      '{"id":"job-c","input":3}' }, { done_status = 500 })
    worker = worker_for(server)
    local function posts_for(id)
      local n = 0
      for _, e in ipairs(dones(server)) do
        if e.target:find("/" .. id .. "?", 1, true) then
          n = n + 1
        end
      end
      return n
    end
    assert.truthy(helpers.eventually(30, function()
      return posts_for("job-a") >= 4
    end), worker.output())
    assert.are.equal(0, posts_for("job-b"), worker.output())
    -- the job server recovers: job-a is delivered, then job-b and job-c
    -- are taken in turn
    server.set_done_status(200)
    assert.truthy(helpers.eventually(30, function()
      return posts_for("job-c") >= 1
    end), worker.output())
  end)

  it("gives up at once, with one ERROR line, on an answer that is final", function()
    server = job_server({ '{"id":"job-404","input":{}}' }, { done_status = 404 })
    worker = worker_for(server)
    local line = helpers.eventually(30, function()
      return worker.output():match("[^\n]*giving up on the result[^\n]*")
    end)
    assert.is_string(line, worker.output())
    assert.matches("ERROR", line, 1, true)
    assert.matches("job-404", line, 1, true)
    assert.matches("HTTP 404", line, 1, true)
    -- the next take comes after the give-up: the result was not retried
    assert.truthy(helpers.eventually(10, function()
      local after = false
      for _, e in ipairs(server.log()) do
        if e.target:find("/job-done/", 1, true) then
          after = true
        elseif after and e.target:find("/job-take/", 1, true) then
          return true
        end
      end
    end))
    assert.are.equal(1, #dones(server), worker.output())
    local _, warnings = worker.output():gsub("retrying in", "")
    assert.are.equal(0, warnings, worker.output())
  end)

  it("does not retry a post whose URL curl refuses", function()
    server = job_server({ '{"id":"job-url","input":{}}' })
    worker = worker_for(server, {
      RUNPOD_WEBHOOK_POST_OUTPUT = server.url .. "/v2/ep/job done/$ID",
    })
    local line = helpers.eventually(30, function()
      return worker.output():match("[^\n]*giving up on the result[^\n]*")
    end)
    assert.is_string(line, worker.output())
    assert.matches("ERROR", line, 1, true)
    assert.matches("job-url", line, 1, true)
    assert.is_nil(worker.output():find("retrying in", 1, true), worker.output())
  end)

  it("keeps integers beyond int64 exact from the job to the result", function()
    server = job_server({
      '{"id":"big","input":{"seed":18446744073709551615,"neg":-9223372036854775809,'
        .. '"max":9223372036854775807,"huge":123456789012345678901234567890}}',
    })
    worker = worker_for(server)
    assert.truthy(helpers.eventually(30, function()
      return #dones(server) >= 1
    end), worker.output())
    local body = dones(server)[1].body
    assert.matches('"seed":18446744073709551615', body, 1, true)
    assert.matches('"neg":-9223372036854775809', body, 1, true)
    assert.matches('"max":9223372036854775807', body, 1, true)
    assert.matches('"huge":123456789012345678901234567890', body, 1, true)
  end)
end)

describe("runpod.json big integers", function()
  it("decode integers beyond int64 exactly and encode them back verbatim", function()
    local t = json.decode('{"seed":18446744073709551615,"neg":-9223372036854775809}')
    assert.are.equal("18446744073709551615", tostring(t.seed))
    assert.are.equal(18446744073709551615.0, tonumber(tostring(t.seed)))
    assert.are.equal(18446744073709551615.0, tonumber(t.seed))
    assert.are.equal(-9223372036854775809.0, tonumber(t.neg))
    -- tonumber stays Lua's for everything else.
    assert.are.equal(255, tonumber("ff", 16))
    assert.are.equal(12, tonumber(" 12 "))
    assert.is_nil(tonumber("x"))
    assert.is_nil(tonumber({}))
    assert.has_error(function() tonumber() end)
    assert.are.equal(18446744073709551615.0, t.seed + 0)
    assert.are.equal("bigint", getmetatable(t.seed))
    assert.are.equal("seed=18446744073709551615", "seed=" .. t.seed)
    assert.is_true(t.seed == json.bigint("18446744073709551615"))
    assert.is_true(t.neg < 0)
    assert.are.equal('[18446744073709551615,-9223372036854775809]',
      json.encode(json.array { t.seed, t.neg }))
    assert.are.equal("9223372036854775807", json.encode(json.decode("9223372036854775807")))
    assert.are.equal("integer", math.type(json.decode("9223372036854775807")))
    assert.has_error(function() json.bigint("01") end)
    assert.has_error(function() json.bigint("1.5") end)
  end)
end)

describe("runpod-worker's ping", function()
  local emu, worker

  after_each(function()
    helpers.stop(emu, worker)
    emu, worker = nil, nil
  end)

  it("stops listing a job as soon as its result is delivered", function()
    -- The emulator holds the job-take long poll, so nothing else wakes
    -- the worker's loop after the result's post ends. Pings every 50 ms:
    -- of those sent after the emulator stored the result, at most the one
    -- already under way may still name the job.
    emu = helpers.start()
    worker = helpers.worker(emu, "handlers/echo.lua", { RUNPOD_PING_INTERVAL = "50" })
    for round = 1, 3 do
      local id = emu.submit({ round = round })
      assert.are.equal("COMPLETED", emu.wait_done(id, 20).status, worker.output())
      local done_seq
      local pings
      assert.truthy(helpers.eventually(20, function()
        pings = {}
        for _, e in ipairs(emu.log()) do
          if e.path:find("/job%-done/") and e.path:find(id, 1, true) then
            done_seq = e.seq
          elseif done_seq and e.path:find("/ping/") then
            pings[#pings + 1] = e
          end
        end
        return #pings >= 8
      end), worker.output())
      local naming = 0
      for _, e in ipairs(pings) do
        if e.query:find(id, 1, true) then
          naming = naming + 1
        end
      end
      assert.is_true(naming <= 1, ("%d pings after the delivery of %s name it"):format(naming, id))
    end
  end)
end)

describe("runpod-worker's results against the emulator over HTTP", function()
  local emu, worker

  after_each(function()
    helpers.stop(emu, worker)
    emu, worker = nil, nil
  end)

  -- The body {"output": ...} is one level more than the output: a result
  -- the job store could not read (past 1000 levels) fails the job in the
  -- worker, with the reason, instead of a post the store refuses (which
  -- left the job IN_PROGRESS).
  it("fails a result whose body would nest past 1000 levels, sends the deepest one", function()
    emu = helpers.start({ "--take-hold-ms", "200" })
    worker = helpers.worker(emu, "spec/fixtures/deep_result.lua")
    local fits = emu.submit({ depth = 999 })
    local deep = emu.submit({ depth = 1000 })
    local ok = emu.wait_done(fits, 30)
    local view = emu.wait_done(deep, 30)
    assert.are.equal("COMPLETED", ok.status, worker.output())
    local depth, v = 0, ok.output
    while type(v) == "table" do
      depth, v = depth + 1, v[1]
    end
    assert.are.equal(999, depth)
    assert.are.equal("FAILED", view.status, worker.output())
    assert.matches("nesting deeper than 1000 at output", view.error, 1, true)
  end)
end)
