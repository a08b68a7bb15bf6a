-- runpod: the module a handler script requires.
--
--   local runpod = require "runpod"
--   runpod.serverless.start { handler = function(job) return job.input end }
--
-- The C part is runpod.core; the Lua parts live next to this file and are
-- compiled into runpod-worker as well, so the binary and plain lua5.4 run
-- the same code.
local core = require "runpod.core"
local serverless = require "runpod.serverless"

local runpod = {
  version = core.version,
  json = core.json,
  log = require "runpod.log",
  http = require "runpod.http",
  serverless = serverless,
  sleep = core.sleep,
  time_remaining = core.time_remaining,
  buffer = core.buffer,
  base64 = core.base64,
  hex = core.hex,
  validate = require("runpod.validator").validate,
  debugger = require "runpod.debugger",
  cleanup = require("runpod.files").cleanup,
  download = require("runpod.download").download,
  upload = require("runpod.upload").upload,
}

-- Asks for a fresh VM once the current job's result is delivered, even
-- when the handler goes on to raise an error.
function runpod.refresh()
  serverless.request_refresh()
end

return runpod
