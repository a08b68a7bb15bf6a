-- runpod.serverless: start(), and the job runner every mode shares.
--
-- run_job() applies the Python SDK's result normalisation
-- (docs/handlers.md). runpod-worker calls the same code for every job, so a
-- busted
-- spec that calls run_job() sees exactly the result the worker would post.
local core = require "runpod.core"
local log = require "runpod.log"

local json = core.json
local null = json.null
local array_mt = json.array_mt

local serverless = {}

local registered          -- the config of the last start() call
local loading = false     -- set while load() runs a script
local refresh_requested = false
local fitness_checks = {}

local KNOWN_KEYS = {
  handler = "function",
  refresh_worker = "boolean",
  return_aggregate_stream = "boolean",
  concurrency_modifier = "function",
  max_memory = { "number", "string" },
  worker_threads = "number",
  timeout = "number",
  recycle_jobs = "number",
  recycle_heap = "number",
}

-- Checks start()'s config. Returns true, or nil and a message.
local function check_config(config)
  if type(config) ~= "table" then
    return nil, "start() expects a table, got " .. type(config)
  end
  if type(config.handler) ~= "function" then
    return nil, "handler must be a function, got " .. type(config.handler)
  end
  for key, want in pairs(KNOWN_KEYS) do
    local value = config[key]
    if value ~= nil then
      local ok = type(value) == want
      if type(want) == "table" then
        ok = type(value) == want[1] or type(value) == want[2]
        want = want[1] .. " or " .. want[2]
      end
      if not ok then
        return nil, ("'%s' must be a %s, got %s"):format(key, want, type(value))
      end
    end
  end
  return true
end
serverless.check_config = check_config

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
  registered = config
  if core.in_runtime() then
    core.register(config)
    return
  end
  if not loading and called_from_main_script() then
    local local_test = require "runpod.local_test"
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
  registered = nil
  loading = true
  local ok, run_err = pcall(chunk)
  loading = false
  if not ok then
    error(run_err, 0)
  end
  if not registered then
    error(path .. ": the script never called runpod.serverless.start", 2)
  end
  return registered
end

-- The config of the last start() call (nil before it).
function serverless.config()
  return registered
end

-- set_debugger(on): --rp_debugger. When on, run() attaches the
-- runpod.debugger output (checkpoints, system info) to every table output;
-- either way it clears the checkpoints after each job so none carry over.
local debugger_on = false
function serverless.set_debugger(on)
  debugger_on = on and true or false
end

function serverless.request_refresh()
  refresh_requested = true
end

-- Returns whether a refresh was asked for since the last call, and forgets it.
function serverless.take_refresh()
  local requested = refresh_requested
  refresh_requested = false
  return requested
end

function serverless.register_fitness_check(fn)
  if type(fn) ~= "function" then
    error("bad argument #1 to 'register_fitness_check' (function expected, got "
      .. type(fn) .. ")", 2)
  end
  fitness_checks[#fitness_checks + 1] = fn
end

function serverless.fitness_checks()
  return fitness_checks
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

-- Python treats these as "no value" for the error and refresh_worker keys.
local function falsy(v)
  return v == nil or v == false or v == null or v == "" or v == 0
    or (type(v) == "table" and next(v) == nil)
end

local function error_type_of(err)
  if type(err) == "table" then
    local t = rawget(err, "error_type") or rawget(err, "type")
    if type(t) == "string" then
      return t
    end
  end
  return "LuaError"
end

local function error_message_of(err)
  if type(err) == "string" then
    return err
  end
  if type(err) == "table" then
    local m = rawget(err, "error_message") or rawget(err, "message")
    if type(m) == "string" then
      return m
    end
    local mt = getmetatable(err)
    if not (mt and mt.__tostring) then
      local encoded = core.encode(err, "error")
      if encoded then
        return encoded
      end
    end
  end
  return tostring(err)
end

-- The JSON string a failed job carries in "error" (docs/handlers.md),
-- with its keys in the Python SDK's order.
local function error_json(error_type, message, traceback)
  local fields = {
    { "error_type", error_type },
    { "error_message", message },
    { "error_traceback", traceback or "" },
    { "hostname", core.hostname() },
    { "worker_id", core.worker_id() },
    { "runpod_version", core.version },
  }
  local parts = {}
  for i, field in ipairs(fields) do
    parts[i] = ('"%s":%s'):format(field[1], core.encode(tostring(field[2]), field[1]))
  end
  return "{" .. table.concat(parts, ",") .. "}"
end
serverless.error_json = error_json

-- A table's "error" value as the string the result carries.
local function error_string(err)
  if type(err) == "string" then
    return err
  end
  local encoded = core.encode(err, "error")
  return encoded or tostring(err)
end

-- Normalises a non-streaming handler's return value.
local function normalise(value, info)
  if value == nil then
    return {}
  end
  if type(value) ~= "table" or getmetatable(value) == array_mt then
    return { output = value }
  end
  local err = rawget(value, "error")
  local refresh = rawget(value, "refresh_worker")
  if err ~= nil or refresh ~= nil then
    local rest = {}
    for k, v in next, value do
      if k ~= "error" and k ~= "refresh_worker" then
        rest[k] = v
      end
    end
    value = setmetatable(rest, getmetatable(value))
  end
  local result = {}
  if next(value) ~= nil then
    result.output = value
  end
  if not falsy(err) then
    result.error = error_string(err)
  end
  if not falsy(refresh) then
    info.refresh = true
  end
  return result
end

-- Whether a handler's error is the VM's memory cap refusing an allocation.
local function out_of_memory(err)
  local _, _, exceeded = core.memory()
  return exceeded and err == "not enough memory"
end

-- runtime_failure(error_type, message, id) -> result
-- The result of a job the runtime failed (memory cap, timeout, ...): the
-- error JSON is built once, logged and returned, so that the log and the
-- posted result always agree. A MemoryError ignores message and states
-- the cap; call it once nothing references the job's dead coroutine, so
-- that its garbage can be collected first.
function serverless.runtime_failure(error_type, message, id)
  if error_type == "MemoryError" then
    collectgarbage()
    local _, cap = core.memory()
    core.memory_reset()
    message = ("memory limit exceeded: the handler's Lua heap reached its cap of %d bytes "
      .. "(max_memory / RUNPOD_MAX_MEMORY)"):format(cap)
  end
  local result = { error = error_json(error_type, message, "") }
  log.error("Captured Handler Exception", id)
  log.error(result.error, id)
  return result
end

-- The result of a handler that raised.
local function failure(err, co, id)
  local message = error_message_of(err)
  local traceback = debug.traceback(co, message)
  local result = { error = error_json(error_type_of(err), message, traceback) }
  log.error("Captured Handler Exception", id)
  log.error(result.error, id)
  return result
end

-- Encodes the result; an unencodable one fails the job, naming the key.
local function encode_result(result, max)
  local body, err = core.encode(result, "result")
  if not body then
    local _, why = core.encode(result.output, "output")
    local message = "handler result cannot be encoded as JSON: " .. (why or err)
    result = { error = error_json("EncodeError", message, "") }
    body = core.encode(result, "result")
  end
  if #body > max then
    local message = ("handler result is %d bytes encoded, over RunPod's limit of %d bytes; "
      .. "upload large outputs (runpod.upload) and return their URL"):format(#body, max)
    result = { error = error_json("ResultTooLarge", message, "") }
    body = core.encode(result, "result")
  end
  return result, body
end

-- Resumes the handler's coroutine; while it waits in runpod.sleep or HTTP,
-- core.relay passes the wait up to whoever resumes us (runpod-worker) and
-- returns true when it is over. Any other yield is a partial: only the C
-- side knows whether a wait is pending, so no yielded value can pose as
-- one. Written with tail calls so that it allocates nothing: a handler
-- that ran out of memory leaves none until its coroutine is collected.
local function settle(co, ok, first)
  if ok and coroutine.status(co) == "suspended" and core.relay(co) then
    return settle(co, coroutine.resume(co))
  end
  return ok, first
end

local function resume(co, ...)
  return settle(co, coroutine.resume(co, ...))
end

-- run(handler, job, opts) -> result, info
-- Runs one job. result is the table the worker posts; info holds
--   body     the result encoded as JSON
--   stream   whether the handler streamed (yielded partials)
--   refresh  whether the VM must be rebuilt before the next job
--   failed   whether the job failed
-- opts: return_aggregate_stream (bool), on_partial(partial, body) called
-- for each partial as it is produced, max_result_bytes.
function serverless.run(handler, job, opts)
  opts = opts or {}
  local id = job.id
  local max = opts.max_result_bytes or core.max_result_bytes
  local info = { stream = false, refresh = false }
  local partials = setmetatable({}, array_mt)
  local result

  log.info("Started.", id)
  core.memory_reset()
  local co = coroutine.create(handler)
  local ok, value = resume(co, job)
  while ok and coroutine.status(co) == "suspended" do
    local partial = value
    if partial == nil then
      partial = null
    end
    info.stream = true
    local body, err = core.encode({ output = partial }, "partial")
    if not body then
      ok, value = false,
        "stream partial " .. (#partials + 1) .. " cannot be encoded as JSON: " .. err
      break
    end
    if opts.on_partial then
      opts.on_partial(partial, body)
    end
    if opts.return_aggregate_stream then
      partials[#partials + 1] = partial
    end
    ok, value = resume(co)
  end

  if not ok and out_of_memory(value) then
    co = nil -- luacheck: ignore 311 (drops the dead coroutine for the GC)
    result = serverless.runtime_failure("MemoryError", nil, id)
    info.refresh = true      -- the handler's state may be half-built
  elseif not ok then
    result = failure(value, co, id)
  elseif info.stream then
    result = { output = partials }
    -- A streaming handler's own return may still carry error/refresh_worker.
    if type(value) == "table" and getmetatable(value) ~= array_mt then
      result.error = normalise(value, info).error
    end
  else
    result = normalise(value, info)
  end
  local debugger = package.loaded["runpod.debugger"]
  if debugger_on then
    require("runpod.debugger").collect(result)
  elseif debugger then
    debugger.clear()
  end
  result, info.body = encode_result(result, max)
  info.failed = result.error ~= nil
  if serverless.take_refresh() then
    info.refresh = true
  end
  log.debug("run_job return: " .. info.body, id)
  return result, info
end

-- run_job(handler, job[, opts]) -> result
-- What the worker would post for this job, e.g. {output = {...}} or
-- {error = "..."}; for busted specs of handlers.
function serverless.run_job(handler, job, opts)
  if type(handler) ~= "function" then
    error("bad argument #1 to 'run_job' (function expected, got " .. type(handler) .. ")", 2)
  end
  if type(job) ~= "table" then
    error("bad argument #2 to 'run_job' (table expected, got " .. type(job) .. ")", 2)
  end
  local result = serverless.run(handler, job, opts)
  return result
end

return serverless
