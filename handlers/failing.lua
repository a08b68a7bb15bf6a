-- failing: a handler that raises. The job fails with an "error" holding a
-- JSON string of error_type, error_message, error_traceback, hostname,
-- worker_id and runpod_version; the worker keeps running.
local runpod = require "runpod"

local function check_prompt(input)
  if type(input.prompt) ~= "string" then
    error("input.prompt must be a string, got " .. type(input.prompt))
  end
  return input.prompt
end

local function handler(job)
  return { prompt = check_prompt(job.input) }
end

runpod.serverless.start { handler = handler }
