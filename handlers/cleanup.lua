-- cleanup: writes scratch files under job_files/ and removes them with
-- runpod.cleanup, as Python workers call rp_cleanup.clean() after a job.
--   runpod-worker handlers/cleanup.lua --test_input '{"input": {"files": 3}}'
local runpod = require "runpod"

local function handler(job)
  os.execute("mkdir -p job_files")
  for i = 1, job.input.files or 1 do
    local f = assert(io.open(("job_files/part%d.txt"):format(i), "w"))
    f:write("scratch ", i, "\n")
    f:close()
  end
  local ok, err = runpod.cleanup()
  if not ok then
    return { error = err }
  end
  return { cleaned = io.open("job_files") == nil }
end

runpod.serverless.start { handler = handler }
