-- forward: the most common RunPod worker. Forwards the job to a local
-- OpenAI-compatible inference server (/v1/chat/completions with
-- stream = true) and streams each token back as a partial. While a job
-- waits on the server, the worker runs other jobs: runpod.http yields.
--   INFERENCE_URL=http://127.0.0.1:8000 runpod-worker handlers/forward.lua \
--     --test_input '{"input": {"prompt": "hello there"}}'
local runpod = require "runpod"

local base = os.getenv("INFERENCE_URL") or "http://127.0.0.1:8000"

local function handler(job)
  local input = type(job.input) == "table" and job.input or {}
  local body = runpod.json.encode {
    model = input.model or "default",
    stream = true,
    messages = { { role = "user", content = input.prompt or "" } },
  }
  local res, err = runpod.http.post(base .. "/v1/chat/completions", body, {
    headers = { ["Content-Type"] = "application/json" },
    stream = true,
    timeout = tonumber(input.timeout) or 300,
  })
  if not res then
    return { error = "inference server unreachable: " .. err }
  end
  if res.status ~= 200 then
    return { error = "inference server answered HTTP " .. res.status }
  end
  for event in res:events() do
    if event.data == "[DONE]" then
      break
    end
    local chunk = runpod.json.decode(event.data)
    if type(chunk) == "table" and chunk.error ~= nil then
      -- The server failed mid-stream (vLLM sends {"error": {...}}).
      local e = chunk.error
      error("inference server: " .. tostring(type(e) == "table" and e.message or e), 0)
    end
    -- A chunk may carry no choice (a usage report) or a null content.
    local choice = type(chunk) == "table" and type(chunk.choices) == "table"
      and chunk.choices[1]
    local delta = type(choice) == "table" and choice.delta
    if type(delta) == "table" and type(delta.content) == "string" then
      coroutine.yield(delta.content)
    end
  end
end

runpod.serverless.start { handler = handler, return_aggregate_stream = true }
