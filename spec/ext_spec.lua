-- The example C extension module handlers/ext/invert.so: built against the
-- Lua headers and runpod.h only, it works on runpod.Buffer bytes in place.
local runpod = require "runpod"
local proc = require "helpers.proc"

local json = runpod.json
local SO = proc.root .. "/handlers/ext/invert.so"

describe("handlers/ext/invert.so", function()
  local invert
  setup(function()
    local saved = package.cpath
    package.cpath = proc.root .. "/handlers/?.so;" .. package.cpath
    invert = require "ext.invert"
    package.cpath = saved
  end)

  it("defines nothing but its opener and needs nothing of the runtime", function()
    local p = assert(io.popen("nm -D --defined-only " .. proc.quote(SO) .. " | awk '$2 == \"T\"'"))
    local defined = p:read("a")
    p:close()
    assert.are.equal("luaopen_ext_invert", defined:match("T (%S+)"))
    p = assert(io.popen("nm -D --undefined-only " .. proc.quote(SO)))
    for sym in p:read("a"):gmatch("U (%S+)") do
      assert.is_nil(sym:match("^rp_"), sym)
    end
    p:close()
  end)

  describe("rgb()", function()
    it("inverts RGB bytes in place", function()
      local b = runpod.buffer.new():append("\0\1\254\255\128\127")
      assert.are.equal(b, invert.rgb(b))
      assert.are.equal("\255\254\1\0\127\128", b:tostring())
    end)

    it("keeps alpha with 4 channels", function()
      local b = runpod.buffer.from_hex("000000ff10203040")
      invert.rgb(b, 4)
      assert.are.equal("ffffffffefdfcf40", runpod.hex.encode(b))
    end)

    it("is its own inverse on a large image", function()
      local b = runpod.buffer.new()
      for i = 0, 4095 do
        b:append(string.char(i % 256, (i * 7) % 256, (i * 13) % 256, 255))
      end
      local before = b:tostring()
      invert.rgb(invert.rgb(b, 4), 4)
      assert.are.equal(before, b:tostring())
    end)

    it("rejects a string", function()
      assert.has_error(function() invert.rgb("abc") end,
        "bad argument #1 to 'rgb' (runpod.Buffer expected, got string)")
    end)

    it("rejects a length that is not whole pixels", function()
      assert.has_error(function() invert.rgb(runpod.buffer.new():append("ab")) end,
        "bad argument #1 to 'rgb' (length is not a multiple of the channel count)")
    end)

    it("rejects a channel count other than 3 or 4", function()
      assert.has_error(function() invert.rgb(runpod.buffer.new(), 2) end,
        "bad argument #2 to 'rgb' (channels must be 3 or 4)")
    end)
  end)

  describe("handlers/ext_buffer.lua", function()
    local INPUT = '{"input": {"pixels": "AAAAAP////8=", "channels": 4}}'
    local WANT = { output = { pixels = "////AAAAAP8=", size = 8 } }

    it("runs under bin/runpod-worker, which finds the module next to it", function()
      local r = proc.worker_run({ "handlers/ext_buffer.lua", "--test_input", INPUT })
      assert.are.equal(0, r.code, r.stderr)
      assert.are.same(WANT, json.decode(r.stdout:match("Job result: ([^\n]*)")))
    end)

    it("runs under plain lua5.4 with handlers/ on LUA_CPATH", function()
      local r = proc.lua_run({ "handlers/ext_buffer.lua", "--test_input", INPUT }, { env = {
        LUA_PATH = proc.root .. "/lua/?.lua;" .. proc.root .. "/lua/?/init.lua",
        LUA_CPATH = proc.root .. "/handlers/?.so;"
          .. (os.getenv("LUA_CPATH") or proc.root .. "/build/lib/?.so;;") } })
      assert.are.equal(0, r.code, r.stderr)
      assert.are.same(WANT, json.decode(r.stdout:match("Job result: ([^\n]*)")))
    end)
  end)
end)
