-- runpod.debugger: checkpoints, timers and the rp_debugger output.
local runpod = require "runpod"
local proc = require "helpers.proc"
local runner = require "runpod.internal.runner"

local dbg = runpod.debugger
local json = runpod.json

describe("runpod.debugger", function()
  before_each(function() dbg.clear() end)

  describe("start() and stop()", function()
    it("records a timed checkpoint", function()
      dbg.start("load")
      runpod.sleep(0.01)
      dbg.stop("load")
      local ts = dbg.get_output().timestamps
      assert.are.equal(1, #ts)
      assert.are.equal("load", ts[1].name)
      assert.is_true(ts[1].duration_ms >= 9, tostring(ts[1].duration_ms))
      assert.matches("^%d%d%d%d%-%d%d%-%d%dT%d%d:%d%d:%d%d%.%d%d%d%d%d%dZ$", ts[1].start_utc)
      assert.matches("^%d%d%d%d%-%d%d%-%d%dT%d%d:%d%d:%d%d%.%d%d%d%d%d%dZ$", ts[1].stop_utc)
    end)

    it("raises when stopping an unknown checkpoint", function()
      assert.has_error(function() dbg.stop("nope") end, "checkpoint 'nope' does not exist")
    end)

    it("raises when stopping a checkpoint never started", function()
      dbg.checkpoint("c")
      assert.has_error(function() dbg.stop("c") end, "checkpoint 'c' has not been started")
    end)

    it("rejects a name that is not a string", function()
      assert.has_error(function() dbg.start(1) end,
        "bad argument #1 to 'start' (string expected, got number)")
    end)
  end)

  describe("checkpoint()", function()
    it("raises on a duplicate name", function()
      dbg.checkpoint("a")
      assert.has_error(function() dbg.checkpoint("a") end, "checkpoint 'a' already exists")
    end)

    it("lists only checkpoints both started and stopped, in order", function()
      dbg.checkpoint("never")
      dbg.start("b")
      dbg.start("a")
      dbg.stop("a")
      dbg.stop("b")
      local names = {}
      for _, t in ipairs(dbg.get_output().timestamps) do
        names[#names + 1] = t.name
      end
      assert.are.same({ "b", "a" }, names)
    end)
  end)

  describe("timed()", function()
    it("passes arguments and results through and records each call", function()
      local add = dbg.timed(function(a, b) return a + b, "x" end, "add")
      assert.are.same({ 3, "x" }, { add(1, 2) })
      add(3, 4)
      local ts = dbg.get_output().timestamps
      assert.are.equal(2, #ts)
      assert.are.equal("add", ts[2].name)
    end)

    it("names a call after the function's source by default", function()
      local f = dbg.timed(function() end)
      f()
      assert.matches("^function .*debugger_spec%.lua:%d+$", dbg.get_output().timestamps[1].name)
    end)

    it("stops the timer and re-raises when the function raises", function()
      local f = dbg.timed(function() error("boom", 0) end, "f")
      assert.has_error(f, "boom")
      assert.are.equal("f", dbg.get_output().timestamps[1].name)
    end)

    it("rejects a non-function", function()
      assert.has_error(function() dbg.timed(1) end,
        "bad argument #1 to 'timed' (function expected, got number)")
    end)
  end)

  describe("get_output()", function()
    it("has the system info of the Python SDK plus the Lua runtime's", function()
      local info = dbg.get_output().system_info
      assert.are.equal(_VERSION, info.lua_version)
      assert.are.equal(runpod.version, info.runpod)
      assert.are.equal("lua", info.runtime)
      assert.is_string(info.os)
      assert.is_string(info.processor)
      assert.are.equal("integer", math.type(info.cores))
      assert.is_true(info.cores >= 1)
      if io.open("/proc/meminfo") then
        assert.is_true(info.memory_total > 0)
      end
    end)

    it("clears the checkpoints", function()
      dbg.start("a")
      dbg.stop("a")
      dbg.get_output()
      assert.are.equal('[]', json.encode(dbg.get_output().timestamps))
    end)

    it("encodes as JSON", function()
      dbg.start("a")
      dbg.stop("a")
      assert.is_string(json.encode(dbg.get_output()))
    end)
  end)

  describe("collect()", function()
    it("attaches the output to a table output", function()
      dbg.start("a")
      dbg.stop("a")
      local res = dbg.collect({ output = { x = 1 } })
      assert.are.equal(1, res.output.x)
      assert.is_table(res.output.rp_debugger.system_info)
      assert.are.equal("a", res.output.rp_debugger.timestamps[1].name)
    end)

    it("only clears when the output is not a table", function()
      dbg.start("a")
      dbg.stop("a")
      assert.are.same({ output = 5 }, dbg.collect({ output = 5 }))
      assert.are.equal(0, #dbg.get_output().timestamps)
    end)

    it("only clears when the output is a JSON array, which cannot hold it", function()
      dbg.start("a")
      dbg.stop("a")
      local res = dbg.collect({ output = runpod.json.array { 1 } })
      assert.are.equal('{"output":[1]}', runpod.json.encode(res))
      assert.are.equal(0, #dbg.get_output().timestamps)
    end)
  end)

  describe("the job runner", function()
    local function timed_job()
      dbg.start("step")
      dbg.stop("step")
      return { ok = true }
    end

    after_each(function() runner.set_debugger(false) end)

    it("clears the checkpoints after a job without --rp_debugger", function()
      assert.are.same({ output = { ok = true } },
        runpod.serverless.run_job(timed_job, { id = "1", input = {} }))
      assert.are.equal(0, #dbg.get_output().timestamps)
    end)

    it("attaches them with --rp_debugger", function()
      runner.set_debugger(true)
      local res = runpod.serverless.run_job(timed_job, { id = "1", input = {} })
      assert.are.equal("step", res.output.rp_debugger.timestamps[1].name)
      assert.are.equal(0, #dbg.get_output().timestamps)
    end)
  end)

  describe("handlers/debugger.lua", function()
    -- Two jobs in one run: the second must not see the first's checkpoints.
    local two = '[{"id": "a", "input": {"n": 100}}, {"id": "b", "input": {"n": 10}}]'

    local function outputs(r)
      local t = {}
      for body in r.stdout:gmatch("Job result: ([^\n]*)") do
        t[#t + 1] = assert(json.decode(body)).output
      end
      return t
    end

    it("attaches the timings with --rp_debugger through bin/runpod-worker", function()
      local r = proc.worker_run({ "handlers/debugger.lua", "--rp_debugger", "--test_input", two })
      assert.are.equal(0, r.code, r.stderr)
      local out = outputs(r)
      assert.are.equal(2, #out, r.stdout)
      assert.are.equal(5050, out[1].sum)
      assert.are.equal(55, out[2].sum)
      for _, o in ipairs(out) do
        assert.are.equal("runpod-worker", o.rp_debugger.system_info.runtime)
        assert.are.equal(2, #o.rp_debugger.timestamps)
        assert.are.equal("handler", o.rp_debugger.timestamps[1].name)
      end
    end)

    it("adds ready_delay_ms, the ms from loading runpod to start(), as Python", function()
      local job = '{"id": "a", "input": {"n": 1}}'
      for _, argv in ipairs {
        { proc.worker, "spec/fixtures/slow_start.lua", "--rp_debugger", "--test_input", job },
        { "lua5.4", "spec/fixtures/slow_start.lua", "--rp_debugger", "--test_input", job },
      } do
        local r = proc.run(argv)
        assert.are.equal(0, r.code, r.stdout .. r.stderr)
        local o = outputs(r)[1]
        assert.are.equal(1, o.n)
        -- the script spent 0.25 s before start(); the job itself took none
        assert.is_number(o.rp_debugger.ready_delay_ms)
        assert.is_true(o.rp_debugger.ready_delay_ms >= 250, r.stdout)
      end
      local r = proc.worker_run({ "spec/fixtures/slow_start.lua", "--test_input", job })
      assert.are.same({ { n = 1 } }, outputs(r))
    end)

    it("attaches nothing without the flag", function()
      local r = proc.worker_run({ "handlers/debugger.lua", "--test_input", two })
      assert.are.equal(0, r.code, r.stderr)
      local out = outputs(r)
      assert.are.same({ { sum = 5050 }, { sum = 55 } }, out)
    end)

    it("attaches the timings under plain lua5.4 too", function()
      local r = proc.run({ "lua5.4", "handlers/debugger.lua", "--rp_debugger",
        "--test_input", '{"input": {"n": 3}}' })
      assert.are.equal(0, r.code, r.stderr)
      local out = outputs(r)
      assert.are.equal(6, out[1].sum)
      assert.are.equal(2, #out[1].rp_debugger.timestamps)
    end)
  end)
end)
