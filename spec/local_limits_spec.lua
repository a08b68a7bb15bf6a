-- The limits every mode enforces (job timeout, memory cap, stop), checked
-- in local test mode, and the rule that a job the runtime cuts short is
-- logged with the same error JSON it is failed with, in every mode. The
-- real bin/runpod-worker runs spec/fixtures/limited.lua; every run and
-- every wait is bounded.
local proc = require "helpers.proc"
local emulator = require "helpers.emulator"
local json = require("runpod").json

local FIXTURE = "spec/fixtures/limited.lua"
local SANITIZE = (os.getenv("RP_SANITIZE") or "") ~= ""

-- run(input, env) -> process result of one local test of the fixture
local function run(input, env)
  return proc.worker_run({ FIXTURE, "--test_input", json.encode(input) },
    { env = env, timeout = 30 })
end

local results = proc.job_results

-- Asserts that a local run failed its one job with the 0.5 s timeout,
-- and logged it with the error JSON of the result.
local function assert_timed_out(r)
  assert.are.equal(1, r.code, r.stdout)
  local list = results(r.stdout)
  assert.are.equal(1, #list, r.stdout)
  local info = assert(json.decode(list[1].error))
  assert.are.equal("TimeoutError", info.error_type)
  assert.are.equal("job timed out after 0.5 seconds (timeout)", info.error_message)
  assert.are.same({ list[1].error }, proc.captured_errors(r.stdout, "local_test"))
end

-- Asserts that a timed-out job was logged with exactly the error it was
-- failed with, and never as a handler's own error.
local function assert_logged_as_failed(output, id, error_text)
  local info = assert(json.decode(error_text))
  assert.are.equal("TimeoutError", info.error_type)
  assert.are.same({ error_text }, proc.captured_errors(output, id))
  assert.is_nil(output:find("LuaError", 1, true), output)
end

-- Starts the fixture in local test mode in the background, waits for the
-- job's marker line, sends the signal and returns the exit code (nil when
-- it did not end within 15 s) and the output.
local function interrupt(mode, sig)
  local env = SANITIZE and { ASAN_OPTIONS = "detect_leaks=1" } or nil
  local h = emulator.spawn({ proc.worker, FIXTURE, "--test_input",
    json.encode({ input = { mode = mode } }) }, env)
  finally(h.kill)
  local marker = mode == "spin" and "spinning" or "waiting"
  assert.truthy(emulator.eventually(15, function()
    return h.output():find(marker, 1, true)
  end, 0.05), h.output())
  h.signal(sig)
  return h.wait(15), h.output()
end

describe("runpod-worker local test mode", function()
  describe("job timeout", function()
    it("fails a spinning job once start's timeout passes", function()
      assert_timed_out(run({ input = { mode = "spin" } }, { LIMITS_TIMEOUT = "0.5" }))
    end)

    it("fails a spinning job once RUNPOD_JOB_TIMEOUT passes, pcall or not", function()
      assert_timed_out(run({ input = { mode = "spin", pcall = true } },
        { RUNPOD_JOB_TIMEOUT = "0.5" }))
    end)

    it("fails a sleeping job once the timeout passes and runs the next one", function()
      local r = proc.worker_run({ FIXTURE, "--test_input", json.encode({
        { id = "slow", input = { mode = "wait" } },
        { id = "next", input = { mode = "budget" } } }) },
        { env = { RUNPOD_JOB_TIMEOUT = "0.5" }, timeout = 30 })
      assert.are.equal(1, r.code, r.stdout)
      local list = results(r.stdout)
      assert.are.equal(2, #list, r.stdout)
      assert.are.equal("TimeoutError", assert(json.decode(list[1].error)).error_type)
      assert.is_number(list[2].output.first)
    end)

    it("logs the timed-out job with the error JSON it fails it with", function()
      local r = run({ input = { mode = "spin" } }, { LIMITS_TIMEOUT = "0.5" })
      local list = results(r.stdout)
      assert.are.equal(1, #list, r.stdout)
      assert_logged_as_failed(r.stdout, "local_test", list[1].error)
    end)

    it("fails a spinning job under plain lua5.4 too", function()
      assert_timed_out(proc.lua_run({ FIXTURE, "--test_input",
        json.encode({ input = { mode = "spin", pcall = true } }) },
        { env = { LIMITS_TIMEOUT = "0.5" }, timeout = 30 }))
    end)

    it("tells the handler its remaining time, counting down", function()
      local r = run({ input = { mode = "budget" } }, { LIMITS_TIMEOUT = "30" })
      assert.are.equal(0, r.code, r.stdout)
      local out = results(r.stdout)[1].output
      assert.is_number(out.first)
      assert.is_number(out.second)
      assert.is_true(out.first <= 30 and out.first > 0, r.stdout)
      assert.is_true(out.second < out.first, r.stdout)
    end)
  end)

  describe("memory cap", function()
    it("fails a job whose result passes the cap while it is encoded", function()
      -- The handler's string fits; its encoded copy does not.
      local jobs = json.encode({ { id = "big", input = { mode = "big", bytes = 3 * 1024 * 1024 } },
        { id = "after", input = { mode = "big", bytes = 3 } } })
      local r = proc.worker_run({ FIXTURE, "--test_input", jobs },
        { env = { LIMITS_MEMORY = "8M" }, timeout = 30 })
      assert.are.equal(1, r.code, r.stdout)
      local list = results(r.stdout)
      assert.are.equal(2, #list, r.stdout)
      -- The result is encoded once, its buffer charged to the cap: as in
      -- every mode (json_spec), the encoder's refusal fails the job.
      local info = assert(json.decode(list[1].error))
      assert.are.equal("EncodeError", info.error_type)
      assert.are.equal("handler result cannot be encoded as JSON: out of memory encoding output",
        info.error_message)
      assert.are.same({ list[1].error }, proc.captured_errors(r.stdout, "big"))
      assert.are.same({ output = "xxx" }, list[2])
    end)
  end)

  describe("stop", function()
    for _, sig in ipairs({ "TERM", "INT" }) do
      for _, mode in ipairs({ "spin", "wait" }) do
        it(("stops a job that %ss on SIG%s and exits 1"):format(mode, sig), function()
          local code, out = interrupt(mode, sig)
          assert.are.equal(1, code, out)
          assert.matches("Received SIG" .. sig .. ": stopping the job", out, 1, true)
          assert.matches("Job local_test was stopped before it finished; exiting.", out, 1, true)
          assert.is_nil(out:find("Job result:", 1, true), out)
          assert.is_nil(out:find("Sanitizer", 1, true), out)
        end)
      end
    end
  end)
end)

describe("runpod-worker in serverless mode", function()
  local emu, worker

  after_each(function()
    emulator.stop(emu, worker)
    emu, worker = nil, nil
  end)

  it("logs a timed-out job with the error JSON it posts", function()
    emu = emulator.start()
    local id = emu.submit({ mode = "spin", pcall = true })
    worker = emulator.worker(emu, FIXTURE, { LIMITS_TIMEOUT = "0.5" })
    local view = emu.wait_done(id, 20)
    assert.are.equal("FAILED", view.status)
    assert.truthy(emulator.eventually(10, function()
      return #proc.captured_errors(worker.output(), id) > 0
    end, 0.05), worker.output())
    assert_logged_as_failed(worker.output(), id, view.error)
  end)
end)
