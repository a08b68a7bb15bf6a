-- runpod.cleanup: removes the job's scratch folders (rp_cleanup), never
-- following symbolic links.
local runpod = require "runpod"
local proc = require "helpers.proc"

local function exists(path)
  return os.execute("test -e " .. proc.quote(path) .. " -o -L " .. proc.quote(path)) == true
end

local function sh(cmd)
  assert(os.execute(cmd))
end

describe("runpod.cleanup", function()
  local dir, cwd
  before_each(function()
    dir = proc.tmpdir()
    cwd = assert(io.popen("pwd")):read("l")
  end)
  after_each(function()
    sh("chmod -R u+w " .. proc.quote(dir) .. " && rm -rf " .. proc.quote(dir))
  end)

  -- Runs cleanup(folders) with dir as the current directory, in a child
  -- lua5.4 (the spec's own cwd must not change). Returns its two results.
  local function cleanup_in(folders)
    local code = ("local r = require 'runpod' local ok, err = r.cleanup(%s) "
      .. "io.write(tostring(ok), '|', tostring(err))"):format(folders or "")
    local r = proc.lua_run({ "-e", code }, { cwd = dir, env = {
      LUA_PATH = cwd .. "/lua/?.lua;" .. cwd .. "/lua/?/init.lua",
      LUA_CPATH = os.getenv("LUA_CPATH") or cwd .. "/build/lib/?.so;;" } })
    assert.are.equal(0, r.code, r.stderr)
    return r.stdout
  end

  describe("cleanup()", function()
    it("removes the default folders and output.zip", function()
      sh(("cd %s && mkdir -p input_objects/a/b output_objects job_files && "
        .. "touch input_objects/a/b/f output_objects/g output.zip keep.txt"):format(
        proc.quote(dir)))
      assert.are.equal("true|nil", cleanup_in())
      for _, p in ipairs { "input_objects", "output_objects", "job_files", "output.zip" } do
        assert.is_false(exists(dir .. "/" .. p), p)
      end
      assert.is_true(exists(dir .. "/keep.txt"))
    end)

    it("removes the folders given as well as the defaults", function()
      sh(("cd %s && mkdir -p tmp/frames job_files && touch tmp/frames/1.png"):format(
        proc.quote(dir)))
      assert.are.equal("true|nil", cleanup_in('{ "tmp/frames" }'))
      assert.is_false(exists(dir .. "/tmp/frames"))
      assert.is_false(exists(dir .. "/job_files"))
      assert.is_true(exists(dir .. "/tmp"))
    end)

    it("succeeds when nothing is there", function()
      assert.are.equal("true|nil", cleanup_in('{ "missing" }'))
    end)

    it("removes symbolic links without following them", function()
      local outside = dir .. "/outside"
      sh(("mkdir -p %s/keep && touch %s/keep/precious && mkdir %s/job_files && "
        .. "ln -s %s %s/job_files/link && ln -s %s %s/output_objects"):format(
        proc.quote(outside), proc.quote(outside), proc.quote(dir), proc.quote(outside),
        proc.quote(dir), proc.quote(outside), proc.quote(dir)))
      assert.are.equal("true|nil", cleanup_in())
      assert.is_false(exists(dir .. "/job_files"))
      assert.is_false(exists(dir .. "/output_objects"))
      assert.is_true(exists(outside .. "/keep/precious"))
    end)

    it("reports what it cannot remove instead of raising", function()
      sh(("cd %s && mkdir -p job_files/locked && touch job_files/locked/f && "
        .. "chmod a-w job_files/locked"):format(proc.quote(dir)))
      if os.execute("test -w " .. proc.quote(dir .. "/job_files/locked")) then
        return -- running as root: permissions do not stop us
      end
      assert.are.equal("nil|job_files/locked/f: Permission denied", cleanup_in())
    end)

    it("refuses '.', '..' and '/'", function()
      sh("touch " .. proc.quote(dir .. "/keep.txt"))
      assert.are.equal("nil|refusing to remove '.'; refusing to remove '..'; "
        .. "refusing to remove '/'; refusing to remove 'a/./'",
        cleanup_in('{ ".", "..", "/", "a/./" }'))
      assert.is_true(exists(dir .. "/keep.txt"))
    end)

    it("rejects a folder list that is not a table", function()
      assert.has_error(function() runpod.cleanup("job_files") end,
        "bad argument #1 to 'cleanup' (table expected, got string)")
      assert.has_error(function() runpod.cleanup({ 1 }) end,
        "bad argument #1 to 'cleanup' (folders[1] must be a string, got number)")
    end)
  end)

  describe("handlers/cleanup.lua", function()
    it("cleans its scratch files through bin/runpod-worker", function()
      local r = proc.worker_run({ cwd .. "/handlers/cleanup.lua", "--test_input",
        '{"input": {"files": 3}}' }, { cwd = dir })
      assert.are.equal(0, r.code, r.stderr)
      assert.matches('Job result: {"output":{"cleaned":true}}', r.stdout, 1, true)
      assert.is_false(exists(dir .. "/job_files"))
    end)
  end)
end)
