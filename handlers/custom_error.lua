-- custom_error: reports a failure without raising, by returning an "error"
-- key. The job fails with that message and whatever else the table holds
-- becomes "output".
local runpod = require "runpod"

local function handler(job)
  local n = job.input.n
  if math.type(n) ~= "integer" or n < 0 then
    return { error = "input.n must be a non-negative integer", received = n }
  end
  local f = 1
  for i = 2, n do
    f = f * i
  end
  return { factorial = f }
end

runpod.serverless.start { handler = handler }
