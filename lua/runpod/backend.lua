-- runpod.backend: a supervised backend server (an inference server on
-- 127.0.0.1) for proxy workers.
--
--   local vllm = assert(runpod.backend.start {
--     name = "vllm",
--     argv = { "vllm", "serve", "--host", "127.0.0.1", "--port", "8000" },
--     env = { HF_HOME = "/runpod-volume/hf" },   -- added to the worker's
--   })
--   runpod.serverless.register_fitness_check(function()
--     assert(vllm:wait_ready { url = "http://127.0.0.1:8000/health", timeout = 1200 })
--   end)
--
-- The child runs in its own process group; its stdout and stderr reach the
-- worker's log line by line as "[name] ...". When the worker ends (SIGTERM,
-- SIGINT, the end of the job loop) every backend gets SIGTERM, then SIGKILL
-- after stop_timeout seconds, and is reaped. A backend that exits on its own
-- while the worker serves makes the serverless worker stop taking jobs,
-- report itself unhealthy and exit 1 once the jobs in flight have failed.
--
-- A backend belongs to the worker process, not to one VM: when the script
-- runs again (refresh_worker, more executor threads) start() with the same
-- name and argv returns the running backend instead of starting another.
local core = require "runpod.core"

local backend = {}

local Backend = {}
Backend.__index = Backend

local function fail_arg(fn, n, msg)
  error(("bad argument #%d to '%s' (%s)"):format(n, fn, msg), 3)
end

local function wrap(id)
  local info = core.proc_info(id)
  return setmetatable({ id = id, name = info.name }, Backend)
end

-- start{ argv = {...}, name = argv[1]'s base name, env = {NAME = value},
-- clear_env = false, cwd = nil, stop_timeout = 10 } -> backend | nil, message
-- env entries are added to (or replace those of) the worker's environment;
-- with clear_env they are the whole of it.
function backend.start(opts)
  if type(opts) ~= "table" then
    fail_arg("start", 1, "table expected, got " .. type(opts))
  end
  local argv = opts.argv
  if type(argv) ~= "table" or type(argv[1]) ~= "string" then
    fail_arg("start", 1, "argv must be a non-empty list of strings")
  end
  for i, a in ipairs(argv) do
    if type(a) ~= "string" then
      fail_arg("start", 1, ("argv[%d] must be a string, got %s"):format(i, type(a)))
    end
  end
  local name = opts.name or argv[1]:match("([^/]+)$")
  if type(name) ~= "string" or name == "" or #name >= 64 then
    fail_arg("start", 1, "name must be a string of 1 to 63 bytes")
  end
  if opts.env ~= nil and type(opts.env) ~= "table" then
    fail_arg("start", 1, "env must be a table, got " .. type(opts.env))
  end
  if opts.cwd ~= nil and type(opts.cwd) ~= "string" then
    fail_arg("start", 1, "cwd must be a string, got " .. type(opts.cwd))
  end
  local stop_timeout = opts.stop_timeout or 10
  if type(stop_timeout) ~= "number" or stop_timeout < 0 then
    fail_arg("start", 1, "stop_timeout must be a number >= 0")
  end
  local id = core.proc_find(name)
  if id and core.proc_info(id).running then
    if not core.proc_same_argv(id, argv) then
      return nil, ("backend '%s' runs already with other arguments"):format(name)
    end
    return wrap(id)
  end
  local err
  id, err = core.proc_spawn(name, argv, opts.env, opts.clear_env, opts.cwd, stop_timeout)
  if not id then
    return nil, ("backend '%s': %s"):format(name, err)
  end
  return wrap(id)
end

-- get(name) -> the backend this worker started under that name, or nil.
function backend.get(name)
  local id = core.proc_find(name)
  return id and wrap(id) or nil
end

-- alive() -> whether the process still runs.
function Backend:alive()
  return core.proc_info(self.id).running
end

-- pid() -> the process id.
function Backend:pid()
  return core.proc_info(self.id).pid
end

-- ready() -> whether wait_ready() (in any VM of this worker) saw it ready.
function Backend:ready()
  local info = core.proc_info(self.id)
  return info.running and info.ready
end

-- exit_reason() -> how it ended ("exited with code 1", "killed by signal
-- 9 (Killed)"), or nil while it runs.
function Backend:exit_reason()
  return core.proc_info(self.id).reason
end

-- stop([timeout]) -> true | nil, message: SIGTERM to its process group,
-- SIGKILL after timeout seconds (default: its stop_timeout). Blocks.
function Backend:stop(timeout)
  return core.proc_stop(self.id, timeout)
end

-- wait_ready{ url = ..., timeout = 600, interval = 1, status = 200 }
-- -> true | nil, message
-- Polls GET url every interval seconds until it answers `status`. Fails
-- at once (within 0.1 s) when the process exits, and after timeout seconds.
-- In a fitness check it may wait its whole timeout, also past
-- RUNPOD_FITNESS_TIMEOUT.
-- Inside runpod-worker's jobs the waits yield, so other jobs run on.
function Backend:wait_ready(opts)
  if type(opts) ~= "table" or type(opts.url) ~= "string" then
    fail_arg("wait_ready", 1, "table with a url expected")
  end
  local timeout = opts.timeout or 600
  local interval = opts.interval or 1
  local want = opts.status or 200
  if type(timeout) ~= "number" or timeout < 0 then
    fail_arg("wait_ready", 1, "timeout must be a number >= 0")
  end
  if type(interval) ~= "number" or interval <= 0 then
    fail_arg("wait_ready", 1, "interval must be a number > 0")
  end
  local http = require "runpod.http"
  -- In a fitness check, this wait is bounded by its own timeout, not by
  -- RUNPOD_FITNESS_TIMEOUT (60 s): a model may load for many minutes.
  core.allow_fitness(timeout + 5)
  local deadline = core.monotonic() + timeout
  local last
  while true do
    local info = core.proc_info(self.id)
    if not info.running then
      return nil, ("backend '%s' %s%s before it was ready"):format(self.name,
        info.stopping and "was stopped and " or "", info.reason)
    end
    local left = deadline - core.monotonic()
    local res, err = http.get(opts.url, { timeout = math.max(0.1, math.min(10, left)) })
    if res and res.status == want then
      core.proc_set_ready(self.id)
      return true
    end
    last = res and ("HTTP " .. res.status) or err
    left = deadline - core.monotonic()
    if left <= 0 then
      return nil, ("backend '%s' was not ready within %g s (%s: %s)"):format(
        self.name, timeout, opts.url, last)
    end
    -- Sleeps in short steps, to notice an exit at once.
    local wake = core.monotonic() + math.min(interval, left)
    while core.monotonic() < wake and core.proc_info(self.id).running do
      core.sleep(math.min(0.1, wake - core.monotonic()))
    end
  end
end

function Backend:__tostring()
  return ("runpod.Backend(%s, pid %d)"):format(self.name, self:pid())
end

return backend
