-- runpod.validate: the Python SDK's rp_validator rules and messages.
local runpod = require "runpod"
local proc = require "helpers.proc"

local validate = runpod.validate
local json = runpod.json

describe("runpod.validate", function()
  describe("validate()", function()
    it("returns the validated input with defaults filled in", function()
      local schema = {
        prompt = { type = "string", required = true },
        steps = { type = "integer", required = false, default = 20 },
      }
      assert.are.same({ validated_input = { prompt = "a cat", steps = 20 } },
        validate({ prompt = "a cat" }, schema))
    end)

    it("keeps a given optional value over the default", function()
      local schema = { steps = { type = "integer", required = false, default = 20 } }
      assert.are.same({ validated_input = { steps = 5 } }, validate({ steps = 5 }, schema))
    end)

    it("does not modify the input table", function()
      local input = {}
      validate(input, { n = { type = "integer", required = false, default = 1 } })
      assert.is_nil(input.n)
    end)

    it("reports unexpected keys", function()
      assert.are.same({ errors = { "Unexpected input. extra is not a valid input option." } },
        validate({ extra = 1 }, {}))
    end)

    it("reports a missing required key", function()
      assert.are.same({ errors = { "prompt is a required input." } },
        validate({}, { prompt = { type = "string", required = true } }))
    end)

    it("reports a rule without required as a required input, like Python", function()
      assert.are.same({ errors = { "prompt is a required input." } },
        validate({ prompt = "x" }, { prompt = { type = "string" } }))
    end)

    it("reports a missing type", function()
      assert.are.same({ errors = { "Schema error, missing type for n." } },
        validate({ n = 1 }, { n = { required = true } }))
    end)

    it("reports an optional key without default", function()
      assert.are.same({ errors = { "Schema error, missing default value for n." } },
        validate({}, { n = { type = "integer", required = false } }))
    end)

    it("reports a rule that is not a table", function()
      assert.are.same({ errors = { "Schema error, n is not a dictionary." } },
        validate({}, { n = 5 }))
    end)

    it("decodes a rule given as JSON text, like Python", function()
      assert.are.same({ validated_input = { n = 3 } },
        validate({ n = 3 }, { n = '{"type": "integer", "required": true}' }))
      assert.are.same({ errors = { "Schema error, n is not a dictionary." } },
        validate({}, { n = "{not json" }))
    end)

    it("reports a wrong type naming key, expected and actual type", function()
      assert.are.same({ errors = { "steps should be integer type, not string." } },
        validate({ steps = "5" }, { steps = { type = "integer", required = true } }))
      assert.are.same({ errors = { "steps should be integer type, not float." } },
        validate({ steps = 5.5 }, { steps = { type = "integer", required = true } }))
      assert.are.same({ errors = { "tags should be array type, not table." } },
        validate({ tags = { a = 1 } }, { tags = { type = "array", required = true } }))
      assert.are.same({ errors = { "opts should be table type, not array." } },
        validate({ opts = { 1, 2 } }, { opts = { type = "table", required = true } }))
    end)

    it("converts an integer to a float for a number rule", function()
      local v = validate({ g = 7 }, { g = { type = "number", required = true } })
      assert.are.equal("float", math.type(v.validated_input.g))
      assert.are.equal(7.0, v.validated_input.g)
    end)

    it("accepts Python's type names", function()
      local schema = {
        a = { type = "str", required = true }, b = { type = "int", required = true },
        c = { type = "float", required = true }, d = { type = "bool", required = true },
        e = { type = "dict", required = true }, f = { type = "list", required = true },
      }
      local v = validate({ a = "x", b = 1, c = 2, d = true, e = { k = 1 },
        f = json.array { 1 } }, schema)
      assert.is_nil(v.errors)
      assert.are.equal(2.0, v.validated_input.c)
    end)

    it("accepts a list of types", function()
      local schema = { v = { type = { "string", "integer" }, required = true } }
      assert.is_nil(validate({ v = 1 }, schema).errors)
      assert.are.same({ errors = { "v should be string or integer type, not boolean." } },
        validate({ v = true }, schema))
    end)

    it("reports an unknown type name", function()
      assert.are.same({ errors = { "Schema error, unknown type tuple for v." } },
        validate({ v = 1 }, { v = { type = "tuple", required = true } }))
    end)

    it("rejects json.null unless the default is json.null, like Python's None", function()
      assert.are.same({ errors = { "v should be string type, not null." } },
        validate({ v = json.null }, { v = { type = "string", required = true } }))
      assert.are.same({ errors = { "v should be integer type, not null." } },
        validate({ v = json.null }, { v = { type = "integer", required = false, default = 1 } }))
      assert.are.same({ validated_input = { v = json.null } },
        validate({ v = json.null }, { v = { type = "string", required = false,
          default = json.null } }))
      assert.are.same({ validated_input = { v = json.null } },
        validate({}, { v = { type = "string", required = false, default = json.null } }))
    end)

    it("accepts an integer beyond 64 bits as an integer, a float for a number rule", function()
      local input = json.decode('{"g": 123456789012345678901234567890, "h": -99999999999999999999}')
      local v = validate(input, { g = { type = "integer", required = true },
        h = { type = "number", required = true } })
      assert.is_nil(v.errors)
      assert.are.equal("123456789012345678901234567890", tostring(v.validated_input.g))
      assert.are.equal("float", math.type(v.validated_input.h))
      assert.are.equal(-1e20, v.validated_input.h)
      assert.are.same({ errors = { "g should be string type, not integer." } },
        validate(input, { g = { type = "string", required = true },
          h = { type = "float", required = true } }))
    end)

    it("keeps a decoded {} and [] apart, like isinstance", function()
      local input = json.decode('{"d": {}, "l": []}')
      assert.are.same({ errors = { "d should be array type, not table.",
        "l should be table type, not array." } },
        validate(input, { d = { type = "list", required = true },
          l = { type = "dict", required = true } }))
    end)

    it("accepts JSON arrays and objects decoded from a job", function()
      local input = json.decode('{"tags": [], "opts": {}}')
      assert.is_nil(validate(input, {
        tags = { type = "array", required = true },
        opts = { type = "table", required = true },
      }).errors)
    end)

    it("checks constraints", function()
      local schema = {
        steps = { type = "integer", required = true,
                  constraints = function(n) return n <= 100 end },
      }
      assert.is_nil(validate({ steps = 50 }, schema).errors)
      assert.are.same({ errors = { "steps does not meet the constraints." } },
        validate({ steps = 500 }, schema))
    end)

    it("treats a constraint that raises as not met", function()
      local schema = {
        n = { type = "integer", required = true, constraints = function(n) return n > 0 end },
      }
      assert.are.same({ errors = { "n is a required input.", "n does not meet the constraints." } },
        validate({}, schema))
    end)

    it("lists every error, keys in sorted order", function()
      local schema = {
        b = { type = "integer", required = true },
        a = { type = "string", required = true },
      }
      assert.are.same({ errors = {
        "Unexpected input. z is not a valid input option.",
        "a is a required input.",
        "b should be integer type, not string.",
      } }, validate({ b = "x", z = 1 }, schema))
    end)

    it("rejects arguments that are not tables", function()
      assert.has_error(function() validate("x", {}) end,
        "bad argument #1 to 'validate' (table expected, got string)")
      assert.has_error(function() validate({}, nil) end,
        "bad argument #2 to 'validate' (table expected, got nil)")
    end)
  end)

  describe("handlers/validate.lua", function()
    it("returns the validated input through bin/runpod-worker", function()
      local r = proc.worker_run({ "handlers/validate.lua", "--test_input",
        '{"input": {"prompt": "a cat", "guidance": 8}}' })
      assert.are.equal(0, r.code, r.stderr)
      local res = assert(json.decode(r.stdout:match("Job result: ([^\n]*)")))
      assert.are.same({ output = { prompt = "a cat", steps = 20, guidance = 8.0 } }, res)
    end)

    it("fails the job with the validation errors", function()
      local r = proc.worker_run({ "handlers/validate.lua", "--test_input",
        '{"input": {"steps": 500}}' })
      assert.are.equal(1, r.code)
      local res = assert(json.decode(r.stdout:match("Job result: ([^\n]*)")))
      assert.are.equal("prompt is a required input. steps does not meet the constraints.",
        res.error)
    end)
  end)
end)
