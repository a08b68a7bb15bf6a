-- luacheck over every Lua file of the project (.luacheckrc): the library,
-- the handlers, the specs and the benchmarks stay warning-free.
local proc = require "helpers.proc"

describe("luacheck", function()
  it("reports no warning in lua/, handlers/, spec/ and bench/", function()
    local r = proc.run({ "luacheck", "--no-color", "--formatter", "plain",
      "lua", "handlers", "spec", "bench" }, { timeout = 120 })
    assert.are.equal(0, r.code, r.stdout .. r.stderr)
  end)
end)
