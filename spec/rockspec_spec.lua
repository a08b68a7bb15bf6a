-- runpod-lua-0.1.0-1.rockspec: parses as Lua and lists every module.
local proc = require "helpers.proc"

local ROCKSPEC = proc.root .. "/runpod-lua-0.1.0-1.rockspec"

local function load_rockspec()
  local env = {}
  local chunk = assert(loadfile(ROCKSPEC, "t", env))
  chunk()
  return env
end

local lines_of = proc.output_lines

describe("the rockspec", function()
  it("names the package and version in its file name", function()
    local spec = load_rockspec()
    assert.are.equal("runpod-lua", spec.package)
    assert.are.equal("0.1.0-1", spec.version)
    assert.are.equal("builtin", spec.build.type)
  end)

  it("lists every lua/runpod/{,internal/}*.lua under its module name, and no other", function()
    local modules = load_rockspec().build.modules
    local files = lines_of("cd " .. proc.quote(proc.root)
      .. " && ls lua/runpod/*.lua lua/runpod/internal/*.lua")
    assert.is_true(#files > 0)
    assert.is_truthy(modules["runpod.internal.runner"])
    local listed = {}
    for _, file in ipairs(files) do
      local name = file:match("^lua/(.+)%.lua$"):gsub("/init$", ""):gsub("/", ".")
      assert.are.equal(file, modules[name], name)
      listed[name] = true
    end
    for name, source in pairs(modules) do
      assert.is_true(type(source) ~= "string" or listed[name], name .. " has no file")
    end
  end)

  it("builds runpod.core from the Makefile's CORE_SRC", function()
    local make = proc.read_file(proc.root .. "/Makefile")
    local block = make:match("\nCORE_SRC = (.-[^\\])\n")
    local want = {}
    for src in block:gmatch("runtime/[%w_/]+%.c") do
      want[#want + 1] = src
    end
    assert.is_true(#want > 0, "no runtime/ sources in CORE_SRC")
    local got = load_rockspec().build.modules["runpod.core"].sources
    table.sort(want)
    table.sort(got)
    assert.are.same(want, got)
  end)

  -- `luarocks make` of a copy of the sources into a fresh tree, then a
  -- handler under plain lua5.4 with only that tree on its paths.
  local have_luarocks = os.execute("command -v luarocks >/dev/null 2>&1") == true
  local it_luarocks = have_luarocks and it or pending
  it_luarocks("installs with luarocks make, and a handler runs from the tree", function()
    local src, tree = proc.tmpdir(), proc.tmpdir()
    finally(function() os.execute("rm -rf " .. proc.quote(src) .. " " .. proc.quote(tree)) end)
    local r = proc.run({ "cp", "-R", proc.root .. "/lua", proc.root .. "/runtime",
      proc.root .. "/docs", ROCKSPEC, src })
    assert.are.equal(0, r.code, r.stderr)
    local arch = lines_of("gcc -print-multiarch")[1]
    r = proc.run({ "env", "-u", "LD_PRELOAD", "luarocks", "--lua-version=5.4", "--tree=" .. tree,
      "make", "runpod-lua-0.1.0-1.rockspec", "CURL_INCDIR=/usr/include/" .. arch,
      "CURL_LIBDIR=/usr/lib/" .. arch, "CRYPTO_LIBDIR=/usr/lib/" .. arch },
      { cwd = src, timeout = 600 })
    assert.are.equal(0, r.code, r.stdout .. r.stderr)
    local share, lib = tree .. "/share/lua/5.4", tree .. "/lib/lua/5.4"
    r = proc.run({ "env", "-u", "LD_PRELOAD", "lua5.4", "-e",
      "print(package.searchpath('runpod', package.path), "
        .. "package.searchpath('runpod.core', package.cpath))",
      proc.root .. "/handlers/echo.lua", "--test_input", '{"input": 7}' }, { env = {
        LUA_PATH = share .. "/?.lua;" .. share .. "/?/init.lua",
        LUA_CPATH = lib .. "/?.so" } })
    assert.are.equal(0, r.code, r.stdout .. r.stderr)
    assert.matches(share .. "/runpod/init.lua\t" .. lib .. "/runpod/core.so", r.stdout, 1, true)
    assert.matches('Job result: {"output":{"echo":7}}', r.stdout, 1, true)
    -- A script that ends while an extraction runs on its thread: lua_close
    -- cancels it, and would unload core.so (a luarocks build has no -z
    -- nodelete) under the thread still running its code; the module keeps
    -- itself loaded, and the exit waits until the folder is removed. Five
    -- times: the thread crashed in some runs only.
    if os.execute("command -v python3 >/dev/null 2>&1") ~= true then
      return
    end
    r = proc.run({ "python3", "-c", [[
import sys, zipfile
with zipfile.ZipFile(sys.argv[1], "w", zipfile.ZIP_DEFLATED) as z:
    for i in range(20000):
        z.writestr("d%d/f%d.txt" % (i % 10, i), "x")
]], src .. "/many.zip" })
    assert.are.equal(0, r.code, r.stderr)
    for _ = 1, 5 do
      r = proc.run({ "env", "-u", "LD_PRELOAD", "lua5.4", "-e", ([[
        local core = require "runpod.core"
        op = core.unzip_start(%q, %q)
        repeat core.sleep(0.002) until io.open(%q)
        io.write("started\n")]]):format(src .. "/many.zip", src .. "/out",
          src .. "/out/d0/f0.txt") }, { env = {
          LUA_PATH = share .. "/?.lua;" .. share .. "/?/init.lua",
          LUA_CPATH = lib .. "/?.so" }, timeout = 60 })
      assert.are.equal(0, r.code, r.stdout .. r.stderr)
      assert.are.equal("started\n", r.stdout)
      assert.is_false(os.execute("test -e " .. proc.quote(src .. "/out")) == true)
    end
  end)
end)
