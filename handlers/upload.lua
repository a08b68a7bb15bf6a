-- upload: puts job.input.text into the bucket of BUCKET_ENDPOINT_URL
-- (BUCKET_ACCESS_KEY_ID, BUCKET_SECRET_ACCESS_KEY) with runpod.upload, the
-- Python SDK's rp_upload, and returns a presigned URL to fetch it; without
-- a bucket the file lands in simulated_uploaded/ and its path is returned.
--   BUCKET_ENDPOINT_URL=https://s3.us-east-1.amazonaws.com ... \
--     runpod-worker handlers/upload.lua --test_input '{"input": {"text": "hi"}}'
local runpod = require "runpod"

local bucket = os.getenv("UPLOAD_BUCKET")   -- default: the month, as Python

local function handler(job)
  local text = runpod.buffer.new():append(job.input.text or "")
  local url, err = runpod.upload(job.id, text, { bucket = bucket, name = "result.txt" })
  if not url then
    return { error = err }
  end
  return { url = url }
end

runpod.serverless.start { handler = handler }
