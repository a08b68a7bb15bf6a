-- runpod.internal.worker: the Lua side of runpod-worker's serverless mode.
-- The executor threads call these functions; a job runs through the
-- shared runner (runpod.internal.runner), so it runs here exactly as it
-- does in local test mode and in busted.
local core = require "runpod.core"
local log = require "runpod.log"
local runner = require "runpod.internal.runner"

local worker = {}

-- worker.run(job_text) and worker.error_result(error_type, message, id)
-- run a job and report one the runtime cut short (runpod.internal.modes).
-- Partials and the final result leave through core.emit, in the order
-- they are produced; the log says only how the job ended.
require("runpod.internal.modes").add_entry_points(worker, {
  body_buffer = true,        -- posted from the encoder's buffer, no copy
  partial = function(id, body)
    core.emit("stream", id, body)
  end,
  finished = function(id, result)
    if result.error then
      log.info("Failed.", id)
    else
      log.info("Finished.", id)
    end
  end,
})

-- The last complaint about the modifier's answer, logged once until the
-- answer changes: it is asked once a second while every place is taken.
local complaint

local function complain(message)
  if message ~= complaint then
    log.error(message)
    complaint = message
  end
end

-- concurrency(current) -> new value: start's concurrency_modifier, if any.
-- As in the Python SDK, 0 or less takes no new job (the jobs in flight go
-- on) until the modifier says more; 0 is the value then. A modifier that
-- raises or returns anything but a whole number is logged (once while
-- its answer stays the same) and the current value kept.
function worker.concurrency(current)
  local config = runner.config()
  local modifier = config and config.concurrency_modifier
  if not modifier then
    return current
  end
  local ok, value = pcall(modifier, current)
  if not ok then
    complain("concurrency_modifier raised: " .. tostring(value) .. "; keeping " .. current)
    return current
  end
  if math.type(value) ~= "integer" and not (math.type(value) == "float" and value % 1 == 0) then
    complain(("concurrency_modifier returned %s; keeping %d"):format(
      type(value) == "string" and ("the string %q"):format(value) or tostring(value), current))
    return current
  end
  complaint = nil
  return math.max(math.tointeger(value), 0)
end

-- fitness() -> true | nil, reason: runs every registered fitness check;
-- fitness_failed() -> the name of the one that failed (or ran too long).
worker.fitness = runner.fitness
worker.fitness_failed = runner.fitness_failed

return worker
