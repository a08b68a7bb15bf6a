-- buffer: decodes a base64 payload into a runpod.Buffer, reverses its bytes
-- and returns them as base64 and hex.
--   runpod-worker handlers/buffer.lua --test_input '{"input": {"data": "AQID"}}'
local runpod = require "runpod"

local function handler(job)
  local data = job.input.data
  if type(data) ~= "string" then
    return { error = "input.data must be a base64 string, got " .. type(data) }
  end
  local bytes, err = runpod.buffer.from_base64(data)
  if not bytes then
    return { error = "input.data: " .. err }
  end
  local n = #bytes
  for i = 1, n // 2 do
    local a, b = bytes:byte(i), bytes:byte(n - i + 1)
    bytes:set_byte(i, b):set_byte(n - i + 1, a)
  end
  return {
    size = n,
    reversed = runpod.base64.encode(bytes),
    hex = runpod.hex.encode(bytes),
  }
end

runpod.serverless.start { handler = handler }
