-- runpod.debugger: checkpoints and timers for a job, and the output the
-- Python SDK's rp_debugger attaches to a job's result with --rp_debugger.
--
--   local dbg = runpod.debugger
--   dbg.start("load")            -- starts (and adds) checkpoint "load"
--   ...
--   dbg.stop("load")
--   local infer = dbg.timed(run_model, "inference")   -- times every call
--
-- get_output() -> {
--   system_info = { os, processor, lua_version, runpod, runtime, cores,
--                   memory_total, memory_available },   -- bytes, from /proc
--   timestamps = { { name, start_utc, stop_utc, duration_ms }, ... },
-- }
-- and clears the checkpoints, like get_debugger_output(). Only checkpoints
-- both started and stopped are listed, in the order they were added.
--
-- The job runner (runpod.internal.runner) calls collect(result) after each
-- job when --rp_debugger is set, as the Python worker does: the output is
-- attached as result.output.rp_debugger when the output is a table. Without
-- the flag it calls clear(), so one job's checkpoints never leak into the
-- next. The checkpoints belong to the VM: jobs that run at once in one VM
-- (concurrency above 1) share them, as jobs share the Python SDK's.
local core = require "runpod.core"

local debugger = {}

local checkpoints = {}   -- { name, start, stop, start_utc, stop_utc }, in order
local by_name = {}       -- name -> entry of the last checkpoint so named

local function utc_now()
  local t = core.realtime()
  local secs = math.floor(t)
  local micros = math.floor((t - secs) * 1e6)
  return os.date("!%Y-%m-%dT%H:%M:%S", secs) .. (".%06dZ"):format(micros)
end

local function check_name(name, fname)
  if type(name) ~= "string" then
    error(("bad argument #1 to '%s' (string expected, got %s)"):format(fname, type(name)), 3)
  end
end

-- checkpoint(name): adds a checkpoint; raises when the name exists.
function debugger.checkpoint(name)
  check_name(name, "checkpoint")
  if by_name[name] then
    error(("checkpoint '%s' already exists"):format(name), 2)
  end
  local entry = { name = name }
  checkpoints[#checkpoints + 1] = entry
  by_name[name] = entry
end

-- start(name): starts a checkpoint, adding it when new.
function debugger.start(name)
  check_name(name, "start")
  local entry = by_name[name]
  if not entry then
    entry = { name = name }
    checkpoints[#checkpoints + 1] = entry
    by_name[name] = entry
  end
  entry.start_utc = utc_now()
  entry.start = core.monotonic()
end

-- stop(name): stops a started checkpoint; raises when it does not exist or
-- was not started.
function debugger.stop(name)
  local now = core.monotonic()
  check_name(name, "stop")
  local entry = by_name[name]
  if not entry then
    error(("checkpoint '%s' does not exist"):format(name), 2)
  end
  if not entry.start then
    error(("checkpoint '%s' has not been started"):format(name), 2)
  end
  entry.stop = now
  entry.stop_utc = utc_now()
end

-- timed(fn[, name]) -> a function that calls fn with its arguments, returns
-- its results, and records each call as a checkpoint named name (default:
-- "function <source>:<line>"), stopped even when fn raises (the error goes
-- on unchanged).
function debugger.timed(fn, name)
  if type(fn) ~= "function" then
    error(("bad argument #1 to 'timed' (function expected, got %s)"):format(type(fn)), 2)
  end
  if name ~= nil and type(name) ~= "string" then
    error(("bad argument #2 to 'timed' (string expected, got %s)"):format(type(name)), 2)
  end
  if not name then
    local info = debug.getinfo(fn, "S")
    name = ("function %s:%d"):format(info.short_src, info.linedefined)
  end
  local function finish(entry, ok, ...)
    entry.stop = core.monotonic()
    entry.stop_utc = utc_now()
    if not ok then
      error((...), 0)
    end
    return ...
  end
  return function(...)
    -- Each call is its own entry: a function timed twice in a job shows
    -- twice (the Python SDK raises instead).
    local entry = { name = name, start_utc = utc_now() }
    checkpoints[#checkpoints + 1] = entry
    entry.start = core.monotonic()
    return finish(entry, pcall(fn, ...))
  end
end

local function read_file(path)
  local f = io.open(path, "r")
  if not f then
    return nil
  end
  local s = f:read("a")
  f:close()
  return s
end

local system_info  -- computed once, like the Python module's constants

-- system_info() -> the table get_output() carries (a fresh copy).
function debugger.system_info()
  if not system_info then
    local cpuinfo = read_file("/proc/cpuinfo") or ""
    local meminfo = read_file("/proc/meminfo") or ""
    local ostype = (read_file("/proc/sys/kernel/ostype") or ""):gsub("%s+$", "")
    local release = (read_file("/proc/sys/kernel/osrelease") or ""):gsub("%s+$", "")
    local kib = function(field)
      local v = meminfo:match(field .. ":%s*(%d+) kB")
      return v and math.tointeger(v) * 1024 or nil
    end
    system_info = {
      os = ostype ~= "" and (ostype .. " " .. release) or "unknown",
      processor = cpuinfo:match("model name%s*:%s*([^\n]+)")
        or "Unable to get processor info.",
      lua_version = _VERSION,
      runpod = core.version,
      runtime = core.in_runtime() and "runpod-worker" or "lua",
      cores = core.cpu_count(),
      memory_total = kib("MemTotal"),
      memory_available = kib("MemAvailable"),
    }
  end
  local copy = {}
  for k, v in pairs(system_info) do
    copy[k] = v
  end
  return copy
end

-- clear(): forgets every checkpoint.
function debugger.clear()
  checkpoints = {}
  by_name = {}
end

-- get_output() -> { system_info, timestamps }; clears the checkpoints.
function debugger.get_output()
  local timestamps = {}
  for _, c in ipairs(checkpoints) do
    if c.start and c.stop then
      timestamps[#timestamps + 1] = {
        name = c.name,
        start_utc = c.start_utc,
        stop_utc = c.stop_utc,
        duration_ms = (c.stop - c.start) * 1000,
      }
    end
  end
  debugger.clear()
  return {
    system_info = debugger.system_info(),
    timestamps = setmetatable(timestamps, core.json.array_mt),
  }
end

-- collect(result): the job runner's hook (see the top of this file).
-- Attaches get_output() to result.output when result.output is a table
-- (not a JSON array, which has no room for it: a streamed aggregate), else
-- just clears. Returns result.
function debugger.collect(result)
  if type(result) == "table" and type(result.output) == "table"
      and getmetatable(result.output) ~= core.json.array_mt then
    result.output.rp_debugger = debugger.get_output()
  else
    debugger.clear()
  end
  return result
end

return debugger
