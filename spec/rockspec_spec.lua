-- runpod-lua-0.1.0-1.rockspec: parses as Lua and lists every module.
local proc = require "helpers.proc"

local ROCKSPEC = proc.root .. "/runpod-lua-0.1.0-1.rockspec"

local function load_rockspec()
  local env = {}
  local chunk = assert(loadfile(ROCKSPEC, "t", env))
  chunk()
  return env
end

local function lines_of(cmd)
  local p = assert(io.popen(cmd))
  local t = {}
  for line in p:lines() do
    t[#t + 1] = line
  end
  p:close()
  return t
end

describe("the rockspec", function()
  it("names the package and version in its file name", function()
    local spec = load_rockspec()
    assert.are.equal("runpod-lua", spec.package)
    assert.are.equal("0.1.0-1", spec.version)
    assert.are.equal("builtin", spec.build.type)
  end)

  it("lists every lua/runpod/*.lua under its module name", function()
    local modules = load_rockspec().build.modules
    local files = lines_of("cd " .. proc.quote(proc.root) .. " && ls lua/runpod/*.lua")
    assert.is_true(#files > 0)
    for _, file in ipairs(files) do
      local name = file:match("^lua/(.+)%.lua$"):gsub("/init$", ""):gsub("/", ".")
      assert.are.equal(file, modules[name], name)
    end
  end)

  it("builds runpod.core from the Makefile's CORE_SRC", function()
    local make = proc.read_file(proc.root .. "/Makefile")
    local block = make:match("\nCORE_SRC = (.-[^\\])\n")
    local want = {}
    for src in block:gmatch("runtime/[%w_]+%.c") do
      want[#want + 1] = src
    end
    local got = load_rockspec().build.modules["runpod.core"].sources
    table.sort(want)
    table.sort(got)
    assert.are.same(want, got)
  end)
end)
