-- The Dockerfile, checked without Docker: its runtime stage installs
-- exactly the packages the binary links (vendor/runtime-packages.txt), and
-- its build stage runs the make targets CI runs on the files it copies.
local proc = require "helpers.proc"

local lines = proc.output_lines
local sorted_keys = proc.sorted_keys

-- Every installed package with its priority, Essential flag and
-- dependencies, from the dpkg database.
local function dpkg_db()
  local db = {}
  for _, l in ipairs(lines("dpkg-query -W -f='${Package}\\t${Priority}\\t${Essential}\\t"
      .. "${Pre-Depends}, ${Depends}\\n'")) do
    local name, prio, ess, deps = l:match("^([^\t]*)\t([^\t]*)\t([^\t]*)\t([^\t]*)$")
    if name then
      db[name] = { prio = prio, essential = ess == "yes", deps = deps }
    end
  end
  return db
end

-- What debian:bookworm-slim already holds (debootstrap's minbase): the
-- Essential and Priority: required packages, apt, and all they (pre-)depend
-- on, transitively; of "a | b" the first installed alternative.
local function base_packages(db)
  local base, todo = {}, {}
  local function add(n)
    if db[n] and not base[n] then
      base[n] = true
      todo[#todo + 1] = n
    end
  end
  for n, d in pairs(db) do
    if d.prio == "required" or d.essential then
      add(n)
    end
  end
  add("apt")
  while #todo > 0 do
    local n = table.remove(todo)
    for alt in db[n].deps:gmatch("[^,]+") do
      for cand in alt:gmatch("[^|]+") do
        local name = cand:match("^%s*([%w%.%+%-]+)")
        if name and db[name] then
          add(name)
          break
        end
      end
    end
  end
  return base
end

local function owner(path)
  for _, p in ipairs { path, "/usr" .. path, (path:gsub("^/usr", "")) } do
    local l = lines("dpkg -S " .. proc.quote(p) .. " 2>/dev/null")[1]
    if l then
      return l:match("^([^:]+)")
    end
  end
  return nil
end

-- Sanitizer runtimes show up under `make check` only; they are no part of
-- the shipped binary.
local SANITIZER = { ["libasan8"] = true, ["libubsan1"] = true, ["liblsan0"] = true }

local function listed_packages()
  local libs, extra = {}, {}
  for l in io.lines(proc.root .. "/vendor/runtime-packages.txt") do
    local name = l:match("^(%S+)")
    if name and not name:match("^#") then
      if l:find("(not linked)", 1, true) then
        extra[name] = true
      else
        libs[name] = true
      end
    end
  end
  return libs, extra
end

local BUILD = os.getenv("RP_BUILD") or "build"

describe("vendor/runtime-packages.txt", function()
  it("is exactly the non-base packages of the libraries the binary links", function()
    if not io.open("/var/lib/dpkg/status") then
      pending("needs dpkg")
      return
    end
    local db = dpkg_db()
    local base = base_packages(db)
    assert.is_true(base["libc6"] and base["apt"] and true)
    local need, unknown = {}, {}
    local objects = proc.quote(proc.worker) .. " " .. proc.quote(BUILD .. "/lib/runpod/core.so")
    for _, so in ipairs(lines("cd " .. proc.quote(proc.root) .. " && ldd " .. objects
        .. " | awk '/=> \\// {print $3}' | sort -u")) do
      local pkg = owner(so)
      if not pkg then
        unknown[#unknown + 1] = so
      elseif not base[pkg] and not SANITIZER[pkg] then
        need[pkg] = true
      end
    end
    assert.are.same({}, unknown)
    local listed = listed_packages()
    assert.are.same(sorted_keys(need), sorted_keys(listed))
  end)
end)

-- Dockerfile: stages, each a list of { instr = "RUN", args = "..." },
-- with continuation lines joined.
local function parse_dockerfile(path)
  local stages, cur, pending_line = {}, nil, nil
  for raw in io.lines(path) do
    local l = raw
    if pending_line then
      l = pending_line .. " " .. l
      pending_line = nil
    end
    if l:match("\\%s*$") then
      pending_line = l:gsub("\\%s*$", "")
    elseif not l:match("^%s*#") and l:match("%S") then
      local instr, args = l:match("^%s*(%u+)%s+(.*)$")
      assert(instr, "cannot parse Dockerfile line: " .. l)
      if instr == "FROM" then
        cur = { from = args, steps = {} }
        stages[#stages + 1] = cur
      end
      cur.steps[#cur.steps + 1] = { instr = instr, args = args }
    end
  end
  return stages
end

local function make_targets(stage)
  local targets = {}
  for _, s in ipairs(stage.steps) do
    if s.instr == "RUN" then
      for cmd in (s.args .. "&&"):gmatch("(.-)&&") do
        local rest = cmd:match("^%s*make%s+(.-)%s*$")
        if rest then
          for word in rest:gmatch("%S+") do
            if not word:find("=", 1, true) and not word:match("^%-") then
              targets[#targets + 1] = word
            end
          end
        end
      end
    end
  end
  return targets
end

describe("Dockerfile", function()
  local stages, build, runtime

  setup(function()
    stages = parse_dockerfile(proc.root .. "/Dockerfile")
    build, runtime = stages[1], stages[2]
  end)

  it("has a build and a runtime stage on debian:bookworm-slim", function()
    assert.are.equal(2, #stages)
    assert.are.equal("debian:bookworm-slim AS build", build.from)
    assert.are.equal("debian:bookworm-slim", runtime.from)
  end)

  it("builds with the make targets CI runs", function()
    -- CI (.ci/run) runs `make deps` and `make test`, which installs the
    -- suites' packages and builds `all`; the image adds `make install`.
    local ci = proc.read_file(proc.root .. "/.ci/run")
    local makefile = proc.read_file(proc.root .. "/Makefile")
    assert.matches("\nmake deps[ \n]", ci)
    assert.matches("\nmake test\n", ci, 1, true)
    assert.matches("\ntest:[^\n]* test%-deps all ", makefile)
    assert.matches("\ninstall: all\n", makefile, 1, true)
    assert.are.same({ "deps", "all", "install" }, make_targets(build))
    local runs = {}
    for _, s in ipairs(build.steps) do
      if s.instr == "RUN" then
        runs[#runs + 1] = s.args
      end
    end
    assert.is_truthy(table.concat(runs, "\n"):find("make install PREFIX=/usr/local DESTDIR=/out",
      1, true))
    assert.are.same({}, make_targets(runtime))
  end)

  it("ships /out, the runtime packages and the handler, and runs it", function()
    local text = {}
    for _, s in ipairs(runtime.steps) do
      text[#text + 1] = s.instr .. " " .. s.args
    end
    text = table.concat(text, "\n")
    assert.matches("COPY --from=build /out/ /", text, 1, true)
    assert.matches("vendor/runtime-packages.txt", text, 1, true)
    assert.matches("ARG HANDLER=handlers/echo.lua", text, 1, true)
    assert.matches("ENV HANDLER=", text, 1, true)
    assert.matches('CMD ["sh", "-c", "exec runpod-worker \\"$HANDLER\\""]', text, 1, true)
    assert.is_truthy(io.open(proc.root .. "/handlers/echo.lua"))
  end)

  it("keeps apt's lists and caches and the packages' docs out of the runtime stage", function()
    -- On a base without debian:bookworm-slim's apt settings apt's caches
    -- alone are ~80 MB (spec/image_spec.lua checks the built image).
    local install
    for _, s in ipairs(runtime.steps) do
      if s.instr == "RUN" and s.args:find("apt-get install", 1, true) then
        install = s.args
      end
    end
    assert.is_truthy(install)
    for _, piece in ipairs { "--no-install-recommends", "apt-get clean", "/var/lib/apt/lists/*",
      "/var/cache/apt/*.bin", "--path-exclude=/usr/share/doc/*",
      "--path-include=/usr/share/doc/*/copyright", "--path-exclude=/usr/share/man/*" } do
      assert.matches(piece, install, 1, true)
    end
  end)

  it("copies into the build stage all that make all and make install need", function()
    -- Lay out exactly what the build stage COPYs and run its make targets
    -- there (deps aside: the packages are on this machine already).
    local dir = proc.tmpdir()
    for _, s in ipairs(build.steps) do
      if s.instr == "COPY" then
        local src, dst = s.args:match("^(%S+)%s+(%S+)$")
        assert(src and not src:match("^%-%-"), s.args)
        local copy = [[
          s=$1; t=$2
          if [ -d "$s" ]; then mkdir -p "$t" && cp -R "$s/." "$t/"
          else case "$t" in
            */) mkdir -p "$t" && cp "$s" "$t" ;;
            *) mkdir -p "$(dirname "$t")" && cp "$s" "$t" ;;
          esac; fi]]
        local r = proc.run({ "sh", "-c", copy, "copy", proc.root .. "/" .. src, dir .. "/" .. dst })
        assert.are.equal(0, r.code, s.args .. ": " .. r.stderr)
      end
    end
    -- A plain build, as in the image, also under `make check`: neither the
    -- sanitizer preload nor the outer make's variables reach it.
    local r = proc.run({ "env", "-u", "LD_PRELOAD", "-u", "MAKEFLAGS", "-u", "MFLAGS",
      "-u", "MAKELEVEL", "make", "-s", "all", "install", "PREFIX=/usr/local",
      "DESTDIR=" .. dir .. "/out" }, { cwd = dir, timeout = 300 })
    assert.are.equal(0, r.code, r.stdout .. r.stderr)
    assert.is_truthy(io.open(dir .. "/out/usr/local/bin/runpod-worker"))
    os.execute("rm -rf " .. proc.quote(dir))
  end)
end)
