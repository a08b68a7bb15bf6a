-- spec/helpers/emulator.lua: starts the real bin/runpod-emulator and real
-- bin/runpod-worker processes for end-to-end tests, talks HTTP to the
-- emulator with the curl command-line tool, and bounds every wait.
local proc = require "helpers.proc"
local json = require("runpod").json

local M = {}

M.emulator_bin = os.getenv("RUNPOD_EMULATOR_BIN")
  or (proc.worker:gsub("runpod%-worker$", "runpod-emulator"))

local function sleep(s)
  os.execute("sleep " .. s)
end
M.sleep = sleep

-- Runs argv in the background; returns a handle with the pid, and files
-- collecting stdout+stderr and, once it ends, the exit code.
local function spawn(argv, env)
  local dir = proc.tmpdir()
  -- Under the sanitizers, plain lua5.4 loads the instrumented module and
  -- keeps spec/run's preload; everything else runs without it.
  local parts = { "env" }
  if argv[1] ~= "lua5.4" then
    parts[#parts + 1] = "-u LD_PRELOAD"
  end
  for name, value in pairs(proc.with_checks_off(env) or {}) do
    parts[#parts + 1] = proc.quote(name .. "=" .. value)
  end
  for _, a in ipairs(argv) do
    parts[#parts + 1] = proc.quote(a)
  end
  local cmd = table.concat(parts, " ")
  local script = ("cd %s && { %s >%s 2>&1 & pid=$!; echo $pid >%s; wait $pid; echo $? >%s; } "
    .. ">/dev/null 2>&1 &"):format(proc.quote(proc.root), cmd, proc.quote(dir .. "/out"),
    proc.quote(dir .. "/pid"), proc.quote(dir .. "/rc"))
  os.execute(script)
  local h = { dir = dir }
  for _ = 1, 100 do
    local pid = proc.read_file(dir .. "/pid"):match("%d+")
    if pid then
      h.pid = pid
      break
    end
    sleep(0.02)
  end
  assert(h.pid, "process did not start: " .. cmd)
  function h.output()
    return proc.read_file(dir .. "/out")
  end
  function h.signal(sig)
    os.execute("kill -" .. sig .. " " .. h.pid .. " 2>/dev/null")
  end
  -- wait(seconds) -> exit code, or nil when it is still running
  function h.wait(seconds)
    local deadline = os.time() + seconds
    repeat
      local rc = proc.read_file(dir .. "/rc"):match("%d+")
      if rc then
        return tonumber(rc)
      end
      sleep(0.05)
    until os.time() > deadline
    return nil
  end
  function h.kill()
    if not proc.read_file(dir .. "/rc"):match("%d+") then
      h.signal("KILL")
      h.wait(5)
    end
    os.execute("rm -rf " .. proc.quote(dir))
  end
  -- stop([seconds]): SIGTERM, up to seconds (default 5) to exit, then kill.
  function h.stop(seconds)
    h.signal("TERM")
    h.wait(seconds or 5)
    h.kill()
  end
  return h
end
M.spawn = spawn

-- start(args) -> emulator: runs bin/runpod-emulator on an ephemeral port.
-- emulator.env is the worker environment it printed; emulator.url its
-- base URL; emulator.stop() ends it.
function M.start(args)
  local argv = { M.emulator_bin, "--port", "0", "--endpoint", "ep", "--api-key", "test-key" }
  for _, a in ipairs(args or {}) do
    argv[#argv + 1] = a
  end
  local h = spawn(argv)
  local out
  for _ = 1, 200 do
    out = h.output()
    if out:find("RUNPOD_WEBHOOK_PING", 1, true) then
      break
    end
    sleep(0.02)
  end
  local emu = { process = h, env = {} }
  emu.url = assert(out:match("listening on (http://[%d%.:]+)"), "emulator did not start:\n" .. out)
  for name, value in out:gmatch("export ([%w_]+)='([^']*)'") do
    emu.env[name] = value
  end
  function emu.stop()
    h.stop(10)
  end
  -- request(method, path[, body]) -> status, body (path under the base URL)
  function emu.request(method, path, body, headers)
    local bodyfile = os.tmpname()
    local outfile = os.tmpname()
    -- curl must not inherit the sanitizer preload of `make check`.
    local parts = { "env -u LD_PRELOAD curl -s -m 30 -o", proc.quote(outfile),
      "-w '%{http_code}' -X", method,
      "-H 'Content-Type: application/json' -H 'Authorization: Bearer test-key'" }
    for _, hd in ipairs(headers or {}) do
      parts[#parts + 1] = "-H " .. proc.quote(hd)
    end
    if body then
      proc.write_file(bodyfile, body)
      parts[#parts + 1] = "--data-binary @" .. proc.quote(bodyfile)
    end
    parts[#parts + 1] = proc.quote(emu.url .. path)
    local p = assert(io.popen(table.concat(parts, " ")))
    local status = tonumber(p:read("a"))
    p:close()
    local text = proc.read_file(outfile)
    os.remove(bodyfile)
    os.remove(outfile)
    return status, text
  end
  -- json(method, path[, body]) -> decoded answer
  function emu.json(method, path, body)
    local status, text = emu.request(method, path, body and assert(json.encode(body)))
    return json.decode(text), status
  end
  -- submit(input) -> job id
  function emu.submit(input)
    local v = assert(emu.json("POST", "/v2/ep/run", { input = input }))
    return v.id
  end
  -- wait_done(id, seconds) -> the final job view (or the last one seen)
  function emu.wait_done(id, seconds)
    local deadline = os.time() + (seconds or 30)
    local view
    repeat
      view = emu.json("GET", "/v2/ep/status/" .. id)
      if view and (view.status == "COMPLETED" or view.status == "FAILED"
          or view.status == "CANCELLED" or view.status == "TIMED_OUT") then
        return view
      end
      sleep(0.05)
    until os.time() > deadline
    return view
  end
  -- log() -> the worker requests the emulator saw, decoded
  function emu.log()
    local _, text = emu.request("GET", "/_emulator/log")
    local list = {}
    for line in text:gmatch("[^\n]+") do
      list[#list + 1] = json.decode(line)
    end
    return list
  end
  function emu.stats()
    return emu.json("GET", "/_emulator/stats")
  end
  return emu
end

-- stop(emu, ...): kills the worker processes given, then stops the
-- emulator; nil arguments are skipped. For after_each.
function M.stop(emu, ...)
  for i = 1, select("#", ...) do
    local w = select(i, ...)
    if w then
      w.kill()
    end
  end
  if emu then
    emu.stop()
  end
end

-- eventually(seconds, f[, every]) -> the first true value f() returns,
-- polled every `every` seconds (default 0.1), or nil once seconds pass.
function M.eventually(seconds, f, every)
  local deadline = os.time() + seconds
  repeat
    local v = f()
    if v then
      return v
    end
    sleep(every or 0.1)
  until os.time() > deadline
  return nil
end

-- listening(argv, name[, seconds]) -> process, "http://127.0.0.1:PORT"
-- Spawns a test server that prints "listening on PORT" once it serves
-- (build/spec/fake_inference, spec/s3/server.js); waits for that line,
-- at most seconds (default 10).
function M.listening(argv, name, seconds)
  local h = spawn(argv)
  local port
  for _ = 1, math.ceil((seconds or 10) / 0.02) do
    port = h.output():match("listening on (%d+)")
    if port then
      break
    end
    sleep(0.02)
  end
  assert(port, name .. " did not start: " .. h.output())
  return h, "http://127.0.0.1:" .. port
end

-- fake_inference() -> process, base URL: build/spec/fake_inference, the
-- small HTTP server of the runpod.http and runpod.download specs.
function M.fake_inference()
  return M.listening({ proc.root .. "/" .. (os.getenv("RP_BUILD") or "build")
    .. "/spec/fake_inference", "0" }, "the fake inference server")
end

-- worker(emulator, handler[, env]) -> process running runpod-worker in
-- serverless mode against the emulator.
function M.worker(emu, handler, env)
  local e = {}
  for k, v in pairs(emu.env) do
    e[k] = v
  end
  e.RUNPOD_POD_ID = e.RUNPOD_POD_ID or "worker-1"
  for k, v in pairs(env or {}) do
    e[k] = v
  end
  if (os.getenv("RP_SANITIZE") or "") ~= "" then
    e.ASAN_OPTIONS = "detect_leaks=1"
  end
  local argv = { proc.worker, handler }
  return spawn(argv, e)
end

return M
