-- echo: returns the job's input. The smallest useful handler.
--   runpod-worker handlers/echo.lua --test_input '{"input": {"x": 1}}'
local runpod = require "runpod"

local function handler(job)
  return { echo = job.input }
end

runpod.serverless.start { handler = handler }
