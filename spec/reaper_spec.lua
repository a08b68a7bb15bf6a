-- runtime/worker/reaper.c: as PID 1 (or with RUNPOD_REAP_CHILDREN=1) the worker
-- runs under a small reaper process that adopts and reaps orphans and
-- forwards signals, while the worker's own children keep their statuses.
local proc = require "helpers.proc"
local json = require("runpod").json

local ORPHAN = proc.root .. "/spec/fixtures/orphan.lua"

local function result(r)
  local line = r.stdout:match("Job result: ([^\n]+)")
  assert(line, r.stdout .. r.stderr)
  return json.decode(line).output
end

local function can_unshare()
  return proc.run({ "unshare", "--pid", "--fork", "--mount-proc", "true" }).code == 0
end

describe("the reaper", function()
  it("reaps orphans and keeps popen/os.execute statuses (RUNPOD_REAP_CHILDREN=1)", function()
    local r = proc.worker_run({ ORPHAN, "--test_input", '{"input": {}}' },
      { env = { RUNPOD_REAP_CHILDREN = "1" } })
    assert.are.equal(0, r.code, r.stdout .. r.stderr)
    local out = result(r)
    assert.are.equal(0, out.zombies)
    assert.are.same({ "exit", 3 }, out.execute)
    assert.are.same({ "hi\n", "exit", 4 }, out.popen)
  end)

  it("runs the worker under a reaper when it is PID 1", function()
    if not can_unshare() then
      pending("unshare --pid needs root and util-linux")
      return
    end
    local r = proc.run({ "unshare", "--pid", "--fork", "--mount-proc", proc.worker, ORPHAN,
      "--test_input", '{"input": {}}' })
    assert.are.equal(0, r.code, r.stdout .. r.stderr)
    local out = result(r)
    assert.are.equal(2, out.pid)            -- PID 1 is the reaper
    assert.are.equal(0, out.zombies)
    assert.are.same({ "exit", 3 }, out.execute)
    assert.are.same({ "hi\n", "exit", 4 }, out.popen)
  end)

  it("passes the worker's exit code through", function()
    local r = proc.worker_run({ "handlers/failing.lua", "--test_input", '{"input": {}}' },
      { env = { RUNPOD_REAP_CHILDREN = "1" } })
    assert.are.equal(1, r.code)
    r = proc.worker_run({ "no/such/script.lua" }, { env = { RUNPOD_REAP_CHILDREN = "1" } })
    assert.are.equal(3, r.code)
  end)

  it("forwards SIGTERM to the worker", function()
    -- local test mode stops the running job on SIGTERM and exits 1; the
    -- reaper passes that exit code on.
    local log = os.tmpname()
    finally(function() os.remove(log) end)
    local script = table.concat({
      "RUNPOD_REAP_CHILDREN=1 " .. proc.quote(proc.worker) .. " spec/fixtures/spinner.lua"
        .. " --test_input '{\"input\": {}}' >" .. proc.quote(log) .. " 2>&1 &",
      "pid=$!",
      -- until the worker, forked by the reaper, runs the job (at most 10 s)
      "for i in $(seq 200); do grep -q 'local_test | Started' " .. proc.quote(log)
        .. " && break; sleep 0.05; done",
      "kill -TERM $pid", "wait $pid", "echo rc=$?",
    }, "\n")
    -- The spinner never ends: rc=1 within the time-out, with the worker's
    -- own line about the signal, means the worker got the SIGTERM that was
    -- sent to the reaper.
    local r = proc.run({ "sh", "-c", script }, { timeout = 30 })
    assert.matches("rc=1\n", r.stdout, 1, true)
    assert.matches("Received SIGTERM: stopping the job", proc.read_file(log), 1, true)
  end)
end)
