-- bench/idle.lua: a job that waits in runpod.sleep, so that the worker's
-- resident size can be read while it holds a built VM and a job in flight.
local runpod = require "runpod"
runpod.serverless.start {
  handler = function(job)
    runpod.sleep(job.input.seconds or 2)
    return true
  end,
}
