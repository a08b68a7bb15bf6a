-- End-to-end tests of bin/runpod-worker in local test mode: the real
-- binary, started as a child process, on the example handlers and the
-- fixtures in spec/fixtures.
local proc = require "helpers.proc"
local json = require("runpod").json

local run = proc.worker_run

local results = proc.job_results

local function result(stdout)
  local list = results(stdout)
  assert.are.equal(1, #list, "expected one job result in:\n" .. stdout)
  return list[1]
end

-- The error JSON a failed job carries, decoded.
local function error_info(res)
  assert.is_string(res.error)
  return assert(json.decode(res.error))
end

describe("runpod-worker", function()
  describe("local test mode", function()
    it("runs the job from --test_input and prints the result", function()
      local r = run { "handlers/echo.lua", "--test_input", '{"input": {"x": 1}}' }
      assert.are.equal(0, r.code)
      assert.are.same({ output = { echo = { x = 1 } } }, result(r.stdout))
      assert.matches("INFO   | local_test | Started.", r.stdout, 1, true)
      assert.matches("Job local_test completed successfully.", r.stdout, 1, true)
    end)

    it("reads ./test_input.json when no --test_input is given", function()
      local dir = proc.tmpdir()
      finally(function() os.execute("rm -rf " .. proc.quote(dir)) end)
      proc.write_file(dir .. "/test_input.json", '{"input": {"from": "file"}}')
      local r = run({ proc.root .. "/handlers/echo.lua" }, { cwd = dir })
      assert.are.equal(0, r.code)
      assert.matches("Using test_input.json as job input.", r.stdout, 1, true)
      assert.are.same({ output = { echo = { from = "file" } } }, result(r.stdout))
    end)

    it("exits 1 when there is no test input at all", function()
      local dir = proc.tmpdir()
      finally(function() os.execute("rm -rf " .. proc.quote(dir)) end)
      local r = run({ proc.root .. "/handlers/echo.lua" }, { cwd = dir })
      assert.are.equal(1, r.code)
      assert.matches("WARN   | test_input.json not found, exiting.", r.stdout, 1, true)
    end)

    it("exits 1 with an error naming the cause when test_input.json cannot be read", function()
      local dir = proc.tmpdir()
      finally(function() os.execute("rm -rf " .. proc.quote(dir)) end)
      assert(os.execute("mkdir " .. proc.quote(dir .. "/test_input.json")))
      local r = run({ proc.root .. "/handlers/echo.lua" }, { cwd = dir })
      assert.are.equal(1, r.code)
      assert.matches("ERROR  | Cannot read test_input.json: Is a directory. Unable to run.",
        r.stdout, 1, true)
      assert.are.equal(0, #results(r.stdout))
    end)

    it("runs a handler that is a callable table, as the Python SDK runs any callable", function()
      local r = run { "spec/fixtures/callable.lua", "--test_input", '[{"input": 1}, {"input": 2}]' }
      assert.are.equal(0, r.code, r.stdout)
      assert.are.same({ { output = { calls = 1, input = 1 } },
        { output = { calls = 2, input = 2 } } }, results(r.stdout))
      local runpod = require "runpod"
      local config = runpod.serverless.load("spec/fixtures/callable.lua")  -- a fresh count
      assert.are.same({ output = { calls = 1, input = "x" } },
        runpod.serverless.run_job(config.handler, { id = "j", input = "x" }))
    end)

    it("exits 1 for a job without input", function()
      local r = run { "handlers/echo.lua", "--test_input", '{"id": "x"}' }
      assert.are.equal(1, r.code)
      assert.matches("Job has no input parameter. Unable to run.", r.stdout, 1, true)
      assert.are.equal(0, #results(r.stdout))
    end)

    it("exits 1 for a job whose input is null", function()
      local r = run { "handlers/echo.lua", "--test_input", '{"input": null}' }
      assert.are.equal(1, r.code)
      assert.matches("Job has no input parameter", r.stdout, 1, true)
    end)

    it("exits 1 for test input that is not JSON", function()
      local r = run { "handlers/echo.lua", "--test_input", '{"input": ' }
      assert.are.equal(1, r.code)
      assert.matches("Test input is not valid JSON: invalid JSON at byte", r.stdout, 1, true)
    end)

    it("logs valid error JSON when the runtime writes the result itself", function()
      -- The runner cannot build the error result, so the C fallback does,
      -- with the pod id and host name as they are.
      local r = run({ "spec/fixtures/fallback_result.lua", "--test_input", '{"input": {}}' },
        { env = { RUNPOD_POD_ID = 'pod"q\\b', RUNPOD_POD_HOSTNAME = 'host"x' } })
      assert.are.equal(1, r.code)
      local logged = proc.captured_errors(r.stdout, "local_test")
      assert.are.equal(1, #logged, r.stdout)
      local info = json.decode(logged[1])
      assert.is_table(info, r.stdout)
      assert.are.equal("TimeoutError", info.error_type)
      assert.are.equal("the job's VM failed; see the worker log", info.error_message)
      assert.are.equal('pod"q\\b', info.worker_id)
      assert.are.equal('host"x', info.hostname)
    end)

    it("hands every key of the job to the handler", function()
      local r = run { "spec/fixtures/keys.lua", "--test_input",
        '{"id": "job-7", "input": {"a": [1, 2]}, "webhook": "http://x", "batchId": 3}' }
      assert.are.equal(0, r.code)
      local job = result(r.stdout).output.job
      assert.are.same({ id = "job-7", input = { a = { 1, 2 } }, webhook = "http://x", batchId = 3 },
        job)
    end)

    it("keeps big integers, null, empty arrays and empty objects exact", function()
      local input = '{"input": {"big": 9007199254740993, "min": -9223372036854775808, '
        .. '"f": 5.0, "n": null, "a": [], "o": {}}}'
      local r = run { "handlers/echo.lua", "--test_input", input }
      assert.are.equal(0, r.code)
      local line = r.stdout:match("Job result: ([^\n]*)")
      assert.matches('"big":9007199254740993', line, 1, true)
      assert.matches('"min":-9223372036854775808', line, 1, true)
      assert.matches('"f":5.0', line, 1, true)
      assert.matches('"n":null', line, 1, true)
      assert.matches('"a":[]', line, 1, true)
      assert.matches('"o":{}', line, 1, true)
    end)

    it("exits 0 when --test_output matches the result", function()
      local r = run { "handlers/echo.lua", "--test_input", '{"input": {"x": 1}}',
        "--test_output", '{"output": {"echo": {"x": 1.0}}}' }
      assert.are.equal(0, r.code)
      assert.matches("Test output matches.", r.stdout, 1, true)
    end)

    it("exits 1 when --test_output does not match", function()
      local r = run { "handlers/echo.lua", "--test_input", '{"input": {"x": 1}}',
        "--test_output", '{"output": {"echo": {"x": 2}}}' }
      assert.are.equal(1, r.code)
      assert.matches('Test output mismatch: expected {"output":{"echo":{"x":2}}}, '
        .. 'got {"output":{"echo":{"x":1}}}', r.stdout, 1, true)
    end)

    it("tells an empty array from an empty object in --test_output", function()
      local r = run { "handlers/echo.lua", "--test_input", '{"input": []}',
        "--test_output", '{"output": {"echo": {}}}' }
      assert.are.equal(1, r.code)
      assert.matches("Test output mismatch", r.stdout, 1, true)
    end)

    it("runs a JSON array of jobs in order", function()
      local r = run { "handlers/echo.lua", "--test_input",
        '[{"input": 1}, {"id": "second", "input": 2}, {"input": 3}]' }
      assert.are.equal(0, r.code)
      assert.are.same({ { output = { echo = 1 } }, { output = { echo = 2 } },
        { output = { echo = 3 } } }, results(r.stdout))
      assert.matches("second | Started.", r.stdout, 1, true)
      assert.matches("local_test_3 | Started.", r.stdout, 1, true)
    end)

    it("rebuilds the VM every recycle_jobs jobs of an array", function()
      local r = run { "spec/fixtures/recycler.lua", "--test_input",
        '[{"input": 1}, {"input": 2}, {"input": 3}, {"input": 4}]' }
      assert.are.equal(0, r.code, r.stdout)
      assert.are.same({ { output = { count = 1 } }, { output = { count = 2 } },
        { output = { count = 3 } }, { output = { count = 1 } } }, results(r.stdout))
    end)
  end)

  describe("job results", function()
    it("fails a job whose handler raises, with the error JSON", function()
      local r = run { "handlers/failing.lua", "--test_input", '{"input": {"prompt": 5}}' }
      assert.are.equal(1, r.code)
      local info = error_info(result(r.stdout))
      assert.are.equal("LuaError", info.error_type)
      assert.matches("input.prompt must be a string, got number", info.error_message, 1, true)
      assert.matches("stack traceback:", info.error_traceback, 1, true)
      assert.matches("handlers/failing.lua:8: in upvalue 'check_prompt'", info.error_traceback, 1,
        true)
      assert.matches("handlers/failing.lua:14: in function", info.error_traceback, 1, true)
      assert.is_string(info.hostname)
      assert.is_string(info.worker_id)
      assert.are.equal(require("runpod").version, info.runpod_version)
      assert.matches("ERROR  | local_test | Captured Handler Exception", r.stdout, 1, true)
    end)

    it("reports RUNPOD_POD_ID and RUNPOD_POD_HOSTNAME in the error", function()
      local r = run({ "handlers/failing.lua", "--test_input", '{"input": {}}' },
        { env = { RUNPOD_POD_ID = "pod-1", RUNPOD_POD_HOSTNAME = "host-1" } })
      local info = error_info(result(r.stdout))
      assert.are.equal("pod-1", info.worker_id)
      assert.are.equal("host-1", info.hostname)
    end)

    it("fails a job that returns an error key, keeping the rest as output", function()
      local r = run { "handlers/custom_error.lua", "--test_input", '{"input": {"n": -1}}' }
      assert.are.equal(1, r.code)
      assert.are.same({ error = "input.n must be a non-negative integer",
        output = { received = -1 } }, result(r.stdout))
    end)

    it("prints Python's shapes: {\"output\": null} for nil, a stream stopped by an error",
        function()
      local r = run { "spec/fixtures/python_results.lua", "--test_input",
        '{"input": {"mode": "nil"}}' }
      assert.are.equal(0, r.code, r.stdout .. r.stderr)
      assert.matches('Job result: {"output":null}\n', r.stdout, 1, true)
      r = run { "spec/fixtures/python_results.lua", "--test_input",
        '{"input": {"mode": "stream_error"}}' }
      assert.are.equal(1, r.code, r.stdout .. r.stderr)
      assert.matches('Stream partial: {"output":{"i":1}}', r.stdout, 1, true)
      assert.is_nil(r.stdout:find('"i":3', 1, true))
      assert.are.same({ error = "model crashed" }, result(r.stdout))
    end)

    it("names the key of a result that cannot be encoded", function()
      local r = run { "spec/fixtures/unencodable.lua", "--test_input",
        '{"input": {"kind": "function"}}' }
      assert.are.equal(1, r.code)
      local info = error_info(result(r.stdout))
      assert.are.equal("EncodeError", info.error_type)
      assert.are.equal("handler result cannot be encoded as JSON: cannot encode function "
        .. "at output.items[3].fn", info.error_message)
    end)

    it("names NaN and cycles in results", function()
      local r = run { "spec/fixtures/unencodable.lua", "--test_input",
        '[{"input": {"kind": "nan"}}, {"input": {"kind": "cycle"}}]' }
      assert.are.equal(1, r.code)
      local list = results(r.stdout)
      assert.matches("cannot encode NaN at output.score", error_info(list[1]).error_message, 1,
        true)
      assert.matches("cycle at output.self", error_info(list[2]).error_message, 1, true)
    end)
  end)

  describe("hostile handlers", function()
    it("fails a job that calls os.exit and keeps the worker running", function()
      local r = run { "spec/fixtures/exits.lua", "--test_input",
        '[{"input": {"exit": true}}, {"input": {}}]' }
      assert.are.equal(1, r.code)
      local list = results(r.stdout)
      assert.are.equal(2, #list)
      assert.matches("os.exit is not available to handlers", error_info(list[1]).error_message,
        1, true)
      assert.are.same({ output = { alive = true } }, list[2])
    end)

    it("fails runaway recursion and string.rep bombs, then serves the next job", function()
      local r = run({ "spec/fixtures/hostile.lua", "--test_input",
        '[{"input": {"kind": "recursion"}}, {"input": {"kind": "rep"}}, '
          .. '{"input": {"kind": "rep_cap"}}, {"input": {}}]' },
        { env = { RUNPOD_MAX_MEMORY = "64M" } })
      assert.are.equal(1, r.code)
      local list = results(r.stdout)
      assert.are.equal(4, #list)
      assert.matches("stack overflow", error_info(list[1]).error_message, 1, true)
      assert.matches("resulting string too large", error_info(list[2]).error_message, 1, true)
      assert.are.equal("MemoryError", error_info(list[3]).error_type)
      assert.are.same({ output = { alive = true } }, list[4])
    end)
  end)

  describe("streaming", function()
    it("logs each partial as it comes and returns the aggregate", function()
      local r = run { "handlers/streaming.lua", "--test_input",
        '{"input": {"words": ["a", "b", "c"]}}' }
      assert.are.equal(0, r.code)
      local partials = {}
      for body in r.stdout:gmatch("Stream partial: ([^\n]*)") do
        partials[#partials + 1] = assert(json.decode(body))
      end
      assert.are.same({ { output = { index = 1, token = "a" } },
        { output = { index = 2, token = "b" } },
        { output = { index = 3, token = "c" } } }, partials)
      local res = result(r.stdout)
      assert.are.same({ { index = 1, token = "a" }, { index = 2, token = "b" },
        { index = 3, token = "c" } }, res.output)
      -- the partials come before the result
      assert.is_true(r.stdout:find("Stream partial") < r.stdout:find("Job result"))
    end)

    it("does not take runpod.sleep for a partial", function()
      local r = run { "spec/fixtures/sleeper.lua", "--test_input", '{"input": {"n": 3}}' }
      assert.are.equal(0, r.code)
      assert.are.same({ output = { 1, 2, 3 } }, result(r.stdout))
    end)
  end)

  describe("script errors", function()
    local cases = {
      { "spec/fixtures/nope.lua", 3,
        "ERROR  | spec/fixtures/nope.lua: cannot open handler script (No such file or directory)" },
      { "spec/fixtures/syntax_error.lua", 4,
        "ERROR  | syntax error in spec/fixtures/syntax_error.lua:2: unexpected symbol near '='" },
      { "spec/fixtures/raises_at_load.lua", 5,
        "ERROR  | error while loading spec/fixtures/raises_at_load.lua: "
          .. "spec/fixtures/raises_at_load.lua:2: model weights missing" },
      { "spec/fixtures/no_start.lua", 6,
        "ERROR  | spec/fixtures/no_start.lua: the script never called runpod.serverless.start" },
      { "spec/fixtures/bad_handler.lua", 7,
        "ERROR  | spec/fixtures/bad_handler.lua: handler must be a function, got string" },
      { "spec/fixtures/bad_config.lua", 7,
        "ERROR  | spec/fixtures/bad_config.lua: 'refresh_worker' must be a boolean, got string" },
    }
    for _, case in ipairs(cases) do
      it(("exits %d with one line for %s"):format(case[2], case[1]), function()
        local r = run { case[1], "--test_input", '{"input": {}}' }
        assert.are.equal(case[2], r.code)
        assert.are.same({ case[3] }, proc.lines(r.stdout))
      end)
    end
  end)

  describe("refresh_worker", function()
    local function probe(jobs, env)
      local file = os.tmpname()
      finally(function() os.remove(file) end)
      env = env or {}
      env.PROBE_FILE = file
      local r = run({ "spec/fixtures/state_probe.lua", "--test_input", jobs }, { env = env })
      local loads = #proc.lines(proc.read_file(file))
      return r, results(r.stdout), loads
    end
    local clean = { global = false, upvalue = 0, loaded = false, registry = false }

    it("keeps state between jobs when no refresh is asked for", function()
      local _, list, loads = probe('[{"id": "j1", "input": {}}, {"id": "j2", "input": {}}]')
      assert.are.equal(1, loads)
      -- refresh_worker = false is popped from the output too
      assert.are.same({ global = "j1", upvalue = 1, loaded = true, registry = "j1" },
        list[2].output)
    end)

    it("rebuilds the VM after a job that returns refresh_worker = true", function()
      local r, list, loads = probe('[{"id": "j1", "input": {"refresh": true}}, '
        .. '{"id": "j2", "input": {}}, {"id": "j3", "input": {}}]')
      assert.are.equal(0, r.code)
      assert.are.equal(2, loads)
      -- refresh_worker is popped from the output
      assert.are.same(clean, list[1].output)
      assert.are.same(clean, list[2].output)
      assert.are.same({ global = "j2", upvalue = 1, loaded = true, registry = "j2" },
        list[3].output)
    end)

    it("rebuilds the VM after every job when start's config asks for it", function()
      local _, list, loads = probe('[{"id": "j1", "input": {}}, {"id": "j2", "input": {}}]',
        { PROBE_REFRESH = "1" })
      assert.are.equal(3, loads)
      assert.are.same(clean, list[2].output)
    end)

    it("ignores runpod.serverless.refresh() called while the script loads, saying so", function()
      local count = os.tmpname()
      finally(function() os.remove(count) end)
      local r = run({ "spec/fixtures/load_counter.lua", "--test_input",
        '[{"input": 1}, {"input": 2}]' },
        { env = { LOAD_COUNT_FILE = count, LOAD_COUNT_REFRESH = "1" } })
      assert.are.equal(0, r.code, r.stdout)
      -- no VM rebuilt after the first job: one load for both
      assert.are.same({ { output = { loads = 1 } }, { output = { loads = 1 } } }, results(r.stdout))
      assert.matches("WARN   | runpod.serverless.refresh() outside a job does nothing", r.stdout,
        1, true)
    end)

    it("rebuilds the VM after runpod.refresh() even when the handler then raises", function()
      local r, list, loads = probe('[{"id": "j1", "input": {"call_refresh": true}}, '
        .. '{"id": "j2", "input": {}}]')
      assert.are.equal(1, r.code)
      assert.are.equal(2, loads)
      assert.is_string(list[1].error)
      assert.are.same(clean, list[2].output)
    end)
  end)

  describe("memory cap", function()
    local jobs = '[{"id": "hog", "input": {"hog": true}}, {"id": "after", "input": {}}]'

    it("fails a job that passes RUNPOD_MAX_MEMORY and keeps running", function()
      local r = run({ "spec/fixtures/memory_hog.lua", "--test_input", jobs },
        { env = { RUNPOD_MAX_MEMORY = "16M" } })
      assert.are.equal(1, r.code)
      local list = results(r.stdout)
      assert.are.equal(2, #list)
      local info = error_info(list[1])
      assert.are.equal("MemoryError", info.error_type)
      assert.are.equal("memory limit exceeded: the handler's Lua heap reached its cap of "
        .. "16777216 bytes (max_memory / RUNPOD_MAX_MEMORY)", info.error_message)
      assert.are.same({ output = { ok = true } }, list[2])
    end)

    it("survives the cap wherever the allocation that passes it falls", function()
      for _, cap in ipairs { "1M", "2M", "3M", "5M", "7M" } do
        local r = run({ "spec/fixtures/memory_hog.lua", "--test_input", jobs },
          { env = { RUNPOD_MAX_MEMORY = cap } })
        local list = results(r.stdout)
        assert.are.equal(2, #list, cap .. ":\n" .. r.stdout)
        assert.are.equal("MemoryError", error_info(list[1]).error_type)
        assert.are.same({ output = { ok = true } }, list[2])
      end
    end)

    it("takes the cap from start's max_memory", function()
      local r = run({ "spec/fixtures/memory_hog.lua", "--test_input", jobs },
        { env = { HOG_START_CAP = "8M" } })
      local list = results(r.stdout)
      assert.matches("cap of 8388608 bytes", error_info(list[1]).error_message, 1, true)
      assert.are.same({ output = { ok = true } }, list[2])
    end)

    it("rejects a malformed RUNPOD_MAX_MEMORY", function()
      local r = run({ "handlers/echo.lua", "--test_input", '{"input": 1}' },
        { env = { RUNPOD_MAX_MEMORY = "lots" } })
      assert.are.equal(2, r.code)
      assert.matches("invalid RUNPOD_MAX_MEMORY 'lots'", r.stdout, 1, true)
    end)
  end)

  describe("logging", function()
    local input = '{"id": "j1", "input": {}}'

    it("writes plain lines at INFO and above by default", function()
      local r = run { "spec/fixtures/logger.lua", "--test_input", input }
      assert.are.equal(0, r.code)
      assert.matches("\nINFO   | j1 | a info line\n", r.stdout, 1, true)
      assert.matches("\nWARN   | j1 | a warn line\n", r.stdout, 1, true)
      assert.matches("\nERROR  | j1 | a error line\n", r.stdout, 1, true)
      assert.matches('\nINFO   | {"table":"as json"}\n', r.stdout, 1, true)
      assert.is_nil(r.stdout:find("a debug line", 1, true))
      assert.are.equal("", r.stderr)
    end)

    it("prints Python's start banner and drops an empty job id", function()
      local r = run { "spec/fixtures/logger.lua", "--test_input", input }
      assert.are.equal(0, r.code)
      local version = require("runpod").version
      assert.are.equal("--- Starting Serverless Worker |  Version " .. version .. " ---",
        proc.lines(r.stdout)[1])
      assert.matches("\nINFO   | an empty id\n", r.stdout, 1, true)
    end)

    it("honours RUNPOD_LOG_LEVEL, then RUNPOD_DEBUG_LEVEL, then --rp_log_level", function()
      local r = run({ "spec/fixtures/logger.lua", "--test_input", input },
        { env = { RUNPOD_DEBUG_LEVEL = "trace" } })
      assert.matches("TRACE  | j1 | a trace line", r.stdout, 1, true)
      r = run({ "spec/fixtures/logger.lua", "--test_input", input },
        { env = { RUNPOD_LOG_LEVEL = "ERROR", RUNPOD_DEBUG_LEVEL = "TRACE" } })
      assert.are.same({ "ERROR  | j1 | a error line" }, proc.lines(r.stdout))
      r = run({ "spec/fixtures/logger.lua", "--test_input", input, "--rp_log_level", "WARN" },
        { env = { RUNPOD_LOG_LEVEL = "ERROR" } })
      assert.are.same({ "WARN   | j1 | a warn line", "ERROR  | j1 | a error line" },
        proc.lines(r.stdout))
    end)

    it("logs nothing at NOTSET", function()
      local r = run { "spec/fixtures/logger.lua", "--test_input", input, "--rp_log_level",
        "NOTSET" }
      assert.are.equal(0, r.code)
      assert.are.equal("", r.stdout)
    end)

    it("writes one JSON object per line when RUNPOD_ENDPOINT_ID is set", function()
      local r = run({ "spec/fixtures/logger.lua", "--test_input", input },
        { env = { RUNPOD_ENDPOINT_ID = "ep" } })
      assert.are.equal(0, r.code)
      local lines = proc.lines(r.stdout)
      assert.is_true(#lines > 3)
      for _, line in ipairs(lines) do
        local rec = assert(json.decode(line))
        assert.is_string(rec.message)
        assert.is_string(rec.level)
      end
      assert.matches('{"requestId": "j1", "message": "a warn line", "level": "WARN"}', r.stdout,
        1, true)
      assert.matches('{"requestId": null, "message": "{\\"table\\":\\"as json\\"}", '
        .. '"level": "INFO"}', r.stdout, 1, true)
    end)

    it("cuts messages over 4096 characters in the middle", function()
      local r = run { "spec/fixtures/logger.lua", "--test_input", '{"input": {"long": true}}' }
      -- one line: the note's line breaks are escaped as any others
      local a, note, b = r.stdout:match("INFO   | (a+)\\n(...TRUNCATED %d+ CHARACTERS...)\\n(b+)\n")
      assert.are.equal(2048, #a)
      assert.are.equal("...TRUNCATED 1904 CHARACTERS...", note)
      assert.are.equal(2048, #b)
    end)

    it("writes to stderr on request", function()
      local r = run { "spec/fixtures/logger.lua", "--test_input", input, "--rp_log_stream",
        "stderr" }
      assert.are.equal("", r.stdout)
      assert.matches("INFO   | j1 | a info line", r.stderr, 1, true)
      r = run({ "spec/fixtures/logger.lua", "--test_input", input },
        { env = { RUNPOD_LOG_STREAM = "stderr" } })
      assert.are.equal("", r.stdout)
      assert.matches("WARN   | j1 | a warn line", r.stderr, 1, true)
    end)

    it("refuses an invalid level at start-up", function()
      local r = run { "handlers/echo.lua", "--test_input", input, "--rp_log_level", "LOUD" }
      assert.are.equal(2, r.code)
      assert.are.same({ "ERROR  | invalid --rp_log_level 'LOUD' (expected NOTSET, TRACE, DEBUG, "
        .. "INFO, WARN or ERROR)" }, proc.lines(r.stdout))
      r = run({ "handlers/echo.lua", "--test_input", input }, { env = { RUNPOD_LOG_LEVEL = "x" } })
      assert.are.equal(2, r.code)
      assert.matches("invalid RUNPOD_LOG_LEVEL 'x'", r.stdout, 1, true)
    end)
  end)

  describe("command line", function()
    it("leaves unknown flags in arg for the script", function()
      local r = run { "spec/fixtures/args.lua", "--model", "tiny", "--test_input",
        '{"input": 1}', "--rp_log_level=INFO", "-v" }
      assert.are.equal(0, r.code)
      assert.are.same({ "spec/fixtures/args.lua", "--model", "tiny", "-v" },
        result(r.stdout).output.args)
    end)

    it("prints its version and usage", function()
      local r = run { "--version" }
      assert.are.equal(0, r.code)
      assert.matches("^runpod%-worker " .. require("runpod").version:gsub("%.", "%%."), r.stdout)
      r = run { "--help" }
      assert.are.equal(0, r.code)
      assert.matches("usage: runpod-worker HANDLER.lua", r.stdout, 1, true)
      r = run {}
      assert.are.equal(2, r.code)
      assert.matches("usage:", r.stderr, 1, true)
    end)

    it("rejects a flag without its value", function()
      local r = run { "handlers/echo.lua", "--test_input" }
      assert.are.equal(2, r.code)
      assert.are.equal("runpod-worker: --test_input needs a value\n", r.stderr)
    end)
  end)

  describe("under plain lua5.4", function()
    it("prints the same lines as the binary for the same job", function()
      -- Object members come in lua_next order, which differs between
      -- processes, so the JSON parts are compared decoded.
      local args = { "handlers/streaming.lua", "--test_input", '{"input": {"words": ["x"]}}' }
      local bin = run(args)
      local lua = proc.lua_run(args)
      assert.are.equal(0, lua.code)
      local bin_lines, lua_lines = proc.lines(bin.stdout), proc.lines(lua.stdout)
      assert.are.equal(#bin_lines, #lua_lines)
      for i, line in ipairs(bin_lines) do
        local prefix, body = line:match("^(.-: )({.*)$")
        if prefix then
          assert.are.equal(prefix, lua_lines[i]:sub(1, #prefix))
          assert.are.same(json.decode(body), json.decode(lua_lines[i]:sub(#prefix + 1)))
        else
          assert.are.equal(line, lua_lines[i])
        end
      end
    end)

    it("exits 1 for a failing job as the binary does", function()
      local lua = proc.lua_run { "handlers/failing.lua", "--test_input", '{"input": {}}' }
      assert.are.equal(1, lua.code)
      assert.are.equal("LuaError", error_info(result(lua.stdout)).error_type)
    end)
  end)
end)
