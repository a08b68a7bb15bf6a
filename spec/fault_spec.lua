-- Fault suite: the real bin/runpod-worker against the real
-- bin/runpod-emulator when things break - the worker is killed mid-job,
-- the job server cuts or trickles its answers, jobs and results are huge,
-- the handler forks, closes stdout or calls os.exit. Every wait is bounded
-- by time and by count.
local helpers = require "helpers.emulator"
local proc = require "helpers.proc"
local json = require("runpod").json

local eventually = helpers.eventually

local function count_requests(emu, pattern)
  local n = 0
  for _, e in ipairs(emu.log()) do
    if e.path:find(pattern) then
      n = n + 1
    end
  end
  return n
end

-- The worker requests the emulator logged whose path matches pattern and
-- names job id, in the order they arrived.
local function requests_for(emu, pattern, id)
  local found = {}
  for _, e in ipairs(emu.log()) do
    if e.path:find(pattern) and e.path:sub(-#id - 1) == "/" .. id then
      found[#found + 1] = e
    end
  end
  return found
end

local function header(entry, name)
  local v = entry.headers and entry.headers[name]
  if v == json.null then
    return nil
  end
  return v
end

describe("runpod-worker under faults", function()
  local emu
  local workers = {}

  local function start_worker(env)
    local w = helpers.worker(emu, "spec/fixtures/faulty.lua", env)
    workers[#workers + 1] = w
    return w
  end

  after_each(function()
    helpers.stop(emu, table.unpack(workers))
    emu, workers = nil, {}
  end)

  it("re-delivers the job of a worker killed with SIGKILL mid-job to the next worker", function()
    -- The lease: a taken job whose worker sends nothing for 1.5 s goes back
    -- to the queue. Workers ping every 0.3 s, so a live one keeps its job.
    emu = helpers.start({ "--requeue-after-ms", "1500", "--ping-interval-ms", "300",
      "--take-hold-ms", "200" })
    local id = emu.submit({ sleep = 60, n = 1 })
    local first = start_worker({ RUNPOD_POD_ID = "doomed", FAULTY_SLOW = "1" })
    local taken = eventually(20, function()
      local job = emu.stats().jobs[id]
      return job and job.status == "IN_PROGRESS" and job.worker == "doomed"
    end)
    assert.is_truthy(taken, first.output())
    -- Alive and pinging for longer than the lease: the job stays with it.
    -- Ten more pings at 0.3 s span 2.7 s, past the 1.5 s lease.
    local pings = emu.stats().pings
    assert.is_truthy(eventually(30, function()
      return emu.stats().pings >= pings + 10
    end), first.output())
    assert.are.equal("IN_PROGRESS", emu.stats().jobs[id].status)
    assert.are.equal(0, emu.stats().jobs[id].retries)
    first.signal("KILL")
    assert.is_not_nil(first.wait(10))
    start_worker({ RUNPOD_POD_ID = "successor" })
    local view = emu.wait_done(id, 30)
    assert.are.equal("COMPLETED", view.status)
    assert.are.same({ alive = true, n = 1, pod = "successor" }, view.output)
    local job = emu.stats().jobs[id]
    assert.are.equal(1, job.retries)
    assert.are.equal(1, job.done)
    assert.are.equal("successor", job.worker)
  end)

  it("goes on when the job server closes the connection mid-body on job-take", function()
    emu = helpers.start({ "--fault", "job-take=cut,first=3", "--take-hold-ms", "200" })
    local w = start_worker()
    -- The cut answers do not touch the store: the queued jobs are all
    -- delivered afterwards, each once.
    local ids = {}
    for i = 1, 3 do
      ids[i] = emu.submit({ n = i })
    end
    for i, id in ipairs(ids) do
      local view = emu.wait_done(id, 30)
      assert.are.equal("COMPLETED", view.status, w.output())
      assert.are.equal(i, view.output.n)
      assert.are.equal(1, emu.stats().jobs[id].done)
    end
    assert.are.equal(3, emu.stats().fault_hits["job-take"])
    assert.is_nil(w.wait(0))
    -- Logged as a failed take, not silently.
    assert.is_truthy(w.output():find("job-take", 1, true), w.output())
  end)

  it("posts a result again, as the same delivery, when its answer times out after it was stored",
    function()
      -- The emulator stores the first job-done, then trickles its answer "{}"
      -- one byte per 10 s. With RUNPOD_POST_TIMEOUT=1 the worker gives up on
      -- the answer after 1 s and cannot know the result landed: it posts
      -- again (at least once), with the same X-Request-ID and body, and the
      -- emulator takes the repeat as the delivery it already has.
      emu = helpers.start({ "--fault", "job-done=trickle,first=1,ms=10000",
        "--take-hold-ms", "200" })
      local w = start_worker({ RUNPOD_POST_TIMEOUT = "1" })
      local a = emu.submit({ n = 1 })
      local b = emu.submit({ n = 2 })
      assert.are.equal("COMPLETED", emu.wait_done(a, 20).status, w.output())
      assert.are.equal("COMPLETED", emu.wait_done(b, 20).status, w.output())
      assert.is_truthy(eventually(20, function()
        return count_requests(emu, "/job%-done/") >= 3
      end), w.output())
      local posts = requests_for(emu, "/job%-done/", a)
      assert.are.equal(2, #posts, w.output())
      for _, e in ipairs(posts) do
        assert.are.equal(a, header(e, "X-Request-ID"))
        assert.are.equal(posts[1].body, e.body)
      end
      assert.are.same({ output = { alive = true, n = 1, pod = "worker-1" } },
        json.decode(posts[1].body))
      assert.are.equal(200, posts[2].status)
      local stats = emu.stats()
      -- one result, and the repeat is not a late post
      assert.are.equal(1, stats.jobs[a].done)
      assert.are.equal(0, stats.jobs[a].late)
      assert.are.equal(1, stats.jobs[b].done)
      assert.are.equal(1, stats.fault_hits["job-done"])
      assert.are.same({ alive = true, n = 1, pod = "worker-1" }, emu.wait_done(a, 5).output)
      assert.is_truthy(w.output():find("posting the result failed", 1, true), w.output())
      assert.is_nil(w.wait(0))
    end)

  it("repeats a timed-out progress update and stream partial with the job id and the same body",
    function()
      -- progress 1, partial a, progress 2, partial b, result: the first
      -- progress post and the first partial are stored, then their answers
      -- trickle past the 1 s post timeout, so each is posted twice.
      emu = helpers.start({ "--fault", "job-done=trickle,first=1,ms=10000",
        "--fault", "job-stream=trickle,first=1,ms=10000", "--take-hold-ms", "200" })
      local id = emu.submit({ seconds = 0.01, progress = true })
      local w = helpers.worker(emu, "spec/fixtures/sleepy.lua", { RUNPOD_POST_TIMEOUT = "1" })
      workers[#workers + 1] = w
      assert.are.equal("COMPLETED", emu.wait_done(id, 30).status, w.output())
      -- Each attempt is the same request: X-Request-ID and body bytes.
      local posts = requests_for(emu, "/job%-[ds][ot][nr]", id)
      assert.are.equal(7, #posts, w.output())
      assert.are.equal(posts[1].body, posts[2].body)
      assert.are.equal(posts[3].body, posts[4].body)
      local seen = {}
      for i, e in ipairs(posts) do
        seen[i] = { header(e, "X-Request-ID"), json.decode(e.body) }
      end
      local progress = "IN_PROGRESS"
      assert.are.same({
        { id, { status = progress, output = { step = 1 } } },
        { id, { status = progress, output = { step = 1 } } },
        { id, { output = { token = "a" } } },
        { id, { output = { token = "a" } } },
        { id, { status = progress, output = { step = 2 } } },
        { id, { output = { token = "b" } } },
        { id, { output = { { token = "a" }, { token = "b" } } } },
      }, seen)
      assert.are.equal(1, emu.stats().jobs[id].done)
      assert.is_nil(w.wait(0))
    end)

  it("retries a result answered 408 instead of giving it up", function()
    -- The results go to a server that answers every post 408 (Request
    -- Timeout): transient, like 429 and 5xx, so the worker keeps the result
    -- and posts it again.
    emu = helpers.start({ "--take-hold-ms", "200" })
    local fake, base = helpers.fake_inference()
    finally(function() fake.kill() end)
    local w = start_worker({ RUNPOD_WEBHOOK_POST_OUTPUT = base .. "/status/408?job=$ID" })
    emu.submit({ n = 1 })
    assert.is_truthy(eventually(20, function()
      local _, n = w.output():gsub("posting the result failed %(HTTP 408%); retrying", "")
      return n >= 2
    end), w.output())
    assert.is_nil(w.output():find("giving up", 1, true), w.output())
    assert.is_nil(w.wait(0))
  end)

  it("delivers and processes a 50 MB job input", function()
    emu = helpers.start({ "--max-body", tostring(64 * 1024 * 1024), "--take-hold-ms", "200" })
    local data = string.rep("0123456789", 5 * 1024 * 1024)
    local status, text = emu.request("POST", "/v2/ep/run",
      json.encode({ input = { data = data } }))
    assert.are.equal(200, status, text)
    local id = json.decode(text).id
    local w = start_worker()
    local view = emu.wait_done(id, 120)
    assert.are.equal("COMPLETED", view.status, w.output())
    assert.are.equal(#data, view.output.bytes)
    assert.is_nil(w.wait(0))
  end)

  it("takes no next job while a large result is still being delivered", function()
    -- The first job-done (the 2 MB echo's result) is held 3 s before the
    -- emulator reads it. With concurrency 1 the small job behind it is
    -- taken only once the large result is delivered, so the worker never
    -- holds that result and the next job's input at once: the large job
    -- completes first.
    emu = helpers.start({ "--fault", "job-done=delay,first=1,ms=3000",
      "--take-hold-ms", "200" })
    local big = emu.submit({ image = string.rep("QUJD", 512 * 1024) })
    local small = emu.submit({ n = 1 })
    local w = helpers.worker(emu, "handlers/echo.lua")
    workers[#workers + 1] = w
    assert.are.equal("COMPLETED", emu.wait_done(small, 30).status, w.output())
    assert.are.equal("COMPLETED", emu.json("GET", "/v2/ep/status/" .. big).status,
      w.output())
    assert.are.equal(1, emu.stats().fault_hits["job-done"])
    assert.is_nil(w.wait(0))
  end)

  it("fails a job whose result is 100 MB with an error naming the 20 MB limit", function()
    emu = helpers.start({ "--take-hold-ms", "200" })
    local w = start_worker()
    local id = emu.submit({ big = 100 * 1000 * 1000 })
    local after = emu.submit({ n = 7 })
    local view = emu.wait_done(id, 120)
    assert.are.equal("FAILED", view.status, w.output())
    local err = type(view.error) == "string" and view.error or json.encode(view.error)
    assert.is_truthy(err:find("ResultTooLarge", 1, true), err)
    assert.is_truthy(err:find("limit of 20000000 bytes", 1, true), err)
    assert.are.equal("COMPLETED", emu.wait_done(after, 30).status, w.output())
    assert.is_nil(w.wait(0))
  end)

  it("keeps serving after handlers that fork, close stdout or call os.exit", function()
    emu = helpers.start({ "--take-hold-ms", "200" })
    local w = start_worker()
    local fork = emu.submit({ fork = true })
    local closed = emu.submit({ close_stdout = true })
    local exit = emu.submit({ exit = true })
    local last = emu.submit({ n = 9 })
    local view = emu.wait_done(fork, 30)
    assert.are.equal("COMPLETED", view.status, w.output())
    assert.are.same({ false, "exit", 3 }, view.output.execute)
    assert.are.equal("forked\n", view.output.popen)
    assert.are.equal("COMPLETED", emu.wait_done(closed, 30).status, w.output())
    view = emu.wait_done(exit, 30)
    assert.are.equal("FAILED", view.status, w.output())
    view = emu.wait_done(last, 30)
    assert.are.equal("COMPLETED", view.status, w.output())
    assert.are.same({ alive = true, n = 9, pod = "worker-1" }, view.output)
    assert.is_nil(w.wait(0))
    -- Still taking jobs afterwards.
    local again = emu.submit({ n = 10 })
    assert.are.equal("COMPLETED", emu.wait_done(again, 30).status, w.output())
  end)

  it("fails a job that writes past the file-size limit instead of dying of SIGXFSZ", function()
    local dir = proc.tmpdir()
    finally(function() os.execute("rm -rf " .. proc.quote(dir)) end)
    local input = json.encode({ input = { path = dir .. "/big", bytes = 1000000 } })
    -- ulimit -f counts 1024-byte blocks: 64 KiB.
    local r = proc.run({ "bash", "-c", 'ulimit -f 64; exec "$0" "$@"', proc.worker,
      "spec/fixtures/big_writer.lua", "--test_input", input })
    assert.are.equal(1, r.code, r.stdout .. r.stderr)
    assert.matches("write failed: File too large", r.stdout, 1, true)
  end)
end)

describe("the local API server against path tricks and big headers", function()
  local server

  after_each(function()
    if server then
      server.kill()
      server = nil
    end
  end)

  -- Raw requests over sockets (curl would normalise the path), one
  -- connection each, in one python3 process: a list of {status, body}.
  local function raw_all(port, requests)
    local cmd = ("env -u LD_PRELOAD python3 -c %s %d"):format(proc.quote([[
import json, socket, sys
out = []
for req in json.load(sys.stdin):
    s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=10)
    data = b""
    try:
        s.sendall(req.encode("latin-1"))
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
            if b"\r\n\r\n" in data:
                head, _, rest = data.partition(b"\r\n\r\n")
                length = [l for l in head.split(b"\r\n")
                          if l.lower().startswith(b"content-length:")]
                if length and len(rest) >= int(length[0].split(b":")[1]):
                    break
    except (ConnectionResetError, BrokenPipeError, socket.timeout):
        pass
    s.close()
    out.append(data.decode("latin-1"))
json.dump(out, sys.stdout)
]]), port)
    local path = os.tmpname()
    proc.write_file(path, json.encode(requests))
    local p = assert(io.popen(cmd .. " < " .. proc.quote(path)))
    local out = p:read("a")
    p:close()
    os.remove(path)
    local answers = {}
    for i, text in ipairs(json.decode(out) or {}) do
      answers[i] = { tonumber(text:match("^HTTP/1%.1 (%d+)")), text:match("\r\n\r\n(.*)$") or "" }
    end
    return answers
  end

  local function raw(port, request)
    local a = raw_all(port, { request })[1] or {}
    return a[1], a[2]
  end

  local function start(key)
    local port
    for _ = 1, 5 do
      port = 20000 + math.random(20000)
      server = helpers.spawn({ proc.worker, "handlers/echo.lua", "--rp_serve_api",
        "--rp_api_port", tostring(port) }, { RUNPOD_AI_API_KEY = key })
      local up = eventually(20, function()
        return server.output():find("Local API server on", 1, true) or server.wait(0)
      end)
      if up and not server.wait(0) then
        return port
      end
      server.kill()
    end
    error("local API server did not start")
  end

  it("answers 400 to /../, double slashes and %00 in the path; %2e%2e is data", function()
    local port = start("api-key-secret")
    local status = raw(port, "GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
    assert.are.equal(200, status)
    -- An escaped dot segment is decoded after the path is split: a
    -- segment named "..", which no route has, never a step up.
    for _, path in ipairs({ "/v2/x/%2e%2e/health", "/%2E%2E/health" }) do
      local st, body = raw(port, "GET " .. path .. " HTTP/1.1\r\nHost: x\r\n\r\n")
      assert.are.same({ 404, { error = "no such route" } }, { st, json.decode(body) }, path)
    end
    local paths = { "/v2/x/../health", "/health%zz", "/health#x", "//health", "/v2//x/health",
      "/health%00/x", "/./health", "/health/." }
    local requests = {}
    for i, path in ipairs(paths) do
      requests[i] = "GET " .. path .. " HTTP/1.1\r\nHost: x\r\n\r\n"
    end
    local answers = raw_all(port, requests)
    for i, path in ipairs(paths) do
      local st, body = table.unpack(answers[i] or {})
      assert.are.equal(400, st, path)
      assert.are.same({ error = "invalid path" }, json.decode(body), path)
    end
    -- With a body too: answered without reading it.
    local st = raw(port, "POST /../run HTTP/1.1\r\nHost: x\r\nContent-Length: 14\r\n\r\n"
      .. '{"input":{}}\r\n')
    assert.are.equal(400, st)
  end)

  it("refuses a request with thousands of headers (431) and keeps serving", function()
    local port = start("api-key-secret")
    local parts = { "GET /health HTTP/1.1\r\nHost: x\r\n" }
    for i = 1, 5000 do
      parts[#parts + 1] = ("X-Header-%d: v\r\n"):format(i)
    end
    parts[#parts + 1] = "\r\n"
    local st = raw(port, table.concat(parts))
    assert.is_true(st == 431 or st == 413, tostring(st))
    assert.are.equal(200, (raw(port, "GET /health HTTP/1.1\r\nHost: x\r\n\r\n")))
  end)

  it("never echoes the API key in error answers (emulator, --api-key)", function()
    local emu = helpers.start({ "--api-key", "api-key-secret" })
    local port = tonumber(emu.url:match(":(%d+)$"))
    local ok, err = pcall(function()
      local requests = {
        "POST /v2/ep/run HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer api-key-secret-wrong\r\n"
          .. "Content-Length: 2\r\n\r\n{}",
        "POST /v2/ep/run HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer api-key-secret\r\n"
          .. "Content-Length: 5\r\n\r\n{bad}",
        "GET /v2/ep/job-take/w HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer api-key-secret\r\n\r\n",
        "GET /v2/api-key-secret/health HTTP/1.1\r\nHost: x\r\n"
          .. "Authorization: api-key-secret\r\n\r\n",
        "DELETE /v2/ep/run HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer api-key-secret\r\n\r\n",
      }
      local answers = raw_all(port, requests)
      for i, req in ipairs(requests) do
        local st, body = table.unpack(answers[i] or {})
        assert.is_true(st >= 400 and st < 500, req)
        assert.is_nil(body:find("api-key-secret", 1, true), body)
      end
    end)
    emu.stop()
    assert(ok, err)
  end)
end)
