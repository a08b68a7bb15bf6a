-- valgrind memcheck over a short soak in serverless mode: the real
-- bin/runpod-worker under valgrind takes 2,000 jobs from the real
-- bin/runpod-emulator with bench/soak_handler.lua (a fresh VM every 100
-- jobs, ~5% of jobs raise), while a running job and two queued ones are
-- cancelled and one job passes its executionTimeout. After SIGTERM,
-- valgrind must report no leak at all and no error. (Skipped under `make
-- check`: ASan binaries do not run under valgrind; LeakSanitizer covers
-- them. bench/soak.sh is the long version.)
local helpers = require "helpers.emulator"
local proc = require "helpers.proc"
local json = require("runpod").json

local function have_valgrind()
  return os.execute("command -v valgrind >/dev/null 2>&1") == true
end

local function eventually(seconds, f)
  return helpers.eventually(seconds, f, 0.2)
end

describe("runpod-worker under valgrind in serverless mode", function()
  local skip = (os.getenv("RP_SANITIZE") or "") ~= "" or not have_valgrind()
  local it_ = skip and pending or it
  local emu, worker

  after_each(function()
    helpers.stop(emu, worker)
    emu, worker = nil, nil
  end)

  it_("leaks nothing over 2,000 jobs with refreshes, failures, cancels and a timeout", function()
    emu = helpers.start({ "--take-hold-ms", "200", "--stop-hold-ms", "200", "--log-max", "0",
      "--retain-max", "5000" })
    local sleepers = {}
    for i = 1, 3 do
      sleepers[i] = emu.submit({ sleep = 60 })
    end
    local timed = emu.json("POST", "/v2/ep/run",
      { input = { sleep = 60 }, policy = { executionTimeout = 1000 } }).id
    local status = emu.request("POST", "/_emulator/jobs?count=2000",
      json.encode({ input = { x = 1, text = "soak" } }))
    assert.are.equal(200, status)
    local env = { RUNPOD_POD_ID = "valgrind", RUNPOD_LOG_LEVEL = "ERROR" }
    for k, v in pairs(emu.env) do
      env[k] = v
    end
    worker = helpers.spawn({ "valgrind", "--leak-check=full", "--show-leak-kinds=all",
      "--errors-for-leak-kinds=all", "--error-exitcode=99", proc.worker,
      "bench/soak_handler.lua" }, env)
    -- The first sleeper runs (concurrency 1); cancel it and the other two.
    assert.is_truthy(eventually(60, function()
      local job = emu.stats().jobs[sleepers[1]]
      return job and job.status == "IN_PROGRESS"
    end), worker.output())
    for _, id in ipairs(sleepers) do
      local v = emu.json("POST", "/v2/ep/cancel/" .. id)
      assert.are.equal("CANCELLED", v.status)
    end
    local health = eventually(240, function()
      local h = emu.json("GET", "/v2/ep/health")
      return h.jobs.inQueue == 0 and h.jobs.inProgress == 0 and h
    end)
    assert.is_truthy(health, worker.output())
    assert.are.equal(2000, health.jobs.completed + health.jobs.failed - 1)  -- + TIMED_OUT
    assert.is_true(health.jobs.failed > 1)              -- some jobs raised
    assert.are.equal("TIMED_OUT", emu.wait_done(timed, 5).status)
    worker.signal("TERM")
    local code = worker.wait(120)
    local out = worker.output()
    assert.are.equal(0, code, out)
    assert.is_truthy(out:find("All heap blocks were freed -- no leaks are possible", 1, true), out)
    assert.is_truthy(out:find("ERROR SUMMARY: 0 errors from 0 contexts", 1, true), out)
  end)
end)
