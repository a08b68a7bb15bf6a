-- ext_buffer: inverts the colours of raw RGB(A) pixels with a C extension
-- module (handlers/ext/invert.c, built by `make` into handlers/ext/invert.so)
-- working on a runpod.Buffer in place.
--   runpod-worker handlers/ext_buffer.lua \
--     --test_input '{"input": {"pixels": "AAAAAP////8=", "channels": 4}}'
local runpod = require "runpod"
local invert = require "ext.invert"   -- the script's directory is on package.cpath

local function handler(job)
  local pixels, err = runpod.buffer.from_base64(job.input.pixels or "")
  if not pixels then
    return { error = "input.pixels: " .. err }
  end
  invert.rgb(pixels, job.input.channels or 3)
  return { pixels = runpod.base64.encode(pixels), size = #pixels }
end

runpod.serverless.start { handler = handler }
