-- valgrind memcheck over refresh cycles: the real binary runs jobs that
-- rebuild the VM after each one, raise, stream and hit the memory cap; no
-- leak and no invalid access is allowed. (Under `make check` the binary is
-- built with ASan, which valgrind cannot run; LeakSanitizer covers it.)
local proc = require "helpers.proc"

local function have_valgrind()
  return os.execute("command -v valgrind >/dev/null 2>&1") == true
end

describe("runpod-worker under valgrind", function()
  local skip = (os.getenv("RP_SANITIZE") or "") ~= "" or not have_valgrind()

  local function memcheck(args, env)
    local argv = { "valgrind", "--leak-check=full", "--show-leak-kinds=definite,indirect",
      "--errors-for-leak-kinds=definite,indirect", "--error-exitcode=99", "--quiet", proc.worker }
    for _, a in ipairs(args) do
      argv[#argv + 1] = a
    end
    return proc.run(argv, { env = env, timeout = 300 })
  end

  local jobs = {}
  for i = 1, 10 do
    jobs[#jobs + 1] = ('{"id": "r%d", "input": {"refresh": true}}'):format(i)
  end
  jobs[#jobs + 1] = '{"id": "raise", "input": {"call_refresh": true}}'
  jobs[#jobs + 1] = '{"id": "last", "input": {}}'

  local it_ = skip and pending or it

  it_("finds no leak across refresh cycles and a failing job", function()
    local r = memcheck({ "spec/fixtures/state_probe.lua", "--test_input",
      "[" .. table.concat(jobs, ",") .. "]", "--rp_log_level", "ERROR" })
    assert.are.equal(1, r.code, r.stderr)  -- the "raise" job fails: exit 1
    assert.are.equal("", r.stderr)
  end)

  it_("finds no leak when a job passes the memory cap", function()
    local r = memcheck({ "spec/fixtures/memory_hog.lua", "--test_input",
      '[{"input": {"hog": true}}, {"input": {}}]', "--rp_log_level", "ERROR" },
      { RUNPOD_MAX_MEMORY = "4M" })
    assert.are.equal(1, r.code, r.stderr)
    assert.are.equal("", r.stderr)
  end)

  it_("finds no leak in a streaming job that sleeps", function()
    local r = memcheck({ "spec/fixtures/sleeper.lua", "--test_input", '{"input": {"n": 3}}',
      "--rp_log_level", "ERROR" })
    assert.are.equal(0, r.code, r.stderr)
    assert.are.equal("", r.stderr)
  end)
end)
