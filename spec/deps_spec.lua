-- make deps installs what the build and a handler need, make test what the
-- suites need on top (vendor/debian-packages.txt, vendor/test-packages.txt),
-- each only what is missing (vendor/install-packages).
local proc = require "helpers.proc"

local function names(list)
  local t = {}
  for l in io.lines(proc.root .. "/" .. list) do
    local name = l:match("^(%S+)")
    if name and not name:match("^#") then
      t[name] = true
    end
  end
  return t
end

-- argv as an unprivileged user when this runs as root.
local function unprivileged(argv)
  if proc.output_lines("id -u")[1] ~= "0" then
    return argv
  end
  local t = { "setpriv", "--reuid=65534", "--regid=65534", "--clear-groups" }
  for _, a in ipairs(argv) do
    t[#t + 1] = a
  end
  return t
end

describe("the package lists", function()
  it("keep the test tools out of what make deps installs", function()
    local build, tests = names("vendor/debian-packages.txt"), names("vendor/test-packages.txt")
    for _, p in ipairs { "chromium", "clang", "libclang-rt-14-dev", "valgrind", "wrk", "jq",
      "lua-busted", "lua-check", "luarocks" } do
      assert.is_nil(build[p], p)
      assert.is_true(tests[p], p)
    end
    for p in pairs(build) do
      assert.is_nil(tests[p], p .. " is in both lists")
    end
    for _, p in ipairs { "gcc", "libc6-dev", "make", "pkg-config", "lua5.4", "liblua5.4-dev",
      "lua-cjson", "libcurl4-openssl-dev", "libssl-dev", "libmicrohttpd-dev" } do
      assert.is_true(build[p], p)
    end
  end)

  it("are installed by make test itself, after what make deps installs", function()
    local r = proc.run({ "make", "-n", "test" })
    assert.are.equal(0, r.code, r.stderr)
    local deps = r.stdout:find("vendor/install-packages --no-install-recommends "
      .. "vendor/debian-packages.txt", 1, true)
    local tests = r.stdout:find("vendor/install-packages vendor/test-packages.txt", 1, true)
    assert.is_truthy(deps and tests and deps < tests, r.stdout)
    assert.is_truthy(tests < r.stdout:find("spec/run", 1, true))
  end)
end)

describe("vendor/install-packages", function()
  it("calls no apt and needs no root when every package is installed", function()
    local r = proc.run(unprivileged { "sh", "vendor/install-packages",
      "vendor/debian-packages.txt" })
    assert.are.equal(0, r.code, r.stdout .. r.stderr)
    assert.matches("vendor/debian-packages.txt: every package is installed", r.stdout, 1, true)
  end)

  it("names the missing packages when it cannot install them", function()
    local list = os.tmpname()
    proc.write_file(list, "# package  version  why\nmake  4.3  build\n"
      .. "runpod-lua-no-such-package  1  missing\n")
    os.execute("chmod 644 " .. proc.quote(list))
    local r = proc.run(unprivileged { "sh", "vendor/install-packages", list })
    os.remove(list)
    assert.are.equal(1, r.code, r.stdout .. r.stderr)
    assert.matches("missing Debian packages: runpod-lua-no-such-package\n", r.stderr, 1, true)
    assert.matches("sudo apt-get install runpod-lua-no-such-package", r.stderr, 1, true)
  end)
end)
