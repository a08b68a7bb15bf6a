-- runpod.log: the runtime's logger, from Lua.
--
--   runpod.log.info("loaded model", job.id)
--
-- Each function takes a message (a string; tables are shown as JSON, other
-- values with tostring) and an optional job id (or the job table itself).
local core = require "runpod.core"

local log = {}

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
      core.log(name, text(message), job_id(job))
    end
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
