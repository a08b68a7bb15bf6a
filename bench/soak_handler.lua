-- bench/soak.sh's handler: echoes its input, asks for a fresh VM
-- (refresh_worker) every SOAK_REFRESH jobs (default 100) and fails about
-- SOAK_FAIL_PCT percent of jobs (default 5) by raising. A job with
-- input.sleep sleeps that many seconds first (to be cancelled or timed
-- out).
local runpod = require "runpod"

local every = tonumber(os.getenv("SOAK_REFRESH")) or 100
local fail_pct = tonumber(os.getenv("SOAK_FAIL_PCT")) or 5
local count = 0

runpod.serverless.start {
  handler = function(job)
    count = count + 1
    if job.input.sleep then
      runpod.sleep(job.input.sleep)
    end
    if math.random(100) <= fail_pct then
      error("soak: injected failure")
    end
    return { output = job.input, refresh_worker = count % every == 0 }
  end,
}
