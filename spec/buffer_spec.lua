-- runpod.buffer: the growable byte buffer userdata (runtime/lua/lbuffer.c).
local runpod = require "runpod"
local proc = require "helpers.proc"

local buffer = runpod.buffer
local json = runpod.json

describe("runpod.buffer", function()
  describe("new()", function()
    it("makes an empty buffer", function()
      local b = buffer.new()
      assert.are.equal(0, #b)
      assert.are.equal("", b:tostring())
      assert.is_true(buffer.is(b))
      assert.is_false(buffer.is("x"))
    end)

    it("reserves the capacity asked for", function()
      assert.is_true(buffer.new(1000):capacity() >= 1000)
    end)

    it("rejects a negative capacity", function()
      assert.has_error(function() buffer.new(-1) end,
        "bad argument #1 to 'new' (capacity must be from 0 to 1073741824)")
    end)

    it("rejects a capacity past the 1 GiB cap", function()
      assert.has_error(function() buffer.new(2 ^ 30 + 1) end,
        "bad argument #1 to 'new' (capacity must be from 0 to 1073741824)")
    end)
  end)

  describe(":append()", function()
    it("appends strings, numbers as tostring shows them, and buffers", function()
      local other = buffer.new():append("<>")
      local b = buffer.new():append("a", 1, 2.5, -0.0, 2 ^ 63, other, "")
      assert.are.equal("a12.5-0.09.2233720368548e+18<>", b:tostring())
    end)

    it("returns the buffer for chaining", function()
      local b = buffer.new()
      assert.are.equal(b, b:append("x"))
    end)

    it("appends a buffer to itself", function()
      local b = buffer.new():append("abc")
      for _ = 1, 10 do
        b:append(b)
      end
      assert.are.equal(("abc"):rep(1024), b:tostring())
    end)

    it("keeps binary bytes, NUL included", function()
      local s = "\0\1\255\0"
      assert.are.equal(s, buffer.new():append(s):tostring())
    end)

    it("rejects other types before appending anything", function()
      local b = buffer.new():append("x")
      assert.has_error(function() b:append("y", {}) end,
        "bad argument #2 to 'append' (string, number or runpod.Buffer expected, got table)")
      assert.are.equal("x", b:tostring())
    end)

    it("rejects a call on something that is not a buffer", function()
      local b = buffer.new()
      assert.has_error(function() b.append("x", "y") end,
        "bad argument #1 to 'append' (runpod.Buffer expected, got string)")
    end)
  end)

  describe(":reserve()", function()
    it("makes room without changing the contents", function()
      local b = buffer.new():append("abc")
      assert.are.equal(b, b:reserve(100))
      assert.is_true(b:capacity() >= 103)
      assert.are.equal("abc", b:tostring())
    end)

    it("rejects a negative size", function()
      assert.has_error(function() buffer.new():reserve(-5) end,
        "bad argument #1 to 'reserve' (size must be from 0 to 1073741824)")
    end)

    it("raises past the cap", function()
      local b = buffer.new():append("x")
      assert.has_error(function() b:reserve(2 ^ 30) end,
        "runpod.Buffer of 1 + 1073741824 bytes would exceed the 1073741824-byte cap")
    end)
  end)

  describe(":sub() and :slice()", function()
    local s = "hello, world"
    local b
    before_each(function() b = buffer.new():append(s) end)

    it("follows string.sub's index rules", function()
      for _, ij in ipairs { { 1 }, { 3 }, { -5 }, { 0 }, { -100 }, { 100 }, { 2, 4 }, { 4, 2 },
        { -3, -1 }, { 1, -100 }, { 0, 0 }, { 5, 100 }, { -100, 3 } } do
        assert.are.equal(s:sub(ij[1], ij[2]), b:sub(ij[1], ij[2]))
        assert.are.equal(s:sub(ij[1], ij[2]), b:slice(ij[1], ij[2]):tostring())
      end
    end)

    it("slice() gives an independent buffer", function()
      local c = b:slice(1, 5)
      c:set_byte(1, 72)
      assert.are.equal("Hello", c:tostring())
      assert.are.equal(s, b:tostring())
    end)

    it("rejects a missing start", function()
      assert.has_error(function() b:sub() end,
        "bad argument #1 to 'sub' (number expected, got no value)")
    end)
  end)

  describe(":byte() and :set_byte()", function()
    it("reads bytes like string.byte, nil out of range", function()
      local b = buffer.new():append("AZ")
      assert.are.equal(65, b:byte())
      assert.are.equal(90, b:byte(2))
      assert.are.equal(90, b:byte(-1))
      assert.is_nil(b:byte(3))
      assert.is_nil(b:byte(0))
    end)

    it("writes bytes in place", function()
      local b = buffer.new():append("abc")
      assert.are.equal(b, b:set_byte(-1, 0):set_byte(1, 255))
      assert.are.equal("\255b\0", b:tostring())
    end)

    it("rejects an index out of range", function()
      assert.has_error(function() buffer.new():append("a"):set_byte(2, 1) end,
        "bad argument #1 to 'set_byte' (index out of range)")
    end)

    it("rejects a value out of range", function()
      assert.has_error(function() buffer.new():append("a"):set_byte(1, 256) end,
        "bad argument #2 to 'set_byte' (value out of range)")
    end)
  end)

  describe(":clear()", function()
    it("empties the buffer and keeps its memory", function()
      local b = buffer.new():append(("x"):rep(100))
      local cap = b:capacity()
      assert.are.equal(b, b:clear())
      assert.are.equal(0, b:len())
      assert.are.equal(cap, b:capacity())
    end)
  end)

  describe("metamethods", function()
    it("__tostring gives the bytes", function()
      assert.are.equal("abc", tostring(buffer.new():append("abc")))
    end)

    it("__len gives the length", function()
      assert.are.equal(3, #buffer.new():append("abc"))
    end)

    it("__concat works on either side and gives a string", function()
      local b = buffer.new():append("b")
      assert.are.equal("abc", "a" .. b .. "c")
      assert.are.equal("b1", b .. 1)
      assert.are.equal("bb", b .. b)
    end)

    it("__concat rejects tables", function()
      assert.has_error(function() return buffer.new() .. {} end,
        "attempt to concatenate a table value with a runpod.Buffer")
    end)

    it("__eq compares the bytes", function()
      assert.is_true(buffer.new():append("ab") == buffer.new():append("a", "b"))
      assert.is_false(buffer.new():append("ab") == buffer.new():append("abc"))
      assert.is_true(buffer.new() == buffer.new())
    end)

    it("__tojson encodes the bytes as a JSON string", function()
      local b = buffer.new():append('say "hi"\n')
      assert.are.equal('{"b":"say \\"hi\\"\\n"}', json.encode({ b = b }))
      assert.are.equal('["x"]', json.encode({ buffer.new():append("x") }))
    end)

    it("__gc is idempotent", function()
      local b = buffer.new():append("abc")
      local gc = getmetatable(b).__gc
      gc(b)
      gc(b)
      assert.are.equal(0, #b)
      assert.are.equal("", b:tostring())
      b:append("again")
      assert.are.equal("again", b:tostring())
    end)

    it("names its metatable runpod.Buffer", function()
      assert.are.equal("runpod.Buffer", getmetatable(buffer.new()).__name)
    end)
  end)

  describe("handlers/buffer.lua", function()
    local level
    setup(function()
      level = runpod.log.get_level()
      runpod.log.set_level("ERROR")
    end)
    teardown(function() runpod.log.set_level(level) end)

    it("reverses a base64 payload through run_job", function()
      local config = runpod.serverless.load("handlers/buffer.lua")
      assert.are.same({ output = { size = 3, reversed = "AwIB", hex = "030201" } },
        runpod.serverless.run_job(config.handler, { id = "1", input = { data = "AQID" } }))
    end)

    it("fails on invalid base64", function()
      local config = runpod.serverless.load("handlers/buffer.lua")
      assert.are.same({ error = "input.data: invalid base64 at byte 4" },
        runpod.serverless.run_job(config.handler, { id = "1", input = { data = "AQIDBA=" } }))
    end)

    it("runs under bin/runpod-worker", function()
      local r = proc.worker_run({ "handlers/buffer.lua", "--test_input",
        '{"input": {"data": "AQIDBA=="}}' })
      assert.are.equal(0, r.code, r.stderr)
      assert.matches('Job result: {"output":', r.stdout, 1, true)
      local out = assert(json.decode(r.stdout:match("Job result: ([^\n]*)"))).output
      assert.are.same({ size = 4, reversed = "BAMCAQ==", hex = "04030201" }, out)
    end)
  end)
end)
