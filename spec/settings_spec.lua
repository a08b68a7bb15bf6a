-- The settings runpod-worker reads at start (runtime/base/settings.def): each
-- invalid variable is reported once, in every mode, and mistyped flags are
-- named. Real binaries; every wait is bounded.
local proc = require "helpers.proc"
local emulator = require "helpers.emulator"
local json = require("runpod").json

local ECHO = "handlers/echo.lua"
local INPUT = '{"input":{"x":1}}'

-- How many lines of text contain plain substring s.
local function count(text, s)
  local n = 0
  for line in text:gmatch("[^\n]+") do
    if line:find(s, 1, true) then
      n = n + 1
    end
  end
  return n
end

-- The log line a job's result is in, decoded.
local function result(stdout)
  local line = assert(stdout:match("Job result: ([^\n]+)"), stdout)
  return json.decode(line)
end

local BAD = { RUNPOD_WORKER_THREADS = "abc", RUNPOD_JOB_TIMEOUT = "-5" }
-- The start of each message (serverless mode logs JSON lines, the others
-- plain lines), and the whole of them.
local WARN_THREADS = "ignoring RUNPOD_WORKER_THREADS='abc' (expected a number from 1 to 256)"
local WARN_TIMEOUT = "ignoring RUNPOD_JOB_TIMEOUT='-5' (expected a number from 0 to 1e+09)"
local USING_THREADS = "; using start's worker_threads, else 1\n"
local USING_TIMEOUT = "; using start's timeout, else off\n"

-- Runs a mode in the background until its handler script is loaded, then
-- stops it; returns everything it printed.
local function output_once_loaded(h)
  local loaded = emulator.eventually(30, function()
    return h.output():find("Handler script [^\n]* loaded")
  end)
  local out = h.output()
  h.stop(10)
  assert(loaded, "the worker did not load its script:\n" .. out)
  return out
end

describe("invalid settings", function()
  it("get one WARN each in local test mode, and the job still runs", function()
    local r = proc.worker_run({ ECHO, "--test_input", INPUT }, { env = BAD })
    assert.are.equal(0, r.code, r.stdout .. r.stderr)
    assert.are.equal(1, count(r.stdout, WARN_THREADS), r.stdout)
    assert.are.equal(1, count(r.stdout, WARN_TIMEOUT), r.stdout)
    assert.matches("\nWARN   | " .. WARN_THREADS .. USING_THREADS, "\n" .. r.stdout, 1, true)
    assert.matches("\nWARN   | " .. WARN_TIMEOUT .. USING_TIMEOUT, "\n" .. r.stdout, 1, true)
    assert.are.same({ output = { echo = { x = 1 } } }, result(r.stdout))
  end)

  it("get one WARN each in serverless mode", function()
    local emu = emulator.start()
    local env = { RUNPOD_WORKER_THREADS = "abc", RUNPOD_JOB_TIMEOUT = "-5" }
    local ok, out = pcall(output_once_loaded, emulator.worker(emu, ECHO, env))
    emu.stop()
    assert(ok, out)
    assert.are.equal(1, count(out, WARN_THREADS), out)
    assert.are.equal(1, count(out, WARN_TIMEOUT), out)
  end)

  -- Runs the API server (args, env) on a port picked at random until the
  -- script is loaded; tries another port when that one is taken.
  local function api_output(args, env)
    local out
    for _ = 1, 5 do
      local port = tostring(math.random(20000, 30000))
      local argv, e = { proc.worker, ECHO }, {}
      for _, a in ipairs(args) do
        argv[#argv + 1] = a == "PORT" and port or a
      end
      for k, v in pairs(env) do
        e[k] = v == "PORT" and port or v
      end
      local ok
      ok, out = pcall(output_once_loaded, emulator.spawn(argv, e))
      if ok or not out:find("cannot listen", 1, true) then
        assert(ok, out)
        return out
      end
    end
    error(out)
  end

  it("get one WARN each in API server mode", function()
    local out = api_output({ "--rp_serve_api", "--rp_api_port", "PORT" }, BAD)
    assert.are.equal(1, count(out, WARN_THREADS), out)
    assert.are.equal(1, count(out, WARN_TIMEOUT), out)
  end)

  it("get one WARN each in realtime mode", function()
    local env = { RUNPOD_REALTIME_PORT = "PORT" }
    for k, v in pairs(BAD) do
      env[k] = v
    end
    local out = api_output({}, env)
    assert.matches("Local API server on http://0.0.0.0:", out, 1, true)
    assert.are.equal(1, count(out, WARN_THREADS), out)
    assert.are.equal(1, count(out, WARN_TIMEOUT), out)
  end)

  it("stop the worker at start with one ERROR where the docs say so", function()
    local r = proc.worker_run({ ECHO, "--test_input", INPUT },
      { env = { RUNPOD_REALTIME_CONCURRENCY = "0" } })
    assert.are.equal(2, r.code)
    assert.are.equal("ERROR  | invalid RUNPOD_REALTIME_CONCURRENCY '0' (expected an "
      .. "integer in 1..1024)\n", r.stdout)
  end)

  it("follow the log settings of the flags", function()
    local r = proc.worker_run({ ECHO, "--test_input", INPUT, "--rp_log_level", "ERROR" },
      { env = BAD })
    assert.are.equal(0, r.code)
    assert.are.equal(0, count(r.stdout, "WARN"), r.stdout)
  end)
end)

describe("RUNPOD_DEBUG", function()
  local LOGGER = "spec/fixtures/logger.lua"
  local JOB = '{"id": "j1", "input": {}}'

  it("true, 1 or yes logs at DEBUG, as the Python SDK", function()
    for _, on in ipairs { "true", "1", "yes", "True" } do
      local r = proc.worker_run({ LOGGER, "--test_input", JOB }, { env = { RUNPOD_DEBUG = on } })
      assert.are.equal(0, r.code, r.stdout .. r.stderr)
      assert.matches("\nDEBUG  | j1 | a debug line\n", r.stdout, 1, true)
      assert.is_nil(r.stdout:find("a trace line", 1, true))
    end
  end)

  it("gives way to RUNPOD_LOG_LEVEL, RUNPOD_DEBUG_LEVEL and --rp_log_level", function()
    local r = proc.worker_run({ LOGGER, "--test_input", JOB },
      { env = { RUNPOD_DEBUG = "true", RUNPOD_LOG_LEVEL = "ERROR" } })
    assert.are.same({ "ERROR  | j1 | a error line" }, proc.lines(r.stdout))
    r = proc.worker_run({ LOGGER, "--test_input", JOB },
      { env = { RUNPOD_DEBUG = "true", RUNPOD_DEBUG_LEVEL = "ERROR" } })
    assert.are.same({ "ERROR  | j1 | a error line" }, proc.lines(r.stdout))
    r = proc.worker_run({ LOGGER, "--test_input", JOB, "--rp_log_level", "ERROR" },
      { env = { RUNPOD_DEBUG = "true" } })
    assert.are.same({ "ERROR  | j1 | a error line" }, proc.lines(r.stdout))
  end)

  it("off or unknown keeps INFO; an unknown value gets one WARN", function()
    local r = proc.worker_run({ LOGGER, "--test_input", JOB }, { env = { RUNPOD_DEBUG = "false" } })
    assert.is_nil(r.stdout:find("a debug line", 1, true), r.stdout)
    assert.are.equal(0, count(r.stdout, "WARN   | ignoring"), r.stdout)
    r = proc.worker_run({ LOGGER, "--test_input", JOB }, { env = { RUNPOD_DEBUG = "maybe" } })
    assert.are.equal(0, r.code)
    assert.is_nil(r.stdout:find("a debug line", 1, true), r.stdout)
    assert.are.equal(1, count(r.stdout,
      "WARN   | ignoring RUNPOD_DEBUG='maybe' (expected true or false)"), r.stdout)
  end)
end)

describe("mistyped flags", function()
  it("after the script get a WARN naming the closest flag", function()
    local dir = proc.tmpdir()     -- no test_input.json there
    finally(function() os.execute("rm -rf " .. proc.quote(dir)) end)
    local r = proc.worker_run({ proc.root .. "/" .. ECHO, "--test-input", INPUT, "--rp_api_prt",
      "9000" }, { cwd = dir })
    assert.are.equal(1, r.code)
    assert.are.equal(1, count(r.stdout, "WARN   | unknown flag '--test-input' (did you mean "
      .. "--test_input?); left in the script's arg table"), r.stdout)
    assert.are.equal(1, count(r.stdout, "WARN   | unknown flag '--rp_api_prt' (did you mean "
      .. "--rp_api_port?); left in the script's arg table"), r.stdout)
  end)

  it("get the same WARN under plain lua5.4", function()
    local r = proc.lua_run({ ECHO, "--test-input=" .. INPUT, "--test_input", INPUT },
      { env = BAD })
    assert.are.equal(0, r.code, r.stdout .. r.stderr)
    assert.are.equal(1, count(r.stdout, "WARN   | unknown flag '--test-input=" .. INPUT
      .. "' (did you mean --test_input?); left in the script's arg table"), r.stdout)
    assert.are.equal(1, count(r.stdout, WARN_THREADS), r.stdout)
    assert.are.equal(1, count(r.stdout, WARN_TIMEOUT), r.stdout)
  end)

  it("that are not ours stay in arg without a word", function()
    local r = proc.worker_run { "spec/fixtures/args.lua", "--model", "tiny", "--test_input",
      "{\"input\":{}}", "-v", "--test-input=x" }
    assert.are.equal(0, r.code, r.stdout)
    assert.are.equal(0, count(r.stdout, "'--model'"), r.stdout)
    assert.are.equal(1, count(r.stdout, "unknown flag '--test-input=x' (did you mean "
      .. "--test_input?)"), r.stdout)
    assert.are.same({ "spec/fixtures/args.lua", "--model", "tiny", "-v", "--test-input=x" },
      result(r.stdout).output.args)
  end)

  it("may be shortened to a prefix of one flag, as argparse allows", function()
    local r = proc.worker_run { ECHO, "--test_in", INPUT, "--rp_log=DEBUG" }
    assert.are.equal(2, r.code, r.stdout)   -- --rp_log_level or --rp_log_stream
    assert.matches("^runpod%-worker: ambiguous option: %-%-rp_log could match "
      .. "%-%-rp_log_level, %-%-rp_log_stream\n", r.stderr)
    r = proc.worker_run { ECHO, "--test_in", INPUT, "--rp_log_l=DEBUG" }
    assert.are.equal(0, r.code, r.stdout)
    assert.are.same({ output = { echo = { x = 1 } } }, result(r.stdout))
    assert.matches("DEBUG  | local_test | Retrieved local job", r.stdout, 1, true)
    r = proc.lua_run { ECHO, "--test_in=" .. INPUT }
    assert.are.equal(0, r.code, r.stdout .. r.stderr)
    assert.are.same({ output = { echo = { x = 1 } } }, result(r.stdout))
  end)

  it("--test_input '' is none given, as in the Python SDK: test_input.json runs", function()
    local dir = proc.tmpdir()
    finally(function() os.execute("rm -rf " .. proc.quote(dir)) end)
    proc.write_file(dir .. "/test_input.json", INPUT)
    local r = proc.worker_run({ proc.root .. "/" .. ECHO, "--test_input", "" }, { cwd = dir })
    assert.are.equal(0, r.code, r.stdout)
    assert.matches("Using test_input.json as job input.", r.stdout, 1, true)
    assert.are.same({ output = { echo = { x = 1 } } }, result(r.stdout))
  end)

  it("before the script are named in the usage error", function()
    local r = proc.worker_run { "--frobnicate", ECHO }
    assert.are.equal(2, r.code)
    assert.matches("^runpod%-worker: unknown flag '%-%-frobnicate'\nusage: ", r.stderr)
    r = proc.worker_run { "--rp_serve-api", ECHO }
    assert.are.equal(2, r.code)
    assert.matches("^runpod%-worker: unknown flag '%-%-rp_serve%-api' %(did you mean "
      .. "%-%-rp_serve_api%?%)\n", r.stderr)
  end)

  it("a known flag before the script says the script comes first", function()
    local r = proc.worker_run { "--rp_debugger", ECHO }
    assert.are.equal(2, r.code)
    assert.matches("^runpod%-worker: the handler script comes first: runpod%-worker "
      .. "handlers/echo%.lua %[flags%]\n", r.stderr)
  end)
end)

describe("RUNPOD_ENDPOINT_SECRET", function()
  it("is the key when RUNPOD_AI_API_KEY is unset, and is never logged", function()
    local emu = emulator.start()
    local key = emu.env.RUNPOD_AI_API_KEY
    local env = { RUNPOD_POD_ID = "worker-1", RUNPOD_LOG_LEVEL = "TRACE" }
    for k, v in pairs(emu.env) do
      env[k] = v
    end
    env.RUNPOD_AI_API_KEY = nil
    env.RUNPOD_ENDPOINT_SECRET = key
    local w = emulator.spawn({ proc.worker, ECHO }, env)
    local ok, view = pcall(function()
      return emu.wait_done(emu.submit({ x = 1 }), 20)
    end)
    local out = w.output()
    emulator.stop(emu, w)
    assert(ok, view)
    assert.are.equal("test-key", key)
    assert.are.equal("COMPLETED", view and view.status, out)
    assert.are.same({ echo = { x = 1 } }, view.output)
    assert.is_nil(out:find(key, 1, true), out)
  end)
end)
