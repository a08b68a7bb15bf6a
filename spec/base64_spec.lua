-- runpod.base64 and runpod.hex (runtime/base/codec.c through runtime/lua/lbuffer.c).
local runpod = require "runpod"

local base64, hex, buffer = runpod.base64, runpod.hex, runpod.buffer

-- RFC 4648 section 10.
local VECTORS = {
  { "", "" }, { "f", "Zg==" }, { "fo", "Zm8=" }, { "foo", "Zm9v" },
  { "foob", "Zm9vYg==" }, { "fooba", "Zm9vYmE=" }, { "foobar", "Zm9vYmFy" },
}

local function random_bytes(n)
  local t = {}
  for i = 1, n do
    t[i] = string.char(math.random(0, 255))
  end
  return table.concat(t)
end

describe("runpod.base64", function()
  describe("encode()", function()
    it("matches the RFC 4648 test vectors", function()
      for _, v in ipairs(VECTORS) do
        assert.are.equal(v[2], base64.encode(v[1]))
      end
    end)

    it("encodes a buffer", function()
      assert.are.equal("Zm9vYmFy", base64.encode(buffer.new():append("foobar")))
    end)

    it("uses the standard alphabet", function()
      assert.are.equal("+/8=", base64.encode("\251\255"))
    end)

    it("rejects other types", function()
      assert.has_error(function() base64.encode(12) end,
        "bad argument #1 to 'encode' (string or runpod.Buffer expected, got number)")
      assert.has_error(function() base64.encode() end,
        "bad argument #1 to 'encode' (string or runpod.Buffer expected, got no value)")
    end)
  end)

  describe("decode()", function()
    it("matches the RFC 4648 test vectors", function()
      for _, v in ipairs(VECTORS) do
        assert.are.equal(v[1], base64.decode(v[2]))
      end
    end)

    it("decodes a buffer", function()
      assert.are.equal("foobar", base64.decode(buffer.new():append("Zm9vYmFy")))
    end)

    -- Each case: input, offset of the offending byte (0-based).
    local INVALID = {
      { "Zg", 0, "missing padding" },
      { "Zm9vYg=", 4, "truncated padding" },
      { "Zm9v\nYmFy", 4, "a newline" },
      { "Zm9v YmFy", 4, "a space" },
      { " Zm9v", 0, "leading whitespace" },
      { "Zm9vYmFy\n", 8, "a trailing newline" },
      { "Zm9-", 3, "the URL-safe alphabet" },
      { "Zm9_", 3, "the URL-safe alphabet" },
      { "Z===", 1, "padding too early" },
      { "Zg=A", 3, "data after padding" },
      { "Zg==Zm9v", 2, "padding inside" },
      { "Zh==", 1, "non-zero unused bits" },
      { "Zm9=", 2, "non-zero unused bits" },
      { "Zm9v\0YmF", 4, "a NUL byte" },
      { "Zm9v\200YmF", 4, "a non-ASCII byte" },
    }
    for _, case in ipairs(INVALID) do
      it("rejects " .. case[3] .. " (" .. ("%q"):format(case[1]) .. ")", function()
        local s, err = base64.decode(case[1])
        assert.is_nil(s)
        assert.are.equal("invalid base64 at byte " .. case[2], err)
      end)
    end

    it("round-trips random binary of every length up to 200", function()
      math.randomseed(7)
      for n = 0, 200 do
        local s = random_bytes(n)
        local enc = base64.encode(s)
        assert.are.equal(4 * math.ceil(n / 3), #enc)
        assert.are.equal(s, base64.decode(enc))
      end
    end)

    it("round-trips 1 MB of random binary", function()
      local s = random_bytes(1 << 16):rep(16)
      assert.are.equal(s, base64.decode(base64.encode(s)))
    end)
  end)

  describe("buffer.from_base64()", function()
    it("decodes into a buffer", function()
      local b = assert(buffer.from_base64("Zm9vYmE="))
      assert.is_true(buffer.is(b))
      assert.are.equal("fooba", b:tostring())
    end)

    it("returns nil and the message on invalid input", function()
      local b, err = buffer.from_base64("Zm9v!")
      assert.is_nil(b)
      assert.are.equal("invalid base64 at byte 4", err)
    end)
  end)
end)

describe("runpod.hex", function()
  describe("encode()", function()
    it("writes lowercase", function()
      assert.are.equal("00017f80ff", hex.encode("\0\1\127\128\255"))
      assert.are.equal("", hex.encode(""))
    end)
  end)

  describe("decode()", function()
    it("takes either case", function()
      assert.are.equal("\171\205\239", hex.decode("abCDeF"))
    end)

    it("rejects a non-hex digit", function()
      local s, err = hex.decode("0g")
      assert.is_nil(s)
      assert.are.equal("invalid hex at byte 1", err)
    end)

    it("rejects an odd length", function()
      assert.are.same({ nil, "invalid hex at byte 2" }, { hex.decode("abc") })
    end)

    it("rejects whitespace", function()
      assert.are.same({ nil, "invalid hex at byte 2" }, { hex.decode("ab cd") })
    end)

    it("round-trips random binary", function()
      for n = 0, 100 do
        local s = random_bytes(n)
        assert.are.equal(s, hex.decode(hex.encode(s)))
      end
    end)
  end)

  describe("buffer.from_hex()", function()
    it("decodes into a buffer", function()
      assert.are.equal("\1\2", buffer.from_hex("0102"):tostring())
      assert.are.same({ nil, "invalid hex at byte 0" }, { buffer.from_hex("x1") })
    end)
  end)
end)
