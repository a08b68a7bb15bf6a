-- runpod.log: the runtime's logger, from Lua.
--
--   runpod.log.info("loaded model", job.id)
--
-- Each function takes a message (a string; tables are shown as JSON, other
-- values with tostring) and an optional job id (or the job table itself).
-- A line written while a job taken with a "batchId" runs starts with
-- "[batchId=ID] ", as the Python SDK's.
local core = require "runpod.core"

local log = {}

-- coroutine -> the batch id of the job it runs; weak, so a finished
-- job's coroutine goes away with its entry.
local batch_of = setmetatable({}, { __mode = "k" })

local function text(message)
  if type(message) == "string" then
    return message
  end
  if type(message) == "table" then
    local json = core.encode(message, "message")
    if json then
      return json
    end
  end
  return tostring(message)
end

local function job_id(job)
  if type(job) == "table" then
    job = job.id
  end
  if job == nil then
    return nil
  end
  return tostring(job)
end

for _, level in ipairs { "trace", "debug", "info", "warn", "error" } do
  local name = level:upper()
  log[level] = function(message, job)
    if core.log_enabled(name) then
      local batch = batch_of[coroutine.running()]
      message = text(message)
      if batch then
        message = "[batchId=" .. batch .. "] " .. message
      end
      core.log(name, message, job_id(job))
    end
  end
end

-- set_batch(co, batch_id): the job runner's hook. Lines logged from
-- coroutine co carry batch_id (a non-empty string or a number, as a job's
-- "batchId" may be; anything else, nil included, clears it).
function log.set_batch(co, batch_id)
  if type(batch_id) == "number" or (type(batch_id) == "string" and batch_id ~= "") then
    batch_of[co] = tostring(batch_id)
  else
    batch_of[co] = nil
  end
end

-- Sets the level (NOTSET, TRACE, DEBUG, INFO, WARN or ERROR); raises on
-- any other name.
function log.set_level(name)
  core.log_set_level(name)
end

function log.get_level()
  return core.log_get_level()
end

return log
