-- runpod.json under plain lua5.4 (the codec itself has C tests in
-- runtime/tests/test_json.c; these check the Lua face and lua-cjson
-- interplay).
local json = require("runpod").json

describe("runpod.json", function()
  describe("decode()", function()
    it("keeps integers exact and floats as floats", function()
      local v = json.decode('[9007199254740993, 1, 1.0, -0.5]')
      assert.are.equal(9007199254740993, v[1])
      assert.are.equal("integer", math.type(v[2]))
      assert.are.equal("float", math.type(v[3]))
      assert.are.equal(-0.5, v[4])
    end)

    it("marks arrays, so that [] and {} stay apart", function()
      local v = json.decode('{"a": [], "o": {}}')
      assert.are.equal(json.array_mt, getmetatable(v.a))
      assert.is_nil(getmetatable(v.o))
      assert.are.equal('[]', json.encode(v.a))
      assert.are.equal('{}', json.encode(v.o))
    end)

    it("decodes null to the sentinel lua-cjson uses", function()
      local cjson = require "cjson"
      assert.are.equal(cjson.null, json.decode("null"))
      assert.are.equal(json.null, cjson.null)
      assert.are.equal('{"a":null}', json.encode({ a = cjson.null }))
    end)

    it("returns nil and a message for invalid JSON", function()
      local v, err = json.decode('{"a": 1,}')
      assert.is_nil(v)
      assert.are.equal("invalid JSON at byte 8: expected string key", err)
    end)

    it("raises on a non-string argument", function()
      assert.has_error(function() json.decode(nil) end,
        "bad argument #1 to 'decode' (string expected, got nil)")
    end)
  end)

  describe("encode()", function()
    it("writes floats with a fraction and integers without", function()
      assert.are.equal('[5.0,5,0.1]', json.encode({ 5.0, 5, 0.1 }))
    end)

    it("writes an array marked with json.array even when empty", function()
      assert.are.equal('[]', json.encode(json.array {}))
      assert.are.equal('[]', json.encode(json.empty_array))
      assert.are.equal('{}', json.encode({}))
    end)

    it("names the key path of a value it cannot encode", function()
      local v, err = json.encode({ list = { 1, { f = print } } })
      assert.is_nil(v)
      assert.are.equal("cannot encode function at value.list[2].f", err)
    end)

    it("refuses NaN and infinity", function()
      assert.are.equal("cannot encode NaN at value", select(2, json.encode(0 / 0)))
      assert.matches("cannot encode inf", select(2, json.encode(math.huge)))
    end)

    it("refuses cycles but accepts shared tables", function()
      local shared = { 1 }
      assert.are.equal('[[1],[1]]', json.encode({ shared, shared }))
      local t = {}
      t[1] = t
      assert.matches("cycle at value%[1%]", select(2, json.encode(t)))
    end)

    it("round-trips what it decodes", function()
      local text = '{"s":"\\u00e9\\n","n":[1,2.5,null,true],"e":[],"o":{}}'
      local v = json.decode(text)
      assert.are.same(v, json.decode(json.encode(v)))
    end)
  end)
end)
