-- debugger: times the steps of a job with runpod.debugger. With
-- --rp_debugger the runtime attaches the checkpoints and the system info to
-- the output as "rp_debugger", as the Python SDK's flag does:
--   runpod-worker handlers/debugger.lua --rp_debugger --test_input '{"input": {"n": 1000}}'
local runpod = require "runpod"

local dbg = runpod.debugger

local sum = dbg.timed(function(n)
  local s = 0
  for i = 1, n do
    s = s + i
  end
  return s
end, "sum")

local function handler(job)
  dbg.start("handler")
  local s = sum(job.input.n or 10)
  dbg.stop("handler")
  return { sum = s }
end

runpod.serverless.start { handler = handler }
