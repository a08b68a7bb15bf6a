-- The Lua code blocks of README.md and docs/*.md run as written. Each
-- ```lua block is one of:
--   a busted spec (it calls describe): run by busted in a copy of
--     handlers/template/, where handlers/ is this checkout's;
--   a handler script (it calls runpod.serverless.start): run by
--     bin/runpod-worker with --test_input, exit 0 expected;
--   a library snippet (anything else): run by lua5.4 with the module on the
--     paths, `runpod` and a `job` table in scope, inside a function (so it
--     may `return`); a returned table with an `error` fails it.
-- An HTML comment on the line before the fence changes that:
--   <!-- job: {"id": "j", "input": {...}} -->   the job the block gets
--   <!-- fragment: why -->                      not run (shows one piece)
-- An unmarked block that fails is a test failure. The README's recipe for
-- plain lua5.4 is run as written, in an empty environment.
local proc = require "helpers.proc"
local json = require("runpod").json

local DEFAULT_JOB = '{"id": "doc", "input": {"x": 1}}'

-- blocks() -> list of { file, line, code, marker = nil | "fragment" | "job", arg }
local function blocks()
  local files = proc.output_lines("cd " .. proc.quote(proc.root) .. " && ls README.md docs/*.md")
  local list = {}
  for _, file in ipairs(files) do
    local lines = {}
    for line in (proc.read_file(proc.root .. "/" .. file) .. "\n"):gmatch("(.-)\n") do
      lines[#lines + 1] = line
    end
    local i = 1
    while i <= #lines do
      if lines[i] == "```lua" then
        local b = { file = file, line = i }
        local before = lines[i - 1] or ""
        local kind, arg = before:match("^<!%-%- (%a+):%s*(.-)%s*%-%->$")
        b.marker, b.arg = kind, arg
        local code = {}
        i = i + 1
        while lines[i] and lines[i] ~= "```" do
          code[#code + 1] = lines[i]
          i = i + 1
        end
        b.code = table.concat(code, "\n") .. "\n"
        list[#list + 1] = b
      end
      i = i + 1
    end
  end
  return list
end

local function kind_of(b)
  if b.marker == "fragment" then
    return "fragment"
  elseif b.code:find("describe(", 1, true) then
    return "spec"
  elseif b.code:find("runpod.serverless.start", 1, true) then
    return "handler"
  end
  return "snippet"
end

local function module_paths()
  return {
    LUA_PATH = proc.root .. "/lua/?.lua;" .. proc.root .. "/lua/?/init.lua;;",
    LUA_CPATH = proc.root .. "/" .. (os.getenv("RP_BUILD") or "build") .. "/lib/?.so;;",
  }
end

-- run(b, dir) -> result of proc.run for the block, run in dir.
local function run(b, dir)
  local job = b.marker == "job" and b.arg or DEFAULT_JOB
  local kind = kind_of(b)
  if kind == "spec" then
    proc.write_file(dir .. "/spec/doc_spec.lua", b.code)
    return proc.run({ "lua5.4", "/usr/bin/busted", "spec/doc_spec.lua" },
      { cwd = dir, env = module_paths() })
  elseif kind == "handler" then
    proc.write_file(dir .. "/doc_handler.lua", b.code)
    return proc.worker_run({ "doc_handler.lua", "--test_input", job }, { cwd = dir })
  end
  proc.write_file(dir .. "/doc_snippet.lua", table.concat {
    'local runpod = require "runpod"\n',
    "local job = runpod.json.decode(os.getenv('DOC_JOB'))\n",
    "local function example()\n", b.code, "end\n",
    "local r = example()\n",
    "assert(not (type(r) == 'table' and r.error), r and r.error)\n",
    "print('Result: ' .. runpod.json.encode(r))\n",
  })
  local env = module_paths()
  env.DOC_JOB = job
  return proc.lua_run({ "doc_snippet.lua" }, { cwd = dir, env = env })
end

describe("docs examples", function()
  local all = blocks()
  local counts = { spec = 0, handler = 0, snippet = 0, fragment = 0 }
  for _, b in ipairs(all) do
    local kind = kind_of(b)
    counts[kind] = counts[kind] + 1
    if kind ~= "fragment" then
      it(("%s:%d runs as a %s"):format(b.file, b.line, kind), function()
        local dir = proc.tmpdir()
        finally(function() os.execute("rm -rf " .. proc.quote(dir)) end)
        assert(proc.run({ "cp", "-R", proc.root .. "/handlers/template/.", dir }).code == 0)
        assert(proc.run({ "ln", "-s", proc.root .. "/handlers", dir .. "/handlers" }).code == 0)
        local r = run(b, dir)
        assert.are.equal(0, r.code, b.code .. "\n--\n" .. r.stdout .. r.stderr)
      end)
    end
  end

  it("finds the blocks, and gives a reason for each fragment", function()
    assert.is_true(#all >= 10, "only " .. #all .. " lua blocks found")
    for _, b in ipairs(all) do
      if b.marker == "fragment" then
        assert.is_true(#b.arg > 0, b.file .. ":" .. b.line .. " fragment without a reason")
      end
      if b.marker == "job" then
        assert.is_table(json.decode(b.arg), b.file .. ":" .. b.line .. " job is not JSON")
      end
    end
    print(("\ndocs examples: %d lua blocks, %d run (%d specs, %d handlers, %d snippets), "
      .. "%d fragments"):format(#all, #all - counts.fragment, counts.spec, counts.handler,
      counts.snippet, counts.fragment))
  end)

  it("runs the README's plain-Lua recipe as written, in an empty environment", function()
    -- The recipe uses the default build (bin/, build/lib/), which make check
    -- does not build; make test runs this.
    local build = os.getenv("RP_BUILD") or "build"
    if build ~= "build" then
      pending("the README recipe runs against the default build (make test), not " .. build)
      return
    end
    local readme = proc.read_file(proc.root .. "/README.md")
    local recipe
    for block in readme:gmatch("```sh\n(.-)```") do
      if block:find("lua5.4 handlers/echo.lua", 1, true) then
        recipe = block
      end
    end
    assert.is_string(recipe, "README.md has no sh block running lua5.4 handlers/echo.lua")
    local r = proc.run({ "env", "-i", "PATH=/usr/local/bin:/usr/bin:/bin",
      "HOME=" .. (os.getenv("HOME") or "/tmp"), "sh", "-ec", recipe })
    assert.are.equal(0, r.code, recipe .. "\n--\n" .. r.stdout .. r.stderr)
    local results = {}
    for body in r.stdout:gmatch("Job result: ([^\n]*)") do
      results[#results + 1] = json.decode(body)
    end
    assert.are.same({ { output = { echo = { x = 1 } } }, { output = { echo = { x = 1 } } } },
      results)
  end)
end)
