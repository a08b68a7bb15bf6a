-- runpod.worker: the Lua side of runpod-worker's serverless mode. The
-- executor threads call these functions inside a job's coroutine; they
-- reuse the job runner of runpod.serverless, so a job runs here exactly as
-- it does in local test mode and in busted.
local core = require "runpod.core"
local log = require "runpod.log"
local serverless = require "runpod.serverless"

local json = core.json
local null = json.null

local worker = {}

-- run(job_text) -> body, is_stream, refresh, failed
-- Decodes and runs one job; partials and the final result leave through
-- core.emit, in the order they are produced.
function worker.run(job_text)
  local config = assert(serverless.config(), "no handler registered")
  local job = assert(json.decode(job_text))
  local id = job.id
  local result, info = serverless.run(config.handler, job, {
    return_aggregate_stream = config.return_aggregate_stream,
    on_partial = function(_, body)
      core.emit("stream", id, body)
    end,
  })
  if result.error then
    log.info("Failed.", id)
  else
    log.info("Finished.", id)
  end
  return info.body, info.stream, info.refresh or config.refresh_worker == true, info.failed
end

-- error_result(error_type, message, id) -> body
-- The result of a job the runtime had to cut short, logged as it is posted.
function worker.error_result(error_type, message, id)
  return assert(core.encode(serverless.runtime_failure(error_type, message, id), "result"))
end

-- concurrency(current) -> new value: start's concurrency_modifier, if any.
-- A modifier that raises or returns anything but an integer >= 1 is logged
-- and the current value kept.
function worker.concurrency(current)
  local config = serverless.config()
  local modifier = config and config.concurrency_modifier
  if not modifier then
    return current
  end
  local ok, value = pcall(modifier, current)
  if not ok then
    log.error("concurrency_modifier raised: " .. tostring(value) .. "; keeping " .. current)
    return current
  end
  if math.type(value) ~= "integer" and not (math.type(value) == "float" and value % 1 == 0) then
    log.error(("concurrency_modifier returned %s; keeping %d"):format(
      value == nil and "nil" or tostring(value), current))
    return current
  end
  value = math.tointeger(value)
  if value < 1 then
    log.error(("concurrency_modifier returned %d (must be >= 1); keeping %d"):format(
      value, current))
    return current
  end
  return value
end

-- fitness() -> true | nil, message: runs every registered fitness check.
function worker.fitness()
  for i, check in ipairs(serverless.fitness_checks()) do
    local ok, err = pcall(check)
    if not ok then
      return nil, ("fitness check %d failed: %s"):format(i, tostring(err))
    end
  end
  return true
end

-- A config key the runtime reads (worker_threads, timeout, ...), or nil.
function worker.config_value(key)
  local config = serverless.config()
  local value = config and config[key]
  if value == null then
    return nil
  end
  return value
end

return worker
