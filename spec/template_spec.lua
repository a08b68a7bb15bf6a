-- handlers/template: copied to a fresh folder, it runs with the installed
-- binary (picking up ./test_input.json) and its busted spec passes with
-- only the installed module on the Lua paths.
local proc = require "helpers.proc"

describe("handlers/template", function()
  local dest, work

  setup(function()
    dest = proc.install()
    work = proc.tmpdir()
    local r = proc.run({ "cp", "-R", proc.root .. "/handlers/template/.", work })
    assert.are.equal(0, r.code, r.stderr)
  end)

  teardown(function()
    os.execute("rm -rf " .. proc.quote(dest) .. " " .. proc.quote(work))
  end)

  -- The installed tree first; the defaults after it (";;") only so that
  -- busted itself is found. The spec below checks where runpod comes from.
  local function installed_paths()
    local share, lib = dest .. "/usr/share/lua/5.4/", dest .. "/usr/lib/lua/5.4/"
    return {
      LUA_PATH = share .. "?.lua;" .. share .. "?/init.lua;;",
      LUA_CPATH = lib .. "?.so;;",
    }
  end

  it("has the files the README names", function()
    for _, f in ipairs { "handler.lua", "test_input.json", "spec/handler_spec.lua",
      "README.md", "Dockerfile" } do
      assert.is_truthy(io.open(work .. "/" .. f), f)
    end
  end)

  it("runs ./test_input.json with the installed binary", function()
    local r = proc.run({ dest .. "/usr/bin/runpod-worker", "handler.lua" }, { cwd = work })
    assert.are.equal(0, r.code, r.stdout .. r.stderr)
    assert.matches("Using test_input.json", r.stdout, 1, true)
    assert.matches('Job result: {"output":{', r.stdout, 1, true)
    assert.matches('"text":"hello from a"', r.stdout, 1, true)
  end)

  it("runs under plain lua5.4 with the installed module", function()
    local r = proc.run({ "lua5.4", "handler.lua" }, { cwd = work, env = installed_paths() })
    assert.are.equal(0, r.code, r.stdout .. r.stderr)
    assert.matches('"text":"hello from a"', r.stdout, 1, true)
  end)

  it("passes its busted spec with the installed module", function()
    local where = proc.run({ "lua5.4", "-e", "print(package.searchpath('runpod', package.path),"
      .. " package.searchpath('runpod.core', package.cpath))" },
      { cwd = work, env = installed_paths() })
    assert.are.equal(dest .. "/usr/share/lua/5.4/runpod/init.lua\t"
      .. dest .. "/usr/lib/lua/5.4/runpod/core.so\n", where.stdout)
    local r = proc.run({ "lua5.4", "/usr/bin/busted", "-o", "TAP", "spec/" },
      { cwd = work, env = installed_paths(), timeout = 120 })
    assert.are.equal(0, r.code, r.stdout .. r.stderr)
    assert.matches("\n1..4", r.stdout, 1, true)
    assert.not_matches("not ok", r.stdout, 1, true)
  end)

  it("fails a job with invalid input", function()
    local r = proc.run({ dest .. "/usr/bin/runpod-worker", "handler.lua", "--test_input",
      '{"input": {"prompt": 5}}' }, { cwd = work })
    assert.are.equal(1, r.code, r.stdout .. r.stderr)
    assert.matches("prompt must be a non-empty string", r.stdout .. r.stderr, 1, true)
  end)
end)
