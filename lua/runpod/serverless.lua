-- runpod.serverless: the handler's side of the worker: start() registers
-- it, progress_update() and refresh() act on the running job,
-- register_fitness_check() adds a check, and load() / run_job() let a
-- busted spec run a handler as the worker would.
--
-- The job runner itself is runpod.internal.runner; run_job() calls the
-- same code runpod-worker calls for every job, so a spec that calls it
-- sees exactly the result the worker would post.
local core = require "runpod.core"
local log = require "runpod.log"
local runner = require "runpod.internal.runner"

local serverless = {}

local loading = false     -- set while load() runs a script

local KNOWN_KEYS = {
  handler = "function",
  refresh_worker = "boolean",
  refresh_mode = "string",
  return_aggregate_stream = "boolean",
  concurrency_modifier = "function",
  max_memory = { "number", "string" },
  worker_threads = "number",
  timeout = "number",
  recycle_jobs = "number",
  recycle_heap = "number",
}

-- Whether v can be called: a function, or a value whose metatable has
-- __call (the Python SDK takes any callable, an object with __call__ too).
local function callable(v)
  local mt = debug.getmetatable(v)
  return type(v) == "function" or (mt ~= nil and mt.__call ~= nil)
end

-- Checks start()'s config. Returns true, or nil and a message.
local function check_config(config)
  if type(config) ~= "table" then
    return nil, "start() expects a table, got " .. type(config)
  end
  if not callable(config.handler) then
    return nil, "handler must be a function, got " .. type(config.handler)
  end
  for key, want in pairs(KNOWN_KEYS) do
    local value = config[key]
    if value ~= nil then
      local ok = type(value) == want or (want == "function" and callable(value))
      if type(want) == "table" then
        ok = type(value) == want[1] or type(value) == want[2]
        want = want[1] .. " or " .. want[2]
      end
      if not ok then
        return nil, ("'%s' must be a %s, got %s"):format(key, want, type(value))
      end
    end
  end
  local mode, err = runner.refresh_mode(config)
  if not mode then
    return nil, err
  end
  return true
end

-- The source of the chunk that called start(), to tell a script run as
-- the main program (lua5.4 handler.lua) from one loaded by a spec.
local function called_from_main_script()
  local info = debug.getinfo(3, "S")
  return info ~= nil and arg ~= nil and arg[0] ~= nil
    and (info.source == "@" .. arg[0])
end

-- start{handler = fn, ...}: registers the handler. Under runpod-worker
-- the runtime then takes over; under plain lua5.4 a script run as the main
-- program runs its local test (as the binary would) and exits.
function serverless.start(config)
  local ok, err = check_config(config)
  if not ok then
    if core.in_runtime() then
      core.register_error(err)
    end
    error(err, 2)
  end
  -- A callable table runs as a function would: the handler in its own
  -- coroutine, the modifier where the runtime looks for a function.
  for _, key in ipairs { "handler", "concurrency_modifier" } do
    local f = config[key]
    if f ~= nil and type(f) ~= "function" then
      config[key] = function(...) return f(...) end
    end
  end
  runner.set_config(config)
  if core.in_runtime() then
    core.register(config)
    return
  end
  if not loading and called_from_main_script() then
    local local_test = require "runpod.internal.local_test"
    os.exit(local_test.main(config, arg), true)
  end
  return config
end

-- load(path) -> config: runs a handler script without starting anything
-- and returns what it passed to start(), for specs:
--   local config = runpod.serverless.load("handlers/echo.lua")
function serverless.load(path)
  local chunk, err = loadfile(path)
  if not chunk then
    error(err, 2)
  end
  runner.set_config(nil)
  loading = true
  local ok, run_err = pcall(chunk)
  loading = false
  if not ok then
    error(run_err, 0)
  end
  local config = runner.config()
  if not config then
    error(path .. ": the script never called runpod.serverless.start", 2)
  end
  return config
end

-- The config of the last start() call (nil before it).
serverless.config = runner.config

-- The name a check is known by, as Python's func.__name__: the caller's
-- local variable or the global that holds fn, else "file:line" where fn
-- is defined. level: the caller's stack level.
local function check_name(fn, level)
  for i = 1, 250 do
    local name, value = debug.getlocal(level + 1, i)
    if not name then
      break
    end
    if rawequal(value, fn) and name:sub(1, 1) ~= "(" then
      return name
    end
  end
  for name, value in pairs(_G) do
    if rawequal(value, fn) and type(name) == "string" then
      return name
    end
  end
  local info = debug.getinfo(fn, "S")
  return info.short_src:match("[^/]*$") .. ":" .. info.linedefined
end

-- register_fitness_check(fn[, name]): fn runs once before the first job
-- in serverless mode; a check that raises makes the worker exit unhealthy,
-- reporting the check by name (default: check_name()).
function serverless.register_fitness_check(fn, name)
  if type(fn) ~= "function" then
    error("bad argument #1 to 'register_fitness_check' (function expected, got "
      .. type(fn) .. ")", 2)
  end
  if name ~= nil and (type(name) ~= "string" or name == "") then
    error("bad argument #2 to 'register_fitness_check' (non-empty string expected, got "
      .. (type(name) == "string" and "empty string" or type(name)) .. ")", 2)
  end
  runner.add_fitness_check(fn, name or check_name(fn, 2))
end

-- progress_update(job, progress): reports progress of a running job. Under
-- runpod-worker's serverless mode it is posted to RunPod; elsewhere logged.
function serverless.progress_update(job, progress)
  if type(job) ~= "table" then
    error("bad argument #1 to 'progress_update' (job table expected, got "
      .. type(job) .. ")", 2)
  end
  local body, err = core.encode({ status = "IN_PROGRESS", output = progress }, "progress")
  if not body then
    error("progress cannot be encoded as JSON: " .. err, 2)
  end
  if core.in_serverless() then
    core.emit("progress", tostring(job.id), body)
  else
    log.info("Progress update: " .. body, job.id)
  end
end

-- refresh(): asks for a fresh VM once the current job's result is
-- delivered, even when the handler goes on to raise an error. Also
-- runpod.refresh.
function serverless.refresh()
  runner.request_refresh()
end

-- run_job(handler, job[, opts]) -> result
-- What the worker would post for this job, e.g. {output = {...}} or
-- {error = "..."}; for busted specs of handlers.
function serverless.run_job(handler, job, opts)
  if not callable(handler) then
    error("bad argument #1 to 'run_job' (function expected, got " .. type(handler) .. ")", 2)
  end
  if type(handler) ~= "function" then
    local f = handler
    handler = function(...) return f(...) end
  end
  if type(job) ~= "table" then
    error("bad argument #2 to 'run_job' (table expected, got " .. type(job) .. ")", 2)
  end
  local result = runner.run(handler, job, opts)
  return result
end

return serverless
