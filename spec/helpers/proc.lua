-- spec/helpers/proc.lua: runs the real bin/runpod-worker (or lua5.4) as a
-- child process and captures its exit code, stdout and stderr. Every run
-- is bounded by `timeout`, and the RUNPOD_* variables of the caller's
-- environment are removed so that each test sets exactly what it needs.
local proc = {}

proc.worker = os.getenv("RUNPOD_WORKER_BIN") or "bin/runpod-worker"
proc.root = (function()
  local src = debug.getinfo(1, "S").source:sub(2)
  local dir = src:match("^(.*)/spec/helpers/proc%.lua$")
  if not dir or dir == "" then
    return assert(io.popen("pwd")):read("l")
  end
  if dir:sub(1, 1) ~= "/" then
    dir = assert(io.popen("pwd")):read("l") .. "/" .. dir
  end
  return dir
end)()

-- The worker binary as an absolute path, for runs from another directory.
proc.worker_abs = proc.worker:sub(1, 1) == "/" and proc.worker or (proc.root .. "/" .. proc.worker)

local function quote(s)
  return "'" .. tostring(s):gsub("'", "'\\''") .. "'"
end
proc.quote = quote

local function read_file(path)
  local f = io.open(path, "rb")
  if not f then
    return ""
  end
  local s = f:read("a")
  f:close()
  return s
end
proc.read_file = read_file

local CLEARED = {
  "RUNPOD_ENDPOINT_ID", "RUNPOD_WEBHOOK_GET_JOB", "RUNPOD_WEBHOOK_POST_OUTPUT",
  "RUNPOD_WEBHOOK_POST_STREAM", "RUNPOD_WEBHOOK_PING", "RUNPOD_LOG_LEVEL",
  "RUNPOD_DEBUG_LEVEL", "RUNPOD_LOG_STREAM", "RUNPOD_MAX_MEMORY", "RUNPOD_POD_ID",
  "RUNPOD_DEBUG", "RUNPOD_POD_HOSTNAME", "RUNPOD_REALTIME_PORT", "RUNPOD_AI_API_KEY",
  "RUNPOD_ALLOW_PRIVATE_DOWNLOAD_URLS", "RUNPOD_DOWNLOAD_ALLOW_CIDRS", "RUNPOD_MAX_DOWNLOAD_BYTES",
  "BUCKET_ENDPOINT_URL", "BUCKET_ACCESS_KEY_ID", "BUCKET_SECRET_ACCESS_KEY",
  "RUNPOD_SKIP_AUTO_SYSTEM_CHECKS", "RUNPOD_MIN_MEMORY_GB", "RUNPOD_MIN_DISK_PERCENT",
  "RUNPOD_NETWORK_CHECK_HOST", "RUNPOD_NETWORK_CHECK_TIMEOUT",
}
-- The variables every run here removes first, for specs that start
-- processes another way.
proc.cleared = CLEARED

-- with_checks_off(env) -> env, or a copy with RUNPOD_SKIP_AUTO_SYSTEM_CHECKS
-- "true" when env selects serverless mode and does not set that switch: the
-- worker's built-in fitness checks would otherwise try to reach 8.8.8.8.
-- A spec that wants the checks sets the switch to "" (unset).
function proc.with_checks_off(env)
  if not env or not env.RUNPOD_WEBHOOK_GET_JOB or env.RUNPOD_SKIP_AUTO_SYSTEM_CHECKS then
    return env
  end
  local copy = { RUNPOD_SKIP_AUTO_SYSTEM_CHECKS = "true" }
  for k, v in pairs(env) do
    copy[k] = v
  end
  return copy
end

-- run(argv, opts) -> { code = n, stdout = s, stderr = s }
-- argv: list of arguments (argv[1] is the program); opts.env: extra
-- variables; opts.cwd: directory; opts.timeout: seconds (default 60).
function proc.run(argv, opts)
  opts = opts or {}
  local out, err = os.tmpname(), os.tmpname()
  local parts = { "cd", quote(opts.cwd or proc.root), "&&", "env" }
  for _, name in ipairs(CLEARED) do
    parts[#parts + 1] = "-u " .. name
  end
  if os.getenv("RP_SANITIZE") ~= "" and os.getenv("RP_SANITIZE") then
    -- The instrumented binary checks its own leaks; lua5.4 runs are not
    -- instrumented themselves and keep the preload of spec/run.
    if argv[1] == proc.worker then
      parts[#parts + 1] = "-u LD_PRELOAD ASAN_OPTIONS=detect_leaks=1"
    end
  end
  for name, value in pairs(proc.with_checks_off(opts.env) or {}) do
    parts[#parts + 1] = quote(name .. "=" .. value)
  end
  parts[#parts + 1] = "timeout " .. (opts.timeout or 60)
  for _, a in ipairs(argv) do
    parts[#parts + 1] = quote(a)
  end
  parts[#parts + 1] = ">" .. quote(out) .. " 2>" .. quote(err)
  local ok, how, code = os.execute(table.concat(parts, " "))
  local result = {
    code = (how == "exit") and code or -1,
    ok = ok,
    stdout = read_file(out),
    stderr = read_file(err),
  }
  os.remove(out)
  os.remove(err)
  return result
end

-- worker(args, opts): runs bin/runpod-worker with args.
function proc.worker_run(args, opts)
  local argv = { proc.worker }
  for _, a in ipairs(args) do
    argv[#argv + 1] = a
  end
  return proc.run(argv, opts)
end

-- lua(args, opts): runs plain lua5.4 with the module on its paths.
function proc.lua_run(args, opts)
  local argv = { "lua5.4" }
  for _, a in ipairs(args) do
    argv[#argv + 1] = a
  end
  return proc.run(argv, opts)
end

-- lines(s) -> list of lines
function proc.lines(s)
  local t = {}
  for line in s:gmatch("[^\n]+") do
    t[#t + 1] = line
  end
  return t
end

-- job_results(stdout) -> the decoded results a local test printed in its
-- "Job result: ..." lines, in order
function proc.job_results(stdout)
  local json = require("runpod").json
  local list = {}
  for body in stdout:gmatch("Job result: ([^\n]*)") do
    list[#list + 1] = assert(json.decode(body))
  end
  return list
end

-- captured_errors(output, id) -> the error JSON texts a worker logged
-- for job id after "Captured Handler Exception", in order; reads both the
-- plain log lines ("LEVEL | id | message") and the JSON ones.
function proc.captured_errors(output, id)
  local json = require("runpod").json
  local messages = {}
  for _, line in ipairs(proc.lines(output)) do
    local entry = line:sub(1, 1) == "{" and json.decode(line)
    if type(entry) == "table" and entry.requestId == id then
      messages[#messages + 1] = entry.message
    elseif not entry then
      local _, stop = line:find("| " .. id .. " | ", 1, true)
      messages[#messages + 1] = stop and line:sub(stop + 1) or nil
    end
  end
  local list = {}
  for i, message in ipairs(messages) do
    if message == "Captured Handler Exception" and messages[i + 1] then
      list[#list + 1] = messages[i + 1]
    end
  end
  return list
end

-- output_lines(cmd) -> the lines a shell command prints on stdout
function proc.output_lines(cmd)
  local p = assert(io.popen(cmd))
  local out = p:read("a")
  p:close()
  return proc.lines(out)
end

-- sorted_keys(set) -> the keys of a table, sorted
function proc.sorted_keys(set)
  local t = {}
  for k in pairs(set) do
    t[#t + 1] = k
  end
  table.sort(t)
  return t
end

-- Makes a fresh temporary directory and returns its path.
function proc.tmpdir()
  local p = assert(io.popen("mktemp -d"))
  local dir = p:read("l")
  p:close()
  return dir
end

-- `make install PREFIX=/usr DESTDIR=<dest>` of the build under test, into
-- a fresh folder unless dest is given; returns the directory. Raises when
-- make fails.
function proc.install(dest)
  dest = dest or proc.tmpdir()
  local r = proc.run({ "make", "-s", "install", "PREFIX=/usr", "DESTDIR=" .. dest,
    "BUILD=" .. (os.getenv("RP_BUILD") or "build"),
    "BINDIR=" .. proc.worker:match("^(.*)/runpod%-worker$") }, { timeout = 300 })
  assert(r.code == 0, "make install failed: " .. r.stderr)
  return dest
end

function proc.write_file(path, text)
  local f = assert(io.open(path, "wb"))
  f:write(text)
  f:close()
end

return proc
