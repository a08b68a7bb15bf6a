-- refresh: asks for a fresh VM after a job. With refresh_worker = true in
-- the returned table (or in start's config, or runpod.serverless.refresh()),
-- the runtime rebuilds the Lua state from this script once the result is
-- delivered, so no state leaks into the next job. Here the counter is
-- always 1 when input.refresh is set, and keeps counting otherwise.
local runpod = require "runpod"

local jobs_seen = 0

local function handler(job)
  jobs_seen = jobs_seen + 1
  return { jobs_seen = jobs_seen, refresh_worker = job.input.refresh == true }
end

runpod.serverless.start { handler = handler }
