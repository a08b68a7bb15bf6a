-- validate: checks the input against a schema with runpod.validate, the
-- way Python workers use rp_validator.
--   runpod-worker handlers/validate.lua --test_input '{"input": {"prompt": "a cat"}}'
local runpod = require "runpod"

local SCHEMA = {
  prompt = { type = "string", required = true },
  steps = {
    type = "integer", required = false, default = 20,
    constraints = function(n) return n >= 1 and n <= 100 end,
  },
  guidance = { type = "number", required = false, default = 7.5 },
}

local function handler(job)
  local v = runpod.validate(job.input, SCHEMA)
  if v.errors then
    return { error = table.concat(v.errors, " ") }
  end
  local input = v.validated_input
  return { prompt = input.prompt, steps = input.steps, guidance = input.guidance }
end

runpod.serverless.start { handler = handler }
