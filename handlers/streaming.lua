-- streaming: yields partial results with coroutine.yield, the Lua form of
-- a Python generator handler. Each partial is streamed as it is produced;
-- with return_aggregate_stream the final result is the list of partials.
local runpod = require "runpod"

local function handler(job)
  local words = job.input.words or { "hello", "streaming", "world" }
  for i, word in ipairs(words) do
    coroutine.yield({ index = i, token = word })
  end
end

runpod.serverless.start {
  handler = handler,
  return_aggregate_stream = true,
}
