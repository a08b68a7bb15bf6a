-- runpod.internal.modes: the functions runpod-worker calls by name for
-- every job of a mode (runpod.internal.worker, runpod.internal.local_test),
-- on top of the shared job runner (runpod.internal.runner). It is loaded
-- with the first job a VM runs, not when the script calls start(), so a
-- VM rebuild loads only what start() needs.
local core = require "runpod.core"
local log = require "runpod.log"
local runner = require "runpod.internal.runner"

local modes = {}

-- run_text(job, mode, id, decode_error) -> body, is_stream, refresh, failed
-- (refresh is "pod" when the result carries "stopPod")
-- Runs one job with the registered handler: what runpod-worker calls for
-- every job, in either mode. job is its JSON text, or the table
-- runpod-worker decoded from the job server's bytes (nil with the
-- decoder's message in decode_error when it could not). id is the job's
-- id as the job server gave it (read from the job when nil). A job that
-- cannot be decoded (runner.decode_job) fails with the decoder's message,
-- so it is answered and never stays in progress. mode says where the
-- job's output goes and how it is logged:
--   partial(id, body)          a stream partial, as it is produced
--   finished(id, result, body) how the job ended
--   received(job_text, id)     optional: the job has arrived
--   handler(config)            optional: the function to run, in place of
--                              config.handler
--   cut_short(id, result, body) optional: how a job the runtime cut short
--                              ended (error_result)
--   body_buffer                optional: return the body as the encoder's
--                              buffer, not a string (runner.run)
function modes.run_text(job_text, mode, id, decode_error)
  local config = assert(runner.config(), "no handler registered")
  local job, error_type, message = runner.decode_job(job_text, decode_error)
  if not job then
    local body = modes.error_result(error_type, message, id, mode)
    return body, false, false, true
  end
  id = id or job.id
  if mode.received then
    mode.received(job_text, id)
  end
  local handler = mode.handler and mode.handler(config) or config.handler
  -- A batch's id marks every line of its jobs' runs, as in the Python
  -- SDK: this thread's ("Started.", "Finished.") and the handler's.
  local self = coroutine.running()
  log.set_batch(self, job.batchId)
  local result, info = runner.run(handler, job, {
    return_aggregate_stream = config.return_aggregate_stream,
    refresh_worker = config.refresh_worker == true,
    refresh_mode = runner.refresh_mode(config),
    on_partial = function(_, body)
      mode.partial(id, body)
    end,
    batch_id = job.batchId,
    body_buffer = mode.body_buffer,
  })
  mode.finished(id, result, info.body)
  log.set_batch(self, nil)
  return info.body, info.stream, info.stop_pod and "pod" or info.refresh, info.failed
end

-- error_result(error_type, message, id, mode) -> body
-- The result of a job the runtime had to cut short (timeout, memory cap,
-- a failed runner), logged as it is posted (runtime_failure).
function modes.error_result(error_type, message, id, mode)
  local result = runner.runtime_failure(error_type, message, id)
  local body = assert(core.encode(result, "result"))
  if mode.cut_short then
    mode.cut_short(id, result, body)
  end
  return body
end

-- add_entry_points(module, mode): the functions runpod-worker calls by
-- name (executor.c) for every job of a mode, added to that mode's module:
--   run(job, id, decode_error) -> body, is_stream, refresh, failed
--                                                         run_text()
--   error_result(error_type, message, id) -> body         error_result()
function modes.add_entry_points(module, mode)
  function module.run(job, id, decode_error)
    return modes.run_text(job, mode, id, decode_error)
  end
  function module.error_result(error_type, message, id)
    return modes.error_result(error_type, message, id, mode)
  end
end

return modes
