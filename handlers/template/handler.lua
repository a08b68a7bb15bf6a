-- handler.lua: a starting point for a runpod-lua worker.
--
--   runpod-worker handler.lua                    # runs ./test_input.json once
--   lua5.4 /usr/bin/busted spec/                 # its tests
--
-- Input: { "prompt": string, "max_words"?: integer 1..256 (default 16),
--          "uppercase"?: boolean (default false) }
-- Output: { "text": string, "words": integer }
local runpod = require "runpod"

local DEFAULTS = { max_words = 16, uppercase = false }

-- Checks the job's input with plain Lua. Returns the input with defaults
-- filled in, or nil and a message the caller sees as the job's error.
local function validate(input)
  if type(input) ~= "table" then
    return nil, "input must be an object"
  end
  local prompt = input.prompt
  if type(prompt) ~= "string" or prompt == "" then
    return nil, "prompt must be a non-empty string"
  end
  local max_words = input.max_words
  if max_words == nil then
    max_words = DEFAULTS.max_words
  elseif math.type(max_words) ~= "integer" or max_words < 1 or max_words > 256 then
    return nil, "max_words must be an integer from 1 to 256"
  end
  local uppercase = input.uppercase
  if uppercase == nil then
    uppercase = DEFAULTS.uppercase
  elseif type(uppercase) ~= "boolean" then
    return nil, "uppercase must be a boolean"
  end
  for key in pairs(input) do
    if DEFAULTS[key] == nil and key ~= "prompt" then
      return nil, "unknown input key '" .. tostring(key) .. "'"
    end
  end
  return { prompt = prompt, max_words = max_words, uppercase = uppercase }
end

-- Load models, open clients, read files here, once per worker: the code
-- outside the handler runs when the worker starts (and after a refresh).

local function handler(job)
  local input, err = validate(job.input)
  if not input then
    runpod.log.warn("rejected input: " .. err, job.id)
    return { error = err }        -- the job fails with this message
  end
  runpod.log.info(("prompt of %d bytes, max_words %d"):format(#input.prompt,
    input.max_words), job.id)

  local words = {}
  for word in input.prompt:gmatch("%S+") do
    if #words == input.max_words then
      break
    end
    words[#words + 1] = input.uppercase and word:upper() or word
  end
  return { text = table.concat(words, " "), words = #words }
end

runpod.serverless.start { handler = handler }
