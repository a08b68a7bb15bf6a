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
  serverless = serverless,
  sleep = core.sleep,
  time_remaining = core.time_remaining,
  refresh = serverless.refresh,          -- the older name, kept
  buffer = core.buffer,
  base64 = core.base64,
  hex = core.hex,
}

-- The rest of the library loads on first use, so that building a VM (at
-- start and on every refresh) pays only for what the handler touches.
local on_demand = {
  http = function() return require "runpod.http" end,
  validate = function() return require("runpod.validator").validate end,
  debugger = function() return require "runpod.debugger" end,
  cleanup = function() return require("runpod.files").cleanup end,
  download = function() return require("runpod.download").download end,
  file = function() return require("runpod.download").file end,
  upload = function() return require("runpod.upload").upload end,
  backend = function() return require "runpod.backend" end,
  proxy = function() return require "runpod.proxy" end,
  upload_files = function() return require("runpod.upload").files end,
  bucket_upload = function() return require("runpod.upload").bucket_upload end,
  model_cache_path = function() return require("runpod.model_cache").path end,
  volume_cache = function() return require("runpod.volume_cache").new end,
}

setmetatable(runpod, {
  __index = function(t, key)
    local load = on_demand[key]
    if load then
      local value = load()
      rawset(t, key, value)
      return value
    end
  end,
})

return runpod
