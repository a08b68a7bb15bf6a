-- runpod.internal.local_test: local test mode (docs/configuration.md,
-- "Modes"), shared by runpod-worker and plain lua5.4.
--
-- One job comes from --test_input or ./test_input.json; a JSON array of
-- jobs runs them in order in the same worker (a runtime extra, handy for
-- refresh_worker). --test_output, when given, is compared as a JSON value
-- with the normalised result (or the array of results).
-- Exit codes: 0 success, 1 job failed / no input / mismatch, 2 usage.
local core = require "runpod.core"
local log = require "runpod.log"
local runner = require "runpod.internal.runner"

local json = core.json
local null = json.null
local array_mt = json.array_mt

local local_test = {}

local function is_array(v)
  return type(v) == "table" and getmetatable(v) == array_mt
end

-- read_input(test_input) -> text | nil
-- The first step of a local test: it also prints the Python SDK's start
-- banner (plain log lines at INFO and below only).
function local_test.read_input(test_input)
  core.log_print("INFO", ("--- Starting Serverless Worker |  Version %s ---"):format(core.version))
  if test_input then
    log.info("test_input set, using test_input as job input.")
    return test_input
  end
  local file, err, errno = io.open("test_input.json", "rb")
  if not file and errno == 2 then -- ENOENT
    log.warn("test_input.json not found, exiting.")
    return nil
  end
  local text
  if file then
    log.info("Using test_input.json as job input.")
    text, err = file:read("a")
    file:close()
  end
  if not text then
    -- a directory, a file we may not read: say so, never exit silently
    log.error("Cannot read test_input.json: " .. tostring(err):gsub("^test_input%.json: ", "")
      .. ". Unable to run.")
  end
  return text
end

-- prepare(text) -> list of job JSON texts, list of their ids | nil
-- Checks that every job has an input and gives it an id.
function local_test.prepare(text)
  local value, err = json.decode(text)
  if value == nil then
    log.error("Test input is not valid JSON: " .. err)
    return nil
  end
  local jobs = is_array(value) and value or { value }
  if #jobs == 0 then
    log.error("Test input is an empty list of jobs. Unable to run.")
    return nil
  end
  local texts, ids = {}, {}
  for i, job in ipairs(jobs) do
    if type(job) ~= "table" or is_array(job) then
      log.error(("Test job %d is not a JSON object. Unable to run."):format(i))
      return nil
    end
    if job.input == nil or job.input == null then
      log.error("Job has no input parameter. Unable to run.")
      return nil
    end
    if job.id == nil or job.id == null then
      job.id = #jobs == 1 and "local_test" or ("local_test_" .. i)
    end
    texts[i] = assert(core.encode(job, "job"))
    ids[i] = tostring(job.id)
  end
  return texts, ids
end

-- Logs how a job ended and its result.
local function report(id, result, body)
  if result.error then
    log.error(("Job %s failed with error: %s"):format(id, runner.error_string(result.error)))
  else
    log.info(("Job %s completed successfully."):format(id))
  end
  log.info("Job result: " .. body, id)
end

-- The job timeout: RUNPOD_JOB_TIMEOUT, else start's timeout; 0 = none.
local function job_timeout(config)
  local seconds = tonumber(os.getenv("RUNPOD_JOB_TIMEOUT") or "")
  if not seconds or seconds < 0 then
    seconds = config.timeout or 0
  end
  return seconds > 0 and seconds or 0
end

-- Under plain lua5.4 nobody else enforces the job timeout: a count hook
-- in the handler's coroutine raises a TimeoutError once it has passed,
-- and keeps raising so that a pcall in the handler cannot swallow it.
-- (Coroutines the handler makes itself are not covered.) runpod-worker
-- enforces it in C for every coroutine and ignores this.
local function with_deadline(handler, seconds)
  if seconds <= 0 or core.in_serverless() then
    return handler
  end
  return function(...)
    local deadline = core.monotonic() + seconds
    local err = {
      error_type = "TimeoutError",
      error_message = ("job timed out after %g seconds (timeout)"):format(seconds),
    }
    local function hook()
      if core.monotonic() > deadline then
        debug.sethook(hook, "", 1)
        error(err, 0)
      end
    end
    debug.sethook(hook, "", 1000)
    return handler(...)
  end
end

-- local_test.run(job_text) and local_test.error_result(error_type,
-- message, id) run a job and report one runpod-worker cut short (timeout,
-- ...) (runpod.internal.modes). Partials are logged as they come, and
-- each job's result at its end, cut short or not.
require("runpod.internal.modes").add_entry_points(local_test, {
  received = function(job_text, id)
    log.debug("Retrieved local job: " .. job_text, id)
  end,
  handler = function(config)
    return with_deadline(config.handler, job_timeout(config))
  end,
  partial = function(id, body)
    log.info("Stream partial: " .. body, id)
  end,
  finished = report,
  cut_short = report,
})

-- Compares two decoded JSON values; arrays and objects are told apart.
local function same(a, b)
  if type(a) ~= "table" or type(b) ~= "table" then
    return a == b
  end
  if is_array(a) ~= is_array(b) then
    return false
  end
  for k, v in pairs(a) do
    if not same(v, b[k]) then
      return false
    end
  end
  for k in pairs(b) do
    if a[k] == nil then
      return false
    end
  end
  return true
end

-- finish(test_output, any_failed, body...) -> exit code
-- The result bodies come as separate strings so that runpod-worker, which
-- may have rebuilt the VM between jobs, can hand them back.
function local_test.finish(test_output, any_failed, ...)
  local bodies = { ... }
  if any_failed then
    return 1
  end
  if test_output then
    local expected, err = json.decode(test_output)
    if expected == nil then
      log.error("--test_output is not valid JSON: " .. err)
      return 1
    end
    local got = #bodies == 1 and bodies[1] or ("[" .. table.concat(bodies, ",") .. "]")
    if not same(expected, assert(json.decode(got))) then
      log.error(("Test output mismatch: expected %s, got %s"):format(
        assert(core.encode(expected, "expected")), got))
      return 1
    end
    log.info("Test output matches.")
  end
  log.info("Local testing complete, exiting.")
  return 0
end

-- Applies --rp_log_level / --rp_log_stream. Returns true or nil, message.
function local_test.apply_log_options(opts)
  if opts.log_level then
    local ok, err = pcall(core.log_set_level, opts.log_level)
    if not ok then
      return nil, err
    end
  end
  if opts.log_stream then
    local ok, err = pcall(core.log_set_stream, opts.log_stream)
    if not ok then
      return nil, err
    end
  end
  return true
end

-- main(config, arg) -> exit code: the whole local test under plain lua5.4.
function local_test.main(_, argv)
  local args = {}
  for i = 1, #(argv or {}) do
    args[i] = argv[i]
  end
  local opts, err = core.parse_args(args)
  if not opts then
    io.stderr:write(err, "\n")
    return 2
  end
  local ok, log_err = local_test.apply_log_options(opts)
  if not ok then
    io.stderr:write(log_err, "\n")
    return 2
  end
  for _, warning in ipairs(opts.warnings) do
    log.warn(warning)
  end
  if opts.serve_api or (not opts.test_input and os.getenv("RUNPOD_WEBHOOK_GET_JOB")) then
    log.error("the local API server and serverless mode run under runpod-worker: "
      .. "runpod-worker " .. tostring(argv[0]) .. " ...")
    return 2
  end
  runner.set_debugger(opts.debugger)
  local text = local_test.read_input(opts.test_input)
  if not text then
    return 1
  end
  local jobs = local_test.prepare(text)
  if not jobs then
    return 1
  end
  local bodies, any_failed = {}, false
  for i, job_text in ipairs(jobs) do
    local body, _, _, failed = local_test.run(job_text)
    bodies[i] = body
    any_failed = any_failed or failed
  end
  return local_test.finish(opts.test_output, any_failed, table.unpack(bodies))
end

return local_test
