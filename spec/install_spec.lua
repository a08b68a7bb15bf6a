-- `make install DESTDIR=...` into a fresh folder: the installed binary
-- runs a handler, and plain lua5.4 finds the installed module;
-- `make uninstall` takes back exactly what it put there.
local proc = require "helpers.proc"

local function make_uninstall(dest)
  return proc.run({ "make", "-s", "uninstall", "PREFIX=/usr", "DESTDIR=" .. dest },
    { timeout = 60 })
end

-- Every path under dir, relative to it, sorted.
local function tree(dir)
  local t = {}
  local cmd = "cd " .. proc.quote(dir) .. " && find . -mindepth 1 | sort"
  for _, l in ipairs(proc.output_lines(cmd)) do
    t[#t + 1] = l:sub(3)
  end
  return t
end

describe("make install", function()
  local dest

  setup(function()
    dest = proc.install()
  end)

  teardown(function()
    os.execute("rm -rf " .. proc.quote(dest))
  end)

  it("lays out the standard Lua 5.4 tree", function()
    for _, path in ipairs { "/usr/bin/runpod-worker", "/usr/bin/runpod-emulator",
      "/usr/lib/lua/5.4/runpod/core.so",
      "/usr/share/lua/5.4/runpod/init.lua", "/usr/share/lua/5.4/runpod/serverless.lua",
      "/usr/share/lua/5.4/runpod/internal/runner.lua",
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

  it("installs runpod-emulator, which runs", function()
    local r = proc.run({ dest .. "/usr/bin/runpod-emulator", "--help" })
    assert.are.equal(0, r.code, r.stdout .. r.stderr)
    assert.matches("runpod-emulator", r.stdout .. r.stderr, 1, true)
  end)
end)

describe("make uninstall", function()
  it("leaves no folder behind that make install created", function()
    local dest = proc.install()
    local r = make_uninstall(dest)
    assert.are.equal(0, r.code, r.stdout .. r.stderr)
    assert.are.same({}, tree(dest))
    os.execute("rm -rf " .. proc.quote(dest))
  end)

  it("keeps folders that were there before and files it did not install", function()
    local dest = proc.tmpdir()
    assert.is_true(os.execute("mkdir -p " .. proc.quote(dest .. "/usr/share/lua/5.4/other")
      .. " " .. proc.quote(dest .. "/usr/lib/lua/5.4") .. " " .. proc.quote(dest .. "/usr/bin")))
    proc.write_file(dest .. "/usr/share/lua/5.4/other/init.lua", "return {}\n")
    proc.write_file(dest .. "/usr/bin/tool", "#!/bin/sh\n")
    proc.install(dest)
    local r = make_uninstall(dest)
    assert.are.equal(0, r.code, r.stdout .. r.stderr)
    -- usr/lib/lua/5.4 was there before, empty: it stays.
    assert.are.same({ "usr", "usr/bin", "usr/bin/tool", "usr/lib", "usr/lib/lua", "usr/lib/lua/5.4",
      "usr/share", "usr/share/lua", "usr/share/lua/5.4", "usr/share/lua/5.4/other",
      "usr/share/lua/5.4/other/init.lua" }, tree(dest))
    os.execute("rm -rf " .. proc.quote(dest))
  end)
end)
