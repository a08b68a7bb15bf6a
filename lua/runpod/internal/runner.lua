-- runpod.internal.runner: the job runner every mode shares (not part of
-- the public API; handlers use runpod.serverless).
--
-- run() applies the Python SDK's result normalisation (docs/handlers.md).
-- runpod-worker's serverless mode (runpod.internal.worker), local test mode
-- (runpod.internal.local_test) and runpod.serverless.run_job all run a job
-- through run(), so a busted spec that calls run_job() sees exactly the
-- result the worker would post.
--
-- It also holds what the VM knows about its handler script: the config
-- start() registered, the fitness checks, whether a refresh was asked for,
-- and whether --rp_debugger is on.
local core = require "runpod.core"
local log = require "runpod.log"

local json = core.json
local null = json.null
local array_mt = json.array_mt

local runner = {}

local registered          -- the config of the last start() call
-- When this module loaded (with runpod, before the script's own code) and
-- the ms from then to the last start() call: the Python SDK's
-- rp_debugger "ready_delay_ms", the script's set-up time.
local loaded_at = core.monotonic()
local ready_delay_ms
local refresh_requested = false
local debugger_on = false
local fitness_checks = {}

-- set_config(config): what start() registered (nil to forget it).
function runner.set_config(config)
  registered = config
  if config then
    ready_delay_ms = (core.monotonic() - loaded_at) * 1000
  end
end

-- config() -> the config of the last start() call, or nil.
function runner.config()
  return registered
end

-- set_debugger(on): --rp_debugger. When on, run() attaches the
-- runpod.debugger output (checkpoints, system info, and ready_delay_ms once
-- start() was called) to every table output;
-- either way it clears the checkpoints after each job so none carry over.
function runner.set_debugger(on)
  debugger_on = on and true or false
end

-- Jobs in runner.run now: a refresh asked for outside any job (while the
-- script loads) would otherwise fall on the first job.
local jobs_running = 0

-- request_refresh(): the VM is to be rebuilt once the current job's result
-- is delivered (runpod.serverless.refresh). Outside a job it does nothing
-- but say so: the VM is fresh then, and a refresh_mode "pod" worker would
-- stop after its first job for it.
function runner.request_refresh()
  if jobs_running == 0 then
    log.warn("runpod.serverless.refresh() outside a job does nothing: call it from the handler")
    return
  end
  refresh_requested = true
end

-- Returns whether a refresh was asked for since the last call, and forgets it.
function runner.take_refresh()
  local requested = refresh_requested
  refresh_requested = false
  return requested
end

-- refresh_mode(config) -> "vm" | "pod" | nil, message
-- What a refresh the handler asks for does: "vm" (the default) rebuilds
-- the Lua VM in place; "pod" posts "stopPod": true with the result and the
-- worker exits once what is in flight is delivered, so that the platform
-- replaces the whole pod. RUNPOD_REFRESH_MODE overrides start's
-- refresh_mode.
function runner.refresh_mode(config)
  local mode = os.getenv("RUNPOD_REFRESH_MODE")
  local source = "RUNPOD_REFRESH_MODE"
  if mode == nil or mode == "" then
    mode, source = config and config.refresh_mode, "refresh_mode"
  end
  if mode == nil or mode == "vm" or mode == "pod" then
    return mode or "vm"
  end
  return nil, ("%s must be \"vm\" or \"pod\", got %q"):format(source, tostring(mode))
end

-- add_fitness_check(fn, name): fn runs before the first job in serverless
-- mode; name is what a failure reports.
function runner.add_fitness_check(fn, name)
  fitness_checks[#fitness_checks + 1] = { fn = fn, name = name }
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

local fitness_running     -- the name of the check running or failed

-- fitness() -> true | nil, reason: runs every registered fitness check in
-- order; reason is "<error_type>: <message>" of the first that raised,
-- as Python's, and fitness_failed() names it.
function runner.fitness()
  for _, check in ipairs(fitness_checks) do
    fitness_running = check.name
    local ok, err = pcall(check.fn)
    if not ok then
      return nil, error_type_of(err) .. ": " .. error_message_of(err)
    end
  end
  fitness_running = nil
  return true
end

-- fitness_failed() -> the name of the check that failed, or that was
-- running when the checks were cut short (their time limit); nil if none.
function runner.fitness_failed()
  return fitness_running
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

-- error_string(err) -> err as text: a string as it is, anything else
-- encoded as JSON (what a failed stream partial carries, Python's str()).
local function error_string(err)
  if type(err) == "string" then
    return err
  end
  local encoded = core.encode(err, "error")
  return encoded or tostring(err)
end
runner.error_string = error_string

-- Normalises a non-streaming handler's return value.
local function normalise(value, info)
  if value == nil then
    return { output = null } -- Python's None: {"output": null}
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
    result.error = err       -- as Python: any value, passed through
  end
  if not falsy(refresh) then
    info.refresh_asked = true
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
function runner.runtime_failure(error_type, message, id)
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

-- decode_job(job[, decode_error]) -> job | nil, error_type, message
-- The job as a table: job itself, or decoded from its JSON text. A job
-- the codec cannot decode (a lone surrogate such as "\ud83d", a number
-- beyond the double range such as 1e400, nesting deeper than 1000, or not
-- JSON at all; decode_error: the decoder's message when runpod-worker
-- decoded it) gives the error type "JSONDecodeError" and a message naming
-- the decoder's reason, for the job's failed result; a job without an
-- "input" member gives "KeyError" (a null input is an input: the handler
-- gets runpod.json.null, as Python's gets None).
function runner.decode_job(job, decode_error)
  if type(job) == "string" then
    job, decode_error = json.decode(job)
  end
  if job == nil then
    return nil, "JSONDecodeError",
      "the job cannot be decoded as JSON: " .. tostring(decode_error or "no job")
  end
  if type(job) ~= "table" or getmetatable(job) == array_mt then
    return nil, "JSONDecodeError", "the job is not a JSON object"
  end
  if rawget(job, "input") == nil then
    return nil, "KeyError", "Job has missing field(s): input."
  end
  return job
end

-- A streamed partial's error, as Python: a table partial with a truthy
-- "error" ends the stream and fails the job with it. Returns nil otherwise.
local function partial_error(partial)
  if type(partial) == "table" and getmetatable(partial) ~= array_mt then
    local err = rawget(partial, "error")
    if not falsy(err) then
      return error_string(err)
    end
  end
  return nil
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

-- The result of a streaming handler that raised after its first partial:
-- the error as the Python SDK's generator path words it, a plain string
-- (run_job_generator: "handler: <message> \ntraceback: <traceback>").
local function stream_failure(err, co, id)
  local message = error_message_of(err)
  log.error(message, id)
  return { error = "handler: " .. message .. " \ntraceback: " .. debug.traceback(co, message) }
end

-- The keys a result may have, in the order its JSON lists them.
local RESULT_KEYS = { "output", "error", "stopPod" }
-- What a result's JSON may be at most before its size is checked against
-- the result limit (core.encode's cap).
local MAX_ENCODE = 1 << 30

-- encode_keys(result, buffer) -> body | nil, message
-- Encodes the result once, its keys in RESULT_KEYS' order, each value
-- named by its key in a message (a __tojson in the output runs once). The
-- body is a string, or with buffer set the encoder's own buffer (a
-- userdata: #body is its length), which runpod-worker posts as it is.
local function encode_keys(result, buffer)
  return core.encode_fields(result, RESULT_KEYS, MAX_ENCODE, buffer)
end

-- Encodes the result; an unencodable one fails the job with EncodeError,
-- naming the key (and keeps its stopPod). The error is logged as a
-- handler's is, the same text as posted.
local function encode_result(result, max, buffer, id)
  local body, err = encode_keys(result, buffer)
  if not body then
    local message = "handler result cannot be encoded as JSON: " .. err
    result = { error = error_json("EncodeError", message, ""), stopPod = result.stopPod }
    log.error("Captured Handler Exception", id)
    log.error(result.error, id)
    body = encode_keys(result, buffer)
  end
  if #body > max then
    local message = ("handler result is %d bytes encoded, over RunPod's limit of %d bytes; "
      .. "upload large outputs (runpod.upload) and return their URL"):format(#body, max)
    body = nil -- luacheck: ignore 311 (lets the GC free it before the next one is made)
    result = { error = error_json("ResultTooLarge", message, ""), stopPod = result.stopPod }
    body = encode_keys(result, buffer)
  end
  return result, body
end

-- Resumes the handler's coroutine; while it waits in runpod.sleep or HTTP,
-- core.relay passes the wait up to whoever resumes us (runpod-worker) and
-- returns true when it is over. Any other yield is a partial: only the C
-- side knows whether a wait is pending, so no yielded value can pose as
-- one. Written with tail calls so that it allocates nothing: a handler
-- that ran out of memory leaves none until its coroutine is collected.
local raw_resume = coroutine.resume

local function settle(co, ok, first)
  if ok and coroutine.status(co) == "suspended" and core.relay(co) then
    return settle(co, raw_resume(co))
  end
  return ok, first
end

local function resume(co, ...)
  return settle(co, raw_resume(co, ...))
end

-- The coroutine each suspended coroutine waits in: set while it passes
-- that one's runtime wait up, so that closing a job also closes the
-- coroutines its handler nested (close_nested). Weak: a dropped chain
-- goes away with its coroutines.
local inner_of = setmetatable({}, { __mode = "k" })

-- Returns what resuming co gave (ok, ...). When co stopped at a runtime
-- wait (sleep, HTTP; such a yield carries no values), passes the wait up
-- as settle does, one level per nested coroutine, and resumes co once it
-- is over, until co yields values of its own, returns or fails.
local function pass_up(co, ok, ...)
  if ok and select("#", ...) == 0 and coroutine.status(co) == "suspended" then
    local outer = coroutine.running()
    inner_of[outer] = co
    local relayed = core.relay(co)
    inner_of[outer] = nil
    if relayed then
      return pass_up(co, raw_resume(co))
    end
  end
  return ok, ...
end

-- coroutine.resume inside runpod-worker: a runtime wait in a coroutine
-- the handler made itself suspends the whole job, not just that coroutine.
local function resume_nested(co, ...)
  return pass_up(co, raw_resume(co, ...))
end

-- What a coroutine.wrap function returns: the values, or co's error
-- raised again, as the standard one does (co's to-be-closed variables
-- closed, a string error given the caller's position unless it is the
-- memory cap's, which the runner recognises by its text).
local function unwrap(co, ok, ...)
  if ok then
    return ...
  end
  local err = ...
  if coroutine.status(co) == "dead" then
    local closed, close_err = coroutine.close(co)
    if not closed then
      err = close_err
    end
  end
  if type(err) == "string" and err ~= "not enough memory" then
    error(err, 2)
  end
  error(err, 0)
end

-- coroutine.wrap inside runpod-worker, resuming as resume_nested does.
local function wrap_nested(f)
  local co = coroutine.create(f)
  return function(...)
    return unwrap(co, resume_nested(co, ...))
  end
end

-- Closes co and, first, the coroutines it waits in (innermost first), so
-- that their to-be-closed variables run too (an open response closes its
-- transfer).
local function close_nested(co)
  local inner = inner_of[co]
  if inner then
    close_nested(inner)
  end
  if coroutine.status(co) == "suspended" then
    coroutine.close(co)
  end
end

-- Under plain lua5.4 every wait blocks, so the standard functions do.
if core.in_runtime() then
  coroutine.resume = resume_nested -- luacheck: ignore 122 (replaced on purpose, see above)
  coroutine.wrap = wrap_nested -- luacheck: ignore 122
end

-- run(handler, job, opts) -> result, info
-- Runs one job. result is the table the worker posts; info holds
--   body     the result encoded as JSON
--   stream   whether the handler streamed (yielded partials, or returned
--            nothing with return_aggregate_stream)
--   refresh  whether the VM must be rebuilt before the next job
--   stop_pod whether the result carries "stopPod" (a refresh the handler
--            asked for, with refresh_mode "pod")
--   failed   whether the job failed
-- opts: return_aggregate_stream (bool), on_partial(partial, body) called
-- for each partial as it is produced, max_result_bytes, batch_id (marks the
-- handler's log lines, see runpod.log), refresh_worker (start's flag: every
-- job asks for a refresh), refresh_mode ("vm", the default, or "pod"),
-- body_buffer (info.body is the encoder's buffer, not a string: what
-- runpod-worker posts without a copy).
function runner.run(handler, job, opts)
  opts = opts or {}
  local id = job.id
  local max = opts.max_result_bytes or core.max_result_bytes
  local info = { stream = false, refresh = false, stop_pod = false }
  local partials = setmetatable({}, array_mt)
  local result, stream_error, unencodable

  log.info("Started.", id)
  core.memory_reset()
  local co = coroutine.create(handler)
  jobs_running = jobs_running + 1
  -- runpod-worker closes this thread when the job is stopped or runs out
  -- of time while it waits (HTTP, sleep): the handler's coroutine is
  -- closed with it, so that its to-be-closed variables run (a response
  -- being read closes its transfer) and the VM stays usable.
  local _ <close> = setmetatable({}, { __close = function()
    jobs_running = jobs_running - 1
    if co then
      close_nested(co)
    end
  end })
  log.set_batch(co, opts.batch_id)
  local ok, value = resume(co, job)
  while ok and coroutine.status(co) == "suspended" do
    local partial = value
    if partial == nil then
      partial = null
    end
    info.stream = true
    stream_error = partial_error(partial)
    if stream_error then
      coroutine.close(co)    -- runs the handler's to-be-closed variables
      break                  -- not posted; the job fails with it (as Python)
    end
    local body, err = core.encode({ output = partial }, "partial")
    if not body then
      ok, value = false,
        "stream partial " .. (#partials + 1) .. " cannot be encoded as JSON: " .. err
      unencodable = true
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
    result = runner.runtime_failure("MemoryError", nil, id)
    info.refresh = true      -- the handler's state may be half-built
  elseif not ok and info.stream and not unencodable then
    result = stream_failure(value, co, id)
  elseif not ok then
    result = failure(value, co, id)
  elseif stream_error then
    result = { error = stream_error }
    log.error("Stream partial failed the job: " .. stream_error, id)
  elseif info.stream or (value == nil and opts.return_aggregate_stream) then
    -- With return_aggregate_stream a handler that returns nothing is a
    -- stream even when it yielded no partial: Python's generator that
    -- yields none posts {"output": []} with isStream=true.
    info.stream = true
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
    local dbg = type(result.output) == "table" and result.output.rp_debugger
    if type(dbg) == "table" and ready_delay_ms then
      dbg.ready_delay_ms = ready_delay_ms
    end
  elseif debugger then
    debugger.clear()
  end
  if runner.take_refresh() or opts.refresh_worker then
    info.refresh_asked = true
  end
  if info.refresh_asked then
    info.refresh = true
    if opts.refresh_mode == "pod" then
      info.stop_pod = true
      result.stopPod = true  -- as Python's refresh_worker
    end
  end
  info.refresh_asked = nil
  result, info.body = encode_result(result, max, opts.body_buffer, id)
  info.failed = result.error ~= nil
  if core.log_enabled("DEBUG") then
    log.debug("run_job return: " .. tostring(info.body), id)
  end
  return result, info
end

return runner
