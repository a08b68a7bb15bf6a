-- bench/json_floats.lua FILE: the embeddings document of bench/data_path.sh
-- ({"data": [{"embedding": [768 floats], "index": i}, ...] x 600}, seeded
-- random floats in [-1, 1)), written to FILE for python3 to encode too;
-- then runpod.json.encode of it, best of 5, in MB/s.
local json = require("runpod").json
local core = require "runpod.core"

local path = assert(arg[1], "usage: json_floats.lua FILE")
math.randomseed(42)
local data = json.array()
for i = 1, 600 do
  local v = json.array()
  for k = 1, 768 do
    v[k] = math.random() * 2 - 1
  end
  data[i] = { embedding = v, index = i - 1, object = "embedding" }
end
local doc = { data = data, object = "list", model = "bench" }
local f = assert(io.open(path, "wb"))
f:write(assert(json.encode(doc)))
f:close()
-- what is encoded is what python3 reads back: the same doubles
doc = assert(json.decode(assert(io.open(path, "rb")):read("a")))
local best, text
for _ = 1, 5 do
  local t0 = core.monotonic()
  text = assert(json.encode(doc))
  local dt = core.monotonic() - t0
  best = best and math.min(best, dt) or dt
end
print(("runpod_json_encode bytes %d best_ms %.1f mb_per_s %.1f"):format(#text, best * 1e3,
  #text / best / 1e6))
