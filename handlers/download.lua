-- download: fetches the URLs of job.input.urls into
-- jobs/<job id>/downloaded_files/ with runpod.download (the Python SDK's
-- download_files_from_urls), reports each file's name and size, then
-- removes the job's folder.
--   RUNPOD_ALLOW_PRIVATE_DOWNLOAD_URLS=true runpod-worker handlers/download.lua \
--     --test_input '{"input": {"urls": ["http://127.0.0.1:8000/a.png"]}}'
local runpod = require "runpod"

local function handler(job)
  local urls = job.input.urls or { job.input.url }
  local paths, errors = runpod.download(job.id, urls, { timeout = 120 })
  local files = {}
  for i = 1, #urls do
    if paths[i] then
      local f = assert(io.open(paths[i], "rb"))
      local size = f:seek("end")
      f:close()
      files[i] = { name = paths[i]:match("[^/]+$"), bytes = size }
    else
      files[i] = { error = errors[i] }
    end
  end
  local ok, err = runpod.cleanup { "jobs/" .. job.id }
  if not ok then
    return { error = err }
  end
  return { files = files }
end

runpod.serverless.start { handler = handler }
