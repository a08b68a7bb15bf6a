-- bench/library.lua: throughput of runpod.base64 and runpod.json on a 10 MB
-- payload, under plain lua5.4 against the built module:
--   LUA_PATH='lua/?.lua;lua/?/init.lua' LUA_CPATH='build/lib/?.so' lua5.4 bench/library.lua
-- Prints MB/s (10^6 bytes of input per second), best of ROUNDS runs.
local runpod = require "runpod"
local core = require "runpod.core"

local ROUNDS = 5
local SIZE = 10 * 1000 * 1000

local function best(fn)
  local t = math.huge
  for _ = 1, ROUNDS do
    local t0 = core.monotonic()
    fn()
    t = math.min(t, core.monotonic() - t0)
  end
  return t
end

local function report(name, bytes, seconds)
  print(("%-24s %8.1f MB/s  (%.1f ms for %.1f MB)"):format(name, bytes / seconds / 1e6,
    seconds * 1000, bytes / 1e6))
end

-- 10 MB of pseudo-random bytes (a 64 KiB random block repeated).
math.randomseed(1)
local block = {}
for i = 1, 65536 do
  block[i] = string.char(math.random(0, 255))
end
local binary = table.concat(block):rep(SIZE // 65536 + 1):sub(1, SIZE)

local encoded = runpod.base64.encode(binary)
assert(runpod.base64.decode(encoded) == binary)
report("base64.encode", #binary, best(function() runpod.base64.encode(binary) end))
report("base64.decode", #encoded, best(function() runpod.base64.decode(encoded) end))

local buf = runpod.buffer.new():append(binary)
report("base64.encode(buffer)", #binary, best(function() runpod.base64.encode(buf) end))
report("buffer.from_base64", #encoded, best(function() runpod.buffer.from_base64(encoded) end))

-- A 10 MB JSON document of the shape handlers return: records with
-- strings, integers, floats, booleans and a nested array.
local records = {}
local size = 0
local i = 0
while size < SIZE do
  i = i + 1
  local r = {
    id = i, name = "item-" .. i, score = i / 7, ok = i % 2 == 0,
    tags = runpod.json.array { "a", "bb", "ccc" }, text = ("lorem ipsum "):rep(4),
  }
  records[i] = r
  size = size + #runpod.json.encode(r) + 1
end
local doc = { records = records }
local text = assert(runpod.json.encode(doc))
report("json.encode", #text, best(function() runpod.json.encode(doc) end))
report("json.decode", #text, best(function() runpod.json.decode(text) end))

-- A 10 MB binary payload handed to the encoder as a base64 string and as
-- a buffer (its __tojson), the way a handler returns an image.
local b64 = runpod.base64.encode(binary:sub(1, SIZE // 4 * 3))
local b64buf = runpod.buffer.new():append(b64)
report("json.encode(b64 string)", #b64, best(function() runpod.json.encode({ image = b64 }) end))
report("json.encode(b64 buffer)", #b64, best(function() runpod.json.encode({ image = b64buf }) end))
