-- runpod.volume_cache: the Python SDK's VolumeCache mirror on a network
-- volume (here a temporary folder standing in for /runpod-volume).
-- python3, when present, writes mirrors with its own tarfile and json
-- modules and reads ours back, so both sides of the shared format are
-- checked against the real thing; without python3 those cases are pending.
local runpod = require "runpod"
local proc = require "helpers.proc"

local q = proc.quote

local function sh(cmd)
  assert(os.execute(cmd), cmd)
end

local function exists(path)
  return os.execute("test -e " .. q(path) .. " -o -L " .. q(path)) == true
end

-- The file's bytes, or nil when there is no file.
local function read(path)
  if exists(path) then
    return proc.read_file(path)
  end
end

local HAVE_PYTHON = os.execute("command -v python3 >/dev/null 2>&1") == true

-- Runs python3 code (argv after it: ...); returns stdout, raising on failure.
local function python(code, ...)
  local argv = { "python3", "-c", code, ... }
  local r = proc.run(argv)
  assert(r.code == 0, "python3 failed: " .. r.stderr)
  return r.stdout
end

-- Runs a Lua chunk in a child lua5.4 with the module on its paths.
local function lua_child(code, opts)
  opts = opts or {}
  local env = {
    LUA_PATH = proc.root .. "/lua/?.lua;" .. proc.root .. "/lua/?/init.lua;;",
    LUA_CPATH = os.getenv("LUA_CPATH") or (proc.root .. "/build/lib/?.so;;"),
  }
  for k, v in pairs(opts.env or {}) do
    env[k] = v
  end
  return proc.lua_run({ "-e", code }, { env = env, timeout = opts.timeout })
end

describe("runpod.volume_cache", function()
  local dir, vol, cache
  before_each(function()
    dir = proc.tmpdir()
    vol = dir .. "/volume"
    cache = dir .. "/cache"
    sh("mkdir -p " .. q(vol) .. " " .. q(cache))
  end)
  after_each(function()
    sh("chmod -R u+w " .. q(dir) .. " && rm -rf " .. q(dir))
  end)

  local function new(opts)
    opts = opts or {}
    local best_effort = false
    if opts.best_effort ~= nil then
      best_effort = opts.best_effort
    end
    return runpod.volume_cache {
      dirs = opts.dirs or { cache },
      namespace = opts.namespace or "ep1",
      volume_path = opts.volume_path or vol,
      best_effort = best_effort,
      max_workers = opts.max_workers,
    }
  end

  local function root()
    return vol .. "/.cache/ep1"
  end

  -- A tree of small and big files under cache/.
  local function populate()
    sh(("cd %s && mkdir -p models/m1 hub && printf 'config' > models/m1/config.json && "
      .. "printf 'tok' > hub/tokenizer.txt && head -c 300000 /dev/urandom > models/m1/w.bin && "
      .. "head -c 262144 /dev/urandom > models/m1/edge.bin && "
      .. "head -c 262143 /dev/urandom > models/m1/below.bin"):format(q(cache)))
  end

  describe("construction", function()
    it("rejects a namespace that is not one safe path component", function()
      for _, ns in ipairs { "a/b", "..", ".", "/abs", "a\\b", "a\0b" } do
        assert.has_error(function() new { namespace = ns } end,
          ("bad argument #1 to 'volume_cache' (namespace must be a single safe path "
          .. "component, got %q)"):format(ns))
      end
    end)

    it("rejects max_workers below 1", function()
      assert.has_error(function() new { max_workers = 0 } end,
        "bad argument #1 to 'volume_cache' (max_workers must be an integer from 1 to 1024, "
        .. "got 0)")
    end)

    it("is available only with a volume folder and a namespace", function()
      assert.is_true(new().available)
      assert.is_false(new { volume_path = dir .. "/missing" }.available)
      assert.are.equal(vol .. "/.cache/ep1", new().root)
    end)

    it("is a no-op when the volume is missing", function()
      populate()
      local vc = new { volume_path = dir .. "/missing" }
      assert.are.equal(0, vc:hydrate())
      assert.are.equal(0, vc:sync { background = false })
      assert.is_false(exists(dir .. "/missing"))
    end)
  end)

  describe(":sync()", function()
    it("writes small.tar, big/ and manifest.json in Python's format", function()
      populate()
      local vc = new()
      assert.are.equal(5, vc:sync { background = false })
      local r = root()
      assert.is_true(exists(r .. "/small.tar"))
      assert.are.equal(read(cache .. "/models/m1/w.bin"),
        read(r .. "/big" .. cache .. "/models/m1/w.bin"))
      -- 262144 bytes is big, 262143 small (size < threshold packs)
      assert.is_true(exists(r .. "/big" .. cache .. "/models/m1/edge.bin"))
      assert.is_false(exists(r .. "/big" .. cache .. "/models/m1/below.bin"))
      local m = runpod.json.decode(read(r .. "/manifest.json"))
      assert.are.equal(1, m.version)
      assert.are.equal(262144, m.threshold)
      assert.are.equal(3, #m.small)
      assert.are.equal(2, #m.big)
      assert.is_false(exists(r .. "/manifest.json.tmp"))
    end)

    it("writes the manifest byte for byte as Python's json.dump", function()
      if not HAVE_PYTHON then
        pending("needs python3")
        return
      end
      populate()
      -- non-ASCII, a quote and a control character in names
      local names = "printf 'x' > 'caf\195\169 \"q\".txt' && "
        .. "printf 'y' > \"$(printf 'ctl\\tname')\""
      sh("cd " .. q(cache) .. " && " .. names)
      new():sync { background = false }
      -- Rebuild the payload from os.stat in the manifest's own order.
      local out = python([=[
import json, os, sys
text = open(sys.argv[1]).read()
m = json.loads(text)
def meta(e):
    st = os.stat(e["path"])
    return {"path": e["path"], "size": st.st_size, "mtime": st.st_mtime}
payload = {"version": 1, "threshold": 262144,
           "small": [meta(e) for e in m["small"]], "big": [meta(e) for e in m["big"]]}
print("same" if json.dumps(payload) == text else "differs:\n" + json.dumps(payload) + "\n" + text)
]=], root() .. "/manifest.json")
      assert.are.equal("same\n", out)
    end)

    it("packs members Python's tarfile reads, named by absolute path without '/'", function()
      if not HAVE_PYTHON then
        pending("needs python3")
        return
      end
      populate()
      new():sync { background = false }
      local out = python([=[
import tarfile, sys
with tarfile.open(sys.argv[1]) as tf:
    for m in sorted(tf.getmembers(), key=lambda m: m.name):
        data = tf.extractfile(m).read()
        print(m.name, m.size, len(data), m.isfile())
]=], root() .. "/small.tar")
      local c = cache:sub(2)
      assert.are.equal(table.concat({
        c .. "/hub/tokenizer.txt 3 3 True",
        c .. "/models/m1/below.bin 262143 262143 True",
        c .. "/models/m1/config.json 6 6 True", "" }, "\n"), out)
    end)

    it("copies nothing and keeps small.tar when nothing changed", function()
      populate()
      local vc = new()
      vc:sync { background = false }
      local before = python and read(root() .. "/small.tar")
      sh("touch -d '2020-01-01' " .. q(root() .. "/small.tar"))
      assert.are.equal(0, vc:sync { background = false })
      assert.are.equal(before, read(root() .. "/small.tar"))
      local r = proc.run({ "find", root() .. "/small.tar", "-newermt", "2021-01-01" })
      assert.are.equal("", r.stdout)
    end)

    it("re-packs small.tar when a small file is deleted", function()
      populate()
      local vc = new()
      vc:sync { background = false }
      os.remove(cache .. "/hub/tokenizer.txt")
      vc:sync { background = false }
      local m = runpod.json.decode(read(root() .. "/manifest.json"))
      assert.are.equal(2, #m.small)
      local r = proc.run({ "tar", "tf", root() .. "/small.tar" })
      assert.is_nil(r.stdout:find("tokenizer", 1, true))
    end)

    it("copies only the big file that changed", function()
      populate()
      local vc = new()
      vc:sync { background = false }
      sh("head -c 400000 /dev/urandom > " .. q(cache .. "/models/m1/w.bin"))
      assert.are.equal(1, vc:sync { background = false })
      assert.are.equal(read(cache .. "/models/m1/w.bin"),
        read(root() .. "/big" .. cache .. "/models/m1/w.bin"))
    end)

    it("skips symbolic links, lock files and temporary files", function()
      populate()
      sh(("cd %s && ln -s /etc/passwd link && touch a.lock b.rpvc.tmp && mkdir -p x/refs && "
        .. "touch x/refs/main"):format(q(cache)))
      new():sync { background = false }
      local text = read(root() .. "/manifest.json")
      for _, s in ipairs { "link", ".lock", "rpvc.tmp", "refs" } do
        assert.is_nil(text:find(s, 1, true), s)
      end
    end)

    it("removes the temporary files a killed sync left in the mirror, not fresh ones", function()
      populate()
      local vc = new()
      vc:sync { background = false }
      local big = root() .. "/big" .. cache .. "/models/m1"
      local stale = { big .. "/w.bin.4242.0.rpvc.tmp", root() .. "/small.tar.4242.1.rpvc.tmp" }
      local fresh = big .. "/w.bin.4243.0.rpvc.tmp"
      for _, f in ipairs(stale) do
        sh("head -c 300000 /dev/zero > " .. q(f) .. " && touch -d '1 hour ago' " .. q(f))
      end
      sh("head -c 1000 /dev/zero > " .. q(fresh))
      vc:sync { background = false }
      for _, f in ipairs(stale) do
        assert.is_false(exists(f), f)
      end
      assert.is_true(exists(fresh), "a file a running sync may still write")
    end)

    it("raises when best_effort is false and logs otherwise", function()
      populate()
      sh("mkdir -p " .. q(vol .. "/.cache") .. " && touch " .. q(vol .. "/.cache/ep1"))
      assert.has_error(function() new():sync { background = false } end)
      assert.are.equal(0, new { best_effort = true }:sync { background = false })
    end)
  end)

  describe(":hydrate()", function()
    it("restores what :sync() mirrored, mtimes kept", function()
      populate()
      new():sync { background = false }
      sh("mv " .. q(cache) .. " " .. q(dir .. "/orig"))
      assert.are.equal(5, new():hydrate())
      for _, f in ipairs { "models/m1/config.json", "hub/tokenizer.txt", "models/m1/w.bin",
          "models/m1/edge.bin", "models/m1/below.bin" } do
        assert.are.equal(read(dir .. "/orig/" .. f), read(cache .. "/" .. f), f)
      end
      local r = proc.run({ "stat", "-c", "%Y", dir .. "/orig/models/m1/w.bin",
        cache .. "/models/m1/w.bin" })
      local a, b = r.stdout:match("(%d+)\n(%d+)")
      assert.are.equal(a, b)
      assert.are.equal(0, new():hydrate())
    end)

    it("reads a mirror Python's tarfile and json wrote", function()
      if not HAVE_PYTHON then
        pending("needs python3")
        return
      end
      -- What VolumeCache._pack_small (tarfile fallback), _copy_file and
      -- _write_manifest write, with the stdlib alone; then the cache is
      -- emptied so only the volume holds the files.
      python([=[
import json, os, shutil, sys, tarfile
cache, root = sys.argv[1], sys.argv[2]
os.makedirs(cache + "/sub", exist_ok=True)
open(cache + "/a.txt", "w").write("alpha")
open(cache + "/sub/b.txt", "w").write("beta" * 10)
open(cache + "/sub/big.bin", "wb").write(os.urandom(300000))
open(cache + "/caf\u00e9.txt", "w").write("utf-8 name")
os.makedirs(root, exist_ok=True)
small = [cache + "/a.txt", cache + "/sub/b.txt", cache + "/caf\u00e9.txt"]
big = [cache + "/sub/big.bin"]
with tarfile.open(root + "/small.tar.tmp", "w") as tf:
    for f in small:
        tf.add(f, arcname=os.path.relpath(f, "/"), recursive=False)
os.replace(root + "/small.tar.tmp", root + "/small.tar")
for f in big:
    dst = os.path.join(root, "big", os.path.relpath(f, "/"))
    os.makedirs(os.path.dirname(dst), exist_ok=True)
    shutil.copy2(f, dst)
meta = lambda p: {"path": p, "size": os.stat(p).st_size, "mtime": os.stat(p).st_mtime}
with open(root + "/manifest.json.tmp", "w") as fh:
    json.dump({"version": 1, "threshold": 262144, "small": [meta(p) for p in small],
               "big": [meta(p) for p in big]}, fh)
os.replace(root + "/manifest.json.tmp", root + "/manifest.json")
shutil.copytree(cache, cache + ".orig", copy_function=shutil.copy2)
shutil.rmtree(cache)
]=], cache, root())
      assert.are.equal(4, new():hydrate())
      for _, f in ipairs { "a.txt", "sub/b.txt", "sub/big.bin", "caf\195\169.txt" } do
        assert.are.equal(read(cache .. ".orig/" .. f), read(cache .. "/" .. f), f)
      end
      -- and Python sees our restored files as current (no copy needed)
      assert.are.equal("ok\n", python([=[
import os, sys
a, b = os.stat(sys.argv[1]), os.stat(sys.argv[2])
print("ok" if a.st_size == b.st_size and abs(a.st_mtime - b.st_mtime) < 2 else "stale")
]=], cache .. ".orig/sub/big.bin", cache .. "/sub/big.bin"))
    end)

    it("reads GNU tar archives (Python packs with tar when it is installed)", function()
      sh(("mkdir -p %s/d && printf 'gnu' > %s/d/g.txt && mkdir -p %s"):format(
        q(cache), q(cache), q(root())))
      sh(("tar -C / -c --format=gnu --no-recursion -f %s %s"):format(
        q(root() .. "/small.tar"), q(cache:sub(2) .. "/d/g.txt")))
      proc.write_file(root() .. "/manifest.json", ('{"version": 1, "threshold": 262144, '
        .. '"small": [{"path": "%s/d/g.txt", "size": 3, "mtime": 1.0}], "big": []}'):format(
        cache))
      sh("rm -rf " .. q(cache))
      assert.are.equal(1, new():hydrate())
      assert.are.equal("gnu", read(cache .. "/d/g.txt"))
    end)

    it("treats a mirror without a valid version-1 manifest as absent", function()
      populate()
      new():sync { background = false }
      sh("rm -rf " .. q(cache))
      local m = read(root() .. "/manifest.json")
      for _, bad in ipairs { m:gsub('"version": 1', '"version": 2'), "not json", "[1]", "" } do
        proc.write_file(root() .. "/manifest.json", bad)
        assert.are.equal(0, new():hydrate())
        assert.is_false(exists(cache .. "/models"))
      end
    end)

    it("never writes outside the folders for a hostile manifest", function()
      local outside = dir .. "/outside"
      sh("mkdir -p " .. q(outside) .. " " .. q(root()))
      -- Sources in big/ for each hostile entry, and a symbolic link inside
      -- the cached folder that leads outside it.
      local entries = {
        outside .. "/evil1",                        -- not in a folder
        cache .. "/../outside/evil2",               -- climbs out
        cache .. "/lnk/evil3",                      -- through a link in the folder
        cache,                                      -- the folder itself
        "relative/evil4",
      }
      sh("ln -s " .. q(outside) .. " " .. q(cache .. "/lnk"))
      local list = {}
      for i, p in ipairs(entries) do
        local src = root() .. "/big/" .. p:gsub("^/", "")
        sh("{ mkdir -p " .. q(src:match("^(.*)/[^/]*$")) .. " && printf evil > " .. q(src)
          .. "; } 2>/dev/null || true")
        list[i] = ('{"path": "%s", "size": 4, "mtime": 1.0}'):format(p)
      end
      -- big/ itself holding a link to a file outside the mirror
      sh("printf secret > " .. q(outside .. "/secret") .. " && mkdir -p "
        .. q(root() .. "/big" .. cache) .. " && ln -s " .. q(outside .. "/secret") .. " "
        .. q(root() .. "/big" .. cache .. "/stolen"))
      list[#list + 1] = ('{"path": "%s/stolen", "size": 6, "mtime": 1.0}'):format(cache)
      list[#list + 1] = '{"path": 7}'
      proc.write_file(root() .. "/manifest.json", '{"version": 1, "threshold": 262144, '
        .. '"small": [], "big": [' .. table.concat(list, ", ") .. "]}")
      assert.are.equal(0, new():hydrate())
      assert.are.equal("secret", read(outside .. "/secret"))
      local r = proc.run({ "ls", "-A", outside })
      assert.are.equal("secret\n", r.stdout)
      assert.is_false(exists(cache .. "/stolen"))
    end)

    it("does not hang on a FIFO planted as small.tar or a big file", function()
      sh("mkdir -p " .. q(root() .. "/big" .. cache) .. " && mkfifo " .. q(root() .. "/small.tar")
        .. " " .. q(root() .. "/big" .. cache .. "/w.bin"))
      proc.write_file(root() .. "/manifest.json", ('{"version": 1, "threshold": 262144, '
        .. '"small": [{"path": "%s/s.txt", "size": 1, "mtime": 1.0}], '
        .. '"big": [{"path": "%s/w.bin", "size": 300000, "mtime": 1.0}]}'):format(cache, cache))
      -- in a child with a time limit: a blocking open would hang it
      local r = lua_child(([[
local runpod = require "runpod"
io.write("hydrated ", runpod.volume_cache{ dirs = { %q }, namespace = "ep1",
  volume_path = %q, best_effort = false }:hydrate())
]]):format(cache, vol), { timeout = 20 })
      assert.are.equal(0, r.code, r.stderr)
      assert.are.equal("hydrated 0", r.stdout:match("[^\n]*$"))
    end)

    it("never writes outside the folders for hostile tar members", function()
      if not HAVE_PYTHON then
        pending("needs python3")
        return
      end
      local outside = dir .. "/outside"
      sh("mkdir -p " .. q(outside) .. " " .. q(cache) .. " " .. q(root()) .. " && ln -s "
        .. q(outside) .. " " .. q(cache .. "/lnk"))
      python([=[
import io, tarfile, sys
cache, outside, path = sys.argv[1], sys.argv[2], sys.argv[3]
rel = lambda p: p.lstrip("/")
def add(tf, name, data=b"evil", kind=tarfile.REGTYPE, link=""):
    ti = tarfile.TarInfo(name)
    ti.type = kind
    ti.linkname = link
    ti.size = len(data) if kind == tarfile.REGTYPE else 0
    tf.addfile(ti, io.BytesIO(data) if kind == tarfile.REGTYPE else None)
with tarfile.open(path, "w", format=tarfile.GNU_FORMAT) as tf:
    add(tf, rel(cache) + "/../outside/e1")
    add(tf, outside + "/e2")                        # absolute name
    add(tf, rel(outside) + "/e3")                   # a path outside the folders
    add(tf, rel(cache) + "/lnk/e4")                 # through a link in the folder
    add(tf, rel(cache) + "/sym", kind=tarfile.SYMTYPE, link=outside + "/e5")
    add(tf, rel(cache) + "/hard", kind=tarfile.LNKTYPE, link=rel(outside) + "/e6")
    add(tf, rel(cache) + "/ok.txt", b"fine")
]=], cache, outside, root() .. "/small.tar")
      proc.write_file(root() .. "/manifest.json", ('{"version": 1, "threshold": 262144, '
        .. '"small": [{"path": "%s/ok.txt", "size": 4, "mtime": 1.0}], "big": []}'):format(
        cache))
      assert.are.equal(1, new():hydrate())
      assert.are.equal("fine", read(cache .. "/ok.txt"))
      local r = proc.run({ "ls", "-A", outside })
      assert.are.equal("", r.stdout)
      assert.is_false(exists(cache .. "/sym"))
      assert.is_false(exists(cache .. "/hard"))
    end)
  end)

  describe(":run()", function()
    it("hydrates, runs the function, then syncs", function()
      populate()
      new():sync { background = false }
      sh("rm -rf " .. q(cache))
      local r = lua_child(([[
local runpod = require "runpod"
local vc = runpod.volume_cache{ dirs = { %q }, namespace = "ep1", volume_path = %q }
local n = vc:run(function(x)
  local f = assert(io.open(%q, "w")) f:write("new") f:close()
  return x + 1
end, 41)
io.write(n)
]]):format(cache, vol, cache .. "/hub/new.txt"))
      assert.are.equal(0, r.code, r.stderr)
      assert.are.equal("42", r.stdout:match("([^\n]*)$"))
      assert.are.equal(read(dir .. "/volume/.cache/ep1/big" .. cache .. "/models/m1/w.bin"),
        read(cache .. "/models/m1/w.bin"))
      -- the background sync finished before the process exited
      assert.truthy(read(root() .. "/manifest.json"):find("new.txt", 1, true))
    end)
  end)

  describe("background sync", function()
    it("completes before plain lua5.4 exits, os.exit included", function()
      populate()
      local r = lua_child(([[
local runpod = require "runpod"
runpod.volume_cache{ dirs = { %q }, namespace = "ep1", volume_path = %q }:sync()
os.exit(0)
]]):format(cache, vol))
      assert.are.equal(0, r.code, r.stderr)
      local m = runpod.json.decode(read(root() .. "/manifest.json"))
      assert.are.equal(2, #m.big)
    end)

    it("completes before runpod-worker exits in local test mode", function()
      populate()
      local handler = dir .. "/handler.lua"
      proc.write_file(handler, ([[
local runpod = require "runpod"
local vc = runpod.volume_cache{ dirs = { %q }, namespace = "ep1", volume_path = %q }
runpod.serverless.start{ handler = function()
  local n = vc:hydrate()
  vc:sync()
  return { hydrated = n }
end }
]]):format(cache, vol))
      local r = proc.worker_run({ handler, "--test_input", '{"input": {}}' })
      assert.are.equal(0, r.code, r.stderr)
      local m = runpod.json.decode(read(root() .. "/manifest.json"))
      assert.are.equal(2, #m.big)
      assert.are.equal(3, #m.small)
    end)

    it("completes before a serverless worker exits on SIGTERM", function()
      local helpers = require "helpers.emulator"
      populate()
      sh("head -c 33554432 /dev/zero > " .. q(cache .. "/models/m1/huge.bin"))
      local handler = dir .. "/handler.lua"
      -- The handler starts the sync, then has the worker sent SIGTERM (the
      -- shell's parent is the worker) while the copy is under way.
      proc.write_file(handler, ([[
local runpod = require "runpod"
local vc = runpod.volume_cache{ dirs = { %q }, namespace = "ep1", volume_path = %q,
  max_workers = 1 }
runpod.serverless.start{ handler = function()
  vc:sync()
  os.execute("kill -TERM $PPID")
  return "started"
end }
]]):format(cache, vol))
      local emu = helpers.start()
      local worker
      finally(function() helpers.stop(emu, worker) end)
      local id = emu.submit({})
      worker = helpers.worker(emu, handler)
      assert.are.equal(0, worker.wait(60), worker.output())
      assert.are.equal("COMPLETED", emu.json("GET", "/v2/ep/status/" .. id).status)
      local m = runpod.json.decode(read(root() .. "/manifest.json"))
      assert.are.equal(3, #m.big, worker.output())
      assert.are.equal(33554432, #read(root() .. "/big" .. cache .. "/models/m1/huge.bin"))
    end)

    it("leaves the previous mirror intact when the sync is killed", function()
      populate()
      new():sync { background = false }
      local old = read(root() .. "/manifest.json")
      sh("head -c 67108864 /dev/zero > " .. q(cache .. "/models/m1/huge.bin"))
      local pidfile = dir .. "/pid"
      local script = dir .. "/sync.lua"
      proc.write_file(script, ([[
local runpod = require "runpod"
runpod.volume_cache{ dirs = { %q }, namespace = "ep1", volume_path = %q, max_workers = 1 }
  :sync{ background = false }
]]):format(cache, vol))
      sh(("cd %s && (LUA_PATH=%s LUA_CPATH=%s lua5.4 %s & echo $! > %s)"):format(q(dir),
        q(proc.root .. "/lua/?.lua;" .. proc.root .. "/lua/?/init.lua;;"),
        q(os.getenv("LUA_CPATH") or (proc.root .. "/build/lib/?.so;;")), q(script),
        q(pidfile)))
      local pid = read(pidfile):match("%d+")
      -- kill it once the big copy is under way (or after it finished)
      for _ = 1, 400 do
        local r = proc.run({ "sh", "-c", "find " .. q(root()) .. " -name '*.rpvc.tmp' | head -1" })
        if r.stdout ~= "" or not os.execute("kill -0 " .. pid .. " 2>/dev/null") then
          break
        end
        os.execute("sleep 0.01")
      end
      os.execute("kill -9 " .. pid .. " 2>/dev/null")
      for _ = 1, 200 do
        if not os.execute("kill -0 " .. pid .. " 2>/dev/null") then
          break
        end
        os.execute("sleep 0.01")
      end
      -- Whatever the moment: the manifest is the old or a complete new one,
      -- and every file it lists is whole under its final name.
      local now = read(root() .. "/manifest.json")
      local m = runpod.json.decode(now)
      assert.are.equal(1, m.version)
      for _, e in ipairs(m.big) do
        local copy = read(root() .. "/big" .. e.path)
        assert.are.equal(e.size, copy and #copy, e.path)
      end
      if now == old then
        -- Killed before the new manifest: the old one does not list the
        -- new file. The copy may already be under its final name (it is
        -- renamed there only once whole; the manifest comes last).
        for _, e in ipairs(m.big) do
          assert.are_not.equal(cache .. "/models/m1/huge.bin", e.path)
        end
        local copy = read(root() .. "/big" .. cache .. "/models/m1/huge.bin")
        assert.is_true(copy == nil or #copy == 67108864)
      end
      -- and a fresh hydrate restores exactly what the manifest lists
      sh("mv " .. q(cache) .. " " .. q(dir .. "/orig"))
      new():hydrate()
      for _, e in ipairs(m.big) do
        assert.are.equal(read(dir .. "/orig" .. e.path:sub(#cache + 1)), read(e.path))
      end
    end)
  end)
end)
