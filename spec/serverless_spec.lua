-- runpod.serverless under plain lua5.4: the result normalisation of
-- run_job(), which the binary applies to every job through the same code.
local runpod = require "runpod"
local json = runpod.json

local runner = require "runpod.internal.runner"

local run_job = runpod.serverless.run_job

local function job(input)
  return { id = "spec-job", input = input }
end

local function returning(value)
  return function()
    return value
  end
end

-- Silences the logger around each spec of a block.
local saved_level
local function quiet()
  saved_level = runpod.log.get_level()
  runpod.log.set_level("NOTSET")
end
local function loud()
  runpod.log.set_level(saved_level)
end

describe("runpod.serverless", function()
  describe("run_job()", function()
    before_each(quiet)
    after_each(loud)

    it("puts a table's contents under output", function()
      assert.are.same({ output = { a = 1 } }, run_job(returning({ a = 1 }), job({})))
    end)

    it("pops the error key and fails the job with it", function()
      assert.are.same({ output = { partial = true }, error = "bad input" },
        run_job(returning({ error = "bad input", partial = true }), job({})))
    end)

    it("drops output when nothing but the error is left", function()
      assert.are.same({ error = "bad input" }, run_job(returning({ error = "bad input" }), job({})))
    end)

    it("pops refresh_worker and drops the empty output", function()
      assert.are.same({}, run_job(returning({ refresh_worker = true }), job({})))
    end)

    it("does not modify the table the handler returned", function()
      local t = { error = "x", keep = 1 }
      run_job(returning(t), job({}))
      assert.are.same({ error = "x", keep = 1 }, t)
    end)

    it("ignores a false, empty or zero error like the Python SDK", function()
      for _, e in ipairs { false, "", 0, json.null } do
        assert.are.same({ output = { ok = 1 } }, run_job(returning({ error = e, ok = 1 }), job({})))
      end
    end)

    it("passes an error value that is not a string through, as Python", function()
      local res, info = runner.run(returning({ error = { code = 42 } }), job({}))
      assert.are.same({ error = { code = 42 } }, res)
      assert.are.equal('{"error":{"code":42}}', info.body)
      assert.is_true(info.failed)
      local _, flag = runner.run(returning({ error = true, x = 1 }), job({}))
      assert.are.equal('{"output":{"x":1},"error":true}', flag.body)
    end)

    it("drops output for an empty table", function()
      assert.are.same({}, run_job(returning({}), job({})))
    end)

    it("posts a null output for nil, as Python's None", function()
      assert.are.same({ output = json.null }, run_job(returning(nil), job({})))
      local _, info = runner.run(returning(nil), job({}))
      assert.are.equal('{"output":null}', info.body)
      assert.is_false(info.failed)
    end)

    it("keeps an explicitly empty array as output", function()
      local res = run_job(returning(json.array {}), job({}))
      assert.are.equal(0, #res.output)
      assert.are.equal(json.array_mt, getmetatable(res.output))
    end)

    it("wraps booleans, numbers, strings and arrays", function()
      assert.are.same({ output = false }, run_job(returning(false), job({})))
      assert.are.same({ output = true }, run_job(returning(true), job({})))
      assert.are.same({ output = 1.5 }, run_job(returning(1.5), job({})))
      assert.are.same({ output = "text" }, run_job(returning("text"), job({})))
      assert.are.same({ output = { 1, 2, 3 } }, run_job(returning({ 1, 2, 3 }), job({})))
    end)

    it("keeps JSON null as output", function()
      assert.are.same({ output = json.null }, run_job(returning(json.null), job({})))
    end)

    it("passes the whole job to the handler", function()
      local seen
      run_job(function(j) seen = j end, { id = "a", input = { x = 1 }, webhook = "w" })
      assert.are.same({ id = "a", input = { x = 1 }, webhook = "w" }, seen)
    end)

    it("captures a raised error as the error JSON", function()
      local res = run_job(function() error("boom") end, job({}))
      local info = assert(json.decode(res.error))
      assert.are.equal("LuaError", info.error_type)
      assert.matches("boom$", info.error_message)
      assert.matches("stack traceback:", info.error_traceback, 1, true)
      assert.are.equal(runpod.version, info.runpod_version)
      assert.is_string(info.worker_id)
      assert.is_string(info.hostname)
      assert.is_nil(res.output)
    end)

    it("takes error_type and message from a table error", function()
      local res = run_job(function()
        error({ error_type = "ValueError", message = "n must be positive" })
      end, job({}))
      local info = assert(json.decode(res.error))
      assert.are.equal("ValueError", info.error_type)
      assert.are.equal("n must be positive", info.error_message)
    end)

    it("encodes a table error without a message", function()
      local res = run_job(function() error({ code = 7 }) end, job({}))
      assert.are.equal('{"code":7}', assert(json.decode(res.error)).error_message)
    end)

    it("fails the job when the result cannot be encoded, naming the key", function()
      local res = run_job(returning({ a = { b = { coroutine.create(print) } } }), job({}))
      local info = assert(json.decode(res.error))
      assert.are.equal("EncodeError", info.error_type)
      assert.are.equal("handler result cannot be encoded as JSON: cannot encode thread at "
        .. "output.a.b[1]", info.error_message)
    end)

    it("encodes an unencodable result once: its __tojson runs once", function()
      local calls = 0
      local counted = setmetatable({}, { __tojson = function()
        calls = calls + 1
        return "counted"
      end })
      local res = run_job(returning(json.array { counted, print }), job({}))
      assert.are.equal(1, calls)
      assert.are.equal("handler result cannot be encoded as JSON: cannot encode function at "
        .. "output[2]", assert(json.decode(res.error)).error_message)
    end)

    it("fails a result over the size limit with a message naming its size", function()
      local res = run_job(returning(("x"):rep(100)), job({}), { max_result_bytes = 50 })
      local info = assert(json.decode(res.error))
      assert.are.equal("ResultTooLarge", info.error_type)
      assert.are.equal("handler result is 113 bytes encoded, over RunPod's limit of 50 bytes; "
        .. "upload large outputs (runpod.upload) and return their URL", info.error_message)
    end)

    it("raises on bad arguments", function()
      assert.has_error(function() run_job(nil, {}) end,
        "bad argument #1 to 'run_job' (function expected, got nil)")
      assert.has_error(function() run_job(print, "job") end,
        "bad argument #2 to 'run_job' (table expected, got string)")
    end)
  end)

  describe("run_job() with a streaming handler", function()
    before_each(quiet)
    after_each(loud)

    local function streamer(job_)
      for i = 1, job_.input.n do
        coroutine.yield({ i = i })
      end
    end

    it("hands each partial to on_partial in order", function()
      local seen = {}
      run_job(streamer, job({ n = 3 }), {
        on_partial = function(partial, body) seen[#seen + 1] = { partial.i, body } end,
      })
      assert.are.same({ { 1, '{"output":{"i":1}}' }, { 2, '{"output":{"i":2}}' },
        { 3, '{"output":{"i":3}}' } }, seen)
    end)

    it("returns the partials with return_aggregate_stream", function()
      local res = run_job(streamer, job({ n = 2 }), { return_aggregate_stream = true })
      assert.are.same({ output = { { i = 1 }, { i = 2 } } }, res)
    end)

    it("returns an empty list without return_aggregate_stream", function()
      local _, info = runner.run(streamer, job({ n = 2 }))
      assert.are.equal('{"output":[]}', info.body)
      assert.is_true(info.stream)
    end)

    it("streams an empty list when a streaming handler yields nothing", function()
      local res, info = runner.run(streamer, job({ n = 0 }), { return_aggregate_stream = true })
      assert.are.same({ output = {} }, res)
      assert.are.equal('{"output":[]}', info.body)
      assert.is_true(info.stream)
    end)

    it("takes a handler that yields and returns nothing without aggregation as plain",
      function()
        local _, info = runner.run(streamer, job({ n = 0 }))
        assert.are.equal('{"output":null}', info.body)
        assert.is_false(info.stream)
        local res
        res, info = runner.run(returning({ x = 1 }), job({}), { return_aggregate_stream = true })
        assert.are.same({ output = { x = 1 } }, res)
        assert.is_false(info.stream)
      end)

    it("fails the job when the handler raises mid-stream, worded as Python's generators", function()
      local res = run_job(function()
        coroutine.yield(1)
        error("stream broke", 0)
      end, job({}), { return_aggregate_stream = true })
      assert.matches("^handler: stream broke \ntraceback: stream broke\nstack traceback:",
        res.error)
      -- one that raises before its first partial is a plain handler's failure
      res = run_job(function() error("no stream", 0) end, job({}),
        { return_aggregate_stream = true })
      assert.matches("no stream", assert(json.decode(res.error)).error_message)
    end)

    it("stops the stream and fails the job on a partial with an error", function()
      local seen, resumed, closed = {}, false, false
      local res, info = runner.run(function()
        local _ <close> = setmetatable({}, { __close = function() closed = true end })
        coroutine.yield({ i = 1 })
        coroutine.yield({ error = "model crashed", i = 2 })
        resumed = true
        coroutine.yield({ i = 3 })
      end, job({}), {
        return_aggregate_stream = true,
        on_partial = function(_, body) seen[#seen + 1] = body end,
      })
      assert.are.same({ '{"output":{"i":1}}' }, seen)
      assert.are.same({ error = "model crashed" }, res)
      assert.are.equal('{"error":"model crashed"}', info.body)
      assert.is_true(info.failed)
      assert.is_false(resumed)
      assert.is_true(closed)
    end)

    it("encodes a partial's table error and ignores a falsy one", function()
      local res = run_job(function() coroutine.yield({ error = { code = 3 } }) end, job({}))
      assert.are.same({ error = '{"code":3}' }, res)
      for _, e in ipairs { false, "", 0, json.null } do
        res = run_job(function() coroutine.yield({ error = e, ok = 1 }) end, job({}),
          { return_aggregate_stream = true })
        assert.is_nil(res.error)
        assert.are.equal(1, #res.output)
      end
    end)

    it("fails the job on a partial that cannot be encoded", function()
      local res = run_job(function() coroutine.yield(print) end, job({}))
      assert.matches("stream partial 1 cannot be encoded as JSON: cannot encode function at "
        .. "partial.output", assert(json.decode(res.error)).error_message, 1, true)
    end)
  end)

  describe("runpod.internal.runner.run()", function()
    before_each(quiet)
    after_each(loud)

    it("reports refresh_worker from the result", function()
      local _, info = runner.run(returning({ refresh_worker = true }), job({}))
      assert.is_true(info.refresh)
      _, info = runner.run(returning({ refresh_worker = false }), job({}))
      assert.is_false(info.refresh)
    end)

    it("adds stopPod for a refresh the handler asks for with refresh_mode pod", function()
      local pod = { refresh_mode = "pod" }
      local res, info = runner.run(returning({ x = 1, refresh_worker = true }), job({}), pod)
      assert.are.same({ output = { x = 1 }, stopPod = true }, res)
      assert.are.equal('{"output":{"x":1},"stopPod":true}', info.body)
      assert.is_true(info.stop_pod)
      res = runner.run(function()
        runpod.serverless.refresh()
        error("after refresh")
      end, job({}), pod)
      assert.is_true(res.stopPod)
      assert.is_string(res.error)
      res = runner.run(returning(1), job({}),
        { refresh_mode = "pod", refresh_worker = true })
      assert.are.same({ output = 1, stopPod = true }, res)
      res = runner.run(function() coroutine.yield(1) return { refresh_worker = true } end,
        job({}), pod)
      assert.is_true(res.stopPod)
      res, info = runner.run(returning(1), job({}), pod)
      assert.are.same({ output = 1 }, res)
      assert.is_false(info.stop_pod)
      res, info = runner.run(returning({ refresh_worker = true }), job({}))
      assert.are.same({}, res)
      assert.is_false(info.stop_pod)
      assert.is_true(info.refresh)
    end)

    it("checks refresh_mode in start's config", function()
      assert.are.equal("vm", runner.refresh_mode({}))
      assert.are.equal("pod", runner.refresh_mode({ refresh_mode = "pod" }))
      assert.has_error(function()
        runpod.serverless.start { handler = print, refresh_mode = "restart" }
      end, 'refresh_mode must be "vm" or "pod", got "restart"')
      assert.has_error(function()
        runpod.serverless.start { handler = print, refresh_mode = true }
      end, "'refresh_mode' must be a string, got boolean")
    end)

    it("reports runpod.serverless.refresh() even when the handler raises", function()
      local _, info = runner.run(function()
        runpod.serverless.refresh()
        error("after refresh")
      end, job({}))
      assert.is_true(info.refresh)
      assert.is_true(info.failed)
      _, info = runner.run(function()
        runpod.refresh()                     -- the older name
        return 1
      end, job({}))
      assert.is_true(info.refresh)
      _, info = runner.run(returning(1), job({}))
      assert.is_false(info.refresh)
    end)
  end)

  describe("start()", function()
    it("raises on a config without a handler function", function()
      assert.has_error(function() runpod.serverless.start { handler = 1 } end,
        "handler must be a function, got number")
      assert.has_error(function() runpod.serverless.start "x" end,
        "start() expects a table, got string")
    end)

    it("returns the config when the script is not the main program", function()
      local config = { handler = print }
      assert.are.equal(config, runpod.serverless.start(config))
    end)
  end)

  describe("the module table", function()
    it("holds the public API and nothing of the runner's", function()
      local names = {}
      for name in pairs(runpod.serverless) do
        names[#names + 1] = name
      end
      table.sort(names)
      assert.are.same({ "config", "load", "progress_update", "refresh", "register_fitness_check",
        "run_job", "start" }, names)
    end)

    it("keeps runpod.refresh as the older name of refresh()", function()
      assert.are.equal(runpod.serverless.refresh, runpod.refresh)
    end)
  end)

  describe("load()", function()
    it("returns what a handler script passed to start()", function()
      local config = runpod.serverless.load("handlers/streaming.lua")
      assert.is_function(config.handler)
      assert.is_true(config.return_aggregate_stream)
    end)

    it("raises for a script that never calls start()", function()
      assert.has_error(function() runpod.serverless.load("spec/fixtures/no_start.lua") end,
        "spec/fixtures/no_start.lua: the script never called runpod.serverless.start")
    end)
  end)
end)
