-- docs/configuration.md, --help and the man page against the code: the
-- tables are what `make docs` prints from runtime/base/settings.def, every
-- environment variable the code reads and every flag it accepts is in that
-- list, and only the list's reader calls getenv.
local proc = require "helpers.proc"

local keys = proc.sorted_keys

local function each_file(pattern)
  local files = proc.output_lines("cd " .. proc.quote(proc.root) .. " && ls " .. pattern)
  assert(#files > 0, "no file matches " .. pattern)
  for i, f in ipairs(files) do
    files[i] = proc.root .. "/" .. f
  end
  return files
end

local function missing(want, have)
  local t = {}
  for k in pairs(want) do
    if not have[k] then
      t[#t + 1] = k
    end
  end
  table.sort(t)
  return t
end

-- Variables the C runtime reads: the RP_ENV entries of settings.def,
-- getenv("X"), helpers named *env*("X", ...) and any literal that is
-- exactly a RUNPOD_* name (a name kept in a local before getenv(var)).
local function c_env_names()
  local names = {}
  for _, f in ipairs(each_file("runtime/*/*.c runtime/*/*.def")) do
    local src = proc.read_file(f)
    for name in src:gmatch("getenv%s*%(%s*\"([%w_]+)\"") do
      names[name] = f
    end
    for name in src:gmatch("[%w_]*env[%w_]*%s*%(%s*\"([%u%d_]+)\"") do
      names[name] = f
    end
    for name in src:gmatch("\"(RUNPOD_[%u%d_]+)\"") do
      names[name] = f
    end
  end
  return names
end

local function lua_env_names()
  local names = {}
  for _, f in ipairs(each_file("lua/runpod/*.lua lua/runpod/internal/*.lua")) do
    local src = proc.read_file(f)
    for _, name in src:gmatch("os%.getenv%s*%(?%s*([\"'])([%w_]+)%1") do
      names[name] = f
    end
  end
  return names
end

-- The flags of settings.def (args.c's parser is built from them): the
-- name and, when there is one, the alias.
local function parser_flags()
  local flags = {}
  local src = proc.read_file(proc.root .. "/runtime/base/settings.def")
  for args in src:gmatch("\nRP_FLAG(%b())") do
    local name, alias = args:match('^%([%w_]+,%s*"(%-[%w_%-]+)",%s*([^,]+),')
    flags[name] = true
    if alias ~= "NULL" then
      flags[alias:match('^"(.*)"$')] = true
    end
  end
  return flags
end

-- The part of a doc file between its BEGIN GENERATED and END GENERATED
-- lines, and what `runpod-worker --print-settings FORMAT` prints for it.
local function generated(path, format)
  local text = proc.read_file(proc.root .. "/" .. path)
  local part = text:match("BEGIN GENERATED[^\n]*\n(.-)[^\n]*END GENERATED")
  assert(part, path .. " has no BEGIN GENERATED ... END GENERATED part")
  local r = proc.worker_run { "--print-settings", format }
  assert.are.equal(0, r.code, r.stderr)
  return r.stdout, part
end

-- The names in the Settings table of docs/configuration.md.
local function documented()
  local flags, env = {}, {}
  local text = proc.read_file(proc.root .. "/docs/configuration.md")
  local section = text:match("\n## Settings\n(.-)\n## ")
  assert(section, "docs/configuration.md has no '## Settings' section")
  for row in section:gmatch("\n(|[^\n]*)") do
    local kind, name = row:match("^|%s*(%w+)%s*|%s*([^|]-)%s*|")
    if kind == "flag" then
      for f in name:gmatch("`(%-[%w_%-]+)") do
        flags[f] = true
      end
    elseif kind == "env" then
      for v in name:gmatch("`([%u%d_]+)`") do
        env[v] = true
      end
    end
  end
  return flags, env
end

local function help_flags()
  local r = proc.worker_run { "--help" }
  assert.are.equal(0, r.code)
  local flags = {}
  for f in (" " .. r.stdout):gmatch("[%s,(](%-%-?[%a][%w_]*)") do
    flags[f] = true
  end
  return flags
end

describe("docs/configuration.md", function()
  it("has the settings table make docs prints from settings.def", function()
    local want, have = generated("docs/configuration.md", "markdown")
    assert.are.equal(want, have, "run `make docs`")
  end)

  it("lists every environment variable runtime/*/*.c reads", function()
    local _, env = documented()
    assert.are.same({}, missing(c_env_names(), env))
  end)

  it("gives every environment variable a default and a meaning", function()
    local text = proc.read_file(proc.root .. "/docs/configuration.md")
    local section = assert(text:match("\n## Settings\n(.-)\n## "))
    local blank = {}
    for row in section:gmatch("\n(| env |[^\n]*)") do
      local name, default, meaning = row:match("^| env |%s*([^|]-)%s*|%s*([^|]-)%s*|%s*(.-)%s*|$")
      if not name or default == "" or meaning == "" then
        blank[#blank + 1] = name or row
      end
    end
    assert.are.same({}, blank)
  end)

  it("lists every environment variable lua/ reads", function()
    local _, env = documented()
    local names = lua_env_names()
    assert.is_truthy(names.RUNPOD_WEBHOOK_GET_JOB)
    assert.are.same({}, missing(names, env))
  end)

  it("lists exactly the flags the parser accepts", function()
    local flags = documented()
    assert.are.same(keys(parser_flags()), keys(flags))
  end)

  it("has the start keys and exit codes", function()
    local text = proc.read_file(proc.root .. "/docs/configuration.md")
    local src = proc.read_file(proc.root .. "/lua/runpod/serverless.lua")
    local known = src:match("local KNOWN_KEYS = (%b{})")
    for key in known:gmatch("\n%s*([%w_]+)%s*=") do
      assert.matches("| `" .. key .. "` |", text, 1, true)
    end
    local codes = proc.read_file(proc.root .. "/runtime/worker/exit.h")
    for code in codes:match("enum rp_exit {(.-)}"):gmatch("= (%d+)") do
      assert.matches("\n| " .. code .. " |", text, 1, true)
    end
  end)
end)

describe("runtime/*/*.c", function()
  it("reads the environment only in settings.c, at start", function()
    local readers = {}
    for _, f in ipairs(each_file("runtime/*/*.c")) do
      if proc.read_file(f):find("getenv%s*%(") then
        readers[#readers + 1] = f:match("[^/]+$")
      end
    end
    assert.are.same({ "settings.c" }, readers)
  end)
end)

describe("runpod-worker --help", function()
  it("lists exactly the flags the parser accepts", function()
    assert.are.same(keys(parser_flags()), keys(help_flags()))
  end)

  it("prints the version", function()
    local r = proc.worker_run { "--version" }
    assert.are.equal(0, r.code)
    assert.matches("^runpod%-worker %d+%.%d+%.%d+ %(runpod%-lua, Lua 5%.4%.%d+%)\n$", r.stdout)
  end)
end)

describe("the man page", function()
  local dest

  it("has the OPTIONS and ENVIRONMENT make docs prints", function()
    local want, have = generated("docs/runpod-worker.1", "man")
    assert.are.equal(want, have, "run `make docs`")
  end)

  setup(function()
    dest = proc.install()
  end)

  teardown(function()
    os.execute("rm -rf " .. proc.quote(dest))
  end)

  it("is installed and names every flag and variable", function()
    local page = dest .. "/usr/share/man/man1/runpod-worker.1"
    local text = proc.read_file(page):gsub("\\%-", "-")
    assert.matches("^%.\\\"", text)
    assert.matches("\n.TH RUNPOD-WORKER 1 ", text, 1, true)
    for _, f in ipairs(keys(parser_flags())) do
      assert.matches("%f[%w%-]" .. f:gsub("%-", "%%-") .. "%f[^%w_]", text)
    end
    for _, v in ipairs(keys(c_env_names())) do
      assert.matches(v, text, 1, true)
    end
  end)

  it("renders without warnings when man is available", function()
    if os.execute("command -v man >/dev/null 2>&1") ~= true then
      pending("man is not installed")
      return
    end
    -- man is C++: not with the sanitizer runtime `make check` preloads.
    local page = dest .. "/usr/share/man/man1/runpod-worker.1"
    local r = proc.run({ "env", "-u", "LD_PRELOAD", "man", "--warnings", "-l", page },
      { env = { MANWIDTH = "80", MANPAGER = "cat", PAGER = "cat" } })
    assert.are.equal(0, r.code, r.stderr)
    assert.are.equal("", r.stderr)
    assert.matches("runpod-worker", r.stdout, 1, true)
  end)
end)

-- The project stands alone: no file of it (docs, code comments, specs)
-- points at a document outside the repository.
describe("project docs", function()
  it("never send readers to DESIGN.md", function()
    local files = proc.output_lines("cd " .. proc.quote(proc.root)
      .. " && git ls-files README.md SECURITY.md docs handlers lua runtime"
      .. " spec bench Makefile | grep -v '^spec/docs_spec.lua$' | sort")
    assert.is_true(#files > 100, table.concat(files, " "))
    local mentions = {}
    for _, f in ipairs(files) do
      local n = 0
      for line in proc.read_file(proc.root .. "/" .. f):gmatch("[^\n]*") do
        n = n + 1
        if line:find("DESIGN.md", 1, true) then
          mentions[#mentions + 1] = f .. ":" .. n
        end
      end
    end
    assert.are.same({}, mentions)
  end)

  -- docs/architecture.md names every file of runtime/ outside tests/ (by
  -- its path under runtime/, or as a pair "x.c/.h"), and every runtime path
  -- it names exists: the map stays true to the tree. Module names
  -- (`runpod.http`) are not paths.
  it("has an architecture map true to runtime/", function()
    local doc = proc.read_file(proc.root .. "/docs/architecture.md")
    local files = proc.output_lines("cd " .. proc.quote(proc.root)
      .. " && git ls-files runtime | grep -v '^runtime/tests/' | sed 's#^runtime/##'")
    assert.is_true(#files > 60, table.concat(files, " "))
    local named = {}
    for layer, body in doc:gmatch("### (%a+)/[^\n]*\n(.-)\n\n") do
      for item in body:gmatch("`([%w_.,/ ]+)`") do
        for name in item:gmatch("[%w_./]+") do
          local base = name:match("^(.-)%.c/%.h$")
          if base then
            named[layer .. "/" .. base .. ".c"] = true
            named[layer .. "/" .. base .. ".h"] = true
          elseif name:find("%.%a+$") and not name:find("^runpod%.%a+$")
              and not name:find("^tests/") then
            named[(name:find("/") and name or layer .. "/" .. name)] = true
          end
        end
      end
    end
    local unnamed, stale = {}, {}
    for _, f in ipairs(files) do
      if not named[f] and f ~= "layers.sh" and f ~= "layers.allow" then
        unnamed[#unnamed + 1] = f
      end
    end
    local have = {}
    for _, f in ipairs(files) do
      have[f] = true
    end
    for f in pairs(named) do
      if not have[f] and not (f:match("%.c$") and have[f:gsub("%.c$", ".h")])
          and not (f:match("%.h$") and have[f:gsub("%.h$", ".c")]) then
        stale[#stale + 1] = f
      end
    end
    table.sort(stale)
    assert.are.same({}, unnamed)
    assert.are.same({}, stale)
  end)
end)
