-- wrk script for bench/emulator.sh: each thread alternates job-take and
-- job-done. A 200 job-take queues the job id; the next request of the
-- thread posts that job's result; otherwise the next request is a take.
-- luacheck: globals wrk request response
local ids = {}
local take_path = "/v2/emulator/job-take/bench?gpu=emulator&job_in_progress=0"
local done_body = '{"output": {"text": "hello"}}'
local done_headers = { ["Content-Type"] = "application/x-www-form-urlencoded" }

function request()
  local id = table.remove(ids)
  if id then
    return wrk.format("POST",
      "/v2/emulator/job-done/bench/" .. id .. "?gpu=emulator&isStream=false",
      done_headers, done_body)
  end
  return wrk.format("GET", take_path)
end

function response(status, _, body)
  if status == 200 then
    local id = body:match('^{"id":"([^"]+)"')
    if id then
      ids[#ids + 1] = id
    end
  end
end
