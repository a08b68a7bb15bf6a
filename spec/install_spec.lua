-- `make install DESTDIR=...` into a fresh folder: the installed binary
-- runs a handler, and plain lua5.4 finds the installed module.
local proc = require "helpers.proc"

describe("make install", function()
  local dest

  setup(function()
    dest = proc.install()
  end)

  teardown(function()
    os.execute("rm -rf " .. proc.quote(dest))
  end)

  it("lays out the standard Lua 5.4 tree", function()
    for _, path in ipairs { "/usr/bin/runpod-worker", "/usr/lib/lua/5.4/runpod/core.so",
      "/usr/share/lua/5.4/runpod/init.lua", "/usr/share/lua/5.4/runpod/serverless.lua",
      "/usr/include/runpod.h" } do
      assert.is_truthy(io.open(dest .. path), path)
    end
  end)

  it("installs a binary that runs a handler on its own", function()
    local r = proc.run({ dest .. "/usr/bin/runpod-worker", "handlers/echo.lua", "--test_input",
      '{"input": 5}' })
    assert.are.equal(0, r.code)
    assert.matches('Job result: {"output":{"echo":5}}', r.stdout, 1, true)
  end)

  it("installs a module that plain lua5.4 loads", function()
    local r = proc.run({ "lua5.4", "handlers/echo.lua", "--test_input", '{"input": 6}' }, {
      env = {
        LUA_PATH = dest .. "/usr/share/lua/5.4/?.lua;" .. dest .. "/usr/share/lua/5.4/?/init.lua",
        LUA_CPATH = dest .. "/usr/lib/lua/5.4/?.so",
      },
    })
    assert.are.equal(0, r.code, r.stdout .. r.stderr)
    assert.matches('Job result: {"output":{"echo":6}}', r.stdout, 1, true)
  end)
end)
