-- wrk script for bench/api.sh: POST /runsync with a small JSON job.
-- luacheck: globals wrk done
wrk.method = "POST"
wrk.path = "/runsync"
wrk.body = '{"input": {"prompt": "hello"}}'
wrk.headers["Content-Type"] = "application/json"

-- wrk counts answers other than 2xx/3xx as status errors.
function done(summary)
  io.write(("non-2xx answers: %d of %d\n"):format(summary.errors.status, summary.requests))
end
