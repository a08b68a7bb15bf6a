-- runpod.volume_cache: the Python SDK's VolumeCache (1.12). Mirrors local
-- cache folders onto the endpoint's network volume, in Python's on-volume
-- format, so a Python and a Lua worker of one endpoint share the mirror.
--
--   local vc = runpod.volume_cache{ dirs = { "/root/.cache/huggingface" } }
--   vc:hydrate()                      -- volume -> folders (cold start)
--   local model = load_model()        -- downloads land in the folders
--   vc:sync()                         -- folders -> volume, in the background
--
--   -- or scoped: hydrate, run, then sync in the background
--   local model = vc:run(load_model)
--
-- The mirror lives at {volume_path}/.cache/{namespace}; see
-- docs/library.md for the format and the rules. The work runs on threads
-- of the C part (runtime/base/volcache.c): inside runpod-worker the job's
-- coroutine yields while it waits, so other jobs and the job loop go on;
-- under plain lua5.4 the call blocks. Best effort by default: a failure is
-- logged and the call returns 0 (best_effort = false raises instead).
local core = require "runpod.core"
local log = require "runpod.log"

local volume_cache = {}

volume_cache.DEFAULT_VOLUME_PATH = "/runpod-volume"

local Cache = {}

local function check_namespace(ns)
  if ns ~= "" and (ns:sub(1, 1) == "/" or ns:find("[/\\%z]") or ns == "." or ns == "..") then
    error(("bad argument #1 to 'volume_cache' (namespace must be a single safe path "
      .. "component, got %q)"):format(ns), 3)
  end
  return ns
end

-- Waits for op without blocking the job loop: the sleep between polls
-- yields inside runpod-worker and blocks under plain lua5.4.
local function await(op)
  local pause = 0.002
  while true do
    local ok, value = op:poll()
    if ok ~= nil then
      return ok, value
    end
    core.sleep(pause)
    pause = math.min(pause * 2, 0.1)
  end
end

-- Runs what ("hydrate" | "sync") to its end: count, or 0 after logging
-- (best effort) / raises (best_effort = false).
local function run_op(self, what)
  local op, err = self._c:start(what, false)
  local ok, value = false, err
  if op then
    ok, value = await(op)
  end
  if ok then
    return value
  end
  if not self.best_effort then
    error("volume cache " .. what .. " failed: " .. tostring(value), 3)
  end
  log.warn("VolumeCache operation failed: " .. tostring(value))
  return 0
end

-- vc:hydrate() -> number of files copied into the folders (0 when the
-- volume is not there or holds no complete mirror).
function Cache:hydrate()
  if not self.available then
    return 0
  end
  return run_op(self, "hydrate")
end

-- vc:sync{ background = true } -> nil at once (background, the default;
-- the process waits for it before it exits) | number of files copied.
function Cache:sync(opts)
  if opts ~= nil and type(opts) ~= "table" then
    error(("bad argument #1 to 'sync' (table expected, got %s)"):format(type(opts)), 2)
  end
  if not self.available then
    return opts and opts.background == false and 0 or nil
  end
  if opts == nil or opts.background == nil or opts.background then
    local ok, err = self._c:start("sync", true)
    if not ok then
      if not self.best_effort then
        error("volume cache sync failed: " .. tostring(err), 2)
      end
      log.warn("VolumeCache operation failed: " .. tostring(err))
    end
    return nil
  end
  return run_op(self, "sync")
end

-- vc:run(fn, ...) -> fn's results: hydrates, calls fn(...), then starts a
-- background sync, also when fn raised (the error is raised again after).
function Cache:run(fn, ...)
  if type(fn) ~= "function" then
    error(("bad argument #1 to 'run' (function expected, got %s)"):format(type(fn)), 2)
  end
  self:hydrate()
  local res = table.pack(pcall(fn, ...))
  self:sync()
  if not res[1] then
    error(res[2], 0)
  end
  return table.unpack(res, 2, res.n)
end

local meta = {
  __index = function(self, key)
    if key == "available" then
      return self._c:available()
    elseif key == "root" then
      return self._c:root()
    end
    return Cache[key]
  end,
  __name = "runpod.volume_cache",
}

-- volume_cache{ dirs = {...} | "dir", namespace = RUNPOD_ENDPOINT_ID,
--   volume_path = "/runpod-volume", best_effort = true, max_workers = n }
function volume_cache.new(opts)
  if type(opts) ~= "table" then
    error(("bad argument #1 to 'volume_cache' (table expected, got %s)"):format(type(opts)), 2)
  end
  local dirs = opts.dirs
  if type(dirs) == "string" then
    dirs = { dirs }
  end
  if type(dirs) ~= "table" then
    error(("bad argument #1 to 'volume_cache' (dirs must be a string or a list of strings, "
      .. "got %s)"):format(type(dirs)), 2)
  end
  for i = 1, #dirs do
    if type(dirs[i]) ~= "string" or dirs[i] == "" or dirs[i]:find("%z") then
      error(("bad argument #1 to 'volume_cache' (dirs[%d] must be a non-empty string "
        .. "without NUL)"):format(i), 2)
    end
  end
  local ns = opts.namespace
  if ns == nil or ns == "" then
    ns = os.getenv("RUNPOD_ENDPOINT_ID") or ""
  elseif type(ns) ~= "string" then
    error(("bad argument #1 to 'volume_cache' (namespace must be a string, got %s)"):format(
      type(ns)), 2)
  end
  check_namespace(ns)
  local volume_path = opts.volume_path or volume_cache.DEFAULT_VOLUME_PATH
  if type(volume_path) ~= "string" or volume_path == "" or volume_path:find("%z") then
    error("bad argument #1 to 'volume_cache' (volume_path must be a non-empty string "
      .. "without NUL)", 2)
  end
  local workers = opts.max_workers
  if workers ~= nil and (math.type(workers) ~= "integer" or workers < 1 or workers > 1024) then
    error(("bad argument #1 to 'volume_cache' (max_workers must be an integer from 1 to "
      .. "1024, got %s)"):format(tostring(workers)), 2)
  end
  local best_effort = opts.best_effort
  if best_effort == nil then
    best_effort = true
  end
  return setmetatable({
    _c = core.volume_cache_new(dirs, volume_path, ns, workers or 0),
    best_effort = best_effort and true or false,
    namespace = ns,
    volume_path = volume_path,
  }, meta)
end

return volume_cache
