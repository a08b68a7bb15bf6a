-- The Dockerfile, built and run without Docker: spec/image.sh builds it with
-- buildah on a Debian 12 minbase root file system (mmdebstrap) standing in
-- for debian:bookworm-slim; the image then runs a handler in local test
-- mode, and, as a container's PID 1, serves bin/runpod-emulator on the host
-- and drains its job on SIGTERM. Skipped, with the reason, where the tools
-- or the permissions are missing.
local proc = require "helpers.proc"
local helpers = require "helpers.emulator"
local json = require("runpod").json

local info, reason, container

-- Reads spec/image.sh's KEY=VALUE lines; nil and the reason when it skips.
local function build()
  if (os.getenv("RP_SANITIZE") or "") ~= "" then
    return nil, "the image holds a plain build, not this sanitizer build;"
      .. " make test builds and runs it"
  end
  local r = proc.run({ "env", "-u", "LD_PRELOAD", "bash", proc.root .. "/spec/image.sh" },
    { timeout = 1800 })
  if r.code == 77 then
    return nil, r.stdout:match("SKIP: ([^\n]*)") or "spec/image.sh skipped"
  end
  assert(r.code == 0, ("spec/image.sh failed (exit %d):\n%s%s"):format(r.code,
    r.stderr:sub(-4000), r.stdout))
  local t = {}
  for k, v in r.stdout:gmatch("([%w_]+)=([^\n]*)") do
    t[k] = v
  end
  return t
end

local function buildah(args)
  local argv = { "env", "-u", "LD_PRELOAD", "buildah", "--root", info.storage_root,
    "--runroot", info.storage_runroot, "--storage-driver", "overlay" }
  for _, a in ipairs(args) do
    argv[#argv + 1] = a
  end
  return argv
end

-- The argv of `buildah run` in the working container: chroot isolation,
-- the host's network (the emulator listens on 127.0.0.1), spec/fixtures
-- as /fixtures, env a table of variables; then cmd.
local function run_argv(env, cmd)
  local args = { "run", "--isolation", "chroot", "--network", "host",
    "--cap-add", "CAP_SYS_ADMIN", "--volume", proc.root .. "/spec/fixtures:/fixtures:ro" }
  for k, v in pairs(env or {}) do
    args[#args + 1] = "--env"
    args[#args + 1] = k .. "=" .. v
  end
  args[#args + 1] = container
  args[#args + 1] = "--"
  for _, a in ipairs(cmd) do
    args[#args + 1] = a
  end
  return buildah(args)
end

-- cmd as the container's PID 1: in a PID namespace of its own, with its
-- own /proc, as docker run starts it.
local function as_pid1(cmd)
  local t = { "unshare", "--pid", "--fork", "--mount-proc" }
  for _, a in ipairs(cmd) do
    t[#t + 1] = a
  end
  return t
end

local function result(r)
  local line = r.stdout:match("Job result: ([^\n]+)")
  assert(line, r.stdout .. r.stderr)
  return json.decode(line)
end

-- The host pid of the process that is PID 1 in its namespace, among the
-- descendants of pid.
local function find_pid1(pid)
  local parent = {}
  for _, p in ipairs(proc.output_lines("ls /proc")) do
    if p:match("^%d+$") then
      local ppid = proc.read_file("/proc/" .. p .. "/stat"):match("^%d+ %b() %a (%d+)")
      if ppid then
        parent[p] = ppid
      end
    end
  end
  for p in pairs(parent) do
    local ns = proc.read_file("/proc/" .. p .. "/status"):match("\nNSpid:([^\n]*)")
    if ns and ns:match("%s1%s*$") and ns:match("^%s*%d+%s+%d") then
      local q = p
      while q and q ~= pid do
        q = parent[q]
      end
      if q == pid then
        return p
      end
    end
  end
  return nil
end

describe("the Docker image", function()
  setup(function()
    info, reason = build()
    if not info then
      io.stderr:write("spec/image_spec.lua: SKIP: " .. reason .. "\n")
      return
    end
    io.stderr:write(("spec/image_spec.lua: base %.1f MB, image %.1f MB, added %.1f MB;"
      .. " base made in %s s, image built in %s s\n"):format(info.base_bytes / 1e6,
      info.image_bytes / 1e6, info.added_bytes / 1e6, info.base_seconds, info.build_seconds))
    local r = proc.run(buildah { "from", "--pull-never", "--quiet", info.image })
    assert(r.code == 0, r.stderr)
    container = r.stdout:match("%S+")
  end)

  teardown(function()
    if container then
      proc.run(buildah { "rm", container })
    end
    -- The storage keeps its overlay folder mounted on itself; released,
    -- so that `make clean` can remove build/.
    if info and proc.read_file("/proc/mounts"):find(" " .. info.storage_root .. "/overlay ", 1,
        true) then
      os.execute("umount " .. proc.quote(info.storage_root .. "/overlay"))
    end
  end)

  local function need_image()
    if not info then
      pending(reason)
      return false
    end
    return true
  end

  it("adds only the runtime's files to its base", function()
    if not need_image() then
      return
    end
    local r = proc.run(buildah { "mount", container })
    assert.are.equal(0, r.code, r.stderr)
    local root = r.stdout:match("[^\n]+")
    local function listing(glob)
      return proc.output_lines("cd " .. proc.quote(root) .. " && ls -d " .. glob .. " 2>/dev/null")
    end
    local apt_caches = listing("var/cache/apt/*.bin var/cache/apt/archives/*.deb")
    local lists = listing("var/lib/apt/lists/*_Packages*")
    local docs = listing("usr/share/doc/libcurl4/* usr/share/man/man3/libcurl*")
    local copyright = listing("usr/share/doc/libcurl4/copyright")
    proc.run(buildah { "umount", container })
    assert.are.same({}, apt_caches)
    assert.are.same({}, lists)
    assert.are.same({ "usr/share/doc/libcurl4/copyright" }, docs)
    assert.are.same({ "usr/share/doc/libcurl4/copyright" }, copyright)
    -- Shared libraries and runpod-lua: ~21 MB, and since runpod.volume_cache
    -- and runpod.file, libarchive13 with the libxml2 and libicu72 it needs:
    -- 57 MB, of which ICU's data 36 MB (bench/RESULTS.md).
    assert.is_true(tonumber(info.added_bytes) < 64e6,
      ("the image adds %d bytes to its base"):format(info.added_bytes))
  end)

  it("runs its handler in local test mode", function()
    if not need_image() then
      return
    end
    local r = proc.run(run_argv(nil, { "runpod-worker", "/app/handler.lua", "--test_input",
      '{"input": {"x": 1}}' }), { timeout = 120 })
    assert.are.equal(0, r.code, r.stdout .. r.stderr)
    assert.are.same({ output = { echo = { x = 1 } } }, result(r))
  end)

  it("runs the worker under its reaper as PID 1", function()
    if not need_image() then
      return
    end
    local r = proc.run(run_argv(nil, as_pid1 { "runpod-worker", "/fixtures/orphan.lua",
      "--test_input", '{"input": {}}' }), { timeout = 120 })
    assert.are.equal(0, r.code, r.stdout .. r.stderr)
    local out = result(r).output
    assert.are.equal(2, out.pid)            -- PID 1 is the reaper
    assert.are.equal(0, out.zombies)
    assert.are.same({ "exit", 3 }, out.execute)
  end)

  describe("as a serverless worker against the emulator on the host", function()
    local emu, worker

    after_each(function()
      helpers.stop(emu, worker)
      emu, worker = nil, nil
    end)

    -- Starts the image's own command (its CMD) as PID 1 with the
    -- emulator's environment plus extra.
    local function start(extra)
      local r = proc.run(buildah { "inspect", "--type", "image", info.image })
      assert.are.equal(0, r.code, r.stderr)
      local cmd = json.decode(r.stdout).OCIv1.config.Cmd
      assert.are.same({ "sh", "-c", 'exec runpod-worker "$HANDLER"' }, cmd)
      emu = helpers.start()
      -- no built-in fitness checks: they would try 8.8.8.8
      local env = { RUNPOD_POD_ID = "image-worker", RUNPOD_SKIP_AUTO_SYSTEM_CHECKS = "true" }
      for k, v in pairs(emu.env) do
        env[k] = v
      end
      for k, v in pairs(extra or {}) do
        env[k] = v
      end
      worker = helpers.spawn(run_argv(env, as_pid1(cmd)))
      return worker
    end

    local function stop_pid1()
      local pid1 = helpers.eventually(30, function()
        return find_pid1(worker.pid)
      end)
      assert(pid1, "no PID 1 under the container's process:\n" .. worker.output())
      os.execute("kill -TERM " .. pid1)
      return worker.wait(60)
    end

    it("runs a job with the image's command and exits 0 on SIGTERM", function()
      if not need_image() then
        return
      end
      start()
      local id = emu.submit({ x = 2 })
      local view = emu.wait_done(id, 120)
      assert.are.equal("COMPLETED", view and view.status, worker.output())
      assert.are.same({ echo = { x = 2 } }, view.output)
      assert.are.equal(0, stop_pid1(), worker.output())
    end)

    it("finishes and delivers its in-flight job on SIGTERM, then exits 0", function()
      if not need_image() then
        return
      end
      start({ HANDLER = "/fixtures/sleepy.lua" })
      local id = emu.submit({ seconds = 3 })
      local running = helpers.eventually(120, function()
        local v = emu.json("GET", "/v2/ep/status/" .. id)
        return v and v.status == "IN_PROGRESS"
      end, 0.05)
      assert.is_true(running, worker.output())
      assert.are.equal(0, stop_pid1(), worker.output())
      assert.matches("SIGTERM: no more jobs are taken; finishing 1 in flight", worker.output(),
        1, true)
      -- Delivered before the worker ended: no wait here.
      local view = emu.json("GET", "/v2/ep/status/" .. id)
      assert.are.equal("COMPLETED", view.status, worker.output())
      assert.are.equal(3, view.output.slept)
    end)
  end)
end)
