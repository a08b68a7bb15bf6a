-- coroutine.yield from handler code can never pose as a runtime wait:
-- the bindings record their waits in C, so whatever a handler yields, and
-- from wherever, the worker does not crash. A yield from the handler is a
-- stream partial; one that reaches the runtime's own coroutine (through a
-- metamethod it calls, or from a fitness check) fails with a clear error.
-- spec/fixtures/yielder.lua yields what each job asks for.
local helpers = require "helpers.emulator"
local proc = require "helpers.proc"
local json = require("runpod").json

local FIXTURE = "spec/fixtures/yielder.lua"
local BAD_YIELD = "coroutine.yield called outside a handler"
local FORMS = { "plain", "http_number", "http_self", "sleep", "table", "many", "none" }
local GARBAGE = { "nil", "table", "function", "userdata", "thread", "number" }

-- Every value runpod.core has, by name, plus the old protocol's tag.
local function core_values()
  local names = { "core.yield_tag" }
  for key in pairs(require "runpod.core") do
    names[#names + 1] = "core." .. key
  end
  table.sort(names)
  return names
end

-- The error message of a failed job's result, or nil.
local function error_message(result)
  if type(result.error) ~= "string" then
    return nil
  end
  local info = json.decode(result.error)
  return info and info.error_message
end

describe("coroutine.yield from a handler", function()
  it("finds no yield tag in runpod.core", function()
    assert.is_nil(require("runpod.core").yield_tag)
  end)

  describe("in local test mode", function()
    local function run(input)
      local r = proc.worker_run { FIXTURE, "--test_input", json.encode({ input = input }) }
      local list = proc.job_results(r.stdout)
      assert.is_true(r.code == 0 or r.code == 1, ("exit code %s for %s:\n%s%s"):format(
        r.code, json.encode(input), r.stdout, r.stderr))
      assert.are.equal(1, #list, "no job result for " .. json.encode(input) .. ":\n" .. r.stdout)
      return list[1], r
    end

    it("streams the old tag's forms as partials", function()
      for _, form in ipairs({ "table", "http_number", "http_self", "sleep" }) do
        local result, r = run { value = "core.yield_tag", form = form }
        assert.are.equal(0, r.code, form .. ":\n" .. r.stdout)
        assert.are.same({ output = {} }, result)
      end
    end)

    it("fails the job when a yield reaches the runtime's coroutine", function()
      for _, form in ipairs({ "table", "http_number", "http_self", "sleep", "none" }) do
        local result, r = run { value = "core.yield_tag", form = form, from = "runtime" }
        assert.are.equal(1, r.code, form .. ":\n" .. r.stdout)
        assert.are.equal(BAD_YIELD, error_message(result), form)
      end
    end)

    it("fails the job on a partial that is not JSON, naming it", function()
      for _, value in ipairs({ "function", "userdata", "thread", "core.sleep" }) do
        local result = run { value = value, form = "plain" }
        assert.matches("stream partial 1 cannot be encoded as JSON", error_message(result), 1,
          true)
      end
    end)

    it("serves a wait the handler's own coroutine started", function()
      local result, r = run { value = "number", form = "plain", from = "nested" }
      assert.are.equal(0, r.code, r.stdout)
      assert.are.same({ output = {} }, result)
      assert.matches('Stream partial: {"output":1}', r.stdout, 1, true)
      result, r = run { value = "number", form = "plain", from = "relay" }
      assert.are.equal(0, r.code, r.stdout)
      assert.are.same({ output = {} }, result)
    end)
  end)

  describe("in serverless mode", function()
    local emu, worker

    after_each(function()
      helpers.stop(emu, worker)
      emu, worker = nil, nil
    end)

    it("survives every value of runpod.core and garbage, in every form", function()
      emu = helpers.start()
      worker = helpers.worker(emu, FIXTURE)
      local jobs = {}
      local values = core_values()
      for _, value in ipairs(GARBAGE) do
        values[#values + 1] = value
      end
      local function submit(input)
        jobs[#jobs + 1] = { id = emu.submit(input), input = input }
      end
      -- From the handler every form in turn (a job ends at its first
      -- partial that is not JSON); from the runtime's coroutine the first
      -- yield ends the job, so one job per form for the old tag.
      for _, value in ipairs(values) do
        submit { value = value, form = "all", from = "handler" }
        submit { value = value, form = "http_number", from = "runtime" }
      end
      for _, form in ipairs(FORMS) do
        submit { value = "core.yield_tag", form = form, from = "runtime" }
      end
      for _, job in ipairs(jobs) do
        job.view = emu.wait_done(job.id, 30)
        assert.is_true(job.view.status == "COMPLETED" or job.view.status == "FAILED",
          json.encode(job.input) .. ": " .. tostring(job.view.status) .. "\n" .. worker.output())
      end
      for _, job in ipairs(jobs) do
        if job.input.from == "runtime" then
          local what = json.encode(job.input)
          assert.are.equal("FAILED", job.view.status, what)
          assert.are.equal(BAD_YIELD, json.decode(job.view.error).error_message, what)
        end
      end
      assert.is_nil(worker.wait(0), "the worker exited:\n" .. worker.output())
      local id = emu.submit({ value = "number", form = "plain" })
      assert.are.equal("COMPLETED", emu.wait_done(id, 20).status, worker.output())
    end)

    it("fails a fitness check that yields, and exits 1", function()
      for _, case in ipairs({ { "core.yield_tag", "table" }, { "core.yield_tag", "http_number" },
                              { "function", "plain" }, { "nil", "none" } }) do
        emu = helpers.start()
        worker = helpers.worker(emu, FIXTURE,
          { YIELDER_VALUE = case[1], YIELDER_FITNESS = case[2] })
        local code = worker.wait(30)
        local out = worker.output()
        assert.are.equal(1, code, table.concat(case, " ") .. ":\n" .. out)
        assert.matches(BAD_YIELD, out, 1, true)
        helpers.stop(emu, worker)
        emu, worker = nil, nil
      end
    end)
  end)
end)

describe("a runtime wait in a coroutine the handler makes", function()
  local NESTED = "spec/fixtures/nested_waits.lua"
  local core = require "runpod.core"

  local function run(input)
    local r = proc.worker_run { NESTED, "--test_input", json.encode({ input = input }) }
    local list = proc.job_results(r.stdout)
    assert.are.equal(0, r.code, r.stdout .. r.stderr)
    assert.are.equal(1, #list, r.stdout)
    return list[1]
  end

  it("suspends the job in a coroutine.wrap generator", function()
    local started = core.monotonic()
    assert.are.same({ output = { got = { 1, 2 } } }, run { form = "wrap" })
    assert.is_true(core.monotonic() - started >= 0.1)
  end)

  it("passes values both ways through coroutines nested three deep", function()
    assert.are.same({ output = { ok = true, values = { 2, 20 } } }, run { form = "deep" })
  end)

  it("sends an HTTP request from a coroutine.create", function()
    local server, base = helpers.fake_inference()
    finally(function() server.stop() end)
    local result = run { form = "http", url = base .. "/echo" }
    assert.are.equal(true, result.output.ok)
    assert.are.equal(200, result.output.status)
    assert.are.equal("from a coroutine", json.decode(result.output.body).body)
  end)

  it("suspends the job in serverless mode", function()
    local emu = helpers.start()
    local worker = helpers.worker(emu, NESTED)
    finally(function() helpers.stop(emu, worker) end)
    local view = emu.wait_done(emu.submit({ form = "deep" }), 20)
    assert.are.equal("COMPLETED", view.status, worker.output())
    assert.are.same({ ok = true, values = { 2, 20 } }, view.output)
  end)
end)
